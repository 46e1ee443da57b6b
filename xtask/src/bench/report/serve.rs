//! The bench page's serving tables: `codelake serve` beside ROAPI, from its
//! sources and, in the in-memory section, accelerated.

use std::fmt::Write as _;

use super::{PROTOCOLS, Report, SERVED_QUERIES, fmt_value};

impl Report {
    /// `codelake serve` reading its sources beside ROAPI on the same files:
    /// one row per figure.
    pub(super) fn serve_table(&self, md: &mut String) {
        let intro = "Both serve the TPC-H project's files: `codelake serve` reads the Parquet through its plugin \
             from the local S3 server on every query and loads nothing at start; ROAPI (its default) \
             loads every table into memory at start and answers from there.";
        self.served_table(
            md,
            "serve",
            "`codelake serve`",
            "## Serving: `codelake serve` beside ROAPI",
            intro,
        );
    }

    /// `codelake serve` with every table accelerated beside ROAPI: both answer
    /// from memory.
    pub(super) fn memory_serve_table(&self, md: &mut String) {
        let intro = "Both answer from memory: `codelake serve --catalog` over the built-in catalog with \
             every table declared `accelerate = \"memory\"` (its copies load in the background as it \
             starts, through the local S3 server, while it already answers; the clients start once \
             every copy is in), and ROAPI, which loads every table from the files on disk before its \
             first answer.";
        self.served_table(
            md,
            "memory_serve",
            "accelerated `codelake serve`",
            "### Serving from memory: accelerated `codelake serve` beside ROAPI",
            intro,
        );
    }

    /// The server measured under `key` beside ROAPI.
    fn served_table(&self, md: &mut String, key: &str, name: &str, heading: &str, intro: &str) {
        let mut rows = vec![
            ("first_answer".to_owned(), "Exec to first answer".to_owned()),
            (
                "loaded".to_owned(),
                "Exec until every copy is in memory".to_owned(),
            ),
            ("idle_rss".to_owned(), "Idle RSS after one query".to_owned()),
        ];
        for (protocol, over) in PROTOCOLS {
            for (query, title) in SERVED_QUERIES {
                for (what, name) in [
                    ("throughput", "throughput"),
                    ("p50", "p50 latency"),
                    ("p99", "p99 latency"),
                    ("errors", "errors"),
                ] {
                    rows.push((
                        format!("{protocol}{query}_{what}"),
                        format!("{over}, {title}: {name}"),
                    ));
                }
            }
        }
        let rows: Vec<_> = rows
            .into_iter()
            .filter_map(|(figure, title)| {
                let ours = self.measure(&format!("{key}_{figure}"))?;
                let theirs = match figure.as_str() {
                    // ROAPI answers first once everything is loaded.
                    "loaded" => self.measure("roapi_first_answer")?,
                    _ => self.measure(&format!("roapi_{figure}"))?,
                };
                Some((title, ours, theirs))
            })
            .collect();
        if rows.is_empty() {
            return;
        }
        let load = self
            .measure(&format!("{key}_small_throughput"))
            .map(|m| m.title.split(", ").nth(1).unwrap_or_default().to_owned())
            .map(|load| load.replace(" clients", " clients on each protocol"))
            .unwrap_or_default();
        let _ = writeln!(
            md,
            "\n{heading}\n\n{intro} Over HTTP both answer CSV \
             (HTTP/1.1, one new connection per request); over Flight SQL each client keeps its connection \
             and reads every endpoint of `GetFlightInfo` to the end. Load is {load}; the HTTP answers are \
             checked equal first. Ratio is codelake ÷ ROAPI.\n"
        );
        let _ = writeln!(
            md,
            "| Measure | {name} | ROAPI | Ratio |\n|---|---|---|---|"
        );
        for (title, ours, theirs) in rows {
            let ratio = if theirs.median != 0.0 {
                format!("{:.2}×", ours.median / theirs.median)
            } else {
                "—".to_owned()
            };
            let _ = writeln!(
                md,
                "| {title} | {} | {} | {ratio} |",
                fmt_value(ours.median, ours.unit),
                fmt_value(theirs.median, theirs.unit)
            );
        }
    }
}
