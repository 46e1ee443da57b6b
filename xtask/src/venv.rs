//! Project-local Python virtual environments (`.codelake/*/venv`), never
//! system-wide: the bench's engines and the tests' real clients.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The Python of the venv at `venv`, with `requirements` installed: once,
/// and again whenever the requirements file changes. `what` names the
/// packages in messages.
pub fn ensure(venv: &Path, requirements: &Path, what: &str) -> anyhow::Result<PathBuf> {
    let python = venv.join("bin/python");
    let wanted = fs::read_to_string(requirements)
        .with_context(|| format!("cannot read {}", requirements.display()))?;
    let installed = venv.join("codelake-requirements.txt");
    if python.exists() && fs::read_to_string(&installed).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(python);
    }
    println!("Installing {what} into {} (once)...", venv.display());
    let system_python = ["python3", "python"]
        .into_iter()
        .find(|name| Command::new(name).arg("--version").output().is_ok())
        .with_context(|| {
            format!(
                "{what} need Python 3 with venv: install it, e.g. `apt-get install python3 python3-venv`"
            )
        })?;
    let status = Command::new(system_python)
        .args(["-m", "venv", "--clear"])
        .arg(venv)
        .status()?;
    if !status.success() {
        bail!(
            "`{system_python} -m venv` failed: install the venv module (e.g. `apt-get install python3-venv`)"
        );
    }
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(requirements)
        .status()?;
    if !status.success() {
        bail!(
            "installing {} into {} failed (see pip's message above); it needs PyPI",
            requirements.display(),
            venv.display()
        );
    }
    fs::write(&installed, wanted)?;
    Ok(python)
}
