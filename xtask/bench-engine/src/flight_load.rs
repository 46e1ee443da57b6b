//! `codelake-bench-engine flight-load URI TOKEN CLIENTS SECONDS SQL`: many
//! Flight SQL clients at once (see `load.rs`), each running `SQL` one request
//! after another (`GetFlightInfo`, then `DoGet` of every endpoint, read to the
//! end) for `SECONDS`. `TOKEN` is sent as a bearer token, unless it is `-`.

use std::time::Duration;

use anyhow::Context;
use arrow_flight::sql::client::FlightSqlServiceClient;
use futures::TryStreamExt;
use tonic::transport::{Channel, Endpoint};

use crate::load::{Asker, drive};

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let [uri, token, clients, seconds, sql] = args else {
        anyhow::bail!("usage: codelake-bench-engine flight-load URI TOKEN|- CLIENTS SECONDS SQL");
    };
    let clients: usize = clients.parse().context("CLIENTS")?;
    let duration = Duration::from_secs(seconds.parse().context("SECONDS")?);
    // gRPC's scheme for tonic: `grpc://` is Flight's name for plain HTTP/2.
    let endpoint = Endpoint::from_shared(uri.replacen("grpc://", "http://", 1))
        .with_context(|| format!("{uri} is not a Flight SQL address"))?;
    let flight = Flight {
        endpoint,
        token: (token != "-").then(|| token.clone()),
        sql: sql.clone(),
    };
    drive(flight, clients, duration)
}

#[derive(Clone)]
struct Flight {
    endpoint: Endpoint,
    token: Option<String>,
    sql: String,
}

impl Asker for Flight {
    type Connection = FlightSqlServiceClient<Channel>;

    /// `GetFlightInfo`, then every endpoint's stream read to the end.
    async fn ask(&self, client: &mut Option<Self::Connection>) -> anyhow::Result<()> {
        if client.is_none() {
            let mut connected = FlightSqlServiceClient::new(self.endpoint.connect().await?);
            if let Some(token) = &self.token {
                connected.set_token(token.clone());
            }
            *client = Some(connected);
        }
        let client = client.as_mut().expect("connected above");
        let info = client.execute(self.sql.clone(), None).await?;
        for endpoint in info.endpoint {
            let ticket = endpoint.ticket.context("an endpoint without a ticket")?;
            let mut stream = client.do_get(ticket).await?;
            while stream.try_next().await?.is_some() {}
        }
        Ok(())
    }
}
