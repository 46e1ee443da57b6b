//! Acceleration: tables declared `accelerate = "memory"` answered from a copy
//! in Arrow memory, refreshed in the background, within a memory budget.
//! Proved with the real plugins against a real S3 server (requests counted at
//! the server) and a real HTTP API whose answers the tests hold back or fail,
//! and through the query service `codelake serve` runs.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use catalog_core::{Accelerate, Environment, Interval, Table, TableSpec};
use catalog_runtime::{Accelerator, CopyStatus, register_tables};
use catalog_serve::{Caller, Limits, QueryService, Tokens};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;

use crate::s3::{S3Server, SECRET_KEY};
use crate::support::{ints, plugins};

const GIB: u64 = 1 << 30;

/// `tpch.part` with keys `1..=rows`, written to `server`.
fn write_part(server: &S3Server, rows: i64) {
    let parts: Vec<tables::tpch::Part> = (1..=rows)
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
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// `name`'s declaration, accelerated and refreshed every `refresh`.
fn accelerated(name: &str, refresh: &str) -> TableSpec {
    TableSpec {
        accelerate: Some(Accelerate::Memory),
        refresh: Some(Interval::parse(refresh).unwrap()),
        ..tables::REGISTRY.get(name).unwrap().clone()
    }
}

/// A session with `specs` registered in `env`.
fn session(specs: &[TableSpec], env: &Environment) -> Arc<SessionContext> {
    let ctx = Arc::new(SessionContext::new());
    let failures = register_tables(&ctx, &plugins(), specs, env);
    assert!(failures.is_empty(), "{failures:#?}");
    ctx
}

async fn shown(ctx: &SessionContext, sql: &str) -> String {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

/// Waits, up to 30 s, until `done` holds of the accelerated copies.
async fn until(
    what: &str,
    statuses: impl Fn() -> Vec<CopyStatus>,
    done: impl Fn(&[CopyStatus]) -> bool,
) {
    let started = Instant::now();
    loop {
        let now = statuses();
        if done(&now) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "30 s passed waiting for {what}: {now:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accelerated_table_answers_from_memory_and_no_request_reaches_s3() {
    let server = S3Server::start().await;
    write_part(&server, 1000);
    let data = tempfile::tempdir().unwrap();
    let env = Environment::new("test", data.path()).with_s3(server.settings(SECRET_KEY));
    let spec = accelerated("tpch.part", "1h");
    let ctx = session(std::slice::from_ref(&spec), &env);
    let accelerator = Accelerator::install(&ctx, std::slice::from_ref(&spec), GIB).await;
    let copies = accelerator.load_all(&ctx.state()).await;
    assert_eq!(copies.len(), 1);
    let copy = &copies[0];
    assert_eq!(
        (copy.table.as_str(), copy.rows, copy.loads),
        ("tpch.part", 1000, 1)
    );
    assert!(
        copy.bytes > 0 && copy.last_error.is_none() && copy.refused.is_none(),
        "{copy:?}"
    );

    let read = server.gets();
    let sql = "SELECT count(*), sum(p_partkey), max(p_name) FROM tpch.part WHERE p_size > 25";
    let answer = shown(&ctx, sql).await;
    assert!(answer.contains("| 500      | 256000 "), "{answer}");
    assert_eq!(
        ints(
            &ctx,
            "SELECT count(*) FROM tpch.part a JOIN tpch.part b ON a.p_partkey = b.p_partkey + 1"
        )
        .await,
        [999]
    );
    assert_eq!(
        server.gets(),
        read,
        "queries of an accelerated table read nothing from S3"
    );
    let explained = shown(&ctx, &format!("EXPLAIN {sql}")).await;
    assert!(
        explained.contains("AcceleratedExec: table=tpch.part, copy=memory, age=")
            && !explained.contains("parquet"),
        "EXPLAIN shows the copy, and no Parquet scan:\n{explained}"
    );
    // Not the byte-range cache: with the object gone, the copy still answers.
    std::fs::remove_file(server.object_path("codelake", "tpch/part.parquet")).unwrap();
    assert_eq!(shown(&ctx, sql).await, answer);
    assert_eq!(server.gets(), read);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_that_outgrows_the_budget_is_dropped_and_comes_back_once_it_fits() {
    let server = S3Server::start().await;
    write_part(&server, 1000);
    let data = tempfile::tempdir().unwrap();
    let env = Environment::new("test", data.path()).with_s3(server.settings(SECRET_KEY));
    let spec = accelerated("tpch.part", "1h");
    let ctx = session(std::slice::from_ref(&spec), &env);
    let small = {
        let probe = Accelerator::install(&ctx, std::slice::from_ref(&spec), GIB).await;
        probe.load_all(&ctx.state()).await[0].bytes
    };
    let ctx = session(std::slice::from_ref(&spec), &env);
    let accelerator = Accelerator::install(&ctx, std::slice::from_ref(&spec), small * 2).await;
    assert_eq!(accelerator.load_all(&ctx.state()).await[0].rows, 1000);

    // Five times the rows: the refresh does not fit. The copy is dropped, so
    // queries read the source (fresh), not a copy that only grows older.
    write_part(&server, 5000);
    let copies = accelerator.load_all(&ctx.state()).await;
    assert!(
        copies[0].loaded_at.is_none()
            && copies[0]
                .refused
                .as_deref()
                .is_some_and(|why| why.contains("tried again every refresh")),
        "{copies:#?}"
    );
    assert_eq!(ints(&ctx, "SELECT count(*) FROM tpch.part").await, [5000]);
    let explained = shown(&ctx, "EXPLAIN SELECT p_name FROM tpch.part").await;
    assert!(!explained.contains("AcceleratedExec"), "{explained}");

    // Back to a size that fits: the next refresh accelerates the table again.
    write_part(&server, 800);
    let copies = accelerator.load_all(&ctx.state()).await;
    assert!(
        copies[0].refused.is_none() && copies[0].rows == 800 && copies[0].loads == 2,
        "{copies:#?}"
    );
    let read = server.gets();
    assert_eq!(ints(&ctx, "SELECT count(*) FROM tpch.part").await, [800]);
    assert_eq!(server.gets(), read, "the copy answers again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_over_an_accelerated_table_reads_its_copy() {
    let fx = Fx::start().await;
    let data = tempfile::tempdir().unwrap();
    let env = fx.env(&data);
    let specs = [
        accelerated("tpch.exchange_rates", "1h"),
        tables::REGISTRY.get("tpch.price_tiers").unwrap().clone(),
        tables::REGISTRY
            .get("tpch.price_tiers_local")
            .unwrap()
            .live(),
    ];
    let ctx = session(&specs, &env);
    let accelerator = Accelerator::install(&ctx, &specs, GIB).await;
    let copies = accelerator.load_all(&ctx.state()).await;
    assert_eq!((copies.len(), copies[0].rows), (1, 2), "{copies:#?}");

    let asked = fx.server.requests();
    let sql = "SELECT count(DISTINCT currency) FROM tpch.price_tiers_local";
    assert_eq!(ints(&ctx, sql).await, [2]);
    assert_eq!(
        fx.server.requests(),
        asked,
        "the view reads the accelerated table's copy, not the API"
    );
    let explained = shown(&ctx, &format!("EXPLAIN {sql}")).await;
    assert!(
        explained.contains("AcceleratedExec: table=tpch.exchange_rates"),
        "{explained}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_scan_of_a_copy_skips_the_batches_its_zones_rule_out() {
    let server = S3Server::start().await;
    // 40,000 parts in key order: the copy holds them as five batches of at
    // most 8,192 rows, each over its own range of keys.
    write_part(&server, 40_000);
    let data = tempfile::tempdir().unwrap();
    let env = Environment::new("test", data.path()).with_s3(server.settings(SECRET_KEY));
    let spec = accelerated("tpch.part", "1h");
    let ctx = session(std::slice::from_ref(&spec), &env);
    let accelerator = Accelerator::install(&ctx, std::slice::from_ref(&spec), GIB).await;
    assert_eq!(accelerator.load_all(&ctx.state()).await[0].rows, 40_000);

    let cases = [
        (
            "p_partkey BETWEEN 10000 AND 10100",
            "1 of 5",
            [101, 1_015_050],
        ),
        (
            "p_partkey < 10 OR p_partkey > 39990",
            "2 of 5",
            [19, 45 + 399_955],
        ),
        // No batch can match: the scan knows it holds no rows, so the count
        // is answered from its statistics and nothing is scanned at all.
        ("p_partkey > 50000", "", [0, 0]),
        // Sizes cycle through every batch: nothing to skip, all rows kept.
        ("p_size > 25", "5 of 5", [20_000, 400_240_000]),
    ];
    for (filter, batches, answer) in cases {
        let count = format!("SELECT count(*) FROM tpch.part WHERE {filter}");
        let sum = format!("SELECT coalesce(sum(p_partkey), 0) FROM tpch.part WHERE {filter}");
        let explained = shown(&ctx, &format!("EXPLAIN {count}")).await;
        if batches.is_empty() {
            assert!(
                !explained.contains("Exec: table=") && explained.contains("PlaceholderRowExec"),
                "`{filter}` scans nothing:\n{explained}"
            );
        } else {
            assert!(
                explained.contains(&format!("batches={batches}")),
                "`{filter}` scans {batches} batches:\n{explained}"
            );
        }
        let got = [ints(&ctx, &count).await[0], ints(&ctx, &sum).await[0]];
        assert_eq!(got, answer, "{filter}");
    }
}

/// An FX API whose rates the test sets, and whose answers it can hold back:
/// while `held`, a request waits (up to 30 s) until the test lets it go.
struct Fx {
    server: crate::http::HttpServer,
    /// 0: answer, 1: hold, 2: fail with 400.
    mode: Arc<AtomicU8>,
    rates: Arc<Mutex<usize>>,
    gate: Arc<(Mutex<bool>, Condvar)>,
    /// Requests held so far.
    held: Arc<AtomicUsize>,
}

impl Fx {
    async fn start() -> Self {
        crate::plugins::set_fx_token();
        let mode = Arc::new(AtomicU8::new(0));
        let rates = Arc::new(Mutex::new(2));
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let held = Arc::new(AtomicUsize::new(0));
        let (m, r, g, h) = (
            Arc::clone(&mode),
            Arc::clone(&rates),
            Arc::clone(&gate),
            Arc::clone(&held),
        );
        let server = crate::http::HttpServer::start(move |_| {
            match m.load(Ordering::SeqCst) {
                2 => return (400, r#"{"error": "the FX API is down for maintenance"}"#.to_owned()),
                1 => {
                    h.fetch_add(1, Ordering::SeqCst);
                    // Off the worker, whose timers and sockets other tasks need meanwhile.
                    tokio::task::block_in_place(|| {
                        let (open, opened) = &*g;
                        let guard = open.lock().unwrap();
                        let _ = opened
                            .wait_timeout_while(guard, Duration::from_secs(30), |open| !*open)
                            .unwrap();
                    });
                }
                _ => {}
            }
            let rows: Vec<String> = (0..*r.lock().unwrap())
                .map(|key| format!(r#"{{"currency": "C{key}", "rate_to_usd": 1.5, "as_of": "2026-11-25T00:00:00Z", "n_nationkey": {key}}}"#))
                .collect();
            (200, format!(r#"{{"rates": [{}], "next": null}}"#, rows.join(",")))
        })
        .await;
        Self {
            server,
            mode,
            rates,
            gate,
            held,
        }
    }

    fn env(&self, data: &tempfile::TempDir) -> Environment {
        let mut env = Environment::new("test", data.path());
        env.http_base_url = Some(self.server.base_url.clone());
        env
    }

    fn release(&self) {
        let (open, opened) = &*self.gate;
        *open.lock().unwrap() = true;
        opened.notify_all();
    }
}

/// A query service over `specs` with their copies loading on its runtime, as
/// `codelake serve` runs it; and the session it was made from, which the
/// plugins plan through (keep it as long as the service).
async fn service(
    specs: Vec<TableSpec>,
    env: &Environment,
    budget: u64,
) -> (QueryService, Arc<SessionContext>) {
    let ctx = session(&specs, env);
    let accelerator = Accelerator::install(&ctx, &specs, budget).await;
    let service = QueryService::new(
        &ctx,
        specs,
        Vec::new(),
        Tokens::new(["token"]),
        Limits::default(),
    )
    .unwrap();
    service.accelerate(accelerator);
    (service, ctx)
}

const CALLER: Caller = Caller {
    front_end: "test",
    address: None,
};

/// Rows of `sql`'s answer, through the service.
async fn rows(service: &QueryService, sql: &str) -> usize {
    let stream = service.query(sql, CALLER).await.unwrap();
    let batches: Vec<_> = stream.try_collect().await.unwrap();
    batches.iter().map(|batch| batch.num_rows()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn a_refresh_picks_up_new_data_and_the_old_copy_is_served_meanwhile() {
    let fx = Fx::start().await;
    let data = tempfile::tempdir().unwrap();
    let spec = accelerated("tpch.exchange_rates", "1s");
    let (service, _ctx) = service(vec![spec], &fx.env(&data), GIB).await;
    until(
        "the first copy",
        || service.accelerated(),
        |copies| copies[0].loads == 1,
    )
    .await;
    let sql = "SELECT * FROM tpch.exchange_rates";
    assert_eq!(rows(&service, sql).await, 2);

    // The API now has five rates, and holds its answer to the next refresh.
    *fx.rates.lock().unwrap() = 5;
    fx.mode.store(1, Ordering::SeqCst);
    let started = Instant::now();
    while fx.held.load(Ordering::SeqCst) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no refresh came"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A refresh is in flight: queries answer at once, from the old copy.
    for _ in 0..3 {
        assert_eq!(
            rows(&service, sql).await,
            2,
            "the old copy, during the refresh"
        );
    }
    assert_eq!(service.accelerated()[0].loads, 1);
    fx.release();
    until(
        "the refresh",
        || service.accelerated(),
        |copies| copies[0].loads >= 2,
    )
    .await;
    assert_eq!(
        rows(&service, sql).await,
        5,
        "the new copy, after the refresh"
    );
    let copy = &service.accelerated()[0];
    assert_eq!((copy.rows, copy.failures), (5, 0), "{copy:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_keeps_the_old_copy_and_says_so_in_the_metrics() {
    let fx = Fx::start().await;
    let data = tempfile::tempdir().unwrap();
    let spec = accelerated("tpch.exchange_rates", "1s");
    let (service, _ctx) = service(vec![spec], &fx.env(&data), GIB).await;
    until(
        "the first copy",
        || service.accelerated(),
        |copies| copies[0].loads == 1,
    )
    .await;
    let loaded_at = service.accelerated()[0].loaded_at;

    fx.mode.store(2, Ordering::SeqCst);
    until(
        "a failed refresh",
        || service.accelerated(),
        |copies| copies[0].failures >= 1,
    )
    .await;
    let copy = service.accelerated()[0].clone();
    assert_eq!(
        (copy.loads, copy.rows, copy.loaded_at),
        (1, 2, loaded_at),
        "{copy:?}"
    );
    let error = copy.last_error.unwrap();
    assert!(
        error.contains("tpch.exchange_rates")
            && error.contains("400")
            && error.contains("queries read the copy of 20"),
        "{error}"
    );
    assert!(
        !error.contains("fx-test-token"),
        "the credential leaked: {error}"
    );
    assert_eq!(rows(&service, "SELECT * FROM tpch.exchange_rates").await, 2);
    let metrics = service.metrics().prometheus();
    assert!(
        metrics.contains(
            "codelake_accelerated_refresh_failures_total{table=\"tpch.exchange_rates\"} "
        ) && !metrics.contains(
            "codelake_accelerated_refresh_failures_total{table=\"tpch.exchange_rates\"} 0\n"
        ) && metrics.contains("codelake_accelerated_copy_rows{table=\"tpch.exchange_rates\"} 2\n")
            && metrics
                .contains("codelake_accelerated_copy_age_seconds{table=\"tpch.exchange_rates\"} ")
            && metrics.contains("codelake_accelerate_budget_bytes 1073741824\n"),
        "{metrics}"
    );

    // The API is back: the next retry (backing off, at most the interval) refreshes.
    fx.mode.store(0, Ordering::SeqCst);
    until(
        "a refresh after the failure",
        || service.accelerated(),
        |copies| copies[0].loads >= 2 && copies[0].last_error.is_none(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_over_the_budget_is_refused_and_the_others_stay_accelerated() {
    let server = S3Server::start().await;
    write_part(&server, 5000);
    let fx = Fx::start().await;
    let data = tempfile::tempdir().unwrap();
    let env = fx.env(&data).with_s3(server.settings(SECRET_KEY));
    let rates = accelerated("tpch.exchange_rates", "1h");
    let part = accelerated("tpch.part", "1h");

    // The budget fits the rates' copy, not the parts'.
    let ctx = session(std::slice::from_ref(&rates), &env);
    let alone = Accelerator::install(&ctx, std::slice::from_ref(&rates), GIB).await;
    let budget = alone.load_all(&ctx.state()).await[0].bytes + 1024;

    let specs = [rates, part];
    let ctx = session(&specs, &env);
    let accelerator = Accelerator::install(&ctx, &specs, budget).await;
    let copies = accelerator.load_all(&ctx.state()).await;
    assert!(
        copies[0].loaded_at.is_some() && copies[0].refused.is_none(),
        "{copies:#?}"
    );
    assert!(copies[1].loaded_at.is_none(), "{copies:#?}");
    let refused = copies[1].refused.as_deref().unwrap();
    assert!(
        refused.starts_with("tpch.part is not accelerated: its copy takes at least ")
            && refused.contains(&format!(
                "left of the acceleration budget of {} (other tables' copies hold ",
                catalog_runtime::accelerate::size(budget)
            ))
            && refused.contains("CODELAKE_ACCELERATE_MEMORY"),
        "{refused}"
    );
    // The refused table answers from its source; the other from memory.
    assert_eq!(
        ints(&ctx, "SELECT count(*) FROM tpch.part WHERE p_size > 0").await,
        [5000]
    );
    let explained = shown(&ctx, "EXPLAIN SELECT p_name FROM tpch.part").await;
    assert!(
        !explained.contains("AcceleratedExec") && explained.contains("parquet"),
        "{explained}"
    );
    let explained = shown(&ctx, "EXPLAIN SELECT currency FROM tpch.exchange_rates").await;
    assert!(
        explained.contains("AcceleratedExec: table=tpch.exchange_rates"),
        "{explained}"
    );
    let asked = fx.server.requests();
    assert_eq!(
        ints(&ctx, "SELECT count(*) FROM tpch.exchange_rates").await,
        [2]
    );
    assert_eq!(
        fx.server.requests(),
        asked,
        "the accelerated table asks the API nothing"
    );
}

/// The catalog declares `tpch.exchange_rates` accelerated: `codelake serve`
/// loads its copy in the background and shows it in `/metrics` and `EXPLAIN`;
/// one-shot commands read the source (a cold start loads nothing), and
/// `verify --accelerated` checks the copy. Served from a manifest that also
/// accelerates `tpch.region` (`serve --catalog`), a refresh that fails once
/// its CSV file goes bad reaches `verify --serve`'s report, while the server
/// keeps answering from the old copy.
#[test]
fn serve_keeps_the_declared_copy_and_one_shot_commands_read_the_source() {
    use crate::cli::{assert_ok, run, seeded_project, stdout};

    let dir = seeded_project();
    let listed = run(dir.path(), &["tables"]);
    assert_ok(&listed);
    let line = stdout(&listed)
        .lines()
        .find(|line| line.contains("tpch.exchange_rates"))
        .map(str::to_owned)
        .unwrap();
    assert!(line.contains("memory, every 5m"), "{line}");

    let sql = "EXPLAIN SELECT currency FROM tpch.exchange_rates";
    let explained = run(dir.path(), &["sql", sql]);
    assert_ok(&explained);
    let plan = stdout(&explained);
    assert!(
        !plan.contains("AcceleratedExec") && plan.contains("tpch.exchange_rates"),
        "a one-shot query reads the source:\n{plan}"
    );

    let verified = run(
        dir.path(),
        &[
            "verify",
            "--accelerated",
            "--format",
            "json",
            "--table",
            "tpch.exchange_rates",
        ],
    );
    assert_ok(&verified);
    let report: serde_json::Value = serde_json::from_str(&stdout(&verified)).unwrap();
    let check = report["tables"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["check"] == "accelerated")
        .cloned()
        .unwrap_or_else(|| panic!("no accelerated check: {report:#}"));
    assert_eq!(check["status"], "pass", "{check:#}");

    // The built-in catalog, with `tpch.region` accelerated too and refreshed every second.
    let manifest = dir.path().join("accelerated.json");
    let catalog = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tables/catalog.json"),
    )
    .unwrap();
    let mut catalog: serde_json::Value = serde_json::from_str(&catalog).unwrap();
    for table in catalog["tables"].as_array_mut().unwrap() {
        if table["name"] == "region" {
            table["accelerate"] = "memory".into();
            table["refresh"] = serde_json::json!({ "text": "1s", "seconds": 1 });
        }
    }
    std::fs::write(&manifest, catalog.to_string()).unwrap();
    let server = crate::serve::Server::start(
        dir.path(),
        &[
            "--flight-listen",
            "off",
            "--pg-listen",
            "off",
            "--catalog",
            manifest.to_str().unwrap(),
        ],
    );
    let started = Instant::now();
    let loaded = "codelake_accelerated_loads_total{table=\"tpch.exchange_rates\"} 1";
    loop {
        let metrics = server.metrics();
        if metrics.lines().any(|line| line == loaded) {
            assert!(
                metrics.contains("codelake_accelerated_copy_rows{table=\"tpch.exchange_rates\"} ")
                    && metrics.contains("codelake_accelerate_budget_bytes 1073741824"),
                "{metrics}"
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no copy loaded:\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let plan = server.sql(sql, "text/csv").text();
    assert!(
        plan.contains("AcceleratedExec: table=tpch.exchange_rates, copy=memory"),
        "{plan}"
    );
    verify_serve_reports_the_served_copies(dir.path(), &server, &manifest);
}

/// `codelake verify --serve` against `server`, which accelerates
/// `tpch.region` every second: both copies pass once loaded; once a refresh
/// failed, the `accelerated` check warns (the copy is young), naming the file
/// and the server's retry, while the server answers from the old copy; bad
/// addresses and a wrong token are refused without printing a secret.
fn verify_serve_reports_the_served_copies(
    dir: &std::path::Path,
    server: &crate::serve::Server,
    manifest: &std::path::Path,
) {
    use crate::cli::{codelake, stderr, stdout};

    let url = format!("http://{}", server.address);
    let verify = |token: &str| {
        codelake(dir)
            .args(["verify", "--format", "json", "--serve", &url, "--catalog"])
            .arg(manifest)
            .args(["--table", "tpch.region", "--table", "tpch.exchange_rates"])
            .env("CODELAKE_TOKEN", token)
            .output()
            .unwrap()
    };
    let accelerated = |report: &serde_json::Value, table: usize| {
        report["tables"][table]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|check| check["check"] == "accelerated")
            .cloned()
            .unwrap_or_else(|| panic!("no accelerated check: {report:#}"))
    };
    until_metric(
        server,
        "codelake_accelerated_loads_total{table=\"tpch.region\"} ",
    );
    let listed = server
        .request(
            "GET",
            "/v1/tables/tpch/region",
            &[("Authorization", &format!("Bearer {}", crate::serve::TOKEN))],
            b"",
        )
        .json();
    assert!(
        listed["accelerate"] == "memory"
            && listed["refresh"] == "1s"
            && listed["copy"]["rows"] == 5
            && listed["copy"]["loaded_at"].is_string(),
        "{listed:#}"
    );
    let verified = verify(crate::serve::TOKEN);
    let report: serde_json::Value = serde_json::from_str(&stdout(&verified))
        .unwrap_or_else(|error| panic!("{error}: {}", stderr(&verified)));
    assert_eq!(report["copies_from"], url.as_str(), "{report:#}");
    for table in [0, 1] {
        let check = accelerated(&report, table);
        assert_eq!(check["status"], "pass", "{check:#}");
    }

    // The region file goes bad: the server's next refresh fails, and it keeps the old copy.
    // Rewritten, not deleted (a one-shot command would seed a missing file
    // again), and renamed into place, so no refresh reads it half-written.
    let bad = dir.join(".codelake/local/tpch/region.csv.new");
    std::fs::write(&bad, "not_a_region|nor_this\n1|2\n").unwrap();
    std::fs::rename(&bad, dir.join(".codelake/local/tpch/region.csv")).unwrap();
    until_metric(
        server,
        "codelake_accelerated_refresh_failures_total{table=\"tpch.region\"} ",
    );
    let answer = server.sql("SELECT count(*) AS n FROM tpch.region", "text/csv");
    assert_eq!(answer.text().trim(), "n\n5", "the old copy answers");
    let verified = verify(crate::serve::TOKEN);
    assert!(!verified.status.success(), "{}", stdout(&verified));
    let report: serde_json::Value = serde_json::from_str(&stdout(&verified)).unwrap();
    // A copy seconds old, its refresh due every second: a warning until the
    // copy is older than the interval plus the longest a load may take.
    let check = accelerated(&report, 0);
    let problem = check["problems"][0]["message"].as_str().unwrap_or_default();
    let fix = check["problems"][0]["fix"].as_str().unwrap_or_default();
    assert!(
        check["status"] == "warn"
            && check["message"]
                .as_str()
                .unwrap()
                .starts_with("its last refresh failed; queries read a copy ")
            && problem.contains("tpch.region")
            && problem.contains("region.csv has 2 fields")
            && fix.contains(&format!("the server at {url} retries on its own")),
        "{check:#}"
    );
    assert_eq!(accelerated(&report, 1)["status"], "pass", "{report:#}");

    // Bad addresses stop verify before it starts anything, and print no secret.
    for (bad, said_here) in [
        (
            format!("http://user:secret-do-not-print@{}", server.address),
            "the URL holds a user name or password",
        ),
        (
            "http://192.0.2.1:8080".to_owned(),
            "the token would cross the network in clear text",
        ),
        (
            "ftp://127.0.0.1:21".to_owned(),
            "is not http:// or https://",
        ),
    ] {
        let output = codelake(dir)
            .args(["verify", "--serve", &bad])
            .output()
            .unwrap();
        let said = stderr(&output);
        assert!(
            output.status.code() == Some(3)
                && said.contains(said_here)
                && !said.contains("secret-do-not-print"),
            "{bad}: {said}"
        );
    }
    let refused = verify("wrong-token-do-not-print");
    let said = stderr(&refused);
    assert!(
        !refused.status.success()
            && said.contains(&format!(
                "`codelake serve` at {url} refused the token from CODELAKE_TOKEN"
            ))
            && !said.contains("wrong-token-do-not-print"),
        "{said}"
    );
}

/// Waits until a line of `server`'s metrics starts with `prefix` and is not 0.
fn until_metric(server: &crate::serve::Server, prefix: &str) {
    let started = Instant::now();
    loop {
        let metrics = server.metrics();
        if metrics
            .lines()
            .any(|line| line.starts_with(prefix) && !line.ends_with(" 0"))
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no `{prefix}` above 0:\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
