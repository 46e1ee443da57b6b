//! How `data seed` lays Parquet out, so that a query reads only what its
//! filters need (the rules are in `docs/explanation/performance.md`, "How
//! seeded data is laid out", for users who write their own files):
//!
//! - a fact table is sorted on the column its queries filter by (`lineitem` on
//!   `l_shipdate`, `orders` on `o_orderdate`), then on its key, so each row
//!   group and each page covers a narrow range of dates and the min/max
//!   statistics prune them;
//! - row groups of [`ROW_GROUP_ROWS`] rows: small enough that a pruned scan
//!   still has several row groups to share between cores, large enough that
//!   per-group overhead stays low;
//! - the page index (column and offset indexes) on every column, pages of at
//!   most [`PAGE_ROWS`] rows: page pruning without `pushdown_filters`;
//! - the row groups of a sorted table are written interleaved (in
//!   bit-reversed order of their rank), not in sort order: each still covers
//!   a narrow range, but any range of dates is spread over the whole file. A
//!   reader that splits a file between cores by byte range (DataFusion does)
//!   then finds the row groups that survive pruning in every core's share,
//!   not all in one;
//! - Snappy compression.
//!
//! The sort is DataFusion's external sort, within [`SORT_MEMORY`] and spilling
//! into the data directory beyond it, so a large scale seeds in bounded memory.

use std::path::Path;
use std::sync::{Arc, Mutex};

use catalog_core::TableSpec;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::DataFusionError;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::Batches;

/// Rows per row group.
pub(super) const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Rows per data page, at most (pages also end at 1 MiB).
pub(super) const PAGE_ROWS: usize = 20_000;

/// Memory the sort of one table may take before it spills.
const SORT_MEMORY: usize = 1 << 30;

/// How one table's Parquet is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Layout {
    /// The columns the rows are sorted by, if any.
    pub(super) sort: &'static [&'static str],
    /// For a Delta table, its partition column and the date column it is the
    /// year of (`o_orderyear` of `o_orderdate`): one file per year.
    pub(super) partition: Option<(&'static str, &'static str)>,
}

impl Layout {
    /// The layout of `spec`'s data; `generated` when tpchgen writes it (a
    /// fixture keeps its rows in the order its file gives them).
    pub(super) fn of(spec: &TableSpec, generated: bool) -> Self {
        let sort: &[&str] = match (generated, spec.name.as_ref()) {
            (true, "lineitem") => &["l_shipdate", "l_orderkey", "l_linenumber"],
            (true, "orders" | "orders_delta") => &["o_orderdate", "o_orderkey"],
            _ => &[],
        };
        let partition = match (generated, spec.name.as_ref()) {
            (true, "orders_delta") => Some(("o_orderyear", "o_orderdate")),
            _ => None,
        };
        Self { sort, partition }
    }

    /// How the seed's marker records it: a table is written again when this changes.
    pub(super) fn describe(&self) -> String {
        let order = if self.sort.is_empty() {
            "in generated order".to_owned()
        } else {
            format!("sorted by {}", self.sort.join(", "))
        };
        let files = match self.partition {
            Some((column, date)) => format!("Delta, a file per {column} (the year of {date}), "),
            None => String::new(),
        };
        format!(
            "{files}{order}, row groups of {ROW_GROUP_ROWS} rows, page index, pages of {PAGE_ROWS} rows"
        )
    }

    /// Whether the rows are sorted (and the row groups then interleaved).
    pub(super) fn sorts(&self) -> bool {
        !self.sort.is_empty()
    }

    /// Copies the sorted Parquet file `sorted` into `out`, row group by row
    /// group, in [`interleaved`] order.
    pub(super) fn interleave(&self, sorted: &Path, out: &std::fs::File) -> anyhow::Result<()> {
        let open = || -> anyhow::Result<_> {
            Ok(ParquetRecordBatchReaderBuilder::try_new(
                std::fs::File::open(sorted)?,
            )?)
        };
        let builder = open()?;
        let groups = builder.metadata().num_row_groups();
        let mut writer = ArrowWriter::try_new(
            std::io::BufWriter::new(out),
            Arc::clone(builder.schema()),
            Some(self.properties()),
        )?;
        for group in interleaved(groups) {
            for batch in open()?.with_row_groups(vec![group]).build()? {
                writer.write(&batch?)?;
            }
            // One row group in, one out.
            writer.flush()?;
        }
        writer.close()?;
        Ok(())
    }

    /// The Parquet writer's settings.
    pub(super) fn properties(&self) -> WriterProperties {
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_data_page_row_count_limit(PAGE_ROWS)
            .set_statistics_enabled(EnabledStatistics::Page)
            .build()
    }

    /// `batches` in this layout's order: as they come when it has no sort,
    /// else through DataFusion's external sort, spilling into `spill_dir`.
    pub(super) async fn order(
        &self,
        mut batches: Batches,
        spill_dir: &Path,
    ) -> anyhow::Result<SendableRecordBatchStream> {
        let Some(first) = batches.next().transpose()? else {
            return Ok(Box::pin(RecordBatchStreamAdapter::new(
                Arc::new(datafusion::arrow::datatypes::Schema::empty()),
                futures::stream::empty(),
            )));
        };
        let schema = first.schema();
        let generated = Generated {
            schema: Arc::clone(&schema),
            batches: Mutex::new(Some((first, batches))),
        };
        if self.sort.is_empty() {
            return Ok(generated.execute(Arc::new(TaskContext::default())));
        }
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(FairSpillPool::new(SORT_MEMORY)))
            .with_disk_manager_builder(
                DiskManagerBuilder::default()
                    .with_mode(DiskManagerMode::Directories(vec![spill_dir.to_owned()])),
            )
            .build_arc()?;
        let ctx = SessionContext::new_with_config_rt(
            SessionConfig::new().with_target_partitions(1),
            runtime,
        );
        let table = StreamingTable::try_new(schema, vec![Arc::new(generated)])?;
        ctx.register_table("generated", Arc::new(table))?;
        let sql = format!("SELECT * FROM generated ORDER BY {}", self.sort.join(", "));
        Ok(ctx.sql(&sql).await?.execute_stream().await?)
    }
}

/// One table's generated batches, as a DataFusion partition read once.
struct Generated {
    schema: SchemaRef,
    batches: Mutex<Option<(RecordBatch, Batches)>>,
}

impl std::fmt::Debug for Generated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generated").finish_non_exhaustive()
    }
}

impl PartitionStream for Generated {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let taken = self
            .batches
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        let stream = match taken {
            Some((first, rest)) => futures::stream::iter(std::iter::once(Ok(first)).chain(rest))
                .map(|batch| batch.map_err(DataFusionError::from))
                .boxed(),
            None => futures::stream::once(async {
                Err(DataFusionError::Internal(
                    "a generated table is read once".to_owned(),
                ))
            })
            .boxed(),
        };
        Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            stream,
        ))
    }
}

/// The order to write `groups` row groups in: their ranks in bit-reversed
/// order (0, 4, 2, 6, 1, 5, 3, 7 for eight), so that every half, quarter,
/// eighth… of the file holds row groups from the whole sort range.
pub(super) fn interleaved(groups: usize) -> Vec<usize> {
    let bits = groups.next_power_of_two().trailing_zeros();
    (0..groups.next_power_of_two())
        .map(|rank| {
            if bits == 0 {
                0
            } else {
                rank.reverse_bits() >> (usize::BITS - bits)
            }
        })
        .filter(|&group| group < groups)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::interleaved;

    #[test]
    fn row_groups_are_interleaved_in_bit_reversed_order() {
        assert_eq!(interleaved(8), [0, 4, 2, 6, 1, 5, 3, 7]);
        assert_eq!(interleaved(5), [0, 4, 2, 1, 3]);
        assert_eq!(interleaved(1), [0]);
        assert_eq!(interleaved(0), Vec::<usize>::new());
        // Each half of a file of 46 row groups covers both halves of the range.
        let order = interleaved(46);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..46).collect::<Vec<_>>());
        let (first, second) = order.split_at(23);
        for half in [first, second] {
            assert!(
                half.iter().any(|&g| g < 23) && half.iter().any(|&g| g >= 23),
                "{order:?}"
            );
        }
    }
}
