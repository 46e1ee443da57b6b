//! Listening: gRPC (HTTP/2) on a TCP listener, in clear text or over TLS
//! (the service's rustls configuration, offering h2 by ALPN), with a
//! handshake timeout, keep-alive pings that close half-open connections, and
//! graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use arrow_flight::flight_service_server::FlightServiceServer;
use catalog_serve::QueryService;
use catalog_serve::rustls::ServerConfig;
use futures::Stream;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::FlightFront;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often an idle connection is pinged, and how long its answer may take:
/// a client that vanished without closing (a half-open connection) is closed.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Largest message a client may send (a query, a ticket): 16 MiB.
const MAX_DECODING_MESSAGE: usize = 16 << 20;

/// Serves Flight SQL for `service` on `listener` (over TLS when `tls` is
/// given) until `shutdown` resolves; then takes no new call, lets the calls
/// in flight finish, and returns.
pub async fn serve(
    listener: TcpListener,
    service: Arc<QueryService>,
    tls: Option<&ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let flight = FlightServiceServer::new(FlightFront::new(service))
        .max_decoding_message_size(MAX_DECODING_MESSAGE);
    let router = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .add_service(flight);
    let served = match tls {
        None => {
            router
                .serve_with_incoming_shutdown(plain(listener), shutdown)
                .await
        }
        Some(config) => {
            let mut config = config.clone();
            config.alpn_protocols = vec![b"h2".to_vec()];
            let acceptor = TlsAcceptor::from(Arc::new(config));
            router
                .serve_with_incoming_shutdown(encrypted(listener, acceptor), shutdown)
                .await
        }
    };
    served.map_err(std::io::Error::other)
}

/// The listener's connections, as they come; an accept error (a client gone
/// before it was accepted, no file descriptor left) is waited out, never
/// returned, since it would stop the server.
fn plain(listener: TcpListener) -> impl Stream<Item = std::io::Result<TcpStream>> {
    futures::stream::unfold(listener, |listener| async move {
        loop {
            match listener.accept().await {
                Ok((tcp, _)) => {
                    let _ = tcp.set_nodelay(true);
                    return Some((Ok(tcp), listener));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
}

/// The listener's connections once their TLS handshake is done, each
/// handshake on its own task and within [`HANDSHAKE_TIMEOUT`], so that a slow
/// or silent client holds up no one.
fn encrypted(
    listener: TcpListener,
    acceptor: TlsAcceptor,
) -> impl Stream<Item = std::io::Result<TlsStream<TcpStream>>> {
    let (ready, handshaken) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let tcp = tokio::select! {
                () = ready.closed() => return,
                accepted = listener.accept() => match accepted {
                    Ok((tcp, _)) => tcp,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = tcp.set_nodelay(true);
            let (acceptor, ready) = (acceptor.clone(), ready.clone());
            tokio::spawn(async move {
                if let Ok(Ok(stream)) =
                    tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
                {
                    let _ = ready.send(Ok(stream)).await;
                }
            });
        }
    });
    futures::stream::unfold(handshaken, |mut handshaken| async move {
        let next = handshaken.recv().await?;
        Some((next, handshaken))
    })
}
