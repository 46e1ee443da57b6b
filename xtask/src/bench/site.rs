//! The catalog site on a synthetic catalog of many tables: how long `cargo
//! xtask site` takes to build it, and how long its search takes to answer a
//! keystroke in headless Chromium.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, bail};
use catalog_core::lineage::{ColumnLineage, ViewLineage};
use catalog_core::{ColumnSpec, ColumnType, Expectations, Manifest, SourceOption, TableSpec};

use super::Plan;
use super::report::{Measure, Report};
use super::setup::{millis, say};

/// What is typed into the search box, one keystroke at a time: a table's
/// name, a column's name, a word of the docs, and nothing that matches.
const TYPED: [&str; 4] = ["t4242", "c5", "freight", "zzz"];

/// A catalog of `tables` tables over ten databases, 8 columns each, in which
/// every tenth table is a view over the two tables before it.
pub(super) fn synthetic_manifest(tables: usize) -> Manifest {
    let types = [
        ColumnType::Int64,
        ColumnType::Utf8,
        ColumnType::Float64,
        ColumnType::Date32,
    ];
    let name = |table: usize| format!("db{}.t{table}", table % 10);
    let mut specs = Vec::with_capacity(tables);
    let mut lineage = Vec::new();
    for table in 0..tables {
        let columns: Vec<ColumnSpec> = (0..8)
            .map(|column| ColumnSpec {
                name: format!("c{column}").into(),
                ty: types[column % types.len()],
                nullable: column % 3 == 2,
                doc: format!("Column {column} of table {table}: a measure of freight, in units.")
                    .into(),
                unique: column == 0,
                min: None,
                max: None,
            })
            .collect();
        let is_view = table % 10 == 9 && table >= 2;
        if is_view {
            lineage.push(ViewLineage {
                view: name(table),
                reads: vec![name(table - 2), name(table - 1)],
                columns: (0..8)
                    .map(|column| ColumnLineage {
                        column: format!("c{column}"),
                        from: vec![format!("{}.c{column}", name(table - 1))],
                    })
                    .collect(),
            });
        }
        specs.push(TableSpec {
            database: format!("db{}", table % 10).into(),
            name: format!("t{table}").into(),
            doc: format!("Table {table}: synthetic rows for the site benchmark.").into(),
            rust_type: format!("bench::db{}::T{table}", table % 10).into(),
            source: if is_view { "view" } else { "s3-parquet" }.into(),
            options: if is_view {
                Vec::new().into()
            } else {
                vec![SourceOption {
                    key: "location".into(),
                    value: format!("s3://bench/t{table}.parquet").into(),
                }]
                .into()
            },
            owner: Some("bench".into()),
            expectations: Expectations::default(),
            columns: columns.into(),
            view: is_view.then(|| catalog_core::ViewSpec {
                sql: format!(
                    "SELECT * FROM {} UNION ALL SELECT * FROM {}",
                    name(table - 2),
                    name(table - 1)
                )
                .into(),
                file: "bench.sql".into(),
                materialize: None,
            }),
            accelerate: None,
            refresh: None,
            contract: ::catalog_core::Contract::NONE,
        });
    }
    specs.sort_by(|a, b| (&a.database, &a.name).cmp(&(&b.database, &b.name)));
    lineage.sort_by(|a, b| a.view.cmp(&b.view));
    let mut manifest = Manifest::new(specs, "cargo xtask bench");
    manifest.lineage = lineage;
    manifest
}

pub(super) fn site_case(plan: &Plan, work: &Path, report: &mut Report) -> anyhow::Result<()> {
    let dir = work.join("site");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("catalog.json"),
        synthetic_manifest(plan.site_tables).to_json(),
    )?;
    let out = dir.join("out");
    let args = crate::site::Args {
        out: Some(out.clone()),
        catalog: Some(dir.join("catalog.json")),
        verify_report: None,
    };
    // What `cargo xtask site` does: read catalog.json, render, write.
    let build = || -> anyhow::Result<()> {
        let site = crate::site::build(&dir, &args)?;
        site.write(&out)?;
        Ok(())
    };
    build()?; // warm-up: the page cache
    let mut times = Vec::with_capacity(plan.runs);
    for _ in 0..plan.runs {
        let start = Instant::now();
        build()?;
        times.push(millis(start.elapsed()));
    }
    report.measures.push(Measure::from_runs(
        "site_build",
        &format!(
            "`cargo xtask site` of {} tables × 8 columns (xtask's debug build, as `cargo xtask site` runs)",
            plan.site_tables
        ),
        times,
        "ms",
    ));
    let keystrokes = search_latency(&out)?;
    report.measures.push(Measure::from_runs(
        "site_search",
        &format!(
            "The site's search, one keystroke over {} tables (headless Chromium: input to layout done)",
            plan.site_tables
        ),
        keystrokes,
        "ms",
    ));
    say("catalog site: measured");
    Ok(())
}

/// Types [`TYPED`] into the site's search in headless Chromium, a key at a
/// time, and returns each keystroke's time from the input event to the
/// results laid out (`performance.now()` around the page's own handler).
fn search_latency(site: &Path) -> anyhow::Result<Vec<f64>> {
    let index = std::fs::read_to_string(site.join("index.html"))?;
    let mut probe = String::from(
        "<script>(function () {\n\
         const q = document.getElementById('q'), results = document.getElementById('results');\n\
         const times = [];\n",
    );
    let _ = writeln!(
        probe,
        "for (const word of {}) {{",
        serde_json::to_string(&TYPED)?
    );
    probe.push_str(
        "  for (let i = 1; i <= word.length; i++) {\n\
             const start = performance.now();\n\
             q.value = word.slice(0, i);\n\
             q.dispatchEvent(new Event('input'));\n\
             void results.getBoundingClientRect().height;\n\
             times.push(performance.now() - start);\n\
           }\n\
         }\n\
         const out = document.createElement('pre');\n\
         out.id = 'bench-result';\n\
         out.textContent = JSON.stringify(times);\n\
         document.body.append(out);\n\
         })();</script>\n</body>",
    );
    let page = site.join("search-bench.html");
    std::fs::write(&page, index.replace("</body>", &probe))?;
    let profile = site.join("chromium-profile");
    let browser = browser()?;
    let output = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .env("HOME", &profile)
        .env("XDG_CONFIG_HOME", &profile)
        .env("XDG_CACHE_HOME", &profile)
        .arg(format!("file://{}", std::path::absolute(&page)?.display()))
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running {browser}"))?;
    let dom = String::from_utf8_lossy(&output.stdout);
    let Some(result) = dom
        .split_once("<pre id=\"bench-result\">")
        .and_then(|(_, rest)| rest.split_once("</pre>"))
    else {
        bail!(
            "{browser} printed no search timings: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let times: Vec<f64> = serde_json::from_str(result.0)?;
    anyhow::ensure!(
        times.len() == TYPED.iter().map(|word| word.len()).sum::<usize>(),
        "a keystroke went unmeasured"
    );
    Ok(times)
}

/// The headless Chromium the site case drives; an error that says how to
/// install it. The bench asks before it measures anything, so a machine
/// without one fails in seconds, not after the engine cases.
pub(super) fn browser() -> anyhow::Result<&'static str> {
    ["chromium-headless-shell", "chromium"]
        .into_iter()
        .find(|browser| Command::new(browser).arg("--version").output().is_ok())
        .context(
            "the site's search benchmark needs headless Chromium; install it with: \
             sudo apt-get install chromium-headless-shell",
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_synthetic_site_has_a_page_per_table_and_its_views_lineage() {
        let manifest = synthetic_manifest(300);
        assert_eq!(manifest.tables.len(), 300);
        assert_eq!(manifest.lineage.len(), 30);
        let site = catalog_site::Site::build(&manifest, None).unwrap();
        // Every table's page, the index, the lineage page, the script, the index's data and the style.
        assert_eq!(site.len(), 300 + 5);
        let (lineage, _) = site.file("lineage.html").unwrap();
        let lineage = String::from_utf8_lossy(lineage);
        assert_eq!(lineage.matches("class=\"edge\"").count(), 60);
        if let Ok(dir) = std::env::var("CODELAKE_DUMP_SYNTHETIC") {
            std::fs::write(
                format!("{dir}/catalog.json"),
                synthetic_manifest(10_000).to_json(),
            )
            .unwrap();
        }
    }
}
