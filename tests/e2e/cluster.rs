//! The catalog across processes: real `codelake worker` processes on loopback
//! port 0 (started by `codelake local up --workers 2`, or one by one), a
//! coordinator in this process or as `codelake sql|serve --workers`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use catalog_cluster::{CatalogHash, Cluster, ClusterToken};
use catalog_core::TableSpec;
use catalog_env::local::LocalEnvironment;
use datafusion::prelude::SessionContext;

use crate::cli::{assert_ok, codelake, run, seeded_project, stderr, stdout};
use crate::serve::{Server, TOKEN};

/// The 22 TPC-H queries, as the bench runs them.
const TPCH: [(&str, &str); 22] = [
    ("q01", include_str!("../../xtask/bench/queries/q01.sql")),
    ("q02", include_str!("../../xtask/bench/queries/q02.sql")),
    ("q03", include_str!("../../xtask/bench/queries/q03.sql")),
    ("q04", include_str!("../../xtask/bench/queries/q04.sql")),
    ("q05", include_str!("../../xtask/bench/queries/q05.sql")),
    ("q06", include_str!("../../xtask/bench/queries/q06.sql")),
    ("q07", include_str!("../../xtask/bench/queries/q07.sql")),
    ("q08", include_str!("../../xtask/bench/queries/q08.sql")),
    ("q09", include_str!("../../xtask/bench/queries/q09.sql")),
    ("q10", include_str!("../../xtask/bench/queries/q10.sql")),
    ("q11", include_str!("../../xtask/bench/queries/q11.sql")),
    ("q12", include_str!("../../xtask/bench/queries/q12.sql")),
    ("q13", include_str!("../../xtask/bench/queries/q13.sql")),
    ("q14", include_str!("../../xtask/bench/queries/q14.sql")),
    ("q15", include_str!("../../xtask/bench/queries/q15.sql")),
    ("q16", include_str!("../../xtask/bench/queries/q16.sql")),
    ("q17", include_str!("../../xtask/bench/queries/q17.sql")),
    ("q18", include_str!("../../xtask/bench/queries/q18.sql")),
    ("q19", include_str!("../../xtask/bench/queries/q19.sql")),
    ("q20", include_str!("../../xtask/bench/queries/q20.sql")),
    ("q21", include_str!("../../xtask/bench/queries/q21.sql")),
    ("q22", include_str!("../../xtask/bench/queries/q22.sql")),
];

/// Spread every scan as thin as it goes: at the test's scale, the default
/// (16 MiB a partition) would leave each scan one task, run by the coordinator.
const SPREAD: &str = "SET distributed.file_scan_config_bytes_per_partition = 1";

/// The environment `local up` runs in a project directory.
fn data_dir(dir: &Path) -> std::path::PathBuf {
    dir.join(".codelake/local")
}

/// A `codelake worker` process; killed when dropped.
struct Worker {
    child: Child,
    url: String,
}

impl Worker {
    /// `codelake worker ARGS` in `dir` (on `--listen 127.0.0.1:0` unless ARGS
    /// say), once it says where it listens.
    fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = codelake(dir);
        command.arg("worker");
        if !args.contains(&"--listen") {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        command.args(args);
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = match lines.next() {
            Some(line) => line.unwrap(),
            None => {
                let output = child.wait_with_output().unwrap();
                panic!("`codelake worker` exited: {}", stderr(&output));
            }
        };
        let url = line
            .strip_prefix("Worker on ")
            .map(|rest| rest.split(':').take(3).collect::<Vec<_>>().join(":"))
            .unwrap_or_else(|| panic!("`codelake worker` printed {line:?}"));
        std::thread::spawn(move || for _ in lines {});
        Self { child, url }
    }

    /// `127.0.0.1:PORT`.
    fn address(&self) -> &str {
        self.url.trim_start_matches("http://")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `local down` in `dir` when dropped, whatever the test did.
struct LocalDown<'a>(&'a Path);

impl Drop for LocalDown<'_> {
    fn drop(&mut self) {
        let _ = run(self.0, &["local", "down"]);
    }
}

/// Each row of `sql` in `ctx`, as text, sorted: TPC-H's `ORDER BY`s leave ties
/// in any order, and an order that differs is not a wrong answer.
async fn sorted_rows(ctx: &SessionContext, name: &str, sql: &str) -> Vec<String> {
    let frame = ctx
        .sql(sql)
        .await
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    let batches = frame
        .collect()
        .await
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    let mut rows: Vec<String> = crate::serve::rows(&batches)
        .into_iter()
        .map(|row| row.to_string())
        .collect();
    rows.sort();
    rows
}

/// `local up --workers 2`, then the 22 TPC-H queries planned in this process
/// across the two workers, against the same queries in one process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tpch_gives_the_same_rows_across_two_workers_and_explain_shows_the_stages() {
    let dir = seeded_project();
    let _down = LocalDown(dir.path());
    let up = run(dir.path(), &["local", "up", "--workers", "2"]);
    assert_ok(&up);
    assert!(
        stdout(&up).contains("Local workers (2):"),
        "{}",
        stdout(&up)
    );
    let status = run(dir.path(), &["local", "status"]);
    assert_ok(&status);
    let urls: Vec<String> = (1..=2)
        .map(|index| {
            std::fs::read_to_string(data_dir(dir.path()).join(format!("workers/{index}.url")))
                .unwrap()
                .trim()
                .to_owned()
        })
        .collect();
    for url in &urls {
        assert!(
            stdout(&status).contains(url.as_str()),
            "{}",
            stdout(&status)
        );
    }

    // The coordinator: this process, with the catalog and plugins the workers loaded.
    let environment = LocalEnvironment::attach(&data_dir(dir.path()))
        .expect("`local up` runs the environment")
        .environment();
    let plugins = crate::support::plugins();
    let specs: Vec<&TableSpec> = tables::REGISTRY.tables().collect();
    let single = std::sync::Arc::new(SessionContext::new_with_config(
        catalog_runtime::session_config(),
    ));
    let failures = catalog_runtime::register_tables(&single, &plugins, specs.clone(), &environment);
    assert!(failures.is_empty(), "{failures:?}");
    let catalog = CatalogHash::of(
        &specs,
        plugins
            .plugins
            .iter()
            .map(|plugin| (plugin.name.as_str(), plugin.version.as_str())),
        &environment.name,
    );
    let workers = Cluster::parse_workers(&urls.join(",")).unwrap();
    // `local up --workers` made the workers a token (0600): without it they refuse.
    let token_path = data_dir(dir.path()).join("workers/token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&token_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", token_path.display());
    }
    let secret = std::fs::read_to_string(&token_path).unwrap();
    let refused = Cluster::connect(workers.clone(), catalog.clone(), None, None).await;
    assert!(
        matches!(refused, Err(ref error) if error.to_string().contains("CODELAKE_WORKER_TOKEN")),
        "{:?}",
        refused.err()
    );
    // The rows of one process first: distributing wraps the tables of the
    // catalog it shares with `single`.
    let mut expected = Vec::new();
    for (name, sql) in TPCH {
        expected.push(sorted_rows(&single, name, sql).await);
    }
    let token = ClusterToken::new(&secret).unwrap();
    let cluster = Cluster::connect(workers, catalog, token, None)
        .await
        .unwrap();
    let distributed =
        SessionContext::new_with_state(cluster.distribute(single.state()).await.unwrap());
    distributed.sql(SPREAD).await.unwrap();

    for ((name, sql), expected) in TPCH.iter().zip(expected) {
        let across = sorted_rows(&distributed, name, sql).await;
        assert_eq!(across, expected, "{name} across two workers");
    }
    // Both workers ran tasks: the rows above did cross processes.
    let tasks = cluster.tasks_by_worker();
    for url in &urls {
        let sent = tasks
            .iter()
            .find(|(worker, _)| worker.trim_end_matches('/') == url)
            .map_or(0, |(_, count)| *count);
        assert!(sent > 0, "no task was sent to {url}: {tasks:?}");
    }

    // `codelake sql --workers local`: EXPLAIN shows the stages and their task counts.
    let explain = format!("{SPREAD}; EXPLAIN {}", TPCH[0].1);
    let output = run(
        dir.path(),
        &["sql", "--workers", "local", "-f", "csv", &explain],
    );
    assert_ok(&output);
    let plan = stdout(&output);
    for shown in [
        "DistributedExec",
        "Stage 1 ── tasks=2",
        "NetworkShuffleExec",
        "DistributedLeafExec",
    ] {
        assert!(plan.contains(shown), "{shown} is not in\n{plan}");
    }
    // Without --workers, nothing changes.
    let output = run(
        dir.path(),
        &["sql", "-f", "csv", &format!("EXPLAIN {}", TPCH[0].1)],
    );
    assert_ok(&output);
    assert!(!stdout(&output).contains("Stage"), "{}", stdout(&output));

    // `local down` stops the workers too.
    let down = run(dir.path(), &["local", "down"]);
    assert_ok(&down);
    assert!(
        stdout(&down).contains("Stopped 2 local workers"),
        "{}",
        stdout(&down)
    );
    assert!(
        crate::cli::stdout(&run(dir.path(), &["local", "status"])).is_empty(),
        "status after down"
    );
}

/// A worker that goes away fails the query that used it, naming it; the
/// server keeps serving, on the other worker. A worker that cannot be reached
/// at the start is reported, and queries run on the others.
#[test]
fn a_worker_that_dies_fails_its_query_by_name_and_the_server_keeps_serving() {
    let dir = seeded_project();
    let _down = LocalDown(dir.path());
    assert_ok(&run(dir.path(), &["local", "up"]));
    let first = Worker::start(dir.path(), &[], &[]);
    let mut second = Worker::start(dir.path(), &[], &[]);
    // Nothing listens on a port that was just free.
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone_address = gone.local_addr().unwrap().to_string();
    drop(gone);

    // `sql`: an unreachable worker is reported, and the query runs on the others.
    let workers = format!("{},{},{gone_address}", first.address(), second.address());
    let q1 = TPCH[0].1;
    let output = run(
        dir.path(),
        &[
            "sql",
            "--workers",
            &workers,
            "--bytes-per-partition",
            "1",
            "-f",
            "json",
            q1,
        ],
    );
    assert_ok(&output);
    assert!(
        stderr(&output).contains(&format!("worker http://{gone_address}/ unreachable")),
        "{}",
        stderr(&output)
    );
    let single = run(dir.path(), &["sql", "-f", "json", q1]);
    assert_ok(&single);
    assert_eq!(stdout(&output), stdout(&single));

    let server = Server::start(
        dir.path(),
        &[
            "--workers",
            &format!("{},{}", first.address(), second.address()),
            "--bytes-per-partition",
            "1",
        ],
    );
    let auth = format!("Bearer {TOKEN}");
    let headers = [("Authorization", auth.as_str())];
    let reply = server.request("POST", "/v1/sql", &headers, q1.as_bytes());
    assert_eq!(reply.status, 200, "{}", reply.text());

    // A table kept in memory (an HTTP API's, `accelerate = "memory"`): once
    // its copy is loaded, a query over it across the workers gives the rows
    // one process gives (its scan travels by the table's name).
    let loaded = "codelake_accelerated_loads_total{table=\"tpch.exchange_rates\"}";
    let started = Instant::now();
    loop {
        let metrics = server.request("GET", "/metrics", &headers, b"").text();
        if metrics
            .lines()
            .filter_map(|line| line.strip_prefix(loaded))
            .any(|value| value.trim().parse::<f64>().is_ok_and(|loads| loads > 0.0))
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the copy of tpch.exchange_rates did not load:\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let fx = "SELECT n.n_name, e.currency, e.rate_to_usd FROM tpch.exchange_rates e \
              JOIN tpch.nation n ON e.n_nationkey = n.n_nationkey ORDER BY 1, 2";
    let reply = server.sql(fx, "text/csv");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let single = run(dir.path(), &["sql", "-f", "csv", fx]);
    assert_ok(&single);
    assert_eq!(reply.text(), stdout(&single));

    // The second worker dies between queries: the server still thinks it
    // ready, so the next query that sends it a task fails, naming it.
    let _ = second.child.kill();
    let _ = second.child.wait();
    let reply = server.request("POST", "/v1/sql", &headers, q1.as_bytes());
    assert!(reply.status >= 500, "{}: {}", reply.status, reply.text());
    assert!(
        reply.text().contains(&second.url),
        "the error names the worker {}: {}",
        second.url,
        reply.text()
    );
    // Within a few probes it stops taking tasks, and queries answer again.
    let answers_within = |seconds: u64, what: &str| {
        let started = Instant::now();
        loop {
            let reply = server.request("POST", "/v1/sql", &headers, q1.as_bytes());
            if reply.status == 200 {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(seconds),
                "the server did not {what}: {}",
                reply.text()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    };
    answers_within(20, "recover from the lost worker");
    // `/metrics` says which worker takes tasks and how many each was sent.
    let metrics = server.request("GET", "/metrics", &headers, b"").text();
    let value = |name: &str, worker: &Worker| -> f64 {
        let prefix = format!("{name}{{worker=\"http://{}/\"}} ", worker.address());
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(prefix.as_str()))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in\n{metrics}"))
    };
    assert_eq!(value("codelake_worker_ready", &first), 1.0);
    assert_eq!(value("codelake_worker_ready", &second), 0.0);
    assert!(
        value("codelake_worker_tasks_total", &first)
            + value("codelake_worker_tasks_total", &second)
            > 0.0,
        "{metrics}"
    );
    // With every worker gone, the server plans in its own process and keeps answering.
    drop(first);
    answers_within(20, "answer without workers");
    drop(server);

    // Workers that die in the middle of a query: it fails, naming one of
    // them, instead of waiting. A pairwise comparison of every lineitem row
    // (no pair qualifies) keeps both busy for minutes.
    let third = Worker::start(dir.path(), &[], &[]);
    let fourth = Worker::start(dir.path(), &[], &[]);
    let heavy = "SELECT count(*) FROM tpch.lineitem a CROSS JOIN tpch.lineitem b \
                 WHERE a.l_quantity + b.l_quantity > 1000";
    let mut query = codelake(dir.path())
        .args(["sql", "--workers"])
        .arg(format!("{},{}", third.address(), fourth.address()))
        .args(["--bytes-per-partition", "1", heavy])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        query.try_wait().unwrap().is_none(),
        "the query should still run"
    );
    let (third_url, fourth_url) = (third.url.clone(), fourth.url.clone());
    drop(third);
    drop(fourth);
    let started = Instant::now();
    while query.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = query.kill();
            panic!("the query still ran 30 s after its workers died");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = query.wait_with_output().unwrap();
    assert!(!output.status.success());
    let said = stderr(&output);
    assert!(
        said.contains(&third_url) || said.contains(&fourth_url),
        "the error names a worker ({third_url} or {fourth_url}): {said}"
    );
}

/// A worker refuses what is not its catalog's coordinator: another catalog,
/// or a call without the cluster token; and it will not listen beyond
/// loopback without the token and an explicit --insecure.
#[test]
fn a_worker_refuses_another_catalog_and_calls_without_its_token() {
    let dir = seeded_project();
    let _down = LocalDown(dir.path());
    assert_ok(&run(dir.path(), &["local", "up"]));

    // Another catalog: the built-in one, less a table.
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tables/catalog.json"),
    )
    .unwrap();
    let mut other: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    other["tables"].as_array_mut().unwrap().pop();
    let other_file = dir.path().join("other.json");
    std::fs::write(&other_file, other.to_string()).unwrap();
    let stranger = Worker::start(
        dir.path(),
        &["--catalog", other_file.to_str().unwrap()],
        &[],
    );
    let output = run(
        dir.path(),
        &["sql", "--workers", stranger.address(), "SELECT 1"],
    );
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!("{}/: refused, it serves catalog", stranger.url)),
        "{}",
        stderr(&output)
    );

    // A token: required of every call.
    let secret = "cluster-token-do-not-print";
    let guarded = Worker::start(dir.path(), &[], &[("CODELAKE_WORKER_TOKEN", secret)]);
    let output = run(
        dir.path(),
        &["sql", "--workers", guarded.address(), "SELECT 1"],
    );
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("CODELAKE_WORKER_TOKEN"),
        "{}",
        stderr(&output)
    );
    let output = codelake(dir.path())
        .args([
            "sql",
            "--workers",
            guarded.address(),
            "--bytes-per-partition",
            "1",
        ])
        .arg(TPCH[5].1)
        .env("CODELAKE_WORKER_TOKEN", secret)
        .output()
        .unwrap();
    assert_ok(&output);
    assert!(!stderr(&output).contains(secret) && !stdout(&output).contains(secret));
    assert!(
        ClusterToken::new(secret)
            .unwrap()
            .is_some_and(|token| !format!("{token:?}").contains(secret))
    );

    // Beyond loopback: the token, and --insecure, or it does not start.
    let refused = run(dir.path(), &["worker", "--listen", "0.0.0.0:0"]);
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("CODELAKE_WORKER_TOKEN"),
        "{}",
        stderr(&refused)
    );
    let refused = codelake(dir.path())
        .args(["worker", "--listen", "0.0.0.0:0"])
        .env("CODELAKE_WORKER_TOKEN", secret)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("--insecure"),
        "{}",
        stderr(&refused)
    );

    // A bad address names itself and the fix.
    let output = run(dir.path(), &["sql", "--workers", "ftp://a:1", "SELECT 1"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("ftp://a:1"), "{}", stderr(&output));
}

#[test]
fn workers_beyond_loopback_speak_tls_to_the_coordinator_and_to_each_other() {
    let dir = seeded_project();
    let _down = LocalDown(dir.path());
    assert_ok(&run(dir.path(), &["local", "up"]));
    let (cert, key) = crate::serve::leaf_certificate(dir.path(), "worker-");
    let (stranger_cert, _) = crate::serve::leaf_certificate(dir.path(), "stranger-");
    let secret = "tls-cluster-token-do-not-print";
    let tls = [
        "--listen",
        "0.0.0.0:0",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--worker-ca",
        &cert,
    ];
    let token = [("CODELAKE_WORKER_TOKEN", secret)];
    let workers = [
        Worker::start(dir.path(), &tls, &token),
        Worker::start(dir.path(), &tls, &token),
    ];
    // Reached at 127.0.0.1, the address in their certificate.
    let urls: Vec<String> = workers
        .iter()
        .map(|worker| {
            assert!(worker.url.starts_with("https://"), "{}", worker.url);
            worker.url.replace("0.0.0.0", "127.0.0.1")
        })
        .collect();
    let first = urls[0].clone();
    let urls = urls.join(",");
    let sql_on = |urls: &str, ca: &str, query: &str| {
        codelake(dir.path())
            .args(["sql", "--workers", urls, "--bytes-per-partition", "1"])
            .args(["--worker-ca", ca, "--format", "csv"])
            .arg(query)
            .env("CODELAKE_WORKER_TOKEN", secret)
            .output()
            .unwrap()
    };
    let sql = |ca: &str, query: &str| sql_on(&urls, ca, query);
    // Q3 joins and shuffles, so the workers read from each other over TLS too.
    let query = TPCH[2].1;
    let alone = run(dir.path(), &["sql", "--format", "csv", query]);
    assert_ok(&alone);
    let across = sql(&cert, &format!("EXPLAIN ANALYZE {query}"));
    assert_ok(&across);
    assert!(stdout(&across).contains("Stage 2"), "{}", stdout(&across));
    // A caller that connects and never says a word holds up no other.
    let idle = std::net::TcpStream::connect(first.trim_start_matches("https://")).unwrap();
    let across = sql(&cert, query);
    assert_ok(&across);
    assert_eq!(stdout(&across), stdout(&alone));
    // Both workers were usable: none was reported unreachable while the idle
    // connection waited for its handshake.
    for unexpected in ["without TLS", "unreachable"] {
        assert!(!stderr(&across).contains(unexpected), "{}", stderr(&across));
    }
    drop(idle);

    // A worker that trusts another CA cannot read from the others (nor from
    // itself): the query fails, saying why.
    let mut doubting = tls;
    doubting[7] = &stranger_cert;
    let doubter = Worker::start(dir.path(), &doubting, &token);
    let mixed = format!("{first},{}", doubter.url.replace("0.0.0.0", "127.0.0.1"));
    let output = sql_on(&mixed, &cert, query);
    assert!(!output.status.success(), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("invalid peer certificate"),
        "{}",
        stderr(&output)
    );

    // Not trusted: refused at the handshake, naming the worker, the reason and the fix.
    let output = sql(&stranger_cert, "SELECT 1");
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    for expected in [
        &urls[..urls.find(',').unwrap()],
        "invalid peer certificate",
        "--worker-ca",
    ] {
        assert!(stderr(&output).contains(expected), "{}", stderr(&output));
    }
    // `codelake sql --workers WORKERS [ARGS] "SELECT 1"` with the token.
    let select_one = |workers: &str, args: &[&str]| {
        codelake(dir.path())
            .args(["sql", "--workers", workers])
            .args(args)
            .arg("SELECT 1")
            .env("CODELAKE_WORKER_TOKEN", secret)
            .output()
            .unwrap()
    };
    // No CA given: the fix is named.
    let output = select_one(&urls, &[]);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--worker-ca"),
        "{}",
        stderr(&output)
    );
    // A plain-text call to a TLS worker gets nowhere.
    let output = select_one(&urls.replace("https://", "http://"), &[]);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    // A CA file that is not one names itself.
    let output = select_one(&urls, &["--worker-ca", &key]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!("--worker-ca {key}")),
        "{}",
        stderr(&output)
    );
    for output in [&across, &output] {
        assert!(!stderr(output).contains(secret) && !stdout(output).contains(secret));
    }
}
