//! Test-only: a plugin built for another plugin ABI version. It exports only the
//! header: the host must refuse it from the header alone, before reading anything else.

use codelake_plugin_abi::{ABI_VERSION, PluginHeader};

/// A header one ABI version ahead of the host's.
#[allow(unsafe_code)] // exporting by name is what makes this a plugin
#[unsafe(no_mangle)]
pub extern "C" fn codelake_plugin_header() -> PluginHeader {
    PluginHeader {
        abi_version: ABI_VERSION + 1,
        ..PluginHeader::current()
    }
}
