//! The search index, built with the site: one entry per table, loaded as a
//! script (`search-index.js`) rather than fetched, because browsers refuse
//! `fetch` of a `file://` URL. `site.js` matches typed words against it.

use catalog_core::TableSpec;
use serde::Serialize;

/// One table, as the search script reads it. Short keys keep a catalog of
/// thousands of tables a small download.
#[derive(Serialize)]
struct Entry<'a> {
    /// `database.name`.
    n: String,
    /// The page, relative to the site's root.
    h: String,
    /// `table` or `view`.
    k: &'static str,
    /// The doc's first line.
    d: String,
    /// Column names.
    c: Vec<&'a str>,
    /// The rest of the docs (table and columns), searched but not shown.
    t: String,
}

/// `search-index.js`: `window.CODELAKE_SEARCH = [...]`.
pub(crate) fn index(tables: &[TableSpec]) -> String {
    let entries: Vec<Entry<'_>> = tables
        .iter()
        .map(|spec| {
            let mut text = spec.doc.to_string();
            for column in spec.columns.iter() {
                text.push(' ');
                text.push_str(&column.doc);
            }
            Entry {
                n: spec.qualified_name(),
                h: crate::table_page(&spec.qualified_name()),
                k: if spec.is_view() { "view" } else { "table" },
                d: crate::text::summary(&spec.doc),
                c: spec.columns.iter().map(|column| &*column.name).collect(),
                t: text,
            }
        })
        .collect();
    // `</` cannot end a script in JSON text read as a script; escape it anyway.
    let json = serde_json::to_string(&entries)
        .expect("the index serialises: strings only")
        .replace("</", "<\\/");
    format!("window.CODELAKE_SEARCH = {json};\n")
}
