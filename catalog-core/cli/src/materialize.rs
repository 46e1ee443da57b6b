//! `codelake materialize DB.VIEW`: a view's rows written to its declared
//! `materialize` location, the "load" of ELT.
//!
//! The rows stream from the view's SQL into a Parquet file spooled beside the
//! data, which goes to S3 as one multipart upload under a temporary key and is
//! then copied into place and the temporary key deleted. A reader sees the
//! previous copy or the new one, never a part; a failure leaves the previous
//! copy as it was.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use catalog_core::TableSpec;
use clap::Args;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use futures::StreamExt as _;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::Global;
use crate::error::{CliError, EXIT_USAGE};
use crate::session::{Seed, Session, Unavailable};

/// `codelake materialize`.
#[derive(Debug, Args)]
pub struct MaterializeArgs {
    /// The view, `database.name` (it declares `materialize = "s3://…"`).
    view: String,
    /// Materialize a view of this catalog.json instead of the compiled catalog.
    #[arg(long, value_name = "FILE")]
    catalog: Option<std::path::PathBuf>,
}

/// Runs `codelake materialize`.
pub async fn run(global: &Global, args: MaterializeArgs) -> Result<(), CliError> {
    let catalog = args
        .catalog
        .as_deref()
        .map(crate::verify::read_catalog)
        .transpose()?;
    let spec: TableSpec = match &catalog {
        Some(catalog) => catalog
            .iter()
            .find(|spec| spec.qualified_name() == args.view)
            .cloned()
            .ok_or_else(|| {
                CliError::msg(
                    EXIT_USAGE,
                    format!("the catalog has no table `{}`", args.view),
                )
            })?,
        None => crate::describe::find(&args.view)?.clone(),
    };
    let name = spec.qualified_name();
    let Some(view) = &spec.view else {
        return Err(CliError::msg(
            EXIT_USAGE,
            format!(
                "`{name}` is a table read from its source, not a view: only a view's rows are computed, and can be written"
            ),
        ));
    };
    let Some(declared) = view.materialize.clone() else {
        return Err(CliError::msg(
            EXIT_USAGE,
            format!(
                "view `{name}` declares no `materialize` location, so it always runs live; add `materialize = \"s3://bucket/{}/{}.parquet\"` to {}",
                spec.database, spec.name, spec.rust_type
            ),
        ));
    };
    let started = Instant::now();
    let session =
        Session::open_catalog(global, Seed::IfEmpty, Unavailable::Summary, catalog).await?;
    let location = session.env.s3_location(&declared);
    let rows = write(&session, &spec, &view.sql, &location)
        .await
        .map_err(|error| {
            eprintln!(
                "error: view `{name}` was not materialized; the previous copy at {location}, if any, is unchanged"
            );
            // The query's own error, with the hints a failed query gets.
            crate::output::explain(&session, error)
        })?;
    say!(
        "materialized {name}: {} written to {location} in {}",
        crate::names::counted(rows, "row"),
        humantime::format_duration(std::time::Duration::from_millis(
            started.elapsed().as_millis() as u64
        ))
    );
    Ok(())
}

/// Streams the view's rows to `location`; the number of rows.
async fn write(
    session: &Session,
    spec: &TableSpec,
    sql: &str,
    location: &str,
) -> anyhow::Result<usize> {
    let (bucket, key) = location
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .with_context(|| format!("`{location}` is not s3://bucket/key"))?;
    let settings = session.env.s3.as_ref().with_context(|| {
        format!(
            "environment `{}` has no S3 settings to write {location} with",
            session.env.name
        )
    })?;
    let store: Arc<dyn ObjectStore> = Arc::new(catalog_s3::store(bucket, settings)?);

    // The SQL runs with the catalog's tables as the session serves them, and
    // must still compute the struct's columns.
    // Planned as a query only: the SQL never writes or changes anything itself.
    let options = datafusion::execution::context::SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let frame = session.ctx.sql_with_options(sql, options).await?;
    let problems = catalog_runtime::views::compare(spec, frame.schema().as_arrow());
    if !problems.is_empty() {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::bail!("{}", lines.join("\n"));
    }
    let declared = Arc::new(spec.query_schema());
    let spool = tempfile::Builder::new()
        .prefix(".materialize-spool-")
        .suffix(".parquet")
        .tempfile_in(&session.env.data_dir)
        .with_context(|| format!("cannot spool in {}", session.env.data_dir.display()))?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        std::io::BufWriter::new(spool.as_file()),
        Arc::clone(&declared),
        Some(properties),
    )?;
    let mut stream = frame.execute_stream().await?;
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        // Text may come as views or large strings; the copy has the declared types.
        let columns = declared
            .fields()
            .iter()
            .map(|field| {
                let column = batch.column_by_name(field.name()).with_context(|| {
                    format!("the view's rows have no column `{}`", field.name())
                })?;
                anyhow::Ok(cast(column, field.data_type())?)
            })
            .collect::<Result<Vec<_>, _>>()?;
        rows += batch.num_rows();
        writer.write(&RecordBatch::try_new(Arc::clone(&declared), columns)?)?;
    }
    writer.close()?;

    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let temporary = ObjectPath::from(format!("{key}.codelake-tmp-{}-{nanos}", std::process::id()));
    let target = ObjectPath::from(key);
    let moved = async {
        crate::seed::upload(store.as_ref(), &temporary, spool.path()).await?;
        store.copy(&temporary, &target).await?;
        anyhow::Ok(())
    }
    .await;
    // The temporary key goes whether or not the copy was made.
    if let Err(error) = store.delete(&temporary).await
        && moved.is_ok()
    {
        eprintln!(
            "warning: the temporary object s3://{bucket}/{temporary} was left behind ({error}); delete it"
        );
    }
    moved.with_context(|| format!("cannot write {location}"))?;
    Ok(rows)
}
