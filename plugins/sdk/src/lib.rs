//! Write a codelake source plugin as one trait impl.
//!
//! A plugin author implements [`Source`] (the source logic: turn a table spec
//! into a DataFusion `TableProvider`) and calls [`export_source!`]. The SDK
//! does the rest:
//! - exports the header and module the host looks up (`codelake-plugin-abi`);
//! - decodes the spec and environment from JSON and validates the source
//!   options against `catalog_core::source` before any I/O;
//! - gives the plugin its own tokio runtime, whose handle DataFusion's FFI
//!   layer uses for the plugin's async work;
//! - catches every panic on the plugin's side of the boundary — while
//!   validating, building, planning a scan and polling its stream — and turns
//!   it into an error naming the table, because a panic unwinding out of an
//!   `extern "C"` function would abort the host;
//! - applies the query's filters to the scan on the plugin's side, where the
//!   host's filter push-down cannot reach, so Parquet scans prune; and shows the
//!   host the plugin's plan and metrics for `EXPLAIN [ANALYZE]`.
//!
//! ```ignore
//! struct Csv;
//!
//! impl codelake_plugin_sdk::Source for Csv {
//!     const NAME: &'static str = "csv";
//!     const KINDS: &'static [&'static str] = &["csv"];
//!
//!     fn provider(spec: &TableSpec, env: &Environment) -> Result<Arc<dyn TableProvider>, String> {
//!         // …
//!     }
//! }
//!
//! codelake_plugin_sdk::export_source!(Csv);
//! ```

mod computed;
mod guard;

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};

pub use catalog_core;
pub use codelake_plugin_abi as abi;
pub use computed::{ComputedTable, Rows};
pub use datafusion;

use catalog_core::inspect::{InspectRequest, Inspection};
use catalog_core::{Environment, TableSpec};
use codelake_plugin_abi::{PluginHeader, PluginModule};
use datafusion::catalog::TableProvider;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion_ffi::ffi_option::{FFI_Option, FFI_Result};
use datafusion_ffi::proto::logical_extension_codec::FFI_LogicalExtensionCodec;
use datafusion_ffi::table_provider::FFI_TableProvider;
use stabby::str::Str;
use stabby::string::String as SString;

/// The source logic of a plugin.
pub trait Source: 'static {
    /// The plugin's name, e.g. `csv`; its library is `libcodelake_plugin_<name>`.
    const NAME: &'static str;
    /// The source kinds it serves, as in `source = "…"`.
    const KINDS: &'static [&'static str];

    /// Checks the spec before any I/O. The default checks the source options
    /// against `catalog_core::source`; override to add checks of your own.
    fn validate(spec: &TableSpec) -> Result<(), String> {
        validate_options(spec)
    }

    /// Builds the table's provider from its spec and the environment alone.
    /// An error says what is wrong and what to do; the host adds the table name.
    fn provider(spec: &TableSpec, env: &Environment) -> Result<Arc<dyn TableProvider>, String>;

    /// The runtime environment the table's scans run in on the plugin's side,
    /// for sources whose data is behind an object store the plugin registers
    /// (S3). The host's own runtime environment cannot cross the FFI boundary,
    /// so without this the plugin would see only the local file system.
    fn runtime_env(
        _spec: &TableSpec,
        _env: &Environment,
    ) -> Result<Option<Arc<RuntimeEnv>>, String> {
        Ok(None)
    }

    /// Reads the source directly, for `verify` and `new-table`: its live
    /// schema (columns by name, with the types the source really has), its
    /// newest object, and problems only the plugin can see. A spec with no
    /// columns asks for the schema of an undeclared source (`new-table`),
    /// with types inferred where the source has none. An error says why the
    /// source cannot be read (missing, forbidden, unreachable) and what to do.
    /// The default says the plugin cannot inspect (`Inspection::unsupported`):
    /// `verify` then checks the table through queries only.
    fn inspect(
        spec: &TableSpec,
        env: &Environment,
        request: &InspectRequest,
    ) -> impl Future<Output = Result<Inspection, String>> + Send {
        let _ = (spec, env, request);
        async {
            Ok(Inspection {
                unsupported: true,
                ..Inspection::default()
            })
        }
    }
}

/// Checks `spec`'s options against the source table in `catalog_core::source`.
pub fn validate_options(spec: &TableSpec) -> Result<(), String> {
    let options: Vec<(&str, &str)> = spec.options.iter().map(|o| (&*o.key, &*o.value)).collect();
    catalog_core::source::validate(&spec.source, &options).map_err(|problems| {
        let messages: Vec<String> = problems
            .into_iter()
            .map(|problem| problem.message)
            .collect();
        messages.join("; ")
    })
}

/// The plugin's own runtime: the FFI layer runs the plugin's async work on it,
/// because the host's tokio is another copy of tokio that the plugin cannot see.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("codelake-plugin")
            .enable_all()
            .build()
            .expect("a plugin can start its tokio runtime")
    })
}

/// Turns a caught panic's payload into text.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-text payload".to_owned())
}

/// The header this plugin exports; see `codelake_plugin_abi::HEADER_SYMBOL`.
pub fn header() -> PluginHeader {
    PluginHeader::current()
}

/// The module this plugin exports, with the plugin crate's `version`; see
/// `codelake_plugin_abi::MODULE_SYMBOL`.
pub fn module<S: Source>(version: &str) -> PluginModule {
    PluginModule {
        name: SString::from(S::NAME),
        version: SString::from(version),
        kinds: SString::from(S::KINDS.join(",").as_str()),
        validate: validate::<S>,
        create: create::<S>,
        inspect: inspect::<S>,
    }
}

extern "C" fn validate<S: Source>(spec_json: Str<'_>) -> FFI_Option<SString> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let spec: TableSpec = serde_json::from_str(spec_json.as_str())
            .map_err(|error| format!("the host sent a spec this plugin cannot read: {error}"))?;
        S::validate(&spec)
    }));
    let outcome = outcome.unwrap_or_else(|payload| {
        Err(format!(
            "plugin `{}` panicked while validating: {}",
            S::NAME,
            panic_message(&*payload)
        ))
    });
    match outcome {
        Ok(()) => FFI_Option::None,
        Err(message) => FFI_Option::Some(SString::from(message.as_str())),
    }
}

/// The spec and the environment the host sent.
fn decode(
    spec_json: &Str<'_>,
    environment_json: &Str<'_>,
) -> Result<(TableSpec, Environment), String> {
    let spec: TableSpec = serde_json::from_str(spec_json.as_str())
        .map_err(|error| format!("the host sent a spec this plugin cannot read: {error}"))?;
    let environment: Environment =
        serde_json::from_str(environment_json.as_str()).map_err(|error| {
            format!("the host sent an environment this plugin cannot read: {error}")
        })?;
    Ok((spec, environment))
}

extern "C" fn create<S: Source>(
    spec_json: Str<'_>,
    environment_json: Str<'_>,
    codec: FFI_LogicalExtensionCodec,
) -> FFI_Result<FFI_TableProvider> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let (spec, environment) = decode(&spec_json, &environment_json)?;
        S::validate(&spec)?;
        let provider = S::provider(&spec, &environment)?;
        let runtime_env = S::runtime_env(&spec, &environment)?;
        let guarded = Arc::new(guard::GuardedProvider::new(
            provider,
            runtime_env,
            spec.qualified_name(),
            spec.option("location")
                .or(spec.option("url"))
                .map(str::to_owned),
            S::NAME,
        ));
        let handle = runtime().handle().clone();
        Ok(FFI_TableProvider::new_with_ffi_codec(
            guarded,
            true,
            Some(handle),
            codec,
        ))
    }));
    let outcome: Result<FFI_TableProvider, String> = outcome.unwrap_or_else(|payload| {
        Err(format!(
            "plugin `{}` panicked while building the table: {}",
            S::NAME,
            panic_message(&*payload)
        ))
    });
    outcome.into()
}

extern "C" fn inspect<S: Source>(
    spec_json: Str<'_>,
    environment_json: Str<'_>,
    request_json: Str<'_>,
) -> FFI_Result<SString> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let (spec, environment) = decode(&spec_json, &environment_json)?;
        let request: InspectRequest = serde_json::from_str(request_json.as_str())
            .map_err(|error| format!("the host sent a request this plugin cannot read: {error}"))?;
        S::validate(&spec)?;
        let timeout = std::time::Duration::from_millis(request.timeout_ms);
        let inspection = runtime().block_on(async {
            tokio::time::timeout(timeout, S::inspect(&spec, &environment, &request))
                .await
                .map_err(|_| {
                    format!(
                        "reading the source took longer than {} s: is it reachable? If it is large, raise `verify --timeout`",
                        timeout.as_secs_f64()
                    )
                })?
        })?;
        serde_json::to_string(&inspection)
            .map_err(|error| format!("cannot encode the inspection: {error}"))
    }));
    let outcome = outcome.unwrap_or_else(|payload| {
        Err(format!(
            "plugin `{}` panicked while reading the source: {}",
            S::NAME,
            panic_message(&*payload)
        ))
    });
    match outcome {
        Ok(json) => FFI_Result::Ok(SString::from(json.as_str())),
        Err(message) => FFI_Result::Err(SString::from(message.as_str())),
    }
}

/// Exports a [`Source`] as a codelake plugin: the two functions the host looks up.
#[macro_export]
macro_rules! export_source {
    ($source:ty) => {
        /// The plugin's header, read by the host before anything else.
        #[allow(unsafe_code)] // exporting by name is what makes this a plugin
        #[unsafe(no_mangle)]
        pub extern "C" fn codelake_plugin_header() -> $crate::abi::PluginHeader {
            $crate::header()
        }

        /// The plugin's module, read once its header passed.
        #[allow(unsafe_code)] // exporting by name is what makes this a plugin
        #[unsafe(no_mangle)]
        pub extern "C" fn codelake_plugin_module() -> $crate::abi::PluginModule {
            $crate::module::<$source>(::std::env!("CARGO_PKG_VERSION"))
        }
    };
}
