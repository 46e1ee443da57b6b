//! Views as code: checked against their structs before any data exists, their
//! lineage planned column by column, and served like any other table.

use std::borrow::Cow;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use catalog_core::lineage::ViewLineage;
use catalog_core::{ColumnSpec, ColumnType, Manifest, Table, TableRef, TableSpec, ViewSpec};
use catalog_derive::Table;
use catalog_runtime::views::check;
use catalog_runtime::{Rows as _, register_tables};
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::cli::{assert_ok, run, seeded_project, stderr, stdout};
use crate::support::{ints, plugins, query};

/// A view `test.<name>` whose SQL is `sql`, declaring `columns` as (name, type, nullable).
fn view(name: &str, sql: &str, columns: &[(&str, ColumnType, bool)]) -> TableSpec {
    TableSpec {
        database: "test".into(),
        name: Cow::Owned(name.to_owned()),
        doc: "A test view.".into(),
        rust_type: "tests::View".into(),
        source: catalog_core::VIEW_SOURCE.into(),
        options: Cow::Borrowed(&[]),
        owner: None,
        expectations: catalog_core::Expectations::default(),
        columns: columns
            .iter()
            .map(|&(name, ty, nullable)| ColumnSpec {
                name: Cow::Owned(name.to_owned()),
                ty,
                nullable,
                doc: "A column.".into(),
                unique: false,
                min: None,
                max: None,
            })
            .collect(),
        view: Some(ViewSpec {
            sql: Cow::Owned(sql.to_owned()),
            file: Cow::Owned(format!("tests/views/{name}.sql")),
            materialize: None,
        }),
        accelerate: None,
        refresh: None,
        contract: ::catalog_core::Contract::NONE,
    }
}

/// The catalog's plugin tables, and `views`, checked together.
async fn problems_with(views: &[TableSpec]) -> Vec<String> {
    let mut specs: Vec<&TableSpec> = tables::REGISTRY
        .tables()
        .filter(|spec| !spec.is_view())
        .collect();
    specs.extend(views);
    match check(&specs).await {
        Ok(_) => Vec::new(),
        Err(problems) => problems.iter().map(ToString::to_string).collect(),
    }
}

/// The one problem `views` has; it names the view, its file and `column`.
async fn one_problem(views: &[TableSpec], column: Option<&str>) -> String {
    let problems = problems_with(views).await;
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let problem = problems.into_iter().next().unwrap();
    let name = &views[0].name;
    let mut prefix = format!("view `test.{name}` (tests/views/{name}.sql)");
    if let Some(column) = column {
        prefix.push_str(&format!(", column `{column}`"));
    }
    assert!(
        problem.starts_with(&prefix),
        "{problem}\ndoes not start with {prefix}"
    );
    problem
}

use ColumnType::{Float64, Int32, Int64, Utf8};

#[tokio::test]
async fn a_view_that_matches_its_struct_checks_and_text_is_one_type() {
    let ok = view(
        "nations",
        // A function may return NULL as far as DataFusion knows: COALESCE proves it does not.
        "SELECT n_nationkey, COALESCE(arrow_cast(upper(n_name), 'LargeUtf8'), '') AS name, \
                count(*) OVER () AS total FROM tpch.nation",
        &[
            ("n_nationkey", Int64, false),
            ("name", Utf8, false),
            ("total", Int64, false),
        ],
    );
    assert_eq!(problems_with(&[ok]).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_wrong_type_is_named_with_the_cast_and_the_field_type_that_fix_it() {
    let wrong = view(
        "keys",
        "SELECT n_nationkey FROM tpch.nation",
        &[("n_nationkey", Int32, false)],
    );
    let problem = one_problem(&[wrong], Some("n_nationkey")).await;
    assert!(
        problem.ends_with("the struct declares Int32 (`i32`), but the SQL computes Int64; write `CAST(… AS INT)` in the SQL, or declare the field as `i64`"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_missing_column_and_an_extra_column_are_each_named() {
    let missing = view(
        "missing",
        "SELECT n_nationkey FROM tpch.nation",
        &[("n_nationkey", Int64, false), ("n_name", Utf8, false)],
    );
    let problem = one_problem(&[missing], Some("n_name")).await;
    assert!(
        problem.contains(
            "declared by field `n_name`, but the SQL does not compute it (it computes: n_nationkey)"
        ),
        "{problem}"
    );

    let extra = view(
        "extra",
        "SELECT n_nationkey, n_name FROM tpch.nation",
        &[("n_nationkey", Int64, false)],
    );
    let problem = one_problem(&[extra], Some("n_name")).await;
    assert!(
        problem.contains("the SQL computes it, but the struct declares no such field"),
        "{problem}"
    );

    let reordered = view(
        "reordered",
        "SELECT n_name, n_nationkey FROM tpch.nation",
        &[("n_nationkey", Int64, false), ("n_name", Utf8, false)],
    );
    let problem = one_problem(&[reordered], None).await;
    assert!(
        problem.contains("another order (n_name, n_nationkey)"),
        "{problem}"
    );
}

#[tokio::test]
async fn nullability_must_be_proven_both_ways() {
    // `max_price` is declared `Option`: a non-null field over it is a promise the SQL cannot keep.
    let unproven = view(
        "prices",
        "SELECT tier, CAST(max_price AS DOUBLE) AS max_price FROM tpch.price_tiers",
        &[("tier", Utf8, false), ("max_price", Float64, false)],
    );
    let problem = one_problem(&[unproven], Some("max_price")).await;
    assert!(
        problem.contains("declares it non-null (`f64`), but the SQL can compute NULL for it; wrap it in `COALESCE(…, default)`, or declare the field `Option<f64>`"),
        "{problem}"
    );
    // COALESCE proves it.
    let proven = view(
        "prices",
        "SELECT tier, COALESCE(CAST(max_price AS DOUBLE), 0.0) AS max_price FROM tpch.price_tiers",
        &[("tier", Utf8, false), ("max_price", Float64, false)],
    );
    assert_eq!(problems_with(&[proven]).await, Vec::<String>::new());
    // And an `Option` over a column that is never null says so.
    let loose = view(
        "tiers",
        "SELECT tier FROM tpch.price_tiers",
        &[("tier", Utf8, true)],
    );
    let problem = one_problem(&[loose], Some("tier")).await;
    assert!(
        problem.contains("never computes NULL for it; declare the field `String`"),
        "{problem}"
    );
}

#[tokio::test]
async fn an_unknown_table_or_column_or_a_bare_name_is_named() {
    let table = view(
        "t",
        "SELECT n_name FROM tpch.nations",
        &[("n_name", Utf8, false)],
    );
    let problem = one_problem(&[table], None).await;
    assert!(
        problem.contains("it reads `tpch.nations`, which the catalog does not declare"),
        "{problem}"
    );

    let column = view(
        "c",
        "SELECT n_nam FROM tpch.nation",
        &[("n_nam", Utf8, false)],
    );
    let problem = one_problem(&[column], None).await;
    assert!(
        problem.contains("the SQL does not plan against the declared tables")
            && problem.contains("n_nam"),
        "{problem}"
    );

    // A catalog.json read at run time skips the derive: a statement that is no query is refused here.
    let statement = view(
        "s",
        "COPY (SELECT 1 AS x) TO 'out.csv'",
        &[("count", ColumnType::UInt64, false)],
    );
    let problem = one_problem(&[statement], None).await;
    assert!(
        problem.ends_with("its SQL is not a query: a view is one `SELECT` (or `WITH … SELECT`)"),
        "{problem}"
    );

    // The same name twice (both sides of a join) is refused, not served as `n_name:1`.
    let twice = view(
        "twice",
        "SELECT a.n_name, b.n_name FROM tpch.nation a JOIN tpch.nation b ON a.n_nationkey = b.n_nationkey",
        &[("n_name", Utf8, false)],
    );
    let problem = one_problem(&[twice], Some("n_name")).await;
    assert!(
        problem.contains("the SQL computes it more than once"),
        "{problem}"
    );

    let bare = view("b", "SELECT n_name FROM nation", &[("n_name", Utf8, false)]);
    let problem = one_problem(&[bare], None).await;
    assert!(
        problem.contains("it reads `nation`, which names no database: write it as `database.table`, e.g. `test.nation`"),
        "{problem}"
    );
}

#[tokio::test]
async fn views_that_read_each_other_in_a_cycle_are_refused_and_their_readers_named() {
    let a = view("a", "SELECT x FROM test.b", &[("x", Int64, false)]);
    let b = view("b", "SELECT x FROM test.a", &[("x", Int64, false)]);
    let reader = view("c", "SELECT x FROM test.a", &[("x", Int64, false)]);
    let problems = problems_with(&[a, b, reader]).await;
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(
        problems[0].starts_with("view `test.a` (tests/views/a.sql): views read each other in a cycle: test.a → test.b → test.a"),
        "{problems:#?}"
    );
    assert!(
        problems[1].starts_with("view `test.b` (tests/views/b.sql): views read each other in a cycle: test.b → test.a → test.b"),
        "{problems:#?}"
    );
    assert!(
        problems[2].starts_with("view `test.c` (tests/views/c.sql): it reads view `test.a`, which has problems of its own"),
        "{problems:#?}"
    );

    // Every view on a cycle is named, also one found only through a view already ordered.
    let p = view(
        "p",
        "SELECT x FROM test.q UNION ALL SELECT x FROM test.r",
        &[("x", Int64, false)],
    );
    let q = view("q", "SELECT x FROM test.p", &[("x", Int64, false)]);
    let r = view("r", "SELECT x FROM test.q", &[("x", Int64, false)]);
    let problems = problems_with(&[p, q, r]).await;
    assert_eq!(
        problems
            .iter()
            .map(|problem| problem
                .split(": views read each other in a cycle: ")
                .nth(1)
                .unwrap_or(problem)
                .split(';')
                .next()
                .unwrap())
            .collect::<Vec<_>>(),
        [
            "test.p → test.q → test.p",
            "test.q → test.p → test.q",
            "test.r → test.q → test.p → test.r"
        ],
        "{problems:#?}"
    );
}

fn lineage_of<'a>(lineage: &'a [ViewLineage], view: &str) -> &'a ViewLineage {
    lineage.iter().find(|lineage| lineage.view == view).unwrap()
}

/// `(column, its sources)`, as a person reads them off the SQL.
fn by_hand(columns: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    columns
        .iter()
        .map(|(column, from)| {
            (
                (*column).to_owned(),
                from.iter().map(|source| (*source).to_owned()).collect(),
            )
        })
        .collect()
}

fn planned(lineage: &ViewLineage) -> Vec<(String, Vec<String>)> {
    lineage
        .columns
        .iter()
        .map(|column| (column.column.clone(), column.from.clone()))
        .collect()
}

#[tokio::test]
async fn the_example_views_lineage_is_what_their_sql_says_column_by_column() {
    let specs: Vec<&TableSpec> = tables::REGISTRY.tables().collect();
    let lineage = check(&specs).await.unwrap_or_else(|problems| {
        panic!(
            "{}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });

    let nation = lineage_of(&lineage, "tpch.revenue_by_nation");
    assert_eq!(
        nation.reads,
        [
            "tpch.customer",
            "tpch.lineitem",
            "tpch.nation",
            "tpch.orders"
        ]
    );
    assert_eq!(
        planned(nation),
        by_hand(&[
            ("nation", &["tpch.nation.n_name"]),
            ("order_year", &["tpch.orders.o_orderdate"]),
            (
                "revenue",
                &["tpch.lineitem.l_discount", "tpch.lineitem.l_extendedprice"]
            ),
            ("orders", &["tpch.orders.o_orderkey"]),
        ])
    );

    // Federated: a Rust function and an HTTP API.
    let local = lineage_of(&lineage, "tpch.price_tiers_local");
    assert_eq!(local.reads, ["tpch.exchange_rates", "tpch.price_tiers"]);
    assert_eq!(
        planned(local),
        by_hand(&[
            ("tier", &["tpch.price_tiers.tier"]),
            ("currency", &["tpch.exchange_rates.currency"]),
            (
                "min_price_local",
                &[
                    "tpch.exchange_rates.rate_to_usd",
                    "tpch.price_tiers.min_price"
                ]
            ),
            (
                "max_price_local",
                &[
                    "tpch.exchange_rates.rate_to_usd",
                    "tpch.price_tiers.max_price"
                ]
            ),
            ("rate_as_of", &["tpch.exchange_rates.as_of"]),
        ])
    );

    // A view over a view names the view it reads, one hop, not the tables beneath.
    let year = lineage_of(&lineage, "tpch.revenue_by_year");
    assert_eq!(year.reads, ["tpch.revenue_by_nation"]);
    assert_eq!(
        planned(year),
        by_hand(&[
            ("order_year", &["tpch.revenue_by_nation.order_year"]),
            ("revenue", &["tpch.revenue_by_nation.revenue"]),
            ("nations", &[]),
            ("top_nation_revenue", &["tpch.revenue_by_nation.revenue"]),
        ])
    );
    assert_eq!(
        catalog_core::lineage::downstream_all(&lineage, "tpch.lineitem"),
        ["tpch.revenue_by_nation", "tpch.revenue_by_year"]
    );
}

#[tokio::test]
async fn lineage_follows_joins_unions_case_windows_and_subqueries() {
    let sql = "SELECT CASE WHEN n.n_regionkey = 0 THEN r.r_name ELSE n.n_name END AS label, \
                      sum(n.n_nationkey) OVER (PARTITION BY r.r_regionkey) AS running, \
                      (SELECT max(tier) FROM tpch.price_tiers) AS top_tier \
               FROM tpch.nation n LEFT JOIN tpch.region r ON r.r_regionkey = n.n_regionkey \
               UNION ALL \
               SELECT currency, CAST(NULL AS BIGINT), NULL FROM tpch.exchange_rates";
    let spec = view(
        "mixed",
        sql,
        &[
            ("label", Utf8, true),
            ("running", Int64, true),
            ("top_tier", Utf8, true),
        ],
    );
    // Grouping sets add a grouping id between the groups and the aggregates.
    let rollup = view(
        "rollup",
        "SELECT n_regionkey, count(*) AS nations, max(n_name) AS last_name \
         FROM tpch.nation GROUP BY ROLLUP (n_regionkey)",
        &[
            ("n_regionkey", Int64, true),
            ("nations", Int64, false),
            ("last_name", Utf8, true),
        ],
    );
    let mut specs: Vec<&TableSpec> = tables::REGISTRY
        .tables()
        .filter(|spec| !spec.is_view())
        .collect();
    specs.push(&spec);
    specs.push(&rollup);
    let lineage = check(&specs)
        .await
        .unwrap_or_else(|problems| panic!("{problems:#?}"));
    assert_eq!(
        planned(lineage_of(&lineage, "test.rollup")),
        by_hand(&[
            ("n_regionkey", &["tpch.nation.n_regionkey"]),
            ("nations", &[]),
            ("last_name", &["tpch.nation.n_name"]),
        ])
    );
    let mixed = lineage_of(&lineage, "test.mixed");
    assert_eq!(
        mixed.reads,
        [
            "tpch.exchange_rates",
            "tpch.nation",
            "tpch.price_tiers",
            "tpch.region"
        ]
    );
    assert_eq!(
        planned(mixed),
        by_hand(&[
            (
                "label",
                &[
                    "tpch.exchange_rates.currency",
                    "tpch.nation.n_name",
                    "tpch.nation.n_regionkey",
                    "tpch.region.r_name"
                ],
            ),
            (
                "running",
                &["tpch.nation.n_nationkey", "tpch.region.r_regionkey"]
            ),
            ("top_tier", &["tpch.price_tiers.tier"]),
        ])
    );
}

#[tokio::test]
async fn catalog_json_holds_the_lineage_a_fresh_plan_gives() {
    let specs: Vec<&TableSpec> = tables::REGISTRY.tables().collect();
    let planned = check(&specs).await.unwrap_or_else(|problems| {
        panic!(
            "{}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let manifest =
        Manifest::from_json(&fs::read_to_string(root.join("tables/catalog.json")).unwrap())
            .unwrap();
    assert_eq!(
        manifest.lineage, planned,
        "tables/catalog.json's lineage is stale: run `cargo xtask gen-catalog`"
    );
    // And the generated docs show it.
    let page = fs::read_to_string(root.join("docs/reference/catalog/tpch.md")).unwrap();
    assert!(
        page.contains("- **Upstream (reads):** [`tpch.revenue_by_nation`](#revenue_by_nation)"),
        "docs/reference/catalog/tpch.md lacks revenue_by_year's upstream"
    );
    assert!(
        page.contains("| `revenue` | `Decimal128(18, 2)` | `Option<Decimal<18, 2>>` | yes | ≥ 0 | `tpch.lineitem.l_discount`, `tpch.lineitem.l_extendedprice` |"),
        "docs/reference/catalog/tpch.md lacks revenue_by_nation's column lineage"
    );
}

/// Nations over the `tpch.nation` CSV and price tiers over the function,
/// as a view the tests declare the way the catalog does.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    database = "test",
    name = "nation_names",
    sql = "SELECT n_nationkey AS key, COALESCE(lower(n_name), '') AS name FROM tpch.nation"
)]
struct NationName {
    /// Nation key.
    key: i64,
    /// Its name, lower-case.
    name: String,
}

/// A view over the view above.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    database = "test",
    name = "long_names",
    sql = "SELECT name, COALESCE(CAST(length(name) AS BIGINT), 0) AS letters FROM test.nation_names WHERE length(name) > 6"
)]
struct LongName {
    /// The name.
    name: String,
    /// Its length.
    letters: i64,
}

fn nation_csv(dir: &Path) {
    fs::create_dir_all(dir.join("tpch")).unwrap();
    fs::write(
        dir.join("tpch/nation.csv"),
        "n_nationkey|n_name|n_regionkey|n_comment\n0|ALGERIA|0|a\n1|ARGENTINA|1|b\n2|BRAZIL|1|c\n",
    )
    .unwrap();
}

fn served_specs() -> Vec<&'static TableSpec> {
    tables::REGISTRY
        .tables()
        .chain([NationName::SPEC, LongName::SPEC])
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_answer_like_tables_with_typed_rows_and_are_listed() {
    let data = tempfile::tempdir().unwrap();
    nation_csv(data.path());
    let config = SessionConfig::new().with_information_schema(true);
    let ctx = Arc::new(SessionContext::new_with_config(config));
    let env = catalog_core::Environment::new("test", data.path());
    let failures = register_tables(&ctx, &plugins(), served_specs(), &env);
    for view in ["test.nation_names", "test.long_names"] {
        assert!(
            !failures.iter().any(|failure| failure.table() == Some(view)),
            "{failures:#?}"
        );
    }

    // Typed rows, of a view over a view, columns matched by name.
    let long: Vec<LongName> = TableRef::<LongName>::new().rows(&ctx).await.unwrap();
    let mut long = long;
    long.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(
        long,
        [
            LongName {
                name: "algeria".into(),
                letters: 7
            },
            LongName {
                name: "argentina".into(),
                letters: 9
            },
        ]
    );
    let named: Vec<NationName> = TableRef::<NationName>::new()
        .query(
            &ctx,
            "SELECT name, key FROM test.nation_names WHERE key = 2",
        )
        .await
        .unwrap();
    assert_eq!(
        named,
        [NationName {
            key: 2,
            name: "brazil".into()
        }]
    );

    // A filter on the view reaches the source's scan, below the view's projection.
    let explained = query(
        &ctx,
        "EXPLAIN SELECT name FROM test.nation_names WHERE key = 1",
    )
    .await
    .unwrap();
    let plan = datafusion::arrow::util::pretty::pretty_format_batches(&explained)
        .unwrap()
        .to_string();
    let logical = plan.split("physical_plan").next().unwrap();
    assert!(
        logical.contains("TableScan: tpch.nation projection=[n_nationkey, n_name], partial_filters=[tpch.nation.n_nationkey = Int64(1)]")
            || logical.contains("TableScan: tpch.nation projection=[n_nationkey, n_name], full_filters=[tpch.nation.n_nationkey = Int64(1)]"),
        "{plan}"
    );

    // Listed as views, with their columns, wherever tables are.
    assert_eq!(
        ints(
            &ctx,
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'test' AND table_type = 'VIEW'"
        )
        .await,
        [2]
    );
    assert_eq!(
        ints(
            &ctx,
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'test' AND table_name = 'long_names'"
        )
        .await,
        [2]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_over_an_unavailable_table_fails_alone_naming_it() {
    // No `tpch/nation.csv`: the nation table fails, and the views over it name it.
    let data = tempfile::tempdir().unwrap();
    let ctx = Arc::new(SessionContext::new());
    let env = catalog_core::Environment::new("test", data.path());
    let failures = register_tables(&ctx, &plugins(), served_specs(), &env);
    let messages: Vec<String> = failures.iter().map(ToString::to_string).collect();
    let names = messages
        .iter()
        .find(|message| message.starts_with("view `test.nation_names`"))
        .unwrap_or_else(|| panic!("{messages:#?}"));
    assert!(
        names.ends_with("it reads `tpch.nation`, which is unavailable (see its own error)"),
        "{names}"
    );
    let long = messages
        .iter()
        .find(|message| message.starts_with("view `test.long_names`"))
        .unwrap_or_else(|| panic!("{messages:#?}"));
    assert!(
        long.contains("it reads `test.nation_names`, which is unavailable"),
        "{long}"
    );
    // The others still answer.
    assert_eq!(
        ints(&ctx, "SELECT count(*) FROM tpch.price_tiers").await,
        [3]
    );
}

#[test]
fn codelake_views_prints_the_lineage_and_names_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), &["views"]);
    assert_ok(&output);
    let printed = stdout(&output);
    assert!(
        printed.contains("tpch.revenue_by_year  (reads tpch.revenue_by_nation)"),
        "{printed}"
    );
    assert!(
        printed.contains("3 views checked against the declared tables"),
        "{printed}"
    );

    // A catalog.json whose view no longer matches its struct: exit 1, each problem named.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let text = fs::read_to_string(root.join("tables/catalog.json")).unwrap();
    let broken = text.replace("AS orders", "AS order_count");
    assert_ne!(broken, text, "the edit must change revenue_by_nation's SQL");
    let path = dir.path().join("catalog.json");
    fs::write(&path, broken).unwrap();
    let output = run(dir.path(), &["views", "--catalog", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let error = stderr(&output);
    assert!(
        error.contains("view `tpch.revenue_by_nation` (tables/src/tpch/revenue_by_nation.sql), column `orders`: declared by field `orders`, but the SQL does not compute it"),
        "{error}"
    );
    assert!(
        error.contains(
            "column `order_count`: the SQL computes it, but the struct declares no such field"
        ),
        "{error}"
    );
    // Its reader is named too, not checked against a broken view.
    assert!(
        error.contains("view `tpch.revenue_by_year` (tables/src/tpch/revenue_by_year.sql): it reads view `tpch.revenue_by_nation`, which has problems of its own"),
        "{error}"
    );
}

#[test]
fn the_example_views_answer_as_their_sql_over_the_tables_does() {
    let dir = seeded_project();
    // The view over a view, and the same two aggregations written out over
    // the tables they read (each nation's revenue is rounded to cents first).
    let from_view = run(
        dir.path(),
        &[
            "sql",
            "--format",
            "csv",
            "SELECT order_year, revenue, nations FROM tpch.revenue_by_year ORDER BY order_year",
        ],
    );
    assert_ok(&from_view);
    let by_hand = run(
        dir.path(),
        &[
            "sql",
            "--format",
            "csv",
            "SELECT order_year, CAST(sum(revenue) AS DECIMAL(18, 2)) AS revenue, count(*) AS nations \
             FROM (SELECT c.c_nationkey, CAST(date_part('year', o.o_orderdate) AS INT) AS order_year, \
                          CAST(sum(l.l_extendedprice * (1 - l.l_discount)) AS DECIMAL(18, 2)) AS revenue \
                   FROM tpch.lineitem l JOIN tpch.orders o ON o.o_orderkey = l.l_orderkey \
                   JOIN tpch.customer c ON c.c_custkey = o.o_custkey \
                   GROUP BY 1, 2) \
             GROUP BY 1 ORDER BY 1",
        ],
    );
    assert_ok(&by_hand);
    let rows = stdout(&from_view);
    assert!(rows.lines().count() > 2, "{rows}");
    assert_eq!(rows, stdout(&by_hand));

    // The demo prints one of them, with its rows.
    let demo = run(dir.path(), &["demo"]);
    assert_ok(&demo);
    let printed = stdout(&demo);
    let shown = printed
        .split("--- A view declared in code: tpch.revenue_by_year (tables/src/tpch/revenue_by_year.sql)")
        .nth(1)
        .unwrap_or_else(|| panic!("the demo shows no view:\n{printed}"));
    assert!(shown.contains("7 rows in"), "{shown}");
    // And a Delta table, pruned to the three years asked for.
    let delta = printed
        .split("--- A Delta Lake table: tpch.orders_delta")
        .nth(1)
        .unwrap_or_else(|| panic!("the demo shows no Delta table:\n{printed}"));
    assert!(
        delta.contains("1996") && delta.contains("3 rows in"),
        "{delta}"
    );

    // And `verify` checks every view live: it plans, answers, and meets its expectations.
    let output = run(dir.path(), &["verify", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    for name in [
        "tpch.revenue_by_nation",
        "tpch.revenue_by_year",
        "tpch.price_tiers_local",
    ] {
        let table = report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|table| table["table"] == name)
            .unwrap_or_else(|| panic!("{name} is not in the report"));
        assert_eq!(table["status"], "pass", "{table:#}");
        assert_eq!(table["source"], "view", "{table:#}");
    }
}

/// Regions and how many nations each has: a view the test materializes.
fn regions_view() -> TableSpec {
    let mut spec = view(
        "regions",
        "SELECT r.r_name, count(*) AS nations \
         FROM tpch.region r JOIN tpch.nation n ON n.n_regionkey = r.r_regionkey \
         GROUP BY r.r_name",
        &[("r_name", Utf8, false), ("nations", Int64, false)],
    );
    spec.expectations.freshness = Some(catalog_core::Freshness::parse("1h").unwrap());
    spec.expectations.min_rows = Some(5);
    spec.owner = Some("data@example.com".into());
    if let Some(view) = &mut spec.view {
        view.materialize = Some("s3://codelake/marts/regions.parquet".into());
    }
    spec
}

/// Every file under `dir` whose name contains `part`.
fn files_named(dir: &Path, part: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_named(&path, part));
        } else if path.to_string_lossy().contains(part) {
            found.push(path.display().to_string());
        }
    }
    found
}

#[test]
fn a_materialized_view_is_written_whole_then_read_and_verified_as_its_copy() {
    let dir = seeded_project();
    let mut specs: Vec<TableSpec> = tables::REGISTRY.tables().cloned().collect();
    specs.push(regions_view());
    let catalog = dir.path().join("catalog.json");
    fs::write(&catalog, Manifest::new(specs, "test").to_json()).unwrap();
    let catalog = catalog.to_str().unwrap();

    // Before it is written, its copy cannot be read, and the message says how to write it.
    let output = run(
        dir.path(),
        &["sql", "--catalog", catalog, "SELECT * FROM test.regions"],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("view `test.regions` is materialized, and its copy at s3://codelake/marts/regions.parquet is not written yet: write it with `codelake materialize test.regions`, or run the view's SQL with `--live`"),
        "{}",
        stderr(&output)
    );

    let output = run(
        dir.path(),
        &["materialize", "test.regions", "--catalog", catalog],
    );
    assert_ok(&output);
    assert!(
        stdout(&output).starts_with(
            "materialized test.regions: 5 rows written to s3://codelake/marts/regions.parquet in "
        ),
        "{}",
        stdout(&output)
    );
    // Written under a temporary key, then moved: neither it nor the spool is left.
    assert_eq!(
        files_named(dir.path(), "codelake-tmp"),
        Vec::<String>::new()
    );
    assert_eq!(
        files_named(dir.path(), "materialize-spool"),
        Vec::<String>::new()
    );

    // Queries read the copy; `--live` runs the SQL; EXPLAIN says which.
    let copy = run(
        dir.path(),
        &[
            "sql",
            "--catalog",
            catalog,
            "--format",
            "csv",
            "SELECT * FROM test.regions ORDER BY r_name",
        ],
    );
    assert_ok(&copy);
    let live = run(
        dir.path(),
        &[
            "sql",
            "--live",
            "--catalog",
            catalog,
            "--format",
            "csv",
            "SELECT * FROM test.regions ORDER BY r_name",
        ],
    );
    assert_ok(&live);
    assert_eq!(
        stdout(&copy),
        "r_name,nations\nAFRICA,5\nAMERICA,5\nASIA,5\nEUROPE,5\nMIDDLE EAST,5\n"
    );
    assert_eq!(stdout(&copy), stdout(&live));
    let explain = |live: bool| {
        let mut args = vec![
            "sql",
            "--catalog",
            catalog,
            "--format",
            "csv",
            "EXPLAIN SELECT * FROM test.regions",
        ];
        if live {
            args.insert(1, "--live");
        }
        let output = run(dir.path(), &args);
        assert_ok(&output);
        stdout(&output)
    };
    let (from_copy, from_sql) = (explain(false), explain(true));
    assert!(from_copy.contains("marts/regions.parquet"), "{from_copy}");
    assert!(!from_copy.contains("tpch.nation"), "{from_copy}");
    assert!(
        from_sql.contains("tpch.nation") && !from_sql.contains("regions.parquet"),
        "{from_sql}"
    );

    // `verify` checks the copy: reachable where it was written, fresh by its age.
    let output = run(
        dir.path(),
        &[
            "verify",
            "--catalog",
            catalog,
            "--format",
            "json",
            "--table",
            "test.regions",
        ],
    );
    assert_ok(&output);
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let table = &report["tables"][0];
    assert_eq!(table["status"], "pass", "{table:#}");
    assert_eq!(
        table["location"], "s3://codelake/marts/regions.parquet",
        "{table:#}"
    );
    let freshness = table["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["check"] == "freshness")
        .unwrap();
    assert_eq!(freshness["status"], "pass", "{freshness:#}");

    // What cannot be materialized says why.
    let output = run(dir.path(), &["materialize", "tpch.nation"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("`tpch.nation` is a table read from its source, not a view"),
        "{}",
        stderr(&output)
    );
    let output = run(dir.path(), &["materialize", "tpch.revenue_by_year"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("view `tpch.revenue_by_year` declares no `materialize` location"),
        "{}",
        stderr(&output)
    );
}
