//! `codelake-bench-engine ENGINE DATA_DIR [CATALOG_JSON]`: one of `cargo xtask
//! bench`'s in-process engines, answering queries over standard input and
//! output, over the built-in catalog or the tables of a `catalog.json`.
//!
//! Engines, all on one DataFusion version and the same session settings:
//! - `codelake`: the catalog's tables registered through the real plugins, in
//!   the local environment running for `DATA_DIR` (`codelake local up`);
//! - `codelake-streamed`: the same, with every scan streamed from its plugin
//!   (`PluginSet::streaming_only`), the path of a scan the host cannot execute;
//! - `codelake-local`: the same catalog with each `s3-parquet` table declared as
//!   a `parquet` table over the S3 server's own files on disk, the files DuckDB
//!   and Polars read: the headline comparison, with no S3 protocol on either side;
//! - `codelake-memory`: `codelake-local` with every table accelerated
//!   (`accelerate = "memory"`): the copies are loaded before the engine says
//!   it is ready, within `CODELAKE_ACCELERATE_MEMORY` (default here 16 GiB),
//!   so queries read Arrow memory, as in a warm `codelake serve`;
//! - `datafusion`: DataFusion's native listing tables over the same files, on
//!   local disk (the S3 server's own files), with the catalog's declared schemas;
//! - `datafusion-s3`: the same native tables read from the same S3 server, so
//!   `codelake` ÷ `datafusion-s3` is the cost of the plugin boundary alone, and
//!   `datafusion-s3` ÷ `datafusion` the cost of the S3 protocol;
//! - `codelake-cluster`: `codelake-local` planning across the `codelake
//!   worker` processes named in `CODELAKE_BENCH_WORKERS` (`host:port,…`),
//!   which serve the same catalog (`local-catalog` writes it for them).
//!
//! `codelake-bench-engine local-catalog DATA_DIR OUT` writes the catalog as
//! `codelake-local` declares it (each `s3-parquet` table a `parquet` table on
//! disk), for `codelake worker --catalog OUT`.
//!
//! `codelake-bench-engine pg-load …` is its Postgres load client;
//! `codelake-bench-engine flight-load …` is the bench's Flight SQL load client
//! instead (see `flight_load.rs`).
//!
//! Protocol: the engine prints one JSON line when ready (`engine`, `version`).
//! Then each input line is a JSON object `{"sql": "..."}`, answered by one line:
//! `{"ms": F, "rows": [[...]]}` (the time to plan, run and collect the result,
//! and its values as text) or `{"error": "..."}`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use catalog_core::TableSpec;
use catalog_core::source::{CsvOptions, S3ParquetOptions, SourceOptions};
use catalog_env::local::{LocalEnvironment, s3_root};
use catalog_runtime::{PluginSet, default_plugin_dir, register_tables};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::prelude::SessionContext;

mod flight_load;
mod load;
mod pg_load;

fn main() -> anyhow::Result<()> {
    let all: Vec<String> = std::env::args().skip(1).collect();
    if all.first().map(String::as_str) == Some("flight-load") {
        return flight_load::run(&all[1..]);
    }
    if all.first().map(String::as_str) == Some("pg-load") {
        return pg_load::run(&all[1..]);
    }
    if all.first().map(String::as_str) == Some("local-catalog") {
        let [data_dir, out] = &all[1..] else {
            bail!("usage: codelake-bench-engine local-catalog DATA_DIR OUT");
        };
        let specs = tables::REGISTRY
            .tables()
            .map(|spec| on_disk(spec, Path::new(data_dir)))
            .collect();
        let manifest = catalog_core::Manifest::new(specs, "codelake-bench-engine local-catalog");
        return std::fs::write(out, manifest.to_json())
            .with_context(|| format!("cannot write {out}"));
    }
    let mut args = std::env::args().skip(1);
    let (Some(engine), Some(data_dir)) = (args.next(), args.next()) else {
        bail!(
            "usage: codelake-bench-engine codelake|codelake-streamed|codelake-local|codelake-memory|codelake-cluster|datafusion|datafusion-s3 DATA_DIR [CATALOG_JSON] \
             (run by `cargo xtask bench`)"
        );
    };
    let data_dir = PathBuf::from(data_dir);
    let catalog: Vec<TableSpec> = match args.next() {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read catalog {path}"))?;
            catalog_core::Manifest::from_json(&text)
                .with_context(|| format!("catalog {path}"))?
                .tables
        }
        None => tables::REGISTRY.tables().cloned().collect(),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let ctx = runtime.block_on(session(&engine, &data_dir, &catalog))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "{}",
        serde_json::json!({"engine": engine, "version": format!("DataFusion {}", datafusion::DATAFUSION_VERSION)})
    )?;
    stdout.flush()?;
    for line in std::io::stdin().lock().lines() {
        let request: serde_json::Value = serde_json::from_str(&line?)?;
        let sql = request["sql"].as_str().context("a request without `sql`")?;
        let answer = match runtime.block_on(run(&ctx, sql)) {
            Ok((ms, batches)) => serde_json::json!({"ms": ms, "rows": rows(&batches)?}),
            Err(error) => serde_json::json!({"error": format!("{error:#}")}),
        };
        writeln!(stdout, "{answer}")?;
        stdout.flush()?;
    }
    Ok(())
}

/// Plans, runs and collects `sql`: the milliseconds it took, and the result.
async fn run(ctx: &SessionContext, sql: &str) -> anyhow::Result<(f64, Vec<RecordBatch>)> {
    let start = Instant::now();
    let batches = ctx.sql(sql).await?.collect().await?;
    Ok((start.elapsed().as_secs_f64() * 1e3, batches))
}

/// Every value as text, as Arrow displays it.
fn rows(batches: &[RecordBatch]) -> anyhow::Result<Vec<Vec<String>>> {
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|column| ArrayFormatter::try_new(column.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|formatter| formatter.value(row).to_string())
                    .collect(),
            );
        }
    }
    Ok(rows)
}

/// The engine's session, every table of `catalog` that can be opened
/// registered; each other one is named on standard error, and only the
/// queries that use it fail, as in `codelake sql`.
async fn session(
    engine: &str,
    data_dir: &Path,
    catalog: &[TableSpec],
) -> anyhow::Result<Arc<SessionContext>> {
    // The settings `codelake sql` uses.
    let ctx = SessionContext::new_with_config(catalog_runtime::session_config());
    let local = LocalEnvironment::attach(data_dir).with_context(|| {
        format!(
            "no local environment runs for {}: start it with `codelake local up`",
            data_dir.display()
        )
    })?;
    let env = local.environment();
    match engine {
        "codelake" | "codelake-streamed" | "codelake-local" | "codelake-memory"
        | "codelake-cluster" => {
            let ctx = Arc::new(ctx);
            let catalog: Vec<TableSpec> = if engine != "codelake" && engine != "codelake-streamed" {
                catalog.iter().map(|spec| on_disk(spec, data_dir)).collect()
            } else {
                catalog.to_vec()
            };
            let mut plugins = PluginSet::load_dir(&default_plugin_dir())?;
            if engine == "codelake-streamed" {
                plugins = plugins.streaming_only();
            }
            // As `codelake sql` does: a table that cannot be opened is named, and
            // only the queries that use it fail; the others are measured.
            for failure in register_tables(&ctx, &plugins, catalog.iter(), &env) {
                eprintln!("warning: {failure}; queries that use it fail");
            }
            if engine == "codelake-memory" {
                accelerate_all(&ctx, &catalog).await?;
            }
            if engine == "codelake-cluster" {
                distribute(&ctx, &catalog, &plugins, &env.name).await?;
            }
            Ok(ctx)
        }
        "datafusion" | "datafusion-s3" => {
            let on_s3 = engine == "datafusion-s3";
            if on_s3 {
                let settings = env.s3.as_ref().context("the local environment has no S3")?;
                let store = catalog_s3::store("codelake", settings)?;
                let url = ObjectStoreUrl::parse("s3://codelake")?;
                ctx.register_object_store(url.as_ref(), Arc::new(store));
            }
            // Views are the catalog's, not the files': the native engines read files only.
            for spec in catalog.iter().filter(|spec| !spec.is_view()) {
                match native_table(&ctx, spec, data_dir, on_s3).await {
                    Ok(Some(table)) => {
                        ctx.sql(&format!("CREATE SCHEMA IF NOT EXISTS {}", spec.database))
                            .await?;
                        ctx.register_table(spec.qualified_name().as_str(), table)?;
                    }
                    Ok(None) => {}
                    Err(error) => eprintln!(
                        "warning: table `{}`: {error:#}; queries that use it fail",
                        spec.qualified_name()
                    ),
                }
            }
            Ok(Arc::new(ctx))
        }
        other => bail!(
            "unknown engine `{other}`: codelake, codelake-streamed, codelake-local, codelake-memory, codelake-cluster, datafusion or datafusion-s3"
        ),
    }
}

/// `ctx` planning across the workers in `CODELAKE_BENCH_WORKERS`, as
/// `codelake sql --workers` does (catalog hash, 16 MiB per scan partition
/// unless `CODELAKE_BENCH_BYTES_PER_PARTITION`).
/// Every worker must be ready: a figure from fewer workers than the report
/// says would mislead.
async fn distribute(
    ctx: &SessionContext,
    catalog: &[TableSpec],
    plugins: &PluginSet,
    environment: &str,
) -> anyhow::Result<()> {
    let workers = std::env::var(WORKERS_VAR)
        .with_context(|| format!("codelake-cluster needs {WORKERS_VAR}=host:port,…"))?;
    let urls = catalog_cluster::Cluster::parse_workers(&workers)?;
    let hash = catalog_cluster::CatalogHash::of(
        &catalog.iter().collect::<Vec<_>>(),
        plugins
            .plugins
            .iter()
            .map(|plugin| (plugin.name.as_str(), plugin.version.as_str())),
        environment,
    );
    let cluster = catalog_cluster::Cluster::connect(urls, hash, None, None).await?;
    for probe in cluster.probes() {
        if probe.state != catalog_cluster::WorkerState::Ready {
            bail!("worker {probe}");
        }
    }
    let mut state = cluster.distribute(ctx.state()).await?;
    // `codelake sql --workers`'s default, unless the bench asks for another
    // (its smoke run: 1, so that tiny tables are split too).
    let bytes = std::env::var(BYTES_VAR).unwrap_or_else(|_| (16 << 20).to_string());
    state
        .config_mut()
        .options_mut()
        .set("distributed.file_scan_config_bytes_per_partition", &bytes)?;
    *ctx.state_ref().write() = state;
    // The cluster lives as long as the engine: the session's resolver holds it.
    Ok(())
}

/// The workers `codelake-cluster` plans across.
const WORKERS_VAR: &str = "CODELAKE_BENCH_WORKERS";
/// The bytes of files each partition of a distributed scan reads.
const BYTES_VAR: &str = "CODELAKE_BENCH_BYTES_PER_PARTITION";

/// Every table of `catalog` accelerated, its copy loaded before this returns.
/// Views are left live, so that their work is timed. A Parquet table whose
/// copy cannot be made fails the engine, so that no "memory" figure is
/// secretly read from S3; another table's failure is named, and that table
/// read from its source.
async fn accelerate_all(ctx: &SessionContext, catalog: &[TableSpec]) -> anyhow::Result<()> {
    let budget = match std::env::var_os(catalog_runtime::accelerate::MEMORY_VAR) {
        Some(_) => catalog_runtime::accelerate::budget_from_env().map_err(anyhow::Error::msg)?,
        None => 16 << 30,
    };
    let accelerated: Vec<TableSpec> = catalog
        .iter()
        .map(|spec| match spec.is_view() {
            true => spec.clone(),
            false => TableSpec {
                accelerate: Some(catalog_core::Accelerate::Memory),
                refresh: Some(catalog_core::Interval::parse("1h").expect("a duration")),
                ..spec.clone()
            },
        })
        .collect();
    let accelerator = catalog_runtime::Accelerator::install(ctx, &accelerated, budget).await;
    for copy in accelerator.load_all(&ctx.state()).await {
        let Some(why) = copy.refused.or(copy.last_error) else {
            continue;
        };
        let parquet = catalog
            .iter()
            .any(|spec| spec.qualified_name() == copy.table && spec.source == "s3-parquet");
        if parquet {
            bail!(
                "codelake-memory cannot keep {} in memory: {why}",
                copy.table
            );
        }
        eprintln!("warning: {why}");
    }
    Ok(())
}

/// `spec`, an `s3-parquet` table, as a `parquet` table over the local S3
/// server's file of the same object; any other table as it is.
fn on_disk(spec: &TableSpec, data_dir: &Path) -> TableSpec {
    let Ok(SourceOptions::S3Parquet(S3ParquetOptions {
        location,
        partitions,
        ..
    })) = spec.source_options()
    else {
        return spec.clone();
    };
    let Some(key) = location.strip_prefix("s3://") else {
        return spec.clone();
    };
    let mut path = s3_root(data_dir).join(key).display().to_string();
    if key.ends_with('/') && !path.ends_with('/') {
        path.push('/');
    }
    let mut options = vec![catalog_core::SourceOption {
        key: "location".into(),
        value: path.into(),
    }];
    if !partitions.is_empty() {
        options.push(catalog_core::SourceOption {
            key: "partitions".into(),
            value: partitions.join(",").into(),
        });
    }
    TableSpec {
        source: "parquet".into(),
        options: options.into(),
        ..spec.clone()
    }
}

/// DataFusion's own listing table over `spec`'s files: its Parquet objects on
/// disk or S3, its CSV file on disk; `None` for sources that are not files.
async fn native_table(
    ctx: &SessionContext,
    spec: &TableSpec,
    data_dir: &Path,
    on_s3: bool,
) -> anyhow::Result<Option<Arc<ListingTable>>> {
    let (url, options, schema) = match spec.source_options()? {
        SourceOptions::S3Parquet(S3ParquetOptions { location, .. }) => {
            let url = if on_s3 {
                location
            } else {
                let key = location.strip_prefix("s3://").context("not s3://")?;
                let path = s3_root(data_dir).join(key);
                format!(
                    "{}{}",
                    path.display(),
                    if key.ends_with('/') { "/" } else { "" }
                )
            };
            let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet");
            // As the s3-parquet plugin reads it (and DataFusion by default): strings as views.
            (url, options, Some(Arc::new(spec.arrow_schema_with_views())))
        }
        SourceOptions::Csv(CsvOptions {
            location,
            delimiter,
            header,
            ..
        }) => {
            let path = data_dir.join(location);
            let format = CsvFormat::default()
                .with_delimiter(delimiter)
                .with_has_header(header);
            let options = ListingOptions::new(Arc::new(format)).with_file_extension(".csv");
            // The file's own column order: the header, typed by inference.
            (path.display().to_string(), options, None)
        }
        _ => return Ok(None),
    };
    let table_url = ListingTableUrl::parse(&url)?;
    let schema = match schema {
        Some(schema) => schema,
        None => options.infer_schema(&ctx.state(), &table_url).await?,
    };
    let config = ListingTableConfig::new(table_url)
        .with_listing_options(options)
        .with_schema(schema);
    Ok(Some(Arc::new(ListingTable::try_new(config)?)))
}
