//! The object stores a host-executed scan reads, built from the environment.
//!
//! An `s3://bucket` URL gets a client from `catalog_s3::store`, the one S3
//! client builder, with the environment's S3 settings: the same endpoint,
//! credentials and timeouts the plugin would use, so production's bucket and
//! credential overrides apply as they do to every other reader. One client per
//! bucket and settings is shared by every table and every session.
//! `file://` is [`catalog_s3::LocalFiles`], put in place of DataFusion's own
//! local file system, whose CSV reader spins for ever on a file that shrinks
//! while it is read.

use std::sync::{Arc, Mutex, PoisonError};

use catalog_core::{Environment, S3Settings};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use object_store::ObjectStore;

/// The store for `url` in `runtime_env`, registered there first if it is not
/// yet: so the scan, executed in that runtime environment, finds it.
pub(super) fn store(
    runtime_env: &RuntimeEnv,
    url: &ObjectStoreUrl,
    environment: &Environment,
) -> Result<Arc<dyn ObjectStore>> {
    let text = url.as_str();
    if text.starts_with("file://") {
        return Ok(local_files(runtime_env, url));
    }
    if let Ok(store) = runtime_env.object_store(url) {
        return Ok(store);
    }
    let (scheme, rest) = text.split_once("://").unwrap_or((text, ""));
    let store: Arc<dyn ObjectStore> = match scheme {
        "s3" => {
            let bucket = rest.trim_end_matches('/');
            let settings = environment.s3.as_ref().ok_or_else(|| {
                DataFusionError::Configuration(format!(
                    "environment `{}` has no S3 settings, so {url} cannot be read",
                    environment.name
                ))
            })?;
            s3(bucket, settings)?
        }
        scheme => {
            return Err(DataFusionError::Configuration(format!(
                "the host has no object store for `{scheme}://` ({url})"
            )));
        }
    };
    runtime_env.register_object_store(url.as_ref(), Arc::clone(&store));
    Ok(store)
}

/// The runtime environment's store for local files, made a
/// [`catalog_s3::LocalFiles`] if it is not one yet.
fn local_files(runtime_env: &RuntimeEnv, url: &ObjectStoreUrl) -> Arc<dyn ObjectStore> {
    if let Ok(store) = runtime_env.object_store(url)
        && store.to_string().starts_with("LocalFiles(")
    {
        return store;
    }
    let store: Arc<dyn ObjectStore> = Arc::new(catalog_s3::LocalFiles::new());
    runtime_env.register_object_store(url.as_ref(), Arc::clone(&store));
    store
}

/// The shared client for `bucket` with `settings`.
fn s3(bucket: &str, settings: &S3Settings) -> Result<Arc<dyn ObjectStore>> {
    type Clients = Vec<(String, S3Settings, Arc<dyn ObjectStore>)>;
    static CLIENTS: Mutex<Clients> = Mutex::new(Vec::new());
    let mut clients = CLIENTS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, _, store)) = clients
        .iter()
        .find(|(b, s, _)| b == bucket && s == settings)
    {
        return Ok(Arc::clone(store));
    }
    let store: Arc<dyn ObjectStore> = Arc::new(
        catalog_s3::store(bucket, settings)
            .map_err(|error| DataFusionError::External(Box::new(error)))?,
    );
    clients.push((bucket.to_owned(), settings.clone(), Arc::clone(&store)));
    Ok(store)
}

/// An object store registry that builds each store from an environment the
/// first time a plan reads it: the one a process uses when it executes plans
/// that another process planned (a worker of `codelake worker`), where no scan
/// of its own registered the stores before the plan arrived. `s3://bucket`
/// gets the same shared client as a host-executed scan, `file://` the same
/// [`catalog_s3::LocalFiles`]. A store registered explicitly wins.
pub struct EnvironmentStores {
    environment: Arc<Environment>,
    registered: datafusion::execution::object_store::DefaultObjectStoreRegistry,
}

impl std::fmt::Debug for EnvironmentStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvironmentStores")
            .field("environment", &self.environment.name)
            .finish_non_exhaustive()
    }
}

impl EnvironmentStores {
    /// A registry building stores from `environment`.
    pub fn new(environment: Arc<Environment>) -> Self {
        let registered = datafusion::execution::object_store::DefaultObjectStoreRegistry::new();
        // Not DataFusion's local file system: see `local_files`.
        let local: Arc<dyn ObjectStore> = Arc::new(catalog_s3::LocalFiles::new());
        let file = url::Url::parse("file://").expect("a valid URL");
        datafusion::execution::object_store::ObjectStoreRegistry::register_store(
            &registered,
            &file,
            local,
        );
        Self {
            environment,
            registered,
        }
    }
}

impl datafusion::execution::object_store::ObjectStoreRegistry for EnvironmentStores {
    fn register_store(
        &self,
        url: &url::Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.registered.register_store(url, store)
    }

    fn deregister_store(&self, url: &url::Url) -> Result<Arc<dyn ObjectStore>> {
        self.registered.deregister_store(url)
    }

    fn get_store(&self, url: &url::Url) -> Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.registered.get_store(url) {
            return Ok(store);
        }
        let store = match url.scheme() {
            "s3" => {
                let bucket = url.host_str().unwrap_or_default();
                let settings = self.environment.s3.as_ref().ok_or_else(|| {
                    DataFusionError::Configuration(format!(
                        "environment `{}` has no S3 settings, so s3://{bucket} cannot be read",
                        self.environment.name
                    ))
                })?;
                s3(bucket, settings)?
            }
            scheme => {
                return Err(DataFusionError::Configuration(format!(
                    "environment `{}` has no object store for `{scheme}://` ({url})",
                    self.environment.name
                )));
            }
        };
        self.registered.register_store(url, Arc::clone(&store));
        Ok(store)
    }
}
