//! The real plugin libraries, loaded by the production loader, answering SQL.
//!
//! The plugins are the workspace's cdylibs in the target directory
//! (`cargo xtask test` builds them first).

use std::fs;
use std::sync::Arc;

use catalog_core::{Environment, Table};
use catalog_runtime::{Error, PluginSet, default_plugin_dir, register_tables};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::prelude::SessionContext;

/// The plugins in the target directory; fails with the fix if they are not built.
fn plugins() -> PluginSet {
    let dir = default_plugin_dir();
    let set = PluginSet::load_dir(&dir).unwrap();
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    for name in ["csv", "function"] {
        assert!(
            set.plugins.iter().any(|plugin| plugin.name == name),
            "plugin `{name}` is not built in {}: run `cargo build --workspace` (cargo xtask test does)",
            dir.display()
        );
    }
    set
}

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

async fn ints(ctx: &SessionContext, sql: &str) -> Vec<i64> {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    batches
        .iter()
        .flat_map(|batch| {
            batch
                .column(0)
                .as_primitive::<Int64Type>()
                .values()
                .to_vec()
        })
        .collect()
}

#[tokio::test]
async fn csv_and_function_tables_answer_sql_and_unserved_tables_are_named() {
    let data = data_dir();
    let (ctx, failures) = session(&data).await;

    // The six S3 tables and the HTTP table have no plugin yet: each is named, none stops the rest.
    let mut unserved: Vec<String> = failures.iter().map(ToString::to_string).collect();
    unserved.sort();
    assert_eq!(unserved.len(), 8, "{unserved:#?}");
    assert!(unserved.iter().any(|failure| {
        failure.starts_with("table `tpch.part`: no plugin serves source `s3-parquet`")
    }));
    assert!(unserved.iter().any(|failure| {
        failure.starts_with("table `tpch.exchange_rates`: no plugin serves source `http-api`")
    }));

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
