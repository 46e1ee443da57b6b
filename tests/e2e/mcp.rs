//! The catalog for AI agents: `codelake mcp` over stdio and `codelake serve`'s
//! `/mcp` over streamable HTTP, driven by the official MCP Python SDK
//! (tests/clients/mcp_session.py, in the clients' venv) and by the MCP
//! Inspector's CLI (npm, from tests/clients/inspector's lockfile).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use catalog_runtime::default_plugin_dir;
use serde_json::{Value, json};

use crate::cli::{assert_ok, binary, run, seeded_project, stdout};
use crate::flight::client_python;
use crate::serve::{Server, TOKEN, corrupt_part};

/// The tools every agent gets.
const TOOLS: [&str; 5] = [
    "describe_table",
    "explain",
    "list_tables",
    "query",
    "verify_table",
];

/// A join of two CSV tables, answered the same by every front end.
const NATIONS: &str = "SELECT n.n_nationkey, n.n_name, r.r_name FROM tpch.nation n \
                       JOIN tpch.region r ON n.n_regionkey = r.r_regionkey ORDER BY n.n_nationkey";

/// Decimals and dates, read from Parquet.
const ORDERS: &str = "SELECT o_orderkey, o_totalprice, o_orderdate FROM tpch.orders \
                      ORDER BY o_orderkey LIMIT 5";

/// The steps both transports run.
fn steps() -> Value {
    let call = |name: &str, tool: &str, arguments: Value| json!({"name": name, "op": "call", "tool": tool, "arguments": arguments});
    json!([
        {"name": "tools", "op": "tools"},
        {"name": "resources", "op": "resources"},
        {"name": "templates", "op": "templates"},
        {"name": "nation_page", "op": "read", "uri": "codelake://tpch/nation"},
        {"name": "lineage", "op": "read", "uri": "codelake://lineage"},
        {"name": "report", "op": "read", "uri": "codelake://verify-report"},
        {"name": "no_page", "op": "read", "uri": "codelake://tpch/nope"},
        call("list", "list_tables", json!({})),
        call("search", "list_tables", json!({"search": "nation revenue"})),
        call("view", "describe_table", json!({"table": "tpch.revenue_by_nation"})),
        call("nation", "describe_table", json!({"table": "tpch.nation"})),
        call("misspelt", "describe_table", json!({"table": "tpch.natoin"})),
        call("nations", "query", json!({"sql": NATIONS})),
        call("orders", "query", json!({"sql": ORDERS})),
        call("capped", "query", json!({"sql": NATIONS, "max_rows": 3})),
        call("ddl", "query", json!({"sql": "CREATE TABLE tpch.t AS SELECT 1"})),
        call("delete", "query", json!({"sql": "DELETE FROM tpch.nation"})),
        call("broken", "query", json!({"sql": "SELECT count(*) FROM tpch.part"})),
        call("explain", "explain", json!({"sql": NATIONS})),
        call("explain_analyze", "explain", json!({"sql": format!("EXPLAIN ANALYZE {NATIONS}")})),
        call("explain_analyze_options", "explain", json!({"sql": format!("EXPLAIN (ANALYZE) {NATIONS}")})),
        call("explain_analyze_comment", "explain", json!({"sql": format!("explain /* plan */ analyze {NATIONS}")})),
        call("exact", "query", json!({"sql": "SELECT CAST('12345678901234567890.12' AS DECIMAL(38, 2)) AS d"})),
        call("verify_region", "verify_table", json!({"table": "tpch.region"})),
        call("verify_part", "verify_table", json!({"table": "tpch.part"})),
    ])
}

/// Runs the steps with the Python SDK: `args` after the script's path.
fn session(dir: &Path, args: &[&str]) -> Value {
    let mut command = Command::new(client_python());
    hermetic(&mut command);
    let mut child = command
        .arg(clients_dir().join("mcp_session.py"))
        .args(args)
        .current_dir(dir)
        .envs(environment(dir))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(steps().to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_ok(&output);
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", stdout(&output)))
}

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// What `codelake` needs to run in `dir` as a fresh project (as
/// `crate::cli::codelake` sets it), for a client that launches it.
fn environment(dir: &Path) -> Vec<(String, String)> {
    let text = |path: &Path| path.display().to_string();
    vec![
        ("CODELAKE_PLUGIN_DIR".into(), text(&default_plugin_dir())),
        ("HOME".into(), text(dir)),
        ("XDG_CONFIG_HOME".into(), text(&dir.join(".config"))),
        ("XDG_CACHE_HOME".into(), text(&dir.join(".cache"))),
    ]
}

/// No setting of the developer's shell reaches the server a client launches
/// (as `crate::cli::codelake` does for the CLI).
fn hermetic(command: &mut Command) {
    for (name, _) in std::env::vars() {
        if name.starts_with("CODELAKE_") || name.starts_with("AWS_") {
            command.env_remove(name);
        }
    }
}

/// A tool call's structured content, after asserting it succeeded.
fn structured<'a>(answers: &'a Value, step: &str) -> &'a Value {
    let answer = &answers[step];
    assert_ne!(answer["isError"], true, "{step}: {answer}");
    let content = &answer["structuredContent"];
    assert!(content.is_object(), "{step}: {answer}");
    // The text block mirrors the structured content, as JSON (never prose around rows).
    let text = answer["content"][0]["text"].as_str().unwrap();
    assert_eq!(
        &serde_json::from_str::<Value>(text).unwrap(),
        content,
        "{step}"
    );
    content
}

/// A tool call's error text, after asserting it is a tool error (`isError`).
fn tool_error(answers: &Value, step: &str) -> String {
    let answer = &answers[step];
    assert_eq!(answer["isError"], true, "{step}: {answer}");
    answer["content"][0]["text"].as_str().unwrap().to_owned()
}

/// `query`'s rows as objects by column name, to compare with the CLI's JSON lines.
fn objects(result: &Value) -> Vec<Value> {
    let names: Vec<&str> = result["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|column| column["name"].as_str().unwrap())
        .collect();
    result["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let values = row.as_array().unwrap();
            Value::Object(
                names
                    .iter()
                    .zip(values)
                    .map(|(name, value)| ((*name).to_owned(), value.clone()))
                    .collect(),
            )
        })
        .collect()
}

/// The CLI's answer to `sql`, as JSON lines.
fn cli_rows(dir: &Path, sql: &str) -> Vec<Value> {
    let output = run(dir, &["sql", "-f", "json", sql]);
    assert_ok(&output);
    crate::serve::lines(&output.stdout)
}

/// A project whose `tpch.part` is corrupt, with a verify report written
/// before it broke.
fn project() -> (tempfile::TempDir, PathBuf) {
    let dir = seeded_project();
    let output = run(dir.path(), &["verify", "--format", "json"]);
    let report = dir.path().join("verify.json");
    std::fs::write(&report, &output.stdout).unwrap();
    corrupt_part(dir.path());
    (dir, report)
}

/// What every transport must answer.
fn assert_session(dir: &Path, answers: &Value) {
    assert!(answers.get("connect_error").is_none(), "{answers}");
    assert_eq!(answers["initialize"]["serverInfo"]["name"], "codelake");
    let instructions = answers["initialize"]["instructions"].as_str().unwrap();

    // Every tool, with valid JSON Schemas for its input and its output, and
    // descriptions (like the instructions) that carry no table data.
    let tools = answers["tools"].as_array().unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, TOOLS);
    for tool in tools {
        assert_eq!(tool["inputSchemaValid"], true, "{tool}");
        assert_eq!(tool["outputSchemaValid"], true, "{tool}");
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
        assert_eq!(tool["outputSchema"]["type"], "object", "{tool}");
        assert_eq!(tool["annotations"]["readOnlyHint"], true, "{tool}");
        let description = tool["description"].as_str().unwrap();
        for data in ["AFRICA", "ALGERIA", "Customer#", "lar deposits"] {
            assert!(!description.contains(data), "{tool}");
            assert!(!instructions.contains(data), "{instructions}");
        }
    }
    let query = tools.iter().find(|t| t["name"] == "query").unwrap();
    assert_eq!(query["inputSchema"]["required"], json!(["sql"]));

    // Resources: each table's page, the lineage graph, the verify report.
    let uris: Vec<&str> = answers["resources"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    for uri in [
        "codelake://tpch/part",
        "codelake://tpch/revenue_by_nation",
        "codelake://lineage",
        "codelake://verify-report",
    ] {
        assert!(uris.contains(&uri), "{uri}: {uris:?}");
    }
    assert_eq!(
        answers["templates"]["resourceTemplates"][0]["uriTemplate"],
        "codelake://{database}/{table}"
    );
    let page = &answers["nation_page"]["contents"][0];
    assert_eq!(page["mimeType"], "text/markdown");
    let page = page["text"].as_str().unwrap();
    assert!(page.starts_with("# tpch.nation (table)"), "{page}");
    for expected in [
        "- Source: `csv`",
        "| `n_nationkey` | `Int64` | no | unique, 0 ≤ x ≤ 24 |",
        "Read by: `tpch.revenue_by_nation`",
    ] {
        assert!(page.contains(expected), "{expected}\n{page}");
    }
    let graph: Value =
        serde_json::from_str(answers["lineage"]["contents"][0]["text"].as_str().unwrap()).unwrap();
    let views: Vec<&str> = graph["views"]
        .as_array()
        .unwrap()
        .iter()
        .map(|view| view["view"].as_str().unwrap())
        .collect();
    assert!(views.contains(&"tpch.revenue_by_nation"), "{graph}");
    let report: Value =
        serde_json::from_str(answers["report"]["contents"][0]["text"].as_str().unwrap()).unwrap();
    assert!(report["tables"].as_array().unwrap().len() > 5, "{report}");
    let missing = answers["no_page"]["error"].as_str().unwrap();
    assert!(missing.contains("no table `tpch.nope`"), "{missing}");

    // list_tables, whole and searched (every word, in names, columns or docs).
    let list = structured(answers, "list");
    let catalog = tables::REGISTRY.len();
    assert_eq!(list["tables"].as_array().unwrap().len(), catalog);
    assert_eq!(list["catalog_tables"], catalog);
    let found: Vec<&str> = structured(answers, "search")["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(found.contains(&"tpch.revenue_by_nation"), "{found:?}");
    assert!(!found.contains(&"tpch.part"), "{found:?}");

    // describe_table: a view's lineage, upstream and per column; a table's readers.
    let view = structured(answers, "view");
    assert_eq!(view["kind"], "view");
    let upstream = view["upstream"].as_array().unwrap();
    for table in ["tpch.nation", "tpch.orders", "tpch.lineitem"] {
        assert!(upstream.contains(&json!(table)), "{table}: {view}");
    }
    let nation_column = view["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|column| column["name"] == "nation")
        .unwrap();
    assert_eq!(
        nation_column["computed_from"],
        json!(["tpch.nation.n_name"])
    );
    assert!(view["source"]["sql"].as_str().unwrap().contains("GROUP BY"));
    let nation = structured(answers, "nation");
    assert_eq!(nation["source"]["kind"], "csv");
    assert!(
        nation["downstream"]
            .as_array()
            .unwrap()
            .contains(&json!("tpch.revenue_by_nation")),
        "{nation}"
    );
    let misspelt = tool_error(answers, "misspelt");
    assert!(
        misspelt.contains("`tpch.natoin`") && misspelt.contains("`tpch.nation`"),
        "{misspelt}"
    );

    // query: the CLI's rows, typed values included; a cap that says what it left out.
    let nations = structured(answers, "nations");
    assert_eq!(objects(nations), cli_rows(dir, NATIONS));
    assert_eq!(nations["truncated"], false);
    assert_eq!(nations["rows_left_out"], Value::Null);
    // Decimals come as exact text (the CLI's JSON has numbers): compared as numbers.
    let orders = structured(answers, "orders");
    assert_eq!(orders["columns"][1]["type"], "Decimal128(15, 2)");
    let as_numbers = |rows: Vec<Value>| -> Vec<Value> {
        rows.into_iter()
            .map(|mut row| {
                let price = &row["o_totalprice"];
                let price: f64 = price
                    .as_str()
                    .map_or_else(|| price.as_f64().unwrap(), |text| text.parse().unwrap());
                row["o_totalprice"] = json!(price);
                row
            })
            .collect()
    };
    assert!(orders["rows"][0][1].is_string(), "{orders}");
    assert_eq!(
        as_numbers(objects(orders)),
        as_numbers(cli_rows(dir, ORDERS))
    );
    assert_eq!(
        structured(answers, "exact")["rows"],
        json!([["12345678901234567890.12"]])
    );
    let capped = structured(answers, "capped");
    assert_eq!(capped["returned_rows"], 3);
    assert_eq!(capped["rows"].as_array().unwrap().len(), 3);
    assert_eq!(capped["truncated"], true);
    assert_eq!(capped["rows_left_out"], 22);
    assert!(
        capped["note"].as_str().unwrap().contains("22 more"),
        "{capped}"
    );

    // The read-only policy is the service's; a broken source names its table.
    let ddl = tool_error(answers, "ddl");
    assert!(
        ddl.starts_with("forbidden:") && ddl.contains("read-only"),
        "{ddl}"
    );
    let delete = tool_error(answers, "delete");
    assert!(
        delete.starts_with("forbidden:") && delete.contains("`tpch.nation`"),
        "{delete}"
    );
    let broken = tool_error(answers, "broken");
    assert!(broken.starts_with("source_error:"), "{broken}");
    assert!(
        broken.contains("s3://codelake/tpch/part.parquet is corrupt"),
        "{broken}"
    );

    // explain plans without running; EXPLAIN ANALYZE (which runs) is refused.
    let plans = structured(answers, "explain")["plans"].as_array().unwrap();
    let kinds: Vec<&str> = plans
        .iter()
        .map(|p| p["plan_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["logical_plan", "physical_plan"]);
    assert!(
        plans[1]["plan"].as_str().unwrap().contains("HashJoinExec"),
        "{plans:?}"
    );
    for step in [
        "explain_analyze",
        "explain_analyze_options",
        "explain_analyze_comment",
    ] {
        let refused = tool_error(answers, step);
        assert!(refused.contains("runs the query"), "{step}: {refused}");
    }

    // verify_table: live checks, a pass and a failure naming the corrupt object.
    let region = structured(answers, "verify_region");
    assert_eq!(region["table"], "tpch.region");
    assert_eq!(region["status"], "pass", "{region}");
    let part = structured(answers, "verify_part");
    assert_eq!(part["status"], "fail", "{part}");
    let checks = part["report"]["checks"].as_array().unwrap();
    let reachable = checks.iter().find(|c| c["check"] == "reachable").unwrap();
    assert_eq!(reachable["status"], "fail", "{part}");
    assert!(part.to_string().contains("part.parquet"), "{part}");
}

#[test]
fn agents_get_the_catalog_over_stdio_from_the_official_python_sdk() {
    let (dir, report) = project();
    let binary = binary();
    let answers = session(
        dir.path(),
        &[
            "stdio",
            binary.to_str().unwrap(),
            "mcp",
            "--verify-report",
            report.to_str().unwrap(),
        ],
    );
    assert_session(dir.path(), &answers);
}

#[test]
fn agents_reach_serve_at_mcp_behind_its_tokens() {
    let (dir, report) = project();
    let server = Server::start(
        dir.path(),
        &[
            "--verify-report",
            report.to_str().unwrap(),
            "--mcp-max-rows",
            "1000",
        ],
    );
    let url = format!("http://{}/mcp", server.address);
    let answers = session(dir.path(), &["http", &url, TOKEN]);
    assert_session(dir.path(), &answers);

    // A wrong token is refused before the MCP session starts, as on every route.
    let refused = session(dir.path(), &["http", &url, "not-a-token"]);
    assert!(refused["connect_error"].is_string(), "{refused}");
    let reply = server.request(
        "POST",
        "/mcp",
        &[
            ("Authorization", "Bearer not-a-token"),
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ],
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
    );
    assert_eq!(reply.status, 401, "{}", reply.text());
    assert_eq!(reply.json()["code"], "unauthenticated");
    assert!(!reply.text().contains("not-a-token"));

    // Stateless: one request is a whole call, as a plain HTTP client sends it.
    let reply = server.request(
        "POST",
        "/mcp",
        &[
            ("Authorization", &format!("Bearer {TOKEN}")),
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ],
        br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"query","arguments":{"sql":"SELECT count(*) AS n FROM tpch.region"}}}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["id"], 7);
    assert_eq!(
        reply.json()["result"]["structuredContent"]["rows"],
        json!([[5]])
    );

    // The service counted the agents' queries as their own front end's.
    let metrics = server.metrics();
    assert!(
        metrics
            .lines()
            .any(|line| line.contains("front_end=\"mcp\"") && line.contains("codelake_queries")),
        "{metrics}"
    );

    // A second client nobody here wrote: the MCP Inspector's CLI, over HTTP.
    // The target first: `--header` takes every value after it.
    let listed = inspector(&[
        &url,
        "--transport",
        "http",
        "--method",
        "tools/list",
        "--header",
        &format!("Authorization: Bearer {TOKEN}"),
    ]);
    assert_eq!(tool_names(&listed), TOOLS);
}

#[test]
fn the_mcp_inspector_lists_the_tools_over_stdio() {
    let dir = seeded_project();
    let binary = binary();
    // The Inspector runs in its own directory (see `inspector`) and passes a
    // child only a few variables: `env` gives it the project's.
    let mut args: Vec<String> = vec!["env".into(), "-C".into(), dir.path().display().to_string()];
    args.extend(
        environment(dir.path())
            .into_iter()
            .map(|(name, value)| format!("{name}={value}")),
    );
    args.extend([
        binary.display().to_string(),
        "mcp".into(),
        "--method".into(),
        "tools/list".into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let listed = inspector(&args);
    assert_eq!(tool_names(&listed), TOOLS);
    let query = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tool| tool["name"] == "query")
        .unwrap();
    assert!(
        query["inputSchema"]["properties"]["max_rows"].is_object(),
        "{query}"
    );
}

/// Standard output carries the protocol alone: every line a JSON-RPC message,
/// as the how-to's check by hand sends them.
#[test]
fn stdout_holds_nothing_but_the_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = crate::cli::codelake(dir.path())
        .arg("mcp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let requests = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "test", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "query", "arguments": {"sql": "SELECT r_name FROM tpch.region", "max_rows": 2}}}),
    ];
    let mut stdin = child.stdin.take().unwrap();
    for request in requests {
        writeln!(stdin, "{request}").unwrap();
    }
    // Standard input stays open until both answers are in: at its end the
    // server gives calls in flight only a few seconds, which a slow machine
    // could take.
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut lines: Vec<Value> = Vec::new();
    while lines.len() < 2 {
        let mut line = String::new();
        let read = std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
        assert!(read > 0, "the server closed its output after {lines:?}");
        lines.push(serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON-RPC: {line}")));
    }
    drop(stdin);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    assert_eq!(rest, "", "after the answers");
    let output = child.wait_with_output().unwrap();
    assert_ok(&output);
    assert!(lines.iter().all(|line| line["jsonrpc"] == "2.0"));
    let result = &lines[1]["result"]["structuredContent"];
    assert_eq!(
        result["rows"],
        json!([["AFRICA"], ["AMERICA"]]),
        "{lines:?}"
    );
    assert_eq!(result["rows_left_out"], 3);
    // Seeding the empty project was said on standard error.
    assert!(crate::cli::stderr(&output).contains("codelake MCP server"));
}

#[test]
fn bad_mcp_settings_are_refused_before_anything_loads() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), &["mcp", "--mcp-max-rows", "0"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(crate::cli::stderr(&output).contains("--mcp-max-rows must be above zero"));
    let output = run(dir.path(), &["mcp", "--verify-report", "nowhere.json"]);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let message = crate::cli::stderr(&output);
    assert!(
        message.contains("nowhere.json") && message.contains("codelake verify --format json"),
        "{message}"
    );
    // Nothing was seeded: the settings were checked first.
    assert!(!dir.path().join(".codelake").exists());
}

/// The MCP Inspector's CLI's JSON answer to `args`. It runs in its own
/// `build` directory: it finds its `package.json` relative to the working
/// directory, a quirk of 1.0.3 run outside the Inspector's repository.
fn inspector(args: &[&str]) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cli = root.join(
        ".codelake/clients/inspector/node_modules/@modelcontextprotocol/inspector-cli/build/index.js",
    );
    assert!(
        cli.exists(),
        "the MCP tests need the MCP Inspector's CLI in {}; `cargo xtask test` installs it, or run: \
         mkdir -p .codelake/clients/inspector && cp tests/clients/inspector/package*.json \
         .codelake/clients/inspector/ && (cd .codelake/clients/inspector && npm ci)",
        cli.display()
    );
    let output = Command::new("node")
        .arg(&cli)
        .args(args)
        .current_dir(cli.parent().unwrap())
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run `node` ({error}): install Node.js 20 or later, e.g. `apt-get install nodejs npm`")
        });
    assert_ok(&output);
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", stdout(&output)))
}

fn tool_names(listed: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = listed["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"))
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    names
}
