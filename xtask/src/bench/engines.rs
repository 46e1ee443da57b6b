//! The engines a benchmark case runs on, and the cross-check of their answers.
//!
//! Every engine but the CLI is a long-lived worker process speaking one JSON
//! line per query (see `xtask/bench-engine/src/main.rs`), so the orchestrator
//! can alternate engines run by run while each keeps its warm state, as a
//! user's session would. The CLI is a new `codelake sql` process each run:
//! what a user running one query from a shell waits for.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Deserialize;

/// One query's answer: the milliseconds it took and its values as text.
#[derive(Debug, Clone)]
pub struct Answer {
    pub ms: f64,
    pub rows: Vec<Vec<String>>,
}

/// The engines, in the order reports list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EngineKind {
    /// The library in-process: the catalog's tables through the real plugins, over the local S3.
    Codelake,
    /// The same, with every scan streamed from its plugin across the FFI
    /// boundary (the path of a scan the host cannot execute).
    CodelakeStreamed,
    /// The library in-process, its Parquet tables declared as local `parquet`
    /// tables over the files DuckDB and Polars read: no S3 on either side.
    CodelakeLocal,
    /// `CodelakeLocal` with every table accelerated: its copy in Arrow memory,
    /// loaded before the first query, as in a warm `codelake serve`.
    CodelakeMemory,
    /// `codelake sql` as a new process each run, over the local S3.
    CodelakeCli,
    /// DataFusion's native listing tables, over the same S3 server.
    DataFusionS3,
    /// DataFusion's native listing tables, on local disk.
    DataFusion,
    /// DuckDB from PyPI, on local disk.
    DuckDb,
    /// DuckDB from PyPI, every table loaded into its own in-memory tables.
    DuckDbMemory,
    /// Polars from PyPI, on local disk.
    Polars,
}

impl EngineKind {
    pub const ALL: [Self; 10] = [
        Self::Codelake,
        Self::CodelakeStreamed,
        Self::CodelakeLocal,
        Self::CodelakeMemory,
        Self::CodelakeCli,
        Self::DataFusionS3,
        Self::DataFusion,
        Self::DuckDb,
        Self::DuckDbMemory,
        Self::Polars,
    ];

    /// The name in reports and in the engine protocol.
    pub fn name(self) -> &'static str {
        match self {
            Self::Codelake => "codelake",
            Self::CodelakeStreamed => "codelake-streamed",
            Self::CodelakeLocal => "codelake-local",
            Self::CodelakeMemory => "codelake-memory",
            Self::CodelakeCli => "codelake-cli",
            Self::DataFusionS3 => "datafusion-s3",
            Self::DataFusion => "datafusion",
            Self::DuckDb => "duckdb",
            Self::DuckDbMemory => "duckdb-memory",
            Self::Polars => "polars",
        }
    }

    /// What the engine is, for the report's legend.
    /// Whether the engine answers from tables it holds in memory: its figures
    /// are compared only with the other in-memory engine's, never with those
    /// of engines that read files.
    pub fn in_memory(self) -> bool {
        matches!(self, Self::CodelakeMemory | Self::DuckDbMemory)
    }

    /// The engine called `name`, if there is one.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::Codelake => {
                "codelake in-process: the catalog's tables through the plugins, Parquet over the local S3 server; the plugins plan each Parquet scan and the host executes it"
            }
            Self::CodelakeStreamed => {
                "codelake in-process as above, with every scan streamed from its plugin across the FFI boundary (the fall-back path)"
            }
            Self::CodelakeLocal => {
                "codelake in-process, its Parquet tables declared as local `parquet` tables over the same files on disk that DuckDB and Polars read"
            }
            Self::CodelakeMemory => {
                "codelake in-process as codelake-local, every table accelerated (`accelerate = \"memory\"`): queries read its copy in Arrow memory, loaded before the first query"
            }
            Self::CodelakeCli => {
                "`codelake sql -f csv QUERY`, a new process each run (start-up, plugin loading and output included), over the local S3 server"
            }
            Self::DataFusionS3 => {
                "DataFusion's native listing tables in-process, Parquet over the same S3 server (no plugin boundary)"
            }
            Self::DataFusion => {
                "DataFusion's native listing tables in-process, Parquet from local disk"
            }
            Self::DuckDb => "DuckDB (PyPI) in-process in Python, Parquet from local disk",
            Self::DuckDbMemory => {
                "DuckDB (PyPI) in-process in Python, every table loaded into its own in-memory tables (`CREATE TABLE … AS SELECT * FROM read_parquet(…)`)"
            }
            Self::Polars => "Polars (PyPI) lazy SQL in-process in Python, Parquet from local disk",
        }
    }
}

/// A worker process answering queries.
pub(super) struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

#[derive(Debug, Deserialize)]
struct Hello {
    version: String,
}

#[derive(Debug, Deserialize)]
struct Reply {
    ms: Option<f64>,
    rows: Option<Vec<Vec<String>>>,
    error: Option<String>,
}

impl Worker {
    /// Starts `command` and reads its ready line: the engine's version.
    pub(super) fn start(mut command: Command, name: &str) -> anyhow::Result<(Self, String)> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start the {name} engine ({command:?})"))?;
        let stdin = child.stdin.take().expect("piped");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let hello: Hello = serde_json::from_str(&line).with_context(|| {
            format!("the {name} engine did not start (it printed {line:?}; its errors are above)")
        })?;
        Ok((
            Self {
                child,
                stdin,
                stdout,
            },
            hello.version,
        ))
    }

    pub(super) fn query(&mut self, sql: &str) -> anyhow::Result<Answer> {
        writeln!(self.stdin, "{}", serde_json::json!({ "sql": sql }))?;
        self.stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        let reply: Reply = serde_json::from_str(&line)
            .with_context(|| format!("an answer that is not the protocol's: {line:?}"))?;
        match reply {
            Reply {
                ms: Some(ms),
                rows: Some(rows),
                ..
            } => Ok(Answer { ms, rows }),
            Reply {
                error: Some(error), ..
            } => bail!("{error}"),
            _ => bail!("an answer with neither a result nor an error: {line:?}"),
        }
    }

    /// The process's id.
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The worker's peak resident memory so far, in MiB (Linux only).
    fn peak_rss_mib(&self) -> Option<f64> {
        super::setup::proc_status_mib(self.child.id(), "VmHWM:")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One engine, ready to answer.
pub struct Engine {
    pub kind: EngineKind,
    pub version: String,
    backend: Backend,
}

enum Backend {
    Worker(Worker),
    Cli { binary: PathBuf, project: PathBuf },
}

/// Where the engines find the data and the programs.
pub struct Setup<'a> {
    /// The `codelake` binary; `codelake-bench-engine` and the plugins are beside it.
    pub codelake: &'a Path,
    /// The project directory the local environment runs for.
    pub project: &'a Path,
    /// Its data directory.
    pub data_dir: &'a Path,
    /// The virtual environment's Python, with DuckDB and Polars.
    pub python: &'a Path,
    /// The tables as the Python engines read them (JSON).
    pub tables_json: &'a str,
}

impl Engine {
    pub fn start(kind: EngineKind, setup: &Setup<'_>) -> anyhow::Result<Self> {
        let backend_worker = |mut command: Command| -> anyhow::Result<(Backend, String)> {
            command.current_dir(setup.project);
            let (worker, version) = Worker::start(command, kind.name())?;
            Ok((Backend::Worker(worker), version))
        };
        let (backend, version) = match kind {
            EngineKind::Codelake
            | EngineKind::CodelakeStreamed
            | EngineKind::CodelakeLocal
            | EngineKind::CodelakeMemory
            | EngineKind::DataFusion
            | EngineKind::DataFusionS3 => {
                let binary = setup.codelake.with_file_name(format!(
                    "codelake-bench-engine{}",
                    std::env::consts::EXE_SUFFIX
                ));
                let mut command = Command::new(binary);
                command.arg(kind.name()).arg(setup.data_dir);
                backend_worker(command)?
            }
            EngineKind::DuckDb | EngineKind::DuckDbMemory | EngineKind::Polars => {
                let mut command = Command::new(setup.python);
                command
                    .arg(super::setup::resources().join("python_engine.py"))
                    .arg(kind.name())
                    .arg(setup.tables_json);
                backend_worker(command)?
            }
            EngineKind::CodelakeCli => {
                let output = Command::new(setup.codelake).arg("--version").output()?;
                (
                    Backend::Cli {
                        binary: setup.codelake.to_owned(),
                        project: setup.project.to_owned(),
                    },
                    String::from_utf8_lossy(&output.stdout).trim().to_owned(),
                )
            }
        };
        Ok(Self {
            kind,
            version,
            backend,
        })
    }

    /// Runs `sql` once.
    pub fn query(&mut self, sql: &str) -> anyhow::Result<Answer> {
        let answer = match &mut self.backend {
            Backend::Worker(worker) => worker.query(sql),
            Backend::Cli { binary, project } => cli_query(binary, project, sql),
        };
        answer.with_context(|| format!("engine {}", self.kind.name()))
    }

    /// Peak resident memory of the engine's process so far (not for the CLI).
    pub fn peak_rss_mib(&self) -> Option<f64> {
        match &self.backend {
            Backend::Worker(worker) => worker.peak_rss_mib(),
            Backend::Cli { .. } => None,
        }
    }
}

/// `codelake sql -f csv SQL` in `project`, timed from spawn to exit.
fn cli_query(binary: &Path, project: &Path, sql: &str) -> anyhow::Result<Answer> {
    let start = Instant::now();
    let output = Command::new(binary)
        .current_dir(project)
        .env_remove("CODELAKE_ENV")
        .args(["sql", "--format", "csv", "--", sql])
        .stdin(Stdio::null())
        .output()?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    if !output.status.success() {
        bail!(
            "`codelake sql` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(output.stdout.as_slice());
    let rows = reader
        .records()
        .map(|record| Ok(record?.iter().map(str::to_owned).collect()))
        .collect::<Result<Vec<Vec<String>>, csv::Error>>()?;
    Ok(Answer { ms, rows })
}

/// Checks that `answer` holds the same values as `reference`, in the same
/// order: numbers to the precision of the less precise one (an engine that
/// averages a decimal prints 6 places, one that averages as a float prints 16)
/// and within a relative 1e-9 (decimal and float sums agree to that),
/// everything else as text. The error names the first difference.
pub fn cross_check(reference: &Answer, answer: &Answer) -> Result<(), String> {
    if reference.rows.len() != answer.rows.len() {
        return Err(format!(
            "{} rows, where the reference has {}",
            answer.rows.len(),
            reference.rows.len()
        ));
    }
    for (index, (expected, got)) in reference.rows.iter().zip(&answer.rows).enumerate() {
        let same =
            expected.len() == got.len() && expected.iter().zip(got).all(|(a, b)| same_value(a, b));
        if !same {
            return Err(format!(
                "row {} is {got:?}, where the reference has {expected:?}",
                index + 1
            ));
        }
    }
    Ok(())
}

fn same_value(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if a == b {
        return true;
    }
    // A null as each engine prints it: `codelake sql -f csv` writes nothing.
    let null = |text: &str| matches!(text, "" | "NULL" | "null" | "None");
    if null(a) && null(b) {
        return true;
    }
    let places = |text: &str| {
        text.split_once('.')
            .map_or(0, |(_, fraction)| fraction.len())
    };
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => {
            let printed = match places(a).min(places(b)) {
                0 => 0.0,
                places => 10_f64.powi(-(places as i32)),
            };
            (x - y).abs() <= printed.max(1e-9 * x.abs().max(y.abs()).max(1.0))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{Answer, cross_check};

    fn answer(rows: &[&[&str]]) -> Answer {
        Answer {
            ms: 0.0,
            rows: rows
                .iter()
                .map(|row| row.iter().map(|value| (*value).to_owned()).collect())
                .collect(),
        }
    }

    #[test]
    fn numbers_agree_across_decimal_and_float_text() {
        let reference = answer(&[&["A", "3773410700.0000", "25.522005", "1995-03-15"]]);
        let same = answer(&[&["A", "3773410700", "25.52200585325734", "1995-03-15"]]);
        assert_eq!(cross_check(&reference, &same), Ok(()));
    }

    #[test]
    fn a_different_value_row_count_or_order_is_named() {
        let reference = answer(&[&["A", "1.50"], &["B", "2.00"]]);
        let error =
            cross_check(&reference, &answer(&[&["A", "1.50"], &["B", "2.02"]])).unwrap_err();
        assert!(error.starts_with("row 2 is"), "{error}");
        let error =
            cross_check(&reference, &answer(&[&["B", "2.00"], &["A", "1.50"]])).unwrap_err();
        assert!(error.starts_with("row 1 is"), "{error}");
        let error = cross_check(&reference, &answer(&[&["A", "1.50"]])).unwrap_err();
        assert_eq!(error, "1 rows, where the reference has 2");
    }
}
