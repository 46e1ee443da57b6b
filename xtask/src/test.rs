//! `cargo xtask test`: every check CI runs, in one command.
//!
//! Each step runs even when an earlier one failed, so one run shows every
//! problem; the summary lists the failed steps and the exit code is non-zero.

use std::process::Command;
use std::time::Instant;

use anyhow::bail;

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

fn cargo(args: &'static [&'static str], env: &'static [(&'static str, &'static str)]) -> Box<dyn Fn() -> anyhow::Result<()>> {
    Box::new(move || {
        let status = Command::new(env!("CARGO")).args(args).envs(env.iter().copied()).current_dir(project_root()).status()?;
        if !status.success() {
            bail!("`cargo {}` failed ({status})", args.join(" "));
        }
        Ok(())
    })
}

fn has_nextest() -> bool {
    Command::new(env!("CARGO"))
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Runs every step, then fails if any did.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let mut steps = Vec::new();
    if !args.quick {
        steps.push(Step { name: "format (cargo fmt --check)", run: cargo(&["fmt", "--all", "--check"], &[]) });
        steps.push(Step {
            name: "generated files (gen-catalog --check)",
            run: Box::new(|| gen_catalog::run(&project_root(), &gen_catalog::Args { check: true })),
        });
        steps.push(Step {
            name: "lints (cargo clippy -D warnings)",
            run: cargo(&["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"], &[]),
        });
    }
    if has_nextest() {
        steps.push(Step {
            name: "tests (cargo nextest)",
            run: cargo(&["nextest", "run", "--workspace", "--locked", "--no-fail-fast"], &[]),
        });
    } else {
        println!("note: cargo-nextest not found; running the tests with cargo test");
        steps.push(Step { name: "tests (cargo test)", run: cargo(&["test", "--workspace", "--locked", "--no-fail-fast"], &[]) });
    }
    // nextest does not run doctests; the crate docs' examples are tests too.
    steps.push(Step { name: "doctests (cargo test --doc)", run: cargo(&["test", "--workspace", "--locked", "--doc"], &[]) });
    if !args.quick {
        steps.push(Step {
            name: "rustdoc (warnings denied)",
            run: cargo(&["doc", "--workspace", "--no-deps", "--locked"], &[("RUSTDOCFLAGS", "-D warnings")]),
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
    println!();
    if !failed.is_empty() {
        bail!("{} of {} steps failed: {}", failed.len(), steps.len(), failed.join("; "));
    }
    println!("all {} steps passed", steps.len());
    Ok(())
}
