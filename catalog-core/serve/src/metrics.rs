//! Counters and a latency histogram per front end, written out in the
//! Prometheus text format. A handful of atomics; no metrics registry needed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::ErrorCode;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// What one front end did.
#[derive(Debug, Default)]
struct FrontEnd {
    queries: AtomicU64,
    bytes_out: AtomicU64,
    /// One count per bucket of [`BUCKETS`], then the overflow.
    latency: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_micros: AtomicU64,
    errors: Mutex<BTreeMap<&'static str, u64>>,
}

/// The service's metrics, by front end (`http`, later `flight`, `postgres`).
#[derive(Debug, Default)]
pub struct Metrics {
    front_ends: Mutex<BTreeMap<&'static str, std::sync::Arc<FrontEnd>>>,
    running: AtomicU64,
    waiting: AtomicU64,
    /// The copies of accelerated tables, once the service keeps any.
    accelerator: std::sync::OnceLock<std::sync::Arc<catalog_runtime::Accelerator>>,
    /// Families reported by what the binary put beside the service.
    sources: Sources,
}

/// Writes metric families, whole, in the text format.
type Source = Box<dyn Fn(&mut String) + Send + Sync>;

/// The [`Source`]s added with [`Metrics::report`].
#[derive(Default)]
struct Sources(Mutex<Vec<Source>>);

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.0.lock().map_or(0, |sources| sources.len());
        write!(f, "Sources({count})")
    }
}

impl Metrics {
    fn front_end(&self, name: &'static str) -> std::sync::Arc<FrontEnd> {
        let mut front_ends = self.front_ends.lock().unwrap_or_else(|e| e.into_inner());
        std::sync::Arc::clone(front_ends.entry(name).or_default())
    }

    /// A query finished on `front_end` after `elapsed`, failed with `error` if any.
    pub fn query(&self, front_end: &'static str, elapsed: Duration, error: Option<ErrorCode>) {
        let fe = self.front_end(front_end);
        fe.queries.fetch_add(1, Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        fe.latency[bucket].fetch_add(1, Ordering::Relaxed);
        fe.latency_sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        if let Some(code) = error {
            self.error(front_end, code);
        }
    }

    /// A request on `front_end` failed with `code` before or without a query.
    pub fn error(&self, front_end: &'static str, code: ErrorCode) {
        let fe = self.front_end(front_end);
        let mut errors = fe.errors.lock().unwrap_or_else(|e| e.into_inner());
        *errors.entry(code.as_str()).or_default() += 1;
    }

    /// `bytes` more were sent to a client of `front_end`.
    pub fn bytes_out(&self, front_end: &'static str, bytes: u64) {
        self.front_end(front_end)
            .bytes_out
            .fetch_add(bytes, Ordering::Relaxed);
    }

    /// Queries running or waiting for a slot, on every front end: what a
    /// draining server waits for.
    pub fn in_flight(&self) -> u64 {
        self.running.load(Ordering::Relaxed) + self.waiting.load(Ordering::Relaxed)
    }

    pub(crate) fn running(&self, delta: i64) {
        add(&self.running, delta);
    }

    pub(crate) fn waiting(&self, delta: i64) {
        add(&self.waiting, delta);
    }

    /// Every metric, in the Prometheus text exposition format.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let front_ends = self.front_ends.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(
            out,
            "# HELP codelake_queries_total Queries run, by front end.\n# TYPE codelake_queries_total counter"
        );
        for (name, fe) in front_ends.iter() {
            let _ = writeln!(
                out,
                "codelake_queries_total{{front_end=\"{name}\"}} {}",
                fe.queries.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP codelake_errors_total Failed requests, by front end and error code.\n# TYPE codelake_errors_total counter"
        );
        for (name, fe) in front_ends.iter() {
            let errors = fe.errors.lock().unwrap_or_else(|e| e.into_inner());
            for (code, count) in errors.iter() {
                let _ = writeln!(
                    out,
                    "codelake_errors_total{{front_end=\"{name}\",code=\"{code}\"}} {count}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP codelake_query_duration_seconds Time from a query's arrival to its last byte, by front end.\n# TYPE codelake_query_duration_seconds histogram"
        );
        for (name, fe) in front_ends.iter() {
            let mut cumulative = 0;
            for (index, bound) in BUCKETS.iter().enumerate() {
                cumulative += fe.latency[index].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "codelake_query_duration_seconds_bucket{{front_end=\"{name}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            cumulative += fe.latency[BUCKETS.len()].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "codelake_query_duration_seconds_bucket{{front_end=\"{name}\",le=\"+Inf\"}} {cumulative}"
            );
            let _ = writeln!(
                out,
                "codelake_query_duration_seconds_sum{{front_end=\"{name}\"}} {}",
                fe.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "codelake_query_duration_seconds_count{{front_end=\"{name}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP codelake_bytes_out_total Bytes of results sent, by front end.\n# TYPE codelake_bytes_out_total counter"
        );
        for (name, fe) in front_ends.iter() {
            let _ = writeln!(
                out,
                "codelake_bytes_out_total{{front_end=\"{name}\"}} {}",
                fe.bytes_out.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP codelake_queries_running Queries running now.\n# TYPE codelake_queries_running gauge\ncodelake_queries_running {}",
            self.running.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP codelake_queries_waiting Queries waiting for a slot now.\n# TYPE codelake_queries_waiting gauge\ncodelake_queries_waiting {}",
            self.waiting.load(Ordering::Relaxed)
        );
        range_cache(&mut out);
        if let Some(accelerator) = self.accelerator.get() {
            acceleration(&mut out, accelerator);
        }
        for source in self
            .sources
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            source(&mut out);
        }
        out
    }

    /// Adds the families `source` writes (whole, with their `# HELP` and
    /// `# TYPE` lines) to every scrape: for parts of the server this crate
    /// does not know, such as the workers of `serve --workers`.
    pub fn report(&self, source: impl Fn(&mut String) + Send + Sync + 'static) {
        self.sources
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(source));
    }

    /// The accelerated tables' copies now.
    pub(crate) fn accelerated(&self) -> Vec<catalog_runtime::CopyStatus> {
        self.accelerator
            .get()
            .map(|accelerator| accelerator.statuses())
            .unwrap_or_default()
    }

    /// Reports `accelerator`'s copies from now on.
    pub(crate) fn watch(&self, accelerator: std::sync::Arc<catalog_runtime::Accelerator>) {
        let _ = self.accelerator.set(accelerator);
    }
}

/// One metric family over the copies: its name, kind, help and the value
/// each copy gives (none to leave the copy out).
type Family = (
    &'static str,
    &'static str,
    &'static str,
    fn(&catalog_runtime::CopyStatus) -> Option<f64>,
);

/// Each accelerated table's copy: its age, size, rows, loads and failures,
/// labelled by table; and the budget they share.
fn acceleration(out: &mut String, accelerator: &catalog_runtime::Accelerator) {
    let statuses = accelerator.statuses();
    let families: [Family; 6] = [
        (
            "codelake_accelerated_copy_age_seconds",
            "gauge",
            "How old each accelerated table's copy is; absent while it has none.",
            |status| status.age().map(|age| age.as_secs_f64()),
        ),
        (
            "codelake_accelerated_copy_bytes",
            "gauge",
            "Memory each accelerated table's copy takes.",
            |status| Some(status.bytes as f64),
        ),
        (
            "codelake_accelerated_copy_rows",
            "gauge",
            "Rows in each accelerated table's copy.",
            |status| Some(status.rows as f64),
        ),
        (
            "codelake_accelerated_loads_total",
            "counter",
            "Loads and refreshes of each accelerated table that succeeded.",
            |status| Some(status.loads as f64),
        ),
        (
            "codelake_accelerated_refresh_failures_total",
            "counter",
            "Loads and refreshes of each accelerated table that failed; the old copy is kept.",
            |status| Some(status.failures as f64),
        ),
        (
            "codelake_accelerated_refused",
            "gauge",
            "1 for a table refused acceleration (its copy is over the budget) and read from its source.",
            |status| Some(if status.refused.is_some() { 1.0 } else { 0.0 }),
        ),
    ];
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for status in &statuses {
            if let Some(value) = value(status) {
                let _ = writeln!(out, "{name}{{table=\"{}\"}} {value}", status.table);
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP codelake_accelerate_budget_bytes The memory all accelerated copies may take together (CODELAKE_ACCELERATE_MEMORY).\n# TYPE codelake_accelerate_budget_bytes gauge\ncodelake_accelerate_budget_bytes {}",
        accelerator.budget()
    );
}

/// The byte-range cache's totals: one cache per process, shared by every table
/// and front end, so these carry no labels.
fn range_cache(out: &mut String) {
    let stats = catalog_runtime::range_cache_stats();
    for (name, kind, help, value) in [
        (
            "codelake_range_cache_hits_total",
            "counter",
            "Byte ranges of remote objects answered from the byte-range cache.",
            stats.hits,
        ),
        (
            "codelake_range_cache_misses_total",
            "counter",
            "Byte ranges of remote objects read from their store.",
            stats.misses,
        ),
        (
            "codelake_range_cache_hit_bytes_total",
            "counter",
            "Bytes answered from the byte-range cache.",
            stats.hit_bytes,
        ),
        (
            "codelake_range_cache_miss_bytes_total",
            "counter",
            "Bytes read from remote objects' stores.",
            stats.miss_bytes,
        ),
        (
            "codelake_range_cache_resident_bytes",
            "gauge",
            "Bytes the byte-range cache holds now.",
            stats.resident_bytes,
        ),
        (
            "codelake_range_cache_capacity_bytes",
            "gauge",
            "The most the byte-range cache may hold (CODELAKE_RANGE_CACHE); 0 when off.",
            stats.capacity_bytes,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
}

fn add(gauge: &AtomicU64, delta: i64) {
    if delta >= 0 {
        gauge.fetch_add(delta as u64, Ordering::Relaxed);
    } else {
        gauge.fetch_sub(delta.unsigned_abs(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_cumulative_and_errors_are_counted_by_code() {
        let metrics = Metrics::default();
        metrics.query("http", Duration::from_millis(3), None);
        metrics.query("http", Duration::from_millis(300), Some(ErrorCode::Timeout));
        metrics.bytes_out("http", 42);
        let text = metrics.prometheus();
        for line in [
            "codelake_queries_total{front_end=\"http\"} 2",
            "codelake_errors_total{front_end=\"http\",code=\"timeout\"} 1",
            "codelake_query_duration_seconds_bucket{front_end=\"http\",le=\"0.005\"} 1",
            "codelake_query_duration_seconds_bucket{front_end=\"http\",le=\"0.25\"} 1",
            "codelake_query_duration_seconds_bucket{front_end=\"http\",le=\"0.5\"} 2",
            "codelake_query_duration_seconds_bucket{front_end=\"http\",le=\"+Inf\"} 2",
            "codelake_query_duration_seconds_count{front_end=\"http\"} 2",
            "codelake_bytes_out_total{front_end=\"http\"} 42",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
    }
}
