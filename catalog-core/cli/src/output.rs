//! Running a query and writing its result: a typed table for people; CSV,
//! JSON lines or Parquet for programs, streamed batch by batch.

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use comfy_table::{ContentArrangement, Table, presets};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::DataFusionError;
use futures::StreamExt;

use crate::error::{CliError, EXIT_INTERRUPTED, EXIT_USAGE};
use crate::session::Session;

/// How results are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A boxed table with each column's type, for reading.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON object per row.
    Json,
    /// A Parquet file (needs --output, or a pipe).
    Parquet,
}

/// Runs `sql` and writes its result to `output` (standard output if `None`).
pub async fn run_query(
    session: &Session,
    sql: &str,
    format: Format,
    output: Option<&Path>,
    timing: bool,
) -> Result<(), CliError> {
    if format == Format::Parquet && output.is_none() && io::stdout().is_terminal() {
        return Err(CliError::msg(
            EXIT_USAGE,
            "--format parquet writes binary data: give --output FILE or pipe it",
        ));
    }
    let started = Instant::now();
    // Ctrl-C stops the query here, so a temporary output file is removed and
    // the shell goes on; without this the process would die where it stood.
    // The handler is in place before the query starts writing.
    let interrupted = interrupt().map_err(CliError::failed)?;
    let result = tokio::select! {
        result = execute(session, sql, format, output) => result,
        () = interrupted => {
            return Err(CliError::msg(EXIT_INTERRUPTED, "interrupted (Ctrl-C)"));
        }
    };
    match result {
        Ok(rows) => {
            if timing {
                eprintln!(
                    "{} in {}",
                    crate::names::counted(rows, "row"),
                    millis(started.elapsed())
                );
            }
            Ok(())
        }
        // A reader that stopped early (`| head`) is not an error.
        Err(error) if is_broken_pipe(&error) => Ok(()),
        Err(error) => Err(explain(session, error)),
    }
}

/// A future that ends at the next Ctrl-C, its handler installed on return.
fn interrupt() -> io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        let mut signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
        Ok(async move {
            signal.recv().await;
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

async fn execute(
    session: &Session,
    sql: &str,
    format: Format,
    output: Option<&Path>,
) -> anyhow::Result<usize> {
    // A file appears whole or not at all: the rows go to a temporary file beside
    // it, renamed into place only once every row is written. A query that fails
    // half-way leaves an existing file as it was.
    let file = output.map(OutputFile::new).transpose()?;
    // Statements run in order, as in the shell. A table on the terminal shows
    // each result; a file or a machine format holds one: the last statement's.
    let statements = session.parse(sql)?;
    let count = statements.len();
    let mut rows = 0;
    for (index, statement) in statements.into_iter().enumerate() {
        let frame = session.statement(statement).await?;
        let last = index + 1 == count;
        let sink: Box<dyn Write + Send> = match &file {
            Some(file) if last => file.writer()?,
            None if last || format == Format::Table => Box::new(io::BufWriter::new(io::stdout())),
            _ => Box::new(io::sink()),
        };
        match write_result(frame, format, sink).await? {
            Some(written) => rows = written,
            None if last && file.is_some() => anyhow::bail!(
                "the last statement returns no rows to write to {}; end with the query whose rows you want",
                output
                    .map(Path::display)
                    .map(|path| path.to_string())
                    .unwrap_or_default()
            ),
            None => {}
        }
    }
    if let Some(file) = file {
        file.commit()?;
    }
    Ok(rows)
}

/// Writes the result of `frame` to `sink` in `format`: the number of rows, or
/// `None` for a statement that returns no columns (`SET`, `CREATE …`).
async fn write_result(
    frame: datafusion::dataframe::DataFrame,
    format: Format,
    mut sink: Box<dyn Write + Send>,
) -> anyhow::Result<Option<usize>> {
    let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
    let mut stream = frame.execute_stream().await?;
    if schema.fields().is_empty() {
        // `SET`, `CREATE …`, `DROP …` of a scratch table: done, with nothing to show.
        while let Some(batch) = stream.next().await {
            batch?;
        }
        return Ok(None);
    }
    if format == Format::Table {
        // Keep the first `TABLE_ROWS` rows to show; count the others without keeping them.
        let (mut shown, mut kept, mut rows) = (Vec::new(), 0, 0);
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            rows += batch.num_rows();
            if kept < TABLE_ROWS {
                let take = batch.num_rows().min(TABLE_ROWS - kept);
                kept += take;
                shown.push(batch.slice(0, take));
            }
        }
        write_table(&mut sink, &schema, &shown, rows)?;
        sink.flush()?;
        return Ok(Some(rows));
    }
    let mut rows = 0;
    let mut writer = BatchWriter::new(format, sink, &schema)?;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        rows += batch.num_rows();
        writer.write(&batch)?;
    }
    if rows == 0 && format == Format::Csv {
        // CSV writes its header with the first batch: an empty result still has one.
        writer.write(&RecordBatch::new_empty(SchemaRef::clone(&schema)))?;
    }
    writer.finish()?;
    Ok(Some(rows))
}

/// Where `--output` goes.
enum OutputFile {
    /// A regular file, or none yet: written under a temporary name beside it
    /// and renamed onto it by [`OutputFile::commit`]; dropped uncommitted, the
    /// temporary file is removed.
    Atomic {
        temporary: tempfile::NamedTempFile,
        target: std::path::PathBuf,
    },
    /// Anything else (`/dev/stdout`, a pipe, a symlink): written through, as
    /// a rename would replace it.
    Direct(std::fs::File),
}

impl OutputFile {
    fn new(target: &Path) -> anyhow::Result<Self> {
        let cannot =
            |error: io::Error| anyhow::anyhow!("cannot write {}: {error}", target.display());
        match std::fs::symlink_metadata(target) {
            Ok(meta) if meta.is_dir() => {
                anyhow::bail!("cannot write {}: it is a directory", target.display())
            }
            Ok(meta) if !meta.is_file() => {
                return std::fs::File::create(target)
                    .map(Self::Direct)
                    .map_err(cannot);
            }
            _ => {}
        }
        let dir = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(".codelake-output-");
        // The mode a new file would get (the umask applies), or the one the file has.
        #[cfg(unix)]
        let permissions = {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(target)
                .map(|meta| meta.permissions())
                .unwrap_or_else(|_| std::fs::Permissions::from_mode(0o666))
        };
        #[cfg(unix)]
        builder.permissions(permissions);
        if !dir.is_dir() {
            anyhow::bail!(
                "cannot write {}: directory {} does not exist; create it, or choose another --output",
                target.display(),
                dir.display()
            );
        }
        let temporary = builder
            .tempfile_in(dir)
            .map_err(|error| cannot(io::Error::from(error.kind())))?;
        Ok(Self::Atomic {
            temporary,
            target: target.to_owned(),
        })
    }

    /// Where to write.
    fn writer(&self) -> anyhow::Result<Box<dyn Write + Send>> {
        let file = match self {
            Self::Atomic { temporary, .. } => temporary.as_file(),
            Self::Direct(file) => file,
        };
        Ok(Box::new(io::BufWriter::new(file.try_clone()?)))
    }

    /// Moves a finished temporary file onto its target.
    fn commit(self) -> anyhow::Result<()> {
        let Self::Atomic { temporary, target } = self else {
            return Ok(());
        };
        temporary
            .as_file()
            .sync_all()
            .and_then(|()| temporary.persist(&target).map_err(|e| e.error).map(drop))
            .map_err(|error| anyhow::anyhow!("cannot write {}: {error}", target.display()))
    }
}

/// The streaming writers.
enum BatchWriter {
    Csv(datafusion::arrow::csv::Writer<Box<dyn Write + Send>>),
    Json(datafusion::arrow::json::LineDelimitedWriter<Box<dyn Write + Send>>),
    Parquet(parquet::arrow::ArrowWriter<Box<dyn Write + Send>>),
}

impl BatchWriter {
    fn new(
        format: Format,
        sink: Box<dyn Write + Send>,
        schema: &SchemaRef,
    ) -> anyhow::Result<Self> {
        Ok(match format {
            Format::Csv => Self::Csv(datafusion::arrow::csv::WriterBuilder::new().build(sink)),
            Format::Json => Self::Json(datafusion::arrow::json::LineDelimitedWriter::new(sink)),
            Format::Parquet => Self::Parquet(parquet::arrow::ArrowWriter::try_new(
                sink,
                SchemaRef::clone(schema),
                None,
            )?),
            Format::Table => unreachable!("tables are written whole"),
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> anyhow::Result<()> {
        match self {
            Self::Csv(writer) => writer.write(batch)?,
            Self::Json(writer) => writer.write(batch)?,
            Self::Parquet(writer) => writer.write(batch)?,
        }
        Ok(())
    }

    fn finish(self) -> anyhow::Result<()> {
        match self {
            Self::Csv(writer) => writer.into_inner().flush()?,
            Self::Json(mut writer) => {
                writer.finish()?;
                writer.into_inner().flush()?;
            }
            Self::Parquet(writer) => {
                writer.into_inner()?.flush()?;
            }
        }
        Ok(())
    }
}

/// Rows a `table` result shows; the machine formats write every row.
pub const TABLE_ROWS: usize = 40;

/// Writes batches as a boxed table whose header gives each column's name and
/// type; `rows` is the whole result's count, which may exceed the batches'.
pub fn write_table(
    out: &mut dyn Write,
    schema: &Schema,
    batches: &[RecordBatch],
    rows: usize,
) -> anyhow::Result<()> {
    writeln!(out, "shape: ({rows}, {})", schema.fields().len())?;
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(
            schema
                .fields()
                .iter()
                .map(|field| format!("{}\n---\n{}", field.name(), type_name(field.data_type()))),
        );
    let options = FormatOptions::default().with_null("null");
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|column| ArrayFormatter::try_new(column.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            table.add_row(formatters.iter().map(|f| f.value(row).to_string()));
        }
    }
    writeln!(out, "{table}")?;
    let shown: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if shown < rows {
        writeln!(
            out,
            "… {}, not shown (--format csv, json or parquet writes them all)",
            crate::names::counted(rows - shown, "more row")
        )?;
    }
    Ok(())
}

/// A column type in the catalog's words, as `describe` and the reference pages
/// write it: Arrow's (`Int64`, `Utf8`, `Decimal128(15, 2)`).
pub fn type_name(data_type: &DataType) -> String {
    match data_type {
        // One declared type, however a file or an operator stores text.
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "Utf8".into(),
        other => other.to_string(),
    }
}

/// `12.3 ms`.
pub fn millis(elapsed: Duration) -> String {
    format!("{:.1} ms", elapsed.as_secs_f64() * 1000.0)
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || cause.to_string().contains("Broken pipe")
    })
}

/// A query error with the fix: a table that is not found lists close names,
/// and one that failed to register says why.
pub fn explain(session: &Session, error: anyhow::Error) -> CliError {
    // Said in the user's terms: the mechanism (`FFI error`, Rust `Debug`) is not.
    let error = match error.downcast_ref::<DataFusionError>() {
        Some(datafusion) => anyhow::anyhow!(catalog_runtime::user_message(datafusion)),
        None => error,
    };
    let message = error.to_string();
    let missing = message
        .split("table '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .filter(|_| message.contains("not found"))
        .map(|name| name.trim_start_matches("datafusion.").to_owned());
    let Some(missing) = missing else {
        if let Some(hint) = unwritten_copy_hint(session, &message) {
            return CliError::failed(error).hint(hint);
        }
        return match environment_hint(session, &message) {
            Some(hint) => CliError::environment(error).hint(hint),
            None => CliError::failed(error),
        };
    };
    if let Some(failure) = session
        .failures
        .iter()
        .find(|failure| failure.to_string().contains(&format!("`{missing}`")))
    {
        // Not "not found": the table is declared, and this is why it could not be opened.
        let failure = failure.to_string();
        let error = anyhow::anyhow!("{failure}");
        let profile = &session.config.profile;
        if failure.contains("has no HTTP base URL") {
            return CliError::failed(error).hint(format!(
                "set CODELAKE_HTTP_BASE_URL (or `http_base_url` of profile `{profile}` in codelake.toml) \
                 to the API's base URL"
            ));
        }
        return match environment_hint(session, &failure) {
            Some(hint) => CliError::environment(error).hint(hint),
            None => CliError::failed(error).hint(format!(
                "the table is declared, but environment `{profile}` could not open it"
            )),
        };
    }
    let close = crate::names::close_names(&missing);
    let hint = if close.is_empty() {
        "`codelake tables` lists every table; names are `database.table`, e.g. `tpch.part`"
            .to_owned()
    } else {
        format!(
            "did you mean {}? (`codelake tables` lists every table)",
            close.join(" or ")
        )
    };
    CliError::failed(anyhow::anyhow!("there is no table `{missing}`")).hint(hint)
}

/// For a materialized view whose copy is not written yet, how to write it, or
/// to run its SQL instead.
fn unwritten_copy_hint(session: &Session, message: &str) -> Option<String> {
    if !message.contains("does not exist") {
        return None;
    }
    session.specs().into_iter().find_map(|spec| {
        let declared = spec.view.as_ref()?.materialize.as_deref()?;
        let location = session.env.s3_location(declared);
        message.contains(&format!("`{location}`")).then(|| {
            let name = spec.qualified_name();
            format!(
                "view `{name}` is materialized, and its copy at {location} is not written yet: \
                 write it with `codelake materialize {name}`, or run the view's SQL with `--live`"
            )
        })
    })
}

/// For an error that comes from the environment rather than the query, what
/// to do: for the local environment, bring it back; otherwise the unreachable
/// endpoint's variable, or the rejected credential's. Matched on the phrases
/// object_store, hyper and our plugins use, never on a bare status number, so
/// a column named `x403` is not mistaken for a refused credential.
fn environment_hint(session: &Session, message: &str) -> Option<String> {
    let profile = &session.config.profile;
    let http = message.contains("plugin `http-api`");
    let unreachable = [
        "error sending request",
        "Connection refused",
        "connection refused",
        "dns error",
        "error trying to connect",
    ]
    .iter()
    .any(|needle| message.contains(needle));
    let rejected = [
        "403 Forbidden",
        "401 Unauthorized",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "AccessDenied",
        "answered 401",
        "answered 403",
    ]
    .iter()
    .any(|needle| message.contains(needle));
    // An endpoint that took the connection and never answered: the address is right.
    let silent = message.contains("did not answer within");
    // The endpoint answered, without the bucket the environment reads.
    let no_bucket = message.contains("bucket `") && message.contains("` does not exist");
    if no_bucket && session.local.is_none() {
        return Some(format!(
            "environment `{profile}` reads a bucket its S3 endpoint does not have: set \
             CODELAKE_S3_BUCKET (or `s3.bucket` of profile `{profile}` in codelake.toml) to one that exists"
        ));
    }
    if !(unreachable || rejected || silent) {
        return None;
    }
    if session.local.is_some() {
        return Some(format!(
            "the servers of environment `{profile}` stopped or restarted under this session \
             (was `codelake local down` run?); run the command again, or keep `codelake local up` running"
        ));
    }
    if silent {
        let setting = if http {
            "CODELAKE_HTTP_TIMEOUT (or `http_timeout`"
        } else {
            "CODELAKE_S3_REQUEST_TIMEOUT (or `s3.request_timeout`"
        };
        return Some(format!(
            "environment `{profile}` reached the endpoint, but it did not answer in time: check \
             that the service is up and not overloaded, or raise {setting} of profile `{profile}` \
             in codelake.toml) if it is only slow"
        ));
    }
    Some(match (unreachable, http) {
        (true, false) => format!(
            "environment `{profile}` cannot reach its S3 endpoint ({}): check that it is up, or set \
             CODELAKE_S3_ENDPOINT (or `s3.endpoint` of profile `{profile}` in codelake.toml) to the right URL",
            session.config.s3.endpoint.as_deref().unwrap_or("AWS")
        ),
        (true, true) => format!(
            "environment `{profile}` cannot reach its HTTP API: check that it is up, or set \
             CODELAKE_HTTP_BASE_URL (or `http_base_url` of profile `{profile}` in codelake.toml) to the right URL"
        ),
        (false, false) => format!(
            "S3 refused the credentials of environment `{profile}`; set CODELAKE_S3_ACCESS_KEY_ID and \
             CODELAKE_S3_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; \
             CODELAKE_S3_SESSION_TOKEN for temporary credentials)"
        ),
        (false, true) => "the HTTP API refused the credential; set the variable the table's \
             `auth_env` names (`codelake describe` shows it)"
            .to_owned(),
    })
}
