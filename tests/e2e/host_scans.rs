//! Scans the host executes: a plugin with capability `plan_scan` (s3-parquet,
//! csv) plans each scan, and the host decodes and runs it as its own. Proved
//! against native DataFusion over the same files on the same S3 server: the
//! same plan, the same rows, the same pruning, and a join's dynamic filter in
//! the scan; and warm scans read from the byte-range cache, counted at the
//! server.

use std::sync::Arc;

use catalog_core::{Environment, Table};
use catalog_runtime::register_tables;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::s3::{S3Server, SECRET_KEY};
use crate::support::plugins;

/// Rows of `tpch.part`, in row groups of [`GROUP`] rows, pages of 250.
const ROWS: i64 = 20_000;
const GROUP: usize = 2_000;

fn config() -> SessionConfig {
    SessionConfig::new()
        .with_target_partitions(2)
        .with_repartition_file_min_size(0)
}

/// `tpch.part` sorted by key on a real S3 server, registered twice: through
/// the plugin (host-executed) and as native DataFusion's own listing table
/// over the same object and the same S3 client settings.
async fn part_twice() -> (
    S3Server,
    tempfile::TempDir,
    Arc<SessionContext>,
    SessionContext,
) {
    let server = S3Server::start().await;
    let parts: Vec<tables::tpch::Part> = (1..=ROWS)
        .map(|key| tables::tpch::Part {
            p_partkey: key,
            p_name: format!("part {key}"),
            p_mfgr: "Manufacturer#1".into(),
            p_brand: format!("Brand#{}", key % 5),
            p_type: "STANDARD".into(),
            p_size: (key % 50 + 1) as i32,
            p_container: "SM BOX".into(),
            p_retailprice: catalog_core::Decimal::from_mantissa(i128::from(900 + key) * 100)
                .unwrap(),
            p_comment: "test".into(),
        })
        .collect();
    let batch = tables::tpch::Part::to_record_batch(&parts).unwrap();
    let file = std::fs::File::create(server.object_path("codelake", "tpch/part.parquet")).unwrap();
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(GROUP))
        .set_data_page_row_count_limit(250)
        .set_write_batch_size(250)
        .build();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(properties)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    let data = tempfile::tempdir().unwrap();
    let settings = server.settings(SECRET_KEY);
    let env = Environment::new("test", data.path()).with_s3(settings.clone());
    // Held in an `Arc` as long as it is used: the plugins plan through it.
    let host = Arc::new(SessionContext::new_with_config(config()));
    let spec = tables::REGISTRY.get("tpch.part").unwrap();
    let failures = register_tables(&host, &plugins(), [spec], &env);
    assert!(failures.is_empty(), "{failures:#?}");

    let native = SessionContext::new_with_config(config());
    let store = catalog_s3::store("codelake", &settings).unwrap();
    let url = datafusion::execution::object_store::ObjectStoreUrl::parse("s3://codelake").unwrap();
    native
        .runtime_env()
        .register_object_store(url.as_ref(), Arc::new(store));
    let listing =
        ListingTableConfig::new(ListingTableUrl::parse("s3://codelake/tpch/part.parquet").unwrap())
            .with_listing_options(
                ListingOptions::new(Arc::new(ParquetFormat::default()))
                    .with_file_extension(".parquet"),
            )
            .with_schema(Arc::new(spec.query_schema_with_views()));
    native
        .sql("CREATE SCHEMA tpch")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    native
        .register_table(
            "tpch.part",
            Arc::new(ListingTable::try_new(listing).unwrap()),
        )
        .unwrap();
    (server, data, host, native)
}

/// `sql`'s answer as a table.
async fn shown(ctx: &SessionContext, sql: &str) -> String {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

/// The physical plan of `sql`, indented.
async fn plan(ctx: &SessionContext, sql: &str) -> String {
    let plan = ctx
        .sql(sql)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    datafusion::physical_plan::displayable(plan.as_ref())
        .indent(true)
        .to_string()
}

const QUERIES: [&str; 4] = [
    // A filter the row groups' and pages' statistics prune.
    "SELECT p_brand, count(*), sum(p_retailprice) FROM tpch.part WHERE p_partkey > 19100 GROUP BY p_brand ORDER BY p_brand",
    // A projection, a limit.
    "SELECT p_name, p_size FROM tpch.part WHERE p_size = 7 ORDER BY p_name LIMIT 5",
    // A join whose small side's keys become a dynamic filter in the large side's scan.
    "SELECT count(*), max(b.p_name) FROM tpch.part a JOIN tpch.part b ON a.p_partkey = b.p_partkey WHERE a.p_partkey BETWEEN 17001 AND 17100",
    // Every row (a bare `count(*)` is answered from statistics, with no scan).
    "SELECT count(*), sum(p_size), min(p_comment) FROM tpch.part",
];

/// The host executes the plugin's scan as native DataFusion would plan it:
/// the same physical plan, node for node, and the same rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_executed_scan_plans_and_answers_like_native_datafusion() {
    let (_server, _data, host, native) = part_twice().await;
    for sql in QUERIES {
        let (ours, theirs) = (plan(&host, sql).await, plan(&native, sql).await);
        assert_eq!(
            ours, theirs,
            "{sql}: the host's plan differs from native DataFusion's"
        );
        assert!(
            ours.contains("DataSourceExec") && !ours.contains("CodelakePluginExec"),
            "{sql}: the host executes the scan:\n{ours}"
        );
        assert_eq!(shown(&host, sql).await, shown(&native, sql).await, "{sql}");
    }
}

/// Row groups and pages are pruned by the query's filter, and a join's
/// dynamic filter reaches the scan and prunes it too: shown by `EXPLAIN
/// ANALYZE`'s metrics of the host-executed scan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_executed_scan_prunes_row_groups_and_pages_and_takes_a_joins_dynamic_filter() {
    let (_server, _data, host, _native) = part_twice().await;
    let analyze = |sql: &str| format!("EXPLAIN ANALYZE {sql}");

    let shown_ = shown(&host, &analyze(QUERIES[0])).await;
    // Keys above 19,100 live in the last of ten row groups, and in its last 900 rows.
    assert!(
        shown_.contains("row_groups_pruned_statistics=10 total \u{2192} 1 matched"),
        "nine row groups pruned by statistics:\n{shown_}"
    );
    assert!(
        shown_.contains("page_index_rows_pruned=2.00 K total \u{2192} 1.00 K matched"),
        "pages of the last row group pruned by the page index:\n{shown_}"
    );

    let shown_ = shown(&host, &analyze(QUERIES[2])).await;
    let probe = shown_
        .lines()
        .filter(|line| line.contains("DataSourceExec"))
        .find(|line| line.contains("DynamicFilter"))
        .unwrap_or_else(|| panic!("no scan took the join's dynamic filter:\n{shown_}"));
    assert!(
        probe.contains("DynamicFilter [ p_partkey@0 >= 17001 AND p_partkey@0 <= 17100"),
        "the small side's key range, in the large side's scan:\n{shown_}"
    );
    assert!(
        probe.contains("row_groups_pruned_statistics=10 total \u{2192} 1 matched"),
        "the dynamic filter prunes the large side's row groups:\n{probe}"
    );
}

/// A warm host-executed scan reads what native DataFusion's reads, byte for
/// byte: the footers, page indexes included, come from the session's cache
/// (the plugin plans in its own runtime environment, so the host puts them
/// there itself; it once read every page index again at each query).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_host_executed_scan_reads_no_more_than_native() {
    let (_server, _data, host, native) = part_twice().await;
    let bytes = |shown: &str| -> String {
        let scan = shown
            .lines()
            .find(|line| line.contains("DataSourceExec"))
            .unwrap_or_else(|| panic!("no scan in:\n{shown}"));
        let (_, rest) = scan.split_once("bytes_scanned=").expect("bytes_scanned");
        rest.split(',').next().unwrap().to_owned()
    };
    let sql = QUERIES[0];
    for _ in 0..2 {
        shown(&host, sql).await;
        shown(&native, sql).await;
    }
    let analyze = format!("EXPLAIN ANALYZE {sql}");
    let (ours, theirs) = (shown(&host, &analyze).await, shown(&native, &analyze).await);
    assert_eq!(
        bytes(&ours),
        bytes(&theirs),
        "bytes read by a warm scan:\nhost:\n{ours}\nnative:\n{theirs}"
    );
}

/// A warm scan reads its byte ranges from the cache: not one `GetObject`
/// reaches the server, and `EXPLAIN ANALYZE` counts the hits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_byte_ranges_cause_no_second_get() {
    let (server, _data, host, _native) = part_twice().await;
    let sql = "SELECT sum(p_retailprice), max(p_name) FROM tpch.part WHERE p_size > 25";
    let cold = shown(&host, sql).await;
    let after_cold = server.gets();
    assert!(after_cold > 0, "the cold scan reads the object");
    let warm = shown(&host, sql).await;
    assert_eq!(warm, cold);
    assert_eq!(
        server.gets(),
        after_cold,
        "the warm scan reads nothing from S3"
    );
    let analyzed = shown(&host, &format!("EXPLAIN ANALYZE {sql}")).await;
    assert!(
        analyzed.contains("range_cache_misses=0") && !analyzed.contains("range_cache_hits=0"),
        "hits and no misses, per scan:\n{analyzed}"
    );
    let stats = catalog_runtime::range_cache_stats();
    assert!(
        stats.hits > 0 && stats.hit_bytes > 0 && stats.resident_bytes > 0,
        "{stats:?}"
    );
}

/// A CSV table's scans are host-executed too: planned by the csv plugin with
/// the file's own column order, executed as native DataFusion would, and
/// answering as it does. A file that does not read as declared is streamed
/// through the plugin, whose error names its line; once fixed, the next scan
/// is host-executed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_scan_is_host_executed_like_native_and_a_bad_file_is_streamed() {
    use datafusion::datasource::file_format::csv::CsvFormat;

    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("tpch/nation.csv");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // Columns in another order than declared: matched by name.
    let mut text = String::from("n_comment|n_regionkey|n_name|n_nationkey\n");
    for key in 0..25 {
        text.push_str(&format!("comment {key}|{}|NATION {key}|{key}\n", key % 5));
    }
    std::fs::write(&path, &text).unwrap();
    let env = Environment::new("test", data.path());
    let host = Arc::new(SessionContext::new_with_config(config()));
    let spec = tables::REGISTRY.get("tpch.nation").unwrap();
    let failures = register_tables(&host, &plugins(), [spec], &env);
    assert!(failures.is_empty(), "{failures:#?}");

    let native = SessionContext::new_with_config(config());
    let declared = spec.query_schema();
    let in_file_order = datafusion::arrow::datatypes::Schema::new(
        ["n_comment", "n_regionkey", "n_name", "n_nationkey"]
            .map(|name| declared.field_with_name(name).unwrap().clone())
            .to_vec(),
    );
    let listing = ListingTableConfig::new(ListingTableUrl::parse(path.to_str().unwrap()).unwrap())
        .with_listing_options(
            ListingOptions::new(Arc::new(
                CsvFormat::default()
                    .with_has_header(true)
                    .with_delimiter(b'|'),
            ))
            .with_file_extension(".csv"),
        )
        .with_schema(Arc::new(in_file_order));
    native.sql("CREATE SCHEMA tpch").await.unwrap();
    native
        .register_table(
            "tpch.nation",
            Arc::new(ListingTable::try_new(listing).unwrap()),
        )
        .unwrap();

    let queries = [
        "SELECT n_regionkey, count(*), max(n_name) FROM tpch.nation GROUP BY n_regionkey ORDER BY n_regionkey",
        "SELECT a.n_name, b.n_comment FROM tpch.nation a JOIN tpch.nation b ON a.n_nationkey = b.n_nationkey WHERE a.n_regionkey = 3 ORDER BY 1",
    ];
    for sql in queries {
        let (ours, theirs) = (plan(&host, sql).await, plan(&native, sql).await);
        assert_eq!(ours, theirs, "{sql}: the host's plan differs from native's");
        assert!(
            ours.contains("file_type=csv") && !ours.contains("CodelakePluginExec"),
            "{sql}: the host executes the scan:\n{ours}"
        );
        assert_eq!(shown(&host, sql).await, shown(&native, sql).await, "{sql}");
    }

    let sql = "SELECT sum(n_nationkey) FROM tpch.nation";
    std::fs::write(&path, text.replace("|NATION 7|7\n", "|NATION 7|seven\n")).unwrap();
    assert!(
        plan(&host, sql).await.contains("CodelakePluginExec"),
        "a file that does not read as declared is streamed"
    );
    let error = host
        .sql(sql)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&format!(
            "line 9 of {}: `seven` in column `n_nationkey` is not a valid Int64",
            path.display()
        )),
        "the plugin's error, naming the file's line:\n{error}"
    );
    std::fs::write(&path, &text).unwrap();
    let fixed = plan(&host, sql).await;
    assert!(
        fixed.contains("file_type=csv") && !fixed.contains("CodelakePluginExec"),
        "the fixed file is host-executed again:\n{fixed}"
    );
    assert_eq!(shown(&host, sql).await, shown(&native, sql).await);

    // A file that shrinks between a scan's planning and its reading (rewritten
    // in place) ends the scan with an error naming it: DataFusion's own CSV
    // reader waited for the missing bytes for ever, at full CPU.
    let planned = host
        .sql(sql)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    std::fs::write(&path, &text[..text.len() / 3]).unwrap();
    let error = datafusion::physical_plan::collect(planned, host.task_ctx())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&format!(
            "{} changed while it was being read",
            path.display()
        )),
        "{error}"
    );
}

/// A long-lived session sees what is in storage now, on both paths: an
/// object added under a table's prefix is read by the next query, and one
/// removed is no longer (DataFusion 55 keeps listings for ever by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_table_sees_objects_added_and_removed_since_the_last_query() {
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    let server = S3Server::start().await;
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    let write = |year: i32, ids: Vec<i64>| {
        let batch = datafusion::arrow::array::RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(Int64Array::from(ids))],
        )
        .unwrap();
        let path = server.object_path("codelake", &format!("events/year={year}/part-0.parquet"));
        crate::support::write_parquet(&path, &batch);
        path
    };
    write(2025, vec![1, 2]);
    let data = tempfile::tempdir().unwrap();
    let env = Environment::new("test", data.path()).with_s3(server.settings(SECRET_KEY));
    let spec = crate::plugins::Event::SPEC;
    let host = Arc::new(SessionContext::new_with_config(config()));
    let streamed = Arc::new(SessionContext::new_with_config(config()));
    for (ctx, plugins) in [(&host, plugins()), (&streamed, plugins().streaming_only())] {
        let failures = register_tables(ctx, &plugins, [spec], &env);
        assert!(failures.is_empty(), "{failures:#?}");
    }
    let sql = "SELECT count(*), sum(id) FROM test.events";
    let count = |ctx: Arc<SessionContext>| async move {
        let shown = shown(&ctx, sql).await;
        (
            shown.contains("| 2        | 3 "),
            shown.contains("| 3        | 6 "),
            shown,
        )
    };
    for ctx in [&host, &streamed] {
        let (two, _, shown) = count(Arc::clone(ctx)).await;
        assert!(two, "{shown}");
    }
    let added = write(2026, vec![3]);
    for ctx in [&host, &streamed] {
        let (_, three, shown) = count(Arc::clone(ctx)).await;
        assert!(three, "the object added since is read:\n{shown}");
    }
    std::fs::remove_file(added).unwrap();
    for ctx in [&host, &streamed] {
        let (two, _, shown) = count(Arc::clone(ctx)).await;
        assert!(two, "the object removed since is not:\n{shown}");
    }
}

/// `data seed` lays fact tables out for pruning: sorted on their date, in row
/// groups of at most 131072 rows written interleaved, with a page index; and
/// no row is lost on the way through the external sort.
#[test]
fn seeded_fact_tables_are_sorted_interleaved_and_page_indexed() {
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    use datafusion::parquet::file::serialized_reader::ReadOptionsBuilder;
    use datafusion::parquet::file::statistics::Statistics;

    let dir = tempfile::tempdir().unwrap();
    // What a seed killed while sorting leaves behind: its spill folder.
    let leftover = dir
        .path()
        .join(".codelake/local/.seed-spool-killed/datafusion-x");
    std::fs::create_dir_all(&leftover).unwrap();
    std::fs::write(leftover.join("spill.arrow"), b"partial").unwrap();
    let seeded = crate::cli::run(dir.path(), &["data", "seed", "--scale", "0.05"]);
    crate::cli::assert_ok(&seeded);
    let spooled: Vec<String> = std::fs::read_dir(dir.path().join(".codelake/local"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".seed-spool") || name.starts_with("datafusion-"))
        .collect();
    assert!(
        spooled.is_empty(),
        "no spool file or spill folder is left, the killed seed's included: {spooled:?}"
    );
    let file = dir
        .path()
        .join(".codelake/local/s3/codelake/tpch/lineitem/part-0.parquet");
    let reader = SerializedFileReader::new_with_options(
        std::fs::File::open(&file).unwrap(),
        ReadOptionsBuilder::new().with_page_index().build(),
    )
    .unwrap();
    let metadata = reader.metadata();
    let shipdate = metadata
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|column| column.name() == "l_shipdate")
        .unwrap();
    // Each row group's date range, in file order.
    let ranges: Vec<(i32, i32)> = metadata
        .row_groups()
        .iter()
        .map(|group| {
            assert!(group.num_rows() <= 131_072, "{}", group.num_rows());
            match group.column(shipdate).statistics() {
                Some(Statistics::Int32(s)) => (*s.min_opt().unwrap(), *s.max_opt().unwrap()),
                other => panic!("l_shipdate statistics: {other:?}"),
            }
        })
        .collect();
    assert_eq!(ranges.len(), 3, "{ranges:?}");
    // Sorted: ranked by date, the ranges follow one another.
    let mut ranked = ranges.clone();
    ranked.sort_unstable();
    assert!(
        ranked.windows(2).all(|pair| pair[0].1 <= pair[1].0),
        "{ranked:?}"
    );
    // Interleaved: ranks 0, 2, 1 in the file.
    assert_eq!(ranges, [ranked[0], ranked[2], ranked[1]]);
    // A page index for every column of every row group.
    let offsets = metadata.offset_index().expect("an offset index");
    assert!(metadata.column_index().is_some(), "no column index");
    assert!(
        offsets
            .iter()
            .all(|group| group.len() == metadata.file_metadata().schema_descr().num_columns())
    );
    // Every row is there.
    let rows: i64 = metadata
        .row_groups()
        .iter()
        .map(|group| group.num_rows())
        .sum();
    let expected = tpchgen::generators::LineItemGenerator::new(0.05, 1, 1)
        .iter()
        .count() as i64;
    assert_eq!(rows, expected);
    let output = crate::cli::run(
        dir.path(),
        &[
            "sql",
            "-f",
            "csv",
            "SELECT count(DISTINCT (l_orderkey, l_linenumber)) AS n FROM tpch.lineitem",
        ],
    );
    crate::cli::assert_ok(&output);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("n\n{expected}\n")
    );
}
