//! The compiled registry, `catalog.json` and the docs describe the same tables.
//!
//! The derive builds specs at compile time; `cargo xtask gen-catalog` builds
//! them from syntax. These tests prove the two readings agree.

use std::path::PathBuf;

use catalog_core::{Manifest, Table};
use tables::tpch;

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The committed `tables/catalog.json`.
pub(crate) fn manifest() -> Manifest {
    let text = std::fs::read_to_string(root().join("tables/catalog.json")).unwrap();
    Manifest::from_json(&text).unwrap()
}

#[test]
fn catalog_json_equals_the_compiled_registry() {
    let compiled: Vec<_> = tables::REGISTRY.tables().cloned().collect();
    let generated = manifest().tables;
    assert_eq!(
        generated.len(),
        compiled.len(),
        "tables/catalog.json is stale: run `cargo xtask gen-catalog`"
    );
    for (generated, compiled) in generated.iter().zip(&compiled) {
        assert_eq!(
            generated,
            compiled,
            "tables/catalog.json is stale for {}: run `cargo xtask gen-catalog`",
            compiled.qualified_name()
        );
    }
}

#[test]
fn the_catalog_has_every_tpch_table_and_all_five_source_kinds() {
    let registry = tables::catalog().registry();
    for name in [
        "part", "supplier", "partsupp", "lineitem", "orders", "customer", "nation", "region",
    ] {
        assert!(
            registry.get(&format!("tpch.{name}")).is_some(),
            "tpch.{name} is missing"
        );
    }
    let mut kinds: Vec<&str> = registry.tables().map(|spec| &*spec.source).collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(
        kinds,
        ["csv", "delta", "function", "http-api", "s3-parquet", "view"]
    );
}

#[test]
fn every_table_passes_the_runtime_option_check() {
    // The derive checked these at compile time; plugins re-check at run time with the same table.
    for spec in tables::REGISTRY.tables().filter(|spec| !spec.is_view()) {
        let options: Vec<(&str, &str)> =
            spec.options.iter().map(|o| (&*o.key, &*o.value)).collect();
        if let Err(problems) = catalog_core::source::validate(&spec.source, &options) {
            panic!("{}: {problems:?}", spec.qualified_name());
        }
    }
}

#[test]
fn typed_handles_reach_the_struct_and_its_spec() {
    let part = tables::catalog().tpch().part();
    assert_eq!(part.qualified_name(), "tpch.part");
    assert!(std::ptr::eq(part.spec(), tpch::Part::SPEC));
    assert_eq!(part.schema().field(0).name(), tpch::Part::P_PARTKEY);
    assert_eq!(
        tpch::Part::SPEC
            .column(tpch::Part::P_RETAILPRICE)
            .unwrap()
            .ty
            .to_string(),
        "Decimal128(15, 2)"
    );
}

#[test]
fn the_reference_page_documents_every_table_and_column() {
    let page = std::fs::read_to_string(root().join("docs/reference/catalog/tpch.md")).unwrap();
    for spec in tables::REGISTRY.database("tpch") {
        assert!(
            page.contains(&format!("## `{}`", spec.name)),
            "no section for {}",
            spec.name
        );
        for column in spec.columns.iter() {
            assert!(
                page.contains(&format!("| `{}` | `{}` |", column.name, column.ty)),
                "{}.{}",
                spec.name,
                column.name
            );
        }
    }
}

/// The tutorials quote the compiler's own words: every derive error a tutorial
/// shows (`error: …`, or gen-catalog's `file:line:col: struct `X`: …`) is the
/// message of a trybuild case, which the suite keeps true.
#[test]
fn tutorials_quote_the_compilers_words() {
    let ui = root().join("catalog-core/model/tests/ui/fail");
    let messages: Vec<String> = std::fs::read_dir(&ui)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "stderr"))
        .flat_map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            text.lines()
                .filter_map(|line| line.strip_prefix("error: ").map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect();
    let tutorials = root().join("docs/tutorials");
    let mut quoted = 0;
    for entry in std::fs::read_dir(&tutorials).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            let message = match line.strip_prefix("error: ") {
                Some(message) if message.starts_with('`') => message,
                _ => match line.split_once(": struct `") {
                    Some((_, rest)) => rest.split_once("`: ").map_or("", |(_, m)| m),
                    None => continue,
                },
            };
            if message.is_empty() {
                continue;
            }
            quoted += 1;
            assert!(
                messages.iter().any(|known| known == message),
                "{} quotes a message the derive does not give:\n  {message}\n\
                 copy it from the matching catalog-core/model/tests/ui/fail/*.stderr",
                path.display()
            );
        }
    }
    assert!(
        quoted >= 2,
        "the tutorials quote no compiler error any more"
    );
}
