//! `codelake-bench-engine pg-load HOST:PORT TOKEN CLIENTS SECONDS SQL`: many
//! Postgres clients at once, each on a connection of its own, running `SQL`
//! one simple query after another (as psql sends them; ROAPI's Postgres port
//! takes no other) for `SECONDS`, every row read. `TOKEN` is the password,
//! unless it is `-`. Prints one JSON line: `done`, `errors`, `latencies_ms`,
//! `elapsed_s` and `first_error`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use pgwire::api::client::Config;
use pgwire::api::client::auth::DefaultStartupHandler;
use pgwire::api::client::query::{DefaultSimpleQueryHandler, Response};
use pgwire::tokio::client::PgWireClient;

/// What the clients saw together.
#[derive(Default)]
struct Seen {
    latencies_ms: Vec<f64>,
    errors: usize,
    first_error: Option<String>,
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let [address, token, clients, seconds, sql] = args else {
        anyhow::bail!("usage: codelake-bench-engine pg-load HOST:PORT TOKEN|- CLIENTS SECONDS SQL");
    };
    let clients: usize = clients.parse().context("CLIENTS")?;
    let duration = Duration::from_secs(seconds.parse().context("SECONDS")?);
    let (host, port) = address
        .rsplit_once(':')
        .with_context(|| format!("{address} is not HOST:PORT"))?;
    let mut conninfo = format!("host={host} port={port} user=bench dbname=bench sslmode=disable");
    if token != "-" {
        conninfo.push_str(&format!(" password={token}"));
    }
    let config: Arc<Config> = Arc::new(
        conninfo
            .parse()
            .map_err(|error| anyhow::anyhow!("{error:?}"))?,
    );
    let runtime = tokio::runtime::Runtime::new()?;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let started = Instant::now();
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (config, sql, seen) = (Arc::clone(&config), sql.clone(), Arc::clone(&seen));
            tasks.push(tokio::spawn(async move {
                let mut mine = Seen::default();
                let mut client = None;
                while started.elapsed() < duration {
                    let sent = Instant::now();
                    match ask(&config, &mut client, &sql).await {
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

/// One simple query on `client` (connected first if it is not), every row read.
async fn ask(
    config: &Arc<Config>,
    client: &mut Option<PgWireClient>,
    sql: &str,
) -> anyhow::Result<()> {
    if client.is_none() {
        let connected =
            PgWireClient::connect(Arc::clone(config), DefaultStartupHandler::new(), None)
                .await
                .map_err(|error| anyhow::anyhow!("connecting: {error}"))?;
        *client = Some(connected);
    }
    let client = client.as_mut().expect("connected above");
    let responses = client
        .simple_query(DefaultSimpleQueryHandler::new(), sql)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let rows: usize = responses
        .into_iter()
        .map(|response| match response {
            Response::Query((_, _, rows)) => rows.len(),
            _ => 0,
        })
        .sum();
    anyhow::ensure!(rows > 0, "no rows");
    Ok(())
}
