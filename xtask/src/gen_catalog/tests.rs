//! gen-catalog on the real catalog and on small catalogs in temp dirs.

use std::fs;
use std::path::Path;

use super::*;
use crate::bench::write_synthetic_catalog;

/// Runs gen-catalog (write, or check) in `dir` and returns the error text, if any.
fn run_gen(dir: &Path, check: bool) -> Result<(), String> {
    // No views in the temp catalogs; the real one's lineage is checked by tests/e2e/views.rs.
    run_with(dir, &Args { check }, Lineage::Committed).map_err(|error| format!("{error:#}"))
}

fn catalog(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join("tables/src").join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    dir
}

const SHOP: &str = r#"//! The shop.
use catalog_derive::Table;

/// Orders placed in the shop.
#[derive(Table)]
#[table(database = "shop", source = "csv", location = "orders.csv")]
pub struct Order {
    /// Order key.
    pub id: i64,
}
"#;

#[test]
fn committed_generated_files_are_fresh() {
    // The committed outputs must be exactly what the current `tables/src` generates.
    if let Err(error) = run_gen(&crate::project_root(), true) {
        panic!("{error}");
    }
}

#[test]
fn editing_a_doc_comment_makes_check_fail_and_names_the_command() {
    let dir = catalog(&[("lib.rs", "pub mod shop;\n"), ("shop.rs", SHOP)]);
    run_gen(dir.path(), false).unwrap();
    run_gen(dir.path(), true).unwrap();

    let shop = dir.path().join("tables/src/shop.rs");
    fs::write(
        &shop,
        SHOP.replace("/// Order key.", "/// Order key, unique per shop."),
    )
    .unwrap();
    let error = run_gen(dir.path(), true).unwrap_err();
    assert!(error.contains("run `cargo xtask gen-catalog`"), "{error}");
    assert!(
        error.contains("tables/catalog.json: +1 -1 lines"),
        "{error}"
    );
    assert!(error.contains("docs/reference/catalog/shop.md"), "{error}");

    run_gen(dir.path(), false).unwrap();
    run_gen(dir.path(), true).unwrap();
    let page = fs::read_to_string(dir.path().join("docs/reference/catalog/shop.md")).unwrap();
    assert!(
        page.contains("| `id` | `Int64` | `i64` | no | — | Order key, unique per shop. |"),
        "{page}"
    );
}

#[test]
fn a_missing_generated_file_is_stale() {
    let dir = catalog(&[("lib.rs", "pub mod shop;\n"), ("shop.rs", SHOP)]);
    run_gen(dir.path(), false).unwrap();
    fs::remove_file(dir.path().join("tables/catalog.json")).unwrap();
    let error = run_gen(dir.path(), true).unwrap_err();
    assert!(error.contains("tables/catalog.json: missing"), "{error}");
}

#[test]
fn a_page_for_a_removed_database_is_stale_and_then_removed() {
    let dir = catalog(&[("lib.rs", "pub mod shop;\n"), ("shop.rs", SHOP)]);
    run_gen(dir.path(), false).unwrap();
    let old = dir.path().join("docs/reference/catalog/gone.md");
    fs::write(&old, "old").unwrap();
    let error = run_gen(dir.path(), true).unwrap_err();
    assert!(
        error.contains("gone.md: its database no longer exists"),
        "{error}"
    );
    run_gen(dir.path(), false).unwrap();
    assert!(!old.exists());
}

#[test]
fn two_tables_of_one_name_are_reported_with_both_places() {
    let other = SHOP
        .replace("pub struct Order", "pub struct OrderCopy")
        .replace("source", "name = \"order\", source");
    let dir = catalog(&[
        ("lib.rs", "pub mod shop;\npub mod copy;\n"),
        ("shop.rs", SHOP),
        ("copy.rs", &other),
    ]);
    let error = run_gen(dir.path(), false).unwrap_err();
    assert!(
        error.contains("tables/src/copy.rs:7:12: struct `OrderCopy` declares table `shop.order`"),
        "{error}"
    );
    assert!(
        error.contains("which struct `Order` at tables/src/shop.rs:7:12 declares too"),
        "{error}"
    );
    assert!(error.contains("give one of them another `name"), "{error}");
    assert!(
        !dir.path().join("tables/catalog.json").exists(),
        "nothing is written on error"
    );
}

#[test]
fn a_file_that_does_not_parse_is_named_with_its_line() {
    let broken = SHOP.replace("pub id: i64,", "pub id i64,");
    let dir = catalog(&[("lib.rs", "pub mod shop;\n"), ("shop.rs", &broken)]);
    let error = run_gen(dir.path(), false).unwrap_err();
    assert!(error.contains("tables/src/shop.rs:9:"), "{error}");
    assert!(error.contains("does not parse"), "{error}");
}

#[test]
fn derive_errors_name_file_line_and_struct_all_at_once() {
    let bad = SHOP
        .replace("source = \"csv\"", "source = \"kafka\"")
        .replace("pub id: i64", "pub id: u128");
    let dir = catalog(&[("lib.rs", "pub mod shop;\n"), ("shop.rs", &bad)]);
    let error = run_gen(dir.path(), false).unwrap_err();
    assert!(
        error.starts_with(
            "2 problems in the catalog; fix them and run `cargo xtask gen-catalog` again"
        ),
        "{error}"
    );
    assert!(error.contains("tables/src/shop.rs:6:"), "{error}");
    assert!(
        error.contains("struct `Order`: unknown source `kafka`"),
        "{error}"
    );
    assert!(
        error.contains("tables/src/shop.rs:9:13: struct `Order`: unsupported field type `u128`"),
        "{error}"
    );
}

#[test]
fn a_declared_module_without_a_file_is_reported() {
    let dir = catalog(&[
        ("lib.rs", "pub mod shop;\npub mod missing;\n"),
        ("shop.rs", SHOP),
    ]);
    let error = run_gen(dir.path(), false).unwrap_err();
    assert!(
        error.contains("tables/src/lib.rs:2:9: cannot read tables/src/missing/mod.rs"),
        "{error}"
    );
}

#[test]
fn modules_are_followed_like_rustc_does() {
    let nested = SHOP
        .replace("database = \"shop\"", "database = \"deep\"")
        .replace("//! The shop.", "//! Deep.");
    let inline = "pub mod inner {\n".to_owned()
        + &SHOP
            .replace("//! The shop.\n", "")
            .replace("\"shop\"", "\"inline\"")
        + "}\n";
    let dir = catalog(&[
        ("lib.rs", "pub mod shop;\npub mod a;\npub mod b;\n"),
        ("shop.rs", SHOP),
        ("a/mod.rs", "pub mod nested;\n"),
        ("a/nested.rs", &nested),
        ("b.rs", &inline),
        ("unreachable.rs", &SHOP.replace("\"shop\"", "\"ghost\"")),
    ]);
    let layout = Layout::new();
    let found = scan(dir.path(), &layout).unwrap();
    let names: Vec<(String, &str)> = found
        .tables
        .iter()
        .map(|found| (found.spec.qualified_name(), &*found.spec.rust_type))
        .collect();
    assert_eq!(
        names,
        [
            ("deep.order".to_owned(), "tables::a::nested::Order"),
            ("inline.order".to_owned(), "tables::b::inner::Order"),
            ("shop.order".to_owned(), "tables::shop::Order"),
        ]
    );
}

#[test]
fn a_thousand_tables_generate() {
    // A scale test, not a timing: `cargo xtask bench` measures the time.
    let dir = tempfile::tempdir().unwrap();
    write_synthetic_catalog(dir.path(), 1000, 8).unwrap();
    let outputs = generate(dir.path(), &Layout::new(), Lineage::Committed).unwrap();
    let manifest = outputs
        .iter()
        .find(|output| output.path.ends_with("catalog.json"))
        .unwrap();
    let manifest = catalog_core::Manifest::from_json(&manifest.contents).unwrap();
    assert_eq!(manifest.tables.len(), 1000);
    assert!(manifest.tables.iter().all(|table| table.columns.len() == 8));
    let registry = outputs
        .iter()
        .find(|output| output.path.ends_with("catalog.rs"))
        .unwrap();
    assert_eq!(registry.contents.matches("as Table>::SPEC").count(), 1000);
    assert_eq!(
        outputs
            .iter()
            .filter(|output| output.path.starts_with("docs/reference/catalog"))
            .count(),
        11
    );
}

#[test]
fn test_only_tables_are_skipped_and_other_cfgs_refused() {
    let test_only = format!(
        "#[cfg(test)]\nmod tests {{\n{}}}\n",
        SHOP.replace("//! The shop.\n", "")
    );
    let gated = SHOP
        .replace(
            "#[derive(Table)]",
            "#[cfg(feature = \"extra\")]\n#[derive(Table)]",
        )
        .replace("\"shop\"", "\"gated\"");
    let dir = catalog(&[
        (
            "lib.rs",
            "pub mod shop;\npub mod tested;\n#[cfg(unix)]\npub mod unix;\npub mod gated;\n",
        ),
        ("shop.rs", SHOP),
        ("tested.rs", &test_only),
        ("unix.rs", &SHOP.replace("\"shop\"", "\"unix\"")),
        ("gated.rs", &gated),
    ]);
    let error = run_gen(dir.path(), false).unwrap_err();
    assert!(error.starts_with("2 problems"), "{error}");
    assert!(
        error.contains(
            "tables/src/unix.rs:7:12: struct `Order` is only compiled under `#[cfg(unix)]`"
        ),
        "{error}"
    );
    assert!(error.contains("tables/src/gated.rs:8:12: struct `Order` is only compiled under `#[cfg(feature = \"extra\")]`"), "{error}");
    assert!(!error.contains("tested.rs"), "{error}");
}

#[test]
fn a_table_in_lib_rs_is_registered_by_its_crate_path() {
    let dir = catalog(&[("lib.rs", SHOP)]);
    run_gen(dir.path(), false).unwrap();
    let registry = fs::read_to_string(dir.path().join("tables/src/catalog.rs")).unwrap();
    assert!(
        registry.contains("<crate::Order as Table>::SPEC"),
        "{registry}"
    );
    assert!(
        registry.contains("-> ::catalog_core::TableRef<crate::Order>"),
        "{registry}"
    );
    let page = fs::read_to_string(dir.path().join("docs/reference/catalog/shop.md")).unwrap();
    assert!(
        page.contains("# Database `shop`\n\nThe shop.\n"),
        "the module doc is the page's intro:\n{page}"
    );
}

#[test]
fn modules_resolve_like_rustc_with_path_attributes_and_raw_names() {
    let table = |database: &str| {
        SHOP.replace("//! The shop.\n", "")
            .replace("\"shop\"", &format!("\"{database}\""))
    };
    let dir = catalog(&[
        // A `#[path]` file owns its directory: its `mod inner;` is `dbs/inner.rs`.
        (
            "lib.rs",
            "#[path = \"dbs/sales_mod.rs\"]\npub mod sales;\npub mod r#type;\npub mod outer {\n    #[path = \"deep.rs\"]\n    pub mod deep;\n}\n",
        ),
        (
            "dbs/sales_mod.rs",
            &format!("pub mod inner;\n{}", table("sales")),
        ),
        ("dbs/inner.rs", &table("inner")),
        ("type.rs", &table("kinds")),
        // `#[path]` inside an inline module is relative to that module's directory.
        ("outer/deep.rs", &table("deep")),
    ]);
    let found = scan(dir.path(), &Layout::new()).unwrap();
    let names: Vec<String> = found
        .tables
        .iter()
        .map(|found| found.spec.qualified_name())
        .collect();
    assert_eq!(
        names,
        ["deep.order", "inner.order", "kinds.order", "sales.order"]
    );
}

#[test]
fn registries_that_would_not_compile_are_refused_with_the_fix() {
    let private = SHOP.replace("pub struct Order", "struct Order");
    let db = |name: &str| SHOP.replace("\"shop\"", &format!("\"{name}\""));
    let in_fn = format!(
        "{}\nfn helper() {{\n{}}}\n",
        db("ok"),
        SHOP.replace("//! The shop.\n", "")
            .replace("use catalog_derive::Table;\n", "")
            .replace("Order", "Local")
    );
    let cfg_attr = db("flagged").replace(
        "#[derive(Table)]",
        "#[cfg_attr(feature = \"x\", derive(Table))]",
    );
    let dir = catalog(&[
        (
            "lib.rs",
            "pub mod a;\npub mod b;\npub mod c;\npub mod d;\npub mod e;\npub mod f;\n",
        ),
        ("a.rs", &private),
        ("b.rs", &db("sales_2")),
        ("c.rs", &db("sales2")),
        ("d.rs", &db("registry")),
        ("e.rs", &in_fn),
        ("f.rs", &cfg_attr),
    ]);
    let error = run_gen(dir.path(), false).unwrap_err();
    assert!(error.starts_with("5 problems"), "{error}");
    assert!(
        error.contains("tables/src/a.rs:7:8: struct `Order` is private"),
        "{error}"
    );
    assert!(error.contains("declare it `pub struct Order`"), "{error}");
    assert!(
        error.contains("databases `sales2` and `sales_2`")
            || error.contains("databases `sales_2` and `sales2`"),
        "{error}"
    );
    assert!(
        error.contains("both become the type `databases::Sales2`"),
        "{error}"
    );
    assert!(
        error.contains("database `registry` would clash with `Catalog::registry()`"),
        "{error}"
    );
    assert!(
        error.contains("struct `Local` is declared inside function `helper`"),
        "{error}"
    );
    assert!(
        error.contains("tables/src/f.rs:7:12: struct `Order`: `#[cfg_attr(..)]`"),
        "{error}"
    );
}

#[test]
fn a_declared_contract_reaches_catalog_json_for_codelake_diff() {
    let shop = SHOP.replace(
        r#"location = "orders.csv")]"#,
        r#"location = "orders.csv", contract_version = 2, allow_breaking = "column-removed:note", replaces = "shop.old_orders")]"#,
    );
    let dir = catalog(&[("lib.rs", &shop)]);
    run_gen(dir.path(), false).unwrap();
    let manifest = catalog_core::Manifest::from_json(
        &fs::read_to_string(dir.path().join("tables/catalog.json")).unwrap(),
    )
    .unwrap();
    let contract = &manifest.tables[0].contract;
    assert_eq!(contract.version, 2);
    assert_eq!(contract.allow_breaking.as_ref(), ["column-removed:note"]);
    assert_eq!(contract.replaces.as_deref(), Some("shop.old_orders"));
    let page = fs::read_to_string(dir.path().join("docs/reference/catalog/shop.md")).unwrap();
    assert!(
        page.contains(
            "- **Contract:** version 2; acknowledges column-removed:note; replaces shop.old_orders ("
        ),
        "{page}"
    );
    // An entry the derive refuses fails generation, naming the file.
    let wrong = SHOP.replace(
        r#"location = "orders.csv")]"#,
        r#"location = "orders.csv", allow_breaking = "column-removed:id")]"#,
    );
    let dir = catalog(&[("lib.rs", &wrong)]);
    let error = run_gen(dir.path(), false).unwrap_err();
    assert!(
        error.contains("lib.rs") && error.contains("`id` is still a column"),
        "{error}"
    );
}
