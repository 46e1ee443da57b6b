//! TLS for every front end: the server's certificate and key, read once from
//! PEM files, as a rustls configuration on ring (never aws-lc).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why the certificate or key cannot be used; each names the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file holds no usable certificate.
    #[error(
        "--tls-cert {}: {reason}; give a PEM file with the server's certificate first, then its chain",
        path.display()
    )]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key file holds no usable private key.
    #[error(
        "--tls-key {}: {reason}; give a PEM file with the certificate's private key (PKCS#8, PKCS#1 or SEC1)",
        path.display()
    )]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key does not fit the certificate, or rustls refused the pair.
    #[error("--tls-cert and --tls-key: {0}; check that the key is the certificate's")]
    Pair(String),
}

/// A rustls server configuration (ring, TLS 1.2 and 1.3) from PEM files:
/// `cert` (the certificate, then its chain) and `key`. It offers no ALPN
/// protocol: each front end sets its own (HTTP/1.1, h2 for gRPC).
pub fn server_config(cert: &Path, key: &Path) -> Result<ServerConfig, TlsError> {
    let certificate = |reason: String| TlsError::Certificate {
        path: cert.to_owned(),
        reason,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|error| certificate(error.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|error| certificate(error.to_string()))?;
    if chain.is_empty() {
        return Err(certificate("no certificate in it".to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|error| TlsError::Key {
        path: key.to_owned(),
        reason: error.to_string(),
    })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Pair(error.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| TlsError::Pair(error.to_string()))
}
