//! Finding, checking and loading plugin libraries.

use std::ffi::c_void;
use std::path::{Path, PathBuf};

use codelake_plugin_abi::{
    ABI_VERSION, BuildFn, CAPABILITY_INSPECT, CAPABILITY_PLAN_SCAN, Capabilities, HEADER_SYMBOL,
    HeaderFn, InspectFn, MODULE_SYMBOL, ModuleFn, PlanScanFn, PluginHeader,
};

use crate::{Error, Result};

/// The environment variable that overrides where plugins are looked for.
pub const PLUGIN_DIR_VAR: &str = "CODELAKE_PLUGIN_DIR";

/// A loaded plugin. Its library stays loaded for the life of the process:
/// providers it built may be used until the very end, and unloading code that
/// may still run is undefined behaviour.
#[derive(Debug, Clone)]
pub struct Plugin {
    /// The library file.
    pub path: PathBuf,
    /// The plugin's name, e.g. `csv`.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// The source kinds it serves.
    pub kinds: Vec<String>,
    pub(crate) build: BuildFn,
    /// Capability `inspect`, version 1, if the plugin has it.
    pub(crate) inspect: Option<InspectFn>,
    /// Capability `plan_scan`, version 1, if the plugin has it: its scans are
    /// planned there and executed here (see [`crate::scan`]).
    pub(crate) plan_scan: Option<PlanScanFn>,
}

impl Plugin {
    /// Whether the host executes this plugin's scans itself (capability
    /// `plan_scan`), instead of streaming their rows from the plugin.
    pub fn host_executes(&self) -> bool {
        self.plan_scan.is_some()
    }
}

/// Every plugin loaded from a directory, and every library that failed to load.
#[derive(Debug, Default)]
pub struct PluginSet {
    /// Plugins that loaded and passed their version checks.
    pub plugins: Vec<Plugin>,
    /// Libraries that did not; the others are usable all the same.
    pub errors: Vec<Error>,
}

impl PluginSet {
    /// Loads every `codelake_plugin_*` library in `dir`. A library that fails
    /// is reported in [`PluginSet::errors`]; it never stops the others.
    pub fn load_dir(dir: &Path) -> Result<Self> {
        Ok(Self::load(&libraries(dir)?))
    }

    /// Loads, of the libraries in `dir`, only those that serve `kinds`, found
    /// by file name without opening any other: each kind's plugin is the one
    /// its definition names ([`catalog_core::source::SourceDef::plugin`]),
    /// whose library is `libcodelake_plugin_<plugin>.so`, hyphens as `_`
    /// ([`codelake_plugin_abi::library_file_name`]). Opening a library is
    /// most of what a plugin costs at start, so a query of one CSV table opens
    /// one. When a kind's library is not there under that name, or does not
    /// serve the kind, every other library is opened too, as
    /// [`load_dir`](Self::load_dir) does. The checks are the same: a wrong ABI
    /// is refused before use. No kinds: nothing is opened, and `dir` is not read.
    pub fn load_dir_for<'k>(dir: &Path, kinds: impl IntoIterator<Item = &'k str>) -> Result<Self> {
        let kinds: Vec<&str> = kinds.into_iter().collect();
        if kinds.is_empty() {
            return Ok(Self::default());
        }
        let libraries = libraries(dir)?;
        let mut named: Vec<PathBuf> = kinds
            .iter()
            .filter_map(|kind| catalog_core::source::source(kind))
            .filter_map(|def| {
                let file = codelake_plugin_abi::library_file_name(def.plugin);
                libraries
                    .iter()
                    .find(|path| path.file_name().is_some_and(|name| *name == *file))
                    .cloned()
            })
            .collect();
        named.sort();
        named.dedup();
        let mut set = Self::load(&named);
        if !kinds.iter().all(|kind| set.plugin_for(kind).is_some()) {
            let rest: Vec<PathBuf> = libraries
                .into_iter()
                .filter(|path| !named.contains(path))
                .collect();
            let more = Self::load(&rest);
            set.errors.extend(more.errors);
            for plugin in more.plugins {
                set.add(plugin);
            }
        }
        Ok(set)
    }

    /// Loads the given libraries, each on its own.
    pub fn load(paths: &[PathBuf]) -> Self {
        let mut set = Self::default();
        for path in paths {
            match load(path) {
                Ok(plugin) => set.add(plugin),
                Err(error) => set.errors.push(error),
            }
        }
        set
    }

    fn add(&mut self, plugin: Plugin) {
        for kind in &plugin.kinds {
            if let Some(first) = self.plugin_for(kind) {
                self.errors.push(Error::DuplicateKind {
                    kind: kind.clone(),
                    first: first.path.clone(),
                    second: plugin.path.clone(),
                });
                return;
            }
        }
        self.plugins.push(plugin);
    }

    /// The same plugins, with every scan streamed from its plugin: none is
    /// executed by the host (capability `plan_scan` set aside). For measuring
    /// and testing the streamed path; nothing else needs it.
    pub fn streaming_only(mut self) -> Self {
        for plugin in &mut self.plugins {
            plugin.plan_scan = None;
        }
        self
    }

    /// The plugin serving source `kind`.
    pub fn plugin_for(&self, kind: &str) -> Option<&Plugin> {
        self.plugins
            .iter()
            .find(|plugin| plugin.kinds.iter().any(|served| served == kind))
    }

    /// The loaded plugins' names, for messages.
    pub fn names(&self) -> String {
        if self.plugins.is_empty() {
            return "none".to_owned();
        }
        self.plugins
            .iter()
            .map(|plugin| plugin.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The `codelake_plugin_*` libraries in `dir`, sorted; none is opened.
fn libraries(dir: &Path) -> Result<Vec<PathBuf>> {
    let prefix = format!("{}codelake_plugin_", std::env::consts::DLL_PREFIX);
    let entries = std::fs::read_dir(dir).map_err(|source| Error::PluginDir {
        dir: dir.to_owned(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.starts_with(&prefix) && name.ends_with(std::env::consts::DLL_SUFFIX)
        })
        .collect();
    paths.sort();
    Ok(paths)
}

/// Where plugins are looked for: `$CODELAKE_PLUGIN_DIR`, else the directory of
/// the running program (the target directory of its profile, `target/debug`,
/// when run by cargo; a test binary in `target/debug/deps` looks one level up).
pub fn default_plugin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(PLUGIN_DIR_VAR) {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|name| name == "deps") {
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    } else {
        dir
    }
}

/// Loads one library: header first, then, only if it matches, the module.
#[allow(unsafe_code)] // loading foreign code is inherently unsafe; see the SAFETY notes
fn load(path: &Path) -> Result<Plugin> {
    let fail = |message: String| Error::Load {
        path: path.to_owned(),
        message,
    };
    // SAFETY: loading runs the library's initialisers. We only load files named
    // like codelake plugins from the plugin directory the user chose.
    let library =
        unsafe { libloading::Library::new(path) }.map_err(|error| fail(with_reason(&error)))?;
    // Never unloaded: providers and streams from it may live until the process ends.
    let library: &'static libloading::Library = Box::leak(Box::new(library));

    // SAFETY: every codelake plugin exports this symbol with this signature, and its
    // layout (`PluginHeader`) is frozen across ABI versions, so reading it is sound
    // even for a plugin of another ABI version.
    let header: HeaderFn = unsafe { library.get::<HeaderFn>(HEADER_SYMBOL.as_bytes()) }
        .map(|symbol| *symbol)
        .map_err(|error| {
            fail(format!(
                "not a codelake plugin: no `{HEADER_SYMBOL}` export ({})",
                with_reason(&error)
            ))
        })?;
    let found = header();
    let expected = PluginHeader::current();
    if found.abi_version != ABI_VERSION {
        return Err(Error::AbiVersion {
            path: path.to_owned(),
            found: found.abi_version,
            expected: ABI_VERSION,
        });
    }
    if found.datafusion_major != expected.datafusion_major {
        return Err(Error::DataFusionVersion {
            path: path.to_owned(),
            found: found.datafusion_major,
            expected: expected.datafusion_major,
        });
    }

    // SAFETY: the header matched, so the module has this ABI version's layout.
    let module: ModuleFn = unsafe { library.get::<ModuleFn>(MODULE_SYMBOL.as_bytes()) }
        .map(|symbol| *symbol)
        .map_err(|error| {
            fail(format!(
                "no `{MODULE_SYMBOL}` export ({})",
                with_reason(&error)
            ))
        })?;
    let module = module();
    Ok(Plugin {
        path: path.to_owned(),
        name: module.name.as_str().to_owned(),
        version: module.version.as_str().to_owned(),
        kinds: module
            .kinds
            .as_str()
            .split(',')
            .filter(|kind| !kind.is_empty())
            .map(str::to_owned)
            .collect(),
        build: module.build,
        inspect: capability(&module.capabilities, CAPABILITY_INSPECT, 1)
            // SAFETY: capability `inspect` at version 1 is an `InspectFn` (see the ABI crate).
            .map(|function| unsafe { std::mem::transmute::<*const c_void, InspectFn>(function) }),
        plan_scan: capability(&module.capabilities, CAPABILITY_PLAN_SCAN, 1)
            // SAFETY: capability `plan_scan` at version 1 is a `PlanScanFn` (see the ABI crate).
            .map(|function| unsafe { std::mem::transmute::<*const c_void, PlanScanFn>(function) }),
    })
}

/// libloading's error with the loader's reason: its text alone is "dlopen
/// failed", and the reason (not an ELF file, a missing symbol) is its source.
fn with_reason(error: &libloading::Error) -> String {
    match std::error::Error::source(error) {
        Some(reason) => format!("{error}: {reason}"),
        None => error.to_string(),
    }
}

/// The function of capability `id` at `version`, if the plugin has it: an
/// unknown id or version, or a null function, is an absent capability.
#[allow(unsafe_code)] // reading the plugin's table; see the SAFETY note
fn capability(table: &Capabilities, id: u32, version: u32) -> Option<*const c_void> {
    if table.entries.is_null() {
        return None;
    }
    // SAFETY: the plugin's header matched this ABI version, whose module holds a
    // pointer to `len` entries that live as long as the plugin, which is never unloaded.
    let entries = unsafe { std::slice::from_raw_parts(table.entries, table.len) };
    entries
        .iter()
        .find(|entry| entry.id == id && entry.version == version && !entry.function.is_null())
        .map(|entry| entry.function)
}

#[cfg(test)]
mod tests {
    use std::ffi::c_void;

    use codelake_plugin_abi::{Capabilities, Capability};

    use super::capability;

    extern "C" fn one() {}
    extern "C" fn two() {}

    /// A host finds a capability only at an id and version it knows, and never a null one.
    #[test]
    fn capabilities_are_found_by_id_and_version_and_absent_otherwise() {
        let one = one as *const c_void;
        let two = two as *const c_void;
        let entries: &'static [Capability] = Box::leak(Box::new([
            Capability::new(7, 1, std::ptr::null()),
            Capability::new(1, 2, two),
            Capability::new(1, 1, one),
            Capability::new(99, 1, two),
        ]));
        let table = Capabilities::new(entries);
        assert_eq!(capability(&table, 1, 1), Some(one));
        assert_eq!(capability(&table, 1, 2), Some(two));
        assert_eq!(capability(&table, 1, 3), None, "an unknown version");
        assert_eq!(capability(&table, 7, 1), None, "a null function");
        assert_eq!(capability(&table, 2, 1), None, "an id the plugin lacks");
        let empty = Capabilities {
            entries: std::ptr::null(),
            len: 0,
        };
        assert_eq!(capability(&empty, 1, 1), None, "no table at all");
    }
}
