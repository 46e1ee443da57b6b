//! `codelake diff` on real git repositories: the project's own catalog.json
//! committed, changed, and compared as a reviewer would, with the exit codes
//! CI reads and the JSON checked against its documented schema.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use catalog_core::Manifest;
use catalog_core::diff::{Diff, Labels, Report};
use serde_json::Value;

use crate::cli::{run, stderr, stdout};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .into()
}

/// The project's committed catalog, as JSON to edit.
fn project_catalog() -> Value {
    serde_json::from_str(&std::fs::read_to_string(root().join("tables/catalog.json")).unwrap())
        .unwrap()
}

/// `git ARGS` in `dir`, checked; a test identity, none of the caller's git variables.
fn git(dir: &Path, args: &[&str]) -> String {
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .args([
            "-c",
            "user.name=codelake tests",
            "-c",
            "user.email=tests@codelake.dev",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .env("HOME", dir);
    for (name, _) in std::env::vars() {
        if name.starts_with("GIT_") {
            command.env_remove(name);
        }
    }
    let output = command
        .output()
        .expect("git runs; install it with `sudo apt-get install git`");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A repository whose first commit holds the project's catalog at `tables/catalog.json`.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    write(dir.path(), &project_catalog());
    commit(dir.path(), "the catalog");
    dir
}

fn write(dir: &Path, catalog: &Value) {
    std::fs::create_dir_all(dir.join("tables")).unwrap();
    std::fs::write(
        dir.join("tables/catalog.json"),
        serde_json::to_string_pretty(catalog).unwrap(),
    )
    .unwrap();
}

fn commit(dir: &Path, message: &str) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
}

/// The table `name` of `catalog`, to edit.
fn table<'a>(catalog: &'a mut Value, name: &str) -> &'a mut Value {
    catalog["tables"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|table| table["name"] == name)
        .unwrap_or_else(|| panic!("no table {name}"))
}

/// `tpch.orders` without `o_orderpriority`: a column two views sit downstream of.
fn without_priority(mut catalog: Value) -> Value {
    table(&mut catalog, "orders")["columns"]
        .as_array_mut()
        .unwrap()
        .retain(|column| column["name"] != "o_orderpriority");
    catalog
}

/// `codelake diff --format json ARGS` in `dir`, checked against the documented schema.
fn json_diff(dir: &Path, args: &[&str]) -> (Output, Value) {
    let mut all = vec!["diff", "--format", "json"];
    all.extend_from_slice(args);
    let output = run(dir, &all);
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", stderr(&output)));
    let schema = crate::support::schema("catalog-diff.schema.json");
    // Every kind the diff can name is in the schema, and nothing else.
    let kinds: Vec<&str> = catalog_core::contract::ChangeKind::ALL
        .iter()
        .map(|kind| kind.as_str())
        .collect();
    assert_eq!(
        schema["$defs"]["change"]["properties"]["kind"]["enum"],
        serde_json::json!(kinds)
    );
    crate::support::assert_follows_schema(&report, &schema);
    (output, report)
}

#[test]
fn an_unacknowledged_breaking_change_exits_1_and_names_the_views_downstream() {
    let repo = repository();
    let dir = repo.path();
    let unchanged = run(dir, &["diff"]);
    assert_eq!(unchanged.status.code(), Some(0), "{}", stderr(&unchanged));
    assert!(stdout(&unchanged).contains("no changes"));

    write(dir, &without_priority(project_catalog()));
    let output = run(dir, &["diff"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("BREAKING    tpch.orders: column `o_orderpriority` removed (was Utf8)")
            && text.contains("read by: tpch.revenue_by_nation, tpch.revenue_by_year")
            && text.contains("allow_breaking = \"column-removed:o_orderpriority\""),
        "{text}"
    );
    assert!(
        stderr(&output).contains("1 breaking change is not acknowledged"),
        "{}",
        stderr(&output)
    );

    // The same change, between two commits, in JSON.
    commit(dir, "drop o_orderpriority");
    let (output, report) = json_diff(dir, &["HEAD~1", "HEAD"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(report["summary"]["unacknowledged"], 1);
    let change = &report["changes"][0];
    assert_eq!(change["kind"], "column-removed");
    assert_eq!(change["target"], "o_orderpriority");
    assert_eq!(change["impact"], "breaking");
    assert_eq!(
        change["downstream"],
        serde_json::json!(["tpch.revenue_by_nation", "tpch.revenue_by_year"])
    );
}

#[test]
fn an_acknowledged_breaking_change_exits_0_and_says_what_acknowledged_it() {
    let repo = repository();
    let dir = repo.path();
    let mut catalog = without_priority(project_catalog());
    table(&mut catalog, "orders")["contract"] = serde_json::json!({"version": 2});
    write(dir, &catalog);
    let (output, report) = json_diff(dir, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(report["summary"]["breaking"], 1);
    assert_eq!(report["summary"]["unacknowledged"], 0);
    let removal = &report["changes"][0];
    assert_eq!(removal["acknowledged_by"], "version raised from 1 to 2");

    // A table removed with no successor: only the command line can acknowledge it.
    let mut catalog = project_catalog();
    catalog["tables"]
        .as_array_mut()
        .unwrap()
        .retain(|table| table["name"] != "supplier");
    write(dir, &catalog);
    let refused = run(dir, &["diff"]);
    assert_eq!(refused.status.code(), Some(1));
    let allowed = run(dir, &["diff", "--allow", "table-removed:tpch.supplier"]);
    assert_eq!(allowed.status.code(), Some(0), "{}", stderr(&allowed));
    assert!(stdout(&allowed).contains("acknowledged by --allow table-removed:tpch.supplier"));
}

#[test]
fn merge_base_shows_only_the_branch_s_changes() {
    let repo = repository();
    let dir = repo.path();
    git(dir, &["checkout", "-q", "-b", "feature"]);
    let mut catalog = project_catalog();
    table(&mut catalog, "nation")["owner"] = "geo@codelake.dev".into();
    write(dir, &catalog);
    commit(dir, "a new owner for nation");
    // Meanwhile, main removes a column; from main's tip the branch would seem to add it back.
    git(dir, &["checkout", "-q", "main"]);
    write(dir, &without_priority(project_catalog()));
    commit(dir, "drop o_orderpriority on main");
    git(dir, &["checkout", "-q", "feature"]);

    let (_, naive) = json_diff(dir, &["main"]);
    assert_eq!(naive["summary"]["compatible"], 2, "{naive:#}");
    let (output, report) = json_diff(dir, &["--merge-base", "main"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let kinds: Vec<&Value> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| &change["kind"])
        .collect();
    assert_eq!(kinds, ["owner-changed"], "{report:#}");
    let base = report["base"].as_str().unwrap();
    assert!(
        base.starts_with("the merge base of main and HEAD ("),
        "{base}"
    );
}

#[test]
fn unreadable_sides_exit_2_with_the_fix() {
    let repo = repository();
    let dir = repo.path();
    let unknown = run(dir, &["diff", "no-such-branch"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("`no-such-branch` names no commit"),
        "{}",
        stderr(&unknown)
    );
    let typo = run(dir, &["diff", "nosuch.json"]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(
        stderr(&typo).contains("cannot read nosuch.json"),
        "{}",
        stderr(&typo)
    );
    let elsewhere = run(dir, &["diff", "--file", "catalog.json"]);
    assert_eq!(elsewhere.status.code(), Some(2));
    assert!(
        stderr(&elsewhere).contains("has no catalog.json") && stderr(&elsewhere).contains("--file"),
        "{}",
        stderr(&elsewhere)
    );
    let outside = tempfile::tempdir().unwrap();
    let not_git = run(outside.path(), &["diff"]);
    assert_eq!(not_git.status.code(), Some(2));
    assert!(
        stderr(&not_git).contains("codelake diff reads catalog.json from git"),
        "{}",
        stderr(&not_git)
    );
    // Two files need no repository.
    let (before, after) = (outside.path().join("a.json"), outside.path().join("b.json"));
    std::fs::write(&before, project_catalog().to_string()).unwrap();
    std::fs::write(&after, without_priority(project_catalog()).to_string()).unwrap();
    let files = run(
        outside.path(),
        &["diff", before.to_str().unwrap(), after.to_str().unwrap()],
    );
    assert_eq!(files.status.code(), Some(1), "{}", stderr(&files));
    std::fs::write(&after, "{\"version\": 1}").unwrap();
    let old_format = run(
        outside.path(),
        &["diff", before.to_str().unwrap(), after.to_str().unwrap()],
    );
    assert_eq!(old_format.status.code(), Some(2));
    assert!(stderr(&old_format).contains("format version 1"));
}

/// The example in docs/how-to/review-catalog-changes.md is this output:
/// a pull request that drops a column (acknowledged), narrows one, renames
/// a table and rewords a doc, on the project's own catalog.
#[test]
fn the_markdown_example_in_the_how_to_is_what_the_diff_writes() {
    let before = project_catalog();
    let mut after = without_priority(before.clone());
    let orders = table(&mut after, "orders");
    orders["contract"] = serde_json::json!({"allow_breaking": ["column-removed:o_orderpriority"]});
    for column in orders["columns"].as_array_mut().unwrap() {
        if column["name"] == "o_shippriority" {
            column["type"] = "Int16".into();
        }
    }
    table(&mut after, "region")["name"] = "regions".into();
    let nation = table(&mut after, "nation");
    nation["doc"] = "Nations: one row per nation, with its region.".into();
    let parse = |value: &Value| Manifest::from_json(&value.to_string()).unwrap();
    let diff = Diff::between(&parse(&before), &parse(&after));
    let labels = Labels {
        base: "the merge base of main and HEAD (3f2a91c04e)".into(),
        head: "the working tree".into(),
    };
    let markdown = Report::new(&diff, &labels).markdown();

    let how_to = root().join("docs/how-to/review-catalog-changes.md");
    let text = std::fs::read_to_string(&how_to).unwrap();
    let (start, end) = (
        "<!-- diff example: start -->\n",
        "<!-- diff example: end -->",
    );
    let (head, rest) = text
        .split_once(start)
        .expect("the how-to has the example's start marker");
    let (_, tail) = rest
        .split_once(end)
        .expect("the how-to has the example's end marker");
    let written = format!("{head}{start}{markdown}{end}{tail}");
    if std::env::var_os("CODELAKE_BLESS").is_some() {
        std::fs::write(&how_to, &written).unwrap();
        return;
    }
    assert!(
        text == written,
        "the Markdown example in {} is stale: rerun this test with CODELAKE_BLESS=1 and commit it",
        how_to.display()
    );
}
