//! `codelake serve`'s Arrow Flight SQL front end, driven by a real client:
//! ADBC's Flight SQL driver with pyarrow (`tests/clients/flight.py`), from the
//! project-local venv `cargo xtask test` installs.

use std::io::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use catalog_env::local::FEDERATED_QUERY;
use datafusion::arrow::array::RecordBatch;

use crate::cli::{run, seeded_project, stderr};
use crate::serve::{
    Server, TOKEN, TYPED, assert_refused_beyond_loopback, certificate, cli_answers, corrupt_part,
    lines, rows,
};

/// The clients' venv Python; its absence fails the test with the command
/// that installs it.
pub(crate) fn client_python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".codelake/clients/venv/bin/python");
    assert!(
        python.exists(),
        "the end-to-end tests need their Python clients (ADBC, pyarrow, psycopg, mcp) in \
         {}; `cargo xtask test` installs them, or run: python3 -m venv .codelake/clients/venv && \
         .codelake/clients/venv/bin/pip install -r tests/clients/requirements.txt",
        python.display()
    );
    python
}

/// What the client answered to one step.
#[derive(Debug)]
enum Answer {
    Batches(Vec<RecordBatch>),
    Json(serde_json::Value),
    Error(String),
}

impl Answer {
    fn batches(&self) -> &[RecordBatch] {
        match self {
            Self::Batches(batches) => batches,
            other => panic!("expected batches, got {other:?}"),
        }
    }

    fn error(&self) -> &str {
        match self {
            Self::Error(message) => message,
            other => panic!("expected an error, got {other:?}"),
        }
    }
}

/// Runs `steps` (name, op, SQL) through the ADBC client against `uri` with
/// `token`: each step's answer, in order.
fn client(uri: &str, token: &str, steps: &[(&str, &str, &str)]) -> Vec<Answer> {
    client_trusting(uri, token, None, steps)
}

/// [`client`], trusting the PEM certificate at `root` too.
fn client_trusting(
    uri: &str,
    token: &str,
    root: Option<&str>,
    steps: &[(&str, &str, &str)],
) -> Vec<Answer> {
    let out = tempfile::tempdir().unwrap();
    let plan: Vec<serde_json::Value> = steps
        .iter()
        .map(|(name, op, sql)| {
            serde_json::json!({"name": name, "op": op, "sql": sql, "password": token})
        })
        .collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/flight.py");
    let mut command = Command::new(client_python());
    if let Some(root) = root {
        command.env("CODELAKE_TEST_TLS_ROOT", root);
    }
    let mut child = command
        .arg(script)
        .args([uri, token])
        .arg(out.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&plan).unwrap().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the Flight SQL client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    steps
        .iter()
        .map(|(name, _, _)| {
            let path = |extension: &str| out.path().join(format!("{name}.{extension}"));
            if let Ok(message) = std::fs::read_to_string(path("error")) {
                Answer::Error(message)
            } else if let Ok(json) = std::fs::read_to_string(path("json")) {
                Answer::Json(serde_json::from_str(&json).unwrap())
            } else {
                let file = std::fs::File::open(path("arrows")).unwrap();
                let reader =
                    datafusion::arrow::ipc::reader::StreamReader::try_new(file, None).unwrap();
                Answer::Batches(reader.map(Result::unwrap).collect())
            }
        })
        .collect()
}

#[test]
fn adbc_queries_lists_and_is_refused_as_the_service_says() {
    let dir = seeded_project();
    let (expected, cli_typed) = cli_answers(dir.path());
    let server = Server::start(dir.path(), &[]);
    let uri = server.flight.clone().expect("Flight SQL is on by default");

    let answers = client(
        &uri,
        TOKEN,
        &[
            ("statement", "statement", FEDERATED_QUERY),
            ("prepared", "prepared", FEDERATED_QUERY),
            ("objects", "objects", ""),
            ("schema", "table_schema", "tpch.part"),
            ("drop", "prepared", "DROP TABLE tpch.region"),
            (
                "insert",
                "statement",
                "INSERT INTO tpch.region VALUES (9, 'X', 'y')",
            ),
            (
                "passwd",
                "statement",
                "CREATE EXTERNAL TABLE p STORED AS CSV LOCATION '/etc/passwd'",
            ),
            ("missing", "statement", "SELECT * FROM tpch.nosuch"),
            ("typed", "statement", TYPED),
            ("substrait", "substrait", ""),
        ],
    );
    // The same rows as the CLI, decimals and text views included, on both paths.
    assert_eq!(rows(answers[0].batches()), expected);
    assert_eq!(rows(answers[1].batches()), expected);
    // Decimals and text views arrive as themselves, with the same values.
    let typed = &answers[8];
    assert_eq!(rows(typed.batches()), lines(&cli_typed.stdout));
    let schema = typed.batches()[0].schema();
    let types: Vec<String> = schema
        .fields()
        .iter()
        .map(|field| field.data_type().to_string())
        .collect();
    assert_eq!(
        types,
        ["Utf8View", "Decimal128(15, 2)", "Date32"],
        "{schema:?}"
    );

    // Every declared table, under its database, with its columns.
    let Answer::Json(objects) = &answers[2] else {
        panic!("{:?}", answers[2]);
    };
    let listed: Vec<String> = objects
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|catalog| catalog["catalog_db_schemas"].as_array().unwrap().clone())
        .flat_map(|database| {
            let name = database["db_schema_name"].as_str().unwrap().to_owned();
            database["db_schema_tables"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |table| format!("{name}.{}", table["table_name"].as_str().unwrap()))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut declared: Vec<String> = tables::REGISTRY
        .tables()
        .map(|spec| spec.qualified_name())
        .collect();
    declared.sort();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    assert_eq!(listed_sorted, declared);
    let Answer::Json(part) = &answers[3] else {
        panic!("{:?}", answers[3]);
    };
    assert_eq!(part[0]["name"], "p_partkey");
    assert_eq!(part[7]["type"], "decimal128(15, 2)");

    // Writes and files are refused by the service's policy, named.
    for (answer, words) in [
        (&answers[4], "forbidden: DROP TABLE"),
        (&answers[5], "forbidden: writing `tpch.region`"),
        (&answers[6], "forbidden: CREATE EXTERNAL TABLE"),
        (&answers[7], "there is no table `tpch.nosuch`"),
        (&answers[9], "forbidden: Substrait plans are not accepted"),
    ] {
        assert!(
            answer.error().contains(words),
            "{words}: {}",
            answer.error()
        );
    }

    // A wrong token is refused as unauthenticated, and never echoed, whether
    // sent as a bearer token or as the password of Flight's Basic handshake.
    let refused = client(
        &uri,
        "wrong-token-do-not-print",
        &[
            ("bearer", "statement", "SELECT 1"),
            ("basic", "basic", "SELECT 1"),
        ],
    );
    for answer in &refused {
        let message = answer.error();
        assert!(message.contains("UNAUTHENTICATED"), "{message}");
        assert!(!message.contains("do-not-print"), "{message}");
    }
    assert!(
        refused[1].error().contains("as the password"),
        "{}",
        refused[1].error()
    );
    // The right one as the password: the handshake hands back the bearer token.
    let basic = client(
        &uri,
        TOKEN,
        &[("basic", "basic", "SELECT count(*) AS n FROM tpch.region")],
    );
    assert_eq!(rows(basic[0].batches()), vec![serde_json::json!({"n": 5})]);
}

#[test]
fn a_broken_table_is_named_and_bad_connections_leave_flight_serving() {
    let dir = seeded_project();
    corrupt_part(dir.path());
    let mut server = Server::start(dir.path(), &["--grace", "30s"]);
    let uri = server.flight.clone().unwrap();
    let address = uri.trim_start_matches("grpc://").to_owned();

    // Garbage, and a connection that opens HTTP/2 and then says nothing.
    let mut garbage = TcpStream::connect(&address).unwrap();
    garbage
        .write_all(&[0x16, 0x03, 0x01, 0xff, 0x00, 0x13, 0x37])
        .unwrap();
    let mut half_open = TcpStream::connect(&address).unwrap();
    half_open
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .unwrap();

    let answers = client(
        &uri,
        TOKEN,
        &[
            ("part", "statement", "SELECT count(*) FROM tpch.part"),
            (
                "nation",
                "statement",
                "SELECT count(*) AS n FROM tpch.nation",
            ),
        ],
    );
    let message = answers[0].error();
    assert!(
        message.contains("source_error")
            && message.contains("s3://codelake/tpch/part.parquet is corrupt"),
        "{message}"
    );
    let nation = rows(answers[1].batches());
    assert_eq!(nation, vec![serde_json::json!({"n": 25})]);
    drop((garbage, half_open));

    // The metrics count Flight SQL's queries apart from HTTP's: the corrupt
    // table failed while described, the other ran.
    server.assert_metrics(&[
        "codelake_queries_total{front_end=\"flight\"} 1",
        "codelake_errors_total{front_end=\"flight\",code=\"source_error\"} 1",
    ]);

    // A client that connects and says nothing does not hold up the drain:
    // SIGTERM ends the server before its 30 s of grace are over.
    let silent = TcpStream::connect(&address).unwrap();
    server.assert_drains(dir.path());
    drop(silent);
}

#[test]
fn flight_beyond_loopback_needs_tls_too() {
    assert_refused_beyond_loopback("--flight-listen");
    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), &["serve", "--flight-listen", "nowhere"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("nor `off`"), "{}", stderr(&output));
}

#[test]
fn with_tls_flight_listens_beyond_loopback_for_a_real_adbc_client() {
    let dir = seeded_project();
    let (cert, key) = certificate(dir.path());
    let server = Server::start_on(
        dir.path(),
        "127.0.0.1:0",
        &[
            "--flight-listen",
            "0.0.0.0:0",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ],
    );
    let uri = server.flight.clone().unwrap();
    assert!(uri.starts_with("grpc+tls://"), "{uri}");
    let query = [("n", "statement", "SELECT count(*) AS n FROM tpch.region")];
    let trusted = client_trusting(&uri, TOKEN, Some(&cert), &query);
    assert_eq!(
        rows(trusted[0].batches()),
        vec![serde_json::json!({"n": 5})]
    );
    // A client that does not trust the certificate refuses it, and plain
    // gRPC on the TLS port gets nowhere; the server keeps serving.
    let untrusted = client(&uri, TOKEN, &query);
    assert!(
        untrusted[0].error().to_lowercase().contains("certificate"),
        "{}",
        untrusted[0].error()
    );
    let plain = client(&uri.replace("grpc+tls://", "grpc://"), TOKEN, &query);
    plain[0].error();
    let again = client_trusting(&uri, TOKEN, Some(&cert), &query);
    assert_eq!(rows(again[0].batches()), vec![serde_json::json!({"n": 5})]);
}
