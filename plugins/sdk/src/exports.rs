//! The two exports of a plugin, and the `extern "C"` functions its module
//! points to. Everything here runs inside a panic fence, and every error
//! becomes the ABI's [`PluginError`] here and nowhere else.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use catalog_core::inspect::InspectRequest;
use catalog_core::source::SourceOptions;
use catalog_core::{Environment, TableSpec};
use codelake_plugin_abi::{
    CAPABILITY_INSPECT, CAPABILITY_PLAN_SCAN, Capabilities, Capability, ErrorKind, InspectFn,
    PlanScanFn, PlannedScan, PluginError, PluginHeader, PluginModule, PluginResult, ScanPlan,
};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::TaskContext;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::Expr;
use datafusion::prelude::SessionConfig;
use datafusion_ffi::proto::logical_extension_codec::FFI_LogicalExtensionCodec;
use datafusion_ffi::table_provider::FFI_TableProvider;
use datafusion_proto::logical_plan::DefaultLogicalExtensionCodec;
use datafusion_proto::logical_plan::from_proto::parse_exprs;
use datafusion_proto::physical_plan::{AsExecutionPlan, DefaultPhysicalExtensionCodec};
use datafusion_proto::protobuf::{LogicalExprList, PhysicalPlanNode};
use prost::Message;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use stabby::slice::Slice;
use stabby::str::Str;
use stabby::string::String as SString;
use stabby::vec::Vec as SVec;

use crate::{Built, Error, Source, TableSource, guard, panic_message, runtime};

/// The header this plugin exports; see `codelake_plugin_abi::HEADER_SYMBOL`.
pub fn header() -> PluginHeader {
    PluginHeader::current()
}

/// The module this plugin exports, with the plugin crate's `version`; see
/// `codelake_plugin_abi::MODULE_SYMBOL`.
pub fn module<S: Source>(version: &str) -> PluginModule {
    let inspect: InspectFn = inspect::<S>;
    let plan_scan: PlanScanFn = plan_scan::<S>;
    let mut entries = vec![Capability::new(
        CAPABILITY_INSPECT,
        1,
        inspect as *const c_void,
    )];
    if S::HOST_EXECUTES {
        entries.push(Capability::new(
            CAPABILITY_PLAN_SCAN,
            1,
            plan_scan as *const c_void,
        ));
    }
    // Read once per load; the table must outlive the plugin, which is never unloaded.
    let capabilities: &'static [Capability] = Box::leak(entries.into_boxed_slice());
    PluginModule {
        name: SString::from(S::NAME),
        version: SString::from(version),
        kinds: SString::from(S::KINDS.join(",").as_str()),
        build: build::<S>,
        capabilities: Capabilities::new(capabilities),
    }
}

/// Runs `call` in a panic fence, and turns its error into the ABI's inside
/// the fence too: rendering an error runs plugin code (`Display` impls).
fn fenced<S: Source, T>(
    during: &'static str,
    call: impl FnOnce() -> Result<T, Error>,
) -> Result<T, PluginError> {
    let fence = crate::Fence::enter();
    let caught = catch_unwind(AssertUnwindSafe(|| call().map_err(Error::into_ffi)));
    drop(fence);
    match caught {
        Ok(result) => result,
        Err(payload) => {
            let message = panic_message(&*payload);
            // Dropping the payload runs its destructor, which may panic too.
            std::mem::forget(payload);
            Err(PluginError {
                kind: ErrorKind::PANIC,
                message: SString::from(
                    format!("plugin `{}` panicked while {during}: {message}", S::NAME).as_str(),
                ),
            })
        }
    }
}

fn decode<T: DeserializeOwned>(what: &'static str, json: &Str<'_>) -> Result<T, Error> {
    serde_json::from_str(json.as_str()).map_err(|source| Error::Protocol { what, source })
}

/// What the host sent about a table, with its options parsed once.
struct Decoded<O> {
    spec: TableSpec,
    options: O,
    /// Where the data is, so an error while reading names it.
    location: Option<String>,
    environment: Environment,
}

impl<O> Decoded<O> {
    fn source(&self) -> TableSource<'_, O> {
        TableSource {
            spec: &self.spec,
            options: &self.options,
        }
    }
}

fn decode_table<S: Source>(
    spec_json: &Str<'_>,
    environment_json: &Str<'_>,
) -> Result<Decoded<S::Options>, Error> {
    let spec: TableSpec = decode("a spec", spec_json)?;
    let options = SourceOptions::from_spec(&spec).map_err(|error| match error {
        // The host adds the table's name.
        catalog_core::Error::Options { problems, .. } => Error::Options(problems),
        other => Error::Options(other.to_string()),
    })?;
    let location = options.location().map(str::to_owned);
    let options = S::Options::try_from(options).map_err(|other| Error::WrongKind {
        plugin: S::NAME,
        kind: other.kind().to_owned(),
    })?;
    let environment = decode("an environment", environment_json)?;
    Ok(Decoded {
        spec,
        options,
        location,
        environment,
    })
}

fn plugin_error<S: Source>(error: S::Error) -> Error {
    if S::unreachable(&error) {
        Error::Unreachable(Box::new(error))
    } else {
        Error::Source(Box::new(error))
    }
}

/// Builds a table's guarded provider from its spec and environment.
fn guarded<S: Source>(
    spec_json: &Str<'_>,
    environment_json: &Str<'_>,
) -> Result<Arc<guard::GuardedProvider>, Error> {
    let table = decode_table::<S>(spec_json, environment_json)?;
    let Built {
        provider,
        runtime_env,
        reads,
        explain,
        preflight,
    } = S::build(&table.source(), &table.environment).map_err(plugin_error::<S>)?;
    Ok(Arc::new(
        guard::GuardedProvider::new(
            provider,
            runtime_env,
            table.spec.qualified_name(),
            reads.or(table.location),
            S::NAME,
            explain,
        )
        .with_preflight(preflight),
    ))
}

/// The tables built so far, by spec, with the environment each was built in:
/// a scan the host asks this plugin to plan reuses the provider [`build`] made
/// for the same two, with the statistics it has collected. One entry per spec:
/// a table built again, in another environment, replaces it. (Built from
/// those two alone, so a table missing here is simply built again.)
type Tables = std::collections::HashMap<String, (String, Arc<guard::GuardedProvider>)>;

fn built() -> std::sync::MutexGuard<'static, Tables> {
    static BUILT: std::sync::OnceLock<std::sync::Mutex<Tables>> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

extern "C" fn build<S: Source>(
    spec_json: Str<'_>,
    environment_json: Str<'_>,
    codec: FFI_LogicalExtensionCodec,
) -> PluginResult<FFI_TableProvider> {
    fenced::<S, _>("building the table", || {
        let guarded = guarded::<S>(&spec_json, &environment_json)?;
        if S::HOST_EXECUTES {
            built().insert(
                spec_json.as_str().to_owned(),
                (environment_json.as_str().to_owned(), Arc::clone(&guarded)),
            );
        }
        let handle = runtime().handle().clone();
        Ok(FFI_TableProvider::new_with_ffi_codec(
            guarded,
            true,
            Some(handle),
            codec,
        ))
    })
    .into()
}

extern "C" fn inspect<S: Source>(
    spec_json: Str<'_>,
    environment_json: Str<'_>,
    request_json: Str<'_>,
) -> PluginResult<SString> {
    fenced::<S, _>("reading the source", || {
        let table = decode_table::<S>(&spec_json, &environment_json)?;
        let request: InspectRequest = decode("a request", &request_json)?;
        let timeout = std::time::Duration::from_millis(request.timeout_ms);
        let inspection = runtime().block_on(async {
            tokio::time::timeout(
                timeout,
                S::inspect(&table.source(), &table.environment, &request),
            )
            .await
            .map_err(|_| Error::Timeout(timeout))?
            .map_err(plugin_error::<S>)
        })?;
        let json = serde_json::to_string(&inspection).map_err(Error::Encode)?;
        Ok(SString::from(json.as_str()))
    })
    .into()
}

/// What the host asks of [`plan_scan`], besides the filters.
#[derive(Deserialize)]
struct ScanRequest {
    projection: Option<Vec<usize>>,
    limit: Option<usize>,
    /// The host session's settings, as `(key, value)`.
    #[serde(default)]
    config: Vec<(String, String)>,
}

/// A session with DataFusion's functions, for reading the host's filters.
fn functions() -> &'static TaskContext {
    static CONTEXT: std::sync::OnceLock<Arc<TaskContext>> = std::sync::OnceLock::new();
    CONTEXT.get_or_init(|| {
        SessionStateBuilder::new()
            .with_default_features()
            .build()
            .task_ctx()
    })
}

/// The filters the host sent, or why they cannot be read here (a function
/// of the host's that this side does not have): then the host streams.
fn read_filters(bytes: &[u8]) -> Result<Vec<Expr>, String> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let list = LogicalExprList::decode(bytes).map_err(|error| error.to_string())?;
    parse_exprs(&list.expr, functions(), &DefaultLogicalExtensionCodec {})
        .map_err(|error| format!("its filters cannot be read by the plugin: {error}"))
}

/// Plans one scan for the host to execute (capability `plan_scan`, version 1):
/// the provider's own plan, encoded with `datafusion_proto`, or why it must
/// be streamed instead.
extern "C" fn plan_scan<S: Source>(
    spec_json: Str<'_>,
    environment_json: Str<'_>,
    request_json: Str<'_>,
    filters: Slice<'_, u8>,
) -> PluginResult<ScanPlan> {
    fenced::<S, _>("planning a scan", || {
        let cached = built()
            .get(spec_json.as_str())
            .filter(|(environment, _)| environment == environment_json.as_str())
            .map(|(_, provider)| Arc::clone(provider));
        let provider = match cached {
            Some(provider) => provider,
            None => {
                let provider = guarded::<S>(&spec_json, &environment_json)?;
                built().insert(
                    spec_json.as_str().to_owned(),
                    (environment_json.as_str().to_owned(), Arc::clone(&provider)),
                );
                provider
            }
        };
        let request: ScanRequest = decode("a scan request", &request_json)?;
        let filters = match read_filters(filters.as_slice()) {
            Ok(filters) => filters,
            Err(reason) => return Ok(ScanPlan::Stream(SString::from(reason.as_str()))),
        };
        let mut options = ConfigOptions::new();
        for (key, value) in &request.config {
            // Both sides are DataFusion 55 (the header says so), but a setting of
            // an extension of the host's is unknown here: planned without it,
            // the scan could differ from the host's, so the host streams it.
            if let Err(error) = options.set(key, value) {
                let reason = format!("the plugin cannot apply setting `{key}`: {error}");
                return Ok(ScanPlan::Stream(SString::from(reason.as_str())));
            }
        }
        let plan = runtime()
            .block_on(provider.plan_for_host(
                SessionConfig::from(options),
                request.projection.as_ref(),
                &filters,
                request.limit,
            ))
            .map_err(|error| Error::Source(Box::new(error)))?;
        let mut stores: Vec<String> = Vec::new();
        let mut objects = Vec::new();
        plan.apply(|node| {
            let files = node
                .downcast_ref::<DataSourceExec>()
                .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>());
            if let Some(files) = files {
                let url = files.object_store_url.as_str().to_owned();
                if !stores.contains(&url) {
                    stores.push(url);
                }
                objects.extend(
                    files
                        .file_groups
                        .iter()
                        .flat_map(|group| group.iter())
                        .map(|file| file.object_meta.clone()),
                );
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .map_err(|error| Error::Source(Box::new(error)))?;
        let versions: std::collections::BTreeMap<String, String> = objects
            .iter()
            .filter_map(|object| Some((object.location.to_string(), object.e_tag.clone()?)))
            .collect();
        let versions_json = serde_json::to_string(&versions).unwrap_or_else(|_| "{}".to_owned());
        if let Err(reason) = runtime().block_on(provider.preflight(objects)) {
            return Ok(ScanPlan::Stream(SString::from(reason.as_str())));
        }
        Ok(
            match PhysicalPlanNode::try_from_physical_plan(plan, &DefaultPhysicalExtensionCodec {})
            {
                Ok(node) => ScanPlan::Plan(PlannedScan {
                    plan: SVec::from(node.encode_to_vec().as_slice()),
                    stores: stores
                        .iter()
                        .map(|url| SString::from(url.as_str()))
                        .collect(),
                    versions_json: SString::from(versions_json.as_str()),
                }),
                Err(error) => ScanPlan::Stream(SString::from(
                    format!("its plan cannot be encoded: {error}").as_str(),
                )),
            },
        )
    })
    .into()
}
