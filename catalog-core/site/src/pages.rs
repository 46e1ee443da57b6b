//! The pages: what each one shows, computed from the manifest, then rendered
//! by the askama templates in `templates/` (checked at compile time).

use std::collections::{BTreeMap, HashMap, HashSet};

use askama::Template;
use catalog_core::lineage::ViewLineage;
use catalog_core::{Manifest, TableSpec};

use crate::report::{CheckStatus, TableStatus, VerifyReport};
use crate::text::{
    Rich, freshness, label, paragraphs, paragraphs_joined, rust_snippet, source_facts, sql_snippet,
    summary,
};
use crate::{Error, graph, search, table_page};

const STYLE: &str = include_str!("../assets/style.css");
const SCRIPT: &str = include_str!("../assets/site.js");

/// Renders every file of the site into `sink(path, bytes)`.
pub(crate) fn render(
    manifest: &Manifest,
    report: Option<&VerifyReport>,
    sink: &mut dyn FnMut(String, Vec<u8>),
) -> Result<(), Error> {
    let site = SiteData::new(manifest, report);
    sink("style.css".into(), STYLE.into());
    sink("site.js".into(), SCRIPT.into());
    sink(
        "search-index.js".into(),
        search::index(&manifest.tables).into(),
    );
    sink("index.html".into(), page("index.html", site.index())?);
    sink("lineage.html".into(), page("lineage.html", site.lineage())?);
    for spec in &manifest.tables {
        let path = table_page(&spec.qualified_name());
        let bytes = page(&path, site.table(spec)?)?;
        sink(path, bytes);
    }
    Ok(())
}

fn page(path: &str, template: impl Template) -> Result<Vec<u8>, Error> {
    template
        .render()
        .map(String::into_bytes)
        .map_err(|error| Error::Render {
            page: path.to_owned(),
            error,
        })
}

/// What every page needs: the tables by name, lineage both ways, the report.
struct SiteData<'a> {
    manifest: &'a Manifest,
    report: Option<&'a VerifyReport>,
    by_name: HashMap<String, &'a TableSpec>,
    /// Each view's lineage, by the view's name.
    lineage_of: HashMap<&'a str, &'a ViewLineage>,
    /// `from -> readers`, one hop.
    readers: HashMap<&'a str, Vec<&'a str>>,
    generated_by: &'a str,
}

impl<'a> SiteData<'a> {
    fn new(manifest: &'a Manifest, report: Option<&'a VerifyReport>) -> Self {
        let by_name = (manifest.tables.iter())
            .map(|spec| (spec.qualified_name(), spec))
            .collect();
        let mut readers: HashMap<&str, Vec<&str>> = HashMap::new();
        for view in &manifest.lineage {
            for read in &view.reads {
                readers.entry(read).or_default().push(&view.view);
            }
        }
        for list in readers.values_mut() {
            list.sort_unstable();
        }
        Self {
            manifest,
            report,
            by_name,
            lineage_of: (manifest.lineage.iter())
                .map(|view| (view.view.as_str(), view))
                .collect(),
            readers,
            generated_by: &manifest.generated_by,
        }
    }

    fn status(&self, table: &str) -> Option<StatusBadge> {
        let status = self.report?.table(table)?;
        Some(StatusBadge::of(status.status))
    }

    fn index(&self) -> IndexPage<'_> {
        let mut databases: BTreeMap<&str, Vec<TableRow<'_>>> = BTreeMap::new();
        for spec in &self.manifest.tables {
            let name = spec.qualified_name();
            databases.entry(&spec.database).or_default().push(TableRow {
                href: table_page(&name),
                status: self.status(&name),
                short_name: &spec.name,
                is_view: spec.is_view(),
                acceleration: spec.acceleration(),
                summary: Rich::new(&summary(&spec.doc)),
                source: &spec.source,
                owner: spec.owner.as_deref().unwrap_or("—"),
                name,
            });
        }
        let views = self.manifest.tables.iter().filter(|t| t.is_view()).count();
        let report = self.report.map(|report| {
            let known: HashSet<String> = self.by_name.keys().cloned().collect();
            let (passed, warned, failed) = report.counts(&known);
            ReportSummary {
                environment: &report.environment,
                started_at: &report.started_at,
                passed,
                warned,
                failed,
                unverified: (self.manifest.tables.iter())
                    .filter(|spec| report.table(&spec.qualified_name()).is_none())
                    .count(),
                unknown: report.unknown_tables(&known).map(str::to_owned).collect(),
            }
        });
        IndexPage {
            root: "",
            generated_by: self.generated_by,
            table_count: self.manifest.tables.len() - views,
            view_count: views,
            databases: databases
                .into_iter()
                .map(|(name, tables)| Database { name, tables })
                .collect(),
            report,
        }
    }

    fn lineage(&self) -> LineagePage<'_> {
        let names: Vec<String> = self
            .manifest
            .tables
            .iter()
            .map(TableSpec::qualified_name)
            .collect();
        let svg = self.graph("lineage-graph", "", &names, "Every table and view");
        LineagePage {
            root: "",
            generated_by: self.generated_by,
            tables: names.len(),
            edges: self.manifest.lineage.iter().map(|v| v.reads.len()).sum(),
            has_report: self.report.is_some(),
            svg,
        }
    }

    /// The graph of `names` and the dependencies among them, as SVG; links
    /// are relative to a page at `root`.
    fn graph(&self, id: &str, root: &str, names: &[String], caption: &str) -> String {
        let index: HashMap<&str, usize> = (names.iter().enumerate())
            .map(|(i, name)| (name.as_str(), i))
            .collect();
        let mut edges = Vec::new();
        for (to, name) in names.iter().enumerate() {
            let Some(view) = self.lineage_of.get(name.as_str()) else {
                continue;
            };
            for read in &view.reads {
                if let Some(&from) = index.get(read.as_str()) {
                    edges.push((from, to));
                }
            }
        }
        let layout = graph::layout(names.len(), &edges);
        let nodes = (names.iter().zip(&layout.positions))
            .map(|(name, &(x, y))| {
                let spec = self.by_name.get(name);
                let is_view = spec.is_some_and(|spec| spec.is_view());
                let status = self.status(name);
                let mut class = String::from(if is_view { "view" } else { "table" });
                if let Some(status) = &status {
                    class.push(' ');
                    class.push_str(status.class);
                }
                GraphNode {
                    href: format!("{root}{}", table_page(name)),
                    label: label(name),
                    title: match (spec, &status) {
                        (Some(spec), Some(status)) => {
                            format!("{name}: {} (verify: {})", summary(&spec.doc), status.label)
                        }
                        (Some(spec), None) => format!("{name}: {}", summary(&spec.doc)),
                        (None, _) => name.clone(),
                    },
                    name: name.clone(),
                    class,
                    x,
                    y,
                    text_x: x + 10,
                    text_y: y + graph::node_height() / 2 + 5,
                }
            })
            .collect();
        let edges = (edges.iter().zip(layout.paths))
            .map(|(&(from, to), d)| GraphEdge {
                d,
                from: &names[from],
                to: &names[to],
            })
            .collect();
        let svg = GraphSvg {
            id,
            caption,
            width: layout.width,
            height: layout.height,
            node_width: graph::NODE_WIDTH,
            node_height: graph::node_height(),
            nodes,
            edges,
        };
        svg.render()
            .expect("the graph template renders from plain data")
    }

    fn table(&self, spec: &'a TableSpec) -> Result<TablePage<'a>, Error> {
        let name = spec.qualified_name();
        let root = "../../";
        let view_lineage = self.lineage_of.get(name.as_str()).copied();
        let link = |table: &str| Link {
            href: format!("{root}{}", table_page(table)),
            label: table.to_owned(),
        };
        let upstream: Vec<Link> = (view_lineage.into_iter())
            .flat_map(|view| &view.reads)
            .map(|t| link(t))
            .collect();
        let downstream: Vec<Link> = (self.readers.get(name.as_str()).into_iter().flatten())
            .map(|t| link(t))
            .collect();
        let columns = spec
            .columns
            .iter()
            .map(|column| ColumnRow {
                name: &column.name,
                sql_type: column.ty.to_string(),
                rust_type: column.field_type(),
                nullable: column.nullable,
                checks: column.checks().join(", "),
                doc: Rich::new(&paragraphs_joined(&column.doc)),
                from: view_lineage
                    .and_then(|view| view.column(&column.name))
                    .map(|lineage| lineage.from.iter().map(|c| column_link(root, c)).collect()),
            })
            .collect();
        let neighbourhood = self.neighbourhood(&name);
        let graph = (neighbourhood.len() > 1).then(|| {
            self.graph(
                "table-graph",
                root,
                &neighbourhood,
                &format!("{name}, what it reads and what reads it"),
            )
        });
        let (location, options) = source_facts(spec);
        Ok(TablePage {
            root,
            generated_by: self.generated_by,
            doc: paragraphs(&spec.doc),
            database: &spec.database,
            short_name: &spec.name,
            is_view: spec.is_view(),
            owner: spec.owner.as_deref(),
            contract: spec.contract.summary(),
            source: &spec.source,
            location,
            options,
            rust_type: &spec.rust_type,
            freshness: freshness(spec).map(|text| Rich::new(&text)),
            acceleration: spec.acceleration(),
            rows: spec.expectations.row_bounds(),
            has_lineage_column: view_lineage.is_some(),
            columns,
            sql: sql_snippet(spec),
            rust: rust_snippet(spec),
            upstream,
            downstream,
            graph,
            view_sql: spec.view.as_ref().map(|view| view.sql.trim_end()),
            view_file: spec.view.as_ref().map(|view| &*view.file),
            materialize: (spec.view.as_ref()).and_then(|view| view.materialize.as_deref()),
            verify: self.report.and_then(|report| {
                let status = report.table(&name)?;
                Some(VerifySection::new(report, status))
            }),
            name,
        })
    }

    /// `table`, everything upstream and everything downstream of it, sorted.
    fn neighbourhood(&self, table: &'a str) -> Vec<String> {
        let mut seen: HashSet<&str> = HashSet::from([table]);
        let mut next = vec![table];
        while let Some(current) = next.pop() {
            for read in self
                .lineage_of
                .get(current)
                .into_iter()
                .flat_map(|v| &v.reads)
            {
                if seen.insert(read) {
                    next.push(read);
                }
            }
        }
        let mut next = vec![table];
        while let Some(current) = next.pop() {
            for &reader in self.readers.get(current).into_iter().flatten() {
                if seen.insert(reader) {
                    next.push(reader);
                }
            }
        }
        let mut names: Vec<String> = seen.into_iter().map(str::to_owned).collect();
        names.sort_unstable();
        names
    }
}

/// A link to `database.table.column` on its table's page.
fn column_link(root: &str, column: &str) -> Link {
    let (table, column_name) = column.rsplit_once('.').unwrap_or((column, ""));
    Link {
        href: format!("{root}{}#col-{column_name}", table_page(table)),
        label: column.to_owned(),
    }
}

struct Link {
    href: String,
    label: String,
}

struct StatusBadge {
    class: &'static str,
    label: &'static str,
}

impl StatusBadge {
    fn of(status: CheckStatus) -> Self {
        Self {
            class: status.class(),
            label: status.label(),
        }
    }
}

struct TableRow<'a> {
    name: String,
    href: String,
    short_name: &'a str,
    is_view: bool,
    /// How `serve` keeps the table (`memory, refreshed every 5m`), if it does.
    acceleration: Option<String>,
    summary: Rich,
    source: &'a str,
    owner: &'a str,
    status: Option<StatusBadge>,
}

struct Database<'a> {
    name: &'a str,
    tables: Vec<TableRow<'a>>,
}

struct ReportSummary<'a> {
    environment: &'a str,
    started_at: &'a str,
    passed: usize,
    warned: usize,
    failed: usize,
    unverified: usize,
    unknown: Vec<String>,
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage<'a> {
    root: &'static str,
    generated_by: &'a str,
    table_count: usize,
    view_count: usize,
    databases: Vec<Database<'a>>,
    report: Option<ReportSummary<'a>>,
}

#[derive(Template)]
#[template(path = "lineage.html")]
struct LineagePage<'a> {
    root: &'static str,
    generated_by: &'a str,
    tables: usize,
    edges: usize,
    has_report: bool,
    svg: String,
}

struct GraphNode {
    name: String,
    href: String,
    label: String,
    title: String,
    class: String,
    x: u32,
    y: u32,
    text_x: u32,
    text_y: u32,
}

struct GraphEdge<'a> {
    d: String,
    from: &'a str,
    to: &'a str,
}

#[derive(Template)]
#[template(path = "graph.html")]
struct GraphSvg<'a> {
    id: &'a str,
    caption: &'a str,
    width: u32,
    height: u32,
    node_width: u32,
    node_height: u32,
    nodes: Vec<GraphNode>,
    edges: Vec<GraphEdge<'a>>,
}

struct ColumnRow<'a> {
    name: &'a str,
    sql_type: String,
    rust_type: String,
    nullable: bool,
    checks: String,
    doc: Rich,
    /// For a view's column, the columns it is computed from.
    from: Option<Vec<Link>>,
}

struct CheckRow<'a> {
    name: &'a str,
    status: StatusBadge,
    message: Rich,
    /// Each problem and its fix.
    problems: Vec<(Rich, Rich)>,
}

struct VerifySection<'a> {
    status: StatusBadge,
    environment: &'a str,
    started_at: &'a str,
    unreachable: bool,
    /// Failed and warned checks, first.
    problems: Vec<CheckRow<'a>>,
    /// The others.
    passed: Vec<CheckRow<'a>>,
}

impl<'a> VerifySection<'a> {
    fn new(report: &'a VerifyReport, table: &'a TableStatus) -> Self {
        let (problems, passed) = (table.checks.iter())
            .map(|check| CheckRow {
                name: &check.check,
                status: StatusBadge::of(check.status),
                message: Rich::new(&check.message),
                problems: (check.problems.iter())
                    .map(|p| (Rich::new(&p.message), Rich::new(&p.fix)))
                    .collect(),
            })
            .partition(|row| matches!(row.status.class, "fail" | "warn"));
        Self {
            status: StatusBadge::of(table.status),
            environment: &report.environment,
            started_at: &report.started_at,
            unreachable: table.unreachable,
            problems,
            passed,
        }
    }
}

#[derive(Template)]
#[template(path = "table.html")]
struct TablePage<'a> {
    root: &'static str,
    generated_by: &'a str,
    name: String,
    database: &'a str,
    short_name: &'a str,
    is_view: bool,
    doc: Vec<Rich>,
    owner: Option<&'a str>,
    /// The contract in words (`version 1`), which `codelake diff` checks.
    contract: String,
    source: &'a str,
    location: Option<String>,
    options: Vec<(String, String)>,
    rust_type: &'a str,
    freshness: Option<Rich>,
    /// How `serve` keeps a copy (`memory, refreshed every 15m`).
    acceleration: Option<String>,
    rows: Option<String>,
    has_lineage_column: bool,
    columns: Vec<ColumnRow<'a>>,
    sql: String,
    rust: String,
    upstream: Vec<Link>,
    downstream: Vec<Link>,
    graph: Option<String>,
    view_sql: Option<&'a str>,
    view_file: Option<&'a str>,
    materialize: Option<&'a str>,
    verify: Option<VerifySection<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_and_report_messages_are_text_never_markup() {
        use catalog_core::{ColumnSpec, ColumnType, Expectations, TableSpec};
        let evil = "<img src=x onerror=alert(1)> `<b>code</b>` \"quoted\" & more";
        let spec = TableSpec {
            database: "db".into(),
            name: "t".into(),
            doc: evil.into(),
            rust_type: "tables::db::T".into(),
            source: "csv".into(),
            options: vec![].into(),
            owner: Some("<script>alert(2)</script>".into()),
            expectations: Expectations::default(),
            columns: vec![ColumnSpec {
                name: "c".into(),
                ty: ColumnType::Int64,
                nullable: false,
                doc: evil.into(),
                unique: false,
                min: None,
                max: None,
            }]
            .into(),
            view: None,
            accelerate: None,
            refresh: None,
            contract: ::catalog_core::Contract {
                version: 2,
                ..::catalog_core::Contract::NONE
            },
        };
        let manifest = Manifest::new(vec![spec], "test");
        let report = VerifyReport::from_json(
            "r.json",
            r#"{"report_version": 1, "environment": "<i>env</i>", "started_at": "now",
                "tables": [{"table": "db.t", "status": "fail", "checks": [{"check": "schema",
                "status": "fail", "message": "<svg onload=alert(3)>",
                "problems": [{"message": "<iframe>", "fix": "`<a href=x>`"}]}]}]}"#,
        )
        .unwrap();
        let site = crate::Site::build(&manifest, Some(&report)).unwrap();
        // In the search index they are JSON strings, which site.js shows as text.
        let index = String::from_utf8_lossy(site.file("search-index.js").unwrap().0).into_owned();
        assert!(!index.contains("</"), "{index}");
        for path in ["index.html", "tables/db/t.html", "lineage.html"] {
            let text = String::from_utf8_lossy(site.file(path).unwrap().0).into_owned();
            for markup in [
                "<img",
                "<script>alert",
                "<svg onload",
                "<iframe",
                "<b>",
                "<i>",
                "<a href=x",
            ] {
                assert!(!text.contains(markup), "{path} holds {markup}:\n{text}");
            }
        }
        let page = String::from_utf8_lossy(site.file("tables/db/t.html").unwrap().0).into_owned();
        assert!(
            page.contains("<code>&#60;b&#62;code&#60;/b&#62;</code>"),
            "{page}"
        );
        assert!(
            page.contains("<dt>Contract</dt><dd>version 2; <code>codelake diff</code>"),
            "{page}"
        );
    }
}
