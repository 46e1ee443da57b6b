//! The one way codelake connects to an S3-compatible store, and reads its errors:
//! the s3-parquet and delta plugins, `codelake data seed` and the benchmarks all build
//! their client here, so they agree on path-style requests, plain HTTP for
//! loopback endpoints, and what a half-set credential means.
//!
//! The local file system is opened through [`LocalFiles`] by every reader
//! too (`local.rs` says why).
//!
//! What it must not know: DataFusion, the plugins, any catalog. It turns
//! [`S3Settings`] into an object_store client, wraps the local file system,
//! and nothing else.

use std::sync::{Arc, Mutex, PoisonError};

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::{ClientOptions, RetryConfig};

use catalog_core::S3Settings;

mod local;

pub use local::LocalFiles;

/// Why a client could not be built. Names the bucket, never a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// One half of a credential is set.
    #[error("S3 for bucket `{bucket}`: {set} is set but no {missing}")]
    HalfCredential {
        /// The bucket.
        bucket: String,
        /// The half that is set.
        set: &'static str,
        /// The half that is missing.
        missing: &'static str,
    },
    /// object_store refused the settings.
    #[error("cannot configure S3 for bucket `{bucket}`: {source}")]
    Config {
        /// The bucket.
        bucket: String,
        /// object_store's error.
        source: object_store::Error,
    },
}

/// A client for `bucket` as `settings` say: the endpoint (path-style, HTTP
/// allowed when it is `http://`), the region, and the credentials, which must
/// be set as a pair. With neither set, requests go unsigned (a public bucket)
/// rather than hunting for ambient credentials.
///
/// # Errors
/// Half a credential, or settings object_store refuses.
pub fn store(bucket: &str, settings: &S3Settings) -> Result<AmazonS3, Error> {
    // A silent endpoint fails within the timeouts instead of object_store's
    // three minutes of retries: each request may take `request_timeout`, and
    // retries stop after twice that.
    let options = ClientOptions::new()
        .with_connect_timeout(settings.connect_timeout())
        .with_timeout(settings.request_timeout());
    let retry = RetryConfig {
        retry_timeout: settings.request_timeout() * 2,
        ..RetryConfig::default()
    };
    // Client options first: the setters below change them.
    let mut builder = AmazonS3Builder::new()
        .with_client_options(options)
        .with_retry(retry)
        .with_bucket_name(bucket)
        .with_region(&settings.region);
    if let Some(endpoint) = &settings.endpoint {
        // Path-style requests: every S3-compatible server supports them, not all support virtual hosts.
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false);
    }
    let half = |set, missing| Error::HalfCredential {
        bucket: bucket.to_owned(),
        set,
        missing,
    };
    match (&settings.access_key_id, &settings.secret_access_key) {
        (Some(key), Some(secret)) => {
            builder = builder
                .with_access_key_id(key)
                .with_secret_access_key(secret.expose());
            if let Some(token) = &settings.session_token {
                builder = builder.with_token(token.expose());
            }
        }
        (None, None) => builder = builder.with_skip_signature(true),
        // Half a credential is a configuration mistake, not a public bucket.
        (Some(_), None) => return Err(half("an access key id", "secret access key")),
        (None, Some(_)) => return Err(half("a secret access key", "access key id")),
    }
    builder.build().map_err(|source| Error::Config {
        bucket: bucket.to_owned(),
        source,
    })
}

/// One client for each bucket and settings, shared by every table of a
/// process that reads them. Building a client loads the system's root
/// certificates (a PEM parse of every file in the certificate directory):
/// once per table and per use, that was the largest part of `codelake sql`'s
/// cold start.
///
/// # Errors
/// As [`store`], the first time a bucket and settings are asked for.
pub fn shared_store(bucket: &str, settings: &S3Settings) -> Result<Arc<AmazonS3>, Error> {
    type Stores = Vec<(String, S3Settings, Arc<AmazonS3>)>;
    static STORES: Mutex<Stores> = Mutex::new(Vec::new());
    let mut stores = STORES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, _, store)) = stores.iter().find(|(b, s, _)| b == bucket && s == settings) {
        return Ok(Arc::clone(store));
    }
    let store = Arc::new(store(bucket, settings)?);
    stores.push((bucket.to_owned(), settings.clone(), Arc::clone(&store)));
    Ok(store)
}

/// Why an S3 store was not reached: a reader's error is then the store's or
/// the settings' fault, not the data's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// It refused the credentials.
    Credentials,
    /// It refused the connection, or did not answer.
    Connection,
}

/// Whether a store error means S3 was not reached, and why.
pub fn fault(error: &object_store::Error) -> Option<Fault> {
    if matches!(
        error,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) {
        return Some(Fault::Credentials);
    }
    let text = error.to_string();
    if text.contains("403")
        || text.contains("Forbidden")
        || text.contains("InvalidAccessKeyId")
        || text.contains("SignatureDoesNotMatch")
    {
        Some(Fault::Credentials)
    } else if ["onnect", "dns", "timed out", "error sending request"]
        .iter()
        .any(|phrase| text.contains(phrase))
    {
        Some(Fault::Connection)
    } else {
        None
    }
}

/// What to do about a store error, for the common ones: text to append to
/// its message (`"; the credentials were refused: …"`), or nothing.
pub fn hint(error: &object_store::Error) -> &'static str {
    match fault(error) {
        Some(Fault::Credentials) => {
            "; the credentials were refused: check the S3 access key id and secret"
        }
        Some(Fault::Connection) => {
            "; the S3 endpoint cannot be reached: check it and that the server runs"
        }
        None => "",
    }
}

/// Whether a store error says the bucket itself does not exist (S3 answers a
/// missing bucket's listing with a 404 whose body carries `NoSuchBucket`).
pub fn bucket_missing(error: &object_store::Error) -> bool {
    match error {
        object_store::Error::NotFound { .. } => true,
        error => format!("{error:?}").contains("NoSuchBucket"),
    }
}
