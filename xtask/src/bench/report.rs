//! The benchmark report: `benchmarks.json` (every run's figures), the
//! `benchmarks.md` page (machine, versions, goals, medians and ratios) and
//! `benchmarks-tpch.svg` (TPC-H medians relative to DuckDB's, drawn with plotters).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use super::engines::EngineKind;

pub(super) mod machine;
mod memory;
mod plot;
mod serve;

/// The serve case's loaded queries: the measure key and its title.
const SERVED_QUERIES: [(&str, &str); 2] = [("small", "small query"), ("q06", "TPC-H Q6")];

/// The serve case's protocols: the measure key's infix and the protocol's name.
pub(crate) const PROTOCOLS: [(&str, &str); 3] =
    [("", "HTTP"), ("flight_", "Flight SQL"), ("pg_", "Postgres")];

/// The report's layout version; readers ignore fields they do not know.
const REPORT_VERSION: u32 = 1;

/// One run of `cargo xtask bench`.
#[derive(Debug, Serialize)]
pub struct Report {
    report_version: u32,
    generated: String,
    mode: &'static str,
    scale: f64,
    runs: usize,
    profile: &'static str,
    machine: BTreeMap<&'static str, String>,
    /// Program and engine versions, by name.
    #[serde(serialize_with = "as_map")]
    pub versions: Vec<(String, String)>,
    pub cases: Vec<Case>,
    /// The TPC-H queries answered and cross-checked, not timed.
    pub checked: Vec<Checked>,
    pub measures: Vec<Measure>,
}

/// A query cross-checked across the engines, not timed.
#[derive(Debug, Serialize)]
pub struct Checked {
    pub name: String,
    pub title: String,
    /// Rows of the agreed answer.
    pub rows: usize,
    /// The engines whose answers agree.
    pub agreed: Vec<String>,
    /// The engines that cannot run it, each with the first line of its error.
    pub refused: Vec<(String, String)>,
}

fn as_map<S: serde::Serializer>(
    pairs: &[(String, String)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(pairs.iter().map(|(key, value)| (key, value)))
}

/// One query case: every engine's timings.
#[derive(Debug, Serialize)]
pub struct Case {
    pub name: String,
    pub title: String,
    pub group: String,
    /// Rows of the (cross-checked) answer.
    pub rows: usize,
    pub results: Vec<EngineResult>,
}

/// One engine's timed runs of a case.
#[derive(Debug, Serialize)]
pub struct EngineResult {
    pub engine: String,
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub runs_ms: Vec<f64>,
}

impl EngineResult {
    pub fn new(engine: &str, runs_ms: Vec<f64>) -> Self {
        let (median_ms, min_ms, max_ms) = summary(&runs_ms);
        Self {
            engine: engine.to_owned(),
            median_ms,
            min_ms,
            max_ms,
            runs_ms,
        }
    }
}

/// A single figure, or the median of several runs.
#[derive(Debug, Serialize)]
pub struct Measure {
    pub name: String,
    pub title: String,
    pub unit: &'static str,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<f64>,
}

impl Measure {
    pub fn new(name: &str, title: &str, value: f64, unit: &'static str) -> Self {
        Self {
            name: name.to_owned(),
            title: title.to_owned(),
            unit,
            median: value,
            min: value,
            max: value,
            runs: Vec::new(),
        }
    }

    pub fn from_runs(name: &str, title: &str, runs: Vec<f64>, unit: &'static str) -> Self {
        let (median, min, max) = summary(&runs);
        Self {
            name: name.to_owned(),
            title: title.to_owned(),
            unit,
            median,
            min,
            max,
            runs,
        }
    }
}

/// Median (the lower one of an even count), min and max.
fn summary(runs: &[f64]) -> (f64, f64, f64) {
    let mut sorted = runs.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.as_slice() {
        [] => (f64::NAN, f64::NAN, f64::NAN),
        all => (all[(all.len() - 1) / 2], all[0], all[all.len() - 1]),
    }
}

/// Geometric mean of ratios: the mean of a ratio across cases.
fn geometric_mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty())
        .then(|| (values.iter().map(|value| value.ln()).sum::<f64>() / values.len() as f64).exp())
}

impl Report {
    pub fn new(mode: &'static str, scale: f64, runs: usize, profile: &'static str) -> Self {
        Self {
            report_version: REPORT_VERSION,
            generated: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            mode,
            scale,
            runs,
            profile,
            machine: machine::machine(),
            versions: vec![("rustc".into(), machine::rustc_version())],
            cases: Vec::new(),
            checked: Vec::new(),
            measures: Vec::new(),
        }
    }

    /// Writes `benchmarks.json`, `benchmarks.md` and `benchmarks-tpch.svg` into `dir`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        fs::write(
            dir.join("benchmarks.json"),
            serde_json::to_string_pretty(self)? + "\n",
        )?;
        fs::write(dir.join("benchmarks.md"), self.markdown())?;
        self.plot(&dir.join("benchmarks-tpch.svg"))?;
        Ok(())
    }

    fn median(&self, case: &str, engine: EngineKind) -> Option<f64> {
        self.cases
            .iter()
            .find(|c| c.name == case)?
            .results
            .iter()
            .find(|r| r.engine == engine.name())
            .map(|r| r.median_ms)
    }

    fn measure(&self, name: &str) -> Option<&Measure> {
        self.measures.iter().find(|m| m.name == name)
    }

    fn tpch(&self) -> impl Iterator<Item = &Case> {
        self.cases.iter().filter(|case| case.group == "tpch")
    }

    /// `a ÷ b` of every TPC-H query where both ran.
    fn tpch_ratios(&self, a: EngineKind, b: EngineKind) -> Vec<(String, f64)> {
        self.tpch()
            .filter_map(|case| {
                Some((
                    case.name.clone(),
                    self.median(&case.name, a)? / self.median(&case.name, b)?,
                ))
            })
            .collect()
    }

    fn markdown(&self) -> String {
        use EngineKind::*;
        let mut md = String::new();
        let _ = writeln!(md, "# Benchmarks\n");
        let _ = writeln!(
            md,
            "Generated by `cargo xtask bench` ({} mode) on {}: TPC-H at scale factor {}, {} timed run(s) \
             of each engine per case after a warm-up, engines alternating run by run with their order rotated, \
             {} builds. Every engine's answer is cross-checked against DataFusion's before anything is timed. \
             Do not edit: run the bench again. The raw figures are in [benchmarks.json](benchmarks.json); \
             where the time goes, and why, is in [performance](../explanation/performance.md). \
             The scale-out case (`cargo xtask bench --scale-out`: one core against two workers) has \
             [its own page](benchmarks-scale-out.md).\n",
            self.mode, self.generated, self.scale, self.runs, self.profile
        );

        let _ = writeln!(md, "## Machine and versions\n");
        let _ = writeln!(md, "| | |\n|---|---|");
        for (key, value) in &self.machine {
            let _ = writeln!(md, "| {key} | {value} |");
        }
        for (key, value) in &self.versions {
            let _ = writeln!(md, "| {key} | {value} |");
        }

        let _ = writeln!(md, "\n## Goals\n");
        let _ = writeln!(md, "| Measure | Goal | Measured | Met |\n|---|---|---|---|");
        let mut goal = |name: &str, goal: &str, measured: Option<String>, met: Option<bool>| {
            let _ = writeln!(
                md,
                "| {name} | {goal} | {} | {} |",
                measured.unwrap_or_else(|| "not measured".into()),
                match met {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "—",
                }
            );
        };
        let ratio_list = |ratios: &[(String, f64)]| {
            ratios
                .iter()
                .map(|(name, ratio)| format!("{name} {ratio:.2}×"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        // Like for like: the same local files, no cache on either side.
        let boundary = self.tpch_ratios(CodelakeLocal, DataFusion);
        let values: Vec<f64> = boundary.iter().map(|(_, r)| *r).collect();
        let mean = geometric_mean(&values);
        goal(
            "Plugin path (host-executed scans) ÷ native DataFusion, both on the same local files (TPC-H, geometric mean)",
            "≤ 1.02×",
            mean.map(|mean| format!("{mean:.2}× ({})", ratio_list(&boundary))),
            mean.map(|mean| mean <= 1.02),
        );
        let over_s3 = self.tpch_ratios(Codelake, DataFusionS3);
        let values: Vec<f64> = over_s3.iter().map(|(_, r)| *r).collect();
        goal(
            "Plugin path ÷ native DataFusion, both over the same S3 (codelake reads through its byte-range cache; TPC-H, geometric mean)",
            "—",
            geometric_mean(&values).map(|mean| format!("{mean:.2}× ({})", ratio_list(&over_s3))),
            None,
        );
        let streamed = self.tpch_ratios(CodelakeStreamed, DataFusionS3);
        let values: Vec<f64> = streamed.iter().map(|(_, r)| *r).collect();
        goal(
            "Streamed plugin path (the fall-back) ÷ native DataFusion, over the same S3 (TPC-H, geometric mean)",
            "—",
            geometric_mean(&values).map(|mean| format!("{mean:.2}× ({})", ratio_list(&streamed))),
            None,
        );
        // The headline: both engines read the same local files.
        let duckdb = self.tpch_ratios(CodelakeLocal, DuckDb);
        let over_s3: BTreeMap<String, f64> =
            self.tpch_ratios(Codelake, DuckDb).into_iter().collect();
        for (query, ratio) in &duckdb {
            let s3 = over_s3
                .get(query)
                .map_or(String::new(), |s3| format!(" (over S3: {s3:.2}×)"));
            goal(
                &format!("codelake ÷ DuckDB, both on the same local files, TPC-H {query}"),
                "≤ 1.0×",
                Some(format!("{ratio:.2}×{s3}")),
                Some(*ratio <= 1.0),
            );
        }
        // Memory against memory, never mixed with the disk ratios above.
        for (query, ratio) in self.tpch_ratios(CodelakeMemory, DuckDbMemory) {
            goal(
                &format!(
                    "In memory: accelerated codelake ÷ DuckDB's in-memory tables, TPC-H {query}"
                ),
                "≤ 1.0×",
                Some(format!("{ratio:.2}×")),
                Some(ratio <= 1.0),
            );
        }
        let polars = self.tpch_ratios(CodelakeLocal, Polars);
        let values: Vec<f64> = polars.iter().map(|(_, r)| *r).collect();
        goal(
            "codelake ÷ Polars (TPC-H, geometric mean)",
            "—",
            geometric_mean(&values).map(|mean| format!("{mean:.2}× ({})", ratio_list(&polars))),
            None,
        );
        let s3 = self.tpch_ratios(DataFusionS3, DataFusion);
        let values: Vec<f64> = s3.iter().map(|(_, r)| *r).collect();
        let scan = self
            .median("scan", DataFusionS3)
            .zip(self.median("scan", DataFusion))
            .map(|(a, b)| a / b);
        goal(
            "S3 ÷ disk, native DataFusion (full scan; TPC-H geometric mean)",
            "—",
            scan.map(|scan| {
                format!(
                    "{scan:.2}× scan; {}",
                    geometric_mean(&values)
                        .map_or("—".into(), |mean| format!("{mean:.2}× TPC-H"))
                )
            }),
            None,
        );
        let checked = self.tpch().count() + self.checked.len();
        goal(
            "TPC-H queries answered by codelake and cross-checked against the other engines",
            "22 of 22",
            Some(format!("{checked} of 22")),
            Some(checked == 22),
        );
        let cold = self.measure("cold_start_first_result");
        goal(
            "`codelake sql` cold start to first result, plugins opened on demand (median)",
            "≤ 20 ms",
            cold.map(|m| format!("{:.1} ms", m.median)),
            cold.map(|m| m.median <= 20.0),
        );
        let served = self.measure("serve_first_answer");
        let roapi = self.measure("roapi_first_answer");
        goal(
            "`codelake serve` exec to its first answer (median)",
            "≤ 100 ms",
            served.map(|m| {
                let beside = roapi.map(|r| format!(" (ROAPI: {})", fmt_value(r.median, "ms")));
                format!("{:.1} ms{}", m.median, beside.unwrap_or_default())
            }),
            served.map(|m| m.median <= 100.0),
        );
        // Disk against memory (`serve`), then memory against memory (`memory_serve`).
        for (server, name) in [
            ("serve", "`codelake serve`"),
            ("memory_serve", "In memory: accelerated `codelake serve`"),
        ] {
            for ((protocol, over), (query, title)) in PROTOCOLS
                .iter()
                .flat_map(|protocol| SERVED_QUERIES.iter().map(move |query| (protocol, query)))
            {
                let figure = |server: &str, what: &str| {
                    self.measure(&format!("{server}_{protocol}{query}_{what}"))
                        .map(|m| m.median)
                };
                let (Some(ours), Some(theirs), Some(our_p99), Some(their_p99)) = (
                    figure(server, "throughput"),
                    figure("roapi", "throughput"),
                    figure(server, "p99"),
                    figure("roapi", "p99"),
                ) else {
                    continue;
                };
                goal(
                    &format!("{name} throughput ÷ ROAPI's, {over}, {title}"),
                    "≥ 1.00× at a p99 no worse",
                    Some(format!(
                        "{:.2}× (p99 {} vs {})",
                        ours / theirs,
                        fmt_value(our_p99, "ms"),
                        fmt_value(their_p99, "ms")
                    )),
                    Some(ours >= theirs && our_p99 <= their_p99),
                );
            }
        }
        let errors: Vec<f64> = self
            .measures
            .iter()
            .filter(|m| {
                (m.name.starts_with("serve_") || m.name.starts_with("memory_serve_"))
                    && m.name.ends_with("_errors")
            })
            .map(|m| m.median)
            .collect();
        goal(
            "`codelake serve` errors under load, from its sources and accelerated (HTTP, Flight SQL and Postgres; small query and Q6)",
            "0",
            (!errors.is_empty()).then(|| format!("{}", errors.iter().sum::<f64>())),
            (!errors.is_empty()).then(|| errors.iter().all(|errors| *errors == 0.0)),
        );
        let idle = self.measure("idle_rss");
        goal(
            "Idle `codelake sql` shell RSS",
            "—",
            idle.map(|m| format!("{:.1} MiB", m.median)),
            None,
        );
        let site_tables = self
            .measure("site_build")
            .and_then(|m| {
                m.title
                    .split_whitespace()
                    .find(|w| w.parse::<usize>().is_ok())
            })
            .unwrap_or("many")
            .to_owned();
        let site = self.measure("site_build");
        goal(
            &format!("`cargo xtask site` of {site_tables} tables (median)"),
            "≤ 5 s",
            site.map(|m| format!("{:.2} s", m.median / 1e3)),
            site.map(|m| m.median <= 5000.0),
        );
        let search = self.measure("site_search");
        goal(
            &format!("The site's search over {site_tables} tables, slowest keystroke"),
            "≤ 100 ms",
            search.map(|m| format!("{:.1} ms (median {:.1} ms)", m.max, m.median)),
            search.map(|m| m.max <= 100.0),
        );
        let verify = self.measure("verify");
        goal(
            "`codelake verify` of 100 tables (median)",
            "≤ 5 s",
            verify.map(|m| format!("{:.2} s", m.median / 1e3)),
            verify.map(|m| m.median <= 5000.0),
        );

        let _ = writeln!(
            md,
            "\n## TPC-H\n\nEach engine's median ÷ DuckDB's, per query (lower is faster):\n\n\
             ![TPC-H medians relative to DuckDB](benchmarks-tpch.svg)\n"
        );
        self.case_tables(&mut md, |case| case.group == "tpch");
        self.checked_table(&mut md);
        self.memory_table(&mut md);
        let _ = writeln!(
            md,
            "\n## Reading Parquet, the seed's query and the federated join\n"
        );
        self.case_tables(&mut md, |case| case.group != "tpch");

        self.serve_table(&mut md);

        let _ = writeln!(
            md,
            "\n## Start-up, memory, serving, gen-catalog, the catalog site and verify\n"
        );
        let _ = writeln!(md, "| Measure | Median | Min | Max |\n|---|---|---|---|");
        for m in &self.measures {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                m.title,
                fmt_value(m.median, m.unit),
                fmt_value(m.min, m.unit),
                fmt_value(m.max, m.unit)
            );
        }

        let _ = writeln!(md, "\n## Engines\n");
        for kind in EngineKind::ALL {
            let _ = writeln!(md, "- **{}**: {}.", kind.name(), kind.describe());
        }
        let _ = writeln!(
            md,
            "\nThe queries are in `xtask/bench/queries/` (TPC-H's validation parameters, written with \
             plain date literals every engine reads; Q3 and Q10 order ties by key so the answers compare \
             row by row). Times are from the engine's own clock around planning, running and collecting \
             the result, except `codelake-cli`, timed from spawn to exit."
        );
        md
    }

    /// The TPC-H queries cross-checked and not timed.
    fn checked_table(&self, md: &mut String) {
        if self.checked.is_empty() {
            return;
        }
        let timed = self.tpch().count();
        let _ = writeln!(
            md,
            "### The other TPC-H queries, cross-checked\n\n\
             All {} TPC-H queries are answered by every engine that can run them, and the answers \
             agree row by row ({timed} timed above, {} here, answered once each):\n\n\
             | Query | Rows | Engines that agree | Cannot run it |\n\
             |---|---|---|---|",
            timed + self.checked.len(),
            self.checked.len()
        );
        for case in &self.checked {
            let refused: Vec<String> = case
                .refused
                .iter()
                .map(|(engine, error)| format!("{engine} ({})", error.replace('|', "\\|")))
                .collect();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                case.title,
                case.rows,
                case.agreed.join(", "),
                if refused.is_empty() {
                    "—".to_owned()
                } else {
                    refused.join("; ")
                }
            );
        }
        md.push('\n');
    }

    /// One table per case: each engine's median, min and max, and codelake's ratio to it.
    fn case_tables(&self, md: &mut String, keep: impl Fn(&Case) -> bool) {
        for case in self.cases.iter().filter(|case| keep(case)) {
            let _ = writeln!(md, "### {} ({} rows)\n", case.title, case.rows);
            let _ = writeln!(
                md,
                "| Engine | Median | Min | Max | codelake ÷ engine |\n|---|---|---|---|---|"
            );
            let codelake = self.median(&case.name, EngineKind::Codelake);
            // Memory against disk is never a ratio here: see the in-memory section.
            let on_disk = case.results.iter().filter(|result| {
                !EngineKind::named(&result.engine).is_some_and(EngineKind::in_memory)
            });
            for result in on_disk {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} |",
                    result.engine,
                    fmt_value(result.median_ms, "ms"),
                    fmt_value(result.min_ms, "ms"),
                    fmt_value(result.max_ms, "ms"),
                    codelake.map_or("—".into(), |c| format!("{:.2}×", c / result.median_ms))
                );
            }
            md.push('\n');
        }
    }
}

fn fmt_value(value: f64, unit: &str) -> String {
    match unit {
        "ms" if value >= 1000.0 => format!("{:.2} s", value / 1e3),
        "ms" => format!("{value:.1} ms"),
        "count" => format!("{value:.0}"),
        unit => format!("{value:.1} {unit}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{geometric_mean, summary};

    #[test]
    fn median_min_max_and_geometric_mean() {
        assert_eq!(summary(&[5.0, 1.0, 3.0]), (3.0, 1.0, 5.0));
        assert_eq!(summary(&[4.0, 1.0, 3.0, 2.0]), (2.0, 1.0, 4.0));
        let mean = geometric_mean(&[2.0, 0.5]).unwrap();
        assert!((mean - 1.0).abs() < 1e-12, "{mean}");
        assert_eq!(geometric_mean(&[]), None);
    }
}
