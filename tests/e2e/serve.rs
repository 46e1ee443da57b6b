//! `codelake serve` as a real process on loopback port 0, driven over real
//! HTTP/1.1: formats, tokens, the read-only policy, broken sources, bad
//! clients, limits and shutdown.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use catalog_env::local::FEDERATED_QUERY;
use datafusion::arrow::array::RecordBatch;

use crate::cli::{assert_ok, codelake, run, seeded_project, stderr, stdout};

/// The tokens every test server accepts: two, as during a rotation.
const TOKENS: &str = "first-token-do-not-print,second-token-do-not-print";
pub(crate) const TOKEN: &str = "first-token-do-not-print";

/// A running `codelake serve`; stopped (SIGTERM, then killed) when dropped.
pub(crate) struct Server {
    child: Option<Child>,
    /// `127.0.0.1:PORT`, HTTP's.
    pub(crate) address: String,
    /// `grpc://127.0.0.1:PORT`, Flight SQL's, unless it is off.
    pub(crate) flight: Option<String>,
    /// `127.0.0.1:PORT`, the Postgres wire's, unless it is off.
    pub(crate) pg: Option<String>,
}

impl Server {
    /// `codelake serve --listen 127.0.0.1:0 ARGS` in `dir`, once it says where it listens.
    pub(crate) fn start(dir: &Path, args: &[&str]) -> Self {
        Self::start_on(dir, "127.0.0.1:0", args)
    }

    /// `codelake serve --listen LISTEN ARGS` in `dir` (Flight SQL on a port
    /// of its own, unless ARGS say where); its addresses are the loopback
    /// ones of the ports it picked.
    pub(crate) fn start_on(dir: &Path, listen: &str, args: &[&str]) -> Self {
        let mut command = codelake(dir);
        command.args(["serve", "--listen", listen]);
        if !args.contains(&"--flight-listen") {
            command.args(["--flight-listen", "127.0.0.1:0"]);
        }
        if !args.contains(&"--pg-listen") {
            command.args(["--pg-listen", "127.0.0.1:0"]);
        }
        let mut child = command
            .args(args)
            .env("CODELAKE_SERVE_TOKENS", TOKENS)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("serve.log")).unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut address, mut flight, mut pg) = (None, None, None);
        // The addresses come first, then where the tokens come from.
        loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("`codelake serve` exited before it listened"))
                .unwrap();
            if let Some((_, url)) = line.split_once(" on http") {
                let url = url.trim().rsplit("://").next().unwrap().to_owned();
                address = Some(url.replace("0.0.0.0:", "127.0.0.1:"));
            } else if let Some(url) = line.strip_prefix("Flight SQL on ") {
                flight = Some(url.trim().replace("0.0.0.0:", "127.0.0.1:"));
            } else if let Some(rest) = line.strip_prefix("Postgres on postgres://") {
                let address = rest.split_whitespace().next().unwrap_or_default();
                pg = Some(address.replace("0.0.0.0:", "127.0.0.1:"));
            } else if line.starts_with("Accepting ") {
                break;
            }
        }
        // Keep reading its output, so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child: Some(child),
            address: address.expect("`codelake serve` prints its HTTP address"),
            flight,
            pg,
        }
    }

    pub(crate) fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        request(&self.address, method, path, headers, body)
    }

    /// `GET /metrics` with the first token: the Prometheus text.
    pub(crate) fn metrics(&self) -> String {
        self.request(
            "GET",
            "/metrics",
            &[("Authorization", &format!("Bearer {TOKEN}"))],
            b"",
        )
        .text()
    }

    /// `POST /v1/sql` with the first token, asking for `accept`.
    pub(crate) fn sql(&self, sql: &str, accept: &str) -> Reply {
        self.request(
            "POST",
            "/v1/sql",
            &[
                ("Authorization", &format!("Bearer {TOKEN}")),
                ("Accept", accept),
            ],
            sql.as_bytes(),
        )
    }

    /// Sends SIGTERM and waits for the process: its exit code.
    /// Asserts that `/metrics` has each of `lines`.
    pub(crate) fn assert_metrics(&self, lines: &[&str]) {
        let metrics = self.metrics();
        for line in lines {
            assert!(metrics.lines().any(|l| l == *line), "{line}\n{metrics}");
        }
    }

    /// SIGTERM, then asserts that the server in `dir` exited 0 within its
    /// grace, cutting no query short.
    pub(crate) fn assert_drains(&mut self, dir: &Path) {
        assert_eq!(self.terminate(), Some(0));
        let log = std::fs::read_to_string(dir.join("serve.log")).unwrap();
        assert!(!log.contains("cut short"), "{log}");
    }

    pub(crate) fn terminate(&mut self) -> Option<i32> {
        let child = self.child.as_mut()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let status = child.wait().ok()?;
        self.child = None;
        status.code()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("{error}: {}", self.text()))
    }
}

/// One HTTP/1.1 request on a new connection, read to the end (chunked
/// bodies decoded).
fn request(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

/// A chunked body's bytes; panics if it does not end with the last chunk
/// (the server cut the response short).
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|window| window == b"\r\n")
            .expect("a chunk size line: the response was cut short");
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&raw[..line_end])
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap();
        raw = &raw[line_end + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

/// Cuts the seeded `tpch.part` Parquet object short, in the project at `dir`.
pub(crate) fn corrupt_part(dir: &Path) {
    let part = dir.join(".codelake/local/s3/codelake/tpch/part.parquet");
    let good = std::fs::read(&part).unwrap();
    std::fs::write(&part, &good[..100]).unwrap();
}

/// Rows as JSON values, from batches.
pub(crate) fn rows(batches: &[RecordBatch]) -> Vec<serde_json::Value> {
    let mut writer = datafusion::arrow::json::writer::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, datafusion::arrow::json::writer::LineDelimited>(Vec::new());
    for batch in batches {
        writer.write(batch).unwrap();
    }
    writer.finish().unwrap();
    lines(&writer.into_inner())
}

pub(crate) fn lines(ndjson: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(ndjson)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn the_federated_query_answers_in_every_format_as_the_cli_does() {
    let dir = seeded_project();
    let cli_csv = run(dir.path(), &["sql", "-f", "csv", FEDERATED_QUERY]);
    assert_ok(&cli_csv);
    let cli_json = run(dir.path(), &["sql", "-f", "json", FEDERATED_QUERY]);
    assert_ok(&cli_json);
    let expected = lines(&cli_json.stdout);
    assert!(expected.len() > 3, "{expected:?}");
    let server = Server::start(dir.path(), &[]);

    let reply = server.sql(FEDERATED_QUERY, "application/x-ndjson");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/x-ndjson"));
    assert_eq!(lines(&reply.body), expected);

    let reply = server.sql(FEDERATED_QUERY, "application/json");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), serde_json::Value::Array(expected.clone()));

    let reply = server.sql(FEDERATED_QUERY, "text/csv");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), stdout(&cli_csv));

    let reply = server.sql(FEDERATED_QUERY, "application/vnd.apache.arrow.stream");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let batches: Vec<RecordBatch> =
        datafusion::arrow::ipc::reader::StreamReader::try_new(reply.body.as_slice(), None)
            .unwrap()
            .map(Result::unwrap)
            .collect();
    assert_eq!(rows(&batches), expected);

    let reply = server.sql(FEDERATED_QUERY, "application/vnd.apache.parquet");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let batches: Vec<RecordBatch> =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            hyper::body::Bytes::from(reply.body.clone()),
        )
        .unwrap()
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows(&batches), expected);

    // An empty result still has its CSV header, and is an empty JSON array.
    let reply = server.sql("SELECT r_name FROM tpch.region WHERE false", "text/csv");
    assert_eq!((reply.status, reply.text().as_str()), (200, "r_name\n"));
    let reply = server.sql("SELECT r_name FROM tpch.region WHERE false", "*/*");
    assert_eq!((reply.status, reply.text().as_str()), (200, "[]"));

    // The declared catalog, with docs, and never a secret.
    let reply = server.request(
        "GET",
        "/v1/tables/tpch/exchange_rates",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        b"",
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let table = reply.json();
    assert_eq!(table["name"], "tpch.exchange_rates");
    assert_eq!(table["source"], "http-api");
    assert_eq!(table["columns"][0]["name"], "currency");
    assert!(
        table["columns"][0]["doc"]
            .as_str()
            .unwrap()
            .contains("ISO 4217")
    );
    let reply = server.request(
        "GET",
        "/v1/tables",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        b"",
    );
    assert_eq!(
        reply.json()["tables"].as_array().unwrap().len(),
        tables::REGISTRY.len()
    );
    assert!(!reply.text().contains("do-not-print"), "{}", reply.text());

    // Health, readiness (counts only, without a token) and metrics.
    assert_eq!(server.request("GET", "/health", &[], b"").status, 200);
    let ready = server.request("GET", "/ready", &[], b"").json();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["unavailable"], 0);
    let metrics = server.metrics();
    let queries: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("codelake_queries_total{front_end=\"http\"} "))
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    // Seven queries above; the last one's count may land just after its answer.
    assert!((6..=7).contains(&queries), "{metrics}");
    // The federated query read `tpch.part` from S3 five times: once from the
    // store, then from the byte-range cache.
    let total = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .and_then(|count| count.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in:\n{metrics}"))
    };
    assert!(total("codelake_range_cache_misses_total") > 0, "{metrics}");
    assert!(total("codelake_range_cache_hits_total") > 0, "{metrics}");
    assert!(
        total("codelake_range_cache_capacity_bytes") > 0,
        "{metrics}"
    );

    // The log has a line a query, and neither a token nor the SQL.
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert!(log.contains("query finished"), "{log}");
    assert!(
        !log.contains("do-not-print") && !log.contains("SELECT"),
        "{log}"
    );
}

#[test]
fn tokens_the_read_only_policy_and_formats_are_enforced() {
    let dir = seeded_project();
    let server = Server::start(dir.path(), &[]);
    let count = "SELECT count(*) AS n FROM tpch.region";

    // No token, a wrong one: 401, and the token is never echoed.
    let reply = server.request("POST", "/v1/sql", &[], count.as_bytes());
    assert_eq!(reply.status, 401, "{}", reply.text());
    assert_eq!(reply.json()["code"], "unauthenticated");
    assert!(reply.header("www-authenticate").is_some());
    let reply = server.request(
        "POST",
        "/v1/sql",
        &[("Authorization", "Bearer guess-do-not-print")],
        count.as_bytes(),
    );
    assert_eq!(reply.status, 401, "{}", reply.text());
    assert!(
        !reply.text().contains("guess-do-not-print"),
        "{}",
        reply.text()
    );
    let reply = server.request("GET", "/v1/tables", &[], b"");
    assert_eq!(reply.status, 401);
    // Either token of a rotation works.
    let reply = server.request(
        "POST",
        "/v1/sql",
        &[("Authorization", "Bearer second-token-do-not-print")],
        count.as_bytes(),
    );
    assert_eq!((reply.status, reply.text().as_str()), (200, r#"[{"n":5}]"#));

    // Read-only: nothing is created, written, dropped or copied out.
    let copy = dir.path().join("copied.csv");
    let copy_sql = format!("COPY (SELECT 1) TO '{}'", copy.display());
    for (sql, says) in [
        (
            "CREATE EXTERNAL TABLE pw (line VARCHAR) STORED AS CSV LOCATION '/etc/passwd'",
            "read-only",
        ),
        (copy_sql.as_str(), "read-only"),
        (
            "INSERT INTO tpch.region VALUES (9, 'X', 'y')",
            "catalog table",
        ),
        ("DROP TABLE tpch.part", "is a database of the catalog"),
        (
            "SET datafusion.execution.target_partitions = 1",
            "lets SET change only",
        ),
    ] {
        let reply = server.sql(sql, "application/json");
        assert_eq!(reply.status, 403, "{sql}: {}", reply.text());
        assert_eq!(reply.json()["code"], "forbidden", "{sql}");
        assert!(
            reply.json()["message"].as_str().unwrap().contains(says),
            "{sql}: {}",
            reply.text()
        );
    }
    assert!(!copy.exists());
    // Only SET may come before the query: nothing else is run whole.
    for sql in ["SELECT 1; DROP TABLE tpch.part", "SELECT 1; SELECT 2"] {
        let reply = server.sql(sql, "application/json");
        assert_eq!(reply.status, 403, "{sql}: {}", reply.text());
        assert!(
            reply.text().contains("only SET statements"),
            "{}",
            reply.text()
        );
    }
    // A query's own failure is the client's (400), not a source's (502).
    let reply = server.sql("SELECT 1 / 0", "application/json");
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(reply.json()["code"], "invalid_query");
    // No URL tables: a file path is not a table.
    let reply = server.sql("SELECT * FROM '/etc/passwd'", "application/json");
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(reply.json()["code"], "invalid_query");
    // An allowed setting lasts for its own request only.
    let reply = server.sql(
        "SET datafusion.sql_parser.enable_ident_normalization = false; SELECT 1 AS Upper",
        "text/csv",
    );
    assert_eq!((reply.status, reply.text().as_str()), (200, "Upper\n1\n"));
    let reply = server.sql("SELECT 1 AS Upper", "text/csv");
    assert_eq!((reply.status, reply.text().as_str()), (200, "upper\n1\n"));

    // An unknown format: 406 and the list; a body that is not text: 400.
    let reply = server.sql(count, "application/xml");
    assert_eq!(reply.status, 406, "{}", reply.text());
    assert!(reply.text().contains("application/vnd.apache.arrow.stream"));
    let reply = server.request(
        "POST",
        "/v1/sql",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        &[0xff, 0xfe, 0x00, 0x53],
    );
    assert_eq!(reply.status, 400, "{}", reply.text());
    let reply = server.sql("SELEC 1", "application/json");
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], "syntax_error");
    // An unknown path: 404 naming the routes, to a client with the token; to
    // one without, 401 like every page of the catalog site, so that a stranger
    // cannot tell a table's page from a path that does not exist.
    let reply = server.request(
        "GET",
        "/nowhere",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        b"",
    );
    assert_eq!(reply.status, 404);
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("POST /v1/sql")
    );
    assert_eq!(server.request("GET", "/nowhere", &[], b"").status, 401);
}

#[test]
fn a_broken_source_is_named_and_bad_clients_leave_the_server_serving() {
    let dir = seeded_project();
    corrupt_part(dir.path());
    let server = Server::start(dir.path(), &[]);
    let reply = server.sql("SELECT count(*) FROM tpch.part", "application/json");
    assert_eq!(reply.status, 502, "{}", reply.text());
    assert_eq!(reply.json()["code"], "source_error");
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("s3://codelake/tpch/part.parquet is corrupt"),
        "{}",
        reply.text()
    );

    // Garbage, a request cut in half and left open, a client that sends one
    // byte at a time: the server keeps answering the others.
    let mut garbage = TcpStream::connect(&server.address).unwrap();
    garbage
        .write_all(&[0x16, 0x03, 0x01, 0xff, 0x00, 0x13, 0x37])
        .unwrap();
    let mut half_open = TcpStream::connect(&server.address).unwrap();
    half_open
        .write_all(b"POST /v1/sql HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nSELECT")
        .unwrap();
    let address = server.address.clone();
    let slow = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(&address).unwrap();
        for byte in b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" {
            stream.write_all(&[*byte]).unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    });
    let reply = server.sql("SELECT count(*) AS n FROM tpch.nation", "text/csv");
    assert_eq!((reply.status, reply.text().as_str()), (200, "n\n25\n"));
    assert!(slow.join().unwrap().starts_with("HTTP/1.1 200"));
    drop((garbage, half_open));
    let reply = server.sql("SELECT count(*) AS n FROM tpch.region", "text/csv");
    assert_eq!((reply.status, reply.text().as_str()), (200, "n\n5\n"));
}

/// A query of many seconds: every line item against every order, on a
/// condition no join algorithm can shortcut.
const SLOW: &str = "SELECT count(*) AS n FROM tpch.lineitem a JOIN tpch.orders b \
                    ON a.l_orderkey + 0 * b.o_orderkey >= b.o_orderkey";

/// A query of a few seconds: every line item against every part.
const SECONDS: &str = "SELECT count(*) AS n FROM tpch.lineitem a JOIN tpch.part b \
                       ON a.l_partkey + 0 * b.p_partkey >= b.p_partkey";

#[test]
fn limits_fail_a_query_alone() {
    let dir = seeded_project();
    let server = Server::start(
        dir.path(),
        &[
            "--memory-limit",
            "4MiB",
            "--query-timeout",
            "2s",
            "--max-json",
            "1KiB",
        ],
    );
    // Over the memory pool: fails alone, as 507.
    let reply = server.sql(
        "SELECT l_comment FROM tpch.lineitem ORDER BY l_comment",
        "application/x-ndjson",
    );
    assert_eq!(
        reply.status,
        507,
        "{}",
        &reply.text()[..reply.text().len().min(500)]
    );
    assert_eq!(reply.json()["code"], "resources_exhausted");
    // Over the timeout: cancelled, as 504, on time although the join computes
    // for seconds between yields (it runs apart from the front end, and yields
    // every so many batches), and stopped: the next queries find the cores free.
    let started = std::time::Instant::now();
    let reply = server.sql(SLOW, "application/json");
    assert_eq!(reply.status, 504, "{}", reply.text());
    assert_eq!(reply.json()["code"], "timeout");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // Over the JSON cap: 413, with the streaming formats to use instead.
    let reply = server.sql("SELECT * FROM tpch.nation", "application/json");
    assert_eq!(reply.status, 413, "{}", reply.text());
    assert!(reply.text().contains("application/x-ndjson"));
    let reply = server.sql("SELECT * FROM tpch.nation", "application/x-ndjson");
    assert_eq!((reply.status, lines(&reply.body).len()), (200, 25));
    // The others still answer, and the metrics counted each failure.
    let reply = server.sql("SELECT count(*) AS n FROM tpch.region", "text/csv");
    assert_eq!((reply.status, reply.text().as_str()), (200, "n\n5\n"));
    let metrics = server.metrics();
    for line in [
        "codelake_errors_total{front_end=\"http\",code=\"resources_exhausted\"} 1",
        "codelake_errors_total{front_end=\"http\",code=\"timeout\"} 1",
        "codelake_errors_total{front_end=\"http\",code=\"result_too_large\"} 1",
    ] {
        assert!(metrics.contains(line), "{line}\n{metrics}");
    }
}

/// Text read from Parquet (`Utf8View`), a decimal and a date.
pub(crate) const TYPED: &str = "SELECT p.p_name, p.p_retailprice, o.o_orderdate FROM tpch.part p, tpch.orders o \
                     WHERE p.p_partkey = o.o_orderkey ORDER BY p.p_partkey LIMIT 5";

/// What the CLI answers in `dir`, for a protocol's answers to be compared
/// with: the federated query's rows, and [`TYPED`]'s output as JSON lines.
pub(crate) fn cli_answers(dir: &Path) -> (Vec<serde_json::Value>, Output) {
    let cli_json = run(dir, &["sql", "-f", "json", FEDERATED_QUERY]);
    assert_ok(&cli_json);
    let expected = lines(&cli_json.stdout);
    assert!(expected.len() > 3, "{expected:?}");
    let cli_typed = run(dir, &["sql", "-f", "json", TYPED]);
    assert_ok(&cli_typed);
    (expected, cli_typed)
}

/// Asserts that `codelake serve FLAG 0.0.0.0:0` without TLS exits 3, naming the flag.
pub(crate) fn assert_refused_beyond_loopback(flag: &str) {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        dir.path(),
        &["serve", "--listen", "127.0.0.1:0", flag, "0.0.0.0:0"],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!("{flag} 0.0.0.0:0"))
            && stderr(&output).contains("needs TLS"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn beyond_loopback_a_server_needs_tls_or_an_explicit_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), &["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("needs TLS"), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--insecure"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_full_server_refuses_and_sigterm_lets_the_query_in_flight_finish() {
    let dir = seeded_project();
    let mut server = Server::start(
        dir.path(),
        &[
            "--grace",
            "30s",
            "--max-concurrent",
            "1",
            "--max-waiting",
            "0",
        ],
    );
    let address = server.address.clone();
    let in_flight = std::thread::spawn(move || {
        request(
            &address,
            "POST",
            "/v1/sql",
            &[
                ("Authorization", &format!("Bearer {TOKEN}")),
                ("Accept", "text/csv"),
            ],
            SECONDS.as_bytes(),
        )
    });
    std::thread::sleep(Duration::from_millis(300));
    // Its one slot is taken and no query may wait: the next is refused at once.
    let reply = server.sql("SELECT 1", "application/json");
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert_eq!(reply.json()["code"], "busy");
    assert_eq!(server.terminate(), Some(0));
    let reply = in_flight.join().unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "n\n60337552\n");
    // Nothing listens any more.
    assert!(TcpStream::connect(&server.address).is_err());
}

/// A self-signed certificate for 127.0.0.1 and localhost, made by openssl in `dir`.
pub(crate) fn certificate(dir: &Path) -> (String, String) {
    make_certificate(dir, "", &[])
}

/// A self-signed certificate for 127.0.0.1 and localhost that is not a CA's
/// (`CA:FALSE`), as rustls takes one for its own trust anchor, made by
/// openssl in `dir` with files named after `name`.
pub(crate) fn leaf_certificate(dir: &Path, name: &str) -> (String, String) {
    make_certificate(
        dir,
        name,
        &["-addext", "basicConstraints=critical,CA:FALSE"],
    )
}

fn make_certificate(dir: &Path, name: &str, extra: &[&str]) -> (String, String) {
    let (cert, key) = (
        dir.join(format!("{name}cert.pem")),
        dir.join(format!("{name}key.pem")),
    );
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ])
        .args(extra)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap_or_else(|error| {
            panic!("openssl makes the test's certificate ({error}): apt-get install -y openssl")
        });
    assert!(made.status.success(), "{}", stderr(&made));
    (cert.display().to_string(), key.display().to_string())
}

/// curl, a real HTTPS client.
fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "30"])
        .args(args)
        .output()
        .unwrap_or_else(|error| {
            panic!("curl is the test's HTTPS client ({error}): apt-get install -y curl")
        })
}

#[test]
fn with_tls_a_server_listens_beyond_loopback_for_a_real_https_client() {
    let dir = seeded_project();
    let (cert, key) = certificate(dir.path());
    let server = Server::start_on(
        dir.path(),
        "0.0.0.0:0",
        &["--tls-cert", &cert, "--tls-key", &key],
    );
    let url = format!("https://{}/v1/sql", server.address);
    let auth = format!("Authorization: Bearer {TOKEN}");
    let query = "SELECT count(*) AS n FROM tpch.region";
    let answer = curl(&[
        "--cacert",
        &cert,
        "-H",
        &auth,
        "-H",
        "Accept: text/csv",
        "--data-binary",
        query,
        &url,
    ]);
    assert!(answer.status.success(), "{}", stderr(&answer));
    assert_eq!(stdout(&answer), "n\n5\n");
    // A client that does not trust the certificate refuses it (curl's exit 60).
    let untrusted = curl(&["-H", &auth, "--data-binary", query, &url]);
    assert_eq!(untrusted.status.code(), Some(60), "{}", stderr(&untrusted));
    // Plain HTTP on the TLS port gets no answer, and the server keeps serving.
    let plain = curl(&[
        "-H",
        &auth,
        "--data-binary",
        query,
        &url.replace("https", "http"),
    ]);
    assert!(!plain.status.success());
    let again = curl(&["--cacert", &cert, "-H", &auth, "--data-binary", query, &url]);
    assert_eq!(stdout(&again), r#"[{"n":5}]"#, "{}", stderr(&again));

    // A key that is not a key is named, with the fix.
    let output = run(
        dir.path(),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &cert,
            "--tls-key",
            &cert,
        ],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("--tls-key"), "{}", stderr(&output));
}
