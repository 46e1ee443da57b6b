//! Listening: gRPC (HTTP/2) on a TCP listener, in clear text or over TLS
//! (the service's rustls configuration, offering h2 by ALPN), with a cap on
//! connections, a deadline for a client's TLS handshake and then its HTTP/2
//! preface, keep-alive pings that close half-open connections, and graceful
//! shutdown.

use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use arrow_flight::flight_service_server::FlightServiceServer;
use catalog_serve::QueryService;
use catalog_serve::rustls::ServerConfig;
use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tonic::transport::server::Connected;

use crate::FlightFront;

/// How long a client may take to finish the TLS handshake, and then to send
/// its first bytes: a client that connects and says nothing is closed.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections served at once; beyond them, the next waits to be accepted.
const MAX_CONNECTIONS: usize = 1024;

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
    let acceptor = tls.map(|config| {
        let mut config = config.clone();
        config.alpn_protocols = vec![b"h2".to_vec()];
        TlsAcceptor::from(Arc::new(config))
    });
    let served = match acceptor {
        None => {
            router
                .serve_with_incoming_shutdown(
                    incoming(listener, |tcp| std::future::ready(Ok(tcp))),
                    shutdown,
                )
                .await
        }
        Some(acceptor) => {
            let handshake = move |tcp| {
                let acceptor = acceptor.clone();
                async move { acceptor.accept(tcp).await }
            };
            router
                .serve_with_incoming_shutdown(incoming(listener, handshake), shutdown)
                .await
        }
    };
    served.map_err(std::io::Error::other)
}

/// The listener's connections once `open` (nothing, or the TLS handshake) is
/// done: each opened on its own task within [`HANDSHAKE_TIMEOUT`], at most
/// [`MAX_CONNECTIONS`] at once, each closed if its HTTP/2 preface does not
/// come within [`HANDSHAKE_TIMEOUT`]. An accept error (a client gone before it was
/// accepted, no file descriptor left) is waited out, never returned, since it
/// would stop the server.
fn incoming<IO, F, Fut>(
    listener: TcpListener,
    open: F,
) -> impl Stream<Item = std::io::Result<Held<IO>>>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = std::io::Result<IO>> + Send + 'static,
{
    let (ready, opened) = tokio::sync::mpsc::channel(64);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        loop {
            let slot = tokio::select! {
                () = ready.closed() => return,
                slot = Arc::clone(&slots).acquire_owned() => slot.expect("never closed"),
            };
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
            let (opening, ready) = (open(tcp), ready.clone());
            tokio::spawn(async move {
                if let Ok(Ok(io)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, opening).await {
                    let _ = ready.send(Ok(Held::new(io, slot))).await;
                }
            });
        }
    });
    futures::stream::unfold(opened, |mut opened| async move {
        let next = opened.recv().await?;
        Some((next, opened))
    })
}

/// The HTTP/2 connection preface a client sends first (RFC 9113, 3.4).
const PREFACE_LEN: usize = 24;

/// A connection holding its slot until it is dropped, and closed with an
/// error if its HTTP/2 preface does not come within [`HANDSHAKE_TIMEOUT`]:
/// until then, HTTP/2 sends no keep-alive ping and a drain would wait for it.
struct Held<IO> {
    io: IO,
    preface: Option<Pin<Box<tokio::time::Sleep>>>,
    read: usize,
    _slot: OwnedSemaphorePermit,
}

impl<IO> Held<IO> {
    fn new(io: IO, slot: OwnedSemaphorePermit) -> Self {
        Self {
            io,
            preface: Some(Box::pin(tokio::time::sleep(HANDSHAKE_TIMEOUT))),
            read: 0,
            _slot: slot,
        }
    }
}

impl<IO: Connected> Connected for Held<IO> {
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Held<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Some(deadline) = this.preface.as_mut() {
            this.read += buf.filled().len() - before;
            if this.read >= PREFACE_LEN {
                this.preface = None;
            } else if read.is_pending() && deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the client did not open HTTP/2 in time",
                )));
            }
        }
        read
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Held<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
