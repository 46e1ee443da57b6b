//! `codelake serve`'s Postgres wire, driven by real clients: psql (Debian's
//! `postgresql-client`) and psycopg 3 (`tests/clients/postgres.py`, from the
//! project-local venv `cargo xtask test` installs).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use catalog_env::local::FEDERATED_QUERY;
use serde_json::{Value, json};

use crate::cli::{run, seeded_project};
use crate::flight::client_python;
use crate::serve::{
    Server, TOKEN, TYPED, assert_refused_beyond_loopback, certificate, cli_answers, corrupt_part,
    lines,
};

/// A libpq connection string for the server at `address` (`host:port`).
fn conninfo(address: &str, sslmode: &str) -> String {
    let (host, port) = address.rsplit_once(':').unwrap();
    format!("host={host} port={port} user=analyst dbname=codelake sslmode={sslmode}")
}

/// `psql` with `commands`, unaligned and without headers, reading no
/// `~/.psqlrc`; a missing psql fails with the command that installs it.
fn psql(address: &str, password: &str, commands: &[&str]) -> Output {
    let mut command = Command::new("psql");
    command
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
        .arg(conninfo(address, "disable"))
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .env_remove("PGSERVICE")
        .env_remove("PGSSLMODE");
    for sql in commands {
        command.args(["-c", sql]);
    }
    command.output().unwrap_or_else(|error| {
        panic!(
            "the Postgres tests need psql ({error}); install it with: \
             sudo apt-get install postgresql-client"
        )
    })
}

fn psql_lines(output: &Output) -> Vec<String> {
    assert!(
        output.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Runs `steps` (op, SQL, params) through psycopg against `conninfo`, each
/// on its own connection with `password`: each step's answer, in order.
fn psycopg(conninfo: &str, password: &str, steps: &[(&str, &str, Value)]) -> Vec<Value> {
    let plan: Vec<Value> = steps
        .iter()
        .map(|(op, sql, params)| json!({"op": op, "sql": sql, "params": params, "password": password}))
        .collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/postgres.py");
    let mut child = Command::new(client_python())
        .arg(script)
        .arg(conninfo)
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
        "the psycopg client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&output.stdout).unwrap()
}

fn answer_rows(answer: &Value) -> Vec<Value> {
    answer["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("expected rows, got {answer}"))
        .clone()
}

#[test]
fn psql_and_psycopg_query_list_and_are_refused_as_the_service_says() {
    let dir = seeded_project();
    let (expected, cli_typed) = cli_answers(dir.path());
    let server = Server::start(dir.path(), &[]);
    let address = server.pg.clone().expect("Postgres is on by default");

    // psql (the simple protocol): the catalog's tables and a table's columns,
    // with their Postgres types and the declared docs.
    // `\dt` lists the tables, `\dv` the views.
    for (command, views, kind) in [("\\dt", false, "table"), ("\\dv", true, "view")] {
        let listed = psql_lines(&psql(&address, TOKEN, &[command]));
        let mut declared: Vec<(String, String)> = tables::REGISTRY
            .tables()
            .filter(|spec| spec.is_view() == views)
            .map(|spec| (spec.database.to_string(), spec.name.to_string()))
            .collect();
        declared.sort();
        let declared: Vec<String> = declared
            .iter()
            .map(|(database, name)| format!("{database}|{name}|{kind}|codelake"))
            .collect();
        assert!(!declared.is_empty());
        assert_eq!(listed, declared, "{command}");
    }
    // `\d+` of a view shows its columns and its SQL.
    let view = psql_lines(&psql(&address, TOKEN, &["\\d+ tpch.revenue_by_year"]));
    assert!(
        view.iter()
            .any(|line| line.starts_with("order_year|integer|")),
        "{view:?}"
    );
    // (its "View definition" footer, which `-t` hides, comes from `pg_get_viewdef`)
    let definition = psql_lines(&psql(
        &address,
        TOKEN,
        &[
            "SELECT pg_catalog.pg_get_viewdef(c.oid, true) FROM pg_catalog.pg_class c \
           WHERE c.relname = 'revenue_by_year'",
        ],
    ));
    assert!(
        definition
            .iter()
            .any(|line| line.contains("FROM tpch.revenue_by_nation")),
        "{definition:?}"
    );
    let part = psql_lines(&psql(&address, TOKEN, &["\\d tpch.part"]));
    assert_eq!(part[0], "p_partkey|bigint||not null|", "{part:?}");
    assert!(
        part.contains(&"p_retailprice|numeric(15,2)||not null|".to_owned()),
        "{part:?}"
    );
    assert!(
        part.contains(&"p_name|text||not null|".to_owned()),
        "{part:?}"
    );
    let region = psql_lines(&psql(&address, TOKEN, &["\\d+ tpch.region"]));
    let doc = tables::REGISTRY
        .tables()
        .find(|spec| spec.name == "region")
        .and_then(|spec| spec.columns.first().map(|column| column.doc.to_string()))
        .unwrap();
    assert!(
        region.iter().any(|line| line.ends_with(&format!("|{doc}"))),
        "{region:?}"
    );
    let roles = psql_lines(&psql(&address, TOKEN, &["\\du"]));
    assert!(roles[0].starts_with("codelake|"), "{roles:?}");
    // The federated query, through the simple protocol, several statements at once.
    let federated = psql_lines(&psql(
        &address,
        TOKEN,
        &[&format!(
            "BEGIN; SELECT count(*) FROM ({FEDERATED_QUERY}) q; COMMIT"
        )],
    ));
    assert_eq!(federated, ["BEGIN", &expected.len().to_string(), "COMMIT"]);

    let conninfo = conninfo(&address, "disable");
    let none = Value::Null;
    let answers = psycopg(
        &conninfo,
        TOKEN,
        &[
            ("query", FEDERATED_QUERY, none.clone()),
            ("binary", FEDERATED_QUERY, none.clone()),
            ("query", TYPED, none.clone()),
            ("binary", TYPED, none.clone()),
            (
                "params",
                "SELECT count(*) AS n FROM tpch.part WHERE p_size = %s AND p_brand <> %s",
                json!([5, "x'; DROP TABLE tpch.part; --"]),
            ),
            (
                "prepared",
                "SELECT count(*) AS n FROM tpch.region",
                none.clone(),
            ),
            (
                "transaction",
                "SELECT count(*) AS n FROM tpch.nation",
                none.clone(),
            ),
            ("query", "DROP TABLE tpch.region", none.clone()),
            (
                "query",
                "INSERT INTO tpch.region VALUES (9, 'X', 'y')",
                none.clone(),
            ),
            (
                "query",
                "CREATE EXTERNAL TABLE p STORED AS CSV LOCATION '/etc/passwd'",
                none.clone(),
            ),
            ("query", "SELECT * FROM tpch.nosuch", none.clone()),
            // Parameters are values, never SQL, whatever quotes they hold.
            (
                "params",
                "SELECT %s AS a, %s AS b, count(*) AS n FROM tpch.part WHERE p_name = %s",
                json!(["\\' OR true --", "it''s", "x' OR '1'='1"]),
            ),
            ("query", "SHOW search_path", none.clone()),
        ],
    );
    assert_eq!(
        answer_rows(&answers[11]),
        [json!({"a": "\\' OR true --", "b": "it''s", "n": 0})]
    );
    assert_eq!(
        answer_rows(&answers[12]),
        [json!({"search_path": "\"$user\", public"})]
    );
    // The same rows as the CLI, in text and in binary (the extended protocol).
    assert_eq!(answer_rows(&answers[0]), expected);
    assert_eq!(answer_rows(&answers[1]), expected);
    // Text views, decimals and dates, as text, numeric and date, exact either way.
    let typed = lines(&cli_typed.stdout);
    let cli_text = String::from_utf8_lossy(&cli_typed.stdout);
    for answer in &answers[2..4] {
        assert_eq!(answer_rows(answer), typed);
        assert_eq!(
            answer["columns"],
            json!([
                ["p_name", 25],
                ["p_retailprice", 1700],
                ["o_orderdate", 1082]
            ])
        );
        for exact in answer["exact"].as_array().unwrap() {
            let exact = exact.as_str().unwrap();
            assert!(
                cli_text.contains(&format!("\"p_retailprice\":{exact}")),
                "{exact} in {cli_text}"
            );
        }
    }
    let cli_count = run(
        dir.path(),
        &[
            "sql",
            "-f",
            "json",
            "SELECT count(*) AS n FROM tpch.part WHERE p_size = 5",
        ],
    );
    assert_eq!(answer_rows(&answers[4]), lines(&cli_count.stdout));
    assert_eq!(answer_rows(&answers[5]), [json!({"n": 5})]);
    assert_eq!(answer_rows(&answers[6]), [json!({"n": 25})]);
    // Writes and files are refused by the service's policy, named, with a SQLSTATE.
    for (answer, words, state) in [
        (&answers[7], "DROP TABLE `tpch.region`", "25006"),
        (&answers[8], "writing `tpch.region`", "25006"),
        (&answers[9], "CREATE EXTERNAL TABLE", "25006"),
        (&answers[10], "there is no table `tpch.nosuch`", "42P01"),
    ] {
        let message = answer["error"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{words}: {answer}");
        assert_eq!(answer["sqlstate"], state, "{answer}");
    }

    // A wrong token is refused, and never echoed, by psql and by psycopg.
    let wrong = "wrong-token-do-not-print";
    let refused = psql(&address, wrong, &["SELECT 1"]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("password authentication failed"),
        "{message}"
    );
    assert!(!message.contains("do-not-print"), "{message}");
    let refused = psycopg(&conninfo, wrong, &[("query", "SELECT 1", none)]);
    let message = refused[0]["error"].as_str().unwrap();
    assert!(
        message.contains("password authentication failed") && !message.contains("do-not-print"),
        "{message}"
    );
    // On the wire, the refusal is SQLSTATE 28P01.
    assert_eq!(raw_login(&address, wrong), "28P01");
}

/// Logs in over a raw socket with `password` (protocol 3.0, cleartext):
/// the SQLSTATE of the error the server answers, or `ok`.
fn raw_login(address: &str, password: &str) -> String {
    let mut socket = TcpStream::connect(address).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut startup = Vec::new();
    startup.extend_from_slice(&196_608_i32.to_be_bytes());
    for part in ["user", "analyst", "database", "codelake"] {
        startup.extend_from_slice(part.as_bytes());
        startup.push(0);
    }
    startup.push(0);
    let mut message = ((startup.len() + 4) as i32).to_be_bytes().to_vec();
    message.extend_from_slice(&startup);
    socket.write_all(&message).unwrap();
    // AuthenticationCleartextPassword: 'R', length 8, code 3.
    let mut reply = [0u8; 9];
    socket.read_exact(&mut reply).unwrap();
    assert_eq!(reply, [b'R', 0, 0, 0, 8, 0, 0, 0, 3]);
    let mut message = vec![b'p'];
    message.extend_from_slice(&((password.len() + 5) as i32).to_be_bytes());
    message.extend_from_slice(password.as_bytes());
    message.push(0);
    socket.write_all(&message).unwrap();
    let mut kind = [0u8; 1];
    socket.read_exact(&mut kind).unwrap();
    let mut length = [0u8; 4];
    socket.read_exact(&mut length).unwrap();
    let mut body = vec![0u8; i32::from_be_bytes(length) as usize - 4];
    socket.read_exact(&mut body).unwrap();
    if kind[0] != b'E' {
        return "ok".to_owned();
    }
    body.split(|byte| *byte == 0)
        .find_map(|field| field.strip_prefix(b"C"))
        .map(|code| String::from_utf8_lossy(code).into_owned())
        .unwrap_or_default()
}

#[test]
fn a_broken_table_is_named_and_bad_connections_leave_postgres_serving() {
    let dir = seeded_project();
    corrupt_part(dir.path());
    let mut server = Server::start(dir.path(), &["--grace", "30s"]);
    let address = server.pg.clone().unwrap();

    // Garbage, a start-up message cut short, and a client that says nothing.
    let mut garbage = TcpStream::connect(&address).unwrap();
    garbage
        .write_all(&[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0])
        .unwrap();
    let mut half_open = TcpStream::connect(&address).unwrap();
    half_open.write_all(&[0, 0, 0, 40, 0, 3, 0, 0]).unwrap();
    let silent = TcpStream::connect(&address).unwrap();

    let answers = psycopg(
        &conninfo(&address, "disable"),
        TOKEN,
        &[
            ("query", "SELECT count(*) FROM tpch.part", Value::Null),
            (
                "query",
                "SELECT count(*) AS n FROM tpch.nation",
                Value::Null,
            ),
        ],
    );
    let message = answers[0]["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("s3://codelake/tpch/part.parquet is corrupt"),
        "{}",
        answers[0]
    );
    assert_eq!(answers[0]["sqlstate"], "58000");
    assert_eq!(answer_rows(&answers[1]), [json!({"n": 25})]);
    // psql still gets in after all that.
    let nation = psql_lines(&psql(
        &address,
        TOKEN,
        &["SELECT count(*) FROM tpch.nation"],
    ));
    assert_eq!(nation, ["25"]);
    drop((garbage, half_open));

    // The metrics count the Postgres front end's queries apart: three, one of
    // which failed as the corrupt table was read.
    server.assert_metrics(&[
        "codelake_queries_total{front_end=\"postgres\"} 3",
        "codelake_errors_total{front_end=\"postgres\",code=\"source_error\"} 1",
    ]);

    // An idle session does not hold up the drain: SIGTERM ends the server
    // before its 30 s of grace are over.
    server.assert_drains(dir.path());
    drop(silent);
}

#[test]
fn postgres_beyond_loopback_needs_tls_and_speaks_it() {
    assert_refused_beyond_loopback("--pg-listen");

    let dir = seeded_project();
    let (cert, key) = certificate(dir.path());
    let server = Server::start(
        dir.path(),
        &[
            "--pg-listen",
            "0.0.0.0:0",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ],
    );
    let address = server.pg.clone().unwrap();
    // psycopg over TLS, checking the certificate; and without TLS from loopback.
    let verified = format!("{} sslrootcert={cert}", conninfo(&address, "verify-ca"));
    let count = [(
        "query",
        "SELECT count(*) AS n FROM tpch.region",
        Value::Null,
    )];
    let answers = psycopg(&verified, TOKEN, &count);
    assert_eq!(answer_rows(&answers[0]), [json!({"n": 5})]);
    let answers = psycopg(&conninfo(&address, "disable"), TOKEN, &count);
    assert_eq!(answer_rows(&answers[0]), [json!({"n": 5})]);
    // From beyond loopback, a client that did not negotiate TLS is refused
    // before it is asked for the token; with TLS it gets in.
    let port = address.rsplit_once(':').unwrap().1;
    let outside = format!("{}:{port}", outward_address());
    let answers = psycopg(&conninfo(&outside, "disable"), TOKEN, &count);
    let message = answers[0]["error"].as_str().unwrap_or_default();
    assert!(message.contains("over TLS only"), "{}", answers[0]);
    let answers = psycopg(&conninfo(&outside, "require"), TOKEN, &count);
    assert_eq!(answer_rows(&answers[0]), [json!({"n": 5})]);
}

/// This machine's address on its first non-loopback interface (no packet is sent).
fn outward_address() -> std::net::IpAddr {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    let address = socket
        .connect("10.255.255.255:9")
        .and_then(|()| socket.local_addr())
        .map(|address| address.ip());
    match address {
        Ok(ip) if !ip.is_loopback() && !ip.is_unspecified() => ip,
        other => panic!(
            "this test needs a network interface besides loopback, to connect from beyond it \
             ({other:?})"
        ),
    }
}
