//! `cargo xtask test`: every check CI runs, in one command.
//!
//! Each step runs even when an earlier one failed, so one run shows every
//! problem; the summary lists the failed steps and the exit code is non-zero.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context as _, bail};

use crate::{gen_catalog, project_root};

/// Arguments of `cargo xtask test`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only run the test suite (skip fmt, clippy, rustdoc and the generated-files check).
    #[arg(long)]
    pub quick: bool,
}

struct Step {
    name: &'static str,
    run: Box<dyn Fn() -> anyhow::Result<()>>,
}

fn cargo(
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
) -> Box<dyn Fn() -> anyhow::Result<()>> {
    Box::new(move || {
        let status = crate::cargo_command()
            .args(args)
            .envs(env.iter().copied())
            .current_dir(project_root())
            .status()?;
        if !status.success() {
            bail!("`cargo {}` failed ({status})", args.join(" "));
        }
        Ok(())
    })
}

/// Passed and failed tests, summed over every runner's summary lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    passed: u64,
    failed: u64,
}

impl Tally {
    /// Adds the counts of one summary line: libtest's `test result: ok. 9 passed; 0 failed; …`
    /// or nextest's `Summary [ 1.2s] 95 tests run: 95 passed, 0 skipped`.
    fn add_line(&mut self, line: &str) {
        // libtest prints its summary at the start of a line; nextest indents the captured
        // output of failing tests, whose inner summaries its own `Summary` already counts.
        let is_summary =
            line.starts_with("test result:") || line.trim_start().starts_with("Summary [");
        if !is_summary {
            return;
        }
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == ';' || c == ',')
            .filter(|w| !w.is_empty())
            .collect();
        for pair in words.windows(2) {
            let count = pair[0].parse::<u64>().ok();
            match (count, pair[1]) {
                (Some(count), "passed") => self.passed += count,
                (Some(count), "failed") => self.failed += count,
                _ => {}
            }
        }
    }
}

/// Runs a test command, echoing its output as it comes and tallying its summary lines.
fn cargo_tests(
    args: &'static [&'static str],
    tally: Arc<Mutex<Tally>>,
) -> Box<dyn Fn() -> anyhow::Result<()>> {
    Box::new(move || {
        let home = ScratchHome::new()?;
        let mut child = crate::cargo_command()
            .args(args)
            .envs(home.as_ref().map(ScratchHome::vars).unwrap_or_default())
            .current_dir(project_root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let pipes: Vec<(Box<dyn std::io::Read + Send>, bool)> = vec![
            (Box::new(child.stdout.take().expect("piped")), false),
            (Box::new(child.stderr.take().expect("piped")), true),
        ];
        let readers: Vec<_> = pipes
            .into_iter()
            .map(|(pipe, is_stderr)| {
                let tally = Arc::clone(&tally);
                std::thread::spawn(move || {
                    for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                        tally.lock().expect("tally lock").add_line(&line);
                        if is_stderr {
                            let _ = writeln!(std::io::stderr(), "{line}");
                        } else {
                            let _ = writeln!(std::io::stdout(), "{line}");
                        }
                    }
                })
            })
            .collect();
        for reader in readers {
            let _ = reader.join();
        }
        let status = child.wait()?;
        if !status.success() {
            bail!("`cargo {}` failed ({status})", args.join(" "));
        }
        home.as_ref().map_or(Ok(()), ScratchHome::check_untouched)
    })
}

/// An empty home directory for the test run, so that a test writing into `~`
/// fails the run instead of littering the developer's home. Cargo and rustup
/// keep their own homes, resolved from the real one.
struct ScratchHome {
    dir: std::path::PathBuf,
    cargo_home: std::ffi::OsString,
    rustup_home: std::ffi::OsString,
}

impl ScratchHome {
    /// `None`, with a note, where cargo's or rustup's home cannot be told
    /// (no `HOME` and no `CARGO_HOME`): a scratch home would hide them.
    fn new() -> anyhow::Result<Option<Self>> {
        let real = std::env::var_os("HOME")
            .filter(|home| !home.is_empty())
            .map(std::path::PathBuf::from);
        let home_of = |var: &str, dir: &str| {
            std::env::var_os(var)
                .filter(|value| !value.is_empty())
                .or_else(|| real.as_ref().map(|home| home.join(dir).into_os_string()))
        };
        let (Some(cargo_home), Some(rustup_home)) = (
            home_of("CARGO_HOME", ".cargo"),
            home_of("RUSTUP_HOME", ".rustup"),
        ) else {
            println!(
                "note: no HOME or CARGO_HOME/RUSTUP_HOME: the tests run without a scratch home"
            );
            return Ok(None);
        };
        let dir = std::env::temp_dir().join(format!("codelake-test-home-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Some(Self {
            dir,
            cargo_home,
            rustup_home,
        }))
    }

    fn vars(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        vec![
            ("HOME", self.dir.clone().into_os_string()),
            ("CARGO_HOME", self.cargo_home.clone()),
            ("RUSTUP_HOME", self.rustup_home.clone()),
        ]
    }

    /// Fails, naming what was written, when a test wrote into the home.
    fn check_untouched(&self) -> anyhow::Result<()> {
        let written: Vec<String> = std::fs::read_dir(&self.dir)?
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        if written.is_empty() {
            return Ok(());
        }
        bail!(
            "the tests wrote into the home directory ({}): {}; a test must write only in its temporary directories",
            self.dir.display(),
            written.join(", ")
        )
    }
}

impl Drop for ScratchHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn has_nextest() -> bool {
    crate::cargo_command()
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|output| output.status.success())
}

/// `codelake diff` from the merge base with `CODELAKE_DIFF_BASE` (default
/// `origin/main`, or `HEAD` where there is no such branch) to the working tree:
/// what this checkout changes in the catalog, judged as a pull request would be.
fn catalog_diff() -> anyhow::Result<()> {
    let root = project_root();
    let resolves = |revision: &str| {
        Command::new("git")
            .current_dir(&root)
            .args(["rev-parse", "--verify", "--quiet", revision])
            .output()
            .is_ok_and(|output| output.status.success())
    };
    if !resolves("HEAD") {
        println!(
            "note: {} is not a git checkout with history, so there is no earlier catalog to compare with; the catalog diff did not run",
            root.display()
        );
        return Ok(());
    }
    let base = match std::env::var("CODELAKE_DIFF_BASE") {
        Ok(base) => base,
        Err(_) if resolves("origin/main") => "origin/main".to_owned(),
        Err(_) => "HEAD".to_owned(),
    };
    println!(
        "comparing the catalog from the merge base of {base} and HEAD to the working tree (set CODELAKE_DIFF_BASE to compare from another revision)"
    );
    let status = Command::new(crate::run::binary_path(false))
        .current_dir(&root)
        .args(["diff", "--merge-base", &base])
        .status()
        .context("cannot run codelake diff")?;
    match status.code() {
        Some(0) => Ok(()),
        Some(1) => bail!("the catalog has a breaking change that is not acknowledged (see above)"),
        _ => bail!("codelake diff could not compare the catalogs (see above)"),
    }
}

/// Runs every step, then fails if any did.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut steps = Vec::new();
    if !args.quick {
        steps.push(Step {
            name: "format (cargo fmt --check)",
            run: cargo(&["fmt", "--all", "--check"], &[]),
        });
        steps.push(Step {
            name: "generated files (gen-catalog --check)",
            run: Box::new(|| gen_catalog::run(&project_root(), &gen_catalog::Args { check: true })),
        });
        steps.push(Step {
            name: "lints (cargo clippy -D warnings)",
            run: cargo(
                &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--locked",
                    "--",
                    "-D",
                    "warnings",
                ],
                &[],
            ),
        });
    }
    // The plugin cdylibs are what the end-to-end tests load: build every crate first.
    // `--all-targets` resolves features as the test build does (dev-dependencies
    // included), so both share one set of artifacts instead of compiling DataFusion twice.
    steps.push(Step {
        name: "build (cargo build --workspace --all-targets)",
        run: cargo(&["build", "--workspace", "--all-targets", "--locked"], &[]),
    });
    // The project's own catalog changes are held to the rule users' CI is:
    // no breaking change without its acknowledgement in code.
    steps.push(Step {
        name: "catalog diff (codelake diff --merge-base BASE)",
        run: Box::new(catalog_diff),
    });
    // The real clients of the Flight SQL tests (ADBC, pyarrow),
    // in a project-local venv the tests find.
    steps.push(Step {
        name: "test clients (tests/clients/requirements.txt into .codelake/clients/venv)",
        run: Box::new(|| {
            crate::venv::ensure(
                &project_root().join(".codelake/clients/venv"),
                &project_root().join("tests/clients/requirements.txt"),
                "the tests' Python clients (ADBC, pyarrow, psycopg, mcp)",
            )
            .map(drop)
        }),
    });
    // The MCP Inspector's CLI, a second MCP client, from its lockfile.
    steps.push(Step {
        name: "test clients (tests/clients/inspector into .codelake/clients/inspector)",
        run: Box::new(|| {
            crate::node::ensure(
                &project_root().join("tests/clients/inspector"),
                &project_root().join(".codelake/clients/inspector"),
                "the tests' Node client (the MCP Inspector's CLI)",
            )
        }),
    });
    if has_nextest() {
        steps.push(Step {
            name: "tests (cargo nextest)",
            run: cargo_tests(
                &[
                    "nextest",
                    "run",
                    "--workspace",
                    "--locked",
                    "--no-fail-fast",
                ],
                Arc::clone(&tally),
            ),
        });
    } else {
        println!("note: cargo-nextest not found; running the tests with cargo test");
        steps.push(Step {
            name: "tests (cargo test)",
            // `--all-targets` leaves doctests to their own step, so none runs twice.
            run: cargo_tests(
                &[
                    "test",
                    "--workspace",
                    "--all-targets",
                    "--locked",
                    "--no-fail-fast",
                ],
                Arc::clone(&tally),
            ),
        });
    }
    // nextest does not run doctests; the crate docs' examples are tests too.
    steps.push(Step {
        name: "doctests (cargo test --doc)",
        run: cargo_tests(
            &["test", "--workspace", "--locked", "--doc"],
            Arc::clone(&tally),
        ),
    });
    // The benchmark in its smoke mode: every case runs on every engine (DuckDB and
    // Polars included) on tiny data and the answers must agree; no timing is judged.
    steps.push(Step {
        name: "bench smoke (cargo xtask bench --smoke)",
        run: Box::new(|| crate::bench::run(&crate::bench::Args::smoke())),
    });
    if !args.quick {
        steps.push(Step {
            name: "rustdoc (warnings denied)",
            run: cargo(
                &["doc", "--workspace", "--no-deps", "--locked"],
                &[("RUSTDOCFLAGS", "-D warnings")],
            ),
        });
    }

    let mut failed = Vec::new();
    for step in &steps {
        println!("\n==> {}", step.name);
        let start = Instant::now();
        let result = (step.run)();
        let seconds = start.elapsed().as_secs_f64();
        match result {
            Ok(()) => println!("==> ok: {} ({seconds:.1}s)", step.name),
            Err(error) => {
                eprintln!("==> FAILED: {} ({seconds:.1}s): {error:#}", step.name);
                failed.push(step.name);
            }
        }
    }
    let Tally {
        passed,
        failed: failed_tests,
    } = *tally.lock().expect("tally lock");
    println!();
    if failed.is_empty() {
        println!("all {} steps passed", steps.len());
    } else {
        eprintln!(
            "{} of {} steps failed: {}",
            failed.len(),
            steps.len(),
            failed.join("; ")
        );
    }
    // The plain closing line CI reads, summed over every runner; it comes last.
    println!("{passed} passed, {failed_tests} failed");
    if !failed.is_empty() {
        bail!("`cargo xtask test` failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{ScratchHome, Tally};

    #[test]
    fn a_file_written_into_the_scratch_home_fails_the_run_naming_it() {
        let home = ScratchHome::new()
            .unwrap()
            .expect("HOME is set where the tests run");
        assert!(home.check_untouched().is_ok());
        let vars = home.vars();
        assert_eq!(vars[0].1, home.dir.as_os_str());
        std::fs::write(home.dir.join(".codelake_history"), "SELECT 1;").unwrap();
        let error = home.check_untouched().unwrap_err().to_string();
        assert!(error.contains(".codelake_history"), "{error}");
        let dir = home.dir.clone();
        drop(home);
        assert!(!dir.exists(), "the scratch home is removed");
    }

    fn tally(lines: &[&str]) -> Tally {
        let mut tally = Tally::default();
        lines.iter().for_each(|line| tally.add_line(line));
        tally
    }

    #[test]
    fn sums_libtest_and_nextest_summaries_only() {
        let lines = [
            "test result: ok. 9 passed; 0 failed; 0 ignored; 0 measured; 1 filtered out; finished in 0.00s",
            "test result: FAILED. 8 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.40s",
            "     Summary [   1.234s] 95 tests run: 93 passed, 2 failed, 0 skipped",
            "test rows::ok ... ok",
            "thread panicked: 3 passed 4 failed",
            "    test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 4 filtered out",
        ];
        assert_eq!(
            tally(&lines),
            Tally {
                passed: 110,
                failed: 4
            }
        );
    }
}
