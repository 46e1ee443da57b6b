//! `codelake verify --serve URL`: the accelerated copies a running
//! `codelake serve` holds, read from its `GET /v1/tables`, so that a live
//! server's failed refreshes and stale copies reach the verify report.

use std::net::IpAddr;
use std::time::Duration;

use catalog_core::TableSpec;
use catalog_runtime::CopyStatus;
use reqwest::Url;

use crate::error::{CliError, EXIT_CONFIG, EXIT_ENVIRONMENT};
use crate::session::Session;

/// A server's address, checked before anything is started: `http(s)://host:port`,
/// with no user name or password in it.
pub struct ServerUrl {
    /// `scheme://host:port`, as printed and reported.
    pub shown: String,
    /// Whether the host is this machine's loopback.
    loopback: bool,
}

impl ServerUrl {
    /// `text` as a server address; `insecure` allows plain http beyond loopback.
    pub fn parse(text: &str, insecure: bool) -> Result<Self, CliError> {
        let bad = |why: &str| {
            CliError::msg(EXIT_CONFIG, format!("--serve: {why}"))
                .hint("give the address `codelake serve` printed, e.g. http://127.0.0.1:8080")
        };
        let url = Url::parse(text).map_err(|_| bad("not a URL"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(CliError::msg(
                EXIT_CONFIG,
                "--serve: the URL holds a user name or password; give the address alone",
            )
            .hint("put the token in CODELAKE_TOKEN, never in the URL"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(bad(
                "give the server's address alone, with no path, query or fragment",
            ));
        }
        let host = url.host_str().ok_or_else(|| bad("the URL has no host"))?;
        let loopback = host == "localhost"
            || host
                .trim_matches(['[', ']'])
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let shown = match url.scheme() {
            "http" | "https" => format!(
                "{}://{host}{}",
                url.scheme(),
                url.port()
                    .map(|port| format!(":{port}"))
                    .unwrap_or_default()
            ),
            other => return Err(bad(&format!("`{other}://` is not http:// or https://"))),
        };
        if url.scheme() == "http" && !loopback && !insecure {
            return Err(CliError::msg(
                EXIT_CONFIG,
                format!("--serve {shown}: the token would cross the network in clear text"),
            )
            .hint("serve with --tls-cert and --tls-key and use https://, or add --insecure on a trusted network"));
        }
        Ok(Self { shown, loopback })
    }
}

/// The copies the server at `url` keeps of `specs`' tables: every copy it
/// has, and for a table declared `accelerate` of which it has none, a copy
/// that failed, saying why (the server serves another catalog, cannot open
/// the table, or is older than copy status).
pub async fn served(
    session: &Session,
    url: &ServerUrl,
    specs: &[&TableSpec],
) -> Result<Vec<CopyStatus>, CliError> {
    let base = &url.shown;
    let (token, from) = token(session, url)?;
    // No proxy (one would see the token, in clear text for a loopback
    // http:// server) and no redirect (`GET /v1/tables` never redirects).
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|error| CliError::msg(EXIT_ENVIRONMENT, format!("no HTTP client: {error}")))?;
    let failed = |error: String, hint: &str| {
        CliError::msg(
            EXIT_ENVIRONMENT,
            format!("cannot read the tables of `codelake serve` at {base}: {error}"),
        )
        .hint(hint)
    };
    let response = client
        .get(format!("{base}/v1/tables"))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|error| {
            let said = with_causes(&error);
            let hint = if said.contains("certificate") {
                "the client trusts the system's root certificates: set SSL_CERT_FILE to the \
                 server's CA certificate (PEM)"
            } else {
                "is it running there? `codelake serve` prints its address when it starts"
            };
            failed(said, hint)
        })?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(CliError::msg(
            EXIT_CONFIG,
            format!("`codelake serve` at {base} refused the token from {from}"),
        )
        .hint("set CODELAKE_TOKEN to one of the server's tokens"));
    }
    let body = response.bytes().await.map_err(|error| {
        failed(
            with_causes(&error),
            "try again; the server may be restarting",
        )
    })?;
    if !status.is_success() {
        let said: String = String::from_utf8_lossy(&body).chars().take(300).collect();
        return Err(failed(
            format!("it answered {status}: {said}"),
            "is that address a `codelake serve` of this version? `GET /v1/tables` lists its tables",
        ));
    }
    let listed: serde_json::Value = serde_json::from_slice(&body).map_err(|error| {
        failed(
            format!("its answer is not the tables' JSON ({error})"),
            "is that address a `codelake serve`?",
        )
    })?;
    let tables = listed["tables"].as_array().cloned().unwrap_or_default();
    let mut copies = Vec::new();
    for spec in specs {
        let name = spec.qualified_name();
        let entry = tables.iter().find(|table| table["name"] == name.as_str());
        if let Some(copy) = entry
            .and_then(|table| table.get("copy"))
            .filter(|copy| !copy.is_null())
        {
            let copy = serde_json::from_value(copy.clone()).map_err(|error| {
                failed(
                    format!("the copy of `{name}` is not a copy's status ({error})"),
                    "is the server the same version as this codelake?",
                )
            })?;
            copies.push(copy);
            continue;
        }
        if spec.accelerate.is_none() {
            continue;
        }
        let why = match entry {
            None => format!(
                "`codelake serve` at {base} serves no table `{name}`: start it over this catalog \
                 (`codelake serve --catalog FILE` for a catalog.json)"
            ),
            Some(table) if table["available"] == false => format!(
                "`codelake serve` at {base} cannot open `{name}`: {}",
                table["unavailable_because"]
                    .as_str()
                    .unwrap_or("it did not say why")
            ),
            Some(table) if table.get("copy").is_none() => format!(
                "`codelake serve` at {base} does not report copies: it is older than this \
                 codelake; upgrade it"
            ),
            Some(_) => format!(
                "`codelake serve` at {base} does not accelerate `{name}`: it serves a catalog \
                 where the table is not declared `accelerate`; start it over this catalog"
            ),
        };
        copies.push(CopyStatus {
            table: name,
            refresh: spec
                .refresh
                .as_ref()
                .map(|refresh| Duration::from_secs(refresh.seconds))
                .unwrap_or_default(),
            loaded_at: None,
            bytes: 0,
            rows: 0,
            loads: 0,
            failures: 0,
            last_error: Some(why),
            refused: None,
        });
    }
    Ok(copies)
}

/// The token to present, and where it came from (never the token itself):
/// `CODELAKE_TOKEN`; for a server on loopback only, else the first token the
/// configuration gives a server, else the token a local server made.
fn token(session: &Session, url: &ServerUrl) -> Result<(String, String), CliError> {
    let config = &session.config;
    if let Some(token) = &config.client_token {
        return Ok((token.expose().to_owned(), "CODELAKE_TOKEN".to_owned()));
    }
    let missing = || {
        CliError::msg(
            EXIT_CONFIG,
            format!("no token to present to `codelake serve` at {}", url.shown),
        )
        .hint("set CODELAKE_TOKEN to one of the server's tokens")
    };
    if !url.loopback {
        return Err(missing());
    }
    if let Some(token) = config.serve_tokens.first() {
        let from = config
            .serve_tokens_from
            .clone()
            .unwrap_or_else(|| "the configuration".into());
        return Ok((token.expose().to_owned(), from));
    }
    let file = crate::serve::token_file(session);
    match std::fs::read_to_string(&file) {
        Ok(token) if !token.trim().is_empty() => {
            Ok((token.trim().to_owned(), file.display().to_string()))
        }
        _ => Err(missing()),
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
