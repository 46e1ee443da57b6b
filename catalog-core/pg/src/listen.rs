//! Listening: Postgres connections on a TCP listener, TLS when the client asks
//! for it (`SSLRequest`) and the server has a certificate, at most
//! [`MAX_CONNECTIONS`] at once, with TCP keep-alive so that a client that
//! vanished (a half-open connection) is closed, and a drain on shutdown.

use std::sync::Arc;
use std::time::Duration;

use catalog_serve::QueryService;
use catalog_serve::rustls::ServerConfig;
use socket2::{SockRef, TcpKeepalive};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::PgFront;

/// Connections served at once; beyond them, the next waits to be accepted.
const MAX_CONNECTIONS: usize = 1024;

/// Idle time before the first keep-alive probe, and between probes; a
/// connection whose peer answers none of [`KEEPALIVE_PROBES`] is closed.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_PROBES: u32 = 3;

/// Serves the Postgres wire for `service` on `listener` (offering TLS when
/// `tls` is given) until `shutdown` resolves; then takes no new connection,
/// waits for the queries in flight, and closes the connections left.
pub async fn serve(
    listener: TcpListener,
    service: Arc<QueryService>,
    tls: Option<&ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let front = Arc::new(PgFront::new(Arc::clone(&service)));
    let acceptor = tls.map(|config| {
        let mut config = config.clone();
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        TlsAcceptor::from(Arc::new(config))
    });
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("never closed"),
        };
        let tcp = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(_) => {
                    // A client gone before it was accepted, or no descriptor left: wait it out.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let keepalive = TcpKeepalive::new()
            .with_time(KEEPALIVE_IDLE)
            .with_interval(KEEPALIVE_INTERVAL)
            .with_retries(KEEPALIVE_PROBES);
        let _ = SockRef::from(&tcp).set_tcp_keepalive(&keepalive);
        let (front, acceptor) = (Arc::clone(&front), acceptor.clone());
        connections.spawn(async move {
            // pgwire closes a connection that sends garbage, or nothing within its start-up timeout.
            let _ = pgwire::tokio::process_socket(tcp, acceptor, front).await;
            drop(slot);
        });
        // Finished connections are reaped as others come.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    // Draining: the service refuses new queries; the running ones finish.
    while service.metrics().in_flight() > 0 && !connections.is_empty() {
        tokio::select! {
            _ = connections.join_next() => {}
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    connections.shutdown().await;
    Ok(())
}
