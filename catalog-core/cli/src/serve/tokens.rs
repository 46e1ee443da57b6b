//! The tokens `codelake serve` accepts: the configured ones, or one it makes
//! and keeps in a file only its user can read.

use std::path::{Path, PathBuf};

use catalog_serve::Tokens;

use crate::error::{CliError, EXIT_ENVIRONMENT};
use crate::names::shown;
use crate::session::Session;

/// Where a server that was given no token keeps the one it made.
pub(crate) fn token_file(session: &Session) -> PathBuf {
    session.config.data_dir.join("serve.token")
}

/// The tokens to accept, and a line saying where they come from. With none
/// configured, the server makes one and keeps it in a file only its user can
/// read, so that a curl line can use it without printing it.
pub(super) fn tokens(session: &Session, show: bool) -> Result<(Tokens, String), CliError> {
    let config = &session.config;
    if !config.serve_tokens.is_empty() {
        let from = config.serve_tokens_from.clone().unwrap_or_default();
        warn_if_readable_by_others(Path::new(&from));
        let tokens = Tokens::new(config.serve_tokens.iter().map(|token| token.expose()));
        let note = format!(
            "Accepting {} from {from}.",
            crate::names::counted(tokens.len(), "token")
        );
        return Ok((tokens, note));
    }
    let token = Tokens::generate().map_err(|error| {
        CliError::msg(EXIT_ENVIRONMENT, format!("cannot make a token: {error}"))
    })?;
    let path = token_file(session);
    write_private(&path, &token).map_err(|error| {
        CliError::msg(
            EXIT_ENVIRONMENT,
            format!(
                "cannot write the server's token to {}: {error}",
                path.display()
            ),
        )
        .hint("set CODELAKE_SERVE_TOKENS instead")
    })?;
    let note = if show {
        format!(
            "Token (made for this run, also in {}): {token}",
            shown(&path)
        )
    } else {
        format!(
            "Token: made for this run, in {} (readable by you only; --show-token prints it; \
             set CODELAKE_SERVE_TOKENS to choose your own).",
            shown(&path)
        )
    };
    Ok((Tokens::new([token]), note))
}

/// How the curl line names the token: the file, the variable, or the token itself.
pub(super) fn token_shell(session: &Session, show: bool) -> String {
    if !session.config.serve_tokens.is_empty() {
        return "$TOKEN".to_owned();
    }
    let path = token_file(session);
    if show {
        std::fs::read_to_string(&path).unwrap_or_default()
    } else {
        format!("$(cat {})", shown(&path))
    }
}

/// Warns when the tokens file at `path` (if it is one) can be read by other users.
fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            eprintln!(
                "warning: {} can be read by other users of this machine; `chmod 600` it",
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Writes `text` to a new file at `path`, readable and writable by the current
/// user only. Whatever was there (a file, a link) is removed first, so a link
/// planted at the path is never followed.
pub(crate) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(text.as_bytes())
}
