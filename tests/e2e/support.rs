//! Helpers shared by the end-to-end tests: the built plugins, queries, files.

use std::path::Path;

use catalog_runtime::{PluginSet, default_plugin_dir};
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::prelude::SessionContext;

/// The six plugins in the target directory; fails with the fix if they are not built.
pub fn plugins() -> PluginSet {
    let dir = default_plugin_dir();
    let set = PluginSet::load_dir(&dir).unwrap();
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    for name in [
        "csv",
        "function",
        "s3-parquet",
        "http-api",
        "delta",
        "jsonl",
    ] {
        assert!(
            set.plugins.iter().any(|plugin| plugin.name == name),
            "plugin `{name}` is not built in {}: run `cargo build --workspace` (cargo xtask test does)",
            dir.display()
        );
    }
    set
}

/// Runs `sql` to the end: its batches, or the error as text, whether it came
/// from planning or from reading.
pub async fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>, String> {
    match ctx.sql(sql).await {
        Ok(frame) => frame.collect().await.map_err(|error| error.to_string()),
        Err(error) => Err(error.to_string()),
    }
}

/// The first column of `batches`, an `Int64` column.
pub fn column_ints(batches: &[RecordBatch]) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|batch| {
            batch
                .column(0)
                .as_primitive::<Int64Type>()
                .values()
                .to_vec()
        })
        .collect()
}

/// The first column of `sql`'s result, which must succeed and be `Int64`.
pub async fn ints(ctx: &SessionContext, sql: &str) -> Vec<i64> {
    column_ints(&query(ctx, sql).await.unwrap())
}

/// Writes `batch` as a Parquet file at `path`.
pub fn write_parquet(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut writer =
        datafusion::parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

/// The documented JSON Schema `docs/reference/NAME`, parsed.
pub fn schema(name: &str) -> serde_json::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    serde_json::from_str(&std::fs::read_to_string(root.join("docs/reference").join(name)).unwrap())
        .unwrap()
}

/// Fails, listing every violation, unless `report` follows `schema`.
pub fn assert_follows_schema(report: &serde_json::Value, schema: &serde_json::Value) {
    let validator = jsonschema::validator_for(schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|error| format!("{error} at {}", error.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{report:#}");
}
