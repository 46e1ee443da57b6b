//! `codelake serve` under the bench, beside ROAPI serving the same files: the
//! time from exec to the first answer, idle memory, and many clients at once on
//! a small query and on TPC-H Q6 (throughput, p50 and p99 latency, errors).
//!
//! Two `codelake serve`s are measured: one over the built-in catalog, which
//! reads its sources on every query, and one over the same catalog with every
//! table accelerated (a `catalog.json` given to `serve --catalog`), which
//! answers from memory as ROAPI does. Their figures against ROAPI's are kept
//! apart: disk against memory, and memory against memory.

mod load;
mod roapi;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::Plan;
use super::report::{Measure, Report};
use super::setup::{codelake_in, millis, proc_status_mib, say, tpch_project};

/// The token the bench's `codelake serve` accepts.
const TOKEN: &str = "codelake-bench-token";

/// The small query: one CSV table through its plugin.
const SMALL: &str = "SELECT count(*) FROM tpch.region";

/// How a server is asked for CSV.
#[derive(Clone, Copy, PartialEq)]
enum Dialect {
    /// `POST /v1/sql`, a bearer token, `Accept: text/csv`.
    Codelake,
    /// `POST /api/sql`, no authentication, `Accept: application/csv`, and
    /// tables by their unqualified names.
    Roapi,
}

/// A server the bench started, killed when dropped.
struct Served {
    name: &'static str,
    /// The measure names' prefix: `serve`, `memory_serve` or `roapi`.
    key: &'static str,
    child: Child,
    /// HTTP's `127.0.0.1:PORT`.
    address: String,
    /// Flight SQL's `grpc://127.0.0.1:PORT`.
    flight: String,
    /// The Postgres wire's `127.0.0.1:PORT`.
    pg: String,
    dialect: Dialect,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// `sql` as this server names the tables.
    fn sql(&self, sql: &str) -> String {
        match self.dialect {
            Dialect::Codelake => sql.to_owned(),
            Dialect::Roapi => sql.replace("tpch.", ""),
        }
    }

    /// `sql` asked as CSV, on a new connection: the status, and the raw response.
    fn post(&self, sql: &str) -> std::io::Result<(u16, Vec<u8>)> {
        let (path, accept) = match self.dialect {
            Dialect::Codelake => ("/v1/sql", "text/csv"),
            Dialect::Roapi => ("/api/sql", "application/csv"),
        };
        self.request("POST", path, accept, sql)
    }

    /// `GET path` as JSON (`codelake serve` only), on a new connection.
    fn get(&self, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
        self.request("GET", path, "application/json", "")
    }

    /// One request on a new connection: the status, and the raw response.
    fn request(
        &self,
        method: &str,
        path: &str,
        accept: &str,
        body: &str,
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let auth = match self.dialect {
            Dialect::Codelake => format!("Authorization: Bearer {TOKEN}\r\n"),
            Dialect::Roapi => String::new(),
        };
        let address = &self.address;
        let mut stream = TcpStream::connect(address)?;
        stream.set_read_timeout(Some(Duration::from_secs(120)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n{auth}\
             Accept: {accept}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        let status = raw
            .split(|byte| *byte == b' ')
            .nth(1)
            .and_then(|code| std::str::from_utf8(code).ok()?.parse().ok())
            .unwrap_or(0);
        Ok((status, raw))
    }

    /// The answer to `sql` (in this server's dialect) as CSV text; an error
    /// naming the server when it is not a 200.
    fn answer(&self, sql: &str) -> anyhow::Result<String> {
        let (status, raw) = self.post(&self.sql(sql))?;
        let body = body(&raw);
        anyhow::ensure!(
            status == 200,
            "{} answered {status} to `{sql}`: {}",
            self.name,
            String::from_utf8_lossy(&body)
        );
        Ok(String::from_utf8_lossy(&body).into_owned())
    }
}

/// The body of a raw HTTP/1.1 response, chunked or not.
fn body(raw: &[u8]) -> Vec<u8> {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Vec::new();
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let mut rest = &raw[end + 4..];
    if !head.contains("transfer-encoding: chunked") {
        return rest.to_vec();
    }
    let mut body = Vec::new();
    while let Some(line) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&rest[..line])
            .ok()
            .and_then(|size| usize::from_str_radix(size.trim(), 16).ok())
            .unwrap_or(0);
        rest = &rest[line + 2..];
        if size == 0 || rest.len() < size {
            break;
        }
        body.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
    body
}

/// `codelake serve` on a free loopback port in `project`, and when it was
/// started; over the tables of `accelerated` (every one accelerated), when given.
fn start(
    codelake: &Path,
    project: &Path,
    accelerated: Option<&Path>,
) -> anyhow::Result<(Served, Instant)> {
    let started = Instant::now();
    let mut command = codelake_in(codelake, project);
    if let Some(catalog) = accelerated {
        // Room for every SF1 copy (about 1.2 GiB) and larger scales.
        command
            .arg("serve")
            .arg("--catalog")
            .arg(catalog)
            .args(["--accelerate-memory", "64GiB"]);
    } else {
        command.arg("serve");
    }
    let mut child = command
        .args([
            "--listen",
            "127.0.0.1:0",
            "--flight-listen",
            "127.0.0.1:0",
            "--pg-listen",
            "127.0.0.1:0",
        ])
        .args(["--max-waiting", "1024"])
        .env("CODELAKE_SERVE_TOKENS", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting `codelake serve`")?;
    let mut lines = BufReader::new(child.stdout.take().context("piped")?).lines();
    // HTTP's address comes first, then Flight SQL's, then the Postgres wire's.
    let (mut address, mut flight) = (None, None);
    let pg = loop {
        let line = lines
            .next()
            .context("`codelake serve` exited before it listened")??;
        if let Some((_, url)) = line.split_once(" on http://") {
            address = Some(url.trim().to_owned());
        } else if let Some(url) = line.strip_prefix("Flight SQL on ") {
            flight = Some(url.trim().to_owned());
        } else if let Some(rest) = line.strip_prefix("Postgres on postgres://") {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok((
        Served {
            name: match accelerated {
                Some(_) => "accelerated `codelake serve`",
                None => "`codelake serve`",
            },
            key: match accelerated {
                Some(_) => "memory_serve",
                None => "serve",
            },
            child,
            address: address.context("`codelake serve` printed no HTTP address")?,
            flight: flight.context("`codelake serve` printed no Flight SQL address")?,
            pg,
            dialect: Dialect::Codelake,
        },
        started,
    ))
}

/// Starts a server `runs + 1` times (the first run warms the page cache) and
/// times each from exec to its first answer to the small query; the last one's
/// idle RSS is measured, and it is returned, still serving.
fn first_answers(
    plan: &Plan,
    report: &mut Report,
    mut start: impl FnMut() -> anyhow::Result<(Served, Instant)>,
) -> anyhow::Result<Served> {
    let (mut first, mut loaded) = (Vec::new(), Vec::new());
    let mut last = None;
    for run in 0..=plan.runs {
        // One server at a time: the last one stops before the next starts.
        drop(last.take());
        let (server, started) = start()?;
        let sql = server.sql(SMALL);
        let answered = loop {
            match server.post(&sql) {
                Ok((200, _)) => break started.elapsed(),
                _ if started.elapsed() > Duration::from_secs(120) => {
                    anyhow::bail!("{} did not answer within 120 s", server.name)
                }
                _ => std::thread::sleep(Duration::from_millis(1)),
            }
        };
        let in_memory = match server.key {
            "memory_serve" => Some(copies_loaded(&server, started)?),
            _ => None,
        };
        if run > 0 {
            first.push(millis(answered));
            loaded.extend(in_memory.map(millis));
        }
        last = Some(server);
    }
    let server = last.context("at least one run")?;
    let what = match server.key {
        "serve" => "no table data loaded; 4 plugins, local servers up",
        "memory_serve" => "every table accelerated; its copies load in the background as it starts",
        _ => "every TPC-H table loaded into memory",
    };
    if !loaded.is_empty() {
        report.measures.push(Measure::from_runs(
            &format!("{}_loaded", server.key),
            &format!(
                "{}: exec until every table's copy is in memory (`GET /v1/tables`)",
                server.name
            ),
            loaded,
            "ms",
        ));
    }
    report.measures.push(Measure::from_runs(
        &format!("{}_first_answer", server.key),
        &format!(
            "{}: exec to its first answer over HTTP (`{}`; {what})",
            server.name,
            server.sql(SMALL)
        ),
        first,
        "ms",
    ));
    std::thread::sleep(Duration::from_millis(300));
    if let Some(idle) = proc_status_mib(server.child.id(), "VmRSS:") {
        report.measures.push(Measure::new(
            &format!("{}_idle_rss", server.key),
            &format!(
                "RSS of an idle {} after one query ({})",
                server.name,
                match server.key {
                    "memory_serve" => "every table's copy in memory",
                    _ => what,
                }
            ),
            idle,
            "MiB",
        ));
    }
    Ok(server)
}

/// The serve case, on the TPC-H project of the plan's scale: `codelake serve`
/// and ROAPI (from the venv beside `python`) over the same files, their first
/// answers and idle memory, a check that they answer alike, then each under
/// load in turn, on the same queries.
pub(super) fn serve_case(
    plan: &Plan,
    codelake: &Path,
    python: &Path,
    work: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    let project = tpch_project(plan, codelake)?;
    std::fs::create_dir_all(work)?;
    let config = work.join("roapi.yml");
    roapi::write_config(&project.join(".codelake/local"), &config)?;
    let roapi_bin = python.with_file_name("roapi");

    let accelerated = work.join("accelerated-catalog.json");
    write_accelerated_catalog(&accelerated)?;

    let served = first_answers(plan, report, || start(codelake, &project, None))?;
    let memory = first_answers(plan, report, || {
        start(codelake, &project, Some(&accelerated))
    })?;
    let roapi = first_answers(plan, report, || roapi::start(&roapi_bin, &config))?;

    let q6 = include_str!("../../bench/queries/q06.sql");
    for sql in [SMALL, q6] {
        let theirs = roapi.answer(sql)?;
        for ours in [&served, &memory] {
            let answer = ours.answer(sql)?;
            anyhow::ensure!(
                same_answer(&answer, &theirs),
                "{} and ROAPI answer `{sql}` differently:\n{answer}\nvs\n{theirs}",
                ours.name
            );
        }
    }

    let (clients, seconds) = match plan.mode {
        "smoke" => (8, 1),
        "quick" => (64, 10),
        _ => (64, 60),
    };
    let load_client = codelake.with_file_name(format!(
        "codelake-bench-engine{}",
        std::env::consts::EXE_SUFFIX
    ));
    let duration = Duration::from_secs(seconds);
    for (protocol, over) in super::report::PROTOCOLS {
        for (name, title, sql) in [("small", SMALL, SMALL), ("q06", "TPC-H Q6", q6)] {
            for server in [&served, &memory, &roapi] {
                let sql = server.sql(sql);
                let load = match protocol {
                    "" => load::load(server, &sql, clients, duration)?,
                    "flight_" => load::engine_load(
                        &load_client,
                        "flight-load",
                        server,
                        &sql,
                        clients,
                        duration,
                    )?,
                    _ => {
                        load::engine_load(&load_client, "pg-load", server, &sql, clients, duration)?
                    }
                };
                let label = format!(
                    "{} over {over}, {clients} clients for {seconds} s, {title}",
                    server.name
                );
                load::record(
                    report,
                    &format!("{}_{protocol}{name}", server.key),
                    &label,
                    &load,
                );
                anyhow::ensure!(
                    load.done > 0,
                    "{} answered no `{title}` query over {over} under load ({} errors; the first: {})",
                    server.name,
                    load.errors,
                    load.first_error.as_deref().unwrap_or("none")
                );
            }
        }
    }
    say("serve: measured, from its sources and accelerated, beside ROAPI");
    Ok(())
}

/// The built-in catalog (`tables/catalog.json`) with every table but the
/// views accelerated, written to `path` for `serve --catalog`: acceleration
/// stays declared, in the manifest the bench serves. Views are left live, so
/// that their work is served as it is declared.
fn write_accelerated_catalog(path: &Path) -> anyhow::Result<()> {
    use catalog_core::{Accelerate, Interval, Manifest};
    let text = std::fs::read_to_string(crate::project_root().join("tables/catalog.json"))?;
    let mut manifest = Manifest::from_json(&text)?;
    for spec in manifest.tables.iter_mut().filter(|spec| !spec.is_view()) {
        spec.accelerate = Some(Accelerate::Memory);
        // Longer than any bench: no refresh competes with the load.
        spec.refresh = Some(Interval::parse("24h").map_err(anyhow::Error::msg)?);
    }
    manifest.generated_by = "cargo xtask bench (every table accelerated)".into();
    std::fs::write(path, manifest.to_json())?;
    Ok(())
}

/// How long after `started` every accelerated copy of `server` was in
/// memory, as its `GET /v1/tables` says. A copy that is refused or fails to
/// load fails the bench, so that no "memory" figure is read from a source.
fn copies_loaded(server: &Served, started: Instant) -> anyhow::Result<Duration> {
    loop {
        let (status, raw) = server.get("/v1/tables")?;
        anyhow::ensure!(
            status == 200,
            "{} answered {status} to GET /v1/tables",
            server.name
        );
        let tables: serde_json::Value = serde_json::from_slice(&body(&raw))?;
        let (mut accelerated, mut waiting) = (0, 0);
        for table in tables["tables"].as_array().context("a `tables` list")? {
            let copy = &table["copy"];
            if table["accelerate"].is_null() {
                continue;
            }
            accelerated += 1;
            let name = &table["name"];
            if table["available"] == false {
                anyhow::bail!(
                    "{} cannot open {name}: {}",
                    server.name,
                    table["unavailable_because"]
                );
            }
            anyhow::ensure!(!copy.is_null(), "{} keeps no copy of {name}", server.name);
            if let Some(why) = copy["refused"].as_str().or(copy["last_error"].as_str()) {
                anyhow::bail!("{} cannot keep {name} in memory: {why}", server.name);
            }
            if copy["loaded_at"].is_null() {
                waiting += 1;
            }
        }
        anyhow::ensure!(accelerated > 0, "{} accelerates no table", server.name);
        if waiting == 0 {
            return Ok(started.elapsed());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "{} had {waiting} copies still loading after 600 s",
            server.name
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether two CSV answers hold the same values: the same header and cells,
/// numbers equal to a relative 1e-12 (decimal and float printing differ).
fn same_answer(ours: &str, theirs: &str) -> bool {
    let cells = |text: &str| -> Vec<String> {
        text.lines()
            .flat_map(|line| line.split(',').map(|cell| cell.trim().to_owned()))
            .filter(|cell| !cell.is_empty())
            .collect()
    };
    let (ours, theirs) = (cells(ours), cells(theirs));
    ours.len() == theirs.len()
        && ours.iter().zip(&theirs).enumerate().all(|(i, (a, b))| {
            // The header row: ROAPI names `count(*)` as DataFusion does, so
            // only values are compared.
            i == 0
                || a == b
                || matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(a), Ok(b))
                    if (a - b).abs() <= 1e-12 * a.abs().max(b.abs()))
        })
}

#[cfg(test)]
mod tests {
    use super::load::percentile;
    use super::{body, same_answer};

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.5), 50.0);
        assert_eq!(percentile(&values, 0.99), 99.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn chunked_bodies_are_joined() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nrev,\r\n3\r\n1.5\r\n0\r\n\r\n";
        assert_eq!(body(raw), b"rev,1.5");
        assert_eq!(
            body(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
            b"ok"
        );
    }

    #[test]
    fn answers_compare_by_value() {
        assert!(same_answer(
            "revenue\n11803420.2534\n",
            "revenue\n11803420.2534"
        ));
        assert!(same_answer("count(*)\n5\n", "count(*)\n5.0\n"));
        assert!(!same_answer(
            "revenue\n11803420.2534\n",
            "revenue\n11803420.25\n"
        ));
        assert!(!same_answer("n\n5\n", "n\n5\n6\n"));
    }
}
