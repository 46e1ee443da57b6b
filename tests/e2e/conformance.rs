//! The conformance suite every source plugin passes (model: object_store's `integration.rs`).
//!
//! One table, `conformance.things`, is served by each source kind from a real
//! source — a CSV file, a Parquet object on an S3 server, a JSON API on an HTTP
//! server — and every kind must give the same answers: the declared schema by
//! name, type and nullability; typed rows; projection; filters; limits; an
//! empty source; a missing source reported on the table; concurrent scans.
//! A `delta` table is served from S3 and from a local directory, a `csv`
//! table from a local file and from an object on S3. `jsonl` is the example
//! plugin as `cargo xtask new-plugin jsonl` makes it, so the scaffold is
//! proven to conform as generated.
//! The `function` kind serves only functions compiled into its plugin, so it
//! runs the same checks on its own table, `tpch.price_tiers`.

use std::any::Any;
use std::borrow::Cow;
use std::sync::Arc;

use catalog_core::{Environment, SourceOption, Table, TableSpec};
use catalog_derive::Table;
use catalog_runtime::register_tables;

use crate::support::{column_ints, plugins, query, write_parquet};
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;

/// The table every kind serves.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    database = "conformance",
    name = "things",
    source = "csv",
    location = "things.csv"
)]
pub struct Thing {
    /// Key.
    pub id: i64,
    /// Label; declared nullable.
    pub label: Option<String>,
    /// An amount.
    pub amount: f64,
}

fn things(n: i64) -> Vec<Thing> {
    (1..=n)
        .map(|id| Thing {
            id,
            label: Some(format!("thing {id}")),
            amount: id as f64 * 1.5,
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Csv,
    /// `csv`: an object on the S3 server.
    CsvS3,
    S3Parquet,
    /// `parquet`: a local file, declared as a `file://` URL.
    Parquet,
    HttpApi,
    /// `delta`: a Delta table on the S3 server.
    Delta,
    /// `delta`: a Delta table in a local directory.
    DeltaLocal,
    /// A kind made by `cargo xtask new-plugin`, as made: newline-delimited
    /// JSON at `location`. Once a plugin reads its own format, it gets a
    /// variant of its own here, with a fixture that writes that format.
    JsonLines(&'static str),
}

/// A real source holding `rows` (or nothing at all, for `None`), and how to reach it.
struct Served {
    spec: TableSpec,
    env: Environment,
    /// Servers and temp dirs that must outlive the test.
    _keep: Vec<Box<dyn Any + Send>>,
}

fn spec_with(source: &str, options: &[(&str, &str)]) -> TableSpec {
    let mut spec = Thing::SPEC.clone();
    spec.source = Cow::Owned(source.to_owned());
    spec.options = Cow::Owned(
        options
            .iter()
            .map(|(key, value)| SourceOption {
                key: Cow::Owned((*key).to_owned()),
                value: Cow::Owned((*value).to_owned()),
            })
            .collect(),
    );
    spec
}

/// `rows` as CSV with a header, as the `csv` kind reads them, local or on S3.
fn things_csv(rows: &[Thing]) -> String {
    let mut csv = "id,label,amount\n".to_owned();
    for row in rows {
        csv.push_str(&format!(
            "{},{},{}\n",
            row.id,
            row.label.as_deref().unwrap_or_default(),
            row.amount
        ));
    }
    csv
}

async fn serve(kind: Kind, rows: Option<&[Thing]>) -> Served {
    let data = tempfile::tempdir().unwrap();
    let env = Environment::new("conformance", data.path());
    match kind {
        Kind::Csv => {
            if let Some(rows) = rows {
                std::fs::write(data.path().join("things.csv"), things_csv(rows)).unwrap();
            }
            Served {
                spec: spec_with("csv", &[("location", "things.csv")]),
                env,
                _keep: vec![Box::new(data)],
            }
        }
        Kind::CsvS3 => {
            let server = crate::s3::S3Server::start().await;
            if let Some(rows) = rows {
                std::fs::write(
                    server.object_path("codelake", "things.csv"),
                    things_csv(rows),
                )
                .unwrap();
            } else {
                server.object_path("codelake", "other/");
            }
            let env = env.with_s3(server.settings(crate::s3::SECRET_KEY));
            Served {
                spec: spec_with("csv", &[("location", "s3://codelake/things.csv")]),
                env,
                _keep: vec![Box::new(server), Box::new(data)],
            }
        }
        Kind::S3Parquet => {
            let server = crate::s3::S3Server::start().await;
            if let Some(rows) = rows {
                let batch = Thing::to_record_batch(rows).unwrap();
                write_parquet(&server.object_path("codelake", "things.parquet"), &batch);
            } else {
                server.object_path("codelake", "other/");
            }
            let env = env.with_s3(server.settings(crate::s3::SECRET_KEY));
            let spec = spec_with(
                "s3-parquet",
                &[("location", "s3://codelake/things.parquet")],
            );
            Served {
                spec,
                env,
                _keep: vec![Box::new(server), Box::new(data)],
            }
        }
        Kind::Parquet => {
            if let Some(rows) = rows {
                let batch = Thing::to_record_batch(rows).unwrap();
                write_parquet(&data.path().join("things.parquet"), &batch);
            }
            let location = format!("file://{}", data.path().join("things.parquet").display());
            Served {
                spec: spec_with("parquet", &[("location", &location)]),
                env,
                _keep: vec![Box::new(data)],
            }
        }
        Kind::HttpApi => {
            let body = rows.map(|rows| {
                let rows: Vec<String> = rows
                    .iter()
                    .map(|row| {
                        format!(
                            r#"{{"id": {}, "label": "{}", "amount": {}}}"#,
                            row.id,
                            row.label.as_deref().unwrap_or_default(),
                            row.amount
                        )
                    })
                    .collect();
                format!(r#"{{"data": {{"rows": [{}]}}}}"#, rows.join(","))
            });
            let server = crate::http::HttpServer::start(move |asked| {
                match (&body, asked.path_and_query.as_str()) {
                    (Some(body), "/things") => (200, body.clone()),
                    _ => (404, r#"{"error": "not found"}"#.to_owned()),
                }
            })
            .await;
            let mut env = env;
            env.http_base_url = Some(server.base_url.clone());
            let spec = spec_with(
                "http-api",
                &[
                    ("url", "/things"),
                    ("rows_path", "/data/rows"),
                    ("max_retries", "0"),
                ],
            );
            Served {
                spec,
                env,
                _keep: vec![Box::new(server), Box::new(data)],
            }
        }
        Kind::JsonLines(kind) => {
            if let Some(rows) = rows {
                let lines: String = rows
                    .iter()
                    .map(|row| {
                        // Keys in another order than declared: matched by name.
                        format!(
                            "{{\"amount\": {}, \"label\": \"{}\", \"id\": {}}}\n",
                            row.amount,
                            row.label.as_deref().unwrap_or_default(),
                            row.id
                        )
                    })
                    .collect();
                std::fs::write(data.path().join("things.jsonl"), lines).unwrap();
            }
            Served {
                spec: spec_with(kind, &[("location", "things.jsonl")]),
                env,
                _keep: vec![Box::new(data)],
            }
        }
        Kind::Delta | Kind::DeltaLocal => {
            let server = match kind {
                Kind::Delta => Some(crate::s3::S3Server::start().await),
                _ => None,
            };
            let root = match &server {
                Some(server) => server.object_path("codelake", "things/_delta_log/.keep"),
                None => data.path().join("things/_delta_log/.keep"),
            };
            let root = root.parent().and_then(std::path::Path::parent).unwrap();
            if let Some(rows) = rows {
                let table = crate::delta::DeltaDir::new(root);
                let mut actions = vec![
                    crate::delta::protocol(),
                    crate::delta::metadata(crate::delta::THINGS, &[]),
                ];
                if !rows.is_empty() {
                    let batch = Thing::to_record_batch(rows).unwrap();
                    actions.push(table.add("part-00000.parquet", &batch, &[]));
                }
                table.commit(0, &actions);
            }
            let (location, env) = match &server {
                Some(server) => (
                    "s3://codelake/things/".to_owned(),
                    env.with_s3(server.settings(crate::s3::SECRET_KEY)),
                ),
                None => ("things/".to_owned(), env),
            };
            let mut keep: Vec<Box<dyn Any + Send>> = vec![Box::new(data)];
            keep.extend(server.map(|server| Box::new(server) as Box<dyn Any + Send>));
            Served {
                spec: spec_with("delta", &[("location", &location)]),
                env,
                _keep: keep,
            }
        }
    }
}

/// A session with `spec` registered, or the error that named it.
async fn session_for(spec: &TableSpec, env: &Environment) -> Result<Arc<SessionContext>, String> {
    let ctx = Arc::new(SessionContext::new());
    let failures = register_tables(&ctx, &plugins(), [spec], env);
    match failures.first() {
        Some(failure) => Err(failure.to_string()),
        None => Ok(ctx),
    }
}

/// Every check, for one kind.
async fn conforms(kind: Kind) {
    let rows = things(5);
    let served = serve(kind, Some(&rows)).await;
    let ctx = session_for(&served.spec, &served.env)
        .await
        .unwrap_or_else(|error| panic!("{kind:?}: {error}"));
    let table = "conformance.things";

    // The schema is the declaration's: names, types and nullability. A plugin
    // may serve text and binary in Arrow's view layouts (s3-parquet does, as
    // DataFusion reads Parquet): the values are the same.
    let schema = ctx.table(table).await.unwrap().schema().as_arrow().clone();
    let declared = Thing::schema();
    assert_eq!(schema.fields().len(), declared.fields().len(), "{kind:?}");
    for (found, declared) in schema.fields().iter().zip(declared.fields()) {
        let layout = match (declared.data_type(), found.data_type()) {
            (DataType::Utf8, DataType::Utf8View) | (DataType::Binary, DataType::BinaryView) => {
                declared.data_type()
            }
            (_, found) => found,
        };
        assert_eq!(
            (found.name(), layout, found.is_nullable()),
            (
                declared.name(),
                declared.data_type(),
                declared.is_nullable()
            ),
            "{kind:?}"
        );
    }

    // Every row, typed.
    let all = query(&ctx, &format!("SELECT * FROM {table} ORDER BY id"))
        .await
        .unwrap();
    let read: Vec<Thing> = all
        .iter()
        .flat_map(|batch| Thing::from_record_batch(batch).unwrap())
        .collect();
    assert_eq!(read, rows, "{kind:?}");

    // Projection: one column comes back.
    let labels = query(&ctx, &format!("SELECT label FROM {table} ORDER BY id"))
        .await
        .unwrap();
    assert_eq!(labels[0].num_columns(), 1, "{kind:?}");
    let labels: Vec<String> = labels
        .iter()
        .flat_map(|batch| {
            // Text in whichever layout the plugin serves it (see the schema above).
            let column = cast(batch.column(0), &DataType::Utf8).unwrap();
            let column = column.as_string::<i32>();
            (0..batch.num_rows())
                .map(|row| column.value(row).to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        labels,
        rows.iter()
            .map(|row| row.label.clone().unwrap())
            .collect::<Vec<_>>(),
        "{kind:?}"
    );

    // Filters and limits.
    let filtered = query(
        &ctx,
        &format!("SELECT id FROM {table} WHERE amount > 4 ORDER BY id"),
    )
    .await
    .unwrap();
    assert_eq!(column_ints(&filtered), [3, 4, 5], "{kind:?}");
    let limited = query(&ctx, &format!("SELECT id FROM {table} LIMIT 2"))
        .await
        .unwrap();
    assert_eq!(column_ints(&limited).len(), 2, "{kind:?}");

    // Concurrent scans of one table agree.
    let scans: Vec<_> = (0..8)
        .map(|_| {
            let ctx = Arc::clone(&ctx);
            tokio::spawn(async move {
                column_ints(
                    &query(&ctx, "SELECT sum(id) FROM conformance.things")
                        .await
                        .unwrap(),
                )
            })
        })
        .collect();
    for scan in scans {
        assert_eq!(scan.await.unwrap(), [15], "{kind:?}");
    }

    // An empty source is an empty table.
    let empty = serve(kind, Some(&[])).await;
    let ctx = session_for(&empty.spec, &empty.env)
        .await
        .unwrap_or_else(|error| panic!("{kind:?}: {error}"));
    let count = query(&ctx, &format!("SELECT count(*) FROM {table}"))
        .await
        .unwrap();
    assert_eq!(column_ints(&count), [0], "{kind:?}");

    // A missing source is an error on the table, at registration or at query time.
    let missing = serve(kind, None).await;
    let error = match session_for(&missing.spec, &missing.env).await {
        Err(error) => error,
        Ok(ctx) => query(&ctx, &format!("SELECT * FROM {table}"))
            .await
            .unwrap_err(),
    };
    assert!(error.contains("conformance.things"), "{kind:?}: {error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_conforms() {
    conforms(Kind::Csv).await;
}

/// CSV on S3, with the same header and errors as a local file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_on_s3_conforms() {
    conforms(Kind::CsvS3).await;
    // A bad row is named with its line and its object, as a local file's is.
    let server = crate::s3::S3Server::start().await;
    std::fs::write(
        server.object_path("codelake", "things.csv"),
        "label,id,amount\nthing 1,1,1.5\nthing 2,two,3\n",
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let env = Environment::new("conformance", data.path())
        .with_s3(server.settings(crate::s3::SECRET_KEY));
    let spec = spec_with("csv", &[("location", "s3://codelake/things.csv")]);
    let ctx = session_for(&spec, &env).await.unwrap();
    let error = query(&ctx, "SELECT * FROM conformance.things")
        .await
        .unwrap_err();
    assert!(
        error.contains("conformance.things")
            && error.contains("line 3 of s3://codelake/things.csv")
            && error.contains("`two` in column `id`"),
        "{error}"
    );
    // Columns in another order than declared are matched by name.
    std::fs::write(
        server.object_path("codelake", "things.csv"),
        "label,id,amount\nthing 1,1,1.5\n",
    )
    .unwrap();
    let ctx = session_for(&spec, &env).await.unwrap();
    let sum = query(&ctx, "SELECT sum(id) FROM conformance.things")
        .await
        .unwrap();
    assert_eq!(column_ints(&sum), [1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_parquet_conforms() {
    conforms(Kind::S3Parquet).await;
}

/// Local Parquet, through the same plugin as S3, executed by the host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_parquet_conforms() {
    conforms(Kind::Parquet).await;
    // With no S3 at all: the environment has none, and the host reads the file.
    let served = serve(Kind::Parquet, Some(&things(3))).await;
    assert!(served.env.s3.is_none());
    let ctx = session_for(&served.spec, &served.env).await.unwrap();
    let plan = crate::support::query(&ctx, "EXPLAIN SELECT sum(id) FROM conformance.things")
        .await
        .unwrap();
    let plan = datafusion::arrow::util::pretty::pretty_format_batches(&plan)
        .unwrap()
        .to_string();
    assert!(
        plan.contains("DataSourceExec")
            && plan.contains("things.parquet")
            && !plan.contains("CodelakePluginExec"),
        "the host executes the local scan:\n{plan}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_on_s3_conforms() {
    conforms(Kind::Delta).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_delta_conforms() {
    conforms(Kind::DeltaLocal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_api_conforms() {
    conforms(Kind::HttpApi).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_conforms() {
    let data = tempfile::tempdir().unwrap();
    let env = Environment::new("conformance", data.path());
    let spec = tables::tpch::PriceTier::SPEC;
    let ctx = session_for(spec, &env).await.unwrap();
    let schema = ctx
        .table("tpch.price_tiers")
        .await
        .unwrap()
        .schema()
        .as_arrow()
        .clone();
    for (found, declared) in schema
        .fields()
        .iter()
        .zip(tables::tpch::PriceTier::schema().fields())
    {
        assert_eq!(
            (found.name(), found.data_type(), found.is_nullable()),
            (
                declared.name(),
                declared.data_type(),
                declared.is_nullable()
            )
        );
    }
    let all = query(&ctx, "SELECT * FROM tpch.price_tiers ORDER BY min_price")
        .await
        .unwrap();
    let read: Vec<tables::tpch::PriceTier> = all
        .iter()
        .flat_map(|batch| tables::tpch::PriceTier::from_record_batch(batch).unwrap())
        .collect();
    assert_eq!(read.len(), 3);
    let projected = query(
        &ctx,
        "SELECT tier FROM tpch.price_tiers WHERE max_price IS NULL",
    )
    .await
    .unwrap();
    assert_eq!(
        (projected[0].num_columns(), projected[0].num_rows()),
        (1, 1)
    );
    assert_eq!(
        projected[0].column(0).as_string::<i32>().value(0),
        "premium"
    );
    let limited = query(&ctx, "SELECT tier FROM tpch.price_tiers LIMIT 1")
        .await
        .unwrap();
    assert_eq!(limited.iter().map(RecordBatch::num_rows).sum::<usize>(), 1);
    let scans: Vec<_> = (0..8)
        .map(|_| {
            let ctx = Arc::clone(&ctx);
            tokio::spawn(async move {
                query(&ctx, "SELECT count(*) FROM tpch.price_tiers")
                    .await
                    .unwrap()
            })
        })
        .collect();
    for scan in scans {
        assert_eq!(column_ints(&scan.await.unwrap()), [3]);
    }
    // A function the plugin does not have is an error on the table, listing what it has.
    let mut missing = spec.clone();
    missing.options = Cow::Owned(vec![SourceOption {
        key: "function".into(),
        value: "no_such_function".into(),
    }]);
    let Err(error) = session_for(&missing, &env).await else {
        panic!("a missing function registered")
    };
    assert!(
        error.contains("tpch.price_tiers") && error.contains("it has: price_tiers"),
        "{error}"
    );
}

/// `jsonl` as `cargo xtask new-plugin jsonl` made it: newline-delimited JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonl_conforms() {
    conforms(Kind::JsonLines("jsonl")).await;
}

// new-plugin: conformance
