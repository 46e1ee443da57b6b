//! The scale-out case (`cargo xtask bench --scale-out`): TPC-H Q1, Q3 and Q6
//! in one process pinned to one core, against two `codelake worker` processes
//! pinned to one core each, planned by a coordinator that shares the first
//! worker's core. Both sides read the same Parquet files from local disk
//! (`file://`), so no S3 server competes for the two cores.
//!
//! Besides the wall time of each query, every run records what the processes
//! spent: each one's CPU time (`/proc/PID/stat`), and the bytes that crossed
//! loopback (`/proc/net/dev`: plans, shuffled rows and results, since nothing
//! else talks over loopback meanwhile). The CPU the cluster spends beyond the
//! one process is what distribution costs (planning, serialisation,
//! shuffles); the two workers' CPU side by side shows a straggler.
//!
//! The report is its own page, `benchmarks-scale-out.{md,json}`, linked from
//! the benchmarks page: the case runs at its own scale (10 by default).

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::Plan;
use super::engines::{self, Worker};
use super::report::EngineResult;
use super::setup::{LocalUp, capture, say, tpch_project};

/// The queries of the case: a scan with aggregation, a three-way join with a
/// top 10, and a selective scan.
const QUERIES: [(&str, &str, &str); 3] = [
    (
        "q01",
        "TPC-H Q1: pricing summary (lineitem scan, aggregation)",
        include_str!("../../bench/queries/q01.sql"),
    ),
    (
        "q03",
        "TPC-H Q3: shipping priority (3-way join, top 10)",
        include_str!("../../bench/queries/q03.sql"),
    ),
    (
        "q06",
        "TPC-H Q6: forecasting revenue change (selective lineitem scan)",
        include_str!("../../bench/queries/q06.sql"),
    ),
];

/// The speed-up the case aims at: two cores' worth of workers against one.
const GOAL: f64 = 1.7;

/// One query's figures.
#[derive(Debug, serde::Serialize)]
struct QueryFigures {
    name: &'static str,
    title: &'static str,
    rows: usize,
    /// Wall times of the one process.
    single: EngineResult,
    /// Wall times of the coordinator with its two workers.
    cluster: EngineResult,
    /// Median CPU seconds per run: the one process.
    single_cpu_s: f64,
    /// Median CPU seconds per run: the coordinator, worker A, worker B.
    coordinator_cpu_s: f64,
    worker_a_cpu_s: f64,
    worker_b_cpu_s: f64,
    /// Median bytes over loopback per distributed run.
    loopback_bytes: f64,
    /// The one process's median wall time over the cluster's.
    speed_up: f64,
    /// The distributed plan's stages, as EXPLAIN draws them (`Stage 1 ── tasks=2, partitions=4`).
    stages: Vec<String>,
}

/// What a run of the case found.
#[derive(Debug, serde::Serialize)]
struct ScaleOut {
    generated: String,
    scale: f64,
    runs: usize,
    profile: &'static str,
    goal: f64,
    machine: std::collections::BTreeMap<&'static str, String>,
    /// The cores the processes were pinned to: the one process, the
    /// coordinator and worker A on the first, worker B on the second.
    cores: [usize; 2],
    queries: Vec<QueryFigures>,
}

/// Runs the case and writes `benchmarks-scale-out.{md,json}` into `plan.out`.
pub(super) fn scale_out_case(plan: &Plan, codelake: &Path, work: &Path) -> anyhow::Result<()> {
    let [core_a, core_b] = two_cores()?;
    let ticks: f64 = capture(Command::new("getconf").arg("CLK_TCK"))
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(100.0);

    let project = tpch_project(plan, codelake)?;
    let data_dir = project.join(".codelake/local");
    let _local = LocalUp::start(codelake, &project)?;
    fs::create_dir_all(work)?;
    let engine = codelake.with_file_name(format!(
        "codelake-bench-engine{}",
        std::env::consts::EXE_SUFFIX
    ));
    // The catalog both sides serve: each Parquet table on local disk. The
    // workers compare its hash with the coordinator's.
    let catalog = work.join("scale-out-catalog.json");
    capture(
        Command::new(&engine)
            .arg("local-catalog")
            .arg(&data_dir)
            .arg(&catalog),
    )?;

    say(format!(
        "Scale-out: starting two workers (cores {core_a} and {core_b}) and the engines..."
    ));
    let workers = [
        WorkerProcess::start(codelake, &project, &catalog, work, core_a)?,
        WorkerProcess::start(codelake, &project, &catalog, work, core_b)?,
    ];
    let pinned = |core: usize, name: &str| {
        let mut command = Command::new("taskset");
        command
            .arg("-c")
            .arg(core.to_string())
            .arg(&engine)
            .arg(name)
            .arg(&data_dir)
            .arg(&catalog)
            .current_dir(&project)
            .env_remove("CODELAKE_ENV");
        command
    };
    let (mut single, version) = Worker::start(pinned(core_a, "codelake-local"), "codelake-local")?;
    let mut coordinator_command = pinned(core_a, "codelake-cluster");
    coordinator_command.env(
        "CODELAKE_BENCH_WORKERS",
        workers
            .iter()
            .map(|worker| worker.url.as_str())
            .collect::<Vec<_>>()
            .join(","),
    );
    if plan.mode == "smoke" {
        // Tables of a few kilobytes: split them anyway, so the smoke run
        // sends tasks to the workers.
        coordinator_command.env("CODELAKE_BENCH_BYTES_PER_PARTITION", "1");
    }
    let (mut coordinator, _) = Worker::start(coordinator_command, "codelake-cluster")?;

    let mut queries = Vec::new();
    for (name, title, sql) in QUERIES {
        // Warm-up, and the answers cross-checked.
        let expected = single
            .query(sql)
            .with_context(|| format!("{name} in one process"))?;
        let answer = coordinator
            .query(sql)
            .with_context(|| format!("{name} across two workers"))?;
        if let Err(difference) = engines::cross_check(&expected, &answer) {
            bail!("{name}: two workers disagree with one process: {difference}");
        }
        // The stages and their tasks, as EXPLAIN draws them.
        let explain = coordinator.query(&format!("EXPLAIN {sql}"))?;
        let stages: Vec<String> = explain
            .rows
            .iter()
            .flatten()
            .flat_map(|text| text.lines())
            .filter(|line| line.contains("── tasks="))
            .map(|line| line.trim_matches(|c: char| !c.is_alphanumeric()).to_owned())
            .collect();
        let mut single_ms = Vec::new();
        let mut cluster_ms = Vec::new();
        let mut single_cpu = Vec::new();
        let mut cpu = [Vec::new(), Vec::new(), Vec::new()];
        let mut bytes = Vec::new();
        for run in 0..plan.runs {
            for turn in 0..2 {
                if (turn + run) % 2 == 0 {
                    let before = cpu_seconds(single.pid(), ticks)?;
                    single_ms.push(single.query(sql)?.ms);
                    single_cpu.push(cpu_seconds(single.pid(), ticks)? - before);
                } else {
                    let pids = [coordinator.pid(), workers[0].pid(), workers[1].pid()];
                    let before: Vec<f64> = pids
                        .iter()
                        .map(|&pid| cpu_seconds(pid, ticks))
                        .collect::<anyhow::Result<_>>()?;
                    let lo_before = loopback_bytes()?;
                    cluster_ms.push(coordinator.query(sql)?.ms);
                    bytes.push(loopback_bytes()? - lo_before);
                    for (index, &pid) in pids.iter().enumerate() {
                        cpu[index].push(cpu_seconds(pid, ticks)? - before[index]);
                    }
                }
            }
        }
        let single = EngineResult::new("one process", single_ms);
        let cluster = EngineResult::new("two workers", cluster_ms);
        let speed_up = single.median_ms / cluster.median_ms;
        say(format!(
            "{name}: one process {:.1} ms, two workers {:.1} ms: {speed_up:.2}× (medians; {} rows, answers agree)",
            single.median_ms,
            cluster.median_ms,
            expected.rows.len()
        ));
        let [coordinator_cpu, worker_a_cpu, worker_b_cpu] = cpu;
        queries.push(QueryFigures {
            name,
            title,
            rows: expected.rows.len(),
            single,
            cluster,
            single_cpu_s: median(single_cpu),
            coordinator_cpu_s: median(coordinator_cpu),
            worker_a_cpu_s: median(worker_a_cpu),
            worker_b_cpu_s: median(worker_b_cpu),
            loopback_bytes: median(bytes),
            speed_up,
            stages,
        });
    }
    drop(coordinator);
    drop(single);
    drop(workers);

    let mut machine = super::report::machine::machine();
    machine.insert("codelake", version);
    machine.insert("rustc", super::report::machine::rustc_version());
    let result = ScaleOut {
        generated: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        scale: plan.scale,
        runs: plan.runs,
        profile: plan.profile(),
        goal: GOAL,
        machine,
        cores: [core_a, core_b],
        queries,
    };
    fs::create_dir_all(&plan.out)?;
    let json = plan.out.join("benchmarks-scale-out.json");
    fs::write(&json, serde_json::to_string_pretty(&result)? + "\n")?;
    let page = plan.out.join("benchmarks-scale-out.md");
    fs::write(&page, markdown(&result))?;
    say(format!("Wrote {} (and .json).", page.display()));
    Ok(())
}

/// A `codelake worker` pinned to a core, killed when dropped.
struct WorkerProcess {
    child: Child,
    url: String,
}

impl WorkerProcess {
    fn start(
        codelake: &Path,
        project: &Path,
        catalog: &Path,
        work: &Path,
        core: usize,
    ) -> anyhow::Result<Self> {
        let address_file = work.join(format!("worker-{core}.url"));
        let log = work.join(format!("worker-{core}.log"));
        let _ = fs::remove_file(&address_file);
        // `taskset -c CORE codelake worker …`: taskset execs codelake, so the pid is the worker's.
        let mut pinned = Command::new("taskset");
        pinned
            .arg("-c")
            .arg(core.to_string())
            .arg(codelake)
            .args(["worker", "--catalog"])
            .arg(catalog)
            .arg("--address-file")
            .arg(&address_file)
            .current_dir(project)
            .env_remove("CODELAKE_ENV")
            .env_remove("CODELAKE_WORKER_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log)?);
        let mut child = pinned
            .spawn()
            .with_context(|| format!("cannot start {pinned:?}"))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let url = fs::read_to_string(&address_file).unwrap_or_default();
            if !url.trim().is_empty() {
                return Ok(Self {
                    child,
                    url: url.trim().to_owned(),
                });
            }
            let log_text = || fs::read_to_string(&log).unwrap_or_default();
            if let Some(status) = child.try_wait()? {
                bail!(
                    "the worker on core {core} exited ({status}):\n{}",
                    log_text()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!(
                    "the worker on core {core} did not listen within 60 s:\n{}",
                    log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first two cores this process may run on (its affinity list, as
/// `taskset` reads it), which the case pins its processes to.
fn two_cores() -> anyhow::Result<[usize; 2]> {
    let shown = capture(
        Command::new("taskset")
            .arg("-pc")
            .arg(std::process::id().to_string()),
    )
    .context(
        "the scale-out case pins processes with `taskset`: install util-linux (`sudo apt-get install util-linux`)",
    )?;
    let list = shown.rsplit(':').next().unwrap_or_default();
    let mut cores = Vec::new();
    for part in list
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let (first, last) = part.split_once('-').unwrap_or((part, part));
        let (first, last): (usize, usize) = (first.parse()?, last.parse()?);
        cores.extend(first..=last);
    }
    match cores[..] {
        [a, b, ..] => Ok([a, b]),
        _ => bail!(
            "the scale-out case pins its processes to two cores, but this process may use only {list:?}: run it on a machine (or cpuset) with two cores or more"
        ),
    }
}

/// The user and system CPU seconds process `pid` has used (Linux).
fn cpu_seconds(pid: u32, ticks: f64) -> anyhow::Result<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    // Fields after the command name, which may hold spaces: state is field 3,
    // utime field 14 and stime field 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("an unexpected /proc/PID/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |index: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(index - 3)
            .context("a short /proc/PID/stat")?
            .parse()?)
    };
    Ok((field(14)? + field(15)?) / ticks)
}

/// The bytes received on the loopback interface so far (Linux).
fn loopback_bytes() -> anyhow::Result<f64> {
    let dev = fs::read_to_string("/proc/net/dev").context("cannot read /proc/net/dev")?;
    dev.lines()
        .find_map(|line| line.trim_start().strip_prefix("lo:"))
        .and_then(|counters| counters.split_whitespace().next()?.parse().ok())
        .context("/proc/net/dev has no `lo` interface")
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn geometric_mean(values: impl Iterator<Item = f64>) -> f64 {
    let values: Vec<f64> = values.collect();
    (values.iter().map(|value| value.ln()).sum::<f64>() / values.len().max(1) as f64).exp()
}

fn markdown(result: &ScaleOut) -> String {
    let [core_a, core_b] = result.cores;
    let mut md = String::new();
    let mean = geometric_mean(result.queries.iter().map(|query| query.speed_up));
    let _ = writeln!(
        md,
        "# Benchmarks: scale-out\n\n\
         Generated by `cargo xtask bench --scale-out` on {}: TPC-H at scale factor {}, {} timed run(s) of each side per query \
         after a warm-up, the sides alternating run by run, {} builds. Both sides read the same Parquet files from local disk \
         (`file://`) and their answers are cross-checked before anything is timed. Do not edit: run the bench again. \
         The raw figures are in [benchmarks-scale-out.json](benchmarks-scale-out.json); the other cases are on the \
         [benchmarks page](benchmarks.md), and how the distributed path works is in \
         [the architecture](../explanation/architecture.md).\n",
        result.generated, result.scale, result.runs, result.profile
    );
    md.push_str("## Who ran where\n\n| Process | What it does | Core |\n|---|---|---|\n");
    let _ = writeln!(
        md,
        "| one process | `codelake-bench-engine codelake-local`: the catalog in-process, every scan on local files | {core_a} |\n\
         | coordinator | `codelake-bench-engine codelake-cluster`: the same session planning across the workers; it runs each query's head stage | {core_a} |\n\
         | worker A | `codelake worker --catalog …`, on loopback | {core_a} |\n\
         | worker B | `codelake worker --catalog …`, on loopback | {core_b} |\n\n\
         One side has one core; the other has two, and its coordinator's CPU is part of its result.\n"
    );
    md.push_str("## Goal\n\n| Measure | Goal | Measured | Met |\n|---|---|---|---|\n");
    let per_query = result
        .queries
        .iter()
        .map(|query| format!("{} {:.2}×", query.name, query.speed_up))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        md,
        "| Speed-up: one process on one core ÷ two workers on one core each (geometric mean) | ≥ {:.1}× | {mean:.2}× ({per_query}) | {} |\n",
        result.goal,
        if mean >= result.goal { "yes" } else { "**no**" }
    );
    md.push_str(
        "## Per query\n\nWall times are medians in milliseconds. CPU is the median per run, in seconds, from \
         `/proc/PID/stat`. *Overhead* is the cluster's CPU (coordinator and both workers) over the one process's: \
         what distribution costs in planning, serialisation and shuffles. *Loopback* is what crossed the network per run \
         (plans, shuffled rows, results).\n\n\
         | Query | Rows | One process (ms) | Two workers (ms) | Speed-up | CPU: one process | CPU: coordinator | CPU: worker A | CPU: worker B | Overhead | Loopback |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for query in &result.queries {
        let cluster_cpu = query.coordinator_cpu_s + query.worker_a_cpu_s + query.worker_b_cpu_s;
        let _ = writeln!(
            md,
            "| {} | {} | {:.1} ({:.1}–{:.1}) | {:.1} ({:.1}–{:.1}) | {:.2}× | {:.2} | {:.2} | {:.2} | {:.2} | {:.2}× | {} |",
            query.name,
            query.rows,
            query.single.median_ms,
            query.single.min_ms,
            query.single.max_ms,
            query.cluster.median_ms,
            query.cluster.min_ms,
            query.cluster.max_ms,
            query.speed_up,
            query.single_cpu_s,
            query.coordinator_cpu_s,
            query.worker_a_cpu_s,
            query.worker_b_cpu_s,
            cluster_cpu / query.single_cpu_s.max(0.01),
            mib(query.loopback_bytes),
        );
    }
    md.push_str("\n## Where the time goes\n\n");
    for query in &result.queries {
        let workers = [query.worker_a_cpu_s, query.worker_b_cpu_s];
        let busiest = workers[0].max(workers[1]);
        let idlest = workers[0].min(workers[1]);
        let cluster_cpu = query.coordinator_cpu_s + busiest + idlest;
        let stages = match query.stages.is_empty() {
            true => "no stage: the whole query ran on the coordinator".to_owned(),
            false => query.stages.join("; "),
        };
        let _ = writeln!(
            md,
            "- **{}** ({}): {:.2}× on two cores ({stages}). The coordinator used {:.0}% of the cluster's CPU; \
             the busier worker {:.2} s against {:.2} s{}; {} crossed loopback.",
            query.name,
            query.title,
            query.speed_up,
            100.0 * query.coordinator_cpu_s / cluster_cpu.max(0.01),
            busiest,
            idlest,
            if idlest > 0.0 && busiest / idlest > 1.25 {
                format!(" (a straggler: {:.1}× the other's work)", busiest / idlest)
            } else {
                String::new()
            },
            mib(query.loopback_bytes),
        );
    }
    md.push_str("\n## Machine\n\n| | |\n|---|---|\n");
    for (key, value) in &result.machine {
        let _ = writeln!(md, "| {key} | {value} |");
    }
    md
}

fn mib(bytes: f64) -> String {
    if bytes < 1024.0 * 1024.0 {
        format!("{:.0} KiB", bytes / 1024.0)
    } else {
        format!("{:.1} MiB", bytes / 1024.0 / 1024.0)
    }
}
