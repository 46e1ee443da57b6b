//! The C ABI between codelake's plugin host and its source plugins.
//!
//! A plugin is a `cdylib` that exports two functions, found by name:
//!
//! 1. [`HEADER_SYMBOL`] returns a [`PluginHeader`]: the ABI version and the
//!    DataFusion major version the plugin was built with. Its layout never
//!    changes, so the host reads it safely from any plugin, old or new, and
//!    refuses a mismatch before it touches anything else.
//! 2. [`MODULE_SYMBOL`] returns a [`PluginModule`]: the plugin's name, the source
//!    kinds it serves, [`BuildFn`] (the one call that turns a table into a
//!    provider), and a table of optional [`Capability`]s such as [`InspectFn`]
//!    and [`PlanScanFn`].
//!
//! Capabilities are how the ABI grows without a breaking bump: each has an id
//! and its own version, an old host skips ids it does not know, and a new host
//! finds a capability absent in an old plugin. A change to an existing
//! signature is a new capability version; only a change to [`PluginModule`]
//! itself bumps [`ABI_VERSION`].
//!
//! Only `#[repr(C)]` and `datafusion_ffi` types cross the boundary; table specs
//! and environments travel as JSON text, and errors as a [`PluginError`]: a
//! kind the host can act on, and the message with its whole chain of causes.
//! Plugin authors do not use this crate directly: `codelake-plugin-sdk`
//! implements both exports.
//!
//! What it must not know: source kinds, the catalog, the host's runtime. It
//! depends on datafusion-ffi and stabby alone.

use std::ffi::c_void;

use datafusion_ffi::proto::logical_extension_codec::FFI_LogicalExtensionCodec;
use datafusion_ffi::table_provider::FFI_TableProvider;
use stabby::slice::Slice;
use stabby::str::Str;
use stabby::string::String as SString;
use stabby::vec::Vec as SVec;

/// The version of this ABI. Bump it on any change to [`PluginModule`],
/// [`PluginError`], the meaning of an existing [`ErrorKind`], [`PluginResult`],
/// [`BuildFn`], or the layout of [`Capability`] and [`Capabilities`]; the host
/// refuses plugins of another version. A new kind is an addition: an older
/// host reads it as [`ErrorKind::SOURCE`].
/// Optional functions are [`Capability`]s and carry versions of their own.
///
/// Version 2 added `inspect`. Version 3 made one call build a table
/// ([`BuildFn`], which validates the options itself: no separate `validate`),
/// sent errors as [`PluginError`]s, and moved `inspect` into the capability table.
pub const ABI_VERSION: u32 = 3;

/// The exported function returning the [`PluginHeader`].
pub const HEADER_SYMBOL: &str = "codelake_plugin_header";

/// The exported function returning the [`PluginModule`].
pub const MODULE_SYMBOL: &str = "codelake_plugin_module";

/// What the host checks before anything else. Never change this layout.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginHeader {
    /// The plugin's [`ABI_VERSION`].
    pub abi_version: u32,
    /// The DataFusion major version the plugin was built with (`datafusion_ffi::version()`).
    pub datafusion_major: u64,
}

impl PluginHeader {
    /// The header of a plugin built against this crate.
    pub fn current() -> Self {
        Self {
            abi_version: ABI_VERSION,
            datafusion_major: datafusion_ffi::version(),
        }
    }
}

/// What kind of failure a [`PluginError`] reports, so the host can say what
/// to fix. A host reads an unknown code as [`ErrorKind::SOURCE`].
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorKind(pub u32);

impl ErrorKind {
    /// The table's source options are invalid: nothing was read.
    pub const OPTIONS: Self = Self(1);
    /// The source could not be reached, read or understood.
    pub const SOURCE: Self = Self(2);
    /// The plugin panicked; the panic was caught on its side of the boundary.
    pub const PANIC: Self = Self(3);
    /// The host sent JSON the plugin cannot read: host and plugin disagree.
    pub const PROTOCOL: Self = Self(4);
    /// The source could not be reached at all: its server is down or does not
    /// answer, the connection or the credentials were refused, the bucket does
    /// not exist, the environment names no endpoint. A source that was reached
    /// and holds bad data (a corrupt file, a wrong column) is [`Self::SOURCE`].
    /// A plugin older than this kind sends `SOURCE` for both.
    pub const UNREACHABLE: Self = Self(5);
}

/// Why a plugin call failed.
#[repr(C)]
#[derive(Debug, Clone)]
pub struct PluginError {
    /// What kind of failure it is.
    pub kind: ErrorKind,
    /// What went wrong and what to do, with every cause, `: `-separated.
    pub message: SString,
}

/// The outcome of a plugin call.
#[repr(C, u8)]
#[derive(Debug)]
pub enum PluginResult<T> {
    /// It worked.
    Ok(T),
    /// It failed.
    Err(PluginError),
}

impl<T> PluginResult<T> {
    /// As a Rust `Result`.
    pub fn into_result(self) -> Result<T, PluginError> {
        match self {
            Self::Ok(value) => Ok(value),
            Self::Err(error) => Err(error),
        }
    }
}

impl<T> From<Result<T, PluginError>> for PluginResult<T> {
    fn from(result: Result<T, PluginError>) -> Self {
        match result {
            Ok(value) => Self::Ok(value),
            Err(error) => Self::Err(error),
        }
    }
}

/// Builds a table's provider from its spec and the environment, both as JSON:
/// parses and checks the source options (an [`ErrorKind::OPTIONS`] error
/// before any I/O), then builds the provider with the runtime environment its
/// scans run in. A provider is built from these two alone, so any process with
/// the catalog and the plugins can rebuild any table.
pub type BuildFn = extern "C" fn(
    spec_json: Str<'_>,
    environment_json: Str<'_>,
    codec: FFI_LogicalExtensionCodec,
) -> PluginResult<FFI_TableProvider>;

/// Capability [`CAPABILITY_INSPECT`], version 1: reads a table's source
/// directly, for `verify` and `new-table`. Takes the spec, the environment and
/// a `catalog_core::inspect::InspectRequest`, all as JSON, and returns a
/// `catalog_core::inspect::Inspection` as JSON (the live schema, the newest
/// object, problems only the plugin can see). Blocks until done or timed out.
pub type InspectFn = extern "C" fn(
    spec_json: Str<'_>,
    environment_json: Str<'_>,
    request_json: Str<'_>,
) -> PluginResult<SString>;

/// The id of the `inspect` capability ([`InspectFn`]).
pub const CAPABILITY_INSPECT: u32 = 1;

/// Capability [`CAPABILITY_PLAN_SCAN`], version 1: plans one scan of a table
/// for the host to execute itself, instead of streaming its rows across the
/// boundary. Takes the spec and the environment as JSON, the scan request as
/// JSON (`{"projection": [usize] | null, "limit": usize | null, "config":
/// [[key, value], …]}`, the host session's settings), and the scan's filters
/// as a `datafusion_proto` `LogicalExprList`. A setting the plugin does not
/// know makes it answer [`ScanPlan::Stream`]. Blocks until planned.
///
/// Returns [`ScanPlan::Plan`]: the physical plan, a `datafusion_proto`
/// `PhysicalPlanNode` made of standard DataFusion nodes only (a
/// `DataSourceExec` over files: its file groups, projection and statistics),
/// and the object-store URLs it reads, which the host builds from the
/// environment before it decodes the plan; or
/// [`ScanPlan::Stream`] with the reason this scan cannot be executed by the
/// host, and the host streams it through the provider [`BuildFn`] made.
pub type PlanScanFn = extern "C" fn(
    spec_json: Str<'_>,
    environment_json: Str<'_>,
    request_json: Str<'_>,
    filters: Slice<'_, u8>,
) -> PluginResult<ScanPlan>;

/// The id of the `plan_scan` capability ([`PlanScanFn`]).
pub const CAPABILITY_PLAN_SCAN: u32 = 2;

/// A scan planned by a plugin for the host to execute.
#[repr(C)]
#[derive(Debug)]
pub struct PlannedScan {
    /// The physical plan, a `datafusion_proto` `PhysicalPlanNode`.
    pub plan: SVec<u8>,
    /// The object-store URLs the plan reads (`s3://bucket`, `file://`).
    pub stores: SVec<SString>,
    /// The version of each object the plan reads, as JSON: `{"path": "etag"}`
    /// for the objects whose store gave an ETag. The plan's own encoding
    /// carries sizes and modification times only; a cache of the objects'
    /// bytes keys them by version.
    pub versions_json: SString,
}

/// What [`PlanScanFn`] answers.
#[repr(C, u8)]
#[derive(Debug)]
pub enum ScanPlan {
    /// The scan's plan, for the host to execute.
    Plan(PlannedScan),
    /// The host must stream this scan from the plugin; why, in words.
    Stream(SString),
}

/// One optional function of a plugin.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Capability {
    /// Which capability, e.g. [`CAPABILITY_INSPECT`].
    pub id: u32,
    /// Its version: the signature and meaning of `function`.
    pub version: u32,
    /// The function, of the type the id and version name; null when absent.
    pub function: *const c_void,
}

impl Capability {
    /// Capability `id` at `version`, implemented by `function` (cast with `as *const c_void`).
    pub const fn new(id: u32, version: u32, function: *const c_void) -> Self {
        Self {
            id,
            version,
            function,
        }
    }
}

/// A plugin's capabilities: a slice that lives as long as the plugin.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Capabilities {
    /// The first entry.
    pub entries: *const Capability,
    /// How many entries there are.
    pub len: usize,
}

impl Capabilities {
    /// The table of `entries`, which must live as long as the plugin.
    pub fn new(entries: &'static [Capability]) -> Self {
        Self {
            entries: entries.as_ptr(),
            len: entries.len(),
        }
    }
}

/// What a plugin offers, read after its [`PluginHeader`] passed.
#[repr(C)]
pub struct PluginModule {
    /// The plugin's name, e.g. `csv`.
    pub name: SString,
    /// The plugin crate's version.
    pub version: SString,
    /// The source kinds it serves, comma-separated, e.g. `csv`.
    pub kinds: SString,
    /// See [`BuildFn`].
    pub build: BuildFn,
    /// Its optional functions.
    pub capabilities: Capabilities,
}

/// The signature of the [`HEADER_SYMBOL`] export.
pub type HeaderFn = extern "C" fn() -> PluginHeader;

/// The signature of the [`MODULE_SYMBOL`] export.
pub type ModuleFn = extern "C" fn() -> PluginModule;

/// The file name of plugin `name` on this platform: `libcodelake_plugin_csv.so`.
pub fn library_file_name(name: &str) -> String {
    let stem = format!("codelake_plugin_{}", name.replace('-', "_"));
    format!(
        "{}{stem}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}
