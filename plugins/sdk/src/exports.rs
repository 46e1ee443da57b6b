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
    CAPABILITY_INSPECT, Capabilities, Capability, ErrorKind, InspectFn, PluginError, PluginHeader,
    PluginModule, PluginResult,
};
use datafusion_ffi::proto::logical_extension_codec::FFI_LogicalExtensionCodec;
use datafusion_ffi::table_provider::FFI_TableProvider;
use serde::de::DeserializeOwned;
use stabby::str::Str;
use stabby::string::String as SString;

use crate::{Built, Error, Source, TableSource, guard, panic_message, runtime};

/// The header this plugin exports; see `codelake_plugin_abi::HEADER_SYMBOL`.
pub fn header() -> PluginHeader {
    PluginHeader::current()
}

/// The module this plugin exports, with the plugin crate's `version`; see
/// `codelake_plugin_abi::MODULE_SYMBOL`.
pub fn module<S: Source>(version: &str) -> PluginModule {
    let inspect: InspectFn = inspect::<S>;
    // Read once per load; the table must outlive the plugin, which is never unloaded.
    let capabilities: &'static [Capability] = Box::leak(Box::new([Capability::new(
        CAPABILITY_INSPECT,
        1,
        inspect as *const c_void,
    )]));
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

extern "C" fn build<S: Source>(
    spec_json: Str<'_>,
    environment_json: Str<'_>,
    codec: FFI_LogicalExtensionCodec,
) -> PluginResult<FFI_TableProvider> {
    fenced::<S, _>("building the table", || {
        let table = decode_table::<S>(&spec_json, &environment_json)?;
        let Built {
            provider,
            runtime_env,
            reads,
            explain,
        } = S::build(&table.source(), &table.environment).map_err(plugin_error::<S>)?;
        let guarded = Arc::new(guard::GuardedProvider::new(
            provider,
            runtime_env,
            table.spec.qualified_name(),
            reads.or(table.location),
            S::NAME,
            explain,
        ));
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
