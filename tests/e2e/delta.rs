//! Delta Lake tables written by hand, as a Delta writer lays them out: Parquet
//! data files under the table's root and JSON commits in `_delta_log/`; and the
//! `delta` plugin reading them: the log followed, files pruned by partition
//! values and statistics, time travel, checkpoints, and tables it refuses.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use catalog_core::{Environment, Table, TableSpec};
use catalog_runtime::register_tables;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::prelude::SessionContext;
use serde_json::{Value, json};

use crate::support::{ints, plugins, query, write_parquet};

/// A Delta table's root on disk (a local directory, or an S3 server's).
pub struct DeltaDir {
    pub root: PathBuf,
}

impl DeltaDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        std::fs::create_dir_all(root.join("_delta_log")).unwrap();
        Self { root }
    }

    /// Writes `batch` as the data file `relative`, and returns its `add`
    /// action, with the statistics a writer records (Int64 bounds, nulls).
    pub fn add(&self, relative: &str, batch: &RecordBatch, partition: &[(&str, &str)]) -> Value {
        let path = self.root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        write_parquet(&path, batch);
        let (mut min, mut max, mut nulls) = (json!({}), json!({}), json!({}));
        for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
            nulls[field.name()] = json!(column.null_count());
            if field.data_type() == &DataType::Int64 && column.null_count() < column.len() {
                let values = column.as_primitive::<Int64Type>();
                min[field.name()] = json!(values.iter().flatten().min());
                max[field.name()] = json!(values.iter().flatten().max());
            }
        }
        let stats = json!({"numRecords": batch.num_rows(), "minValues": min, "maxValues": max, "nullCount": nulls});
        let values: serde_json::Map<String, Value> = partition
            .iter()
            .map(|(key, value)| ((*key).to_owned(), json!(value)))
            .collect();
        json!({"add": {
            "path": relative,
            "partitionValues": values,
            "size": std::fs::metadata(&path).unwrap().len(),
            "modificationTime": 0,
            "dataChange": true,
            "stats": stats.to_string(),
        }})
    }

    /// Writes commit `version` with `actions`, one per line.
    pub fn commit(&self, version: u64, actions: &[Value]) -> PathBuf {
        let text: String = actions.iter().map(|action| format!("{action}\n")).collect();
        let path = self.log(&format!("{version:020}.json"));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `_delta_log/<name>`.
    pub fn log(&self, name: &str) -> PathBuf {
        self.root.join("_delta_log").join(name)
    }
}

/// The protocol of a plain table: reader version 1.
pub fn protocol() -> Value {
    json!({"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}})
}

/// A `metaData` action: columns `(name, Delta type, nullable)`, and the partition columns.
pub fn metadata(columns: &[(&str, &str, bool)], partitions: &[&str]) -> Value {
    let fields: Vec<Value> = columns
        .iter()
        .map(|(name, ty, nullable)| json!({"name": name, "type": ty, "nullable": nullable, "metadata": {}}))
        .collect();
    json!({"metaData": {
        "id": "test",
        "format": {"provider": "parquet", "options": {}},
        "schemaString": json!({"type": "struct", "fields": fields}).to_string(),
        "partitionColumns": partitions,
        "configuration": {},
        "createdTime": 0,
    }})
}

/// A `remove` action.
pub fn remove(relative: &str) -> Value {
    json!({"remove": {"path": relative, "deletionTimestamp": 0, "dataChange": true}})
}

/// `conformance.things`'s columns, as Delta types.
pub const THINGS: &[(&str, &str, bool)] = &[
    ("id", "long", false),
    ("label", "string", true),
    ("amount", "double", false),
];

/// A `delta` table spec named `delta.<name>`, with the columns of `like`.
pub fn spec(like: &TableSpec, name: &str, options: &[(&str, &str)]) -> TableSpec {
    let mut options: Vec<catalog_core::SourceOption> = options
        .iter()
        .map(|(key, value)| catalog_core::SourceOption {
            key: (*key).to_owned().into(),
            value: (*value).to_owned().into(),
        })
        .collect();
    options.sort_by(|a, b| a.key.cmp(&b.key));
    TableSpec {
        database: "delta".into(),
        name: name.to_owned().into(),
        source: "delta".into(),
        options: options.into(),
        ..like.clone()
    }
}

/// `id, label, amount` rows for ids in `ids`.
fn things(ids: std::ops::RangeInclusive<i64>) -> RecordBatch {
    let rows: Vec<crate::conformance::Thing> = ids
        .map(|id| crate::conformance::Thing {
            id,
            label: Some(format!("thing {id}")),
            amount: id as f64,
        })
        .collect();
    crate::conformance::Thing::to_record_batch(&rows).unwrap()
}

/// `things` without `column`: a partition column lives in the log, not the files.
fn without(batch: &RecordBatch, column: &str) -> RecordBatch {
    let index = batch.schema().index_of(column).unwrap();
    let mut batch = batch.clone();
    batch.remove_column(index);
    batch
}

async fn session(specs: &[TableSpec], env: &Environment) -> Arc<SessionContext> {
    let ctx = Arc::new(SessionContext::new());
    let failures = register_tables(&ctx, &plugins(), specs, env);
    assert!(failures.is_empty(), "{failures:#?}");
    ctx
}

async fn explain(ctx: &SessionContext, sql: &str) -> String {
    let plan = query(ctx, &format!("EXPLAIN {sql}")).await.unwrap();
    datafusion::arrow::util::pretty::pretty_format_batches(&plan)
        .unwrap()
        .to_string()
}

fn root_option(root: &Path) -> String {
    format!("{}/", root.display())
}

/// A partitioned table followed through its log: files added and removed,
/// partition and statistics pruning in `EXPLAIN`, the host executing the
/// scan, time travel by version and by instant, and a new commit seen by the
/// next query (no `refresh`) or not before the interval (with one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_table_follows_its_log_prunes_and_travels_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let table = DeltaDir::new(dir.path().join("things"));
    // Partitioned by `label`: files hold `id` and `amount`.
    let first = table.add(
        "label=a/part-0.parquet",
        &without(&things(1..=5), "label"),
        &[("label", "a")],
    );
    let second = table.add(
        "label=b/part-0.parquet",
        &without(&things(6..=10), "label"),
        &[("label", "b")],
    );
    table.commit(
        0,
        &[protocol(), metadata(THINGS, &["label"]), first, second],
    );
    let third = table.add(
        "label=b/part-1.parquet",
        &without(&things(11..=12), "label"),
        &[("label", "b")],
    );
    table.commit(1, &[third, remove("label=b/part-0.parquet")]);
    let env = Environment::new("test", dir.path());
    let like = crate::conformance::Thing::SPEC;
    let root = root_option(&table.root);
    let specs = [
        spec(like, "latest", &[("location", &root)]),
        spec(like, "first", &[("location", &root), ("version", "0")]),
        spec(like, "cached", &[("location", &root)]),
    ];
    let mut cached = specs[2].clone();
    cached.refresh = Some(catalog_core::Interval::parse("1h").unwrap());
    let specs = [specs[0].clone(), specs[1].clone(), cached];
    let ctx = session(&specs, &env).await;

    // Version 1: part a/0 and b/1; b/0 was removed.
    assert_eq!(
        ints(&ctx, "SELECT id FROM delta.latest ORDER BY id").await,
        [1, 2, 3, 4, 5, 11, 12]
    );
    assert_eq!(
        ints(&ctx, "SELECT count(*) FROM delta.latest WHERE label = 'b'").await,
        [2]
    );
    assert_eq!(ints(&ctx, "SELECT sum(id) FROM delta.first").await, [55]);
    assert_eq!(ints(&ctx, "SELECT count(*) FROM delta.cached").await, [7]);

    // The host executes the scan; a partition filter reads one directory,
    // a filter on statistics one file.
    let plan = explain(&ctx, "SELECT id FROM delta.latest WHERE label = 'a'").await;
    assert!(
        plan.contains("DataSourceExec") && !plan.contains("CodelakePluginExec"),
        "{plan}"
    );
    assert!(
        plan.contains("label=a/part-0.parquet") && !plan.contains("label=b"),
        "{plan}"
    );
    let plan = explain(&ctx, "SELECT id FROM delta.latest WHERE id > 10").await;
    assert!(
        plan.contains("label=b/part-1.parquet") && !plan.contains("label=a"),
        "{plan}"
    );

    // A new commit: the table without `refresh` sees it at its next scan, the
    // one with `refresh = "1h"` keeps its snapshot, the pinned one never moves.
    table.commit(2, &[remove("label=a/part-0.parquet")]);
    assert_eq!(
        ints(&ctx, "SELECT id FROM delta.latest ORDER BY id").await,
        [11, 12]
    );
    assert_eq!(ints(&ctx, "SELECT count(*) FROM delta.cached").await, [7]);
    assert_eq!(ints(&ctx, "SELECT sum(id) FROM delta.first").await, [55]);

    // Time travel by instant: the commit files' times decide.
    let at = |version: u64| {
        let modified = std::fs::metadata(table.log(&format!("{version:020}.json")))
            .unwrap()
            .modified()
            .unwrap();
        humantime::format_rfc3339_millis(modified).to_string()
    };
    let as_of = spec(like, "as_of", &[("location", &root), ("timestamp", &at(1))]);
    let before = spec(
        like,
        "before",
        &[("location", &root), ("timestamp", "2001-01-01T00:00:00Z")],
    );
    let beyond = spec(like, "beyond", &[("location", &root), ("version", "9")]);
    let ctx = session(&[as_of, before, beyond], &env).await;
    assert_eq!(ints(&ctx, "SELECT count(*) FROM delta.as_of").await, [7]);
    let error = query(&ctx, "SELECT * FROM delta.before").await.unwrap_err();
    assert!(
        error.contains("delta.before")
            && error
                .contains("no commit at or before 2001-01-01T00:00:00Z (its first commit is 20")
            && error.contains("versions end at 2"),
        "{error}"
    );
    let error = query(&ctx, "SELECT * FROM delta.beyond").await.unwrap_err();
    assert!(
        error.contains("delta.beyond") && error.contains("no version 9"),
        "{error}"
    );
}

/// A log cleaned up past a checkpoint reads from the checkpoint (Parquet,
/// with the actions as struct columns, as Spark and delta-rs write it), then
/// the commits after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_stands_for_the_commits_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let table = DeltaDir::new(dir.path().join("things"));
    let first = table.add("part-0.parquet", &things(1..=3), &[]);
    let second = table.add("part-1.parquet", &things(4..=6), &[]);
    let actions = [protocol(), metadata(THINGS, &[]), first, second];
    table.commit(0, &actions);
    // The checkpoint of version 0, and the commit gone, as log cleanup leaves it.
    let text: String = actions.iter().map(|action| format!("{action}\n")).collect();
    checkpoint(&table.log("00000000000000000000.checkpoint.parquet"), &text);
    std::fs::remove_file(table.log("00000000000000000000.json")).unwrap();
    table.commit(1, &[remove("part-0.parquet")]);
    let env = Environment::new("test", dir.path());
    let root = root_option(&table.root);
    let ctx = session(
        &[spec(
            crate::conformance::Thing::SPEC,
            "checkpointed",
            &[("location", &root)],
        )],
        &env,
    )
    .await;
    assert_eq!(
        ints(&ctx, "SELECT id FROM delta.checkpointed ORDER BY id").await,
        [4, 5, 6]
    );
}

/// Writes the actions in `lines` (JSON, one per line) as a checkpoint: one
/// row per action, each action kind a struct column.
fn checkpoint(path: &Path, lines: &str) {
    use datafusion::arrow::datatypes::{Field, Fields, Schema};
    let text = || Field::new("x", DataType::Utf8, true);
    let named = |name: &str, data_type: DataType| Field::new(name, data_type, true);
    let map = DataType::Map(
        Arc::new(Field::new(
            "key_value",
            DataType::Struct(Fields::from(vec![
                Field::new("key", DataType::Utf8, false),
                Field::new("value", DataType::Utf8, true),
            ])),
            false,
        )),
        false,
    );
    let schema = Schema::new(vec![
        named(
            "protocol",
            DataType::Struct(Fields::from(vec![
                named("minReaderVersion", DataType::Int32),
                named("minWriterVersion", DataType::Int32),
            ])),
        ),
        named(
            "metaData",
            DataType::Struct(Fields::from(vec![
                text().with_name("id"),
                text().with_name("schemaString"),
                named(
                    "partitionColumns",
                    DataType::List(Arc::new(Field::new("element", DataType::Utf8, true))),
                ),
                named("configuration", map.clone()),
                named(
                    "format",
                    DataType::Struct(Fields::from(vec![text().with_name("provider")])),
                ),
            ])),
        ),
        named(
            "add",
            DataType::Struct(Fields::from(vec![
                text().with_name("path"),
                named("partitionValues", map),
                named("size", DataType::Int64),
                named("modificationTime", DataType::Int64),
                named("dataChange", DataType::Boolean),
                text().with_name("stats"),
            ])),
        ),
        named(
            "remove",
            DataType::Struct(Fields::from(vec![text().with_name("path")])),
        ),
    ]);
    let mut decoder = arrow_json::ReaderBuilder::new(Arc::new(schema))
        .build_decoder()
        .unwrap();
    decoder.decode(lines.as_bytes()).unwrap();
    let batch = decoder.flush().unwrap().unwrap();
    write_parquet(path, &batch);
}

/// Tables this reader would read wrong are refused by name, and a root with
/// no log says so; the other tables of the session read all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_it_cannot_read_are_refused_naming_the_feature() {
    let dir = tempfile::tempdir().unwrap();
    let like = crate::conformance::Thing::SPEC;
    let good = DeltaDir::new(dir.path().join("good"));
    let file = good.add("part-0.parquet", &things(1..=2), &[]);
    good.commit(0, &[protocol(), metadata(THINGS, &[]), file]);
    let vectors = DeltaDir::new(dir.path().join("vectors"));
    let mut file = vectors.add("part-0.parquet", &things(1..=2), &[]);
    file["add"]["deletionVector"] =
        json!({"storageType": "u", "pathOrInlineDv": "ab", "sizeInBytes": 10, "cardinality": 1});
    vectors.commit(0, &[
        json!({"protocol": {"minReaderVersion": 3, "minWriterVersion": 7, "readerFeatures": ["deletionVectors"], "writerFeatures": ["deletionVectors"]}}),
        metadata(THINGS, &[]),
        file,
    ]);
    let future = DeltaDir::new(dir.path().join("future"));
    future.commit(0, &[
        json!({"protocol": {"minReaderVersion": 3, "minWriterVersion": 7, "readerFeatures": ["someFutureFeature"], "writerFeatures": []}}),
        metadata(THINGS, &[]),
    ]);
    let plain = dir.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    write_parquet(&plain.join("part-0.parquet"), &things(1..=2));
    let env = Environment::new("test", dir.path());
    let specs = [
        spec(like, "good", &[("location", &root_option(&good.root))]),
        spec(
            like,
            "vectors",
            &[("location", &root_option(&vectors.root))],
        ),
        spec(like, "future", &[("location", &root_option(&future.root))]),
        spec(like, "plain", &[("location", "plain/")]),
        spec(like, "nothing", &[("location", "nothing/")]),
    ];
    // And a Delta table declared as plain Parquet, which would read removed files.
    let mut as_parquet = spec(
        like,
        "as_parquet",
        &[("location", &root_option(&good.root))],
    );
    as_parquet.source = "parquet".into();
    let specs: Vec<TableSpec> = specs.into_iter().chain([as_parquet]).collect();
    let ctx = session(&specs, &env).await;
    for (table, words) in [
        (
            "vectors",
            &[
                "delta.vectors",
                "deletionVectors",
                "part-0.parquet",
                "OPTIMIZE",
            ][..],
        ),
        (
            "future",
            &["delta.future", "someFutureFeature", "does not implement"],
        ),
        ("plain", &["delta.plain", "no `_delta_log/`", "s3-parquet"]),
        (
            "nothing",
            &["delta.nothing", "`_delta_log/` does not exist"],
        ),
        (
            "as_parquet",
            &[
                "delta.as_parquet",
                "is a Delta Lake table",
                "source = \"delta\"",
            ],
        ),
    ] {
        let error = query(&ctx, &format!("SELECT * FROM delta.{table}"))
            .await
            .unwrap_err();
        for word in words {
            assert!(error.contains(word), "{table}: {error}");
        }
    }
    assert_eq!(ints(&ctx, "SELECT count(*) FROM delta.good").await, [2]);
}

/// Partition values as writers leave them: null, empty (which the protocol
/// reads as null), and a directory name a writer escaped (`x:y` in
/// `label=x%3Ay`, written in the log as a URI, `%253A`). A filter on the
/// partition column neither drops the null partitions nor misses the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_empty_and_escaped_partition_values_read_right() {
    let dir = tempfile::tempdir().unwrap();
    let table = DeltaDir::new(dir.path().join("things"));
    let file = |ids| without(&things(ids), "label");
    let mut plain = table.add("label=a/part-0.parquet", &file(1..=2), &[("label", "a")]);
    let mut null = table.add(
        "label=__HIVE_DEFAULT_PARTITION__/part-0.parquet",
        &file(3..=5),
        &[],
    );
    null["add"]["partitionValues"] = json!({"label": null});
    let empty = table.add("label=empty/part-0.parquet", &file(6..=6), &[("label", "")]);
    // On disk as the writer escaped it; in the log as a URI of that name.
    let mut escaped = table.add(
        "label=x%3Ay/part-0.parquet",
        &file(7..=8),
        &[("label", "x:y")],
    );
    escaped["add"]["path"] = json!("label=x%253Ay/part-0.parquet");
    plain["add"]["modificationTime"] = json!(1);
    table.commit(
        0,
        &[
            protocol(),
            metadata(THINGS, &["label"]),
            plain,
            null,
            empty,
            escaped,
        ],
    );
    let env = Environment::new("test", dir.path());
    let root = root_option(&table.root);
    let ctx = session(
        &[spec(
            crate::conformance::Thing::SPEC,
            "parts",
            &[("location", &root)],
        )],
        &env,
    )
    .await;
    assert_eq!(ints(&ctx, "SELECT count(*) FROM delta.parts").await, [8]);
    assert_eq!(
        ints(
            &ctx,
            "SELECT id FROM delta.parts WHERE label IS NULL ORDER BY id"
        )
        .await,
        [3, 4, 5, 6]
    );
    assert_eq!(
        ints(
            &ctx,
            "SELECT id FROM delta.parts WHERE label = 'x:y' ORDER BY id"
        )
        .await,
        [7, 8]
    );
    assert_eq!(
        ints(
            &ctx,
            "SELECT count(*) FROM delta.parts WHERE label IS NOT NULL"
        )
        .await,
        [4]
    );
}
