//! A real S3-protocol server on loopback: s3s-fs over a temp dir, with credentials.

use std::path::PathBuf;

use catalog_core::{S3Settings, Secret};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;

/// The credentials the server accepts.
pub const ACCESS_KEY: &str = "codelake-test";
/// The secret of [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "codelake-test-secret-do-not-print";

/// A running server; it stops when dropped (its task is aborted).
pub struct S3Server {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    root: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl S3Server {
    /// Starts a server on a free loopback port. Needs a multi-threaded tokio runtime.
    pub async fn start() -> Self {
        let root = tempfile::tempdir().unwrap();
        let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            while let Ok((socket, _)) = listener.accept().await {
                let connection = http
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                tokio::spawn(connection);
            }
        });
        Self {
            endpoint,
            root,
            task,
        }
    }

    /// Where object `key` of `bucket` lives on disk (s3s-fs maps buckets to directories).
    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        let path = self.root.path().join(bucket).join(key);
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
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}
