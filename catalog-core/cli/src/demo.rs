//! `codelake demo`: the local environment, sample data, the seed's query, a
//! federated join over four source kinds, a Delta Lake table and a view, each
//! with its timing.

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::RecordBatch;

use catalog_env::local::{FEDERATED_QUERY, PART_QUERY};

use crate::Global;
use crate::error::CliError;
use crate::output::{explain, millis, write_table};
use crate::session::{Seed, Session, Unavailable};

/// Runs the demo in the local environment.
pub async fn run(global: &Global, scale: Option<f64>) -> Result<(), CliError> {
    let started = Instant::now();
    // The demo is the local environment's; `--env` may still pick another embedded profile.
    let global = Global {
        profile: Some(global.profile.clone().unwrap_or_else(|| "local".into())),
        config: global.config.clone(),
        data_dir: global.data_dir.clone(),
        plugin_dir: global.plugin_dir.clone(),
        live: global.live,
    };
    let session = Session::open(&global, Seed::Scale(scale), Unavailable::Each).await?;
    let Some(local) = &session.local else {
        return Err(CliError::msg(
            crate::error::EXIT_CONFIG,
            format!(
                "the demo runs in the local environment, and profile `{}` is not embedded",
                session.config.profile
            ),
        )
        .hint("run `cargo xtask demo` without --env"));
    };
    say!(
        "Local environment: S3 at {}, HTTP API at {}, data in {}",
        local.state().s3_endpoint,
        local.state().http_base_url,
        session.config.data_dir.display()
    );
    say!(
        "Catalog: {} tables registered through their plugins ({} ready in {}).",
        tables::REGISTRY.len() - session.failures.len(),
        if session.failures.is_empty() {
            "all"
        } else {
            "some"
        },
        millis(started.elapsed())
    );

    say!("\n--- Querying 'part' table from S3 ---\n");
    show(&session, PART_QUERY).await?;

    say!("\n--- Federated query: Parquet on S3 × CSV × HTTP JSON API × Rust function ---\n");
    say!("{FEDERATED_QUERY}\n");
    show(&session, FEDERATED_QUERY).await?;

    // A Delta Lake table: its files, partitions and statistics from its log;
    // the filter on the partition column reads three years' files of seven.
    let orders = tables::catalog().tpch().orders_delta();
    let delta = format!(
        "SELECT o_orderyear, count(*) AS orders, sum(o_totalprice) AS revenue \
         FROM {} WHERE o_orderyear >= 1996 GROUP BY o_orderyear ORDER BY o_orderyear",
        orders.qualified_name()
    );
    say!(
        "\n--- A Delta Lake table: {}, partitioned by year (its log says which files to read) ---\n",
        orders.qualified_name()
    );
    say!("{delta}\n");
    show(&session, &delta).await?;

    // A view declared in code (tables/src/tpch.rs, its SQL in tables/src/tpch/),
    // over another view: the ELT step, checked against its struct before it ran.
    let view = tables::catalog().tpch().revenue_by_year();
    say!(
        "\n--- A view declared in code: {} ({}), over tpch.revenue_by_nation ---\n",
        view.qualified_name(),
        view.spec().view.as_ref().map_or("", |view| &*view.file)
    );
    show(
        &session,
        &format!(
            "SELECT * FROM {} ORDER BY order_year",
            view.qualified_name()
        ),
    )
    .await?;

    let owned = local.owns_servers();
    drop(session);
    say!(
        "\nDone in {:.1?}{}. Next: `cargo codelake sql` for a shell, `cargo codelake tables` for the catalog.",
        started.elapsed(),
        if owned {
            "; the local servers are stopped"
        } else {
            ""
        }
    );
    Ok(())
}

async fn show(session: &Session, sql: &str) -> Result<(), CliError> {
    let started = Instant::now();
    let result = async {
        let frame = session.ctx.sql(sql).await?;
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await?;
        anyhow::Ok((schema, batches))
    }
    .await;
    let (schema, batches) = result.map_err(|error| explain(session, error))?;
    let elapsed = started.elapsed();
    let mut out = std::io::stdout().lock();
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let _ = write_table(&mut out, &schema, &batches, rows);
    say!(
        "{} in {}",
        crate::names::counted(rows, "row"),
        millis(elapsed)
    );
    Ok(())
}
