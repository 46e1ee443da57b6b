//! Where a table's objects are, and how to reach them: the URL a table reads
//! in an environment, its store (one S3 client per bucket and settings,
//! shared), and the names its objects go by.

use std::sync::Arc;

use codelake_plugin_sdk::catalog_core::{Environment, S3Settings};
use codelake_plugin_sdk::datafusion::execution::object_store::ObjectStoreUrl;
use codelake_plugin_sdk::datafusion::execution::runtime_env::RuntimeEnv;
use object_store::ObjectStore;

use crate::{ParquetKinds, S3Error};

/// Where a table's objects are, and how to reach them.
pub(crate) struct Place {
    pub(crate) store: Arc<dyn ObjectStore>,
    /// What object names start with: `s3://bucket` or `file://`.
    pub(crate) base: String,
    /// The object, or the prefix, in the store.
    pub(crate) key: String,
    /// The table's runtime environment: the bucket's store for S3 (the local
    /// file system is in every one), and the caches of footers and statistics.
    pub(crate) runtime_env: Arc<RuntimeEnv>,
    /// The environment's S3 settings, for S3.
    pub(crate) s3: Option<S3Settings>,
}

/// Where a table reads, in this environment, as a URL (`s3://…` or
/// `file:///…`), and its partition columns.
pub(crate) fn target(
    options: &ParquetKinds,
    env: &Environment,
) -> std::result::Result<(String, Vec<String>), S3Error> {
    match options {
        ParquetKinds::S3(options) => Ok((
            env.s3_location(&options.location),
            options.partitions.clone(),
        )),
        ParquetKinds::Local(options) => {
            let path = env.local_path(&options.location);
            let path = path
                .to_str()
                .ok_or_else(|| S3Error::NotUtf8(path.clone()))?;
            let slash = if options.location.ends_with('/') && !path.ends_with('/') {
                "/"
            } else {
                ""
            };
            Ok((format!("file://{path}{slash}"), options.partitions.clone()))
        }
    }
}

/// The store, names and key of `location` (from [`target`]).
pub(crate) fn place(env: &Environment, location: &str) -> std::result::Result<Place, S3Error> {
    if let Some(path) = location.strip_prefix("file://") {
        return Ok(Place {
            store: Arc::new(object_store::local::LocalFileSystem::new()),
            base: "file://".to_owned(),
            key: path.trim_start_matches('/').to_owned(),
            runtime_env: codelake_plugin_sdk::runtime_env_builder().build_arc()?,
            s3: None,
        });
    }
    let (bucket, key) = bucket_and_key(location)?;
    let s3 = settings(env, location)?;
    let store: Arc<dyn ObjectStore> = catalog_s3::shared_store(bucket, s3)?;
    // The plugin's own runtime environment, which has the bucket's store:
    // the host's cannot cross the FFI boundary.
    let runtime_env = codelake_plugin_sdk::runtime_env_builder().build_arc()?;
    let url = ObjectStoreUrl::parse(format!("s3://{bucket}"))?;
    runtime_env.register_object_store(url.as_ref(), Arc::clone(&store));
    Ok(Place {
        store,
        base: format!("s3://{bucket}"),
        key: key.to_owned(),
        runtime_env,
        s3: Some(s3.clone()),
    })
}

/// What the names of `location`'s objects start with.
pub(crate) fn base_of(location: &str) -> String {
    match bucket_and_key(location) {
        Ok((bucket, _)) => format!("s3://{bucket}"),
        Err(_) => "file://".to_owned(),
    }
}

/// `s3://bucket/key` → (`bucket`, `key`).
pub(crate) fn bucket_and_key(location: &str) -> std::result::Result<(&str, &str), S3Error> {
    location
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(bucket, _)| !bucket.is_empty())
        .ok_or_else(|| S3Error::NoBucket(location.to_owned()))
}

pub(crate) fn settings<'a>(
    env: &'a Environment,
    location: &str,
) -> std::result::Result<&'a S3Settings, S3Error> {
    env.s3.as_ref().ok_or_else(|| S3Error::NoSettings {
        environment: env.name.clone(),
        location: location.to_owned(),
    })
}
