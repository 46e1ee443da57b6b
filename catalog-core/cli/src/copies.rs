//! `codelake verify --serve URL`: the accelerated copies a running
//! `codelake serve` holds, read from its `GET /v1/tables`, so that a live
//! server's failed refreshes and stale copies reach the verify report.

use catalog_core::TableSpec;
use catalog_runtime::CopyStatus;

use crate::error::{CliError, EXIT_CONFIG, EXIT_ENVIRONMENT};
use crate::session::Session;

/// The variable a client's token for `codelake serve` is read from.
pub const TOKEN_VAR: &str = "CODELAKE_TOKEN";

/// The copies the server at `url` keeps of the accelerated tables among
/// `specs`. A table declared `accelerate` of which the server keeps no copy
/// (it serves another catalog) gets a copy that failed, saying so.
pub async fn served(
    session: &Session,
    url: &str,
    specs: &[&TableSpec],
) -> Result<Vec<CopyStatus>, CliError> {
    let base = url.trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(CliError::msg(
            EXIT_CONFIG,
            format!("--serve `{url}` is not an http:// or https:// URL"),
        )
        .hint("give the address `codelake serve` printed, e.g. http://127.0.0.1:8080"));
    }
    let (token, from) = token(session)?;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|error| CliError::msg(EXIT_ENVIRONMENT, format!("no HTTP client: {error}")))?;
    let unreachable = |error: String| {
        CliError::msg(
            EXIT_ENVIRONMENT,
            format!("cannot read the tables of `codelake serve` at {base}: {error}"),
        )
        .hint("is it running there? `codelake serve` prints its address when it starts")
    };
    let response = client
        .get(format!("{base}/v1/tables"))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|error| unreachable(with_causes(&error)))?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(CliError::msg(
            EXIT_CONFIG,
            format!("`codelake serve` at {base} refused the token from {from}"),
        )
        .hint(format!("set {TOKEN_VAR} to one of the server's tokens")));
    }
    let body = response
        .bytes()
        .await
        .map_err(|error| unreachable(with_causes(&error)))?;
    if !status.is_success() {
        return Err(unreachable(format!(
            "it answered {status}: {}",
            String::from_utf8_lossy(&body)
        )));
    }
    let tables: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|error| unreachable(format!("its answer is not the tables' JSON ({error})")))?;
    let mut copies = Vec::new();
    for spec in specs.iter().filter(|spec| spec.accelerate.is_some()) {
        let name = spec.qualified_name();
        let copy = tables["tables"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|table| table["name"] == name.as_str())
            .map(|table| &table["copy"])
            .filter(|copy| !copy.is_null());
        copies.push(match copy {
            Some(copy) => serde_json::from_value(copy.clone()).map_err(|error| {
                unreachable(format!(
                    "the copy of `{name}` is not a copy's status ({error})"
                ))
            })?,
            None => CopyStatus {
                table: name.clone(),
                refresh: spec
                    .refresh
                    .as_ref()
                    .map(|refresh| std::time::Duration::from_secs(refresh.seconds))
                    .unwrap_or_default(),
                loaded_at: None,
                bytes: 0,
                rows: 0,
                loads: 0,
                failures: 0,
                last_error: Some(format!(
                    "`codelake serve` at {base} keeps no copy of `{name}`: it serves a catalog \
                     where the table is not accelerated, or no such table"
                )),
                refused: None,
            },
        });
    }
    Ok(copies)
}

/// The token to present, and where it came from (never the token itself):
/// [`TOKEN_VAR`], else the first token the configuration gives the server,
/// else the token a local `codelake serve` made for itself.
fn token(session: &Session) -> Result<(String, String), CliError> {
    if let Ok(token) = std::env::var(TOKEN_VAR) {
        return Ok((token.trim().to_owned(), TOKEN_VAR.to_owned()));
    }
    let config = &session.config;
    if let Some(token) = config.serve_tokens.first() {
        let from = config
            .serve_tokens_from
            .clone()
            .unwrap_or_else(|| "the configuration".into());
        return Ok((token.expose().to_owned(), from));
    }
    let file = crate::serve::token_file(session);
    match std::fs::read_to_string(&file) {
        Ok(token) => Ok((token.trim().to_owned(), file.display().to_string())),
        Err(_) => Err(CliError::msg(
            EXIT_CONFIG,
            "no token for `codelake serve`: CODELAKE_TOKEN is not set, the configuration \
             gives none, and no local server left one",
        )
        .hint(format!("set {TOKEN_VAR} to one of the server's tokens"))),
    }
}

/// A client error with its causes (reqwest keeps the useful one, e.g.
/// "connection refused", in its source).
fn with_causes(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    message
}
