//! `codelake-bench-engine flight-load URI TOKEN CLIENTS SECONDS SQL`: many
//! Flight SQL clients at once, each on a connection of its own, running `SQL`
//! one request after another (`GetFlightInfo`, then `DoGet` of every
//! endpoint, read to the end) for `SECONDS`. `TOKEN` is sent as a bearer
//! token, unless it is `-`. Prints one JSON line: `done`, `errors`,
//! `latencies_ms`, `elapsed_s` and `first_error`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use arrow_flight::sql::client::FlightSqlServiceClient;
use futures::TryStreamExt;
use tonic::transport::Endpoint;

/// What the clients saw together.
#[derive(Default)]
struct Seen {
    latencies_ms: Vec<f64>,
    errors: usize,
    first_error: Option<String>,
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let [uri, token, clients, seconds, sql] = args else {
        anyhow::bail!("usage: codelake-bench-engine flight-load URI TOKEN|- CLIENTS SECONDS SQL");
    };
    let clients: usize = clients.parse().context("CLIENTS")?;
    let duration = Duration::from_secs(seconds.parse().context("SECONDS")?);
    // gRPC's scheme for tonic: `grpc://` is Flight's name for plain HTTP/2.
    let endpoint = Endpoint::from_shared(uri.replacen("grpc://", "http://", 1))
        .with_context(|| format!("{uri} is not a Flight SQL address"))?;
    let token = (token != "-").then(|| token.clone());
    let runtime = tokio::runtime::Runtime::new()?;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let started = Instant::now();
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (endpoint, token, sql, seen) = (
                endpoint.clone(),
                token.clone(),
                sql.clone(),
                Arc::clone(&seen),
            );
            tasks.push(tokio::spawn(async move {
                let mut mine = Seen::default();
                let mut client = None;
                while started.elapsed() < duration {
                    let sent = Instant::now();
                    match ask(&endpoint, &mut client, token.as_deref(), &sql).await {
                        Ok(()) => mine.latencies_ms.push(sent.elapsed().as_secs_f64() * 1e3),
                        Err(error) => {
                            mine.errors += 1;
                            mine.first_error.get_or_insert(format!("{error:#}"));
                            // A broken connection is opened again on the next request.
                            client = None;
                        }
                    }
                }
                let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                seen.latencies_ms.extend(mine.latencies_ms);
                seen.errors += mine.errors;
                if seen.first_error.is_none() {
                    seen.first_error = mine.first_error;
                }
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
    });
    let elapsed = started.elapsed();
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    println!(
        "{}",
        serde_json::json!({
            "done": seen.latencies_ms.len(),
            "errors": seen.errors,
            "latencies_ms": seen.latencies_ms,
            "elapsed_s": elapsed.as_secs_f64(),
            "first_error": seen.first_error,
        })
    );
    Ok(())
}

/// One request: `GetFlightInfo`, then every endpoint's stream read to the end,
/// on `client` (connected first if it is not).
async fn ask(
    endpoint: &Endpoint,
    client: &mut Option<FlightSqlServiceClient<tonic::transport::Channel>>,
    token: Option<&str>,
    sql: &str,
) -> anyhow::Result<()> {
    if client.is_none() {
        let mut connected = FlightSqlServiceClient::new(endpoint.connect().await?);
        if let Some(token) = token {
            connected.set_token(token.to_owned());
        }
        *client = Some(connected);
    }
    let client = client.as_mut().expect("connected above");
    let info = client.execute(sql.to_owned(), None).await?;
    for endpoint in info.endpoint {
        let ticket = endpoint.ticket.context("an endpoint without a ticket")?;
        let mut stream = client.do_get(ticket).await?;
        while stream.try_next().await?.is_some() {}
    }
    Ok(())
}
