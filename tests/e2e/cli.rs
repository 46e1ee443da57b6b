//! The real `codelake` binary, driven as a user would, against the embedded
//! local environment and against a credential-protected S3 server standing in
//! for production.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use catalog_env::local::{FEDERATED_QUERY, FX_RATES, PART_QUERY};
use catalog_runtime::default_plugin_dir;

use crate::s3::{S3Server, SECRET_KEY};

/// The `codelake` binary beside the plugins; fails with the fix if it is not built.
pub(crate) fn binary() -> PathBuf {
    let path = default_plugin_dir().join(format!("codelake{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace` (cargo xtask test does)",
        path.display()
    );
    path
}

/// `codelake ARGS` in `dir`, with none of the caller's codelake or AWS
/// variables, and `dir` as its home: nothing it writes may land outside the
/// test's temporary directory.
pub(crate) fn codelake(dir: &Path) -> Command {
    let mut command = Command::new(binary());
    command.current_dir(dir);
    for (name, _) in std::env::vars() {
        if name.starts_with("CODELAKE_") || name.starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command
        .env("CODELAKE_PLUGIN_DIR", default_plugin_dir())
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join(".config"))
        .env("XDG_CACHE_HOME", dir.join(".cache"));
    command
}

/// `codelake` in `dir` in profile `production`, reading bucket `lake-prod` of
/// `server` with the test access key and `secret`.
pub(crate) fn production(dir: &Path, server: &S3Server, secret: &str) -> Command {
    let mut command = codelake(dir);
    command
        .env("CODELAKE_ENV", "production")
        .env("CODELAKE_S3_ENDPOINT", &server.endpoint)
        .env("CODELAKE_S3_BUCKET", "lake-prod")
        .env("CODELAKE_S3_ACCESS_KEY_ID", crate::s3::ACCESS_KEY)
        .env("CODELAKE_S3_SECRET_ACCESS_KEY", secret);
    command
}

pub(crate) fn run(dir: &Path, args: &[&str]) -> Output {
    codelake(dir).args(args).output().unwrap()
}

/// `codelake sql` as a shell, with `input` typed into it.
fn shell(dir: &Path, input: &[u8]) -> Output {
    let mut child = codelake(dir)
        .arg("sql")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

pub(crate) fn assert_ok(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        stdout(output),
        stderr(output)
    );
}

/// A fresh project directory, seeded once at the default scale.
pub(crate) fn seeded_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    assert_ok(&run(dir.path(), &["data", "seed"]));
    dir
}

#[test]
fn the_seed_query_prints_the_part_table_with_column_types() {
    let dir = tempfile::tempdir().unwrap();
    // No seed first: `sql` seeds an empty local environment by itself.
    let output = run(dir.path(), &["sql", PART_QUERY]);
    assert_ok(&output);
    assert!(
        stderr(&output).contains("no sample data yet"),
        "{}",
        stderr(&output)
    );
    insta::assert_snapshot!("seed_query", stdout(&output));
}

/// One query opens only the plugins of the tables it reads: a library that
/// would fail to load is never opened by a query that does not need it, and
/// is reported by one that reads the whole catalog.
#[test]
fn one_query_opens_only_the_plugins_of_the_tables_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    for def in catalog_core::source::SOURCES {
        let file = codelake_plugin_abi::library_file_name(def.plugin);
        let link = plugins.join(&file);
        if !link.exists() {
            std::os::unix::fs::symlink(default_plugin_dir().join(&file), link).unwrap();
        }
    }
    let broken = plugins.join(codelake_plugin_abi::library_file_name("broken"));
    std::fs::write(&broken, "not a library").unwrap();
    let sql = |query: &str| {
        codelake(dir.path())
            .env("CODELAKE_PLUGIN_DIR", &plugins)
            .args(["sql", "--format", "csv", query])
            .output()
            .unwrap()
    };

    let one = sql("SELECT count(*) FROM tpch.region");
    assert_ok(&one);
    assert_eq!(stdout(&one), "count(*)\n5\n");
    assert!(!stderr(&one).contains("broken"), "{}", stderr(&one));

    let view = sql("SELECT count(*) FROM tpch.price_tiers_local");
    assert_ok(&view);
    assert!(!stderr(&view).contains("broken"), "{}", stderr(&view));

    let every = sql("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'tpch'");
    assert_ok(&every);
    let warned = stderr(&every);
    assert!(
        warned.contains(&format!("warning: plugin {}", broken.display())),
        "{warned}"
    );
}

/// A query that opens with a `--` comment, as saved queries often do, is a
/// query, not an unknown flag: before or after the options, and after `--`.
#[test]
fn a_query_may_start_with_a_comment() {
    let dir = seeded_project();
    for args in [
        &[
            "sql",
            "-- the count\nSELECT count(*) AS n FROM tpch.region",
            "--format",
            "csv",
        ][..],
        &[
            "sql",
            "--format",
            "csv",
            "-- the count\nSELECT count(*) AS n FROM tpch.region",
        ],
        &[
            "sql",
            "--format",
            "csv",
            "--",
            "-- the count\nSELECT count(*) AS n FROM tpch.region",
        ],
    ] {
        let output = run(dir.path(), args);
        assert_ok(&output);
        assert_eq!(stdout(&output), "n\n5\n", "{args:?}");
    }
    // An unknown flag is still one.
    let output = run(dir.path(), &["sql", "--bogus"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("unexpected argument '--bogus'"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_federated_query_agrees_with_values_computed_from_the_generators() {
    let dir = seeded_project();
    let output = run(dir.path(), &["sql", "--format", "json", FEDERATED_QUERY]);
    assert_ok(&output);
    let got: Vec<(String, String, String, i64, f64)> = stdout(&output)
        .lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                row["nation"].as_str().unwrap().to_owned(),
                row["currency"].as_str().unwrap().to_owned(),
                row["tier"].as_str().unwrap().to_owned(),
                row["parts"].as_i64().unwrap(),
                row["avg_price_local"].as_f64().unwrap(),
            )
        })
        .collect();

    // The same answer from tpchgen's rows, the local API's rates and the
    // tier bounds, without DataFusion, Parquet, CSV or HTTP.
    use tpchgen::generators::{
        NationGenerator, PartGenerator, PartSuppGenerator, RegionGenerator, SupplierGenerator,
    };
    let scale = 0.01;
    let europe = RegionGenerator::new(scale, 1, 1)
        .iter()
        .find(|region| region.r_name == "EUROPE")
        .unwrap()
        .r_regionkey;
    let nations: BTreeMap<i64, String> = NationGenerator::new(scale, 1, 1)
        .iter()
        .filter(|nation| nation.n_regionkey == europe)
        .map(|nation| (nation.n_nationkey, nation.n_name.to_owned()))
        .collect();
    let supplier_nation: BTreeMap<i64, i64> = SupplierGenerator::new(scale, 1, 1)
        .iter()
        .map(|supplier| (supplier.s_suppkey, supplier.s_nationkey))
        .collect();
    let price_cents: BTreeMap<i64, i64> = PartGenerator::new(scale, 1, 1)
        .iter()
        .map(|part| (part.p_partkey, part.p_retailprice.0))
        .collect();
    let mut groups: BTreeMap<(String, &str, &str, i64), (i64, i64)> = BTreeMap::new();
    for partsupp in PartSuppGenerator::new(scale, 1, 1).iter() {
        let nation = supplier_nation[&partsupp.ps_suppkey];
        let Some(name) = nations.get(&nation) else {
            continue;
        };
        let Some((currency, _, _)) = FX_RATES.iter().find(|(_, _, key)| *key == Some(nation))
        else {
            continue; // no rate, no row (an inner join)
        };
        let cents = price_cents[&partsupp.ps_partkey];
        let (tier, order) = match cents {
            ..120_000 => ("budget", 0),
            120_000..160_000 => ("standard", 1),
            _ => ("premium", 2),
        };
        let group = groups
            .entry((name.clone(), currency, tier, order))
            .or_default();
        group.0 += 1;
        group.1 += cents;
    }
    let mut expected: Vec<_> = groups.into_iter().collect();
    expected.sort_by(|a, b| (&a.0.0, a.0.3).cmp(&(&b.0.0, b.0.3)));
    assert_eq!(got.len(), expected.len(), "{got:?}");
    assert!(!expected.is_empty());
    for (got, ((nation, currency, tier, _), (count, cents))) in got.iter().zip(&expected) {
        assert_eq!(
            (&got.0, got.1.as_str(), got.2.as_str(), got.3),
            (nation, *currency, *tier, *count)
        );
        let rate = FX_RATES.iter().find(|(c, _, _)| c == currency).unwrap().1;
        let average_local = *cents as f64 / 100.0 / *count as f64 / rate;
        assert!(
            (got.4 - average_local).abs() <= 0.005 + 1e-9 * average_local,
            "{got:?}: expected {average_local}"
        );
    }
}

#[test]
fn csv_output_pipes_and_a_reader_that_stops_early_is_no_error() {
    let dir = seeded_project();
    let mut child = codelake(dir.path())
        .args([
            "sql",
            "--format",
            "csv",
            "SELECT l_orderkey, l_comment FROM tpch.lineitem",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "l_orderkey,l_comment");
    let first = lines.next().unwrap().unwrap();
    let (key, _) = first.split_once(',').unwrap();
    assert!(key.parse::<i64>().is_ok_and(|key| key > 0), "{first}");
    drop(lines); // like `| head -2`
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
}

#[test]
fn parquet_and_json_output_hold_the_rows() {
    let dir = seeded_project();
    let file = dir.path().join("nations.parquet");
    let output = run(
        dir.path(),
        &[
            "sql",
            "--format",
            "parquet",
            "--output",
            file.to_str().unwrap(),
            "SELECT n_nationkey, n_name FROM tpch.nation",
        ],
    );
    assert_ok(&output);
    let reader =
        parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&file).unwrap())
            .unwrap();
    use parquet::file::reader::FileReader;
    assert_eq!(reader.metadata().file_metadata().num_rows(), 25);

    let output = run(
        dir.path(),
        &[
            "sql",
            "-f",
            "json",
            "SELECT r_name FROM tpch.region ORDER BY r_regionkey",
        ],
    );
    assert_ok(&output);
    assert_eq!(
        stdout(&output).lines().next(),
        Some(r#"{"r_name":"AFRICA"}"#)
    );
    assert_eq!(stdout(&output).lines().count(), 5);

    // A table shows its first rows and says how many it left out.
    let output = run(
        dir.path(),
        &[
            "sql",
            "SELECT n_name, r_name FROM tpch.nation CROSS JOIN tpch.region",
        ],
    );
    assert_ok(&output);
    let out = stdout(&output);
    assert!(out.starts_with("shape: (125, 2)"), "{out}");
    assert!(out.contains("… 85 more rows, not shown"), "{out}");
}

/// A file appears whole or not at all: a query that fails while its rows are
/// written leaves an existing output file as it was, and nothing beside it.
#[test]
fn a_query_that_fails_never_destroys_its_output_file() {
    let dir = seeded_project();
    // `r_regionkey = 2` divides by zero, after the first rows are out.
    let failing = "SELECT r_regionkey / (r_regionkey - 2) AS x FROM tpch.region";
    for format in ["parquet", "csv", "json"] {
        let file = dir.path().join(format!("good.{format}"));
        let path = file.to_str().unwrap();
        let good_query = "SELECT * FROM tpch.region";
        assert_ok(&run(
            dir.path(),
            &["sql", "-f", format, "-o", path, good_query],
        ));
        let good = std::fs::read(&file).unwrap();
        assert!(good.len() > 100, "{format}: {} bytes", good.len());

        let output = run(dir.path(), &["sql", "-f", format, "-o", path, failing]);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{format}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("Divide by zero"),
            "{}",
            stderr(&output)
        );
        assert_eq!(
            std::fs::read(&file).unwrap(),
            good,
            "{format}: the file changed"
        );
    }
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".codelake-output-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // An empty result, as CSV, still has the header line `--help` promises.
    let output = run(
        dir.path(),
        &[
            "sql",
            "-f",
            "csv",
            "SELECT r_regionkey, r_name FROM tpch.region WHERE false",
        ],
    );
    assert_ok(&output);
    assert_eq!(stdout(&output), "r_regionkey,r_name\n");
}

/// The catalog is code: no statement drops, shadows or writes a catalog
/// table, and the table still answers in the same session. Ad-hoc tables and
/// local files are the local CLI's documented choice; S3 is not written.
#[test]
fn sql_never_changes_the_catalog() {
    let dir = seeded_project();
    let output = shell(
        dir.path(),
        b"DROP TABLE tpch.region;\nSELECT count(*) AS regions FROM tpch.region;\n",
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains(
            "DROP TABLE `tpch.region`: `tpch` is a database of the catalog, which is code"
        ),
        "{err}"
    );
    assert!(stdout(&output).contains("│ 5 "), "{}", stdout(&output));

    for (sql, expected) in [
        (
            "CREATE TABLE tpch.part AS SELECT 1 AS p_partkey",
            "CREATE TABLE `tpch.part`: `tpch` is a database of the catalog",
        ),
        (
            "INSERT INTO tpch.region VALUES (9, 'X', 'y')",
            "writing `tpch.region`: it is a catalog table",
        ),
        (
            "COPY (SELECT 1 AS a) TO 's3://codelake/out.parquet'",
            "writes local files only",
        ),
    ] {
        let output = run(dir.path(), &["sql", sql]);
        assert_eq!(output.status.code(), Some(1), "{sql}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(expected),
            "{sql}: {}",
            stderr(&output)
        );
        assert!(
            !stderr(&output).contains("Internal error"),
            "{}",
            stderr(&output)
        );
    }

    // Outside the catalog: a scratch table and a local file, as datafusion-cli allows.
    let output = run(
        dir.path(),
        &[
            "sql",
            "CREATE TABLE scratch AS SELECT 1 AS a; COPY scratch TO 'scratch.csv'",
        ],
    );
    assert_ok(&output);
    let copied = std::fs::read_to_string(dir.path().join("scratch.csv")).unwrap();
    assert_eq!(copied, "a\n1\n");
}

/// Whether `dir` holds a temporary output file (`.codelake-output-*`).
pub(crate) fn writing_output(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().flatten().any(|entry| {
        entry
            .file_name()
            .to_string_lossy()
            .starts_with(".codelake-output-")
    })
}

/// `command` (a `codelake` in `dir`) runs a long query into `out.csv`, which
/// holds `kept` before; it gets SIGINT once it writes: its output, and
/// whether it ever started writing.
pub(crate) fn interrupt_while_writing(mut command: Command, dir: &Path) -> (Output, bool) {
    std::fs::write(dir.join("out.csv"), "kept\n").unwrap();
    let child = command
        .args([
            "sql",
            "-f",
            "csv",
            "-o",
            "out.csv",
            "SELECT max(a.l_orderkey + b.l_orderkey) FROM tpch.lineitem a CROSS JOIN tpch.lineitem b",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Long enough to be inside the query: the temporary file exists by then.
    let started = std::time::Instant::now();
    while !writing_output(dir) && started.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let started_writing = writing_output(dir);
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    (child.wait_with_output().unwrap(), started_writing)
}

/// Ctrl-C stops a query: exit 130, and an output file left as it was, with
/// no temporary file beside it.
#[test]
fn ctrl_c_stops_a_query_and_leaves_the_output_file_as_it_was() {
    let dir = seeded_project();
    let (output, started_writing) = interrupt_while_writing(codelake(dir.path()), dir.path());
    assert!(started_writing, "the query never started writing");
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("interrupted (Ctrl-C)"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.csv")).unwrap(),
        "kept\n"
    );
    assert!(
        !writing_output(dir.path()),
        "a temporary file was left behind"
    );
}

/// Several statements run in order, as in the shell: a setting applies to the
/// statements after it, and each result is written in turn.
#[test]
fn several_statements_run_in_order() {
    let dir = seeded_project();
    let sql = "SET datafusion.sql_parser.enable_ident_normalization = false; \
               SELECT 1 AS Upper; SELECT count(*) AS n FROM tpch.region";
    // A table on the terminal shows each result.
    let output = run(dir.path(), &["sql", sql]);
    assert_ok(&output);
    let out = stdout(&output);
    assert!(out.contains("│ Upper │"), "{out}");
    assert!(out.lines().any(|line| line.starts_with("│ 5 ")), "{out}");
    // A machine format holds one result, the last, so it stays one valid stream.
    let output = run(dir.path(), &["sql", "-f", "csv", sql]);
    assert_ok(&output);
    assert_eq!(stdout(&output), "n\n5\n");

    // A file whose last statement returns no rows is refused and kept as it was.
    let file = dir.path().join("kept.csv");
    std::fs::write(&file, "kept\n").unwrap();
    let output = run(
        dir.path(),
        &[
            "sql",
            "-f",
            "csv",
            "-o",
            "kept.csv",
            "SELECT 1; SET datafusion.execution.batch_size = 10",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("the last statement returns no rows"),
        "{}",
        stderr(&output)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "kept\n");
    // A special file is written through, not replaced.
    assert_ok(&run(
        dir.path(),
        &["sql", "-f", "csv", "-o", "/dev/null", "SELECT 1"],
    ));
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

#[test]
fn the_shell_runs_statements_over_several_lines() {
    let dir = seeded_project();
    let output = shell(
        dir.path(),
        b"SELECT count(*) AS regions\n  FROM tpch.region;\n\\q\n",
    );
    assert_ok(&output);
    let out = stdout(&output);
    assert!(out.contains("regions"), "{out}");
    assert!(out.contains("│ 5 "), "{out}");

    // Piped statements are a script, not history: nothing is saved, in the
    // home the shell was given or anywhere else.
    assert!(
        !dir.path().join(".codelake_history").exists(),
        "piped statements were saved as history"
    );

    // A script whose statement fails fails, after running the others.
    let output = shell(
        dir.path(),
        b"SELECT * FROM tpch.nope;\nSELECT 41 + 1 AS answer;\n",
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stdout(&output).contains("42"), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("1 statement(s) failed"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn mistakes_get_the_fix_and_a_documented_exit_code() {
    let dir = seeded_project();
    let output = run(dir.path(), &["sql", "SELECT * FROM tpch.prat"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("did you mean `tpch.part`"),
        "{}",
        stderr(&output)
    );

    // A syntax error is said once, in words, not as Rust `Debug`.
    let output = run(dir.path(), &["sql", "SELEC 1"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.starts_with("error: SQL syntax error: Expected: an SQL statement, found: SELEC"),
        "{err}"
    );
    assert_eq!(err.matches("found: SELEC").count(), 1, "{err}");
    assert!(!err.contains("ParserError"), "{err}");

    // A plugin's error names the table and the object, without the FFI
    // boundary it crossed, on one line.
    let part = dir
        .path()
        .join(".codelake/local/s3/codelake/tpch/part.parquet");
    let good = std::fs::read(&part).unwrap();
    std::fs::write(&part, &good[..100]).unwrap();
    let output = run(dir.path(), &["sql", "SELECT count(*) FROM tpch.part"]);
    std::fs::write(&part, &good).unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("error: table `tpch.part` (plugin `s3-parquet`, `s3://codelake/tpch/part.parquet`): \
             s3://codelake/tpch/part.parquet is corrupt: it is not readable Parquet (Invalid Parquet file. Corrupt footer); \
             rewrite it or remove it"),
        "{err}"
    );
    assert!(!err.contains("FFI error"), "{err}");
    assert!(!err.contains("Parquet error: Parquet error"), "{err}");

    let output = run(dir.path(), &["describe", "tpch.lineitems"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("`tpch.lineitem`"),
        "{}",
        stderr(&output)
    );

    let output = codelake(dir.path())
        .env("CODELAKE_ENV", "prod")
        .args(["sql", "SELECT 1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("no profile `prod` (chosen by CODELAKE_ENV)"),
        "{}",
        stderr(&output)
    );

    let output = run(dir.path(), &["sql", "--format", "xml", "SELECT 1"]);
    assert_eq!(output.status.code(), Some(2));

    // No plugins: a query that reads a table says where it looked and how to
    // build them; a query that reads none needs none.
    let no_plugins = |query: &str| {
        codelake(dir.path())
            .args(["--plugin-dir", dir.path().to_str().unwrap(), "sql", query])
            .output()
            .unwrap()
    };
    let output = no_plugins("SELECT count(*) FROM tpch.region");
    assert_eq!(output.status.code(), Some(4));
    assert!(
        stderr(&output).contains("no source plugins"),
        "{}",
        stderr(&output)
    );
    assert_ok(&no_plugins("SELECT 1"));
}

#[test]
fn describe_and_tables_read_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), &["describe", "tpch.part"]);
    assert_ok(&output);
    let out = stdout(&output);
    for expected in [
        "tables::tpch::Part",
        "s3://codelake/tpch/part.parquet",
        "data-platform@codelake.dev",
        "freshness:  24h",
        "contract:   version 1 (`codelake diff` checks changes to it)",
        "p_retailprice",
        "Decimal128(15, 2)",
        "Decimal<15, 2>",
        "Part key, the primary key",
    ] {
        assert!(out.contains(expected), "{expected} missing from\n{out}");
    }
    let output = run(dir.path(), &["tables", "--format", "json"]);
    assert_ok(&output);
    assert_eq!(stdout(&output).lines().count(), tables::REGISTRY.len());
    // Reading the catalog needs no environment: nothing was started or written.
    assert!(!dir.path().join(".codelake").exists());
}

/// `describe` and the generated reference page name each column's types in
/// the same words: the Arrow type (what SQL and `verify` say) and the Rust
/// field type (what code against the registry writes).
#[test]
fn describe_and_the_reference_docs_name_every_column_type_alike() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    for spec in tables::REGISTRY.tables() {
        let output = run(dir.path(), &["describe", &spec.qualified_name()]);
        assert_ok(&output);
        let described = described_types(&stdout(&output));
        let page = std::fs::read_to_string(
            root.join(format!("docs/reference/catalog/{}.md", spec.database)),
        )
        .unwrap();
        let documented = documented_types(&page, &spec.name);
        assert_eq!(
            described,
            documented,
            "`codelake describe {}` (left) and docs/reference/catalog/{}.md (right) name the types differently",
            spec.qualified_name(),
            spec.database
        );
        assert_eq!(described.len(), spec.columns.len(), "{}", spec.name);
    }
}

/// Each column's (type, rust type) cells in `describe`'s boxed table, a cell
/// wrapped over several lines joined again.
fn described_types(text: &str) -> Vec<(String, String, String)> {
    let mut rows: Vec<(String, String, String)> = Vec::new();
    for line in text.lines().filter(|line| line.starts_with('│')) {
        let cells: Vec<&str> = line.trim_matches('│').split('┆').map(str::trim).collect();
        match (cells.as_slice(), rows.last_mut()) {
            (["column", ..], _) => {}
            ([name, ty, rust, ..], _) if !name.is_empty() => {
                rows.push((name.to_string(), ty.to_string(), rust.to_string()));
            }
            ([_, ty, rust, ..], Some(row)) => {
                for (cell, more) in [(&mut row.1, ty), (&mut row.2, rust)] {
                    if !more.is_empty() {
                        cell.push(' ');
                        cell.push_str(more);
                    }
                }
            }
            _ => panic!("not a row of describe's table: {line}\n{text}"),
        }
    }
    rows
}

/// Each column's (type, rust type) cells in the reference page's section on `table`.
fn documented_types(page: &str, table: &str) -> Vec<(String, String, String)> {
    let section = page
        .split(&format!("\n## `{table}`\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("no section for `{table}`"));
    let section = section.split("\n## ").next().unwrap();
    let code = |cell: &str| cell.trim().trim_matches('`').to_owned();
    section
        .lines()
        .skip_while(|line| !line.starts_with("| Column |"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').collect();
            (code(cells[1]), code(cells[2]), code(cells[3]))
        })
        .collect()
}

/// With nothing drifted, `new-table --table` prints each declared struct as
/// `tables/src` declares it (its name, docs, attributes, checks and column
/// order), so that a diff against the declaration shows only real changes.
#[test]
fn new_table_of_a_declared_table_prints_its_declaration_when_nothing_drifted() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    for spec in tables::REGISTRY
        .database("tpch")
        .filter(|spec| !spec.is_view())
    {
        let output = run(
            dir.path(),
            &["new-table", "--table", &spec.qualified_name()],
        );
        assert_ok(&output);
        let printed = stdout(&output);
        // After the `use` lines, which follow the module's, not the struct's.
        let (_, printed) = printed.split_once("\n\n").unwrap();
        let mut path: Vec<&str> = spec.rust_type.split("::").skip(1).collect();
        let name = path.pop().unwrap();
        let module = std::fs::read_to_string(
            root.join("tables/src")
                .join(format!("{}.rs", path.join("/"))),
        )
        .unwrap();
        let start = module.find(&format!("\npub struct {name} {{\n")).unwrap();
        let end = start + module[start..].find("\n}\n").unwrap() + 2;
        let start = module[..start].rfind("\n\n").unwrap() + 2;
        assert_eq!(
            same_bounds(printed.trim_end()),
            same_bounds(&module[start..end]),
            "`codelake new-table --table {}` (left) differs from its declaration (right)",
            spec.qualified_name()
        );
        assert!(
            stderr(&output).contains(&format!("{} as its source has it now", spec.rust_type)),
            "{}",
            stderr(&output)
        );
    }
}

/// `text` with each `min = …` / `max = …` bound written as the number it is:
/// a spec keeps `0.10` as the number 0.1, not as it was spelled.
fn same_bounds(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        match line.trim_start().strip_prefix("#[column(") {
            Some(keys) => {
                let keys: Vec<String> = keys
                    .trim_end_matches(")]")
                    .split(", ")
                    .map(|key| match key.split_once(" = ") {
                        Some((bound @ ("min" | "max"), value)) => {
                            format!("{bound} = {}", value.parse::<f64>().unwrap())
                        }
                        _ => key.to_owned(),
                    })
                    .collect();
                out.push_str(&format!("    #[column({})]", keys.join(", ")));
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[test]
fn seeding_is_idempotent_safe_to_run_concurrently_and_keeps_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    // Someone else's nation file is already where the catalog reads it.
    let nation = dir.path().join(".codelake/local/tpch/nation.csv");
    std::fs::create_dir_all(nation.parent().unwrap()).unwrap();
    let theirs = "n_nationkey|n_name|n_regionkey|n_comment\n0|ATLANTIS|0|ours, not seed's\n";
    std::fs::write(&nation, theirs).unwrap();

    let children: Vec<_> = (0..2)
        .map(|_| {
            codelake(dir.path())
                .args(["data", "seed"])
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut kept = 0;
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert_ok(&output);
        kept += stderr(&output).matches("warning: kept").count();
    }
    assert!(kept >= 1, "the foreign file was not reported");
    assert_eq!(std::fs::read_to_string(&nation).unwrap(), theirs);

    let output = run(dir.path(), &["data", "seed"]);
    assert_ok(&output);
    assert!(
        stderr(&output).contains("nothing to generate"),
        "{}",
        stderr(&output)
    );
    let output = run(
        dir.path(),
        &[
            "sql",
            "-f",
            "csv",
            "SELECT count(*) AS n FROM tpch.lineitem",
        ],
    );
    assert_ok(&output);
    let rows: i64 = stdout(&output).lines().nth(1).unwrap().parse().unwrap();
    let expected = tpchgen::generators::LineItemGenerator::new(0.01, 1, 1)
        .iter()
        .count() as i64;
    assert_eq!(rows, expected);
}

#[test]
fn local_up_status_down_leave_nothing_running() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), &["local", "status"]);
    assert_eq!(output.status.code(), Some(1));

    let output = run(dir.path(), &["local", "up"]);
    assert_ok(&output);
    let out = stdout(&output);
    assert!(out.contains("AWS_ENDPOINT_URL=http://127.0.0.1:"), "{out}");
    let pid: u32 = out
        .split("(pid ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap()
        .parse()
        .unwrap();
    assert_ok(&run(dir.path(), &["local", "status"]));
    // Queries use the running environment.
    let output = run(
        dir.path(),
        &[
            "sql",
            "-f",
            "csv",
            "SELECT count(*) FROM tpch.exchange_rates",
        ],
    );
    assert_ok(&output);
    assert_eq!(
        stdout(&output).lines().nth(1),
        Some(FX_RATES.len().to_string().as_str())
    );

    assert_ok(&run(dir.path(), &["local", "down"]));
    assert!(
        !Path::new("/proc").join(pid.to_string()).exists(),
        "pid {pid} still runs"
    );
    assert_eq!(run(dir.path(), &["local", "status"]).status.code(), Some(1));
}

/// Two `local up` at once: one starts the environment, the other finds it
/// running and says so with its addresses; both succeed, and the log is the
/// one server's alone.
#[test]
fn two_local_ups_at_once_start_one_environment() {
    let dir = tempfile::tempdir().unwrap();
    let spawn = || {
        codelake(dir.path())
            .args(["local", "up"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(), spawn());
    let outputs = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ];
    let stopped = run(dir.path(), &["local", "down"]);
    for output in &outputs {
        assert_ok(output);
        assert!(
            stdout(output).contains("AWS_ENDPOINT_URL=http://127.0.0.1:"),
            "{}",
            stdout(output)
        );
    }
    let already = outputs
        .iter()
        .filter(|output| stderr(output).contains("Already running."))
        .count();
    assert_eq!(already, 1, "exactly one found the other's environment");
    assert_ok(&stopped);
    let log = std::fs::read_to_string(dir.path().join(".codelake/local/local.log")).unwrap();
    assert_eq!(log.matches("Serving until").count(), 1, "{log}");
}

/// An S3 endpoint that accepts connections and never answers fails the
/// query within the configured timeouts (not object_store's three minutes of
/// retries), naming the endpoint and the variable to set.
#[test]
fn a_silent_s3_endpoint_fails_within_the_timeouts_naming_it() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    // Accepts every connection and holds it, silent, until the test ends.
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().collect();
        drop(held);
    });
    let dir = tempfile::tempdir().unwrap();
    let output = codelake(dir.path())
        .env("CODELAKE_ENV", "production")
        .env("CODELAKE_S3_ENDPOINT", &endpoint)
        .env("CODELAKE_S3_CONNECT_TIMEOUT", "1s")
        .env("CODELAKE_S3_REQUEST_TIMEOUT", "1s")
        .args(["sql", "SELECT count(*) FROM tpch.part"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains(&format!(
            "the S3 endpoint {endpoint} did not answer within 1s, the environment's S3 request timeout"
        )),
        "{err}"
    );
    assert!(
        err.contains(
            "raise CODELAKE_S3_REQUEST_TIMEOUT (or `s3.request_timeout` of profile `production`"
        ),
        "{err}"
    );

    // A timeout that is not a duration is a configuration error naming the variable.
    let output = codelake(dir.path())
        .env("CODELAKE_ENV", "production")
        .env("CODELAKE_S3_REQUEST_TIMEOUT", "soon")
        .args(["sql", "SELECT 1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("CODELAKE_S3_REQUEST_TIMEOUT / s3.request_timeout"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_reads_a_credentialed_s3_server_and_never_prints_the_secret() {
    let server = S3Server::start().await;
    // The part table, written where production keeps it (bucket `lake-prod`).
    let part = tpchgen_arrow::PartArrow::new(tpchgen::generators::PartGenerator::new(0.001, 1, 1))
        .map(Result::unwrap)
        .map(|batch| {
            // The catalog declares `Utf8`; tpchgen makes views.
            let schema = <tables::tpch::Part as catalog_core::Table>::SPEC.arrow_schema();
            let columns = batch
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(column, field)| {
                    datafusion::arrow::compute::cast(column, field.data_type()).unwrap()
                })
                .collect();
            datafusion::arrow::array::RecordBatch::try_new(std::sync::Arc::new(schema), columns)
                .unwrap()
        })
        .collect::<Vec<_>>();
    let batch = datafusion::arrow::compute::concat_batches(&part[0].schema(), &part).unwrap();
    crate::support::write_parquet(
        &server.object_path("lake-prod", "tpch/part.parquet"),
        &batch,
    );

    let dir = tempfile::tempdir().unwrap();
    let production = |secret: &str| {
        let mut command = production(dir.path(), &server, secret);
        command.args(["sql", "-f", "csv", "SELECT count(*) AS n FROM tpch.part"]);
        tokio::task::spawn_blocking(move || command.output().unwrap())
    };

    let output = production(SECRET_KEY).await.unwrap();
    assert_ok(&output);
    assert_eq!(stdout(&output), format!("n\n{}\n", batch.num_rows()));

    let wrong = "wrong-secret-that-must-not-appear";
    let output = production(wrong).await.unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("tpch.part"), "{err}");
    // The bucket really read, not the one the table declares.
    assert!(err.contains("`s3://lake-prod/tpch/part.parquet`"), "{err}");
    assert!(!err.contains("s3://codelake/"), "{err}");
    assert!(
        err.contains("set CODELAKE_S3_ACCESS_KEY_ID and CODELAKE_S3_SECRET_ACCESS_KEY"),
        "{err}"
    );
    assert!(
        err.contains("S3 refused the credentials of environment `production`"),
        "{err}"
    );
    assert!(
        !err.contains(wrong) && !stdout(&output).contains(wrong),
        "{err}"
    );
    assert!(!err.contains(SECRET_KEY), "{err}");
    // An endpoint nobody listens on: the environment and the variable to set.
    let output = codelake(dir.path())
        .env("CODELAKE_ENV", "production")
        .env("CODELAKE_S3_ENDPOINT", "http://127.0.0.1:1")
        .args(["sql", "SELECT count(*) FROM tpch.part"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let err = stderr(&output);
    assert!(
        err.contains("environment `production` cannot reach its S3 endpoint (http://127.0.0.1:1): check that it is up, or set CODELAKE_S3_ENDPOINT"),
        "{err}"
    );

    // Production never starts embedded servers nor writes a local environment.
    assert!(!dir.path().join(".codelake").exists());
}

#[test]
fn the_configuration_reference_documents_every_variable_read() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let doc = std::fs::read_to_string(root.join("docs/reference/configuration.md")).unwrap();
    let mut known: Vec<&str> = catalog_env::config::VARIABLES
        .iter()
        .map(|variable| variable.name)
        .collect();
    known.push(catalog_runtime::PLUGIN_DIR_VAR);
    known.push(catalog_runtime::CACHE_VAR);
    known.push(catalog_runtime::HOST_SCANS_VAR);
    known.push(catalog_runtime::accelerate::MEMORY_VAR);
    // The credential variables tables read (`auth_env`).
    let auth: Vec<&str> = tables::REGISTRY
        .tables()
        .filter_map(|spec| spec.option("auth_env"))
        .collect();
    known.extend(&auth);
    for name in &known {
        assert!(
            doc.contains(&format!("| `{name}` |")),
            "{name} is not in the variables table"
        );
    }
    // And the page names no variable that nothing reads.
    for word in doc.split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')) {
        if word.starts_with("CODELAKE_") && word != "CODELAKE_" {
            assert!(
                known.contains(&word),
                "the page names {word}, which nothing reads"
            );
        }
    }
}

/// `dir/fixtures/<path>` for each `(path, text)`: a fixtures directory inside the test's temp dir.
fn fixtures(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    let root = dir.join("fixtures");
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    root
}

/// A fixture replaces the generated data, in the table's own format (CSV with its
/// declared delimiter, Parquet through S3), and is written again only when it changes.
#[test]
fn a_fixture_replaces_generated_data_in_the_tables_own_format() {
    let dir = tempfile::tempdir().unwrap();
    let region =
        "r_comment,r_name,r_regionkey\n\"sunk, long ago\",ATLANTIS,0\nfar east,LEMURIA,1\n";
    let supplier = "s_suppkey,s_name,s_address,s_nationkey,s_phone,s_acctbal,s_comment\n\
                    7,Supplier#7,Quay 1,0,10-100,-12.50,reliable\n";
    let root = fixtures(
        dir.path(),
        &[("tpch/region.csv", region), ("tpch/supplier.csv", supplier)],
    );
    let root = root.to_str().unwrap();
    let output = run(dir.path(), &["data", "seed", "--fixtures", root]);
    assert_ok(&output);
    assert!(
        stderr(&output).contains("Seeded 9 tables") && stderr(&output).contains("2 fixtures"),
        "{}",
        stderr(&output)
    );
    let query = |sql: &str| {
        let output = run(dir.path(), &["sql", sql, "--format", "csv"]);
        assert_ok(&output);
        stdout(&output)
    };
    assert_eq!(
        query("SELECT r_name FROM tpch.region ORDER BY 1"),
        "r_name\nATLANTIS\nLEMURIA\n"
    );
    assert_eq!(
        query("SELECT s_suppkey, s_acctbal FROM tpch.supplier"),
        "s_suppkey,s_acctbal\n7,-12.50\n"
    );
    // The table's own dialect: `|`, its declared delimiter, and its declared column order.
    let written =
        std::fs::read_to_string(dir.path().join(".codelake/local/tpch/region.csv")).unwrap();
    assert_eq!(
        written,
        "r_regionkey|r_name|r_comment\n0|ATLANTIS|sunk, long ago\n1|LEMURIA|far east\n"
    );

    // The same fixtures: nothing to do. A changed fixture: that table again, only.
    let output = run(dir.path(), &["data", "seed", "--fixtures", root]);
    assert_ok(&output);
    assert!(
        stderr(&output).contains("nothing to generate"),
        "{}",
        stderr(&output)
    );
    std::fs::write(
        dir.path().join("fixtures/tpch/region.csv"),
        format!("{region}note,MU,2\n"),
    )
    .unwrap();
    let output = run(dir.path(), &["data", "seed", "--fixtures", root]);
    assert_ok(&output);
    assert!(
        stderr(&output).contains("Seeded 1 table (3 rows, 1 fixture)"),
        "{}",
        stderr(&output)
    );
    assert_eq!(query("SELECT count(*) AS n FROM tpch.region"), "n\n3\n");

    // Without the fixtures, the generator's data comes back.
    let output = run(dir.path(), &["data", "seed"]);
    assert_ok(&output);
    assert!(
        stderr(&output).contains("Seeded 2 tables"),
        "{}",
        stderr(&output)
    );
    assert_eq!(query("SELECT count(*) AS n FROM tpch.region"), "n\n5\n");
}

/// A bad fixture names its file, and its line, with the fix; it fails the
/// command (exit 1) but not the other tables, and a second seed says so again.
#[test]
fn a_bad_fixture_is_named_with_its_line_and_the_other_tables_are_seeded() {
    let dir = tempfile::tempdir().unwrap();
    let root = fixtures(
        dir.path(),
        &[
            (
                "tpch/region.csv",
                "r_regionkey,r_name,r_note\n0,ATLANTIS,x\n",
            ),
            (
                "tpch/nation.csv",
                "n_nationkey,n_name,n_regionkey,n_comment\n0,ALGERIA,0,ok\nseven,BRAZIL,1,ok\n",
            ),
            (
                "tpch/customer.csv",
                "c_custkey,c_name,c_address,c_nationkey,c_phone,c_acctbal,c_mktsegment,c_comment\n\
                 1,Customer#1,,0,10-100,1.00,BUILDING,ok\n",
            ),
            ("tpch/regions.csv", "r_regionkey\n"),
            ("tpch/exchange_rates.csv", "currency\n"),
        ],
    );
    let root = root.to_str().unwrap();
    // Named as typed: relative to where `codelake` runs.
    let fixture = |name: &str| format!("fixtures/tpch/{name}");
    for attempt in 0..2 {
        let output = run(dir.path(), &["data", "seed", "--fixtures", root]);
        assert_eq!(output.status.code(), Some(1), "attempt {attempt}");
        let err = stderr(&output);
        for expected in [
            "error: 5 fixtures were not installed; the other tables were seeded:".to_owned(),
            format!(
                "{}: the header misses `r_comment`, has `r_note`, which `tpch.region` does not declare; \
                 name exactly the declared columns, in any order: r_regionkey,r_name,r_comment",
                fixture("region.csv")
            ),
            format!(
                "{}:3: `seven` in column `n_nationkey` is not a Int64; write a whole number in the type's range",
                fixture("nation.csv")
            ),
            format!(
                "{}:2: column `c_address` is empty (null), but `tpch.customer` declares it non-null; \
                 write a value, or declare the field as an `Option`",
                fixture("customer.csv")
            ),
            format!(
                "{}: no table `tpch.regions` is declared (did you mean `tpch.region`?)",
                fixture("regions.csv")
            ),
            format!(
                "{}: table `tpch.exchange_rates` reads source `http-api`, which `codelake data seed` does not write; \
                 remove the fixture",
                fixture("exchange_rates.csv")
            ),
        ] {
            assert!(err.contains(&expected), "{expected}\n---\n{err}");
        }
    }
    // Nothing lost: every other table was seeded and answers.
    let output = run(
        dir.path(),
        &[
            "sql",
            "--format",
            "csv",
            "SELECT count(*) AS n FROM tpch.supplier",
        ],
    );
    assert_ok(&output);
    assert_eq!(stdout(&output), "n\n100\n");
    assert!(!dir.path().join(".codelake/local/tpch/region.csv").exists());

    // A fixtures directory that does not exist is a bad flag.
    let output = run(dir.path(), &["data", "seed", "--fixtures", "no/such/dir"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("--fixtures no/such/dir: no such directory"));
}

/// A cross join of tables from every source kind plans and answers: each
/// table's doc stays out of the schemas queries see, since DataFusion merges
/// schema metadata differently in its logical and physical plans.
#[test]
fn tables_of_every_source_kind_cross_join() {
    let dir = seeded_project();
    let query = "SELECT count(*) AS n FROM tpch.region r, tpch.nation n, tpch.supplier s, \
                 tpch.price_tiers t, tpch.exchange_rates e";
    let counts = |table: &str| -> u64 {
        let output = run(
            dir.path(),
            &[
                "sql",
                "-f",
                "csv",
                &format!("SELECT count(*) AS n FROM tpch.{table}"),
            ],
        );
        assert_ok(&output);
        stdout(&output).lines().nth(1).unwrap().parse().unwrap()
    };
    let expected: u64 = [
        "region",
        "nation",
        "supplier",
        "price_tiers",
        "exchange_rates",
    ]
    .iter()
    .map(|table| counts(table))
    .product();
    let output = run(dir.path(), &["sql", "-f", "csv", query]);
    assert_ok(&output);
    assert_eq!(stdout(&output), format!("n\n{expected}\n"));
}
