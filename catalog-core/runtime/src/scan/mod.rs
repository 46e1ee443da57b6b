//! Scans the host executes itself: a plugin with capability `plan_scan` plans
//! each scan of its tables on its side, and sends the plan here as
//! `datafusion_proto` bytes; the host decodes it into DataFusion's own nodes
//! (a `DataSourceExec` over Parquet or CSV files), resolves the object stores
//! it reads from the environment, and runs it on its own runtime. So
//! pruning, dynamic filters from joins, statistics and `EXPLAIN ANALYZE`
//! metrics are native, and no row crosses the plugin boundary.
//!
//! The host decodes standard nodes only: it still knows no source kind. A
//! scan the plugin cannot encode, or whose plan or stores the host cannot
//! rebuild, is streamed from the plugin's own provider, as the scans of
//! plugins without the capability (function, http-api) always are. `EXPLAIN`
//! tells them apart: a host-executed scan is a `DataSourceExec` naming its
//! files, a streamed one a `CodelakePluginExec`.

mod cache;
mod plain;
mod stores;

pub(crate) use plain::PlainSettingsTable;
pub use plain::plain_task_context;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use codelake_plugin_abi::{PlanScanFn, ScanPlan};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Constraints, Result, Statistics};
use datafusion::datasource::physical_plan::parquet::CachedParquetFileReaderFactory;
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::datasource::physical_plan::{
    FileScanConfig, FileScanConfigBuilder, ParquetFileReaderFactory, ParquetSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::DataFusionError;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::DefaultLogicalExtensionCodec;
use datafusion_proto::logical_plan::to_proto::serialize_exprs;
use datafusion_proto::physical_plan::{AsExecutionPlan, DefaultPhysicalExtensionCodec};
use datafusion_proto::protobuf::{LogicalExprList, PhysicalPlanNode};
use futures::StreamExt;
use prost::Message;
use stabby::slice::Slice;
use stabby::str::Str;

use catalog_core::Environment;

pub(crate) use cache::parse_size;
pub use cache::{CACHE_VAR, RangeCacheStats, range_cache_stats};
pub use stores::EnvironmentStores;

/// The environment variable that turns host-executed scans off (`off`): every
/// scan is then streamed from its plugin, as before capability `plan_scan`. For
/// comparing the two paths, and a way around a problem in one.
pub const HOST_SCANS_VAR: &str = "CODELAKE_HOST_SCANS";

/// Whether scans are host-executed where a plugin can plan them ([`HOST_SCANS_VAR`]).
pub(crate) fn host_scans_on() -> bool {
    std::env::var(HOST_SCANS_VAR).map_or(true, |value| value != "off")
}

/// A table whose scans the host executes when its plugin can plan them, and
/// streams from the plugin's provider otherwise.
pub(crate) struct HostScan {
    /// The provider the plugin built: schema, filter push-down, statistics,
    /// and the scans that are streamed.
    streamed: Arc<dyn TableProvider>,
    schema: SchemaRef,
    plan_scan: PlanScanFn,
    spec_json: Arc<str>,
    environment_json: Arc<str>,
    environment: Arc<Environment>,
    table: String,
    plugin: String,
    /// The reasons [`Self::streams`] has given already.
    said_streamed: std::sync::Mutex<std::collections::HashSet<String>>,
    /// The plugin's filter push-down answers, by filter.
    pushdown: std::sync::Mutex<HashMap<String, TableProviderFilterPushDown>>,
}

impl fmt::Debug for HostScan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostScan")
            .field("table", &self.table)
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

impl HostScan {
    pub(crate) fn new(
        streamed: Arc<dyn TableProvider>,
        plan_scan: PlanScanFn,
        spec_json: &str,
        environment_json: &str,
        environment: Arc<Environment>,
        table: String,
        plugin: String,
    ) -> Self {
        Self {
            table,
            plugin,
            said_streamed: Default::default(),
            pushdown: Default::default(),
            schema: streamed.schema(),
            streamed,
            plan_scan,
            spec_json: spec_json.into(),
            environment_json: environment_json.into(),
            environment,
        }
    }

    /// The plugin's plan for this scan, decoded and ready to run here; `Ok(None)`
    /// when it must be streamed instead.
    async fn plan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let filters = match serialize_exprs(filters, &DefaultLogicalExtensionCodec {}) {
            Ok(filters) => filters,
            Err(error) => {
                return Ok(self.streams(&format!("its filters cannot be sent: {error}")));
            }
        };
        let filters = LogicalExprList { expr: filters }.encode_to_vec();
        // Only the settings that differ from DataFusion's defaults, which the
        // plugin starts from: a handful, not the two hundred there are.
        let defaults = default_settings();
        let mut config: Vec<(String, String)> = Vec::new();
        for entry in state.config_options().entries() {
            // DataFusion's own settings only: an extension's (the distributed
            // engine's `distributed.*`) means nothing to the plugin's session.
            if !entry.key.starts_with("datafusion.")
                || defaults.get(&entry.key) == Some(&entry.value)
            {
                continue;
            }
            match entry.value {
                Some(value) => config.push((entry.key, value)),
                // A setting cleared here cannot be cleared there by `set`.
                None => {
                    let reason = format!("setting `{}` is unset, which cannot be sent", entry.key);
                    return Ok(self.streams(&reason));
                }
            }
        }
        let request = serde_json::json!({
            "projection": projection,
            "limit": limit,
            "config": config,
        })
        .to_string();
        let call = {
            let (plan_scan, spec, environment) = (
                self.plan_scan,
                Arc::clone(&self.spec_json),
                Arc::clone(&self.environment_json),
            );
            move || {
                plan_scan(
                    Str::from(&*spec),
                    Str::from(&*environment),
                    Str::from(request.as_str()),
                    Slice::from(filters.as_slice()),
                )
                .into_result()
            }
        };
        // The plugin blocks while it plans (it may list objects and read
        // footers): not on one of the host's async workers.
        let answer = match tokio::runtime::Handle::try_current() {
            Ok(_) => tokio::task::spawn_blocking(call)
                .await
                .map_err(|error| self.error(format!("planning its scan stopped: {error}")))?,
            Err(_) => call(),
        };
        let planned = match answer {
            Ok(ScanPlan::Plan(planned)) => planned,
            Ok(ScanPlan::Stream(reason)) => return Ok(self.streams(reason.as_str())),
            Err(error) => return Err(self.error(error.message.as_str().to_owned())),
        };
        // Its stores first: decoding a file scan looks its store up.
        let runtime_env = Arc::clone(state.runtime_env());
        for url in planned.stores.iter() {
            let store = ObjectStoreUrl::parse(url.as_str())
                .and_then(|url| stores::store(&runtime_env, &url, &self.environment));
            if let Err(error) = store {
                return Ok(self.streams(&error.to_string()));
            }
        }
        let versions: HashMap<String, String> =
            serde_json::from_str(planned.versions_json.as_str()).unwrap_or_default();
        let task_ctx = state.task_ctx();
        let decoded = PhysicalPlanNode::decode(planned.plan.as_slice())
            .map_err(|error| DataFusionError::External(Box::new(error)))
            .and_then(|node| {
                node.try_into_physical_plan(&task_ctx, &DefaultPhysicalExtensionCodec {})
            });
        let versions = Arc::new(versions);
        let plan = match decoded.and_then(|plan| self.bind(plan, state, &versions)) {
            Ok(plan) => plan,
            Err(error) => {
                return Ok(self.streams(&format!("the host cannot decode its plan: {error}")));
            }
        };
        footers_in_cache(&plan, &runtime_env).await;
        Ok(Some(plan))
    }

    /// Says why this scan is streamed (each reason once per table, as a
    /// warning: the scan is right, but slower than it could be), and streams it.
    fn streams<T>(&self, reason: &str) -> Option<T> {
        let new = self
            .said_streamed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(reason.to_owned());
        if new {
            tracing::warn!(
                table = %self.table,
                plugin = %self.plugin,
                reason,
                "this scan is streamed from the plugin: the host cannot execute it"
            );
        }
        None
    }

    /// An error of this table's scan, naming the table and its plugin (once).
    fn error(&self, message: String) -> DataFusionError {
        let named = format!("table `{}`", self.table);
        // External, as an error the plugin's stream returns: a source's fault,
        // not the query's (front ends answer 502, not 400).
        let message = if message.contains(&named) {
            message
        } else {
            format!("{named} (plugin `{}`): {message}", self.plugin)
        };
        DataFusionError::External(message.into())
    }

    /// Gives each file scan of `plan` its object store, built from the
    /// environment and registered in the session's runtime environment, and
    /// reads Parquet through the shared byte-range cache.
    fn bind(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        state: &dyn Session,
        versions: &Arc<HashMap<String, String>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let runtime_env = Arc::clone(state.runtime_env());
        plan.transform_up(|node| {
            let Some(exec) = node.downcast_ref::<DataSourceExec>() else {
                return Ok(Transformed::no(node));
            };
            let Some(files) = exec.data_source().downcast_ref::<FileScanConfig>() else {
                return Ok(Transformed::no(node));
            };
            let store = stores::store(&runtime_env, &files.object_store_url, &self.environment)?;
            let Some(parquet) = files.file_source().downcast_ref::<ParquetSource>() else {
                return Ok(Transformed::no(node));
            };
            let metadata_cache = runtime_env.cache_manager.get_file_metadata_cache();
            // Local files are the operating system's to cache: read them as
            // native DataFusion does. Remote ones go through the byte-range cache.
            let factory: Arc<dyn ParquetFileReaderFactory> =
                if files.object_store_url.as_str().starts_with("file://") {
                    Arc::new(CachedParquetFileReaderFactory::new(store, metadata_cache))
                } else {
                    Arc::new(cache::CachingReaderFactory::new(
                        store,
                        files.object_store_url.as_str(),
                        metadata_cache,
                        Arc::clone(versions),
                        &self.table,
                    ))
                };
            let parquet = parquet.clone().with_parquet_file_reader_factory(factory);
            let files = FileScanConfigBuilder::from(files.clone())
                .with_source(Arc::new(parquet))
                .build();
            Ok(Transformed::yes(
                DataSourceExec::from_data_source(files) as Arc<dyn ExecutionPlan>
            ))
        })
        .map(|transformed| transformed.data)
    }
}

/// Puts each Parquet file's footer, with its page index, in the session's
/// cache of footers, as native DataFusion's planning does (it reads them for
/// the files' statistics) before it executes the scan. The plugin planned this
/// scan in its own runtime environment, so without this the host's cache is
/// filled by the scan alone, which leaves the page index out: every query read
/// and decoded it again (0.37 MB and 1.3 ms of TPC-H Q6 at SF1). A cached
/// footer is checked against the object's size and modification time, so a
/// warm scan costs one lookup per file. An error is left for the scan to report.
async fn footers_in_cache(plan: &Arc<dyn ExecutionPlan>, runtime_env: &Arc<RuntimeEnv>) {
    let mut files = Vec::new();
    let _ = plan.apply(|node| {
        let scan = node
            .downcast_ref::<DataSourceExec>()
            .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
            .filter(|scan| scan.file_source().downcast_ref::<ParquetSource>().is_some());
        if let Some(scan) = scan {
            for file in scan.file_groups.iter().flat_map(|group| group.iter()) {
                files.push((scan.object_store_url.clone(), file.object_meta.clone()));
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    let cache = runtime_env.cache_manager.get_file_metadata_cache();
    let fetches = files.into_iter().filter_map(|(url, object)| {
        let store = runtime_env.object_store(&url).ok()?;
        let cache = Arc::clone(&cache);
        Some(async move {
            let _ = DFParquetMetadata::new(store.as_ref(), &object)
                .with_file_metadata_cache(Some(cache))
                .fetch_metadata()
                .await;
        })
    });
    // A few at a time: a cold table of many objects on S3 is many round trips.
    futures::stream::iter(fetches)
        .buffer_unordered(8)
        .for_each(|()| async {})
        .await;
}

/// DataFusion's default settings, by key.
fn default_settings() -> &'static HashMap<String, Option<String>> {
    static DEFAULTS: OnceLock<HashMap<String, Option<String>>> = OnceLock::new();
    DEFAULTS.get_or_init(|| {
        ConfigOptions::new()
            .entries()
            .into_iter()
            .map(|entry| (entry.key, entry.value))
            .collect()
    })
}

#[async_trait]
impl TableProvider for HostScan {
    fn schema(&self) -> SchemaRef {
        SchemaRef::clone(&self.schema)
    }

    fn constraints(&self) -> Option<&Constraints> {
        self.streamed.constraints()
    }

    fn table_type(&self) -> TableType {
        self.streamed.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match self.plan(state, projection, filters, limit).await? {
            Some(plan) => Ok(plan),
            None => self.streamed.scan(state, projection, filters, limit).await,
        }
    }

    /// The plugin's answer, asked once per filter: each call across the FFI
    /// boundary re-wraps every function of the session (datafusion-ffi), which
    /// made planning a three-table query take ten times native DataFusion's
    /// time, and the optimizer asks several times per query.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        let keys: Vec<String> = filters.iter().map(|filter| format!("{filter:?}")).collect();
        {
            let known = self
                .pushdown
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let answers: Option<Vec<_>> = keys.iter().map(|key| known.get(key).cloned()).collect();
            if let Some(answers) = answers {
                return Ok(answers);
            }
        }
        let answers = self.streamed.supports_filters_pushdown(filters)?;
        if answers.len() == keys.len() {
            let mut known = self
                .pushdown
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Bounded: a server sees endless distinct filters.
            if known.len() > 10_000 {
                known.clear();
            }
            known.extend(keys.into_iter().zip(answers.iter().cloned()));
        }
        Ok(answers)
    }

    fn statistics(&self) -> Option<Statistics> {
        self.streamed.statistics()
    }
}
