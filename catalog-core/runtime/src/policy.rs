//! Which SQL statements a front end lets through, written once for every
//! front end: the CLI now, the servers and the agent interface after it.
//!
//! The catalog is code: its tables are declared in Rust and change in review,
//! never by SQL. So no statement may drop, replace, shadow or write a catalog
//! table, or create anything in a catalog database, whatever the front end.
//! What else may run is the front end's documented choice:
//! - [`StatementPolicy::local`], the `codelake` CLI on a developer's machine:
//!   also ad-hoc local files, as datafusion-cli allows (`CREATE EXTERNAL
//!   TABLE` outside the catalog's databases, `COPY … TO` a local path), and
//!   session settings (`SET`);
//! - [`StatementPolicy::read_only`], for servers: queries and `EXPLAIN` only.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use datafusion::common::TableReference;
use datafusion::common::config::CatalogOptions;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::logical_expr::{DdlStatement, LogicalPlan, Statement};

/// Why a statement is refused; the message says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(String);

/// What a front end lets through, besides queries, which always run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementPolicy {
    /// The catalog's databases (DataFusion schemas): nothing is created,
    /// dropped or written in them.
    databases: BTreeSet<String>,
    /// Whether `CREATE EXTERNAL TABLE`, `CREATE TABLE … AS`, views and
    /// `COPY … TO` a local path may run (outside the catalog's databases).
    local_files: bool,
    /// Whether session statements (`SET`, `SHOW`) may run.
    settings: bool,
    /// Directories `COPY … TO` must not write into: the environment's data,
    /// which catalog tables read.
    protected: Vec<PathBuf>,
    /// Settings `SET` may change even when `settings` is off (a server's allow-list).
    allowed_settings: BTreeSet<String>,
}

impl StatementPolicy {
    /// The local CLI's policy: the catalog is protected; ad-hoc tables, local
    /// files and settings are allowed.
    pub fn local<S: Into<String>>(databases: impl IntoIterator<Item = S>) -> Self {
        Self {
            databases: databases.into_iter().map(Into::into).collect(),
            local_files: true,
            settings: true,
            protected: Vec::new(),
            allowed_settings: BTreeSet::new(),
        }
    }

    /// The same policy, refusing `COPY … TO` into `dir` (the environment's
    /// data directory, whose files catalog tables read).
    pub fn protecting(mut self, dir: impl Into<PathBuf>) -> Self {
        self.protected.push(absolute(&dir.into()));
        self
    }

    /// A server's policy: queries and `EXPLAIN` only.
    pub fn read_only<S: Into<String>>(databases: impl IntoIterator<Item = S>) -> Self {
        Self {
            databases: databases.into_iter().map(Into::into).collect(),
            local_files: false,
            settings: false,
            protected: Vec::new(),
            allowed_settings: BTreeSet::new(),
        }
    }

    /// The same policy, letting `SET` change the settings named (in full, e.g.
    /// `datafusion.execution.time_zone`) and no other.
    pub fn allowing_settings<S: AsRef<str>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.allowed_settings.extend(
            names
                .into_iter()
                .map(|name| name.as_ref().to_ascii_lowercase()),
        );
        self
    }

    /// Checks a planned statement before it runs: every node of it, so a
    /// statement wrapped in `EXPLAIN ANALYZE` or `PREPARE` is checked as
    /// itself. Names are resolved as the session resolves them (`catalog`),
    /// so a bare `part` after `SET datafusion.catalog.default_schema = 'tpch'`
    /// is `tpch.part`.
    pub fn check(&self, plan: &LogicalPlan, catalog: &CatalogOptions) -> Result<(), Refused> {
        let mut refused = None;
        let _ = plan.apply_with_subqueries(|node| match self.check_node(node, catalog) {
            Ok(()) => Ok(TreeNodeRecursion::Continue),
            Err(error) => {
                refused = Some(error);
                Ok(TreeNodeRecursion::Stop)
            }
        });
        refused.map_or(Ok(()), Err)
    }

    fn check_node(&self, plan: &LogicalPlan, catalog: &CatalogOptions) -> Result<(), Refused> {
        let schema_of = |name: &TableReference| {
            name.clone()
                .resolve(&catalog.default_catalog, &catalog.default_schema)
                .schema
                .to_string()
        };
        match plan {
            LogicalPlan::Ddl(ddl) => self.check_ddl(ddl, &schema_of),
            LogicalPlan::Dml(dml) => Err(self.refuse_write(&dml.table_name, &schema_of)),
            LogicalPlan::Copy(copy) => {
                if !self.local_files {
                    return Err(read_only("COPY … TO"));
                }
                let url = &copy.output_url;
                if url.contains("://") && !url.starts_with("file://") {
                    return Err(Refused(format!(
                        "COPY … TO `{url}`: this front end writes local files only; give a local path"
                    )));
                }
                let path = absolute(Path::new(url.strip_prefix("file://").unwrap_or(url)));
                if let Some(dir) = self.protected.iter().find(|dir| path.starts_with(dir)) {
                    return Err(Refused(format!(
                        "COPY … TO `{url}`: {} holds the environment's data, which catalog tables read; write elsewhere",
                        dir.display()
                    )));
                }
                Ok(())
            }
            LogicalPlan::Statement(statement) => match statement {
                Statement::SetVariable(_) | Statement::ResetVariable(_) if self.settings => Ok(()),
                Statement::SetVariable(set)
                    if self
                        .allowed_settings
                        .contains(&set.variable.to_ascii_lowercase()) =>
                {
                    Ok(())
                }
                Statement::SetVariable(set) if !self.allowed_settings.is_empty() => {
                    Err(Refused(format!(
                        "SET {}: this front end lets SET change only {}",
                        set.variable,
                        self.allowed_settings
                            .iter()
                            .map(|name| format!("`{name}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )))
                }
                Statement::SetVariable(_) | Statement::ResetVariable(_) => Err(read_only("SET")),
                // Transactions and prepared statements change nothing on their own.
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }

    fn check_ddl(
        &self,
        ddl: &DdlStatement,
        schema_of: &dyn Fn(&TableReference) -> String,
    ) -> Result<(), Refused> {
        let what = match ddl {
            DdlStatement::CreateExternalTable(_) => "CREATE EXTERNAL TABLE",
            DdlStatement::CreateMemoryTable(_) => "CREATE TABLE",
            DdlStatement::CreateView(_) => "CREATE VIEW",
            DdlStatement::CreateCatalogSchema(_) => "CREATE SCHEMA",
            DdlStatement::CreateCatalog(_) => "CREATE DATABASE",
            DdlStatement::CreateIndex(_) => "CREATE INDEX",
            DdlStatement::DropTable(_) => "DROP TABLE",
            DdlStatement::DropView(_) => "DROP VIEW",
            DdlStatement::DropCatalogSchema(_) => "DROP SCHEMA",
            DdlStatement::CreateFunction(_) => "CREATE FUNCTION",
            DdlStatement::DropFunction(_) => "DROP FUNCTION",
        };
        let named = match ddl {
            DdlStatement::CreateExternalTable(create) => Some(&create.name),
            DdlStatement::CreateMemoryTable(create) => Some(&create.name),
            DdlStatement::CreateView(create) => Some(&create.name),
            DdlStatement::DropTable(drop) => Some(&drop.name),
            DdlStatement::DropView(drop) => Some(&drop.name),
            _ => None,
        };
        if let Some((name, database)) = named
            .map(|name| (name, schema_of(name)))
            .filter(|(_, schema)| self.is_catalog_database(schema))
        {
            // Ad-hoc tables are for the local CLI; a server creates none.
            let ad_hoc = if self.local_files {
                format!(
                    "; for an ad-hoc table, use a name outside the catalog's databases, e.g. `scratch_{}`",
                    name.table()
                )
            } else {
                "; this server is read-only: for an ad-hoc table, use `codelake sql` on your machine"
                    .to_owned()
            };
            return Err(Refused(format!(
                "{what} `{name}`: `{database}` is a database of the catalog, which is code: \
                 declare or change its tables in `tables/src` and review the change{ad_hoc}"
            )));
        }
        let schema = match ddl {
            DdlStatement::CreateCatalogSchema(create) => Some(create.schema_name.clone()),
            DdlStatement::DropCatalogSchema(drop) => Some(drop.name.schema_name().to_owned()),
            _ => None,
        };
        if let Some(schema) = schema.filter(|schema| self.is_catalog_database(schema)) {
            return Err(Refused(format!(
                "{what} `{schema}`: `{schema}` is a database of the catalog, which is code: change it in `tables/src`"
            )));
        }
        if self.local_files {
            Ok(())
        } else {
            Err(read_only(what))
        }
    }

    fn refuse_write(
        &self,
        table: &TableReference,
        schema_of: &dyn Fn(&TableReference) -> String,
    ) -> Refused {
        if self.is_catalog_database(&schema_of(table)) {
            Refused(format!(
                "writing `{table}`: it is a catalog table, read from its source; write to the source itself"
            ))
        } else if self.local_files {
            Refused(format!(
                "writing `{table}`: INSERT, UPDATE and DELETE are not supported; make a new table with CREATE TABLE … AS"
            ))
        } else {
            read_only("writing a table")
        }
    }

    fn is_catalog_database(&self, schema: &str) -> bool {
        self.databases.contains(schema)
    }
}

/// `path` made absolute against the current directory, with `.` and `..`
/// resolved in the text (the file need not exist).
fn absolute(path: &Path) -> PathBuf {
    let joined = std::env::current_dir().unwrap_or_default().join(path);
    let mut normal = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::ParentDir => {
                normal.pop();
            }
            Component::CurDir => {}
            other => normal.push(other),
        }
    }
    normal
}

fn read_only(what: &str) -> Refused {
    Refused(format!(
        "{what}: this front end is read-only; it runs queries and EXPLAIN"
    ))
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::StatementPolicy;

    /// The policy's verdict on `sql`, planned in a session that has a `tpch` schema.
    async fn verdict(policy: &StatementPolicy, sql: &str) -> Result<(), String> {
        let ctx = SessionContext::new();
        ctx.sql("CREATE SCHEMA tpch").await.unwrap();
        ctx.sql("CREATE TABLE tpch.part AS SELECT 1 AS p_partkey")
            .await
            .unwrap();
        let state = ctx.state();
        let plan = state.create_logical_plan(sql).await.unwrap();
        policy
            .check(&plan, &state.config_options().catalog)
            .map_err(|refused| refused.to_string())
    }

    #[tokio::test]
    async fn the_catalog_is_never_changed_by_sql() {
        for policy in [
            StatementPolicy::local(["tpch"]),
            StatementPolicy::read_only(["tpch"]),
        ] {
            for sql in [
                "DROP TABLE tpch.part",
                "CREATE TABLE tpch.part AS SELECT 1",
                "CREATE OR REPLACE TABLE tpch.part AS SELECT 1",
                "CREATE TABLE tpch.extra AS SELECT 1",
                "CREATE VIEW tpch.v AS SELECT 1",
                "INSERT INTO tpch.part VALUES (2)",
                "INSERT INTO datafusion.tpch.part VALUES (2)",
                "DROP SCHEMA tpch CASCADE",
                "EXPLAIN ANALYZE INSERT INTO tpch.part VALUES (2)",
                "PREPARE p AS INSERT INTO tpch.part VALUES (2)",
            ] {
                let refused = verdict(&policy, sql).await.unwrap_err();
                assert!(refused.contains("catalog"), "{sql}: {refused}");
            }
            assert_eq!(verdict(&policy, "SELECT * FROM tpch.part").await, Ok(()));
            assert_eq!(
                verdict(&policy, "EXPLAIN SELECT * FROM tpch.part").await,
                Ok(())
            );
        }
    }

    /// A bare name is resolved as the session resolves it: after the default
    /// schema is set to a catalog database, `part` is `tpch.part`.
    #[tokio::test]
    async fn bare_names_are_resolved_before_the_check() {
        let ctx = SessionContext::new();
        ctx.sql("CREATE SCHEMA tpch").await.unwrap();
        ctx.sql("CREATE TABLE tpch.part AS SELECT 1 AS p_partkey")
            .await
            .unwrap();
        ctx.sql("SET datafusion.catalog.default_schema = 'tpch'")
            .await
            .unwrap();
        let policy = StatementPolicy::local(["tpch"]);
        for sql in [
            "DROP TABLE part",
            "CREATE OR REPLACE VIEW part AS SELECT 1 AS p_partkey",
        ] {
            let state = ctx.state();
            let plan = state.create_logical_plan(sql).await.unwrap();
            let refused = policy
                .check(&plan, &state.config_options().catalog)
                .unwrap_err()
                .to_string();
            assert!(
                refused.contains("`tpch` is a database of the catalog"),
                "{sql}: {refused}"
            );
        }
    }

    #[tokio::test]
    async fn local_files_and_settings_are_the_front_ends_choice() {
        let local = StatementPolicy::local(["tpch"]);
        let server = StatementPolicy::read_only(["tpch"]);
        for sql in [
            "CREATE TABLE scratch AS SELECT 1",
            "COPY (SELECT 1) TO 'out.csv'",
            "SET datafusion.execution.batch_size = 1024",
        ] {
            assert_eq!(verdict(&local, sql).await, Ok(()), "{sql}");
            let refused = verdict(&server, sql).await.unwrap_err();
            assert!(refused.contains("read-only"), "{sql}: {refused}");
        }
        // A catalog table: the local CLI suggests an ad-hoc table, which a server cannot make.
        let drop = "DROP TABLE tpch.part";
        let (locally, served) = (
            verdict(&local, drop).await.unwrap_err(),
            verdict(&server, drop).await.unwrap_err(),
        );
        assert!(locally.contains("scratch_part"), "{locally}");
        assert!(
            !served.contains("scratch_") && served.contains("codelake sql"),
            "{served}"
        );
        let refused = verdict(&local, "COPY (SELECT 1) TO 's3://bucket/out.parquet'")
            .await
            .unwrap_err();
        assert!(refused.contains("local files only"), "{refused}");
        // Nor into the data catalog tables read, however the path is spelled.
        let data = std::env::current_dir().unwrap().join("data");
        let guarded = StatementPolicy::local(["tpch"]).protecting(&data);
        for target in ["data/web/page_views.csv", "other/../data/x.csv"] {
            let refused = verdict(&guarded, &format!("COPY (SELECT 1) TO '{target}'"))
                .await
                .unwrap_err();
            assert!(
                refused.contains("holds the environment's data"),
                "{target}: {refused}"
            );
        }
        assert_eq!(
            verdict(&guarded, "COPY (SELECT 1) TO 'out/x.csv'").await,
            Ok(())
        );
    }
}
