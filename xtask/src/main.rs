//! `cargo xtask`: the project's automation, in Rust (the rust-analyzer way).
//!
//! One module per subcommand. Paths come from [`project_root`], so every
//! command works from any directory of the checkout.
//!
//! What it must not know: nothing here is linked by the runtime or a plugin
//! (`tidy.rs` checks it); it drives the other crates from outside.

mod bench;
mod gen_catalog;
mod new_plugin;
mod node;
mod run;
mod site;
mod test;
#[cfg(test)]
mod tidy;
mod venv;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// codelake's project automation.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Regenerate the catalog registry, catalog.json and the catalog's reference docs from `tables/src`.
    GenCatalog(gen_catalog::Args),
    /// Start a source plugin: a new source kind in the model and a crate in plugins/NAME
    /// that serves it (newline-delimited JSON, to change), wired into the workspace and
    /// the conformance suite.
    NewPlugin(new_plugin::Args),
    /// Run every check CI runs: fmt, clippy, tests, rustdoc, and generated files' freshness.
    Test(test::Args),
    /// Benchmark codelake against native DataFusion, DuckDB and Polars on the same files, and `codelake serve` against ROAPI; writes docs/reference/benchmarks.md.
    Bench(bench::Args),
    /// Write the catalog site (HTML, search, lineage graph) from tables/catalog.json into target/site.
    Site(site::Args),
    /// Build codelake and its plugins, start the local environment, seed it if empty, and run the seed's query and a federated join.
    Demo {
        /// Passed to `codelake demo` (e.g. `--scale 0.1`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Build codelake and its plugins, then prove the catalog against an environment
    /// (`codelake verify`: reachable, schema by column name, queries, expectations).
    #[command(disable_help_flag = true)]
    Verify {
        /// Passed to `codelake verify`, e.g. `--env production --format json`; `--help` lists them.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Build codelake and its plugins, then run `codelake ARGS` (also `cargo codelake ARGS`).
    #[command(disable_help_flag = true)]
    Codelake {
        /// Arguments of `codelake`, e.g. `sql "SELECT 1"`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::GenCatalog(args) => gen_catalog::run(&project_root(), &args),
        Command::NewPlugin(args) => new_plugin::run(&project_root(), &args),
        Command::Test(args) => test::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Site(args) => site::run(&project_root(), &args),
        Command::Demo { args } => run::demo(&args),
        Command::Verify { args } => run::verify(&args),
        Command::Codelake { args } => run::codelake(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's directory.
///
/// Read at run time first: `cargo run` sets `CARGO_MANIFEST_DIR` for the checkout
/// it runs in, while the compile-time value can name another checkout when two
/// share a target directory (cargo then reuses the binary as it is).
pub fn project_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir
        .parent()
        .expect("xtask lives one level below the root")
        .to_path_buf()
}

/// The cargo that runs xtask, for the same reason read at run time first.
pub fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into())
}

/// A cargo command without the variables `cargo run` set for xtask itself
/// (`CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`, …).
///
/// ring's build script asks to rerun when they change, and cargo compares its
/// own environment, not the one it gives build scripts: a build started from
/// xtask would rebuild ring and everything above it (rustls, object_store,
/// DataFusion) after a plain `cargo build`, and the other way round.
pub fn cargo_command() -> std::process::Command {
    let mut command = std::process::Command::new(cargo());
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || matches!(
                name.as_ref(),
                "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE"
            )
        {
            command.env_remove(name.as_ref());
        }
    }
    command
}
