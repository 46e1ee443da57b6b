//! The fault matrix: what codelake survives, one row a fault.
//!
//! Each row injects one fault into a real environment: the real `codelake`
//! binary and plugins, a real S3-protocol server over a copy of the seeded
//! sample data, a real HTTP API, real files. It then checks:
//! - the exit code and the message fragments (what failed, which table,
//!   object, plugin or endpoint, and the fix);
//! - that another table still answers in the same session;
//! - that no secret planted in the environment appears in the output or the
//!   logs.
//!
//! `docs/reference/faults.md` is generated from [`FAULTS`] and checked by
//! [`the_fault_reference_is_generated_from_the_matrix`]; regenerate it with
//! `CODELAKE_BLESS=1 cargo nextest run -p codelake-tests faults`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use catalog_runtime::default_plugin_dir;
use datafusion::arrow::array::{AsArray, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use crate::cli::{codelake, stderr, stdout};
use crate::http::HttpServer;
use crate::s3::{ACCESS_KEY, S3Server, SECRET_KEY};

/// The FX API's credential, planted in every row's environment.
const FX_TOKEN: &str = "Bearer fx-token-do-not-print";
/// A wrong S3 secret, for the rows that present one.
const WRONG_SECRET: &str = "wrong-secret-do-not-print";
/// A secret written into `codelake.toml` by a row that breaks the file.
const FILE_SECRET: &str = "file-secret-do-not-print";
/// Every secret a row may plant: none of them may ever be printed.
const SECRETS: &[&str] = &[
    SECRET_KEY,
    "fx-token-do-not-print",
    WRONG_SECRET,
    FILE_SECRET,
];

/// One fault, how it is caused, and what codelake must do about it.
pub struct Fault {
    /// Where the fault lives, a section of the reference page.
    pub area: Area,
    /// The fault, in a user's words.
    pub fault: &'static str,
    /// How the row causes it.
    pub inject: &'static [Inject],
    /// What the user runs.
    pub run: Run,
    /// The exit code of that command.
    pub exit: i32,
    /// Fragments of what codelake says (standard error or output).
    pub says: &'static [&'static str],
    /// A table that still answers in the same session, if a session starts.
    pub others: Option<Other>,
}

/// The sections of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Area {
    Csv,
    Parquet,
    Http,
    S3,
    Plugins,
    Configuration,
    Cli,
}

impl Area {
    fn title(self) -> &'static str {
        match self {
            Area::Csv => "CSV files (`csv`)",
            Area::Parquet => "Parquet on S3 (`s3-parquet`)",
            Area::Http => "HTTP APIs (`http-api`)",
            Area::S3 => "The S3 endpoint",
            Area::Plugins => "Plugins",
            Area::Configuration => "Configuration",
            Area::Cli => "The command line",
        }
    }
}

/// A table that answers beside the fault, and its row count.
#[derive(Clone, Copy)]
pub enum Other {
    Nation,
    Part,
    Region,
}

impl Other {
    fn table(self) -> &'static str {
        match self {
            Other::Nation => "tpch.nation",
            Other::Part => "tpch.part",
            Other::Region => "tpch.region",
        }
    }

    fn rows(self) -> u32 {
        match self {
            Other::Nation => 25,
            Other::Part => 2000,
            Other::Region => 5,
        }
    }
}

/// How a row causes its fault.
pub enum Inject {
    /// A change to a file of the data directory, e.g. `tpch/nation.csv` or
    /// `s3/codelake/tpch/part.parquet` (the S3 server's bucket `codelake`).
    File(&'static str, Change),
    /// The FX API behind `tpch.exchange_rates` misbehaves.
    Http(HttpFault),
    /// The S3 endpoint misbehaves.
    S3(S3Fault),
    /// The plugin directory holds other files than the four real plugins.
    Plugins(PluginFault),
    /// A variable set to a value.
    Set(&'static str, &'static str),
    /// A variable left unset.
    Unset(&'static str),
    /// `codelake.toml` in the project directory, with `{secret}` replaced by a planted secret.
    Toml(&'static str),
}

/// A change to a file.
pub enum Change {
    Remove,
    Empty,
    /// Keep only the first bytes.
    Truncate(usize),
    /// Bytes that are no format at all.
    Garbage,
    /// The first occurrence of a text replaced.
    Replace(&'static str, &'static str),
    /// Text added at the end.
    Append(&'static str),
    /// A new file with this content.
    Create(&'static str),
    /// The Parquet file rewritten through a function of its rows.
    Rewrite(fn(RecordBatch) -> RecordBatch),
}

/// What the FX API does.
#[derive(Clone, Copy)]
pub enum HttpFault {
    /// Answers every request with this status.
    Status(u16),
    /// Answers 200 with a body that is not JSON.
    Garbage,
    /// Answers JSON without the declared `rows_path`.
    NoRows,
    /// Always links to one more page.
    Endless,
    /// Accepts connections and never answers.
    Silent,
    /// Nothing listens.
    Down,
}

/// What the S3 endpoint does.
#[derive(Clone, Copy)]
pub enum S3Fault {
    /// Refuses the secret presented.
    WrongSecret,
    /// Nothing listens.
    Down,
    /// Accepts connections and never answers.
    Silent,
}

/// What the plugin directory holds.
#[derive(Clone, Copy)]
pub enum PluginFault {
    /// Nothing at all.
    Empty,
    /// The real plugins but this one.
    Without(&'static str),
    /// The real plugins and a file named like a plugin that is not a library.
    NotALibrary,
    /// The real plugins and one built for another ABI version.
    OldAbi,
    /// The real plugins, with the test plugin `faulty` in place of `function`,
    /// panicking at this stage (`panic_on_build`, `panic_on_scan`, `panic_on_read`).
    Panicking(&'static str),
}

/// What the user runs.
pub enum Run {
    /// `codelake sql -f csv QUERY`; then a shell runs QUERY and a count of the
    /// other table, in one session.
    Sql(&'static str),
    /// `codelake verify --table TABLE --table OTHER`.
    Verify(&'static str),
    /// `codelake ARGS`.
    Args(&'static [&'static str]),
    /// A long query to a file, stopped with Ctrl-C (SIGINT).
    Interrupt,
    /// Two `codelake local up` at once, in profile `local`.
    TwoLocalUps,
}

impl Run {
    fn command(&self) -> String {
        match self {
            Run::Sql(query) => format!("`codelake sql \"{query}\"`"),
            Run::Verify(table) => format!("`codelake verify --table {table}`"),
            Run::Args(args) => format!("`codelake {}`", args.join(" ")),
            Run::Interrupt => "Ctrl-C during `codelake sql -o out.csv \"…\"`".to_owned(),
            Run::TwoLocalUps => "`codelake local up` twice at once".to_owned(),
        }
    }
}

use Change::*;
use Inject::*;

const NATION: &str = "tpch/nation.csv";
const PART: &str = "s3/codelake/tpch/part.parquet";
const LINEITEM_0: &str = "s3/codelake/tpch/lineitem/part-0.parquet";
const LINEITEM_1: &str = "s3/codelake/tpch/lineitem/part-1.parquet";
const COUNT_NATION: &str = "SELECT count(*) FROM tpch.nation";
const SUM_NATION: &str = "SELECT sum(n_nationkey) FROM tpch.nation";
const SUM_PART: &str = "SELECT sum(p_size) FROM tpch.part";
const COUNT_PART: &str = "SELECT count(*) FROM tpch.part";
const COUNT_LINEITEM: &str = "SELECT count(*) FROM tpch.lineitem";
const RATES: &str = "SELECT * FROM tpch.exchange_rates";
const TIERS: &str = "SELECT * FROM tpch.price_tiers";
/// Reads the whole catalog, so it opens every plugin library (a query of one
/// table opens only its plugin's, and never sees a broken library of another).
const SHOW_TABLES: &str = "SHOW TABLES";

/// The matrix. Each row's fragments are the contract of its message: what
/// failed, where, and the fix.
pub static FAULTS: &[Fault] = &[
    // CSV.
    Fault {
        area: Area::Csv,
        fault: "The file is missing",
        inject: &[File(NATION, Remove)],
        run: Run::Sql(COUNT_NATION),
        exit: 1,
        says: &["tpch.nation", "nation.csv does not exist"],
        others: Some(Other::Part),
    },
    Fault {
        area: Area::Csv,
        fault: "The file is empty",
        inject: &[File(NATION, Empty)],
        run: Run::Sql(COUNT_NATION),
        exit: 1,
        says: &[
            "tpch.nation",
            "nation.csv is empty (0 bytes): the table declares a header line, and it has none",
        ],
        others: Some(Other::Part),
    },
    Fault {
        area: Area::Csv,
        fault: "A value does not parse as its column's type",
        inject: &[File(NATION, Replace("\n3|CANADA|", "\nthree|CANADA|"))],
        run: Run::Sql(SUM_NATION),
        exit: 1,
        says: &[
            "tpch.nation",
            "line 5 of ",
            "nation.csv: `three` in column `n_nationkey` is not a valid Int64",
        ],
        others: Some(Other::Part),
    },
    Fault {
        area: Area::Csv,
        fault: "A row has more fields than the header",
        inject: &[File(NATION, Append("25|ATLANTIS|0|sunk|extra\n"))],
        run: Run::Sql(COUNT_NATION),
        exit: 1,
        says: &[
            "tpch.nation",
            "line 27 of ",
            "nation.csv has 5 fields where 4 are expected; fix that line",
        ],
        others: Some(Other::Part),
    },
    Fault {
        area: Area::Csv,
        fault: "A row has fewer fields than the header",
        inject: &[File(NATION, Append("25|ATLANTIS\n"))],
        run: Run::Sql(COUNT_NATION),
        exit: 1,
        says: &[
            "tpch.nation",
            "line 27 of ",
            "nation.csv has 2 fields where 4 are expected; fix that line",
        ],
        others: Some(Other::Part),
    },
    Fault {
        area: Area::Csv,
        fault: "A declared column is missing from the header",
        inject: &[File(NATION, Replace("n_regionkey", "n_region"))],
        run: Run::Sql(COUNT_NATION),
        exit: 1,
        says: &["tpch.nation", "n_regionkey"],
        others: Some(Other::Part),
    },
    Fault {
        area: Area::Csv,
        fault: "A declared column is missing from the header (verify)",
        inject: &[File(NATION, Replace("n_regionkey", "n_region"))],
        run: Run::Verify("tpch.nation"),
        exit: 1,
        says: &["tpch.nation", "n_regionkey"],
        others: Some(Other::Part),
    },
    Fault {
        area: Area::Csv,
        fault: "A value does not parse as its column's type (verify)",
        inject: &[File(NATION, Replace("\n3|CANADA|", "\nthree|CANADA|"))],
        run: Run::Verify("tpch.nation"),
        exit: 1,
        says: &["tpch.nation", "three"],
        others: Some(Other::Part),
    },
    // Parquet on S3.
    Fault {
        area: Area::Parquet,
        fault: "The object is missing",
        inject: &[File(PART, Remove)],
        run: Run::Sql(COUNT_PART),
        exit: 1,
        says: &[
            "tpch.part",
            "s3://codelake/tpch/part.parquet does not exist",
        ],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Parquet,
        fault: "The object is empty (0 bytes)",
        inject: &[File(PART, Empty)],
        run: Run::Sql(COUNT_PART),
        exit: 1,
        says: &["tpch.part", "part.parquet is empty (0 bytes)"],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Parquet,
        fault: "The object is truncated",
        inject: &[File(PART, Truncate(100))],
        run: Run::Sql(COUNT_PART),
        exit: 1,
        says: &[
            "tpch.part",
            "s3://codelake/tpch/part.parquet is corrupt: it is not readable Parquet (Invalid Parquet file. Corrupt footer); rewrite it or remove it",
        ],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Parquet,
        fault: "The object is not Parquet at all",
        inject: &[File(PART, Garbage)],
        run: Run::Sql(COUNT_PART),
        exit: 1,
        says: &[
            "tpch.part",
            "s3://codelake/tpch/part.parquet is corrupt: it is not readable Parquet",
        ],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Parquet,
        fault: "A column has another type than declared",
        inject: &[File(PART, Rewrite(p_size_as_text))],
        run: Run::Sql(SUM_PART),
        exit: 1,
        says: &[
            "tpch.part",
            "s3://codelake/tpch/part.parquet stores `p_size` as Utf8, not Int32, as tables::tpch::Part declares it",
        ],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Parquet,
        fault: "A declared column is missing",
        inject: &[File(PART, Rewrite(without_p_comment))],
        run: Run::Sql("SELECT p_comment FROM tpch.part"),
        exit: 1,
        says: &[
            "tpch.part",
            "s3://codelake/tpch/part.parquet has no column `p_comment`, as tables::tpch::Part declares it",
        ],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Parquet,
        fault: "A column has another type than declared (verify)",
        inject: &[File(PART, Rewrite(p_size_as_text))],
        run: Run::Verify("tpch.part"),
        exit: 1,
        says: &[
            "tpch.part",
            "schema: column `p_size`: declared Int32, the source has Utf8",
        ],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Parquet,
        fault: "An object inside a prefix is empty (0 bytes)",
        inject: &[File(LINEITEM_1, Create(""))],
        run: Run::Sql(COUNT_LINEITEM),
        exit: 1,
        says: &[
            "tpch.lineitem",
            "s3://codelake/tpch/lineitem/part-1.parquet is empty (0 bytes)",
        ],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Parquet,
        fault: "An object inside a prefix is truncated",
        inject: &[File(LINEITEM_0, Truncate(100))],
        run: Run::Sql(COUNT_LINEITEM),
        exit: 1,
        says: &[
            "tpch.lineitem",
            "s3://codelake/tpch/lineitem/part-0.parquet is corrupt: it is not readable Parquet",
        ],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Parquet,
        fault: "A prefix holds no objects",
        inject: &[File(LINEITEM_0, Remove)],
        run: Run::Sql(COUNT_LINEITEM),
        exit: 1,
        says: &["tpch.lineitem", "s3://codelake/tpch/lineitem/"],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Parquet,
        fault: "The object is missing (verify)",
        inject: &[File(PART, Remove)],
        run: Run::Verify("tpch.part"),
        exit: 1,
        says: &["tpch.part", "does not exist"],
        others: Some(Other::Nation),
    },
    // HTTP APIs.
    Fault {
        area: Area::Http,
        fault: "The API refuses the credential (401)",
        inject: &[Http(HttpFault::Status(401))],
        run: Run::Sql(RATES),
        exit: 4,
        says: &["tpch.exchange_rates", "401 Unauthorized", "auth_env"],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Http,
        fault: "The API forbids the request (403)",
        inject: &[Http(HttpFault::Status(403))],
        run: Run::Sql(RATES),
        exit: 4,
        says: &["tpch.exchange_rates", "403 Forbidden", "auth_env"],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Http,
        fault: "The API answers 429 Too Many Requests on every retry",
        inject: &[Http(HttpFault::Status(429))],
        run: Run::Sql(RATES),
        exit: 1,
        says: &["tpch.exchange_rates", "429 Too Many Requests", "attempts"],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Http,
        fault: "The API answers 500 on every retry",
        inject: &[Http(HttpFault::Status(500))],
        run: Run::Sql(RATES),
        exit: 1,
        says: &[
            "tpch.exchange_rates",
            "500 Internal Server Error",
            "attempts",
        ],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Http,
        fault: "The API answers something that is not JSON",
        inject: &[Http(HttpFault::Garbage)],
        run: Run::Sql(RATES),
        exit: 1,
        says: &["tpch.exchange_rates", "did not return JSON"],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Http,
        fault: "The API's JSON has no rows where declared",
        inject: &[Http(HttpFault::NoRows)],
        run: Run::Sql(RATES),
        exit: 1,
        says: &["tpch.exchange_rates", "/rates"],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Http,
        fault: "The API always links to one more page",
        inject: &[Http(HttpFault::Endless)],
        run: Run::Sql(RATES),
        exit: 1,
        says: &["tpch.exchange_rates", "pages"],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Http,
        fault: "Nothing listens at the API's address",
        inject: &[Http(HttpFault::Down)],
        run: Run::Sql(RATES),
        exit: 4,
        says: &[
            "tpch.exchange_rates",
            "Connection refused",
            "CODELAKE_HTTP_BASE_URL",
        ],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Http,
        fault: "The API accepts connections and never answers",
        inject: &[
            Http(HttpFault::Silent),
            Set("CODELAKE_HTTP_TIMEOUT", "300ms"),
        ],
        run: Run::Sql(RATES),
        exit: 4,
        says: &[
            "tpch.exchange_rates",
            "did not answer within 300ms (CODELAKE_HTTP_TIMEOUT), after 4 attempts",
        ],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Http,
        fault: "The credential's variable is not set",
        inject: &[Unset("CODELAKE_FX_TOKEN")],
        run: Run::Sql(RATES),
        exit: 1,
        says: &["tpch.exchange_rates", "CODELAKE_FX_TOKEN"],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Http,
        fault: "The environment has no base URL for the API",
        inject: &[Unset("CODELAKE_HTTP_BASE_URL")],
        run: Run::Sql(RATES),
        exit: 1,
        says: &[
            "tpch.exchange_rates",
            "has no HTTP base URL",
            "CODELAKE_HTTP_BASE_URL",
        ],
        others: Some(Other::Nation),
    },
    // The S3 endpoint.
    Fault {
        area: Area::S3,
        fault: "The endpoint refuses the credentials",
        inject: &[S3(S3Fault::WrongSecret)],
        run: Run::Sql(COUNT_PART),
        exit: 4,
        says: &[
            "tpch.part",
            "403 Forbidden",
            "S3 refused the credentials of environment `production`",
        ],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::S3,
        fault: "The bucket does not exist",
        inject: &[Set("CODELAKE_S3_BUCKET", "nope")],
        run: Run::Sql(COUNT_PART),
        exit: 4,
        says: &[
            "tpch.part",
            "bucket `nope` does not exist",
            "CODELAKE_S3_BUCKET",
        ],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::S3,
        fault: "Nothing listens at the endpoint",
        inject: &[S3(S3Fault::Down)],
        run: Run::Sql(COUNT_PART),
        exit: 4,
        says: &[
            "tpch.part",
            "cannot reach its S3 endpoint",
            "CODELAKE_S3_ENDPOINT",
        ],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::S3,
        fault: "The endpoint accepts connections and never answers",
        inject: &[S3(S3Fault::Silent)],
        run: Run::Sql(COUNT_PART),
        exit: 4,
        says: &[
            "tpch.part",
            "did not answer within 1s",
            "CODELAKE_S3_REQUEST_TIMEOUT",
        ],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::S3,
        fault: "The endpoint refuses the credentials (verify)",
        inject: &[S3(S3Fault::WrongSecret)],
        run: Run::Verify("tpch.part"),
        exit: 1,
        says: &["tpch.part", "the credentials were refused"],
        others: Some(Other::Nation),
    },
    // Plugins.
    Fault {
        area: Area::Plugins,
        fault: "The plugin directory holds no plugins",
        inject: &[Plugins(PluginFault::Empty)],
        run: Run::Sql(COUNT_NATION),
        exit: 4,
        says: &["no source plugins", "cargo build"],
        others: None,
    },
    Fault {
        area: Area::Plugins,
        fault: "The plugin of one source kind is absent",
        inject: &[Plugins(PluginFault::Without("csv"))],
        run: Run::Sql(COUNT_NATION),
        exit: 1,
        says: &["tpch.nation", "`csv`"],
        others: Some(Other::Part),
    },
    Fault {
        area: Area::Plugins,
        fault: "A file named like a plugin is not a library",
        inject: &[Plugins(PluginFault::NotALibrary)],
        run: Run::Sql(SHOW_TABLES),
        exit: 0,
        says: &["libcodelake_plugin_fake.so", "file too short"],
        others: Some(Other::Part),
    },
    Fault {
        area: Area::Plugins,
        fault: "A plugin was built for another ABI version",
        inject: &[Plugins(PluginFault::OldAbi)],
        run: Run::Sql(SHOW_TABLES),
        exit: 0,
        says: &["libcodelake_plugin_old.so", "ABI"],
        others: Some(Other::Part),
    },
    Fault {
        area: Area::Plugins,
        fault: "A plugin panics while building a table",
        inject: &[Plugins(PluginFault::Panicking("panic_on_build"))],
        run: Run::Sql(TIERS),
        exit: 1,
        says: &[
            "tpch.price_tiers",
            "plugin `faulty` panicked while building the table: deliberate panic while building (at plugins/testing/faulty/src/lib.rs:",
        ],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Plugins,
        fault: "A plugin panics while planning a scan",
        inject: &[Plugins(PluginFault::Panicking("panic_on_scan"))],
        run: Run::Sql(TIERS),
        exit: 1,
        says: &[
            "tpch.price_tiers",
            "plugin `faulty` panicked while planning a scan: deliberate panic while planning a scan (at plugins/testing/faulty/src/lib.rs:",
        ],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Plugins,
        fault: "A plugin panics while reading rows",
        inject: &[Plugins(PluginFault::Panicking("panic_on_read"))],
        run: Run::Sql(TIERS),
        exit: 1,
        says: &[
            "tpch.price_tiers",
            "plugin `faulty` panicked while reading: deliberate panic while reading (at plugins/testing/faulty/src/lib.rs:",
        ],
        others: Some(Other::Nation),
    },
    // Configuration.
    Fault {
        area: Area::Configuration,
        fault: "`codelake.toml` has an unknown key (next to a secret)",
        inject: &[Toml(
            "[profiles.production.s3]\nsecret_access_key = \"{secret}\"\nendpont = \"http://127.0.0.1:1\"\n",
        )],
        run: Run::Sql(COUNT_NATION),
        exit: 3,
        says: &["codelake.toml", "unknown field `endpont`", "`endpoint`"],
        others: None,
    },
    Fault {
        area: Area::Configuration,
        fault: "The profile does not exist",
        inject: &[Set("CODELAKE_ENV", "prod")],
        run: Run::Sql(COUNT_NATION),
        exit: 3,
        says: &["no profile `prod`", "CODELAKE_ENV"],
        others: None,
    },
    Fault {
        area: Area::Configuration,
        fault: "An endpoint is not an http(s) URL",
        inject: &[Set("CODELAKE_S3_ENDPOINT", "ftp://127.0.0.1:9000")],
        run: Run::Sql(COUNT_NATION),
        exit: 3,
        says: &["CODELAKE_S3_ENDPOINT", "ftp://127.0.0.1:9000"],
        others: None,
    },
    Fault {
        area: Area::Configuration,
        fault: "A timeout is not a duration",
        inject: &[Set("CODELAKE_S3_REQUEST_TIMEOUT", "soon")],
        run: Run::Sql(COUNT_NATION),
        exit: 3,
        says: &["CODELAKE_S3_REQUEST_TIMEOUT / s3.request_timeout"],
        others: None,
    },
    Fault {
        area: Area::Configuration,
        fault: "An S3 key id is set without its secret",
        inject: &[Unset("CODELAKE_S3_SECRET_ACCESS_KEY")],
        run: Run::Sql(COUNT_NATION),
        exit: 3,
        says: &["CODELAKE_S3_SECRET_ACCESS_KEY"],
        others: None,
    },
    // The command line.
    Fault {
        area: Area::Cli,
        fault: "An unknown flag",
        inject: &[],
        run: Run::Args(&["sql", "--bogus", "SELECT 1"]),
        exit: 2,
        says: &["unexpected argument '--bogus'"],
        others: None,
    },
    Fault {
        area: Area::Cli,
        fault: "An unknown output format",
        inject: &[],
        run: Run::Args(&["sql", "--format", "xml", "SELECT 1"]),
        exit: 2,
        says: &["xml"],
        others: None,
    },
    Fault {
        area: Area::Cli,
        fault: "The output file cannot be written",
        inject: &[],
        run: Run::Args(&["sql", "-o", "no/such/dir/out.csv", "SELECT 1"]),
        exit: 1,
        says: &["directory no/such/dir does not exist", "--output"],
        others: None,
    },
    Fault {
        area: Area::Cli,
        fault: "A syntax error",
        inject: &[],
        run: Run::Sql("SELEC 1"),
        exit: 1,
        says: &["SQL syntax error", "SELEC"],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Cli,
        fault: "A misspelt table",
        inject: &[],
        run: Run::Sql("SELECT * FROM tpch.prat"),
        exit: 1,
        says: &["did you mean `tpch.part`"],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Cli,
        fault: "A statement that would drop a catalog table",
        inject: &[],
        run: Run::Sql("DROP TABLE tpch.region"),
        exit: 1,
        says: &["`tpch` is a database of the catalog", "tables/src"],
        others: Some(Other::Region),
    },
    Fault {
        area: Area::Cli,
        fault: "A copy to S3",
        inject: &[],
        run: Run::Sql("COPY (SELECT 1) TO 's3://codelake/out.csv'"),
        exit: 1,
        says: &["local files only"],
        others: Some(Other::Nation),
    },
    Fault {
        area: Area::Cli,
        fault: "Ctrl-C while a query writes its output file",
        inject: &[],
        run: Run::Interrupt,
        exit: 130,
        says: &["interrupted (Ctrl-C)"],
        others: None,
    },
    Fault {
        area: Area::Cli,
        fault: "Two `local up` at once",
        inject: &[],
        run: Run::TwoLocalUps,
        exit: 0,
        says: &["Already running."],
        others: None,
    },
];

/// `part` with `p_size` stored as text that is no number (`size 7`).
fn p_size_as_text(batch: RecordBatch) -> RecordBatch {
    let schema = batch.schema();
    let (index, _) = schema.column_with_name("p_size").unwrap();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[index] = Field::new("p_size", DataType::Utf8, false);
    let mut columns = batch.columns().to_vec();
    let sizes = cast(&columns[index], &DataType::Utf8).unwrap();
    let sizes: StringArray = sizes
        .as_string::<i32>()
        .iter()
        .map(|size| size.map(|size| format!("size {size}")))
        .collect();
    columns[index] = Arc::new(sizes);
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

/// `part` without `p_comment`.
fn without_p_comment(batch: RecordBatch) -> RecordBatch {
    let (index, _) = batch.schema().column_with_name("p_comment").unwrap();
    let mut batch = batch;
    batch.remove_column(index);
    batch
}

/// A project seeded once for the whole matrix; each row copies its data.
fn seeded() -> &'static Path {
    static SEEDED: OnceLock<tempfile::TempDir> = OnceLock::new();
    SEEDED.get_or_init(crate::cli::seeded_project).path()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn change(path: &Path, change: &Change) {
    match change {
        Remove => std::fs::remove_file(path).unwrap(),
        Empty => std::fs::write(path, "").unwrap(),
        Truncate(len) => {
            let bytes = std::fs::read(path).unwrap();
            std::fs::write(path, &bytes[..*len]).unwrap();
        }
        Garbage => std::fs::write(path, b"this is not a file format\n".repeat(40)).unwrap(),
        Replace(from, to) => {
            let text = std::fs::read_to_string(path).unwrap();
            assert!(text.contains(from), "{} has no {from:?}", path.display());
            std::fs::write(path, text.replacen(from, to, 1)).unwrap();
        }
        Append(text) => {
            let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
            file.write_all(text.as_bytes()).unwrap();
        }
        Create(text) => {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Rewrite(function) => {
            let file = std::fs::File::open(path).unwrap();
            let reader =
                datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                    file,
                )
                .unwrap()
                .build()
                .unwrap();
            let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
            let batch =
                datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
            crate::support::write_parquet(path, &function(batch));
        }
    }
}

/// A loopback port nothing listens on.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

/// A loopback address that accepts connections and never answers.
fn silent() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        // Held open, unanswered, until the test process ends.
        let held: Vec<_> = listener.incoming().collect();
        drop(held);
    });
    address
}

/// The FX API, answering as `fault` says (or well, with two pages, for the right token).
async fn fx_api(fault: Option<HttpFault>) -> HttpServer {
    HttpServer::start(move |asked| {
        match fault {
            Some(HttpFault::Status(status)) => return (status, r#"{"error": "no"}"#.to_owned()),
            Some(HttpFault::Garbage) => return (200, "<html>surprise</html>".to_owned()),
            Some(HttpFault::NoRows) => return (200, r#"{"data": []}"#.to_owned()),
            Some(HttpFault::Endless) => {
                return (
                    200,
                    format!(r#"{{"rates": [], "next": "/fx/rates?page={}"}}"#, asked.earlier + 2),
                );
            }
            _ => {}
        }
        if asked.authorization.as_deref() != Some(FX_TOKEN) {
            return (401, r#"{"error": "unauthorized"}"#.to_owned());
        }
        (
            200,
            r#"{"rates": [{"currency": "EUR", "rate_to_usd": 1.08, "as_of": "2026-11-25T00:00:00Z", "n_nationkey": 6}], "next": null}"#
                .to_owned(),
        )
    })
    .await
}

/// One row's environment: a project directory with a copy of the seeded
/// data, and the servers and variables of profile `production` pointing at it.
struct Lab {
    dir: tempfile::TempDir,
    vars: Vec<(String, Option<String>)>,
    _s3: S3Server,
    _http: Option<HttpServer>,
}

impl Lab {
    async fn new(fault: &Fault) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        copy_dir(&seeded().join(".codelake/local"), &data);
        let s3 = S3Server::serve(data.join("s3")).await;
        let (mut endpoint, mut secret) = (s3.endpoint.clone(), SECRET_KEY);
        let mut http_fault = None;
        let mut plugin_dir = default_plugin_dir();
        let mut vars: Vec<(String, Option<String>)> = Vec::new();
        for inject in fault.inject {
            match inject {
                File(path, how) => change(&data.join(path), how),
                Http(how) => http_fault = Some(*how),
                S3(S3Fault::WrongSecret) => secret = WRONG_SECRET,
                S3(S3Fault::Down) => endpoint = closed_port(),
                S3(S3Fault::Silent) => endpoint = silent(),
                Plugins(how) => plugin_dir = plugins(dir.path(), *how),
                Set(name, value) => vars.push(((*name).to_owned(), Some((*value).to_owned()))),
                Unset(name) => vars.push(((*name).to_owned(), None)),
                Toml(text) => std::fs::write(
                    dir.path().join("codelake.toml"),
                    text.replace("{secret}", FILE_SECRET),
                )
                .unwrap(),
            }
        }
        let (http, base_url) = match http_fault {
            Some(HttpFault::Down) => (None, closed_port()),
            Some(HttpFault::Silent) => (None, silent()),
            other => {
                let server = fx_api(other).await;
                let url = server.base_url.clone();
                (Some(server), url)
            }
        };
        let mut all: Vec<(String, Option<String>)> = [
            ("CODELAKE_ENV", "production".to_owned()),
            ("CODELAKE_DATA_DIR", data.display().to_string()),
            ("CODELAKE_PLUGIN_DIR", plugin_dir.display().to_string()),
            ("CODELAKE_S3_ENDPOINT", endpoint),
            ("CODELAKE_S3_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("CODELAKE_S3_SECRET_ACCESS_KEY", secret.to_owned()),
            ("CODELAKE_S3_CONNECT_TIMEOUT", "1s".to_owned()),
            ("CODELAKE_S3_REQUEST_TIMEOUT", "1s".to_owned()),
            ("CODELAKE_HTTP_BASE_URL", base_url),
            ("CODELAKE_FX_TOKEN", FX_TOKEN.to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), Some(value)))
        .collect();
        all.extend(vars);
        Self {
            dir,
            vars: all,
            _s3: s3,
            _http: http,
        }
    }

    fn codelake(&self) -> Command {
        let mut command = codelake(self.dir.path());
        // As a user runs it: a panic's backtrace is for who asks for it.
        command.env_remove("RUST_BACKTRACE");
        for (name, value) in &self.vars {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        command
    }

    /// Everything the row's commands left in `*.log` files.
    fn logs(&self) -> String {
        let mut logs = String::new();
        let mut stack = vec![self.dir.path().to_owned()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|ext| ext == "log") {
                    logs.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
                }
            }
        }
        logs
    }
}

/// A plugin directory in `dir` holding what `fault` says, as links to the built libraries.
fn plugins(dir: &Path, fault: PluginFault) -> PathBuf {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let built = default_plugin_dir();
    let link = |from: PathBuf, name: &str| {
        assert!(
            from.exists(),
            "{} is not built: run `cargo build --workspace`",
            from.display()
        );
        std::os::unix::fs::symlink(
            &from,
            plugins.join(codelake_plugin_abi::library_file_name(name)),
        )
        .unwrap();
    };
    let test_plugin = |name: &str| {
        built.join(format!(
            "{}codelake_testplugin_{name}{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        ))
    };
    if let PluginFault::Empty = fault {
        return plugins;
    }
    for name in ["csv", "s3-parquet", "http-api", "function"] {
        let skip = match fault {
            PluginFault::Without(without) => name == without,
            PluginFault::Panicking(_) => name == "function",
            _ => false,
        };
        if !skip {
            link(
                built.join(codelake_plugin_abi::library_file_name(name)),
                name,
            );
        }
    }
    match fault {
        PluginFault::NotALibrary => std::fs::write(
            plugins.join(codelake_plugin_abi::library_file_name("fake")),
            "not a library",
        )
        .unwrap(),
        PluginFault::OldAbi => link(test_plugin("old_abi"), "old"),
        PluginFault::Panicking(_) => link(test_plugin("faulty"), "faulty"),
        _ => {}
    }
    plugins
}

/// What one row's commands printed.
struct Seen {
    exit: Option<i32>,
    text: String,
    /// What the session printed in which the other table should answer, and
    /// whether it did; none when the row has no other table.
    session: Option<(String, bool)>,
}

/// Runs one row; `Err` says what did not hold, with everything printed.
async fn check(fault: &'static Fault) -> Result<(), String> {
    let mut lab = Lab::new(fault).await;
    if let Some(PluginFault::Panicking(stage)) = fault.inject.iter().find_map(|inject| match inject
    {
        Plugins(how @ PluginFault::Panicking(_)) => Some(*how),
        _ => None,
    }) {
        lab.vars
            .push(("FAULTY_PLUGIN_PANICS".to_owned(), Some(stage.to_owned())));
    }
    let seen = tokio::task::spawn_blocking(move || {
        let seen = run(&lab, fault);
        (lab, seen)
    })
    .await
    .unwrap();
    let (lab, seen) = seen;
    if std::env::var_os("CODELAKE_FAULTS_SHOW").is_some() {
        eprintln!(
            "=== {}: {}\n{}",
            fault.run.command(),
            fault.fault,
            seen.text
        );
    }
    let mut problems = Vec::new();
    if seen.exit != Some(fault.exit) {
        problems.push(format!("exit {:?}, expected {}", seen.exit, fault.exit));
    }
    for fragment in fault.says {
        if !seen.text.contains(fragment) {
            problems.push(format!("does not say {fragment:?}"));
        }
    }
    // The mechanism is not the user's business: no raw panic, no FFI boundary,
    // no chain of causes over several lines.
    for mechanism in [
        "panicked at",
        "FFI error",
        "caused by",
        "RUST_BACKTRACE",
        "Parquet error: Parquet error",
        "Row data",
    ] {
        if seen.text.contains(mechanism) {
            problems.push(format!("says {mechanism:?}"));
        }
    }
    let session = seen.session.as_ref().map_or("", |(text, _)| text.as_str());
    if let Some(other) = fault.others
        && !seen.session.as_ref().is_some_and(|(_, answered)| *answered)
    {
        problems.push(format!(
            "{} did not answer in the same session:\n{session}",
            other.table()
        ));
    }
    let logs = lab.logs();
    for secret in SECRETS {
        for (place, text) in [
            ("the output", seen.text.as_str()),
            ("the session", session),
            ("a log", logs.as_str()),
        ] {
            if text.contains(secret) {
                problems.push(format!("printed the secret {secret:?} in {place}"));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}\n  {}\n--- output:\n{}",
            fault.run.command(),
            fault.fault,
            problems.join("\n  "),
            seen.text
        ))
    }
}

fn text(output: &Output) -> String {
    format!("{}{}", stdout(output), stderr(output))
}

fn run(lab: &Lab, fault: &Fault) -> Seen {
    let other = fault.others.map(Other::table);
    match &fault.run {
        Run::Sql(query) => {
            let output = lab
                .codelake()
                .args(["sql", "-f", "csv", query])
                .output()
                .unwrap();
            let session = other.map(|other| {
                let mut child = lab
                    .codelake()
                    .args(["sql", "-f", "csv"])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                let script = format!("{query};\nSELECT count(*) AS n FROM {other};\n");
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(script.as_bytes())
                    .unwrap();
                let output = child.wait_with_output().unwrap();
                let rows = fault.others.map(Other::rows).unwrap_or_default();
                let answered = stdout(&output).contains(&format!("n\n{rows}\n"));
                (text(&output), answered)
            });
            Seen {
                exit: output.status.code(),
                text: text(&output),
                session,
            }
        }
        Run::Verify(table) => {
            let mut command = lab.codelake();
            command.args(["verify", "--table", table]);
            if let Some(other) = other {
                command.args(["--table", other]);
            }
            let output = command.output().unwrap();
            // The other table's row of the report says it passed.
            let session = other.map(|other| {
                let out = stdout(&output);
                let passed = out
                    .lines()
                    .any(|line| line.contains(&format!(" {other} ")) && line.contains(" pass "));
                (out, passed)
            });
            Seen {
                exit: output.status.code(),
                text: text(&output),
                session,
            }
        }
        Run::Args(args) => {
            let output = lab.codelake().args(*args).output().unwrap();
            Seen {
                exit: output.status.code(),
                text: text(&output),
                session: None,
            }
        }
        Run::Interrupt => interrupt(lab),
        Run::TwoLocalUps => two_local_ups(lab),
    }
}

/// Ctrl-C while a long query writes `out.csv`, which keeps its content.
fn interrupt(lab: &Lab) -> Seen {
    let dir = lab.dir.path();
    let (output, started_writing) = crate::cli::interrupt_while_writing(lab.codelake(), dir);
    let mut text = text(&output);
    if !started_writing {
        text.push_str("\n[the test: the query never started writing]");
    }
    if std::fs::read_to_string(dir.join("out.csv")).unwrap() != "kept\n" {
        text.push_str("\n[the test: out.csv changed]");
    }
    if crate::cli::writing_output(dir) {
        text.push_str("\n[the test: a temporary file was left behind]");
    }
    Seen {
        exit: output.status.code(),
        text,
        session: None,
    }
}

/// Two `local up` at once: both exit 0, one finds the other's environment.
fn two_local_ups(lab: &Lab) -> Seen {
    let spawn = || {
        let mut command = lab.codelake();
        command
            .env("CODELAKE_ENV", "local")
            .env_remove("CODELAKE_DATA_DIR")
            .args(["local", "up"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(), spawn());
    let outputs = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ];
    let down = lab
        .codelake()
        .env("CODELAKE_ENV", "local")
        .env_remove("CODELAKE_DATA_DIR")
        .args(["local", "down"])
        .output()
        .unwrap();
    let exit = outputs
        .iter()
        .chain([&down])
        .map(|output| output.status.code())
        .find(|code| *code != Some(0))
        .unwrap_or(Some(0));
    Seen {
        exit,
        text: outputs.iter().chain([&down]).map(text).collect(),
        session: None,
    }
}

/// Every row of the matrix holds: its exit code, its message, the other
/// table answering, and no secret printed.
#[test]
fn the_fault_matrix_holds() {
    assert!(FAULTS.len() >= 40, "the matrix has {} rows", FAULTS.len());
    seeded();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let failures = Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(fault) = FAULTS.get(index) else {
                        break;
                    };
                    if let Err(problem) = runtime.block_on(check(fault)) {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("row {}: {problem}", index + 1));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} faults do not hold:\n\n{}",
        failures.len(),
        FAULTS.len(),
        failures.join("\n\n")
    );
}

/// `docs/reference/faults.md`: the matrix, for users.
fn reference() -> String {
    let mut page = String::from(
        "# Faults codelake survives\n\n\
         <!-- Generated from tests/e2e/faults.rs by `CODELAKE_BLESS=1 cargo nextest run -p codelake-tests faults`; do not edit. -->\n\n\
         Each row is a fault that `cargo xtask test` injects into a real environment: the real \
         `codelake` binary and plugins, a real S3-protocol server, a real HTTP API and real files, \
         in profile `production` (the S3 timeouts set to `1s`). For each, the suite checks the exit \
         code (see [the CLI's exit codes](cli.md#exit-codes)), that the message says the words \
         shown, that the table named under \"Still answering\" answers in the same session, and \
         that no secret planted in the environment (the S3 secret key, the API token, a secret in \
         `codelake.toml`) appears in the output or the logs.\n",
    );
    let mut area = None;
    for fault in FAULTS {
        if area != Some(fault.area) {
            area = Some(fault.area);
            let _ = write!(
                page,
                "\n## {}\n\n| Fault | Command | Exit | The message says | Still answering |\n|---|---|---|---|---|\n",
                fault.area.title()
            );
        }
        let says: Vec<String> = fault
            .says
            .iter()
            .map(|fragment| format!("`` {} ``", fragment.replace('|', "\\|")))
            .collect();
        let _ = writeln!(
            page,
            "| {} | {} | {} | {} | {} |",
            fault.fault.replace('|', "\\|"),
            fault.run.command().replace('|', "\\|"),
            fault.exit,
            says.join(", "),
            fault
                .others
                .map_or("—".to_owned(), |other| format!("`{}`", other.table()))
        );
    }
    let _ = write!(page, "\n{} faults in all.\n", FAULTS.len());
    page
}

#[test]
fn the_fault_reference_is_generated_from_the_matrix() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/reference/faults.md");
    let wanted = reference();
    if std::env::var_os("CODELAKE_BLESS").is_some() {
        std::fs::write(&path, &wanted).unwrap();
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == wanted,
        "docs/reference/faults.md is stale: run `CODELAKE_BLESS=1 cargo nextest run -p codelake-tests faults` and commit it"
    );
}
