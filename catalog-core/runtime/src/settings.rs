//! [`session_config`]: the DataFusion settings codelake runs queries with.

use datafusion::prelude::SessionConfig;

/// The hash-join build side below which a join is planned as one partition
/// (`CollectLeft`), in bytes and rows: 4 MiB and 1 Mi rows, where DataFusion
/// 55 has 1 MiB and 128 Ki rows (upstream raised the bytes to 4 MiB after 55).
/// Measured side by side on TPC-H SF1 with 2 cores: Q3 and Q5 15% faster, the
/// others unchanged (`docs/explanation/performance.md`, changelog 20).
pub const HASH_JOIN_SINGLE_PARTITION_BYTES: usize = 4 << 20;

/// See [`HASH_JOIN_SINGLE_PARTITION_BYTES`].
pub const HASH_JOIN_SINGLE_PARTITION_ROWS: usize = 1 << 20;

/// DataFusion's defaults, with the information schema (`SHOW TABLES`,
/// `information_schema.columns`) and the few settings measured to win.
/// The CLI, the servers and the bench's native engines all start from it.
pub fn session_config() -> SessionConfig {
    let mut config = SessionConfig::new().with_information_schema(true);
    let optimizer = &mut config.options_mut().optimizer;
    optimizer.hash_join_single_partition_threshold = HASH_JOIN_SINGLE_PARTITION_BYTES;
    optimizer.hash_join_single_partition_threshold_rows = HASH_JOIN_SINGLE_PARTITION_ROWS;
    config
}
