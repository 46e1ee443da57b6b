//! Write a codelake source plugin as one trait impl.
//!
//! A plugin author implements [`Source`] (the source logic: turn a table's
//! typed options into a DataFusion `TableProvider`) and calls
//! [`export_source!`]. The SDK does the rest:
//! - exports the header and module the host looks up (`codelake-plugin-abi`);
//! - decodes the spec and environment from JSON and parses the source options
//!   once, into the typed options of `catalog_core::source`, before any I/O;
//! - gives the plugin its own tokio runtime, whose handle DataFusion's FFI
//!   layer uses for the plugin's async work;
//! - catches every panic on the plugin's side of the boundary — while
//!   building, planning a scan and polling its stream — and turns it into an
//!   error naming the table, because a panic unwinding out of an `extern "C"`
//!   function would abort the host;
//! - turns the plugin's typed errors into the ABI's error, with every cause,
//!   only at the boundary;
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
//!     type Options = CsvOptions;
//!     type Error = CsvError;
//!
//!     fn build(table: &TableSource<'_, CsvOptions>, env: &Environment) -> Result<Built, CsvError> {
//!         // …
//!     }
//! }
//!
//! codelake_plugin_sdk::export_source!(Csv);
//! ```
//!
//! What it must not know: the host's runtime and any particular catalog. A
//! plugin meets the host only at the C ABI.

mod computed;
mod error;
mod exports;
mod guard;

use std::future::Future;
use std::sync::{Arc, OnceLock};

pub use catalog_core;
pub use codelake_plugin_abi as abi;
pub use computed::{ComputedTable, Rows};
pub use datafusion;
pub use error::Error;
#[doc(hidden)]
pub use exports::{header, module};

use catalog_core::inspect::{InspectRequest, Inspection};
use catalog_core::source::SourceOptions;
use catalog_core::{Environment, TableSpec};
use datafusion::catalog::TableProvider;
use datafusion::error::DataFusionError;
use datafusion::execution::object_store::{
    DefaultObjectStoreRegistry, ObjectStoreRegistry as _, ObjectStoreUrl,
};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::object_store::ObjectMeta;

/// A table as a plugin sees it: the spec, and its options parsed once.
#[derive(Debug)]
pub struct TableSource<'a, O> {
    /// The table's spec: name, columns, expectations.
    pub spec: &'a TableSpec,
    /// Its source options, typed, with the declared defaults.
    pub options: &'a O,
}

/// What a plugin builds for a table: `Built::provider(p)`, then
/// [`with_runtime_env`](Self::with_runtime_env) and [`reading`](Self::reading)
/// where they apply. (Non-exhaustive, so a new field is not a breaking change.)
#[non_exhaustive]
pub struct Built {
    /// The table's provider.
    pub provider: Arc<dyn TableProvider>,
    /// The runtime environment the table's scans run in on the plugin's side,
    /// for sources whose data is behind an object store the plugin registers
    /// (S3). The host's own runtime environment cannot cross the FFI boundary,
    /// so without one the plugin sees only the local file system.
    pub runtime_env: Option<Arc<RuntimeEnv>>,
    /// Where the data is really read, when the environment changes the
    /// declared location (production's S3 bucket, say): errors name this one.
    pub reads: Option<String>,
    /// Rewrites an error of planning or reading in the user's terms, naming
    /// what the source's reader left out (the object, the file, the line).
    pub explain: Option<Explain>,
    /// Checks the files a scan planned for the host reads, before the host
    /// executes it (see [`Built::checking_files`]).
    pub preflight: Option<Preflight>,
}

/// Checks the files of a scan the host is about to execute: `Err` says why
/// they cannot be read as declared, and the scan is then streamed through the
/// plugin, whose errors [`Explain`] words. It runs in the plugin's runtime.
pub type Preflight = Arc<
    dyn Fn(Vec<ObjectMeta>) -> futures::future::BoxFuture<'static, Result<(), String>>
        + Send
        + Sync,
>;

/// Rewrites a scan's error: see [`Built::explaining`]. It runs in the
/// plugin's runtime, on the error path only, so it may read the source again.
pub type Explain = Arc<
    dyn Fn(DataFusionError) -> futures::future::BoxFuture<'static, DataFusionError> + Send + Sync,
>;

impl Built {
    /// A provider that needs no runtime environment of its own and reads
    /// where the table declares.
    pub fn provider(provider: Arc<dyn TableProvider>) -> Self {
        Self {
            provider,
            runtime_env: None,
            reads: None,
            explain: None,
            preflight: None,
        }
    }

    /// The runtime environment the table's scans run in (see [`Built::runtime_env`]).
    pub fn with_runtime_env(mut self, runtime_env: Arc<RuntimeEnv>) -> Self {
        self.runtime_env = Some(runtime_env);
        self
    }

    /// Where the data is really read (see [`Built::reads`]).
    pub fn reading(mut self, location: impl Into<String>) -> Self {
        self.reads = Some(location.into());
        self
    }

    /// Rewrites the errors of this table's scans, when they are planned and as
    /// their batches are read: DataFusion's readers often leave out which
    /// object or file failed, or speak their own terms (see [`Built::explain`]).
    pub fn explaining(
        mut self,
        explain: impl Fn(DataFusionError) -> futures::future::BoxFuture<'static, DataFusionError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.explain = Some(Arc::new(explain));
        self
    }

    /// Checks the files of each scan the host executes (a plugin with
    /// [`Source::HOST_EXECUTES`]) before it does: a file that cannot be read
    /// as declared (a column missing or of another type) sends the scan
    /// through the plugin instead, so its error is the plugin's, explained.
    /// Keep it cheap: it runs on every such scan (remember what was checked).
    pub fn checking_files(
        mut self,
        check: impl Fn(Vec<ObjectMeta>) -> futures::future::BoxFuture<'static, Result<(), String>>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.preflight = Some(Arc::new(check));
        self
    }
}

/// The source logic of a plugin.
pub trait Source: 'static {
    /// The plugin's name, e.g. `csv`; its library is `libcodelake_plugin_<name>`.
    const NAME: &'static str;
    /// The source kinds it serves, as in `source = "…"`.
    const KINDS: &'static [&'static str];
    /// The typed options of the kinds it serves: `CsvOptions` for one kind,
    /// `SourceOptions` for several.
    type Options: TryFrom<SourceOptions, Error = SourceOptions>;
    /// The plugin's own error; its message says what is wrong and what to do,
    /// and the SDK adds every cause and the host adds the table's name.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Whether the host may execute this plugin's scans itself. Set it for a
    /// plugin whose provider's scans are DataFusion's own file scans (a
    /// `ListingTable` over Parquet or CSV): each scan is then planned here,
    /// sent to the host as a `datafusion_proto` plan, and executed by the
    /// host on its own runtime, reading through object stores it builds from
    /// the environment. A scan whose plan cannot be encoded is streamed
    /// across the boundary as before. Leave it off for plugins that compute
    /// rows (a function, an HTTP API). Default: off.
    const HOST_EXECUTES: bool = false;

    /// Builds the table's provider, and the runtime environment its scans
    /// run in, from the table and the environment alone.
    fn build(
        table: &TableSource<'_, Self::Options>,
        env: &Environment,
    ) -> Result<Built, Self::Error>;

    /// Whether `error` means the source could not be reached at all: its
    /// server is down or silent, the connection or the credentials were
    /// refused, the bucket does not exist, the environment has no endpoint for
    /// it. Such an error crosses as `ErrorKind::UNREACHABLE`, and `codelake
    /// verify` exits 4 only when every table's source is unreachable. A source
    /// that was reached but holds bad data (a corrupt file, a malformed line)
    /// is not. The default: no error of this plugin is.
    fn unreachable(error: &Self::Error) -> bool {
        let _ = error;
        false
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
        table: &TableSource<'_, Self::Options>,
        env: &Environment,
        request: &InspectRequest,
    ) -> impl Future<Output = Result<Inspection, Self::Error>> + Send {
        let _ = (table, env, request);
        async {
            Ok(Inspection {
                unsupported: true,
                ..Inspection::default()
            })
        }
    }
}

/// The runtime environment a plugin's scans should run in, for a plugin that
/// registers object stores of its own (see [`Built::with_runtime_env`]); the
/// SDK gives every other table one of these. DataFusion's caches of Parquet
/// footers and of file statistics stay on: each entry is checked against the
/// object's size and modification time before use. Its cache of listings is
/// off: DataFusion 55 keeps a listing for ever by default, so a table read
/// by a long-lived process would never see an object added under its prefix,
/// nor stop reading one removed.
///
/// Local files are read through [`catalog_s3::LocalFiles`], so a file that
/// shrinks while a scan reads it ends the scan with an error naming it,
/// where DataFusion's own reader would spin for ever.
pub fn runtime_env_builder() -> RuntimeEnvBuilder {
    let stores = DefaultObjectStoreRegistry::new();
    stores.register_store(
        ObjectStoreUrl::local_filesystem().as_ref(),
        Arc::new(catalog_s3::LocalFiles::new()),
    );
    RuntimeEnvBuilder::new()
        .with_object_list_cache_limit(0)
        .with_object_store_registry(Arc::new(stores))
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

/// Turns a caught panic's payload into text, with where it happened when a
/// fence of this SDK caught it (`… (at src/lib.rs:47)`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-text payload".to_owned());
    match PANICKED_AT.with(|at| at.borrow_mut().take()) {
        Some(location) => format!("{message} (at {location})"),
        None => message,
    }
}

thread_local! {
    /// How many panic fences this thread is inside now.
    static FENCES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Where the last panic inside a fence happened on this thread.
    static PANICKED_AT: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Marks this thread as inside a panic fence for as long as it lives. A
/// panic inside a fence becomes the table's error, which says what the panic
/// said and where; so the panic hook records where instead of printing it to
/// the user's terminal as well (unless `RUST_BACKTRACE` asks for it). A panic
/// outside every fence prints as usual.
pub(crate) struct Fence(());

impl Fence {
    pub(crate) fn enter() -> Self {
        static HOOK: std::sync::Once = std::sync::Once::new();
        // The plugin's own copy of std, so its own hook: the host's is untouched.
        HOOK.call_once(|| {
            let default = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let fenced = FENCES.with(std::cell::Cell::get) > 0;
                if fenced && let Some(location) = info.location() {
                    let at = format!("{}:{}", location.file(), location.line());
                    PANICKED_AT.with(|cell| *cell.borrow_mut() = Some(at));
                }
                let asked = std::env::var_os("RUST_BACKTRACE").is_some_and(|value| value != "0");
                if !fenced || asked {
                    default(info);
                }
            }));
        });
        // Each fenced panic overwrites the location, and the message that
        // reports it takes it: it is not cleared here, because a fence may be
        // entered (a destructor run) between a panic and its report.
        FENCES.with(|count| count.set(count.get() + 1));
        Self(())
    }
}

/// [`std::panic::catch_unwind`] inside a [`Fence`]: a panic in `call` becomes
/// the caller's error, and is not printed as well.
pub(crate) fn catch<T>(call: impl FnOnce() -> T) -> std::thread::Result<T> {
    let _fence = Fence::enter();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call))
}

impl Drop for Fence {
    fn drop(&mut self) {
        FENCES.with(|count| count.set(count.get() - 1));
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
