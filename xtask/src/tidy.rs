//! Tidy tests: the invariants of `docs/explanation/architecture.md`, checked over
//! `cargo metadata` so that they cannot drift from the code (the model is
//! rust-analyzer's `tidy.rs`).
//!
//! Each rule walks the resolved graph (`resolve.nodes`), so a forbidden crate
//! reached through another one fails as surely as a direct dependency.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;

/// The dependency edges a rule follows.
#[derive(Clone, Copy)]
enum Kinds {
    /// Normal dependencies, all the way down: what the crate links.
    Normal,
    /// Every kind from the crate itself; below it normal and build only, since a
    /// dependency's dev-dependencies are never built.
    Any,
}

/// `crates` and `must_not_reach` are sets of packages, written as patterns
/// separated by spaces: a package name (`codelake`) or a workspace directory
/// (`plugins/csv`), a trailing `*` matching any rest, and `!` excluding.
struct Rule {
    crates: &'static str,
    must_not_reach: &'static str,
    kinds: Kinds,
    why: &'static str,
}

const RULES: &[Rule] = &[
    // Every catalog and tool compiles the model; DataFusion there would tie the
    // schema language to one engine and put the engine in every build.
    Rule {
        crates: "catalog-core catalog-derive catalog-derive-internals",
        must_not_reach: "datafusion*",
        kinds: Kinds::Normal,
        why: "the model and its derive are plain data and syn; they know nothing of query execution",
    },
    // Tools sit on top of the product; a product crate reaching back into them
    // would ship benchmark and automation code (and their dependencies).
    Rule {
        crates: "catalog-runtime plugins/*",
        must_not_reach: "xtask codelake-bench-engine",
        kinds: Kinds::Any,
        why: "xtask and the bench engine are tools built on the runtime and the plugins, never under them",
    },
    // The catalog is user code that changes daily: the engine must serve any
    // catalog and never rebuild because a table changed.
    Rule {
        crates: "* !tables !codelake !codelake-plugin-function !xtask !codelake-bench-engine !codelake-tests",
        must_not_reach: "tables",
        kinds: Kinds::Any,
        why: "only programs that ship this catalog link it; the runtime, model, environment and SDK serve any catalog",
    },
    // Host and plugins are built apart and loaded as cdylibs; a shared Rust crate
    // would be a second copy of its state with a layout the ABI does not freeze.
    Rule {
        crates: "plugins/*",
        must_not_reach: "catalog-runtime catalog-env",
        kinds: Kinds::Any,
        why: "a plugin meets the host only at the C ABI (`codelake-plugin-abi`), never through the host's crates",
    },
    // The runtime serves any environment a process builds: the embedded servers
    // and the configuration files are the binaries' business, not the engine's.
    Rule {
        crates: "catalog-runtime",
        must_not_reach: "catalog-env",
        kinds: Kinds::Any,
        why: "the runtime takes an `Environment` as data; where it comes from (profiles, embedded servers) is catalog-env's",
    },
    // The environment and the S3 client are plain I/O helpers under the engine:
    // reaching up into it, or into a plugin, would make a cycle of concerns.
    Rule {
        crates: "catalog-env catalog-s3",
        must_not_reach: "datafusion* catalog-runtime plugins/*",
        kinds: Kinds::Normal,
        why: "they build an `Environment` and an S3 client from settings; the engine and the plugins use them, never the reverse",
    },
    // The other side of the same boundary: the host knows plugins only as files.
    Rule {
        crates: "catalog-runtime",
        must_not_reach: "plugins/* !plugins/abi",
        kinds: Kinds::Any,
        why: "the host loads plugins from a directory and knows them only through the C ABI (`codelake-plugin-abi`)",
    },
    // Every front end shares one query service; the service speaks no protocol,
    // so Flight SQL, Postgres and agents reuse it without pulling in HTTP.
    Rule {
        crates: "catalog-serve",
        must_not_reach: "axum* tonic* arrow-flight pgwire rmcp* catalog-http catalog-flight catalog-pg catalog-mcp catalog-env plugins/* !plugins/abi",
        kinds: Kinds::Normal,
        why: "the query service owns tokens, policy, limits and metrics for every front end; wire protocols, configuration and plugins are others' business",
    },
    // A front end is a thin adapter: it serves any environment and reads no source itself.
    Rule {
        crates: "catalog-http",
        must_not_reach: "catalog-env catalog-flight catalog-pg catalog-mcp rmcp* tonic* arrow-flight pgwire plugins/* !plugins/abi",
        kinds: Kinds::Normal,
        why: "the HTTP front end adapts HTTP to the query service; environments are the binary's, sources the plugins', other protocols their own front ends'",
    },
    Rule {
        crates: "catalog-flight",
        must_not_reach: "catalog-env catalog-http catalog-pg catalog-mcp rmcp* pgwire plugins/* !plugins/abi",
        kinds: Kinds::Normal,
        why: "the Flight SQL front end adapts Flight SQL to the query service; it shares nothing with HTTP's routes but the service",
    },
    Rule {
        crates: "catalog-pg",
        must_not_reach: "catalog-env catalog-http catalog-flight catalog-mcp rmcp* axum* tonic* arrow-flight plugins/* !plugins/abi",
        kinds: Kinds::Normal,
        why: "the Postgres front end adapts the Postgres wire to the query service; its pg_catalog is built from the catalog as data, never from a source",
    },
    // Agents get the same service as every client: MCP adapts it, and knows
    // HTTP only as the endpoint another front end mounts.
    Rule {
        crates: "catalog-mcp",
        must_not_reach: "catalog-env catalog-http catalog-flight catalog-pg catalog-cluster catalog-site tonic* arrow-flight pgwire plugins/* !plugins/abi tables",
        kinds: Kinds::Normal,
        why: "the MCP front end adapts the Model Context Protocol to the query service; configuration, other protocols, plugins and the catalog are others' business",
    },
    // Scale-out moves plans between processes: what a plan reads comes from
    // the environment it is handed and the tables the binary registered.
    Rule {
        crates: "catalog-cluster",
        must_not_reach: "catalog-env catalog-http catalog-flight catalog-pg catalog-mcp rmcp* pgwire plugins/* !plugins/abi tables",
        kinds: Kinds::Normal,
        why: "the cluster crate moves plans and table names between processes; configuration, front ends, plugins and the catalog are the binary's",
    },
    // The site is generated where no engine is built (`cargo xtask site`, a CI
    // job publishing docs) and served by any front end that is handed it.
    Rule {
        crates: "catalog-site",
        must_not_reach: "datafusion* catalog-runtime catalog-env catalog-serve catalog-http axum* tonic* tokio plugins/* tables",
        kinds: Kinds::Normal,
        why: "the catalog site is generated from catalog.json as data: no query engine, no server, no environment, no particular catalog",
    },
];

fn matches(pattern: &str, package: &Package) -> bool {
    let text = if pattern.contains('/') {
        package.dir.as_deref()
    } else {
        Some(&*package.name)
    };
    text.is_some_and(|text| match pattern.strip_suffix('*') {
        Some(prefix) => text.starts_with(prefix),
        None => text == pattern,
    })
}

fn contains(set: &str, package: &Package) -> bool {
    let (except, any_of): (Vec<&str>, Vec<&str>) =
        set.split_whitespace().partition(|p| p.starts_with('!'));
    any_of.iter().any(|p| matches(p, package)) && !except.iter().any(|p| matches(&p[1..], package))
}

/// `* !a !b` as "every crate except a, b", for messages.
fn describe(set: &str) -> String {
    let (except, any_of): (Vec<&str>, Vec<&str>) =
        set.split_whitespace().partition(|p| p.starts_with('!'));
    let any_of = if any_of == ["*"] {
        "every crate".into()
    } else {
        any_of.join(", ")
    };
    let except: Vec<&str> = except.iter().map(|p| &p[1..]).collect();
    match except.is_empty() {
        true => any_of,
        false => format!("{any_of} except {}", except.join(", ")),
    }
}

struct Package {
    name: String,
    /// The directory relative to the workspace root, for workspace members only.
    dir: Option<String>,
    /// Package ids, each with its kinds among "normal", "build" and "dev".
    deps: Vec<(String, Vec<String>)>,
}

/// Packages by id.
struct Graph(BTreeMap<String, Package>);

fn text(value: &Value) -> String {
    value.as_str().expect("cargo metadata: a string").to_owned()
}

fn array(value: &Value) -> &[Value] {
    value.as_array().expect("cargo metadata: an array")
}

impl Graph {
    fn parse(metadata: &Value) -> Graph {
        let root = text(&metadata["workspace_root"]);
        let members: Vec<String> = array(&metadata["workspace_members"])
            .iter()
            .map(text)
            .collect();
        let mut deps: BTreeMap<String, _> = BTreeMap::new();
        for node in array(&metadata["resolve"]["nodes"]) {
            let node_deps = array(&node["deps"]).iter().map(|dep| {
                let kinds = array(&dep["dep_kinds"]).iter();
                let kinds = kinds.map(|k| k["kind"].as_str().unwrap_or("normal").to_owned());
                (text(&dep["pkg"]), kinds.collect())
            });
            deps.insert(text(&node["id"]), node_deps.collect());
        }
        let packages = array(&metadata["packages"]).iter().map(|p| {
            let (id, manifest) = (text(&p["id"]), text(&p["manifest_path"]));
            let dir = Path::new(&manifest)
                .parent()
                .and_then(|d| d.strip_prefix(&root).ok());
            let dir = dir
                .filter(|_| members.contains(&id))
                .map(|d| d.display().to_string());
            let (name, deps) = (text(&p["name"]), deps.remove(&id).unwrap_or_default());
            (id, Package { name, dir, deps })
        });
        Graph(packages.collect())
    }

    fn members(&self) -> impl Iterator<Item = (&String, &Package)> {
        self.0.iter().filter(|(_, package)| package.dir.is_some())
    }

    /// The shortest path from `root` to each package of `forbidden` it reaches,
    /// as `a -> b -> c`. The walk stops at a forbidden package, so `datafusion` is
    /// reported and the `datafusion-*` crates under it are not.
    fn forbidden_paths(&self, root: &str, kinds: Kinds, forbidden: &str) -> Vec<String> {
        const LABELS: [(&str, &str); 3] =
            [("normal", ""), ("build", " (build)"), ("dev", " (dev)")];
        let mut paths = BTreeMap::from([(root, self.0[root].name.clone())]);
        let mut queue = VecDeque::from([root]);
        let mut found = Vec::new();
        while let Some(id) = queue.pop_front() {
            for (dep, dep_kinds) in &self.0[id].deps {
                let allowed = |k: &str| match kinds {
                    Kinds::Normal => k == "normal",
                    Kinds::Any => id == root || k != "dev",
                };
                let edge = LABELS
                    .iter()
                    .find(|(k, _)| allowed(k) && dep_kinds.iter().any(|d| d == k));
                let Some((_, label)) = edge else { continue };
                if paths.contains_key(dep.as_str()) {
                    continue;
                }
                let path = format!("{} -> {}{label}", paths[id], self.0[dep].name);
                if contains(forbidden, &self.0[dep]) {
                    found.push(path.clone());
                } else {
                    queue.push_back(dep);
                }
                paths.insert(dep, path);
            }
        }
        found
    }
}

fn graph() -> &'static Graph {
    static GRAPH: OnceLock<Graph> = OnceLock::new();
    GRAPH.get_or_init(|| {
        // The host's graph only: no download of other platforms' crates on a fresh machine.
        let rustc = std::process::Command::new("rustc")
            .arg("-vV")
            .output()
            .expect("running rustc -vV");
        let rustc = String::from_utf8_lossy(&rustc.stdout);
        let host = rustc
            .lines()
            .find_map(|line| line.strip_prefix("host: "))
            .expect("rustc -vV names the host");
        let output = crate::cargo_command()
            .current_dir(crate::project_root())
            .args(["metadata", "--format-version", "1", "--locked"])
            .args(["--filter-platform", host])
            .output()
            .expect("running cargo metadata");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "cargo metadata failed:\n{stderr}");
        Graph::parse(&serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON"))
    })
}

#[test]
fn dependency_rules_hold() {
    let mut broken = String::new();
    for rule in RULES {
        let kinds = match rule.kinds {
            Kinds::Normal => "normal dependencies, transitively",
            Kinds::Any => "any kind of dependency, transitively",
        };
        for (id, package) in graph().members().filter(|(_, p)| contains(rule.crates, p)) {
            for path in graph().forbidden_paths(id, rule.kinds, rule.must_not_reach) {
                let reached = path.rsplit(" -> ").next().unwrap_or_default();
                let (crates, forbidden) = (describe(rule.crates), describe(rule.must_not_reach));
                let (name, why) = (&package.name, rule.why);
                broken += &format!("\n{name} depends on {reached}: {path}\n");
                broken += &format!("    rule: {crates} never depend on {forbidden} ({kinds})\n");
                broken += &format!("    why: {why}\n");
            }
        }
    }
    assert!(
        broken.is_empty(),
        "architecture rules broken (xtask/src/tidy.rs):\n{broken}"
    );
}

/// A renamed crate must not turn a rule silently into one that checks nothing.
#[test]
fn rules_name_only_existing_packages() {
    let mut unknown = String::new();
    for rule in RULES {
        let crates = rule.crates.split_whitespace().map(|p| (p, true));
        let reached = rule.must_not_reach.split_whitespace().map(|p| (p, false));
        for (pattern, members_only) in crates.chain(reached) {
            let pattern = pattern.trim_start_matches('!');
            let mut packages = graph()
                .0
                .values()
                .filter(|p| !members_only || p.dir.is_some());
            if !packages.any(|package| matches(pattern, package)) {
                writeln!(unknown, "`{pattern}` in the rule \"{}\"", rule.why).unwrap();
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "the tidy rules name packages that do not exist:\n{unknown}"
    );
}

/// The code map is where a reader finds a crate and what it must not know.
#[test]
fn architecture_doc_names_every_crate() {
    let path = crate::project_root().join("docs/explanation/architecture.md");
    let doc = std::fs::read_to_string(path).expect("reading docs/explanation/architecture.md");
    let named = |s: &str| doc.contains(&format!("`{s}`")) || doc.contains(&format!("`{s}/"));
    let mut missing = String::new();
    for (_, package) in graph().members() {
        let dir = package.dir.as_deref().unwrap_or_default();
        if !named(&package.name) && !named(dir) {
            writeln!(missing, "{} ({dir})", package.name).unwrap();
        }
    }
    assert!(
        missing.is_empty(),
        "docs/explanation/architecture.md names neither the package nor the directory \
         (in `code`) of these workspace members:\n{missing}",
    );
}

/// The host executes plans that plugins send, and still knows no source
/// kind: it decodes them with datafusion-proto's default codec, which knows
/// DataFusion's own nodes only, and defines no codec of its own that could
/// decode a plugin's private node.
#[test]
fn the_host_decodes_standard_plan_nodes_only() {
    let dir = crate::project_root().join("catalog-core/runtime/src");
    let mut sources = Vec::new();
    let mut pending = vec![dir];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("reading catalog-core/runtime/src") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                let text = std::fs::read_to_string(&path).expect("reading a source file");
                sources.push((path, text));
            }
        }
    }
    let mut broken = String::new();
    for (path, text) in &sources {
        if text.contains("ExtensionCodec for") {
            writeln!(broken, "{} implements an extension codec", path.display()).unwrap();
        }
        for (line, code) in text.lines().enumerate() {
            if code.contains("try_into_physical_plan(")
                && !code.contains("DefaultPhysicalExtensionCodec")
            {
                writeln!(
                    broken,
                    "{}:{}: decodes a plan with a codec other than `DefaultPhysicalExtensionCodec`",
                    path.display(),
                    line + 1
                )
                .unwrap();
            }
        }
    }
    let decodes = sources
        .iter()
        .any(|(_, text)| text.contains("try_into_physical_plan("));
    assert!(
        decodes,
        "the host decodes no plan: this rule checks nothing; update it"
    );
    assert!(
        broken.is_empty(),
        "the host must decode standard nodes only:\n{broken}"
    );
}

#[test]
fn walk_reports_transitive_paths_and_follows_dev_edges_from_the_root_only() {
    let package = |name: &str, deps: &[(&str, &str)]| {
        let deps = deps
            .iter()
            .map(|(d, k)| (d.to_string(), vec![k.to_string()]));
        let (name, dir, deps) = (name.to_owned(), None, deps.collect());
        (name.clone(), Package { name, dir, deps })
    };
    let graph = Graph(BTreeMap::from([
        package("a", &[("b", "normal"), ("d", "dev")]),
        package("b", &[("c", "normal"), ("e", "dev")]), // b's dev-deps are never built for a.
        package("c", &[]),
        package("d", &[]),
        package("e", &[]),
    ]));
    assert_eq!(
        graph.forbidden_paths("a", Kinds::Normal, "c d e"),
        ["a -> b -> c"]
    );
    let any = graph.forbidden_paths("a", Kinds::Any, "c d e");
    assert_eq!(any, ["a -> d (dev)", "a -> b -> c"]);
}
