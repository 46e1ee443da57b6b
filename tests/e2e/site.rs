//! The catalog site in a real headless Chromium: generated from the committed
//! `catalog.json` with a real `codelake verify` report, opened from `file://`
//! and from `codelake serve`, searched, navigated by keyboard and link, and
//! crawled for links that resolve nowhere.

use std::collections::BTreeSet;
use std::path::Path;

use base64::Engine as _;
use catalog_core::lineage;
use catalog_site::{Site, VerifyReport};
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::catalog::manifest;
use crate::cli::{assert_ok, run, seeded_project, stderr};
use crate::serve::{Server, TOKEN};

/// `codelake verify --format json` of `tables` in `dir`: the report's text.
fn verify_report(dir: &Path, tables: &[&str]) -> String {
    let mut args = vec!["verify", "--format", "json"];
    for table in tables {
        args.extend(["--table", table]);
    }
    let output = run(dir, &args);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        stderr(&output)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|item| item.as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Every `href` and `src` of the open page, resolved against it.
const LINKS: &str = "[...document.querySelectorAll('[href], [src]')].map(e => \
    new URL(e.getAttribute('href') ?? e.getAttribute('src'), document.baseURI).href)";

#[test]
fn the_site_is_searched_and_navigated_in_a_real_browser_from_file_urls() {
    // A real report, in which tpch.nation fails: its local file names a
    // column the struct does not declare.
    let project = seeded_project();
    let nation = project.path().join(".codelake/local/tpch/nation.csv");
    let text = std::fs::read_to_string(&nation).unwrap();
    std::fs::write(&nation, text.replacen("n_regionkey", "n_region", 1)).unwrap();
    let report_text = verify_report(project.path(), &["tpch.nation", "tpch.region"]);
    let report_json: Value = serde_json::from_str(&report_text).unwrap();
    let report = VerifyReport::from_json("report.json", &report_text).unwrap();
    let manifest = manifest();
    let site = Site::build(&manifest, Some(&report)).unwrap();
    let out = project.path().join("site");
    site.write(&out).unwrap();
    let url = |page: &str| format!("file://{}/{page}", out.display());

    let mut browser = Browser::launch();
    browser.open(&url("index.html"));

    // Search by a column's name, typed after `/`.
    browser.press("/");
    assert_eq!(browser.eval("document.activeElement.id"), json!("q"));
    browser.type_text("l_shipdate");
    browser.wait_until("document.querySelectorAll('#results a').length > 0");
    let found = strings(
        &browser.eval("[...document.querySelectorAll('#results a .name')].map(n => n.textContent)"),
    );
    assert_eq!(found[0], "tpch.lineitem", "{found:?}");
    let why = browser.eval("document.querySelector('#results a .why').textContent");
    assert_eq!(why, json!("column l_shipdate"));
    let status = browser.eval("document.getElementById('search-status').textContent");
    assert_eq!(
        status,
        json!(format!(
            "{} match{}.",
            found.len(),
            if found.len() == 1 { "" } else { "es" }
        ))
    );

    // By keyboard to the first result, and into its page.
    browser.press("ArrowDown");
    assert_eq!(
        browser.eval("document.activeElement === document.querySelector('#results a')"),
        json!(true)
    );
    browser.press("Enter");
    browser.wait_for_load("the first result");
    let location = browser.eval("location.pathname");
    assert!(
        location
            .as_str()
            .unwrap()
            .ends_with("/tables/tpch/lineitem.html"),
        "{location}"
    );

    // The table's page: its columns in declaration order, and its lineage.
    let lineitem = manifest
        .tables
        .iter()
        .find(|spec| spec.qualified_name() == "tpch.lineitem")
        .unwrap();
    let columns =
        strings(&browser.eval(
            "[...document.querySelectorAll('table.columns tbody th')].map(t => t.textContent)",
        ));
    let declared: Vec<String> = lineitem
        .columns
        .iter()
        .map(|c| c.name.to_string())
        .collect();
    assert_eq!(columns, declared);
    let downstream = strings(
        &browser
            .eval("[...document.querySelectorAll('#downstream ~ ul a')].map(a => a.textContent)"),
    );
    assert_eq!(
        downstream,
        lineage::downstream(&manifest.lineage, "tpch.lineitem")
    );
    assert!(
        !downstream.is_empty(),
        "the example catalog has a view over lineitem"
    );
    let sql = browser.eval("document.getElementById('sql-snippet').textContent");
    assert!(
        sql.as_str().unwrap().contains("FROM tpch.lineitem"),
        "{sql}"
    );

    // Follow the link to the view that reads it: its column lineage and SQL.
    let view_name = downstream[0].clone();
    browser.eval("document.querySelector('#downstream ~ ul a').click()");
    browser.wait_for_load(&view_name);
    let view = manifest
        .tables
        .iter()
        .find(|spec| spec.qualified_name() == view_name)
        .unwrap();
    let view_lineage = manifest
        .lineage
        .iter()
        .find(|lineage| lineage.view == view_name)
        .unwrap();
    for column in &view_lineage.columns {
        let shown = strings(&browser.eval(&format!(
            "[...document.querySelectorAll('#col-{} a')].map(a => a.textContent)",
            column.column
        )));
        assert_eq!(shown, column.from, "{view_name}.{}", column.column);
    }
    let shown_sql = browser.eval("document.querySelector('#view-sql ~ pre').textContent");
    assert_eq!(
        shown_sql.as_str().unwrap(),
        view.view.as_ref().unwrap().sql.trim_end()
    );
    assert_eq!(browser.take_errors(), Vec::<String>::new());

    // The lineage graph: a node per table and view, an edge per dependency.
    browser.open(&url("lineage.html"));
    let mut nodes =
        strings(&browser.eval(
            "[...document.querySelectorAll('#lineage-graph .node')].map(n => n.dataset.table)",
        ));
    nodes.sort();
    let mut tables: Vec<String> = manifest.tables.iter().map(|t| t.qualified_name()).collect();
    tables.sort();
    assert_eq!(nodes, tables);
    let edges: BTreeSet<String> = strings(&browser.eval(
        "[...document.querySelectorAll('#lineage-graph .edge')].map(e => e.dataset.from + ' > ' + e.dataset.to)",
    ))
    .into_iter()
    .collect();
    let dependencies: BTreeSet<String> = (manifest.lineage.iter())
        .flat_map(|view| {
            view.reads
                .iter()
                .map(|read| format!("{read} > {}", view.view))
        })
        .collect();
    assert_eq!(edges, dependencies);
    // Every node is drawn where it can be seen, none on another.
    let boxes = browser.eval(
        "[...document.querySelectorAll('#lineage-graph .node rect')].map(r => { \
           const b = r.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; })",
    );
    let boxes: Vec<Vec<f64>> = serde_json::from_value(boxes).unwrap();
    for (i, a) in boxes.iter().enumerate() {
        assert!(
            a[2] - a[0] > 100.0 && a[3] - a[1] > 20.0,
            "a node too small: {a:?}"
        );
        for b in &boxes[i + 1..] {
            let apart = a[2] <= b[0] || b[2] <= a[0] || a[3] <= b[1] || b[3] <= a[1];
            assert!(apart, "nodes overlap: {a:?} and {b:?}");
        }
    }

    // The verify report: on the index, and on the failing table's page.
    browser.open(&url("index.html"));
    let status_of = |browser: &mut Browser, table: &str| {
        browser.eval(&format!(
            "document.querySelector('tr[data-table=\"{table}\"] .status').textContent"
        ))
    };
    assert_eq!(status_of(&mut browser, "tpch.nation"), json!("failed"));
    assert_eq!(status_of(&mut browser, "tpch.region"), json!("passed"));
    assert_eq!(status_of(&mut browser, "tpch.part"), json!("not verified"));
    // The accelerated tables, and only they, are marked as kept in memory.
    let marked = strings(&browser.eval(
        "[...document.querySelectorAll('tr:has(.badge.accelerated)')].map(r => r.dataset.table)",
    ));
    let accelerated: Vec<String> = (manifest.tables.iter())
        .filter(|spec| spec.accelerate.is_some())
        .map(|spec| spec.qualified_name())
        .collect();
    assert!(!accelerated.is_empty());
    assert_eq!(marked, accelerated);
    let nation_report = &report_json["tables"][0];
    assert_eq!(nation_report["table"], "tpch.nation");
    let failing = (nation_report["checks"].as_array().unwrap().iter())
        .find(|check| check["status"] == "fail")
        .unwrap();
    browser.open(&url("tables/tpch/nation.html"));
    let section = browser.eval("document.querySelector('section.verify').innerText");
    let section = section.as_str().unwrap();
    for expected in [
        "failed",
        failing["check"].as_str().unwrap(),
        failing["message"].as_str().unwrap(),
        failing["problems"][0]["message"].as_str().unwrap(),
    ] {
        // Backticks in messages are shown as code, not as backticks.
        let expected = expected.replace('`', "");
        assert!(section.contains(&expected), "{expected:?} not in {section}");
    }
    assert_eq!(
        browser.eval("document.querySelector('section.verify time').getAttribute('datetime')"),
        report_json["started_at"]
    );
    assert_eq!(browser.take_errors(), Vec::<String>::new());

    // Every page: no error in the console, and every link resolves to a
    // file of the site (and to an element, when it names one).
    let mut pages = 0;
    for page in site.paths().filter(|path| path.ends_with(".html")) {
        browser.open(&url(page));
        pages += 1;
        for link in strings(&browser.eval(LINKS)) {
            let local = link
                .strip_prefix(&url(""))
                .unwrap_or_else(|| panic!("{page} links outside the site: {link}"));
            let (file, fragment) = local.split_once('#').unwrap_or((local, ""));
            let file = if file.is_empty() { page } else { file };
            let (bytes, _) = site
                .file(file)
                .unwrap_or_else(|| panic!("{page} links to {file}, which the site lacks"));
            if !fragment.is_empty() {
                let html = String::from_utf8_lossy(bytes);
                assert!(
                    html.contains(&format!("id=\"{fragment}\"")),
                    "{page} links to #{fragment} of {file}, which has no such element"
                );
            }
        }
        let errors = browser.take_errors();
        assert!(errors.is_empty(), "{page}: {errors:?}");
    }
    assert_eq!(pages, manifest.tables.len() + 2);
}

#[test]
fn codelake_serve_hosts_the_site_behind_its_token() {
    let project = seeded_project();
    let report = project.path().join("report.json");
    std::fs::write(&report, verify_report(project.path(), &["tpch.region"])).unwrap();
    let server = Server::start(
        project.path(),
        &["--verify-report", report.to_str().unwrap()],
    );

    // The token as a bearer, or as a Basic password (what a browser sends).
    let bearer = format!("Bearer {TOKEN}");
    let index = server.request("GET", "/", &[("Authorization", &bearer)], b"");
    assert_eq!(index.status, 200, "{}", index.text());
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(index.text().contains("href=\"tables/tpch/part.html\""));
    let refused = server.request("GET", "/", &[], b"");
    assert_eq!(refused.status, 401);
    assert!(
        refused
            .header("www-authenticate")
            .unwrap()
            .starts_with("Basic "),
        "{:?}",
        refused.header("www-authenticate")
    );
    assert!(!refused.text().contains("tpch.part"));
    let wrong = server.request("GET", "/", &[("Authorization", "Basic eDp5")], b"");
    assert_eq!(wrong.status, 401);
    // Without the token, a page that exists and one that does not look alike.
    for path in ["/tables/tpch/part.html", "/tables/tpch/no_such_table.html"] {
        assert_eq!(server.request("GET", path, &[], b"").status, 401, "{path}");
    }
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("anyone:{TOKEN}"))
    );
    let page = server.request(
        "GET",
        "/tables/tpch/region.html",
        &[("Authorization", &basic)],
        b"",
    );
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        page.text().contains("verify passed"),
        "the report's status is shown"
    );
    let script = server.request(
        "GET",
        "/search-index.js",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let missing = server.request(
        "GET",
        "/no-such-page.html",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(missing.status, 404);
    assert!(
        missing.json()["message"]
            .as_str()
            .unwrap()
            .contains("catalog site")
    );
    // The API is unchanged beside it.
    let tables = server.request("GET", "/v1/tables", &[("Authorization", &bearer)], b"");
    assert_eq!(tables.status, 200);

    // The served site in a real browser: search works over HTTP too.
    let mut browser = Browser::launch();
    browser.set_headers(json!({"Authorization": bearer}));
    browser.open(&format!("http://{}/", server.address));
    browser.eval("document.getElementById('q').focus()");
    browser.type_text("o_orderdate");
    browser.wait_until("document.querySelectorAll('#results a').length > 0");
    let found = strings(
        &browser.eval("[...document.querySelectorAll('#results a .name')].map(n => n.textContent)"),
    );
    assert_eq!(found[0], "tpch.orders", "{found:?}");
    assert_eq!(browser.take_errors(), Vec::<String>::new());
    assert_ok(&run(project.path(), &["tables"]));
}
