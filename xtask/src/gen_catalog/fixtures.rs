//! Checking `tables/fixtures/<database>/<table>.csv` against the declarations,
//! without compiling them: each fixture names a declared table that `data seed`
//! can write, and its header names exactly that table's columns.
//!
//! The values are not parsed here (that needs the Arrow types at run time);
//! `codelake data seed` parses them and names the line of a bad one.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use catalog_core::fixture;

use super::scan::Scan;
use super::{COMMAND, Layout};

/// Checks every fixture under `layout.fixtures`; the fixtures checked, or every
/// problem at once, each as `file: problem; fix`.
pub fn check(root: &Path, layout: &Layout, scan: &Scan) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    walk(root, &layout.fixtures, &mut files)?;
    files.sort();
    let mut problems = Vec::new();
    for file in &files {
        if let Err(problem) = check_one(root, layout, scan, file) {
            problems.push(format!("{}: {problem}", file.display()));
        }
    }
    if !problems.is_empty() {
        let mut message = String::new();
        for problem in &problems {
            writeln!(message, "{problem}")?;
        }
        anyhow::bail!(
            "{} problem{} in the fixtures; fix {} and run `{COMMAND}` again:\n{}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            if problems.len() == 1 { "it" } else { "them" },
            message.trim_end()
        );
    }
    Ok(files)
}

/// Every file under `dir` (relative to `root`), but hidden ones (`.gitkeep`).
fn walk(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let Ok(entries) = fs::read_dir(root.join(dir)) else {
        return Ok(()); // no fixtures
    };
    for entry in entries {
        let entry = entry?;
        let path = dir.join(entry.file_name());
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            walk(root, &path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

fn check_one(root: &Path, layout: &Layout, scan: &Scan, file: &Path) -> Result<(), String> {
    let relative = file.strip_prefix(&layout.fixtures).unwrap_or(file);
    let Some((database, name)) = fixture::table_of(relative) else {
        return Err(format!(
            "not a fixture; a fixture is {}/<database>/<table>.csv",
            layout.fixtures.display()
        ));
    };
    let qualified = format!("{database}.{name}");
    let Some(found) = scan
        .tables
        .iter()
        .find(|found| found.spec.database == database && found.spec.name == name)
    else {
        let close = close_names(&qualified, scan);
        let hint = if close.is_empty() {
            String::new()
        } else {
            format!(" (did you mean {}?)", close.join(", "))
        };
        return Err(format!(
            "no table `{qualified}` is declared{hint}; name the file after a declared table, or declare the table in {}",
            layout.tables_src.display()
        ));
    };
    if !fixture::seedable(&found.spec.source) {
        return Err(format!(
            "table `{qualified}` (struct `{}` at {}) reads source `{}`, which `codelake data seed` does not write; \
             remove the fixture (only `s3-parquet`, `parquet`, `delta` and `csv` tables take sample data)",
            found.ident, found.location, found.spec.source
        ));
    }
    let text = fs::read(root.join(file)).map_err(|error| format!("cannot read it: {error}"))?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(fixture::DELIMITER)
        .from_reader(text.as_slice());
    let header = reader
        .headers()
        .map_err(|error| format!("the header does not parse: {error}"))?;
    let header: Vec<&str> = header.iter().collect();
    if header.iter().all(|name| name.is_empty()) {
        return Err(format!(
            "it has no header line; start it with the declared columns of `{qualified}`: {}",
            column_list(found)
        ));
    }
    fixture::check_header(&found.spec, &header)
}

fn column_list(found: &super::scan::Found) -> String {
    let names: Vec<&str> = found.spec.columns.iter().map(|c| &*c.name).collect();
    names.join(",")
}

/// Up to three declared tables whose names are close to `qualified`'s table
/// name, quoted (as `codelake`'s own "did you mean": a shared database would
/// make every table look close).
fn close_names(qualified: &str, scan: &Scan) -> Vec<String> {
    let short = qualified.rsplit('.').next().unwrap_or(qualified);
    let mut close: Vec<(f64, String)> = scan
        .tables
        .iter()
        .map(|found| {
            let score = strsim::jaro_winkler(short, &found.spec.name);
            (score, found.spec.qualified_name())
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

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::super::{Args, Layout, generate, run};

    const WEB: &str = r#"//! The web.
use catalog_derive::Table;

/// Page views.
#[derive(Table)]
#[table(database = "web", name = "page_views", source = "csv", location = "web/page_views.csv", delimiter = ";")]
pub struct PageView {
    /// View id.
    pub view_id: i64,
    /// Path.
    pub path: String,
}

/// Visitors' exchange rates, over HTTP.
#[derive(Table)]
#[table(database = "web", name = "rates", source = "http-api", url = "http://localhost/rates")]
pub struct Rate {
    /// Rate.
    pub rate: f64,
}
"#;

    /// A catalog in a temp dir: `files` under `tables/src`, `fixtures` under `tables/fixtures`.
    fn catalog(files: &[(&str, &str)], fixtures: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (base, files) in [("tables/src", files), ("tables/fixtures", fixtures)] {
            for (path, text) in files {
                let path = dir.path().join(base).join(path);
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(path, text).unwrap();
            }
        }
        dir
    }

    fn gen_error(dir: &Path) -> String {
        let error = run(dir, &Args { check: false }).unwrap_err();
        format!("{error:#}")
    }

    #[test]
    fn fixtures_of_declared_tables_with_their_columns_pass_in_any_order() {
        let dir = catalog(
            &[("lib.rs", "pub mod web;\n"), ("web.rs", WEB)],
            &[
                ("web/page_views.csv", "path,view_id\n/,1\n"),
                (".gitkeep", ""),
            ],
        );
        let scan = super::super::scan(dir.path(), &Layout::new()).unwrap();
        let checked = super::check(dir.path(), &Layout::new(), &scan).unwrap();
        assert_eq!(
            checked,
            [Path::new("tables/fixtures/web/page_views.csv")],
            "hidden files are not fixtures"
        );
        run(dir.path(), &Args { check: false }).unwrap();
    }

    #[test]
    fn every_bad_fixture_is_named_with_its_fix_and_nothing_is_written() {
        let dir = catalog(
            &[("lib.rs", "pub mod web;\n"), ("web.rs", WEB)],
            &[
                ("web/page_view.csv", "view_id,path\n"),
                ("web/rates.csv", "rate\n1.5\n"),
                ("web/page_views.csv", "view_id,url\n1,/\n"),
                ("web/notes.txt", "hello"),
                ("web.csv", "view_id,path\n"),
            ],
        );
        let error = gen_error(dir.path());
        assert!(
            error.starts_with(
                "5 problems in the fixtures; fix them and run `cargo xtask gen-catalog` again:"
            ),
            "{error}"
        );
        for expected in [
            "tables/fixtures/web/page_view.csv: no table `web.page_view` is declared (did you mean `web.page_views`?); \
             name the file after a declared table, or declare the table in tables/src",
            "tables/fixtures/web/rates.csv: table `web.rates` (struct `Rate` at tables/src/web.rs:17:12) reads source \
             `http-api`, which `codelake data seed` does not write; remove the fixture",
            "tables/fixtures/web/page_views.csv: the header misses `path`, has `url`, which `web.page_views` does not \
             declare; name exactly the declared columns, in any order: view_id,path",
            "tables/fixtures/web/notes.txt: not a fixture; a fixture is tables/fixtures/<database>/<table>.csv",
            "tables/fixtures/web.csv: not a fixture",
        ] {
            assert!(error.contains(expected), "{expected}\n---\n{error}");
        }
        assert!(!dir.path().join("tables/catalog.json").exists());
    }

    /// The tutorial's struct and its fixture, as the reader copies them, agree.
    #[test]
    fn the_tutorials_fixture_matches_its_table() {
        let path = crate::project_root().join("docs/tutorials/declare-your-first-table.md");
        let tutorial = fs::read_to_string(&path).unwrap();
        let block = |after: &str| -> String {
            let start = tutorial
                .find(after)
                .unwrap_or_else(|| panic!("{} has no `{after}`", path.display()));
            let rest = &tutorial[start..];
            let open = rest.find("```").unwrap();
            let body = &rest[open..];
            let body = &body[body.find('\n').unwrap() + 1..];
            body[..body.find("```").unwrap()].to_owned()
        };
        let web = block("Create `tables/src/web.rs`:");
        let page_views = block("Create `tables/fixtures/web/page_views.csv`:");
        assert!(web.contains("pub struct PageView"), "{web}");
        assert!(page_views.starts_with("view_id,"), "{page_views}");
        let dir = catalog(
            &[("lib.rs", "pub mod web;\n"), ("web.rs", &web)],
            &[("web/page_views.csv", &page_views)],
        );
        let layout = Layout::new();
        generate(dir.path(), &layout, crate::gen_catalog::Lineage::Committed).unwrap();
        let scan = super::super::scan(dir.path(), &layout).unwrap();
        let checked = super::check(dir.path(), &layout, &scan).unwrap();
        assert_eq!(checked.len(), 1);
    }
}
