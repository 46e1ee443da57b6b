//! How a failed command is reported: the error, its causes, the fix, an exit code.

use std::process::ExitCode;

/// A query or command failed.
pub const EXIT_FAILED: u8 = 1;
/// Bad usage: flags or arguments that cannot work together (clap uses 2 too).
pub const EXIT_USAGE: u8 = 2;
/// The configuration is invalid: `codelake.toml`, a variable or a flag.
pub const EXIT_CONFIG: u8 = 3;
/// The environment cannot be reached or started: servers, plugins.
pub const EXIT_ENVIRONMENT: u8 = 4;
/// Interrupted by Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// A failure on its way to the user.
#[derive(Debug)]
pub struct CliError {
    code: u8,
    error: anyhow::Error,
    hint: Option<String>,
}

impl CliError {
    /// A failed query or command (exit code 1).
    pub fn failed(error: impl Into<anyhow::Error>) -> Self {
        Self::new(EXIT_FAILED, error.into())
    }

    /// An invalid configuration (exit code 3).
    pub fn config(error: impl Into<anyhow::Error>) -> Self {
        Self::new(EXIT_CONFIG, error.into())
    }

    /// An unreachable environment (exit code 4).
    pub fn environment(error: impl Into<anyhow::Error>) -> Self {
        Self::new(EXIT_ENVIRONMENT, error.into())
    }

    /// A failure from a plain message.
    pub fn msg(code: u8, message: impl Into<String>) -> Self {
        Self::new(code, anyhow::Error::msg(message.into()))
    }

    fn new(code: u8, error: anyhow::Error) -> Self {
        Self {
            code,
            error,
            hint: None,
        }
    }

    /// Adds what to do about it.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Prints the error, its causes and the fix on standard error; the exit code.
    pub fn report(self) -> ExitCode {
        eprintln!("error: {}", self.error);
        let mut previous = self.error.to_string();
        for cause in self.error.chain().skip(1) {
            let cause = cause.to_string();
            // DataFusion and object_store often repeat their source in their message.
            if !previous.contains(&cause) {
                eprintln!("  caused by: {cause}");
            }
            previous = cause;
        }
        if let Some(hint) = self.hint {
            eprintln!("hint: {hint}");
        }
        ExitCode::from(self.code)
    }
}
