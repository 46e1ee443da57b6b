//! Many clients at once on one server: HTTP clients on threads here, Flight
//! SQL and Postgres clients in the bench engine; their throughput, latencies
//! and errors.

use std::path::Path;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::super::report::{Measure, Report};
use super::super::setup::millis;
use super::{Dialect, Served, TOKEN};

/// The figures of one load under `key`: throughput, p50, p99 and errors.
pub(super) fn record(report: &mut Report, key: &str, label: &str, load: &Load) {
    report.measures.push(Measure::new(
        &format!("{key}_throughput"),
        &format!("{label}: throughput"),
        load.done as f64 / load.elapsed.as_secs_f64(),
        "req/s",
    ));
    report.measures.push(Measure::new(
        &format!("{key}_p50"),
        &format!("{label}: p50 latency"),
        percentile(&load.latencies, 0.50),
        "ms",
    ));
    report.measures.push(Measure::new(
        &format!("{key}_p99"),
        &format!("{label}: p99 latency"),
        percentile(&load.latencies, 0.99),
        "ms",
    ));
    report.measures.push(Measure::new(
        &format!("{key}_errors"),
        &format!("{label}: errors"),
        load.errors as f64,
        "count",
    ));
}

/// `clients` Flight SQL or Postgres clients on `server`, through the bench
/// engine's `flight-load` or `pg-load` (Rust clients: Python ones would
/// measure themselves).
pub(super) fn engine_load(
    client: &Path,
    which: &str,
    server: &Served,
    sql: &str,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Load> {
    let token = match server.dialect {
        Dialect::Codelake => TOKEN,
        Dialect::Roapi => "-",
    };
    let target = match which {
        "flight-load" => &server.flight,
        _ => &server.pg,
    };
    let output = std::process::Command::new(client)
        .args([which, target, token])
        .arg(clients.to_string())
        .arg(duration.as_secs().to_string())
        .arg(sql)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", client.display()))?;
    anyhow::ensure!(
        output.status.success(),
        "the {which} client failed on {}",
        server.name
    );
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let latencies: Vec<f64> = seen["latencies_ms"]
        .as_array()
        .context("latencies_ms")?
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .collect();
    Ok(Load {
        done: latencies.len(),
        errors: seen["errors"].as_u64().unwrap_or(0) as usize,
        latencies,
        elapsed: Duration::from_secs_f64(seen["elapsed_s"].as_f64().unwrap_or(1.0)),
        first_error: seen["first_error"].as_str().map(str::to_owned),
    })
}

/// What many clients saw.
pub(super) struct Load {
    /// Answers received.
    pub(super) done: usize,
    /// Requests that failed.
    pub(super) errors: usize,
    latencies: Vec<f64>,
    elapsed: Duration,
    /// The first failure's message, when the client kept one.
    pub(super) first_error: Option<String>,
}

/// `clients` threads, each posting `sql` to `server` one request after another
/// for `duration`.
pub(super) fn load(
    server: &Served,
    sql: &str,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Load> {
    let seen = Mutex::new((Vec::new(), 0usize));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..clients {
            scope.spawn(|| {
                let (mut latencies, mut errors) = (Vec::new(), 0);
                while started.elapsed() < duration {
                    let sent = Instant::now();
                    match server.post(sql) {
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
        first_error: None,
    })
}

/// The `q` quantile of `values` (nearest rank), 0 when empty.
pub(super) fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
