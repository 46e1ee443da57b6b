//! Where a CSV table's file is: on the local disk, or an object on S3; and
//! reading it either way, for the header, the check and `inspect`.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use codelake_plugin_sdk::catalog_core::Environment;
use codelake_plugin_sdk::catalog_core::source::CsvOptions;
use codelake_plugin_sdk::datafusion::execution::object_store::ObjectStoreUrl;
use codelake_plugin_sdk::datafusion::execution::runtime_env::RuntimeEnv;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::error::CsvError;

/// A CSV table's file.
#[derive(Debug)]
pub(crate) enum CsvFile {
    /// A file on the local disk, and the table's `location`.
    Local(PathBuf, String),
    /// An object on S3, read through the environment's S3 client.
    S3 {
        store: Arc<dyn ObjectStore>,
        key: ObjectPath,
        /// `s3://bucket/key`, in this environment.
        url: String,
        /// The plugin's runtime environment, holding the bucket's store.
        runtime_env: Arc<RuntimeEnv>,
        location: String,
        environment: String,
    },
}

/// What a file's listing says: its size, and when it was last modified (seconds).
pub(crate) struct Meta {
    pub(crate) size: u64,
    pub(crate) modified: Option<i64>,
}

impl CsvFile {
    /// The table's file in `env`; nothing is read.
    pub(crate) fn of(options: &CsvOptions, env: &Environment) -> Result<Self, CsvError> {
        if !options.on_s3() {
            return Ok(Self::Local(
                env.local_path(&options.location),
                options.location.clone(),
            ));
        }
        let url = env.s3_location(&options.location);
        let (bucket, key) = url
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .unwrap_or_default();
        let settings = env.s3.as_ref().ok_or_else(|| CsvError::NoSettings {
            environment: env.name.clone(),
            url: url.clone(),
        })?;
        let store: Arc<dyn ObjectStore> = catalog_s3::shared_store(bucket, settings)?;
        let runtime_env = codelake_plugin_sdk::runtime_env_builder().build_arc()?;
        let bucket_url = ObjectStoreUrl::parse(format!("s3://{bucket}"))?;
        runtime_env.register_object_store(bucket_url.as_ref(), Arc::clone(&store));
        Ok(Self::S3 {
            store,
            key: ObjectPath::from(key),
            runtime_env,
            location: options.location.clone(),
            environment: env.name.clone(),
            url,
        })
    }

    /// How messages name it: the path, or the object's URL.
    pub(crate) fn name(&self) -> PathBuf {
        match self {
            Self::Local(path, _) => path.clone(),
            Self::S3 { url, .. } => PathBuf::from(url),
        }
    }

    /// What DataFusion's listing table reads.
    pub(crate) fn url(&self) -> Result<String, CsvError> {
        match self {
            Self::Local(path, _) => path
                .to_str()
                .map(str::to_owned)
                .ok_or_else(|| CsvError::NotUtf8(path.clone())),
            Self::S3 { url, .. } => Ok(url.clone()),
        }
    }

    /// The runtime environment its scans need, for an object on S3.
    pub(crate) fn runtime_env(&self) -> Option<Arc<RuntimeEnv>> {
        match self {
            Self::Local(..) => None,
            Self::S3 { runtime_env, .. } => Some(Arc::clone(runtime_env)),
        }
    }

    /// Its size and modification time; `None` when it does not exist.
    pub(crate) async fn meta(&self) -> Result<Option<Meta>, CsvError> {
        match self {
            Self::Local(path, _) => Ok(std::fs::metadata(path)
                .ok()
                .filter(std::fs::Metadata::is_file)
                .map(|meta| Meta {
                    size: meta.len(),
                    modified: meta
                        .modified()
                        .ok()
                        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
                        .and_then(|elapsed| i64::try_from(elapsed.as_secs()).ok()),
                })),
            Self::S3 {
                store, key, url, ..
            } => match store.head(key).await {
                Ok(meta) => Ok(Some(Meta {
                    size: meta.size,
                    modified: Some(meta.last_modified.timestamp()),
                })),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(error) => Err(CsvError::Store {
                    url: url.clone(),
                    error,
                }),
            },
        }
    }

    /// Its size and modification time, or the error that it is missing.
    pub(crate) async fn existing(&self, env: &Environment) -> Result<Meta, CsvError> {
        self.meta().await?.ok_or_else(|| self.missing(env))
    }

    /// The error for a file that is not there.
    pub(crate) fn missing(&self, env: &Environment) -> CsvError {
        match self {
            Self::Local(path, location) => CsvError::Missing {
                path: path.clone(),
                location: location.clone(),
                environment: env.name.clone(),
                data_dir: env.data_dir.clone(),
            },
            Self::S3 {
                url,
                location,
                environment,
                ..
            } => CsvError::MissingObject {
                url: url.clone(),
                location: location.clone(),
                environment: environment.clone(),
            },
        }
    }

    /// Its first `bytes` bytes at most, to read the header.
    pub(crate) async fn head_bytes(&self, bytes: u64) -> Result<Box<dyn Read + Send>, CsvError> {
        match self {
            Self::Local(..) => (self.opener().await?)(),
            Self::S3 {
                store, key, url, ..
            } => {
                let failed = |error| CsvError::Store {
                    url: url.clone(),
                    error,
                };
                let size = store.head(key).await.map_err(failed)?.size;
                let data = store
                    .get_range(key, 0..size.min(bytes))
                    .await
                    .map_err(failed)?;
                Ok(Box::new(std::io::Cursor::new(data)))
            }
        }
    }

    /// Opens the whole file to read, as many times as asked: a local file
    /// each time from the disk, an object downloaded once.
    pub(crate) async fn opener(
        &self,
    ) -> Result<impl Fn() -> Result<Box<dyn Read + Send>, CsvError> + use<>, CsvError> {
        let data = match self {
            Self::Local(..) => None,
            Self::S3 {
                store, key, url, ..
            } => {
                let failed = |error| CsvError::Store {
                    url: url.clone(),
                    error,
                };
                Some(
                    store
                        .get(key)
                        .await
                        .map_err(failed)?
                        .bytes()
                        .await
                        .map_err(failed)?,
                )
            }
        };
        let path = self.name();
        Ok(move || match &data {
            Some(data) => Ok(Box::new(std::io::Cursor::new(data.clone())) as Box<dyn Read + Send>),
            None => std::fs::File::open(&path)
                .map(|file| Box::new(std::io::BufReader::new(file)) as Box<dyn Read + Send>)
                .map_err(|source| CsvError::Open {
                    path: path.clone(),
                    source,
                }),
        })
    }
}
