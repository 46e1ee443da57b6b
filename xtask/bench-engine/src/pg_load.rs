//! `codelake-bench-engine pg-load HOST:PORT TOKEN CLIENTS SECONDS SQL`: many
//! Postgres clients at once (see `load.rs`), each running `SQL` one simple
//! query after another (as psql sends them; ROAPI's Postgres port takes no
//! other) for `SECONDS`, every row read. `TOKEN` is the password, unless it
//! is `-`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use pgwire::api::client::Config;
use pgwire::api::client::auth::DefaultStartupHandler;
use pgwire::api::client::query::{DefaultSimpleQueryHandler, Response};
use pgwire::tokio::client::PgWireClient;

use crate::load::{Asker, drive};

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
    let config: Config = conninfo
        .parse()
        .map_err(|error| anyhow::anyhow!("{error:?}"))?;
    let postgres = Postgres {
        config: Arc::new(config),
        sql: sql.clone(),
    };
    drive(postgres, clients, duration)
}

#[derive(Clone)]
struct Postgres {
    config: Arc<Config>,
    sql: String,
}

impl Asker for Postgres {
    type Connection = PgWireClient;

    /// One simple query, every row read.
    async fn ask(&self, client: &mut Option<Self::Connection>) -> anyhow::Result<()> {
        if client.is_none() {
            let connected =
                PgWireClient::connect(Arc::clone(&self.config), DefaultStartupHandler::new(), None)
                    .await
                    .map_err(|error| anyhow::anyhow!("connecting: {error}"))?;
            *client = Some(connected);
        }
        let client = client.as_mut().expect("connected above");
        let responses = client
            .simple_query(DefaultSimpleQueryHandler::new(), &self.sql)
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
}
