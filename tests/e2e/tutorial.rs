//! The first tutorial, followed as a newcomer would: its table declaration
//! (compiled here by `build.rs` from the tutorial's own text), its fixture, its
//! `data seed`, its `verify`, its quoted error, and the bench engine over the
//! catalog that now holds the table.
//!
//! The real `codelake` binary runs with `--catalog`: the built-in catalog plus
//! the tutorial's table, as `catalog.json` would hold it after `cargo xtask
//! gen-catalog`. Nothing is written outside the test's temporary directory.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use catalog_core::Table as _;
use catalog_runtime::default_plugin_dir;

use crate::cli::{assert_ok, codelake, run, stderr, stdout};

/// The tutorial's module, as the tutorial writes it.
mod web {
    include!(concat!(env!("OUT_DIR"), "/tutorial_web.rs"));
}

const TUTORIAL: &str = "docs/tutorials/declare-your-first-table.md";

fn tutorial() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::fs::read_to_string(root.join(TUTORIAL)).unwrap()
}

/// The first fenced block of `lang` after `marker` in the tutorial.
fn block(text: &str, marker: &str, lang: &str) -> String {
    let after = text
        .split_once(marker)
        .unwrap_or_else(|| panic!("{TUTORIAL} no longer says {marker:?}"))
        .1;
    after
        .split_once(&format!("```{lang}\n"))
        .and_then(|(_, rest)| rest.split_once("```"))
        .unwrap_or_else(|| panic!("{TUTORIAL}: no ```{lang} block after {marker:?}"))
        .0
        .to_owned()
}

/// `catalog.json` with the tutorial's table added, written in `dir`.
fn catalog_with_page_views(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("tables/catalog.json")).unwrap())
            .unwrap();
    let spec = serde_json::to_value(web::PageView::SPEC).unwrap();
    manifest["tables"].as_array_mut().unwrap().push(spec);
    let path = dir.join("catalog.json");
    std::fs::write(&path, manifest.to_string()).unwrap();
    path
}

/// The bench engine `codelake` over `catalog`, in the local environment running
/// for `data_dir`: its warnings, and its answer to each of `queries`.
fn bench_engine(data_dir: &Path, catalog: &Path, queries: &[&str]) -> (String, Vec<String>) {
    let binary = default_plugin_dir().join("codelake-bench-engine");
    assert!(
        binary.exists(),
        "{} is not built: run `cargo build --workspace` (cargo xtask test does)",
        binary.display()
    );
    let mut child = Command::new(binary)
        .args([
            "codelake".as_ref(),
            data_dir.as_os_str(),
            catalog.as_os_str(),
        ])
        .env("CODELAKE_PLUGIN_DIR", default_plugin_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let mut output = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = output.next().unwrap().unwrap();
    assert!(ready.contains("\"engine\":\"codelake\""), "{ready}");
    let mut answers = Vec::new();
    for sql in queries {
        writeln!(input, "{}", serde_json::json!({ "sql": sql })).unwrap();
        answers.push(output.next().unwrap().unwrap());
    }
    drop(input);
    let finished = child.wait_with_output().unwrap();
    assert!(finished.status.success(), "{}", stderr(&finished));
    (stderr(&finished), answers)
}

/// Stops the local environment of a directory when dropped, so that a failed
/// assertion leaves no server running.
struct LocalDown<'a>(&'a Path);

impl Drop for LocalDown<'_> {
    fn drop(&mut self) {
        let output = run(self.0, &["local", "down"]);
        if !std::thread::panicking() {
            assert_ok(&output);
        }
    }
}

#[test]
fn the_first_tables_tutorial_seeds_queries_verifies_and_benches() {
    let text = tutorial();
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog_with_page_views(dir.path());
    let catalog = catalog.to_str().unwrap();
    let fixtures = dir.path().join("tables/fixtures");
    let data_dir = dir.path().join(".codelake/local");

    // Before the fixture: the table is named, with the file to add, and
    // nothing else is held up.
    let empty = dir.path().join("no-fixtures");
    std::fs::create_dir_all(&empty).unwrap();
    let output = run(
        dir.path(),
        &[
            "data",
            "seed",
            "--catalog",
            catalog,
            "--fixtures",
            empty.to_str().unwrap(),
        ],
    );
    assert_ok(&output);
    assert!(
        stderr(&output).contains("no sample data for `web.page_views`"),
        "{}",
        stderr(&output)
    );
    let output = run(
        dir.path(),
        &[
            "verify",
            "--catalog",
            catalog,
            "--table",
            "web.page_views",
            "--table",
            "tpch.region",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("web/page_views.csv ("),
        "{}",
        stdout(&output)
    );
    // The bench engine names it and measures the rest (the bench smoke's path).
    assert_ok(&run(dir.path(), &["local", "up"]));
    let local = LocalDown(dir.path());
    let (warnings, answers) = bench_engine(
        &data_dir,
        Path::new(catalog),
        &["SELECT count(*) FROM tpch.region"],
    );
    assert!(warnings.contains("web.page_views"), "{warnings}");
    assert!(answers[0].contains(r#""rows":[["5"]]"#), "{answers:?}");

    // Step 3: the fixture, as the tutorial writes it.
    let fixture = block(&text, "Create `tables/fixtures/web/page_views.csv`:", "csv");
    std::fs::create_dir_all(fixtures.join("web")).unwrap();
    std::fs::write(fixtures.join("web/page_views.csv"), &fixture).unwrap();
    let seed = |dir: &Path| {
        codelake(dir)
            .args(["data", "seed", "--catalog", catalog, "--fixtures"])
            .arg(&fixtures)
            .output()
            .unwrap()
    };
    let output = seed(dir.path());
    assert_ok(&output);
    assert!(stderr(&output).contains("1 fixture"), "{}", stderr(&output));
    // Written in the table's own format: its declared `;`.
    let written = std::fs::read_to_string(data_dir.join("web/page_views.csv")).unwrap();
    assert!(
        written.starts_with("view_id;viewed_at;path;seconds_on_page\n"),
        "{written}"
    );

    // The tutorial's `cargo xtask verify --table web.page_views` passes.
    let output = run(
        dir.path(),
        &["verify", "--catalog", catalog, "--table", "web.page_views"],
    );
    assert_ok(&output);
    assert!(
        stdout(&output).contains("1 table in environment `local`: 1 passed"),
        "{}",
        stdout(&output)
    );

    // The tutorial's query, through the bench engine over the same catalog.
    let (_, answers) = bench_engine(
        &data_dir,
        Path::new(catalog),
        &["SELECT path, seconds_on_page FROM web.page_views ORDER BY view_id"],
    );
    assert!(
        answers[0].contains(r#""rows":[["/pricing","42.5"],["/docs","NULL"],["/","8.0"]]"#),
        "{answers:?}"
    );
    drop(local);

    // The error the tutorial quotes for a value that does not parse, word for word.
    let quoted = block(
        &text,
        "does not parse names the fixture's file and line:",
        "text",
    );
    std::fs::write(
        fixtures.join("web/page_views.csv"),
        fixture.replacen("2026-11-30T09:16:10Z", "soon", 1),
    )
    .unwrap();
    let output = seed(dir.path());
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    for line in quoted.lines() {
        assert!(
            stderr(&output).contains(line),
            "{TUTORIAL} quotes {line:?}, but `data seed` says:\n{}",
            stderr(&output)
        );
    }
}
