//! The C ABI between codelake's plugin host and its source plugins.
//!
//! A plugin is a `cdylib` that exports two functions, found by name:
//!
//! 1. [`HEADER_SYMBOL`] returns a [`PluginHeader`]: the ABI version and the
//!    DataFusion major version the plugin was built with. Its layout never
//!    changes, so the host reads it safely from any plugin, old or new, and
//!    refuses a mismatch before it touches anything else.
//! 2. [`MODULE_SYMBOL`] returns a [`PluginModule`]: the plugin's name, the source
//!    kinds it serves, and three functions: `validate`, `create` and `inspect`.
//!
//! Only `#[repr(C)]` and `datafusion_ffi` types cross the boundary; table specs
//! and environments travel as JSON text. Plugin authors do not use this crate
//! directly: `codelake-plugin-sdk` implements both exports.

use datafusion_ffi::ffi_option::{FFI_Option, FFI_Result};
use datafusion_ffi::proto::logical_extension_codec::FFI_LogicalExtensionCodec;
use datafusion_ffi::table_provider::FFI_TableProvider;
use stabby::str::Str;
use stabby::string::String as SString;

/// The version of this ABI. Bump it on any change to [`PluginModule`] or to the
/// meaning of its functions; the host refuses plugins of another version.
///
/// Version 2 added [`InspectFn`].
pub const ABI_VERSION: u32 = 2;

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

/// Checks a table spec's source options before any I/O: `None` when they are
/// valid, else what is wrong. Takes the spec as JSON.
pub type ValidateFn = extern "C" fn(spec_json: Str<'_>) -> FFI_Option<SString>;

/// Builds the table's provider from its spec and the environment, both as
/// JSON, or says why it cannot. A provider is built from these two alone, so
/// any process with the catalog and the plugins can rebuild any table.
pub type CreateFn = extern "C" fn(
    spec_json: Str<'_>,
    environment_json: Str<'_>,
    codec: FFI_LogicalExtensionCodec,
) -> FFI_Result<FFI_TableProvider>;

/// Reads a table's source directly, for `verify` and `new-table`: takes the
/// spec, the environment and a `catalog_core::inspect::InspectRequest`, all as
/// JSON, and returns a `catalog_core::inspect::Inspection` as JSON (the live
/// schema, the newest object, problems only the plugin can see), or says why
/// the source cannot be read. Blocks until done or timed out.
pub type InspectFn = extern "C" fn(
    spec_json: Str<'_>,
    environment_json: Str<'_>,
    request_json: Str<'_>,
) -> FFI_Result<SString>;

/// What a plugin offers, read after its [`PluginHeader`] passed.
#[repr(C)]
pub struct PluginModule {
    /// The plugin's name, e.g. `csv`.
    pub name: SString,
    /// The plugin crate's version.
    pub version: SString,
    /// The source kinds it serves, comma-separated, e.g. `csv`.
    pub kinds: SString,
    /// See [`ValidateFn`].
    pub validate: ValidateFn,
    /// See [`CreateFn`].
    pub create: CreateFn,
    /// See [`InspectFn`].
    pub inspect: InspectFn,
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
