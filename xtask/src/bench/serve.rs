//! `codelake serve` under the bench: the time from exec to its first answer,
//! its idle memory, and many clients at once on a small query and on TPC-H Q6
//! (throughput, p50 and p99 latency, errors).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::Plan;
use super::report::{Measure, Report};
use super::setup::{codelake_in, millis, proc_status_mib, say, seeded_project, tpch_project};

/// The token the bench's servers accept.
const TOKEN: &str = "codelake-bench-token";

/// The small query: one CSV table through its plugin.
const SMALL: &str = "SELECT count(*) FROM tpch.region";

/// A running `codelake serve`, killed when dropped.
struct Served {
    child: Child,
    address: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `codelake serve` on a free loopback port in `project`, and when it was started.
fn start(codelake: &Path, project: &Path) -> anyhow::Result<(Served, Instant)> {
    let started = Instant::now();
    let mut child = codelake_in(codelake, project)
        .args(["serve", "--listen", "127.0.0.1:0", "--max-waiting", "1024"])
        .env("CODELAKE_SERVE_TOKENS", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting `codelake serve`")?;
    let mut lines = BufReader::new(child.stdout.take().context("piped")?).lines();
    let address = loop {
        let line = lines
            .next()
            .context("`codelake serve` exited before it listened")??;
        if let Some((_, url)) = line.split_once(" on http://") {
            break url.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok((Served { child, address }, started))
}

/// `POST /v1/sql` of `sql` as CSV, on a new connection: the status, and the body.
fn post(address: &str, sql: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    write!(
        stream,
        "POST /v1/sql HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nAuthorization: Bearer {TOKEN}\r\n\
         Accept: text/csv\r\nContent-Length: {}\r\n\r\n{sql}",
        sql.len()
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

/// The serve case: first answer and idle memory on the small project, then load
/// on the TPC-H project of the plan's scale.
pub(super) fn serve_case(
    plan: &Plan,
    codelake: &Path,
    work: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    let project = seeded_project(codelake, &work.join("serve"))?;
    let mut first = Vec::new();
    for run in 0..=plan.runs {
        let (server, started) = start(codelake, &project)?;
        let answered = loop {
            match post(&server.address, SMALL) {
                Ok((200, _)) => break started.elapsed(),
                _ if started.elapsed() > Duration::from_secs(30) => {
                    anyhow::bail!("`codelake serve` did not answer within 30 s")
                }
                _ => std::thread::sleep(Duration::from_millis(1)),
            }
        };
        if run > 0 {
            first.push(millis(answered));
        }
        if run == plan.runs {
            std::thread::sleep(Duration::from_millis(300));
            if let Some(idle) = proc_status_mib(server.child.id(), "VmRSS:") {
                report.measures.push(Measure::new(
                    "serve_idle_rss",
                    "RSS of an idle `codelake serve` after one query (4 plugins loaded, local servers up)",
                    idle,
                    "MiB",
                ));
            }
        }
    }
    report.measures.push(Measure::from_runs(
        "serve_first_answer",
        &format!("`codelake serve`: exec to its first answer over HTTP (`{SMALL}`)"),
        first,
        "ms",
    ));

    let tpch = tpch_project(plan, codelake)?;
    let (server, _) = start(codelake, &tpch)?;
    let (clients, seconds) = match plan.mode {
        "smoke" => (8, 1),
        "quick" => (64, 10),
        _ => (64, 60),
    };
    let q6 = include_str!("../../bench/queries/q06.sql");
    for (name, title, sql) in [("small", SMALL, SMALL), ("q06", "TPC-H Q6", q6)] {
        let load = load(&server.address, sql, clients, Duration::from_secs(seconds))?;
        let label = format!("`codelake serve`, {clients} clients for {seconds} s, {title}");
        report.measures.push(Measure::new(
            &format!("serve_{name}_throughput"),
            &format!("{label}: throughput"),
            load.done as f64 / load.elapsed.as_secs_f64(),
            "req/s",
        ));
        report.measures.push(Measure::new(
            &format!("serve_{name}_p50"),
            &format!("{label}: p50 latency"),
            percentile(&load.latencies, 0.50),
            "ms",
        ));
        report.measures.push(Measure::new(
            &format!("serve_{name}_p99"),
            &format!("{label}: p99 latency"),
            percentile(&load.latencies, 0.99),
            "ms",
        ));
        report.measures.push(Measure::new(
            &format!("serve_{name}_errors"),
            &format!("{label}: errors"),
            load.errors as f64,
            "count",
        ));
        anyhow::ensure!(
            load.done > 0,
            "`codelake serve` answered no `{title}` query under load ({} errors)",
            load.errors
        );
    }
    drop(server);
    say("serve: measured");
    Ok(())
}

/// What many clients saw.
struct Load {
    done: usize,
    errors: usize,
    latencies: Vec<f64>,
    elapsed: Duration,
}

/// `clients` threads, each posting `sql` one request after another for `duration`.
fn load(address: &str, sql: &str, clients: usize, duration: Duration) -> anyhow::Result<Load> {
    let seen = Mutex::new((Vec::new(), 0usize));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..clients {
            scope.spawn(|| {
                let (mut latencies, mut errors) = (Vec::new(), 0);
                while started.elapsed() < duration {
                    let sent = Instant::now();
                    match post(address, sql) {
                        Ok((200, _)) => latencies.push(millis(sent.elapsed())),
                        _ => errors += 1,
                    }
                }
                let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                seen.0.extend(latencies);
                seen.1 += errors;
            });
        }
    });
    let elapsed = started.elapsed();
    let (latencies, errors) = seen.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok(Load {
        done: latencies.len(),
        errors,
        latencies,
        elapsed,
    })
}

/// The `q` quantile of `values` (nearest rank), 0 when empty.
fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.5), 50.0);
        assert_eq!(percentile(&values, 0.99), 99.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
