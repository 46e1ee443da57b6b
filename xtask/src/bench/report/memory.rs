//! The bench page's in-memory section: accelerated codelake against DuckDB's
//! in-memory tables, then the accelerated `codelake serve` against ROAPI.

use std::fmt::Write as _;

use super::{EngineKind, Report, fmt_value, geometric_mean};

impl Report {
    /// The in-memory section: accelerated codelake against DuckDB's in-memory
    /// tables, query by query, apart from every figure read from files.
    pub(super) fn memory_table(&self, md: &mut String) {
        use EngineKind::{CodelakeMemory, DuckDbMemory};
        let ratios = self.tpch_ratios(CodelakeMemory, DuckDbMemory);
        if ratios.is_empty() {
            if self.measure("memory_serve_first_answer").is_some() {
                let _ = writeln!(md, "\n## In memory");
                self.memory_serve_table(md);
            }
            return;
        }
        let _ = writeln!(
            md,
            "\n## In memory\n\n\
             Both engines answer from tables they hold in memory, loaded before anything is timed: \
             codelake with every table accelerated (`accelerate = \"memory\"`), DuckDB from its own \
             tables (`CREATE TABLE … AS SELECT * FROM read_parquet(…)`). These figures are compared \
             with each other only, never with the engines above that read files.\n\n\
             | Query | {} | {} | {} ÷ {} |\n|---|---|---|---|",
            CodelakeMemory.name(),
            DuckDbMemory.name(),
            CodelakeMemory.name(),
            DuckDbMemory.name()
        );
        for (query, ratio) in &ratios {
            let ms = |kind| {
                self.median(query, kind)
                    .map_or("—".into(), |ms| fmt_value(ms, "ms"))
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {ratio:.2}× |",
                query.to_uppercase(),
                ms(CodelakeMemory),
                ms(DuckDbMemory)
            );
        }
        let values: Vec<f64> = ratios.iter().map(|(_, ratio)| *ratio).collect();
        if let Some(mean) = geometric_mean(&values) {
            let _ = writeln!(md, "| geometric mean | | | {mean:.2}× |");
        }
        self.memory_serve_table(md);
    }
}
