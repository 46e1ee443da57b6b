//! A real S3-protocol server on loopback: the local environment's s3s-fs server over a temp dir, with test credentials.

use std::path::PathBuf;

use catalog_core::{S3Settings, Secret};

/// The credentials the server accepts.
pub const ACCESS_KEY: &str = "codelake-test";
/// The secret of [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "codelake-test-secret-do-not-print";

/// A running server; it stops when dropped (its task is aborted).
pub struct S3Server {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    root: PathBuf,
    /// The temporary directory `root` is, when the server made it.
    _temporary: Option<tempfile::TempDir>,
    task: tokio::task::JoinHandle<()>,
    gets: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl S3Server {
    /// Starts a server on a free loopback port. Needs a multi-threaded tokio runtime.
    pub async fn start() -> Self {
        let root = tempfile::tempdir().unwrap();
        let mut server = Self::serve(root.path().to_owned()).await;
        server._temporary = Some(root);
        server
    }

    /// Starts a server on a free loopback port over `root`, whose directories
    /// are its buckets. Needs a multi-threaded tokio runtime.
    pub async fn serve(root: PathBuf) -> Self {
        let gets = std::sync::Arc::default();
        let (endpoint, task) = catalog_env::local::serve_s3_counting(
            &root,
            ACCESS_KEY,
            SECRET_KEY,
            std::sync::Arc::clone(&gets),
        )
        .await
        .unwrap();
        Self {
            endpoint,
            root,
            _temporary: None,
            task,
            gets,
        }
    }

    /// How many `GetObject` requests the server has answered.
    pub fn gets(&self) -> u64 {
        self.gets.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Where object `key` of `bucket` lives on disk (s3s-fs maps buckets to directories).
    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        let path = self.root.join(bucket).join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        path
    }

    /// Settings that reach this server, with `secret` as the secret key.
    pub fn settings(&self, secret: &str) -> S3Settings {
        S3Settings {
            endpoint: Some(self.endpoint.clone()),
            region: "us-east-1".into(),
            bucket: None,
            access_key_id: Some(ACCESS_KEY.into()),
            secret_access_key: Some(Secret::new(secret)),
            session_token: None,
            connect_timeout: None,
            request_timeout: None,
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}
