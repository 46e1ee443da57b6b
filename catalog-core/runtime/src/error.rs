//! The one error type of the runtime.

use std::path::PathBuf;

/// Why a plugin or a table could not be used. Every variant names the plugin
/// file or the table, and says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The plugin directory cannot be read.
    #[error("cannot read plugin directory {}: {source}; build the plugins with `cargo build --workspace` or set CODELAKE_PLUGIN_DIR", dir.display())]
    PluginDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The dynamic library could not be loaded, or lacks an export.
    #[error("plugin {}: {message}", path.display())]
    Load {
        /// The library file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The plugin was built for another version of the plugin ABI.
    #[error(
        "plugin {}: built for plugin ABI version {found}, but this codelake uses version {expected}; \
         rebuild the plugin against this codelake", path.display()
    )]
    AbiVersion {
        /// The library file.
        path: PathBuf,
        /// The plugin's ABI version.
        found: u32,
        /// The host's ABI version.
        expected: u32,
    },
    /// The plugin was built with another DataFusion major version.
    #[error(
        "plugin {}: built with DataFusion {found}, but this codelake uses DataFusion {expected}; \
         rebuild the plugin against this codelake", path.display()
    )]
    DataFusionVersion {
        /// The library file.
        path: PathBuf,
        /// The plugin's DataFusion major version.
        found: u64,
        /// The host's DataFusion major version.
        expected: u64,
    },
    /// Two plugins serve one source kind.
    #[error("plugins {} and {} both serve source `{kind}`; remove one of them", first.display(), second.display())]
    DuplicateKind {
        /// The source kind.
        kind: String,
        /// The plugin loaded first.
        first: PathBuf,
        /// The plugin loaded second.
        second: PathBuf,
    },
    /// No loaded plugin serves a table's source kind.
    #[error(
        "table `{table}`: no plugin serves source `{kind}` (loaded: {loaded}); build it, or check CODELAKE_PLUGIN_DIR"
    )]
    NoPlugin {
        /// Qualified table name.
        table: String,
        /// The table's source kind.
        kind: String,
        /// The plugins that are loaded.
        loaded: String,
    },
    /// The environment cannot be sent to a plugin.
    #[error("table `{table}`: {message}")]
    Environment {
        /// Qualified table name.
        table: String,
        /// What is wrong.
        message: String,
    },
    /// The plugin refused the table's options, before any I/O.
    #[error("table `{table}`: invalid source options ({}): {message}", plugin.display())]
    InvalidOptions {
        /// Qualified table name.
        table: String,
        /// The plugin file.
        plugin: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The plugin could not build the table's provider.
    #[error("table `{table}`: {message} ({})", plugin.display())]
    Create {
        /// Qualified table name.
        table: String,
        /// The plugin file.
        plugin: PathBuf,
        /// What went wrong, as the plugin said it.
        message: String,
    },
    /// The plugin could not reach the table's source at all (its server,
    /// credentials or bucket), as the plugin's `ErrorKind::UNREACHABLE` says.
    #[error("table `{table}`: {message} ({})", plugin.display())]
    Unreachable {
        /// Qualified table name.
        table: String,
        /// The plugin file.
        plugin: PathBuf,
        /// What went wrong, as the plugin said it.
        message: String,
    },
    /// The plugin could not read the table's source directly.
    #[error("table `{table}`: {message} ({})", plugin.display())]
    Inspect {
        /// Qualified table name.
        table: String,
        /// The plugin file.
        plugin: PathBuf,
        /// What went wrong, as the plugin said it.
        message: String,
    },
    /// DataFusion refused to register the table.
    #[error("table `{table}`: cannot register it: {source}")]
    Register {
        /// Qualified table name.
        table: String,
        /// DataFusion's error.
        #[source]
        source: datafusion::error::DataFusionError,
    },
    /// A typed read of a table failed: the query, or turning its rows into the struct.
    #[error("table `{table}`: {message}")]
    Query {
        /// Qualified table name.
        table: String,
        /// What went wrong.
        message: String,
    },
    /// A view cannot be served: its SQL does not plan, its columns differ
    /// from its struct, or a table it reads is unavailable.
    #[error("{problem}")]
    View {
        /// Qualified view name.
        table: String,
        /// What is wrong, naming the view, its SQL file and the column.
        problem: crate::views::ViewProblem,
    },
}

impl Error {
    /// The table the error is about, for errors about one table.
    pub fn table(&self) -> Option<&str> {
        match self {
            Self::NoPlugin { table, .. }
            | Self::Environment { table, .. }
            | Self::InvalidOptions { table, .. }
            | Self::Create { table, .. }
            | Self::Inspect { table, .. }
            | Self::Unreachable { table, .. }
            | Self::Register { table, .. }
            | Self::View { table, .. }
            | Self::Query { table, .. } => Some(table),
            _ => None,
        }
    }

    /// Whether the table's source could not be reached at all: no plugin
    /// serves it, or the plugin could not reach its server, credentials or
    /// bucket. A source that was reached and holds bad data is not.
    pub fn unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::NoPlugin { .. })
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
