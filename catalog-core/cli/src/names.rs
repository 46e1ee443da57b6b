//! Names as people read them: table names close to a mistyped one, for the
//! "did you mean" hints of `describe` and of a query that names an unknown
//! table; counted nouns; paths relative to where the command runs.

use std::path::Path;

/// `path` relative to the current directory when it is under it, as people type it.
pub fn shown(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|here| path.strip_prefix(here).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// Up to three catalog tables whose names are close to `name`, best first, quoted.
pub fn close_names(name: &str) -> Vec<String> {
    let short = name.rsplit('.').next().unwrap_or(name);
    let mut close: Vec<(f64, String)> = tables::REGISTRY
        .tables()
        .map(|spec| {
            // Table names against table names: a shared `tpch.` would make everything look close.
            let score = strsim::jaro_winkler(short, &spec.name);
            (score, spec.qualified_name())
        })
        .filter(|(score, _)| *score > 0.8)
        .collect();
    close.sort_by(|a, b| b.0.total_cmp(&a.0));
    close
        .into_iter()
        .take(3)
        .map(|(_, name)| format!("`{name}`"))
        .collect()
}

/// `1 row`, `2 rows`: a count and its noun, in the right number.
pub fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `1 of 1 table is`, `2 of 10 tables are`: a part of a whole, and its verb.
pub fn part_of(part: usize, whole: usize, noun: &str) -> String {
    let noun = if whole == 1 {
        noun.to_owned()
    } else {
        format!("{noun}s")
    };
    let verb = if part == 1 { "is" } else { "are" };
    format!("{part} of {whole} {noun} {verb}")
}

#[cfg(test)]
mod counting {
    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(super::counted(1, "row"), "1 row");
        assert_eq!(super::counted(0, "row"), "0 rows");
        assert_eq!(super::part_of(1, 1, "table"), "1 of 1 table is");
        assert_eq!(super::part_of(2, 10, "table"), "2 of 10 tables are");
        assert_eq!(super::part_of(1, 10, "table"), "1 of 10 tables is");
    }
}
