//! Table names close to a mistyped one, for the "did you mean" hints of
//! `describe` and of a query that names an unknown table.

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
