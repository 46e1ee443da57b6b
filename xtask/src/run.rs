//! `cargo xtask demo` and `cargo xtask codelake`: build the `codelake` binary
//! and the source plugins it loads, then run it.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::project_root;

/// The packages `codelake` needs at run time: itself and every source plugin
/// ([`plugin_packages`]).
fn packages() -> Vec<String> {
    let mut packages = vec!["codelake".to_owned()];
    packages.extend(plugin_packages(&project_root()));
    packages
}

/// Every source plugin of the workspace: each `plugins/*/Cargo.toml` whose
/// package is a `codelake-plugin-*` `cdylib`, so that a new plugin (one
/// `cargo xtask new-plugin` makes, say) is built with no list to update.
/// The ABI and SDK crates are no cdylibs; the test plugins live one level down.
pub fn plugin_packages(root: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root.join("plugins")) else {
        return Vec::new();
    };
    let mut packages: Vec<String> = entries
        .filter_map(|entry| {
            let manifest = std::fs::read_to_string(entry.ok()?.path().join("Cargo.toml")).ok()?;
            let name = manifest
                .lines()
                .find_map(|line| line.trim().strip_prefix("name = "))?
                .trim_matches('"');
            let cdylib = manifest
                .lines()
                .any(|line| line.trim().starts_with("crate-type") && line.contains("cdylib"));
            (name.starts_with("codelake-plugin-") && cdylib).then(|| name.to_owned())
        })
        .collect();
    packages.sort();
    packages
}

/// Builds `codelake` and the plugins (quietly if `quiet`, optimised if
/// `release`); the binary's path, with the plugins beside it. The debug build
/// is the test suite's ([`build_like_tests`]): the demo, `verify` and
/// `cargo codelake` then share one build of DataFusion with `cargo xtask test`
/// and gen-catalog, for the price of compiling the tests' own code too.
pub fn build(quiet: bool, release: bool) -> Result<PathBuf> {
    if release {
        build_packages(&[], quiet, release)
    } else {
        build_like_tests(quiet)
    }
}

/// [`build`], with `extra` packages built in the same cargo invocation (so
/// their features unify with codelake's).
pub fn build_packages(extra: &[&str], quiet: bool, release: bool) -> Result<PathBuf> {
    let mut command = crate::cargo_command();
    command.current_dir(project_root()).arg("build");
    if quiet {
        command.arg("--quiet");
    }
    if release {
        command.arg("--release");
    }
    for package in packages()
        .iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
    {
        command.args(["--package", package]);
    }
    let status = command.status().context("cannot run cargo")?;
    if !status.success() {
        bail!("building codelake and its plugins failed (see above)");
    }
    Ok(binary_path(release))
}

/// The debug build of the test suite, exactly (`cargo build --workspace
/// --all-targets`): what `cargo xtask test` builds, so nothing is built twice.
/// Building only `codelake` and its plugins resolves dependency features
/// without the tests' dev-dependencies (ahash, serde_json, regex), and so
/// builds Arrow and DataFusion a second time. The `codelake` binary's path.
pub fn build_like_tests(quiet: bool) -> Result<PathBuf> {
    let mut command = crate::cargo_command();
    command.current_dir(project_root()).arg("build");
    if quiet {
        command.arg("--quiet");
    }
    command.args(["--workspace", "--all-targets", "--locked"]);
    let status = command.status().context("cannot run cargo")?;
    if !status.success() {
        bail!("building the workspace failed (see above)");
    }
    Ok(binary_path(false))
}

/// Where cargo puts the `codelake` binary of the debug or release profile.
pub fn binary_path(release: bool) -> PathBuf {
    let root = project_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| root.join(dir))
        .unwrap_or_else(|| root.join("target"));
    let profile = if release { "release" } else { "debug" };
    target
        .join(profile)
        .join(format!("codelake{}", std::env::consts::EXE_SUFFIX))
}

/// Runs the built `codelake` with `args` in `dir`, as this process where the OS allows.
pub fn exec(binary: &PathBuf, args: &[String], dir: Option<PathBuf>) -> Result<()> {
    let mut command = Command::new(binary);
    command.args(args);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Replace xtask: signals, the terminal and the exit code are codelake's own.
        let error = command.exec();
        Err(error).with_context(|| format!("cannot run {}", binary.display()))
    }
    #[cfg(not(unix))]
    {
        let status = command
            .status()
            .with_context(|| format!("cannot run {}", binary.display()))?;
        std::process::exit(status.code().unwrap_or(1));
    }
}

/// `cargo xtask demo`.
pub fn demo(args: &[String]) -> Result<()> {
    eprintln!(
        "Building codelake and its four source plugins, as `cargo xtask test` builds them (on a fresh clone: several minutes)..."
    );
    let binary = build(false, false)?;
    let mut all = vec!["demo".to_owned()];
    all.extend_from_slice(args);
    exec(&binary, &all, Some(project_root()))
}

/// `cargo xtask verify ARGS`: `codelake verify ARGS` in the project's root, so
/// its `codelake.toml` and local environment are the ones used.
pub fn verify(args: &[String]) -> Result<()> {
    // Cargo's progress goes to standard error: `--format json > report.json` stays clean.
    let binary = build(false, false)?;
    let mut all = vec!["verify".to_owned()];
    all.extend_from_slice(args);
    exec(&binary, &all, Some(project_root()))
}

/// `cargo xtask codelake ARGS` (`cargo codelake ARGS`).
pub fn codelake(args: &[String]) -> Result<()> {
    let binary = build(true, false)?;
    exec(&binary, args, None)
}

#[cfg(test)]
mod tests {
    /// The bench and `cargo xtask demo --release` build every source plugin:
    /// the list comes from the workspace, so it cannot miss one.
    #[test]
    fn every_source_plugin_is_built_and_nothing_else() {
        let packages = super::plugin_packages(&crate::project_root());
        for plugin in [
            "csv",
            "delta",
            "function",
            "http-api",
            "jsonl",
            "s3-parquet",
        ] {
            let package = format!("codelake-plugin-{plugin}");
            assert!(
                packages.contains(&package),
                "{package} missing from {packages:?}"
            );
        }
        for not_a_plugin in ["codelake-plugin-abi", "codelake-plugin-sdk"] {
            assert!(
                !packages.iter().any(|package| package == not_a_plugin),
                "{packages:?}"
            );
        }
    }
}
