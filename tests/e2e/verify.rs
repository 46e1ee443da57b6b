//! `verify` against real servers on loopback: drift injected into real files
//! and APIs is named on the right table, while the other tables pass.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use catalog_core::inspect::Drift;
use catalog_core::{Environment, Secret, SourceOption, Table, TableSpec};
use catalog_runtime::register_tables;
use catalog_runtime::verify::{
    Check, CheckKind, Report, Status, TableReport, Verifier, VerifyOptions,
};
use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::SessionContext;

use crate::http::HttpServer;
use crate::s3::{S3Server, SECRET_KEY};
use crate::support::{plugins, write_parquet};

/// `spec` as table `drift.<name>`, with `options` replacing the same keys.
fn like(spec: &TableSpec, name: &str, options: &[(&str, &str)]) -> TableSpec {
    let mut merged: Vec<SourceOption> = spec
        .options
        .iter()
        .filter(|option| !options.iter().any(|(key, _)| *key == option.key))
        .cloned()
        .collect();
    merged.extend(options.iter().map(|(key, value)| SourceOption {
        key: Cow::Owned((*key).to_owned()),
        value: Cow::Owned((*value).to_owned()),
    }));
    merged.sort_by(|a, b| a.key.cmp(&b.key));
    TableSpec {
        database: "drift".into(),
        name: Cow::Owned(name.to_owned()),
        options: merged.into(),
        ..spec.clone()
    }
}

/// Replaces column `name` of `batch` (its field and values).
fn with_column(batch: &RecordBatch, name: &str, field: Field, values: ArrayRef) -> RecordBatch {
    let schema = batch.schema();
    let index = schema.index_of(name).unwrap();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut columns = batch.columns().to_vec();
    fields[index] = field;
    columns[index] = values;
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

fn parts() -> RecordBatch {
    let rows: Vec<tables::tpch::Part> = (1..=20)
        .map(|key| tables::tpch::Part {
            p_partkey: key,
            p_name: format!("part {key}"),
            p_mfgr: "Manufacturer#1".into(),
            p_brand: "Brand#13".into(),
            p_type: "STANDARD".into(),
            p_size: (key % 50 + 1) as i32,
            p_container: "SM BOX".into(),
            p_retailprice: catalog_core::Decimal::from_mantissa(i128::from(1000 + key) * 100)
                .unwrap(),
            p_comment: "test".into(),
        })
        .collect();
    tables::tpch::Part::to_record_batch(&rows).unwrap()
}

/// An FX API: `/fx/rates` as declared, `/fx/no-rate` without `rate_to_usd`;
/// both answer only `Bearer right`, and 403 otherwise.
async fn fx_server() -> HttpServer {
    HttpServer::start(|asked| {
        if asked.authorization.as_deref() != Some("Bearer right") {
            return (403, r#"{"error": "forbidden"}"#.to_owned());
        }
        let now = humantime::format_rfc3339_seconds(SystemTime::now());
        let rows = |rate: bool| {
            ["DZD", "ARS", "BRL"]
                .iter()
                .enumerate()
                .map(|(i, currency)| {
                    let rate = if rate { r#", "rate_to_usd": 0.5"# } else { "" };
                    format!(
                        r#"{{"currency": "{currency}", "as_of": "{now}", "n_nationkey": {i}{rate}}}"#
                    )
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        match asked.path_and_query.as_str() {
            "/fx/rates" => (200, format!(r#"{{"rates": [{}], "next": null}}"#, rows(true))),
            "/fx/no-rate" => (200, format!(r#"{{"rates": [{}], "next": null}}"#, rows(false))),
            "/fx/fraction" => (
                200,
                format!(r#"{{"rates": [{}], "next": null}}"#, rows(true)).replace(
                    r#""n_nationkey": 1,"#,
                    r#""n_nationkey": 1.5,"#,
                ),
            ),
            _ => (404, "{}".to_owned()),
        }
    })
    .await
}

fn check<'a>(report: &'a TableReport, name: &str) -> &'a Check {
    report
        .checks
        .iter()
        .find(|check| check.check.as_str() == name)
        .unwrap_or_else(|| panic!("{}: no check {name}", report.table))
}

fn drifts(report: &TableReport) -> Vec<&Drift> {
    check(report, "schema")
        .problems
        .iter()
        .filter_map(|problem| problem.drift.as_ref())
        .collect()
}

async fn verify(specs: &[TableSpec], env: &Environment, strict: bool) -> Report {
    let ctx = Arc::new(SessionContext::new());
    let plugins = plugins();
    let unregistered = register_tables(&ctx, &plugins, specs, env);
    let options = VerifyOptions {
        strict,
        timeout: Duration::from_secs(20),
        ..VerifyOptions::default()
    };
    let verifier = Verifier::new(
        ctx,
        Arc::new(plugins),
        env.clone(),
        options.clone(),
        unregistered,
    );
    let specs: Vec<&TableSpec> = specs.iter().collect();
    let started = SystemTime::now();
    let tables = verifier.run(&specs, |_| {}).await;
    Report::new(&env.name, &options, started, Duration::ZERO, tables)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_named_on_the_right_table_while_the_rest_pass() {
    let s3 = S3Server::start().await;
    let fx = fx_server().await;
    let data = tempfile::tempdir().unwrap();
    let part = tables::tpch::Part::SPEC;
    let good = parts();
    let object = |key: &str| s3.object_path("lake", key);

    write_parquet(&object("part.parquet"), &good);
    // `p_size` renamed to `p_sz`.
    let sizes = good.column_by_name("p_size").unwrap().clone();
    write_parquet(
        &object("renamed.parquet"),
        &with_column(
            &good,
            "p_size",
            Field::new("p_sz", DataType::Int32, false),
            sizes,
        ),
    );
    // `p_size` rewritten as Int64.
    let wide: ArrayRef = Arc::new(Int64Array::from_iter_values(1..=20));
    write_parquet(
        &object("retyped.parquet"),
        &with_column(
            &good,
            "p_size",
            Field::new("p_size", DataType::Int64, false),
            wide,
        ),
    );
    // A null name.
    let names: ArrayRef = Arc::new(StringArray::from_iter(
        (1..=20).map(|key| (key != 7).then(|| format!("part {key}"))),
    ));
    write_parquet(
        &object("null.parquet"),
        &with_column(
            &good,
            "p_name",
            Field::new("p_name", DataType::Utf8, true),
            names,
        ),
    );
    // An extra, undeclared column.
    let mut fields: Vec<Field> = good
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("p_promo", DataType::Utf8, true));
    let mut columns = good.columns().to_vec();
    columns.push(Arc::new(StringArray::from(vec![Some("spring"); 20])));
    let extra = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    write_parquet(&object("extra.parquet"), &extra);
    // Written two days ago, for a table declared fresh within 24h.
    let stale = object("stale.parquet");
    write_parquet(&stale, &good);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(2 * 86_400))
        .unwrap();

    // CSV: a reordered header (matched by name: passes), and a value that is not a number.
    std::fs::write(
        data.path().join("reordered.csv"),
        "n_comment|n_regionkey|n_name|n_nationkey\nfirst|0|ALGERIA|0\nsecond|1|ARGENTINA|1\n",
    )
    .unwrap();
    std::fs::write(
        data.path().join("renamed.csv"),
        "n_nationkey|n_name|n_region|n_comment\n0|ALGERIA|0|a\n",
    )
    .unwrap();
    std::fs::write(
        data.path().join("bad_value.csv"),
        "n_nationkey|n_name|n_regionkey|n_comment\n0|ALGERIA|0|a\nseven|ARGENTINA|1|b\n",
    )
    .unwrap();

    let nation = tables::tpch::Nation::SPEC;
    let fx_spec = tables::tpch::ExchangeRate::SPEC;
    let rates = format!("{}/fx/rates", fx.base_url);
    let specs = vec![
        like(part, "part", &[("location", "s3://lake/part.parquet")]),
        like(
            part,
            "renamed",
            &[("location", "s3://lake/renamed.parquet")],
        ),
        like(
            part,
            "retyped",
            &[("location", "s3://lake/retyped.parquet")],
        ),
        like(part, "null", &[("location", "s3://lake/null.parquet")]),
        like(part, "missing", &[("location", "s3://lake/gone.parquet")]),
        like(part, "extra", &[("location", "s3://lake/extra.parquet")]),
        like(part, "stale", &[("location", "s3://lake/stale.parquet")]),
        like(nation, "reordered", &[("location", "reordered.csv")]),
        like(nation, "bad_value", &[("location", "bad_value.csv")]),
        like(nation, "csv_renamed", &[("location", "renamed.csv")]),
        like(fx_spec, "rates", &[("url", &rates), ("pagination", "none")]),
        like(
            fx_spec,
            "no_rate",
            &[
                ("url", &format!("{}/fx/no-rate", fx.base_url)),
                ("pagination", "none"),
            ],
        ),
        like(
            fx_spec,
            "fraction",
            &[
                ("url", &format!("{}/fx/fraction", fx.base_url)),
                ("pagination", "none"),
            ],
        ),
        like(
            fx_spec,
            "forbidden",
            &[
                ("url", &rates),
                ("pagination", "none"),
                ("auth_env", "FX_WRONG"),
            ],
        ),
        like(
            fx_spec,
            "unreachable",
            &[
                ("url", "http://127.0.0.1:1/fx/rates"),
                ("pagination", "none"),
                ("max_retries", "0"),
            ],
        ),
        like(tables::tpch::PriceTier::SPEC, "tiers", &[]),
    ];
    let specs: Vec<TableSpec> = specs
        .into_iter()
        .map(|mut spec| {
            // As written, `pagination = "none"` needs no `next_link_path`.
            if spec.option("pagination") == Some("none") {
                spec.options = spec
                    .options
                    .iter()
                    .filter(|option| option.key != "next_link_path")
                    .cloned()
                    .collect::<Vec<_>>()
                    .into();
            }
            // Nation's 25 rows are not these files' two.
            if spec.source == "csv" {
                spec.expectations.min_rows = Some(1);
                spec.expectations.max_rows = None;
            }
            spec
        })
        .collect();
    let mut env = Environment::new("test", data.path()).with_s3(s3.settings(SECRET_KEY));
    env.secrets
        .insert("CODELAKE_FX_TOKEN".into(), Secret::new("Bearer right"));
    env.secrets.insert(
        "FX_WRONG".into(),
        Secret::new("Bearer wrong-token-never-printed"),
    );

    let report = verify(&specs, &env, false).await;
    let table = |name: &str| {
        report
            .tables
            .iter()
            .find(|table| table.table == format!("drift.{name}"))
            .unwrap()
    };
    let json = serde_json::to_string_pretty(&report).unwrap();
    assert!(!json.contains(SECRET_KEY) && !json.contains("wrong-token-never-printed"));

    for passing in ["part", "reordered", "rates", "tiers"] {
        assert_eq!(
            table(passing).status,
            Status::Pass,
            "{passing}: {:#?}",
            table(passing).first_problem()
        );
    }
    assert_eq!(table("reordered").rows, Some(2));

    let renamed = table("renamed");
    assert_eq!(renamed.status, Status::Fail);
    assert!(
        drifts(renamed).contains(&&Drift::MissingColumn {
            column: "p_size".into(),
            declared: "Int32".into(),
            nullable: false,
            closest: Some("p_sz".into()),
        }),
        "{json}"
    );

    let retyped = table("retyped");
    assert_eq!(retyped.status, Status::Fail);
    assert_eq!(
        drifts(retyped),
        [&Drift::TypeMismatch {
            column: "p_size".into(),
            declared: "Int32".into(),
            found: "Int64".into(),
            rust_type: Some("i64".into()),
        }]
    );
    assert!(
        check(retyped, "schema").problems[0]
            .fix
            .contains("tables::tpch::Part")
    );

    let null = table("null");
    assert_eq!(null.status, Status::Fail);
    assert_eq!(
        drifts(null),
        [&Drift::NullsInNonNull {
            column: "p_name".into(),
            nulls: 1,
            scope: "the source".into(),
        }]
    );

    let missing = table("missing");
    assert_eq!(check(missing, "reachable").status, Status::Fail);
    assert!(
        check(missing, "reachable").problems[0]
            .message
            .contains("object s3://lake/gone.parquet does not exist"),
        "{json}"
    );

    // An extra column warns, and fails only when strict.
    let extra = table("extra");
    assert_eq!(extra.status, Status::Warn, "{json}");
    assert!(
        matches!(drifts(extra)[..], [Drift::ExtraColumn { column, .. }] if column == "p_promo")
    );

    let stale = table("stale");
    assert_eq!(stale.status, Status::Fail);
    assert_eq!(check(stale, "freshness").status, Status::Fail);
    assert!(
        check(stale, "freshness").message.contains("stale.parquet"),
        "{json}"
    );
    assert_eq!(check(stale, "schema").status, Status::Pass);

    let bad = table("bad_value");
    assert_eq!(bad.status, Status::Fail);
    assert!(
        matches!(drifts(bad)[..], [Drift::BadValue { column, value, .. }] if column == "n_nationkey" && value == "seven"),
        "{json}"
    );

    // The CSV plugin cannot open a file without a declared column, yet the
    // drift is named, not taken for an unreachable source.
    let csv_renamed = table("csv_renamed");
    assert_eq!(
        check(csv_renamed, "reachable").status,
        Status::Pass,
        "{json}"
    );
    assert_eq!(check(csv_renamed, "answers").status, Status::Fail);
    assert!(
        drifts(csv_renamed).iter().any(|drift| matches!(drift, Drift::MissingColumn { column, closest: Some(closest), .. } if column == "n_regionkey" && closest == "n_region")),
        "{json}"
    );

    let no_rate = table("no_rate");
    assert_eq!(no_rate.status, Status::Fail);
    assert!(
        matches!(drifts(no_rate)[..], [Drift::MissingColumn { column, .. }] if column == "rate_to_usd"),
        "{json}"
    );

    // The JSON decoder would truncate 1.5 into the integer field: named, not read.
    assert_eq!(
        drifts(table("fraction")),
        [&Drift::TypeMismatch {
            column: "n_nationkey".into(),
            declared: "Int64".into(),
            found: "Float64".into(),
            rust_type: Some("Option<f64>".into()),
        }],
        "{json}"
    );

    let forbidden = table("forbidden");
    assert_eq!(check(forbidden, "reachable").status, Status::Fail);
    assert!(
        check(forbidden, "reachable").problems[0]
            .message
            .contains("403"),
        "{json}"
    );

    let unreachable = table("unreachable");
    assert_eq!(check(unreachable, "reachable").status, Status::Fail);
    assert!(
        check(unreachable, "reachable").problems[0]
            .message
            .contains("127.0.0.1:1"),
        "{json}"
    );

    assert_eq!(report.summary.passed, 4, "{json}");
    assert_eq!(report.summary.warned, 1, "{json}");
    assert_eq!(report.summary.failed, 11, "{json}");

    // Strict: the warning fails too.
    let strict = verify(&specs[5..6], &env, true).await;
    assert_eq!(strict.tables[0].status, Status::Fail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expectations_on_the_data_are_checked_on_a_sample() {
    let s3 = S3Server::start().await;
    let data = tempfile::tempdir().unwrap();
    let good = parts();
    // Sizes out of the declared 1..=50, and a repeated key.
    let sizes: ArrayRef = Arc::new(datafusion::arrow::array::Int32Array::from_iter_values(
        (1..=20).map(|i| if i == 3 { 51 } else { i }),
    ));
    let keys: ArrayRef = Arc::new(Int64Array::from_iter_values(
        (1..=20).map(|i| if i == 20 { 1 } else { i }),
    ));
    let batch = with_column(
        &good,
        "p_size",
        Field::new("p_size", DataType::Int32, false),
        sizes,
    );
    let batch = with_column(
        &batch,
        "p_partkey",
        Field::new("p_partkey", DataType::Int64, false),
        keys,
    );
    write_parquet(&s3.object_path("lake", "part.parquet"), &batch);
    let mut spec = like(
        tables::tpch::Part::SPEC,
        "part",
        &[("location", "s3://lake/part.parquet")],
    );
    spec.expectations.max_rows = Some(10);
    spec.owner = None;
    let env = Environment::new("test", data.path()).with_s3(s3.settings(SECRET_KEY));

    let report = verify(&[spec], &env, false).await;
    let table = &report.tables[0];
    let json = serde_json::to_string_pretty(&report).unwrap();
    assert_eq!(table.status, Status::Fail);
    assert_eq!(check(table, "schema").status, Status::Pass, "{json}");
    assert_eq!(check(table, "row_count").status, Status::Fail);
    assert!(
        check(table, "row_count").message.contains("20 rows"),
        "{json}"
    );
    let unique = check(table, "unique");
    assert_eq!(unique.status, Status::Fail);
    assert!(
        unique.problems[0].message.contains("`p_partkey`")
            && unique.problems[0]
                .message
                .contains("e.g. `1` appears 2 times"),
        "{json}"
    );
    let range = check(table, "range");
    assert_eq!(range.status, Status::Fail);
    assert_eq!(range.problems.len(), 1, "{json}");
    assert!(
        range.problems[0].message.contains("`p_size` has 51"),
        "{json}"
    );
    assert_eq!(check(table, "owner").status, Status::Warn);
    assert_eq!(check(table, "non_null").status, Status::Pass);
}

/// The `verify` JSON report of `args` in `dir`, checked against the documented JSON Schema.
fn json_report(dir: &std::path::Path, args: &[&str]) -> (std::process::Output, serde_json::Value) {
    let mut all = vec!["verify", "--format", "json"];
    all.extend_from_slice(args);
    let output = crate::cli::run(dir, &all);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", crate::cli::stderr(&output)));
    crate::support::assert_follows_schema(
        &report,
        &crate::support::schema("verify-report.schema.json"),
    );
    (output, report)
}

#[test]
fn a_fresh_project_verifies_and_its_json_report_follows_the_documented_schema() {
    let dir = tempfile::tempdir().unwrap();
    let (output, report) = json_report(dir.path(), &[]);
    assert_eq!(report["report_version"], 1);
    assert_eq!(report["environment"], "local");
    assert_eq!(report["summary"]["tables"], tables::REGISTRY.len());
    assert_eq!(report["summary"]["warned"], 0, "{report:#}");
    // Every table passes but those the seed could give no sample data (in this
    // catalog, none): they fail `reachable`, naming the fixture to add.
    let marker: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".codelake/local/seed.json")).unwrap(),
    )
    .unwrap();
    let unseeded: Vec<&str> = marker["unseeded"]
        .as_array()
        .expect("seed.json lists the unseeded tables")
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    for table in report["tables"].as_array().unwrap() {
        let name = table["table"].as_str().unwrap();
        if unseeded.contains(&name) {
            let (database, short) = name.split_once('.').unwrap();
            assert_eq!(table["status"], "fail", "{table:#}");
            let reachable = &table["checks"][0];
            assert_eq!(reachable["check"], "reachable", "{table:#}");
            let message = reachable["message"].as_str().unwrap();
            assert!(
                message.contains(&format!(
                    "add {}/{database}/{short}.csv",
                    tables::FIXTURES_DIR
                )),
                "{table:#}"
            );
        } else {
            assert_eq!(table["status"], "pass", "{table:#}");
        }
    }
    if unseeded.is_empty() {
        crate::cli::assert_ok(&output);
    } else {
        assert_eq!(output.status.code(), Some(1), "{report:#}");
    }

    // The human format: one row a table, and the summary.
    let output = crate::cli::run(
        dir.path(),
        &["verify", "--table", "tpch.part", "--table", "tpch.nation"],
    );
    crate::cli::assert_ok(&output);
    let out = crate::cli::stdout(&output);
    assert!(
        out.contains("tpch.part") && out.contains("tpch.nation") && !out.contains("tpch.region"),
        "{out}"
    );
    assert!(
        out.contains("2 tables in environment `local`: 2 passed"),
        "{out}"
    );

    // A table that is not declared: the fix, and no verification.
    let output = crate::cli::run(dir.path(), &["verify", "--table", "tpch.parts"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        crate::cli::stderr(&output).contains("did you mean `tpch.part`"),
        "{}",
        crate::cli::stderr(&output)
    );

    // Drift in the local data fails the table, with the fix, and exit code 1.
    let nation = dir.path().join(".codelake/local/tpch/nation.csv");
    let text = std::fs::read_to_string(&nation).unwrap();
    std::fs::write(&nation, text.replacen("n_regionkey", "n_region", 1)).unwrap();
    let (output, report) = json_report(
        dir.path(),
        &["--table", "tpch.nation", "--table", "tpch.region"],
    );
    assert_eq!(output.status.code(), Some(1), "{report:#}");
    assert_eq!(report["tables"][0]["status"], "fail");
    assert_eq!(report["tables"][1]["status"], "pass");
    let err = crate::cli::stderr(&output);
    assert!(err.contains("1 of 2 tables failed verification"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_verifies_against_a_credentialed_s3_server_and_fails_clearly_with_wrong_credentials()
 {
    let server = S3Server::start().await;
    write_parquet(
        &server.object_path("lake-prod", "tpch/part.parquet"),
        &parts(),
    );
    let dir = tempfile::tempdir().unwrap();
    let production = |secret: &str| {
        let mut command = crate::cli::production(dir.path(), &server, secret);
        command.args(["verify", "--table", "tpch.part"]);
        tokio::task::spawn_blocking(move || command.output().unwrap())
    };
    let output = production(SECRET_KEY).await.unwrap();
    crate::cli::assert_ok(&output);
    let out = crate::cli::stdout(&output);
    assert!(
        out.contains("1 table in environment `production`: 1 passed"),
        "{out}"
    );

    let wrong = "wrong-secret-that-must-not-appear";
    let output = production(wrong).await.unwrap();
    let (out, err) = (crate::cli::stdout(&output), crate::cli::stderr(&output));
    assert_eq!(output.status.code(), Some(4), "{out}{err}");
    assert!(
        out.contains("FAIL reachable") && out.contains("credentials were refused"),
        "{out}"
    );
    assert!(
        err.contains("no table whose data lives in environment `production` could be reached"),
        "{err}"
    );
    for text in [&out, &err] {
        assert!(
            !text.contains(wrong) && !text.contains(SECRET_KEY),
            "{text}"
        );
    }
    assert!(!dir.path().join(".codelake").exists());
}

/// The structs `codelake new-table` wrote from the local environment's
/// sources, committed and compiled here: `new_table_writes_…` checks they are
/// what it writes now, and that they verify clean against the same sources.
#[allow(dead_code)] // the structs are read through their `SPEC`s only
mod generated {
    pub mod part {
        include!(concat!(env!("CARGO_MANIFEST_DIR"), "/new_table/part.rs"));
    }
    pub mod nation {
        include!(concat!(env!("CARGO_MANIFEST_DIR"), "/new_table/nation.rs"));
    }
    pub mod rates {
        include!(concat!(env!("CARGO_MANIFEST_DIR"), "/new_table/rates.rs"));
    }
    pub mod price_tiers {
        include!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/new_table/price_tiers.rs"
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_table_writes_structs_that_compile_and_verify_clean_against_their_sources() {
    use catalog_env::local::LocalEnvironment;

    let dir = tempfile::tempdir().unwrap();
    let local = LocalEnvironment::start(&dir.path().join(".codelake/local"))
        .await
        .unwrap();
    local.publish().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let cases: [(&str, &[&str], &TableSpec); 4] = [
        (
            "part",
            &[
                "--from",
                "s3://codelake/tpch/part.parquet",
                "--database",
                "tpch",
            ],
            generated::part::Part::SPEC,
        ),
        (
            "nation",
            &["--from", "tpch/nation.csv", "--option", "delimiter=|"],
            generated::nation::Nation::SPEC,
        ),
        (
            "rates",
            &[
                "--from",
                "/fx/rates",
                "--name",
                "rates",
                "--option",
                "rows_path=/rates",
                "--option",
                "pagination=next_link",
                "--option",
                "next_link_path=/next",
                "--option",
                "auth_header=Authorization",
                "--option",
                "auth_env=CODELAKE_FX_TOKEN",
            ],
            generated::rates::Rates::SPEC,
        ),
        (
            "price_tiers",
            &["--from", "price_tiers", "--source", "function"],
            generated::price_tiers::PriceTiers::SPEC,
        ),
    ];
    let seed = dir.path().to_owned();
    let seeded = tokio::task::spawn_blocking(move || crate::cli::run(&seed, &["data", "seed"]))
        .await
        .unwrap();
    crate::cli::assert_ok(&seeded);
    for (name, args, _) in &cases {
        let mut all = vec!["new-table"];
        all.extend_from_slice(args);
        let (project, all): (std::path::PathBuf, Vec<String>) = (
            dir.path().to_owned(),
            all.iter().map(|s| (*s).to_owned()).collect(),
        );
        let output = tokio::task::spawn_blocking(move || {
            let all: Vec<&str> = all.iter().map(String::as_str).collect();
            crate::cli::run(&project, &all)
        })
        .await
        .unwrap();
        crate::cli::assert_ok(&output);
        let written = crate::cli::stdout(&output);
        let fixture = root.join(format!("new_table/{name}.rs"));
        if std::env::var_os("CODELAKE_BLESS").is_some() {
            std::fs::write(&fixture, &written).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(&fixture).unwrap(),
            written,
            "`codelake new-table` now writes another {name} struct; if that is intended, \
             rerun with CODELAKE_BLESS=1 to update {}",
            fixture.display()
        );
    }
    let specs: Vec<TableSpec> = cases.iter().map(|(_, _, spec)| (*spec).clone()).collect();
    let report = verify(&specs, &local.environment(), false).await;
    local.unpublish();
    // Every check holds; only the owner, which nobody has named yet, warns.
    for table in &report.tables {
        for check in &table.checks {
            let expected: &[Status] = if check.check == CheckKind::Owner {
                &[Status::Warn]
            } else {
                &[Status::Pass, Status::Skip]
            };
            assert!(
                expected.contains(&check.status),
                "{} {}: {check:#?}",
                table.table,
                check.check
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undeclared_partitioned_dataset_is_inspected_with_its_partition_columns() {
    let s3 = S3Server::start().await;
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)])),
        vec![Arc::new(Int64Array::from(vec![1, 2]))],
    )
    .unwrap();
    for (year, region) in [(2024, "eu"), (2025, "us")] {
        write_parquet(
            &s3.object_path(
                "lake",
                &format!("events/year={year}/region={region}/a.parquet"),
            ),
            &batch,
        );
    }
    let data = tempfile::tempdir().unwrap();
    let env = Environment::new("test", data.path()).with_s3(s3.settings(SECRET_KEY));
    let spec = TableSpec {
        columns: Cow::Owned(vec![]),
        ..like(
            tables::tpch::Part::SPEC,
            "events",
            &[
                ("location", "s3://lake/events/"),
                ("partitions", "year,region"),
            ],
        )
    };
    let inspection = catalog_runtime::inspect(
        &plugins(),
        &spec,
        &env,
        &catalog_core::inspect::InspectRequest::default(),
    )
    .unwrap();
    let columns: Vec<(&str, Option<catalog_core::ColumnType>)> = inspection
        .columns
        .iter()
        .map(|column| (column.name.as_str(), column.column_type))
        .collect();
    use catalog_core::ColumnType::{Int64, Utf8};
    assert_eq!(
        columns,
        [
            ("x", Some(Int64)),
            ("year", Some(Int64)),
            ("region", Some(Utf8))
        ]
    );
    assert_eq!(inspection.objects, 2);
}

/// Exit code 4 says the environment could not be reached, so a corrupt object
/// on a working S3 server is exit 1, with the data to fix; a missing bucket
/// and an endpoint that refuses connections are still exit 4.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_object_is_a_failed_table_not_an_unreachable_environment() {
    let server = S3Server::start().await;
    let part = server.object_path("lake-prod", "tpch/part.parquet");
    write_parquet(&part, &parts());
    let whole = std::fs::read(&part).unwrap();
    std::fs::write(&part, &whole[..whole.len() / 2]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let verify = |env: &'static [(&'static str, &'static str)]| {
        let mut command = crate::cli::production(dir.path(), &server, SECRET_KEY);
        command
            .env("CODELAKE_S3_REQUEST_TIMEOUT", "1s")
            .envs(env.iter().copied())
            .args(["verify", "--format", "json", "--table", "tpch.part"]);
        tokio::task::spawn_blocking(move || command.output().unwrap())
    };

    let output = verify(&[]).await.unwrap();
    let err = crate::cli::stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let table = &report["tables"][0];
    assert!(table.get("unreachable").is_none(), "{table:#}");
    let reachable = &table["checks"][0];
    assert_eq!(reachable["message"], "the source's data cannot be read");
    let problem = &reachable["problems"][0];
    let message = problem["message"].as_str().unwrap();
    assert!(
        message.contains("s3://lake-prod/tpch/part.parquet is corrupt: it is not readable Parquet"),
        "{message}"
    );
    assert!(
        !problem["fix"].as_str().unwrap().contains("credentials"),
        "{problem:#}"
    );
    assert!(err.contains("1 of 1 table failed verification"), "{err}");

    for env in [
        &[("CODELAKE_S3_BUCKET", "no-such-bucket")][..],
        &[("CODELAKE_S3_ENDPOINT", "http://127.0.0.1:1")][..],
    ] {
        let output = verify(env).await.unwrap();
        let err = crate::cli::stderr(&output);
        assert_eq!(output.status.code(), Some(4), "{env:?}: {err}");
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["tables"][0]["unreachable"], true, "{report:#}");
        assert_eq!(
            report["tables"][0]["checks"][0]["message"],
            "the source cannot be reached"
        );
    }
}

/// A table that nothing gives local sample data (declared after the seed, no
/// fixture, no generator) still fails `reachable`, and says which fixture to add.
#[test]
fn a_table_without_sample_data_fails_naming_the_fixture_to_add() {
    let dir = crate::cli::seeded_project();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("tables/catalog.json")).unwrap())
            .unwrap();
    let tables = manifest["tables"].as_array_mut().unwrap();
    let mut page_views = tables
        .iter()
        .find(|table| table["name"] == "region")
        .unwrap()
        .clone();
    page_views["database"] = "web".into();
    page_views["name"] = "page_views".into();
    page_views["options"] = serde_json::json!([{"key": "location", "value": "web/page_views.csv"}]);
    tables.push(page_views);
    let catalog = dir.path().join("catalog.json");
    std::fs::write(&catalog, manifest.to_string()).unwrap();

    let catalog = catalog.to_str().unwrap();
    let (output, report) = json_report(
        dir.path(),
        &[
            "--catalog",
            catalog,
            "--table",
            "web.page_views",
            "--table",
            "tpch.region",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{report:#}");
    assert_eq!(report["tables"][1]["status"], "pass", "{report:#}");
    let reachable = &report["tables"][0]["checks"][0];
    assert_eq!(reachable["status"], "fail", "{report:#}");
    let hint = format!(
        "`web.page_views` has no local sample data: add {}/web/page_views.csv (",
        tables::FIXTURES_DIR
    );
    assert!(
        reachable["message"].as_str().unwrap().contains(&hint),
        "{report:#}"
    );
    assert!(
        reachable["problems"][0]["fix"]
            .as_str()
            .unwrap()
            .starts_with(&hint),
        "{report:#}"
    );
    // People read it as the fix, on that table alone.
    let output = crate::cli::run(
        dir.path(),
        &[
            "verify",
            "--catalog",
            catalog,
            "--table",
            "web.page_views",
            "--table",
            "tpch.region",
        ],
    );
    let out = crate::cli::stdout(&output);
    assert_eq!(out.matches("has no local sample data").count(), 1, "{out}");
    assert!(out.contains(&format!("fix: {hint}")), "{out}");
}

/// A Delta table's log that changed its schema after the table was created:
/// a column added by commit 1 of one table, a column retyped by commit 2 of
/// another. Each is named on its own table with the commit version, beside
/// the column's own drift, while a table whose declaration follows its log
/// passes clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_schema_evolution_is_named_with_its_commit_version() {
    use crate::delta::{DeltaDir, THINGS, metadata, protocol};
    let s3 = S3Server::start().await;
    let data = tempfile::tempdir().unwrap();
    let table = |name: &str| {
        let keep = s3.object_path("lake", &format!("{name}/_delta_log/.keep"));
        let table = DeltaDir::new(keep.parent().and_then(std::path::Path::parent).unwrap());
        let rows: Vec<crate::conformance::Thing> = (1..=3)
            .map(|id| crate::conformance::Thing {
                id,
                label: None,
                amount: 1.5,
            })
            .collect();
        let batch = crate::conformance::Thing::to_record_batch(&rows).unwrap();
        let file = table.add("part-0.parquet", &batch, &[]);
        table.commit(0, &[protocol(), metadata(THINGS, &[]), file]);
        table
    };
    table("follows");
    let added = table("added");
    let mut with_note = THINGS.to_vec();
    with_note.push(("note", "string", true));
    added.commit(1, &[metadata(&with_note, &[])]);
    let retyped = table("retyped");
    retyped.commit(
        1,
        &[serde_json::json!({"commitInfo": {"operation": "OPTIMIZE"}})],
    );
    let decimal = [THINGS[0], THINGS[1], ("amount", "decimal(12,2)", false)];
    retyped.commit(2, &[metadata(&decimal, &[])]);

    let env = Environment::new("test", data.path()).with_s3(s3.settings(SECRET_KEY));
    let like = crate::conformance::Thing::SPEC;
    let specs: Vec<TableSpec> = ["follows", "added", "retyped"]
        .iter()
        .map(|name| {
            let location = format!("s3://lake/{name}/");
            crate::delta::spec(like, name, &[("location", &location)])
        })
        .collect();
    let report = verify(&specs, &env, false).await;
    let table = |name: &str| {
        report
            .tables
            .iter()
            .find(|table| table.table == format!("delta.{name}"))
            .unwrap_or_else(|| panic!("no report on delta.{name}"))
    };
    assert!(
        drifts(table("follows")).is_empty(),
        "{:#?}",
        table("follows")
    );
    // (It warns only that the test's struct names no owner.)
    assert_eq!(check(table("follows"), "schema").status, Status::Pass);

    let added = drifts(table("added"));
    assert!(
        added
            .iter()
            .any(|drift| matches!(drift, Drift::ExtraColumn { column, .. } if column == "note")),
        "{added:#?}"
    );
    assert!(
        added.iter().any(|drift| matches!(
            drift,
            Drift::SchemaEvolved { column, version: 1, change } if column == "note" && change == "added as Utf8"
        )),
        "{added:#?}"
    );

    let retyped = drifts(table("retyped"));
    assert!(
        retyped
            .iter()
            .any(|drift| matches!(drift, Drift::TypeMismatch { column, .. } if column == "amount")),
        "{retyped:#?}"
    );
    assert!(
        retyped.iter().any(|drift| matches!(
            drift,
            Drift::SchemaEvolved { column, version: 2, change }
                if column == "amount" && change.contains("from Float64 to Decimal128(12, 2)")
        )),
        "{retyped:#?}"
    );
    assert_eq!(check(table("retyped"), "schema").status, Status::Fail);
    assert_eq!(check(table("added"), "schema").status, Status::Warn);
    // Neither change is blamed on another table.
    assert!(
        !added.iter().any(|drift| drift.column() == Some("amount")),
        "{added:#?}"
    );
    assert!(
        !retyped.iter().any(|drift| drift.column() == Some("note")),
        "{retyped:#?}"
    );
}
