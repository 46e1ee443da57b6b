//! How processes of a cluster connect. A worker given a certificate serves
//! `https://`; every process that calls workers (the coordinator, and each
//! worker, which reads the stages before its own from the other workers)
//! trusts the certificates of a [`WorkerTrust`]. rustls on ring, as every
//! front end. [`accept`] is a worker's side, in clear text or over TLS.

use std::io::IoSlice;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use catalog_serve::rustls::pki_types::pem::PemObject;
use catalog_serve::rustls::pki_types::{CertificateDer, ServerName};
use catalog_serve::rustls::{ClientConfig, RootCertStore, ServerConfig};
use futures::Stream;
use hyper_util::rt::TokioIo;
use socket2::{SockRef, TcpKeepalive};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// How long a caller may take to finish its TLS handshake with a worker.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections a worker holds at once; beyond them, the next waits to be
/// accepted (as the HTTP and Flight front ends do).
const MAX_CONNECTIONS: usize = 1024;

/// TCP keep-alive on every connection between processes: a host that
/// vanished is found even when no HTTP/2 ping is due.
fn keep_alive(tcp: &TcpStream) {
    let _ = tcp.set_nodelay(true);
    let keepalive = TcpKeepalive::new()
        .with_time(crate::channel::KEEP_ALIVE)
        .with_interval(crate::channel::KEEP_ALIVE);
    let _ = SockRef::from(tcp).set_tcp_keepalive(&keepalive);
}

/// The certificates a process trusts when it calls `https://` workers.
#[derive(Clone)]
pub struct WorkerTrust {
    config: Arc<ClientConfig>,
}

/// Why a worker CA file cannot be used; it names the file and the fix.
#[derive(Debug, thiserror::Error)]
#[error(
    "--worker-ca {}: {reason}; give a PEM file with the certificate of the CA that signed the workers' certificates (or a worker's own certificate, if self-signed without CA:TRUE)",
    path.display()
)]
pub struct TrustError {
    path: PathBuf,
    reason: String,
}

impl WorkerTrust {
    /// Trusts the certificates in the PEM file `ca`, and no other.
    pub fn from_pem_file(ca: &Path) -> Result<Self, TrustError> {
        let error = |reason: String| TrustError {
            path: ca.to_owned(),
            reason,
        };
        let mut roots = RootCertStore::empty();
        let certificates = CertificateDer::pem_file_iter(ca)
            .map_err(|e| error(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| error(e.to_string()))?;
        if certificates.is_empty() {
            return Err(error("no certificate in it".to_owned()));
        }
        for certificate in certificates {
            roots.add(certificate).map_err(|e| error(e.to_string()))?;
        }
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| error(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// Opens a TLS connection to the worker at `uri` (an `https://` URI),
    /// checking its certificate against these roots and its host name or
    /// IP address.
    pub(crate) async fn connect(self, uri: http::Uri) -> std::io::Result<TokioIo<ClientStream>> {
        let invalid = |reason: &str| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{uri}: {reason}"))
        };
        let host = uri
            .host()
            .ok_or_else(|| invalid("no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(443);
        let name = ServerName::try_from(host.clone())
            .map_err(|_| invalid("not a host name or IP address"))?;
        let tcp = TcpStream::connect((host.as_str(), port)).await?;
        keep_alive(&tcp);
        let tls = TlsConnector::from(self.config).connect(name, tcp).await?;
        Ok(TokioIo::new(tls))
    }
}

/// A TLS connection to a worker.
pub(crate) type ClientStream = tokio_rustls::client::TlsStream<TcpStream>;

/// The connections to a worker's `listener`, in clear text or, with `tls`,
/// once their TLS handshake (offering h2) is done. At most
/// [`MAX_CONNECTIONS`] are held at once. Each handshake runs on its own task
/// within [`HANDSHAKE_TIMEOUT`], so a caller that stalls holds up no other;
/// one that fails is dropped. An accept error (no file descriptor left) is
/// waited out, never returned, since it would stop the server.
pub(crate) fn accept(
    listener: TcpListener,
    tls: Option<&ServerConfig>,
) -> impl Stream<Item = std::io::Result<Held>> + use<> {
    let acceptor = tls.map(|config| {
        let mut config = config.clone();
        config.alpn_protocols = vec![b"h2".to_vec()];
        TlsAcceptor::from(Arc::new(config))
    });
    let (ready, opened) = tokio::sync::mpsc::channel(64);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        loop {
            let slot = tokio::select! {
                () = ready.closed() => return,
                slot = Arc::clone(&slots).acquire_owned() => slot.expect("never closed"),
            };
            let (tcp, peer) = tokio::select! {
                () = ready.closed() => return,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            keep_alive(&tcp);
            let Some(acceptor) = acceptor.clone() else {
                let _ = ready.send(Ok(Held::new(tcp, slot))).await;
                continue;
            };
            let ready = ready.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = ready.send(Ok(Held::new(tls, slot))).await;
                    }
                    Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake not finished in time"),
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(opened)
}

/// Reading and writing, whatever the connection is.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A connection holding its slot until it is dropped.
pub(crate) struct Held {
    io: Box<dyn Io>,
    _slot: OwnedSemaphorePermit,
}

impl Held {
    fn new(io: impl Io + 'static, slot: OwnedSemaphorePermit) -> Self {
        Self {
            io: Box::new(io),
            _slot: slot,
        }
    }
}

impl tonic::transport::server::Connected for Held {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Held {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Held {
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
