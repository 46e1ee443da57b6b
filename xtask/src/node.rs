//! Project-local Node packages (`.codelake/clients/inspector`), never global:
//! the MCP Inspector's CLI the tests drive as a second MCP client.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// The packages of `manifest_dir` (its `package.json` and `package-lock.json`)
/// installed into `into` with `npm ci`: once, and again whenever the lockfile
/// changes. `what` names them in messages.
pub fn ensure(manifest_dir: &Path, into: &Path, what: &str) -> anyhow::Result<()> {
    let lock = fs::read_to_string(manifest_dir.join("package-lock.json")).with_context(|| {
        format!(
            "cannot read {}",
            manifest_dir.join("package-lock.json").display()
        )
    })?;
    let stamp = into.join("codelake-package-lock.json");
    if into.join("node_modules").is_dir()
        && fs::read_to_string(&stamp).ok().as_deref() == Some(&lock)
    {
        return Ok(());
    }
    let npm_works = Command::new("npm")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !npm_works {
        bail!(
            "{what} need Node.js 20 or later with npm: install them, e.g. `apt-get install nodejs npm`"
        );
    }
    println!("Installing {what} into {} (once)...", into.display());
    fs::create_dir_all(into)?;
    for file in ["package.json", "package-lock.json"] {
        fs::copy(manifest_dir.join(file), into.join(file))
            .with_context(|| format!("cannot copy {file} into {}", into.display()))?;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(into)
        .status()?;
    if !status.success() {
        bail!(
            "`npm ci` in {} failed (see npm's message above); it needs the npm registry",
            into.display()
        );
    }
    fs::write(&stamp, lock)?;
    Ok(())
}
