//! Listening: one accept loop for HTTP and HTTPS (the server's rustls
//! configuration, from `catalog_serve::server_config`), with a header timeout
//! and a connection cap.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use catalog_serve::QueryService;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

use crate::{Mounts, router};

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// [`crate::serve`] over TLS (`config`, offering HTTP/1.1 by ALPN): serves
/// `service` on `listener` until `shutdown` resolves; then takes no new
/// connection, lets the requests in flight finish, and returns.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    service: Arc<QueryService>,
    mounts: Mounts,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut config = config.clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    accept_loop(listener, service, mounts, Some(acceptor), shutdown).await
}

/// How long a client may take to send a request's head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections served at once; beyond them, the next waits to be accepted.
const MAX_CONNECTIONS: usize = 1024;

/// The accept loop of both [`crate::serve`] and [`serve_tls`]: each connection
/// on its own task, its request head read within [`HEADER_TIMEOUT`], at most
/// [`MAX_CONNECTIONS`] at once; on `shutdown`, no new connection, and each
/// open one finishes its request in flight and closes.
pub(crate) async fn accept_loop(
    listener: tokio::net::TcpListener,
    service: Arc<QueryService>,
    mounts: Mounts,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(service, mounts);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("never closed"),
        };
        let (tcp, address) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // A client gone before it was accepted is nothing; out of file
                // descriptors, wait a little rather than spin.
                Err(error) if error.kind() == std::io::ErrorKind::ConnectionAborted => continue,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Small writes (a streamed response's chunks) go out at once rather
        // than waiting for the client's delayed ACK.
        let _ = tcp.set_nodelay(true);
        while connections.try_join_next().is_some() {}
        let (tls, app, stopping) = (tls.clone(), app.clone(), stopping.clone());
        connections.spawn(async move {
            let _slot = slot;
            let app = app.layer(axum::Extension(ConnectInfo::<SocketAddr>(address)));
            match tls {
                Some(acceptor) => {
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
                    {
                        connection(stream, app, stopping).await;
                    }
                }
                None => connection(tcp, app, stopping).await,
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Serves HTTP/1.1 on one connection, its request head within
/// [`HEADER_TIMEOUT`], until the client closes it or the server stops: then
/// the request in flight is answered and the connection closed.
async fn connection<I>(io: I, app: axum::Router, mut stopping: tokio::sync::watch::Receiver<bool>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let connection = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(app));
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = stopping.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}
