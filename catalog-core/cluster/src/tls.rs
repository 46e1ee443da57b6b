//! TLS between the processes of a cluster. A worker given a certificate
//! serves `https://`; every process that calls workers (the coordinator, and
//! each worker, which reads the stages before its own from the other workers)
//! trusts the certificates of a [`WorkerTrust`]. rustls on ring, as every
//! front end.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use catalog_serve::rustls::pki_types::pem::PemObject;
use catalog_serve::rustls::pki_types::{CertificateDer, ServerName};
use catalog_serve::rustls::{ClientConfig, RootCertStore, ServerConfig};
use futures::Stream;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// How long a caller may take to finish its TLS handshake with a worker.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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
        let port = uri.port_u16().ok_or_else(|| invalid("no port"))?;
        let name = ServerName::try_from(host.clone())
            .map_err(|_| invalid("not a host name or IP address"))?;
        let tcp = TcpStream::connect((host.as_str(), port)).await?;
        let _ = tcp.set_nodelay(true);
        let tls = TlsConnector::from(self.config).connect(name, tcp).await?;
        Ok(TokioIo::new(tls))
    }
}

/// A TLS connection to a worker.
pub(crate) type ClientStream = tokio_rustls::client::TlsStream<TcpStream>;

/// The connections to `listener` once their TLS handshake (with `config`,
/// offering h2) is done. Each handshake runs on its own task within
/// [`HANDSHAKE_TIMEOUT`], so a caller that stalls holds up no other; one that
/// fails is dropped. An accept error (no file descriptor left) is waited out,
/// never returned, since it would stop the server.
pub(crate) fn accept(
    listener: TcpListener,
    config: &ServerConfig,
) -> impl Stream<Item = std::io::Result<TlsStream<TcpStream>>> + use<> {
    let mut config = config.clone();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let (ready, opened) = tokio::sync::mpsc::channel(64);
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
            let (handshake, ready) = (acceptor.accept(tcp), ready.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                    Ok(Ok(tls)) => {
                        let _ = ready.send(Ok(tls)).await;
                    }
                    Ok(Err(error)) => tracing::warn!(%error, "TLS handshake with a caller failed"),
                    Err(_) => tracing::warn!("a caller did not finish its TLS handshake in time"),
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(opened)
}
