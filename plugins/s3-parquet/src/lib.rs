//! The `s3-parquet` source plugin: Parquet objects on any S3-compatible store.
//!
//! The table is DataFusion's own listing table over Parquet, so projection,
//! filter and limit push-down and row-group and page pruning are DataFusion's.
//! `location` is one object (`s3://bucket/tpch/part.parquet`) or a prefix
//! ending in `/` (every `.parquet` object under it). Columns are matched by
//! name with the declared schema.
//!
//! The S3 store is built from the environment's [`S3Settings`] and registered
//! in the plugin's own runtime environment, which the SDK uses for planning and
//! reading: the host's cannot cross the FFI boundary.

use std::sync::Arc;

use codelake_plugin_sdk::catalog_core::{Environment, S3Settings, TableSpec};
use codelake_plugin_sdk::datafusion::catalog::TableProvider;
use codelake_plugin_sdk::datafusion::datasource::file_format::parquet::ParquetFormat;
use codelake_plugin_sdk::datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use codelake_plugin_sdk::datafusion::execution::object_store::ObjectStoreUrl;
use codelake_plugin_sdk::datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use codelake_plugin_sdk::{Source, export_source};
use object_store::aws::AmazonS3Builder;

/// Reads `s3-parquet` tables.
pub struct S3Parquet;

impl Source for S3Parquet {
    const NAME: &'static str = "s3-parquet";
    const KINDS: &'static [&'static str] = &["s3-parquet"];

    fn provider(spec: &TableSpec, _env: &Environment) -> Result<Arc<dyn TableProvider>, String> {
        let location = spec.option("location").ok_or("no `location` option")?;
        let url = ListingTableUrl::parse(location)
            .map_err(|error| format!("`location = \"{location}\"`: {error}"))?;
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        // The declared schema, not one inferred from a file: drift is for `verify` to report.
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(Arc::new(spec.arrow_schema()));
        let table = ListingTable::try_new(config).map_err(|error| error.to_string())?;
        Ok(Arc::new(table))
    }

    fn runtime_env(spec: &TableSpec, env: &Environment) -> Result<Option<Arc<RuntimeEnv>>, String> {
        let location = spec.option("location").ok_or("no `location` option")?;
        let bucket = location
            .strip_prefix("s3://")
            .and_then(|rest| rest.split('/').next())
            .filter(|bucket| !bucket.is_empty())
            .ok_or_else(|| format!("`location = \"{location}\"` names no bucket"))?;
        let settings = env.s3.as_ref().ok_or_else(|| {
            format!(
                "environment `{}` has no S3 settings, so `{location}` cannot be reached; configure the environment's S3 endpoint and credentials",
                env.name
            )
        })?;
        let store = s3_store(bucket, settings)?;
        let runtime = RuntimeEnvBuilder::new()
            .build_arc()
            .map_err(|error| error.to_string())?;
        let url =
            ObjectStoreUrl::parse(format!("s3://{bucket}")).map_err(|error| error.to_string())?;
        runtime.register_object_store(url.as_ref(), Arc::new(store));
        Ok(Some(runtime))
    }
}

export_source!(S3Parquet);

fn s3_store(bucket: &str, settings: &S3Settings) -> Result<object_store::aws::AmazonS3, String> {
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(&settings.region);
    if let Some(endpoint) = &settings.endpoint {
        // Path-style requests: every S3-compatible server supports them, not all support virtual hosts.
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false);
    }
    match (&settings.access_key_id, &settings.secret_access_key) {
        (Some(key), Some(secret)) => {
            builder = builder
                .with_access_key_id(key)
                .with_secret_access_key(secret.expose());
        }
        // A public bucket: send unsigned requests rather than hunt for ambient credentials.
        _ => builder = builder.with_skip_signature(true),
    }
    builder
        .build()
        .map_err(|error| format!("cannot configure S3 for bucket `{bucket}`: {error}"))
}
