//! ROAPI (the server Neuralake exports its catalog to), started over the same
//! files as the TPC-H project's `codelake serve`: its Parquet under the local
//! S3 server's directory and its CSV tables, registered by their unqualified
//! names, since ROAPI has no databases.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context;

use super::super::setup::file_tables;
use super::{Dialect, Served};

/// The database whose tables ROAPI serves: the one the bench's queries read.
const DATABASE: &str = "tpch";

/// Writes ROAPI's configuration for the TPC-H tables in `data_dir` to `path`.
///
/// Every listener binds port 0 (ROAPI also opens Postgres and Flight SQL ports,
/// which would otherwise be 5432 and 32010). Tables are kept in memory, ROAPI's
/// default, so its start-up loads them all.
pub(super) fn write_config(data_dir: &Path, path: &Path) -> anyhow::Result<()> {
    let mut yaml = String::from(
        "# Written by `cargo xtask bench`: ROAPI over the TPC-H project's files.\n\
         addr:\n  http: 127.0.0.1:0\n  postgres: 127.0.0.1:0\n  flight_sql: 127.0.0.1:0\ntables:\n",
    );
    let prefix = format!("{DATABASE}.");
    let mut count = 0;
    for (name, table) in file_tables(data_dir)? {
        let Some(name) = name.strip_prefix(&prefix) else {
            continue;
        };
        let path = table["path"].as_str().context("a file table's path")?;
        // JSON strings are YAML strings: no path or delimiter needs escaping by hand.
        let _ = writeln!(yaml, "  - name: {name}\n    uri: {}", json(path));
        match table["format"].as_str() {
            Some("csv") => {
                let delimiter = table["delimiter"].as_str().unwrap_or(",");
                let _ = writeln!(
                    yaml,
                    "    option:\n      format: csv\n      has_header: true\n      delimiter: {}",
                    json(delimiter)
                );
            }
            // A directory of Parquet files has no extension to infer the format from.
            _ => yaml.push_str("    option:\n      format: parquet\n"),
        }
        count += 1;
    }
    anyhow::ensure!(
        count > 0,
        "no `{DATABASE}` table in tables/catalog.json for ROAPI to serve"
    );
    fs::write(path, yaml).with_context(|| format!("cannot write {}", path.display()))
}

fn json(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// ROAPI (`roapi` in the bench's venv) with the configuration at `config`, once
/// it listens, and when it was started.
pub(super) fn start(roapi: &Path, config: &Path) -> anyhow::Result<(Served, Instant)> {
    let started = Instant::now();
    let mut child = Command::new(roapi)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting ROAPI ({})", roapi.display()))?;
    let mut lines = BufReader::new(child.stderr.take().context("piped")?).lines();
    let mut seen = Vec::new();
    let (mut flight, mut pg) = (None, None);
    let address = loop {
        let Some(line) = lines.next().transpose()? else {
            let _ = child.kill();
            anyhow::bail!(
                "ROAPI exited before it listened; it said:\n{}",
                seen.join("\n")
            );
        };
        // "🚀 Listening on 127.0.0.1:PORT for Postgres traffic...", then for
        // FlightSQL, then for HTTP.
        if let Some((_, rest)) = line.split_once("Listening on ") {
            if let Some((address, _)) = rest.split_once(" for HTTP traffic") {
                break address.to_owned();
            }
            if let Some((address, _)) = rest.split_once(" for FlightSQL traffic") {
                flight = Some(format!("grpc://{address}"));
            }
            if let Some((address, _)) = rest.split_once(" for Postgres traffic") {
                pg = Some(address.to_owned());
            }
        }
        seen.push(line);
    };
    std::thread::spawn(move || for _ in lines {});
    Ok((
        Served {
            name: "ROAPI",
            key: "roapi",
            child,
            address,
            flight: flight.context("ROAPI printed no Flight SQL address")?,
            pg: pg.context("ROAPI printed no Postgres address")?,
            dialect: Dialect::Roapi,
        },
        started,
    ))
}
