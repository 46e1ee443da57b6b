//! The real plugin libraries, loaded by the production loader, answering SQL.
//!
//! The plugins are the workspace's cdylibs in the target directory
//! (`cargo xtask test` builds them first).

use std::fs;
use std::sync::Arc;

use catalog_core::{Environment, Table};
use catalog_runtime::{Error, PluginSet, default_plugin_dir, register_tables};
use codelake_plugin_abi::ABI_VERSION;

use crate::support::{ints, plugins, query, write_parquet};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::prelude::SessionContext;

/// A data directory holding `tpch/nation.csv` as the catalog declares it: pipe-delimited, with a header.
fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("tpch")).unwrap();
    // Columns deliberately in another order than declared: they are matched by name.
    let csv = "n_name|n_nationkey|n_comment|n_regionkey\n\
               ALGERIA|0|haggle. carefully final deposits|0\n\
               ARGENTINA|1|al foxes promise slyly|1\n\
               BRAZIL|2|y alongside of the pending deposits|1\n";
    fs::write(dir.path().join("tpch/nation.csv"), csv).unwrap();
    dir
}

async fn session(data: &tempfile::TempDir) -> (Arc<SessionContext>, Vec<Error>) {
    let ctx = Arc::new(SessionContext::new());
    let env = Environment::new("test", data.path());
    let failures = register_tables(&ctx, &plugins(), tables::REGISTRY.tables(), &env);
    (ctx, failures)
}

#[tokio::test]
async fn csv_and_function_tables_answer_sql_and_unserved_tables_are_named() {
    let data = data_dir();
    let (ctx, failures) = session(&data).await;

    // This environment has no S3 settings and no HTTP base URL: each of those tables is
    // named with its cause, and none stops the rest.
    let mut unserved: Vec<String> = failures.iter().map(ToString::to_string).collect();
    unserved.sort();
    // Exactly the tables this environment cannot serve fail: not nation or price_tiers.
    assert!(
        !unserved.iter().any(
            |failure| failure.contains("tpch.nation`") || failure.contains("tpch.price_tiers`")
        ),
        "{unserved:#?}"
    );
    assert!(
        unserved
            .iter()
            .any(|failure| failure.starts_with("table `tpch.region`: file ")),
        "no region.csv here"
    );
    assert!(
        unserved.iter().any(|failure| failure
            .starts_with("table `tpch.part`: environment `test` has no S3 settings")),
        "{unserved:#?}"
    );
    assert!(
        unserved.iter().any(|failure| failure
            .starts_with("table `tpch.exchange_rates`: `url = \"/fx/rates\"` is a path, but environment `test` has no HTTP base URL")),
        "{unserved:#?}"
    );

    // CSV: declared types, header matched by name, filters work.
    assert_eq!(
        ints(
            &ctx,
            "SELECT n_regionkey FROM tpch.nation WHERE n_name = 'BRAZIL'"
        )
        .await,
        [1]
    );
    assert_eq!(
        ints(&ctx, "SELECT sum(n_nationkey) FROM tpch.nation").await,
        [3]
    );

    // Function: the rows the Rust function returns, through the same session.
    let tiers = ctx
        .sql("SELECT * FROM tpch.price_tiers ORDER BY min_price")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let rows = tables::tpch::PriceTier::from_record_batch(&tiers[0]).unwrap();
    assert_eq!(
        rows.iter()
            .map(|tier| tier.tier.as_str())
            .collect::<Vec<_>>(),
        ["budget", "standard", "premium"]
    );

    // One query across both plugins.
    let joined = ints(
        &ctx,
        "SELECT count(*) FROM tpch.nation n JOIN tpch.price_tiers t ON n.n_nationkey * 1000 >= t.min_price",
    )
    .await;
    // Nation keys 0, 1, 2 → 0, 1000, 2000 dollars: budget covers all three, standard and premium only 2000.
    assert_eq!(joined, [5]);
}

#[tokio::test]
async fn a_missing_csv_file_names_the_table_and_the_path_and_the_rest_still_answers() {
    let data = tempfile::tempdir().unwrap();
    let (ctx, failures) = session(&data).await;
    let nation = failures
        .iter()
        .map(ToString::to_string)
        .find(|failure| failure.contains("tpch.nation"))
        .unwrap();
    assert!(nation.contains("nation.csv does not exist"), "{nation}");
    assert!(nation.contains("libcodelake_plugin_csv"), "{nation}");
    let tiers = ctx
        .sql("SELECT count(*) FROM tpch.price_tiers")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(tiers[0].column(0).len(), 1);
}

/// A CSV file deleted after its table was registered is an error naming it,
/// not an empty table; put back, it answers again.
#[tokio::test]
async fn a_csv_file_deleted_after_registration_is_an_error_not_an_empty_table() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("tpch/nation.csv");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let text = "n_nationkey|n_name|n_regionkey|n_comment\n0|ALGERIA|0|x\n1|ARGENTINA|1|y\n";
    std::fs::write(&file, text).unwrap();
    let (ctx, _) = session(&data).await;
    let count = || async {
        let batches = ctx
            .sql("SELECT count(*) FROM tpch.nation")
            .await?
            .collect()
            .await?;
        Ok::<_, datafusion::error::DataFusionError>(
            batches[0].column(0).as_primitive::<Int64Type>().value(0),
        )
    };
    assert_eq!(count().await.unwrap(), 2);
    std::fs::remove_file(&file).unwrap();
    let error = count().await.unwrap_err().to_string();
    assert!(
        error.contains("tpch.nation") && error.contains("nation.csv does not exist"),
        "{error}"
    );
    std::fs::write(&file, text).unwrap();
    assert_eq!(count().await.unwrap(), 2);
}

/// A test-only plugin's file, beside the real ones (named so that `load_dir` skips it).
fn test_plugin(name: &str) -> std::path::PathBuf {
    let file = format!(
        "{}codelake_testplugin_{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let path = default_plugin_dir().join(file);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace`",
        path.display()
    );
    path
}

fn real_plugin(name: &str) -> std::path::PathBuf {
    default_plugin_dir().join(codelake_plugin_abi::library_file_name(name))
}

/// A one-column table `test.<name>` of source `source` with `options`.
fn spec(name: &str, source: &str, options: &[(&str, &str)]) -> catalog_core::TableSpec {
    use std::borrow::Cow::Owned;
    catalog_core::TableSpec {
        database: "test".into(),
        name: Owned(name.to_owned()),
        doc: "A test table.".into(),
        rust_type: "tests::Test".into(),
        source: Owned(source.to_owned()),
        options: Owned(
            options
                .iter()
                .map(|(key, value)| catalog_core::SourceOption {
                    key: Owned((*key).to_owned()),
                    value: Owned((*value).to_owned()),
                })
                .collect(),
        ),
        owner: None,
        expectations: catalog_core::Expectations::default(),
        columns: Owned(vec![catalog_core::ColumnSpec {
            name: "x".into(),
            ty: catalog_core::ColumnType::Int64,
            nullable: true,
            doc: "A number.".into(),
            unique: false,
            min: None,
            max: None,
        }]),
        view: None,
        accelerate: None,
        refresh: None,
        contract: ::catalog_core::Contract::NONE,
    }
}

/// Each kind's library is found by the file name its definition gives, and
/// opened alone: if a name were wrong, every library would be opened to find
/// the kind, and more than one plugin would come back.
#[test]
fn each_kind_opens_its_own_library_alone() {
    let dir = default_plugin_dir();
    for def in catalog_core::source::SOURCES {
        let set = PluginSet::load_dir_for(&dir, [def.kind]).unwrap();
        assert!(set.errors.is_empty(), "{}: {:?}", def.kind, set.errors);
        assert_eq!(set.names(), def.plugin, "source `{}`", def.kind);
        assert!(set.plugin_for(def.kind).is_some(), "source `{}`", def.kind);
    }
    let set = PluginSet::load_dir_for(&dir, ["csv", "parquet", "s3-parquet"]).unwrap();
    assert_eq!(
        set.names(),
        "csv, s3-parquet",
        "one library serves both Parquet kinds"
    );
    let none = PluginSet::load_dir_for(&dir, []).unwrap();
    assert_eq!((none.names().as_str(), none.errors.len()), ("none", 0));
}

/// A kind whose library is not where its name says is found by opening
/// every library; a library of another ABI under the expected name is
/// refused before use with the same error as at a full load.
#[test]
fn a_library_not_found_by_name_is_found_by_opening_all_and_a_wrong_abi_is_still_refused() {
    let dir = tempfile::tempdir().unwrap();
    let link = |target: std::path::PathBuf, name: &str| {
        let path = dir
            .path()
            .join(codelake_plugin_abi::library_file_name(name));
        std::os::unix::fs::symlink(target, &path).unwrap();
        path
    };
    let impostor = link(test_plugin("old_abi"), "csv");
    link(real_plugin("csv"), "renamed");
    link(real_plugin("delta"), "delta");

    // Delta is where its name says: nothing else is opened, the impostor included.
    let set = PluginSet::load_dir_for(dir.path(), ["delta"]).unwrap();
    assert_eq!((set.names().as_str(), set.errors.len()), ("delta", 0));

    // The library named for csv is refused; the others are opened, and one serves csv.
    let set = PluginSet::load_dir_for(dir.path(), ["csv"]).unwrap();
    assert_eq!(
        set.names(),
        "delta, csv",
        "the renamed csv library is opened too"
    );
    assert!(set.plugin_for("csv").is_some());
    let [error] = set.errors.as_slice() else {
        panic!("{:?}", set.errors)
    };
    assert!(
        matches!(error, Error::AbiVersion { path, .. } if *path == impostor),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&format!(
            "built for plugin ABI version {}, but this codelake uses version {ABI_VERSION}",
            ABI_VERSION + 1
        )),
        "{error}"
    );
}

/// What a query needs: the tables it reads, and what the views among them
/// read; every table when it reads anything else or is not a query.
#[test]
fn a_query_needs_its_tables_and_what_its_views_read() {
    let ctx = SessionContext::new_with_config(catalog_runtime::session_config());
    let state = ctx.state();
    let specs: Vec<&catalog_core::TableSpec> = tables::REGISTRY.tables().collect();
    let needed = |sql: &str| -> Option<Vec<String>> {
        let statements: Vec<_> = sql
            .split(';')
            .filter(|statement| !statement.trim().is_empty())
            .map(|statement| {
                let dialect = state.config().options().sql_parser.dialect;
                state.sql_to_statement(statement, &dialect).unwrap()
            })
            .collect();
        catalog_runtime::needed_by(&state, &statements, &specs).map(|specs| {
            let mut names: Vec<String> = specs.iter().map(|spec| spec.qualified_name()).collect();
            names.sort();
            names
        })
    };
    let names = |names: &[&str]| Some(names.iter().map(|name| (*name).to_owned()).collect());

    assert_eq!(
        needed("SELECT count(*) FROM tpch.region"),
        names(&["tpch.region"])
    );
    assert_eq!(
        needed("SELECT * FROM tpch.nation n JOIN tpch.region r ON n.n_regionkey = r.r_regionkey"),
        names(&["tpch.nation", "tpch.region"])
    );
    assert_eq!(
        needed("EXPLAIN ANALYZE SELECT * FROM tpch.price_tiers_local"),
        names(&[
            "tpch.exchange_rates",
            "tpch.price_tiers",
            "tpch.price_tiers_local"
        ]),
        "a view brings what it reads"
    );
    assert_eq!(
        needed("WITH r AS (SELECT * FROM tpch.region) SELECT * FROM r; SELECT 1 FROM tpch.nation"),
        names(&["tpch.nation", "tpch.region"])
    );
    assert_eq!(needed("SELECT 1"), names(&[]));
    for everything in [
        "SELECT * FROM information_schema.tables",
        "SHOW TABLES",
        "SELECT * FROM tpch.no_such_table",
        "SELECT * FROM region",
        "SET datafusion.execution.batch_size = 100",
        "SELECT 1; SET datafusion.execution.batch_size = 100",
    ] {
        assert_eq!(needed(everything), None, "{everything}");
    }
}

#[test]
fn a_plugin_of_another_abi_version_is_refused_before_use_naming_file_and_versions() {
    let path = test_plugin("old_abi");
    let set = PluginSet::load(&[path.clone(), real_plugin("csv")]);
    assert_eq!(set.names(), "csv", "the other plugin still loads");
    let [error] = set.errors.as_slice() else {
        panic!("{:?}", set.errors)
    };
    assert!(
        matches!(
            error,
            Error::AbiVersion { found, expected, .. }
                if *found == ABI_VERSION + 1 && *expected == ABI_VERSION
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.contains(&format!(
            "plugin ABI version {}, but this codelake uses version {ABI_VERSION}",
            ABI_VERSION + 1
        )),
        "{message}"
    );
}

/// A file named like a plugin that is not a library gets the loader's reason,
/// not a bare "dlopen failed".
#[test]
fn a_file_that_is_not_a_library_gets_the_loaders_reason() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir
        .path()
        .join(codelake_plugin_abi::library_file_name("fake"));
    std::fs::write(&fake, "not a library\n").unwrap();
    let set = PluginSet::load(&[fake.clone(), real_plugin("csv")]);
    assert_eq!(set.names(), "csv", "the other plugin still loads");
    let [error] = set.errors.as_slice() else {
        panic!("{:?}", set.errors)
    };
    let message = error.to_string();
    assert!(message.contains(&fake.display().to_string()), "{message}");
    // The loader's reason, e.g. "invalid ELF header" or "file too short".
    let reason = message.split("dlopen failed").nth(1).unwrap_or_default();
    assert!(reason.trim_start_matches(':').trim().len() > 5, "{message}");
}

#[test]
fn a_missing_plugin_file_is_named_and_the_others_load() {
    let missing = default_plugin_dir().join(codelake_plugin_abi::library_file_name("nowhere"));
    let set = PluginSet::load(&[missing.clone(), real_plugin("csv")]);
    assert_eq!(set.names(), "csv");
    let [error] = set.errors.as_slice() else {
        panic!("{:?}", set.errors)
    };
    assert!(
        error
            .to_string()
            .starts_with(&format!("plugin {}: ", missing.display())),
        "{error}"
    );
    // A table that needed the missing plugin is named; a table of a loaded plugin still answers.
    let ctx = Arc::new(SessionContext::new());
    let data = data_dir();
    let env = Environment::new("test", data.path());
    let specs = [tables::tpch::PriceTier::SPEC, tables::tpch::Nation::SPEC];
    let failures: Vec<String> = register_tables(&ctx, &set, specs, &env)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(failures.len(), 1, "{failures:#?}");
    assert!(
        failures[0].starts_with(
            "table `tpch.price_tiers`: no plugin serves source `function` (loaded: csv)"
        ),
        "{}",
        failures[0]
    );
    let count = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(ints(&ctx, "SELECT count(*) FROM tpch.nation"));
    assert_eq!(count, [3]);
}

#[tokio::test]
async fn panics_and_bad_options_name_the_table_while_the_others_answer() {
    let data = data_dir();
    let env = Environment::new("test", data.path());
    let ctx = Arc::new(SessionContext::new());
    let set = PluginSet::load(&[
        real_plugin("csv"),
        real_plugin("http-api"),
        test_plugin("faulty"),
    ]);
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    let nation = tables::tpch::Nation::SPEC;
    let specs = [
        spec("built", "function", &[("function", "panic_on_build")]),
        spec("scanned", "function", &[("function", "panic_on_scan")]),
        spec("read", "function", &[("function", "panic_on_read")]),
        spec(
            "bad_options",
            "csv",
            &[("location", "x.csv"), ("delimiter", "||")],
        ),
        // More retries than the reader's `u32` holds: refused, never read as the default.
        spec(
            "bad_retries",
            "http-api",
            &[("url", "/x"), ("max_retries", "4294967296")],
        ),
    ];
    let failures = register_tables(&ctx, &set, specs.iter().chain([nation]), &env);
    let failures: Vec<String> = failures.iter().map(ToString::to_string).collect();
    assert_eq!(failures.len(), 3, "{failures:#?}");
    assert!(failures[0].starts_with("table `test.built`: plugin `faulty` panicked while building the table: deliberate panic while building"), "{}", failures[0]);
    assert!(
        failures[1].starts_with("table `test.bad_options`: invalid source options"),
        "{}",
        failures[1]
    );
    assert!(
        failures[1].contains("`delimiter = \"||\"` is not valid"),
        "{}",
        failures[1]
    );
    assert!(
        failures[2].starts_with("table `test.bad_retries`: invalid source options"),
        "{}",
        failures[2]
    );
    assert!(
        failures[2].contains(
            "`max_retries = \"4294967296\"` is not valid: expected an integer from 0 to 4294967295"
        ),
        "{}",
        failures[2]
    );
    // Said once: the plugin's error chain does not repeat the problem.
    for failure in &failures[1..] {
        assert_eq!(failure.matches("is not valid").count(), 1, "{failure}");
    }

    // Panics at query time are errors naming the table, and the session goes on.
    for (table, during) in [("scanned", "planning a scan"), ("read", "reading")] {
        let result = query(&ctx, &format!("SELECT * FROM test.{table}")).await;
        let error = result.unwrap_err().to_string();
        assert!(
            error.contains(&format!(
                "table `test.{table}`: plugin `faulty` panicked while {during}"
            )),
            "{error}"
        );
    }
    assert_eq!(ints(&ctx, "SELECT count(*) FROM tpch.nation").await, [3]);
}

/// `n` parts, priced 1000, 1100, 1200… dollars.
fn parts(n: i64) -> Vec<tables::tpch::Part> {
    (1..=n)
        .map(|key| tables::tpch::Part {
            p_partkey: key,
            p_name: format!("part {key}"),
            p_mfgr: "Manufacturer#1".into(),
            p_brand: format!("Brand#{}", key % 3),
            p_type: "STANDARD".into(),
            p_size: (key % 50 + 1) as i32,
            p_container: "SM BOX".into(),
            p_retailprice: catalog_core::Decimal::from_mantissa(i128::from(900 + 100 * key) * 100)
                .unwrap(),
            p_comment: "test".into(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_on_s3_answers_and_joins_csv_and_function_tables() {
    let server = crate::s3::S3Server::start().await;
    let batch = tables::tpch::Part::to_record_batch(&parts(10)).unwrap();
    write_parquet(&server.object_path("codelake", "tpch/part.parquet"), &batch);

    let data = data_dir();
    let env = Environment::new("test", data.path()).with_s3(server.settings(crate::s3::SECRET_KEY));
    let ctx = Arc::new(SessionContext::new());
    let failures = register_tables(&ctx, &plugins(), tables::REGISTRY.tables(), &env);
    assert!(
        !failures
            .iter()
            .any(|failure| failure.to_string().contains("tpch.part`")),
        "{failures:#?}"
    );

    // Projection, filter and limit, through DataFusion's own Parquet scan.
    assert_eq!(
        ints(
            &ctx,
            "SELECT p_partkey FROM tpch.part WHERE p_name = 'part 7'"
        )
        .await,
        [7]
    );
    assert_eq!(
        ints(
            &ctx,
            "SELECT p_partkey FROM tpch.part ORDER BY p_partkey DESC LIMIT 2"
        )
        .await,
        [10, 9]
    );
    let rows = ctx
        .sql("SELECT * FROM tpch.part ORDER BY p_partkey")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let read: Vec<tables::tpch::Part> = rows
        .iter()
        .flat_map(|batch| tables::tpch::Part::from_record_batch(batch).unwrap())
        .collect();
    assert_eq!(
        read,
        parts(10),
        "typed rows survive S3, Parquet and the plugin boundary"
    );

    // One query over three source kinds: Parquet on S3, a Rust function, CSV.
    let sql = "SELECT t.tier, count(*) FROM tpch.part p \
               JOIN tpch.price_tiers t ON p.p_retailprice >= t.min_price \
                 AND (t.max_price IS NULL OR p.p_retailprice < t.max_price) \
               JOIN tpch.nation n ON n.n_nationkey = p.p_partkey % 3 \
               GROUP BY t.tier ORDER BY t.tier";
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let mut counts = Vec::new();
    for batch in &batches {
        let tiers = batch.column(0).as_string::<i32>();
        let totals = batch.column(1).as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            counts.push((tiers.value(row).to_owned(), totals.value(row)));
        }
    }
    // Computed independently: prices 1000..=1900 in steps of 100; every part has a nation
    // (keys 0, 1, 2 all exist), so each part counts once in its tier.
    let expected = |lo: i64, hi: i64| {
        (1..=10)
            .filter(|key| (lo..hi).contains(&(900 + 100 * key)))
            .count() as i64
    };
    assert_eq!(
        counts,
        [
            ("budget".to_owned(), expected(0, 1200)),
            ("premium".to_owned(), expected(1600, i64::MAX)),
            ("standard".to_owned(), expected(1200, 1600)),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_s3_credentials_name_the_table_and_never_print_the_secret() {
    let server = crate::s3::S3Server::start().await;
    let batch = tables::tpch::Part::to_record_batch(&parts(2)).unwrap();
    write_parquet(&server.object_path("codelake", "tpch/part.parquet"), &batch);
    let wrong = "wrong-secret-must-not-appear";
    let data = data_dir();
    let env = Environment::new("test", data.path()).with_s3(server.settings(wrong));
    let ctx = Arc::new(SessionContext::new());
    let _ = register_tables(&ctx, &plugins(), tables::REGISTRY.tables(), &env);

    let result = query(&ctx, "SELECT count(*) FROM tpch.part").await;
    let error = format!(
        "{:?} / {}",
        result.as_ref().unwrap_err(),
        result.as_ref().unwrap_err()
    );
    assert!(
        error
            .contains("table `tpch.part` (plugin `s3-parquet`, `s3://codelake/tpch/part.parquet`)"),
        "{error}"
    );
    assert!(error.contains("403 Forbidden"), "{error}");
    assert!(!error.contains(wrong), "the secret leaked: {error}");
    // The CSV table still answers in the same session.
    assert_eq!(ints(&ctx, "SELECT count(*) FROM tpch.nation").await, [3]);
}

/// The credential the catalog's `exchange_rates` reads from `CODELAKE_FX_TOKEN`.
const FX_TOKEN: &str = "Bearer fx-test-token-do-not-print";

/// Sets `CODELAKE_FX_TOKEN`, once, to the same value for every test.
#[allow(unsafe_code)] // std::env::set_var is unsafe in edition 2024
pub(crate) fn set_fx_token() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: this is the only write to the environment in this test binary, it
    // always writes the same value, and it happens before any reader of this variable.
    ONCE.call_once(|| unsafe { std::env::set_var("CODELAKE_FX_TOKEN", FX_TOKEN) });
}

/// An FX API: two pages linked by `/next`, answering only with the right token.
async fn fx_server(expected_token: &'static str) -> crate::http::HttpServer {
    crate::http::HttpServer::start(move |asked| {
        if asked.authorization.as_deref() != Some(expected_token) {
            return (401, r#"{"error": "unauthorized"}"#.to_owned());
        }
        match asked.path_and_query.as_str() {
            "/fx/rates" => (200, r#"{"rates": [
                {"currency": "DZD", "rate_to_usd": 0.0075, "as_of": "2026-11-25T00:00:00Z", "n_nationkey": 0},
                {"currency": "ARS", "rate_to_usd": 0.001, "as_of": "2026-11-25T00:00:00Z", "n_nationkey": 1}
              ], "next": "/fx/rates/2"}"#.to_owned()),
            "/fx/rates/2" => (200, r#"{"rates": [
                {"currency": "BRL", "rate_to_usd": 0.2, "as_of": "2026-11-25T00:00:00Z", "n_nationkey": 2},
                {"currency": "EUR", "rate_to_usd": 1.08, "as_of": "2026-11-25T00:00:00Z"}
              ], "next": null}"#.to_owned()),
            _ => (404, "{}".to_owned()),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_five_source_kinds_join_in_one_query() {
    set_fx_token();
    let s3 = crate::s3::S3Server::start().await;
    let batch = tables::tpch::Part::to_record_batch(&parts(10)).unwrap();
    write_parquet(&s3.object_path("codelake", "tpch/part.parquet"), &batch);
    // A Delta table on S3 too: orders of the same keys, partitioned by year.
    let orders = crate::delta::DeltaDir::new(
        s3.object_path("codelake", "tpch/orders_delta/_delta_log/.keep")
            .parent()
            .and_then(std::path::Path::parent)
            .unwrap(),
    );
    let mut actions = vec![
        crate::delta::protocol(),
        crate::delta::metadata(
            &[
                ("o_orderkey", "long", false),
                ("o_custkey", "long", false),
                ("o_orderstatus", "string", false),
                ("o_totalprice", "decimal(15,2)", false),
                ("o_orderdate", "date", false),
                ("o_orderpriority", "string", false),
                ("o_clerk", "string", false),
                ("o_shippriority", "integer", false),
                ("o_comment", "string", false),
                ("o_orderyear", "integer", false),
            ],
            &["o_orderyear"],
        ),
    ];
    for year in [1995, 1996] {
        let rows: Vec<tables::tpch::OrdersDelta> = (1..=10)
            .filter(|key| 1995 + key % 2 == year)
            .map(|key| tables::tpch::OrdersDelta {
                o_orderkey: key,
                o_custkey: key,
                o_orderstatus: "O".into(),
                o_totalprice: catalog_core::Decimal::from_mantissa(i128::from(key) * 100).unwrap(),
                o_orderdate: catalog_core::chrono::NaiveDate::from_ymd_opt(year as i32, 1, 1)
                    .unwrap(),
                o_orderpriority: "1-URGENT".into(),
                o_clerk: "Clerk#000000001".into(),
                o_shippriority: 0,
                o_comment: "test".into(),
                o_orderyear: year as i32,
            })
            .collect();
        let mut batch = tables::tpch::OrdersDelta::to_record_batch(&rows).unwrap();
        batch.remove_column(batch.schema().index_of("o_orderyear").unwrap());
        let relative = format!("o_orderyear={year}/part-0.parquet");
        actions.push(orders.add(&relative, &batch, &[("o_orderyear", &year.to_string())]));
    }
    orders.commit(0, &actions);
    let http = fx_server(FX_TOKEN).await;
    let data = data_dir();
    let mut env = Environment::new("test", data.path()).with_s3(s3.settings(crate::s3::SECRET_KEY));
    env.http_base_url = Some(http.base_url.clone());
    let ctx = Arc::new(SessionContext::new());
    let failures = register_tables(&ctx, &plugins(), tables::REGISTRY.tables(), &env);
    for table in [
        "tpch.part`",
        "tpch.nation`",
        "tpch.price_tiers`",
        "tpch.exchange_rates`",
        "tpch.orders_delta`",
    ] {
        assert!(
            !failures
                .iter()
                .any(|failure| failure.to_string().contains(table)),
            "{failures:#?}"
        );
    }

    // HTTP alone: both pages, decoded with the declared types, a missing field as null.
    assert_eq!(
        ints(
            &ctx,
            "SELECT count(*) FROM tpch.exchange_rates WHERE n_nationkey IS NULL"
        )
        .await,
        [1]
    );

    // Parquet on S3 × Rust function × CSV × HTTP JSON API × Delta on S3.
    let sql = "SELECT p.p_partkey, t.tier, n.n_name, e.currency, \
                      CAST(p.p_retailprice AS DOUBLE) * e.rate_to_usd AS price_usd, \
                      CAST(o.o_orderyear AS BIGINT) AS year \
               FROM tpch.part p \
               JOIN tpch.price_tiers t ON p.p_retailprice >= t.min_price \
                 AND (t.max_price IS NULL OR p.p_retailprice < t.max_price) \
               JOIN tpch.nation n ON n.n_nationkey = p.p_partkey % 3 \
               JOIN tpch.exchange_rates e ON e.n_nationkey = n.n_nationkey \
               JOIN tpch.orders_delta o ON o.o_orderkey = p.p_partkey \
               ORDER BY p.p_partkey";
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let mut got = Vec::new();
    for batch in &batches {
        let keys = batch.column(0).as_primitive::<Int64Type>();
        let tiers = batch.column(1).as_string::<i32>();
        let nations = batch.column(2).as_string::<i32>();
        let currencies = batch.column(3).as_string::<i32>();
        let prices = batch
            .column(4)
            .as_primitive::<datafusion::arrow::datatypes::Float64Type>();
        let years = batch.column(5).as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            got.push((
                keys.value(row),
                tiers.value(row).to_owned(),
                nations.value(row).to_owned(),
                currencies.value(row).to_owned(),
                prices.value(row),
            ));
            // Each order's year, from its Delta partition.
            assert_eq!(years.value(row), 1995 + keys.value(row) % 2);
        }
    }
    // The same answer, computed here from the inputs alone.
    let nations = ["ALGERIA", "ARGENTINA", "BRAZIL"];
    let rates = [("DZD", 0.0075), ("ARS", 0.001), ("BRL", 0.2)];
    let expected: Vec<(i64, String, String, String, f64)> = (1..=10)
        .map(|key: i64| {
            let price = 900 + 100 * key;
            let tier = if price < 1200 {
                "budget"
            } else if price < 1600 {
                "standard"
            } else {
                "premium"
            };
            let nation = (key % 3) as usize;
            (
                key,
                tier.to_owned(),
                nations[nation].to_owned(),
                rates[nation].0.to_owned(),
                price as f64 * rates[nation].1,
            )
        })
        .collect();
    assert_eq!(got.len(), expected.len());
    for (got, expected) in got.iter().zip(&expected) {
        assert_eq!(
            (&got.0, &got.1, &got.2, &got.3),
            (&expected.0, &expected.1, &expected.2, &expected.3)
        );
        assert!((got.4 - expected.4).abs() < 1e-9, "{got:?} vs {expected:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_credential_names_the_table_and_never_prints_it() {
    set_fx_token();
    let http = fx_server("Bearer another-token").await;
    let data = data_dir();
    let mut env = Environment::new("test", data.path());
    env.http_base_url = Some(http.base_url.clone());
    let ctx = Arc::new(SessionContext::new());
    let _ = register_tables(&ctx, &plugins(), tables::REGISTRY.tables(), &env);
    let result = query(&ctx, "SELECT * FROM tpch.exchange_rates").await;
    let error = result.unwrap_err().to_string();
    assert!(
        error.contains("table `tpch.exchange_rates` (plugin `http-api`, `/fx/rates`)"),
        "{error}"
    );
    assert!(error.contains("401 Unauthorized"), "{error}");
    assert!(
        !error.contains("fx-test-token"),
        "the credential leaked: {error}"
    );
    assert_eq!(http.requests(), 1, "a client error is not retried");
    assert_eq!(ints(&ctx, "SELECT count(*) FROM tpch.nation").await, [3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_then_answer() {
    set_fx_token();
    let http = crate::http::HttpServer::start(|asked| match asked.earlier {
        0 => (503, "{}".to_owned()),
        _ => (200, r#"{"rates": [{"currency": "EUR", "rate_to_usd": 1.08, "as_of": "2026-11-25T00:00:00Z"}]}"#.to_owned()),
    })
    .await;
    let data = data_dir();
    let mut env = Environment::new("test", data.path());
    env.http_base_url = Some(http.base_url.clone());
    let ctx = Arc::new(SessionContext::new());
    let _ = register_tables(&ctx, &plugins(), tables::REGISTRY.tables(), &env);
    assert_eq!(
        ints(&ctx, "SELECT count(*) FROM tpch.exchange_rates").await,
        [1]
    );
    assert_eq!(http.requests(), 2, "one 503, then one success");
}

#[tokio::test]
async fn a_bad_csv_row_names_the_table_the_file_and_the_line() {
    let data = data_dir();
    let bad = "n_name|n_nationkey|n_comment|n_regionkey\nALGERIA|0|fine|0\nARGENTINA|one|not a number|1\n";
    fs::write(data.path().join("tpch/nation.csv"), bad).unwrap();
    let (ctx, _) = session(&data).await;
    let result = query(&ctx, "SELECT sum(n_nationkey) FROM tpch.nation").await;
    let error = result.unwrap_err().to_string();
    assert!(
        error.contains("table `tpch.nation` (plugin `csv`, `tpch/nation.csv`)"),
        "{error}"
    );
    // The file's own line (the header is line 1) and the column by name, in words.
    assert!(
        error.contains("line 3 of ")
            && error.contains(
                "tpch/nation.csv: `one` in column `n_nationkey` is not a valid Int64; fix the value"
            ),
        "{error}"
    );
    assert!(!error.contains("Row data"), "{error}");
}

/// Events, partitioned by year in Hive-style directories.
#[derive(catalog_derive::Table, Debug, PartialEq)]
#[table(
    database = "test",
    name = "events",
    source = "s3-parquet",
    location = "s3://codelake/events/",
    partitions = "year"
)]
pub struct Event {
    /// Event id.
    pub id: i64,
    /// Year, from the `year=…` directory.
    pub year: i32,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hive_partition_columns_come_from_the_path() {
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let server = crate::s3::S3Server::start().await;
    let file_schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    for (year, ids) in [(2025, vec![1, 2]), (2026, vec![3])] {
        let batch = datafusion::arrow::array::RecordBatch::try_new(
            Arc::clone(&file_schema),
            vec![Arc::new(Int64Array::from(ids))],
        )
        .unwrap();
        write_parquet(
            &server.object_path("codelake", &format!("events/year={year}/part-0.parquet")),
            &batch,
        );
    }
    let data = tempfile::tempdir().unwrap();
    let env = Environment::new("test", data.path()).with_s3(server.settings(crate::s3::SECRET_KEY));
    let ctx = Arc::new(SessionContext::new());
    let failures = register_tables(&ctx, &plugins(), [Event::SPEC], &env);
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(
        ints(&ctx, "SELECT id FROM test.events WHERE year = 2026").await,
        [3]
    );
    let batches = ctx
        .sql("SELECT id, year FROM test.events ORDER BY id")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let rows: Vec<Event> = batches
        .iter()
        .flat_map(|batch| Event::from_record_batch(batch).unwrap())
        .collect();
    assert_eq!(
        rows,
        [
            Event { id: 1, year: 2025 },
            Event { id: 2, year: 2025 },
            Event { id: 3, year: 2026 }
        ]
    );
}

/// A zero-byte object is not an empty table: DataFusion's listing would skip
/// it, so the plugin names it as an error, alone or inside a prefix, and the
/// other tables of the session still answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_objects_and_missing_buckets_are_named() {
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let server = crate::s3::S3Server::start().await;
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    let batch = datafusion::arrow::array::RecordBatch::try_new(
        schema,
        vec![Arc::new(Int64Array::from(vec![1, 2]))],
    )
    .unwrap();
    write_parquet(&server.object_path("codelake", "good.parquet"), &batch);
    write_parquet(
        &server.object_path("codelake", "many/part-0.parquet"),
        &batch,
    );
    for key in ["empty.parquet", "many/part-1.parquet"] {
        let path = server.object_path("codelake", key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }
    let data = tempfile::tempdir().unwrap();
    let env = Environment::new("test", data.path()).with_s3(server.settings(crate::s3::SECRET_KEY));
    let ctx = Arc::new(SessionContext::new());
    let specs = [
        spec(
            "good",
            "s3-parquet",
            &[("location", "s3://codelake/good.parquet")],
        ),
        spec(
            "empty",
            "s3-parquet",
            &[("location", "s3://codelake/empty.parquet")],
        ),
        spec("many", "s3-parquet", &[("location", "s3://codelake/many/")]),
    ];
    let failures = register_tables(&ctx, &plugins(), &specs, &env);
    assert!(failures.is_empty(), "{failures:#?}");
    for (table, object) in [
        ("empty", "s3://codelake/empty.parquet"),
        ("many", "s3://codelake/many/part-1.parquet"),
    ] {
        let error = query(&ctx, &format!("SELECT count(*) FROM test.{table}"))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(&format!(
                "{object} is empty (0 bytes), so it is not Parquet"
            )),
            "{error}"
        );
        assert!(error.contains(&format!("table `test.{table}`")), "{error}");
    }
    assert_eq!(ints(&ctx, "SELECT sum(x) FROM test.good").await, [3]);

    // A missing bucket is said to be the bucket, not a missing object.
    let gone = [
        spec(
            "gone_bucket",
            "s3-parquet",
            &[("location", "s3://nobucket/x.parquet")],
        ),
        spec(
            "gone_object",
            "s3-parquet",
            &[("location", "s3://codelake/x.parquet")],
        ),
    ];
    assert!(register_tables(&ctx, &plugins(), &gone, &env).is_empty());
    for (table, expected) in [
        (
            "gone_bucket",
            "bucket `nobucket` does not exist (reading s3://nobucket/x.parquet)",
        ),
        (
            "gone_object",
            "object s3://codelake/x.parquet does not exist; upload the data",
        ),
    ] {
        let error = query(&ctx, &format!("SELECT count(*) FROM test.{table}"))
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{error}");
    }
}

/// A truncated object (its footer cut off) is named and said to be corrupt,
/// with the fix: alone, inside a prefix among good objects, and in the direct
/// read `verify` makes. The Parquet reader's own words stay, said once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_objects_are_named_and_said_to_be_corrupt() {
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let server = crate::s3::S3Server::start().await;
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    let batch = datafusion::arrow::array::RecordBatch::try_new(
        schema,
        vec![Arc::new(Int64Array::from(vec![1, 2]))],
    )
    .unwrap();
    for key in ["good.parquet", "many/part-0.parquet", "many/part-2.parquet"] {
        write_parquet(&server.object_path("codelake", key), &batch);
    }
    for key in ["cut.parquet", "many/part-1.parquet"] {
        let path = server.object_path("codelake", key);
        write_parquet(&path, &batch);
        let whole = fs::read(&path).unwrap();
        fs::write(&path, &whole[..whole.len() / 2]).unwrap();
    }
    let data = tempfile::tempdir().unwrap();
    let env = Environment::new("test", data.path()).with_s3(server.settings(crate::s3::SECRET_KEY));
    let ctx = Arc::new(SessionContext::new());
    let specs = [
        spec(
            "good",
            "s3-parquet",
            &[("location", "s3://codelake/good.parquet")],
        ),
        spec(
            "cut",
            "s3-parquet",
            &[("location", "s3://codelake/cut.parquet")],
        ),
        spec("many", "s3-parquet", &[("location", "s3://codelake/many/")]),
    ];
    let failures = register_tables(&ctx, &plugins(), &specs, &env);
    assert!(failures.is_empty(), "{failures:#?}");
    let request = catalog_core::inspect::InspectRequest::default();
    for (table, object) in [
        ("cut", "s3://codelake/cut.parquet"),
        ("many", "s3://codelake/many/part-1.parquet"),
    ] {
        let queried = query(&ctx, &format!("SELECT sum(x) FROM test.{table}"))
            .await
            .unwrap_err();
        let spec = specs.iter().find(|spec| spec.name == table).unwrap();
        let inspected = catalog_runtime::inspect(&plugins(), spec, &env, &request)
            .unwrap_err()
            .to_string();
        for error in [&queried, &inspected] {
            assert!(
                error.contains(&format!(
                    "{object} is corrupt: it is not readable Parquet ("
                )),
                "{error}"
            );
            assert!(error.contains("rewrite it or remove it"), "{error}");
            assert!(error.contains(&format!("table `test.{table}`")), "{error}");
            assert!(!error.contains("Parquet error: Parquet error"), "{error}");
        }
    }
    assert_eq!(ints(&ctx, "SELECT sum(x) FROM test.good").await, [3]);
}

/// Files of one prefix that store text differently (`Utf8` from one writer,
/// `Utf8View` from another) hold one declared type: the inspection `verify`
/// reads finds no difference between them, while a real change of type is named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_in_any_arrow_encoding_is_one_type_across_files() {
    use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray, StringViewArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let server = crate::s3::S3Server::start().await;
    let write = |key: &str, s: ArrayRef| {
        let schema = Schema::new(vec![
            Field::new("x", DataType::Int64, true),
            Field::new("s", s.data_type().clone(), true),
        ]);
        let batch = datafusion::arrow::array::RecordBatch::try_new(
            Arc::new(schema),
            vec![Arc::new(Int64Array::from(vec![1])), s],
        )
        .unwrap();
        let path = server.object_path("codelake", key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        write_parquet(&path, &batch);
    };
    write("mixed/a.parquet", Arc::new(StringArray::from(vec!["a"])));
    write(
        "mixed/b.parquet",
        Arc::new(StringViewArray::from(vec!["b"])),
    );
    write("changed/a.parquet", Arc::new(StringArray::from(vec!["a"])));
    write("changed/b.parquet", Arc::new(Int64Array::from(vec![2])));
    let data = tempfile::tempdir().unwrap();
    let env = Environment::new("test", data.path()).with_s3(server.settings(crate::s3::SECRET_KEY));
    let request = catalog_core::inspect::InspectRequest::default();
    let mixed = spec(
        "mixed",
        "s3-parquet",
        &[("location", "s3://codelake/mixed/")],
    );
    let inspection = catalog_runtime::inspect(&plugins(), &mixed, &env, &request).unwrap();
    assert!(inspection.problems.is_empty(), "{:?}", inspection.problems);
    let changed = spec(
        "changed",
        "s3-parquet",
        &[("location", "s3://codelake/changed/")],
    );
    let inspection = catalog_runtime::inspect(&plugins(), &changed, &env, &request).unwrap();
    assert_eq!(inspection.problems.len(), 1, "{:?}", inspection.problems);
}

/// `verify` reads a CSV value as the reader does: `yes` is no boolean for the
/// reader (only `true` and `false` are), so it is named with its row, where
/// Arrow's laxer cast would have passed it.
#[test]
fn verify_reads_csv_booleans_as_the_reader_does() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("flags.csv"),
        "x,ok\n1,true\n2,FALSE\n3,yes\n",
    )
    .unwrap();
    let env = Environment::new("test", data.path());
    let mut flags = spec("flags", "csv", &[("location", "flags.csv")]);
    let mut columns = flags.columns.to_vec();
    columns.push(catalog_core::ColumnSpec {
        name: "ok".into(),
        ty: catalog_core::ColumnType::Boolean,
        ..columns[0].clone()
    });
    flags.columns = columns.into();
    let request = catalog_core::inspect::InspectRequest::default();
    let inspection = catalog_runtime::inspect(&plugins(), &flags, &env, &request).unwrap();
    let [
        catalog_core::inspect::Drift::BadValue {
            column, value, at, ..
        },
    ] = &inspection.problems[..]
    else {
        panic!("{:?}", inspection.problems)
    };
    assert_eq!((column.as_str(), value.as_str()), ("ok", "yes"));
    assert!(at.starts_with("data row 3 of"), "{at}");
}

#[tokio::test]
async fn registered_tables_are_listed_by_show_tables_and_information_schema() {
    let data = data_dir();
    let config = datafusion::prelude::SessionConfig::new().with_information_schema(true);
    let ctx = Arc::new(SessionContext::new_with_config(config));
    let env = Environment::new("test", data.path());
    let _ = register_tables(&ctx, &plugins(), tables::REGISTRY.tables(), &env);
    let shown = ctx
        .sql("SHOW TABLES")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&shown)
        .unwrap()
        .to_string();
    assert!(text.contains("| tpch               | nation "), "{text}");
    assert!(
        text.contains("| tpch               | price_tiers "),
        "{text}"
    );
    let columns = ints(
        &ctx,
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'tpch' AND table_name = 'nation'",
    )
    .await;
    assert_eq!(columns, [4]);
}

/// `tpch.part` with `rows` parts, as Parquet on a real S3 server, registered
/// through the s3-parquet plugin in a session of `partitions` target
/// partitions that splits files of any size. Keep the server and the data
/// directory for as long as the session is used.
/// `tpch.part` on a real S3 server, streamed from the plugin: these tests are
/// about the streamed path, which the host takes for a scan it cannot execute
/// itself (see `host_scans.rs` for the host-executed one).
async fn part_on_s3(
    rows: i64,
    partitions: usize,
) -> (crate::s3::S3Server, tempfile::TempDir, Arc<SessionContext>) {
    let server = crate::s3::S3Server::start().await;
    let batch = tables::tpch::Part::to_record_batch(&parts(rows)).unwrap();
    write_parquet(&server.object_path("codelake", "tpch/part.parquet"), &batch);
    let data = data_dir();
    let env = Environment::new("test", data.path()).with_s3(server.settings(crate::s3::SECRET_KEY));
    let config = datafusion::prelude::SessionConfig::new()
        .with_target_partitions(partitions)
        .with_repartition_file_min_size(0);
    let ctx = Arc::new(SessionContext::new_with_config(config));
    let part = tables::REGISTRY
        .tables()
        .filter(|spec| spec.qualified_name() == "tpch.part");
    let failures = register_tables(&ctx, &plugins().streaming_only(), part, &env);
    assert!(failures.is_empty(), "{failures:#?}");
    (server, data, ctx)
}

/// The host's optimizer sees into a plugin's scan as into its own: it splits a
/// Parquet file into one byte range per partition (so one file is decoded on
/// every core), and it reads the scan's row count (so a join builds on its
/// small side). Before the SDK forwarded both, every plugin scan was one
/// partition behind a `RoundRobinBatch` repartition, of unknown size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_repartitions_plugin_scans_and_reads_their_statistics() {
    use datafusion::physical_plan::{ExecutionPlan, StatisticsArgs, StatisticsContext};

    // More rows than a batch: the host repartitions no scan it knows to be smaller.
    let rows = 20_000;
    let (_server, _data, ctx) = part_on_s3(rows, 4).await;

    let plan = ctx
        .sql("SELECT p_partkey FROM tpch.part WHERE p_size > 10")
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    let shown = datafusion::physical_plan::displayable(plan.as_ref())
        .indent(false)
        .to_string();
    assert!(
        shown.contains("CodelakePluginExec") && !shown.contains("RoundRobinBatch"),
        "the plugin scan should be split, not repartitioned after it:\n{shown}"
    );
    let mut leaf: Arc<dyn ExecutionPlan> = plan;
    while let Some(child) = leaf.children().first() {
        leaf = Arc::clone(child);
    }
    assert_eq!(
        leaf.properties().partitioning.partition_count(),
        4,
        "one byte range per target partition:\n{shown}"
    );
    let statistics = StatisticsContext::new()
        .compute(leaf.as_ref(), &StatisticsArgs::new())
        .unwrap();
    // The footer's 20,000 rows and its p_size range (1 to 50) cross the boundary:
    // four in five rows are estimated to pass `p_size > 10`.
    assert_eq!(
        statistics.num_rows.get_value(),
        Some(&(rows as usize * 4 / 5)),
        "the row count and column ranges of the Parquet footer cross the boundary"
    );
}

/// `EXPLAIN` on the host shows what a plugin scans: the plugin's own plan, with
/// the projection and the predicate it was given, and `EXPLAIN ANALYZE` its
/// metrics. And the predicate prunes: DataFusion hands a scan its predicate in
/// a physical optimizer pass that cannot see through the FFI boundary, so
/// before the SDK applied the filters on the plugin's side, a plugin's Parquet
/// scan never pruned a row group and showed `metrics=[]`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_scans_prune_with_the_query_filters_and_explain_shows_them() {
    // Two partitions, so the one file is read as two byte ranges, each with its
    // own metrics, which the host must sum.
    let (_server, _data, ctx) = part_on_s3(100, 2).await;
    let plugin_scan = |sql: String| {
        let ctx = Arc::clone(&ctx);
        async move {
            let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
            let shown = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
                .unwrap()
                .to_string();
            let scan = shown
                .lines()
                .find(|line| line.contains("CodelakePluginExec"))
                .unwrap_or_else(|| panic!("no plugin scan in:\n{shown}"))
                .to_owned();
            (scan, shown)
        }
    };

    let (scan, shown) =
        plugin_scan("EXPLAIN SELECT p_name FROM tpch.part WHERE p_size > 10".into()).await;
    assert!(
        scan.contains("table=tpch.part, plugin=s3-parquet")
            && scan.contains("DataSourceExec")
            && scan.contains("projection=[p_name, p_size]")
            && scan.contains("predicate=p_size@"),
        "the plugin's scan, its projection and its predicate:\n{shown}"
    );

    // Sizes run 1 to 50: 80 of the 100 parts are over 10, and the rest are
    // dropped before they cross the boundary.
    let analyze =
        |predicate: &str| format!("EXPLAIN ANALYZE SELECT p_name FROM tpch.part WHERE {predicate}");
    let (scan, shown) = plugin_scan(analyze("p_size > 10")).await;
    assert!(
        scan.contains("output_rows=80,")
            && scan.contains("files_ranges_pruned_statistics=2 total \u{2192} 2 matched")
            && scan.contains("bytes_scanned=")
            && !scan.contains("bytes_scanned=0,"),
        "the plugin scan's own metrics:\n{shown}"
    );
    // No part is over 50: the footer's statistics rule the file out, and not
    // one byte of its data is read.
    let (scan, shown) = plugin_scan(analyze("p_size > 50")).await;
    assert!(
        scan.contains("files_ranges_pruned_statistics=2 total \u{2192} 0 matched")
            && scan.contains("bytes_scanned=0,"),
        "the file pruned by its statistics:\n{shown}"
    );
    assert_eq!(
        ints(&ctx, "SELECT count(*) FROM tpch.part WHERE p_size > 50").await,
        [0]
    );

    // A filter that calls a function stays with the host (the function is the
    // host's: calling it from the plugin would cross the boundary per batch);
    // the others still reach the scan, and the answer is the same.
    let (scan, shown) = plugin_scan(
        "EXPLAIN SELECT p_name FROM tpch.part WHERE upper(p_name) = 'PART 7' AND p_size > 5".into(),
    )
    .await;
    assert!(
        scan.contains("predicate=p_size@") && !scan.contains("upper("),
        "only the function-free filter in the plugin:\n{shown}"
    );
    assert_eq!(
        ints(
            &ctx,
            "SELECT count(*) FROM tpch.part WHERE upper(p_name) = 'PART 7' AND p_size > 5"
        )
        .await,
        [1]
    );
}

/// An API that takes the connection and never answers is said to be silent,
/// with its URL, the timeout and the option that sets it, and not in the
/// words of a failed connection (on which the CLI hints at the base URL, which
/// is right here). One that refuses the connection says so. Both are
/// unreachable, which is what `verify` counts for its exit code 4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_http_api_is_named_with_its_timeout_and_a_refused_one_with_its_cause() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = format!("http://{}/fx", listener.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused = format!("http://{}/fx", closed.local_addr().unwrap());
    drop(closed);
    let data = tempfile::tempdir().unwrap();
    let env = Environment::new("test", data.path());
    let ctx = Arc::new(SessionContext::new());
    let table = |name: &str, url: &str| {
        spec(
            name,
            "http-api",
            &[("url", url), ("timeout", "300ms"), ("max_retries", "0")],
        )
    };
    let specs = [table("silent", &silent), table("refused", &refused)];
    assert!(register_tables(&ctx, &plugins(), &specs, &env).is_empty());
    let request = catalog_core::inspect::InspectRequest::default();

    let error = query(&ctx, "SELECT * FROM test.silent").await.unwrap_err();
    let inspected = catalog_runtime::inspect(&plugins(), &specs[0], &env, &request).unwrap_err();
    for text in [&error, &inspected.to_string()] {
        assert!(
            text.contains(&format!(
                "{silent} did not answer within 300ms (the table's `timeout`), after 1 attempt; \
                 check that the API answers, or raise `timeout`"
            )),
            "{text}"
        );
        assert!(!text.contains("error sending request"), "{text}");
    }
    assert!(inspected.unreachable(), "{inspected}");

    let error = query(&ctx, "SELECT * FROM test.refused").await.unwrap_err();
    let inspected = catalog_runtime::inspect(&plugins(), &specs[1], &env, &request).unwrap_err();
    for text in [&error, &inspected.to_string()] {
        assert!(
            text.contains(&format!("requesting {refused}: error sending request: "))
                && text.contains("Connection refused")
                && text.contains("(after 1 attempt)"),
            "{text}"
        );
    }
    assert!(inspected.unreachable(), "{inspected}");
    held.abort();
}

/// A CSV line with more fields than the header is named with its file and
/// line, in fields (Arrow's CSV reader says "records"), when it is queried
/// and when `verify` reads the file directly.
#[tokio::test]
async fn a_csv_line_with_extra_fields_is_named_in_fields_with_its_file_and_line() {
    let data = data_dir();
    let nation = data.path().join("tpch/nation.csv");
    let mut text = fs::read_to_string(&nation).unwrap();
    text.push_str("CHINA|3|a comment|2|extra|more\n");
    fs::write(&nation, text).unwrap();
    let (ctx, _) = session(&data).await;
    let env = Environment::new("test", data.path());
    let request = catalog_core::inspect::InspectRequest::default();
    let queried = query(&ctx, "SELECT count(*) FROM tpch.nation")
        .await
        .unwrap_err();
    let inspected =
        catalog_runtime::inspect(&plugins(), tables::tpch::Nation::SPEC, &env, &request)
            .unwrap_err();
    for error in [&queried, &inspected.to_string()] {
        assert!(
            error.contains(&format!(
                "line 5 of {} has 6 fields where 4 are expected",
                nation.display()
            )),
            "{error}"
        );
        assert!(!error.contains("records"), "{error}");
    }
    assert!(!inspected.unreachable(), "{inspected}");
}

/// A bad value's line is the file's own, as an editor numbers it, with or
/// without a header line.
#[tokio::test]
async fn a_bad_csv_value_names_the_files_own_line_with_or_without_a_header() {
    let data = tempfile::tempdir().unwrap();
    fs::write(data.path().join("plain.csv"), "1\n2\nthree\n").unwrap();
    fs::write(data.path().join("headed.csv"), "x\n1\n2\nthree\n").unwrap();
    let plain = spec(
        "plain",
        "csv",
        &[("location", "plain.csv"), ("header", "false")],
    );
    let headed = spec("headed", "csv", &[("location", "headed.csv")]);
    let ctx = Arc::new(SessionContext::new());
    let env = Environment::new("test", data.path());
    let failures = register_tables(&ctx, &plugins(), [&plain, &headed], &env);
    assert!(failures.is_empty(), "{failures:?}");
    for (table, line) in [("plain", 3), ("headed", 4)] {
        let error = query(&ctx, &format!("SELECT sum(x) FROM test.{table}"))
            .await
            .unwrap_err();
        assert!(
            error.contains(&format!(
                "line {line} of {}: `three` in column `x` is not a valid Int64",
                data.path().join(format!("{table}.csv")).display()
            )),
            "{error}"
        );
    }
}
