//! One query session: the configured environment (started, if it is the
//! embedded one), the plugins, and every catalog table registered in DataFusion
//! (or, for one query, only the tables it reads: see [`Session::open_for_query`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use catalog_core::{Environment, TableSpec};
use catalog_env::config::{Config, ConfigBuilder};
use catalog_env::local::LocalEnvironment;
use catalog_runtime::{PluginSet, default_plugin_dir, register_tables};
use datafusion::prelude::SessionContext;

use crate::Global;
use crate::error::{CliError, EXIT_CONFIG};
use crate::seed;

/// A ready session.
pub struct Session {
    /// The DataFusion session every table is registered in.
    pub ctx: Arc<SessionContext>,
    /// The resolved configuration.
    pub config: Config,
    /// The environment the plugins read in.
    pub env: Environment,
    /// The embedded servers, for an embedded profile.
    pub local: Option<LocalEnvironment>,
    /// Tables that could not be registered, each with why.
    pub failures: Vec<catalog_runtime::Error>,
    /// The loaded plugins (they stay loaded for the life of the process).
    pub plugins: Arc<PluginSet>,
    /// Tables registered from another catalog than the built-in one (`verify --catalog`).
    catalog: Option<Vec<TableSpec>>,
    /// The one query this session runs, if it was opened for one: only the
    /// tables it reads are registered, and only their plugins opened.
    only_for: Option<String>,
}

/// How a session reports tables it could not register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// One line naming them (a query that uses one says why).
    Summary,
    /// One warning each, with why (the shell, the demo).
    Each,
    /// Nothing: the caller reports them (`verify`).
    Silent,
}

/// Resolves the configuration from defaults, `codelake.toml`, variables and flags.
pub fn config(global: &Global) -> Result<Config, CliError> {
    let mut builder = ConfigBuilder::from_env();
    if let Some(profile) = &global.profile {
        builder = builder.profile(profile);
    }
    if let Some(file) = &global.config {
        builder = builder.config_file(file);
    }
    if let Some(dir) = &global.data_dir {
        builder = builder.data_dir(dir);
    }
    builder.build().map_err(|error| {
        CliError::config(error)
            .hint("see docs/reference/configuration.md for every variable and codelake.toml key")
    })
}

/// When a session seeds the embedded environment before registering the tables.
#[derive(Debug, Clone, Copy)]
pub enum Seed {
    /// Only when it holds no sample data at all (`codelake sql`).
    IfEmpty,
    /// At this scale, unless already seeded so; `None` keeps any complete seed (`codelake demo`).
    Scale(Option<f64>),
    /// Never; and register no tables (`codelake data seed` seeds itself).
    Skip,
}

/// One parsed SQL statement.
pub type SqlStatement = datafusion::sql::parser::Statement;

impl Session {
    /// What SQL this session lets through: the catalog's databases are code
    /// and never change by SQL; ad-hoc local tables, files and settings may.
    pub fn policy(&self) -> catalog_runtime::StatementPolicy {
        let databases: Vec<String> = match &self.catalog {
            Some(catalog) => catalog
                .iter()
                .map(|spec| spec.database.to_string())
                .collect(),
            None => tables::REGISTRY
                .tables()
                .map(|spec| spec.database.to_string())
                .collect(),
        };
        catalog_runtime::StatementPolicy::local(databases).protecting(&self.env.data_dir)
    }

    /// The specs this session serves: the built-in catalog, or the one it was opened with.
    pub fn specs(&self) -> Vec<&TableSpec> {
        match &self.catalog {
            Some(catalog) => catalog.iter().collect(),
            None => tables::REGISTRY.tables().collect(),
        }
    }

    /// The statements of `sql`, parsed with the session's dialect. Plan each
    /// with [`statement`](Self::statement) only once the ones before it have
    /// run: a `SET` or `CREATE` changes how the next one plans.
    pub fn parse(&self, sql: &str) -> anyhow::Result<Vec<SqlStatement>> {
        use datafusion::sql::parser::DFParserBuilder;
        let state = self.ctx.state();
        let options = state.config().options();
        let dialect = datafusion::sql::sqlparser::dialect::dialect_from_str(
            options.sql_parser.dialect.as_ref(),
        )
        .ok_or_else(|| anyhow::anyhow!("unsupported SQL dialect"))?;
        let statements = DFParserBuilder::new(sql)
            .with_dialect(dialect.as_ref())
            .with_recursion_limit(options.sql_parser.recursion_limit.get())
            .build()?
            .parse_statements()?;
        if statements.is_empty() {
            anyhow::bail!("no SQL statement was given");
        }
        Ok(statements.into())
    }

    /// Plans one statement, checks it against [`policy`](Self::policy), and
    /// starts it: its result, to stream.
    pub async fn statement(
        &self,
        statement: SqlStatement,
    ) -> anyhow::Result<datafusion::dataframe::DataFrame> {
        let state = self.ctx.state();
        let plan = state.statement_to_plan(statement).await?;
        self.policy()
            .check(&plan, &state.config_options().catalog)?;
        Ok(self.ctx.execute_logical_plan(plan).await?)
    }

    /// Opens a session: environment, sample data as `seed` says, plugins and tables.
    /// `unavailable` says how tables that cannot be registered are reported.
    pub async fn open(
        global: &Global,
        seed: Seed,
        unavailable: Unavailable,
    ) -> Result<Self, CliError> {
        Self::open_catalog(global, seed, unavailable, None).await
    }

    /// [`Session::open`] with the tables of `catalog` instead of the built-in ones.
    pub async fn open_catalog(
        global: &Global,
        seed: Seed,
        unavailable: Unavailable,
        catalog: Option<Vec<TableSpec>>,
    ) -> Result<Self, CliError> {
        Self::open_with(global, seed, unavailable, catalog, None).await
    }

    /// A session for the one query `sql` (`codelake sql "…"`): it registers
    /// only the tables the query reads (and what the views among them read),
    /// so it opens only the plugins of their kinds, which is most of a cold
    /// start. A query that reads anything else (`information_schema`, a name
    /// the catalog lacks) or that is not a query gets every table, as
    /// [`Session::open_catalog`] registers them. Tables that cannot be opened
    /// are not reported on their own: the query that reads one says why.
    pub async fn open_for_query(
        global: &Global,
        catalog: Option<Vec<TableSpec>>,
        sql: &str,
    ) -> Result<Self, CliError> {
        Self::open_with(
            global,
            Seed::IfEmpty,
            Unavailable::Summary,
            catalog,
            Some(sql.to_owned()),
        )
        .await
    }

    async fn open_with(
        global: &Global,
        seed: Seed,
        unavailable: Unavailable,
        catalog: Option<Vec<TableSpec>>,
        only_for: Option<String>,
    ) -> Result<Self, CliError> {
        let mut session = Self::prepare(global).await?;
        session.catalog = catalog;
        session.only_for = only_for;
        if session.local.is_some() {
            match seed {
                Seed::IfEmpty if !seed::is_seeded(&session.config.data_dir) => {
                    eprintln!(
                        "The local environment has no sample data yet: generating TPC-H at scale {} \
                         (`codelake data seed --scale F` for more).",
                        seed::DEFAULT_SCALE
                    );
                    session.seed_warning_of_fixtures(None).await?;
                }
                Seed::Scale(scale) => session.seed_warning_of_fixtures(scale).await?,
                Seed::IfEmpty | Seed::Skip => {}
            }
        }
        if !matches!(seed, Seed::Skip) {
            session.register(global, unavailable)?;
        }
        Ok(session)
    }

    /// Seeds the session's embedded environment from the fixtures in
    /// `fixtures` (default [`tables::FIXTURES_DIR`]) and the generator: at
    /// `scale` if given, else keeps the scale of the data there, or seeds
    /// [`seed::DEFAULT_SCALE`] when there is none. A bad fixture does not stop
    /// the other tables: it comes back in [`seed::Seeded::problems`].
    pub async fn seed(
        &self,
        scale: Option<f64>,
        refresh: bool,
        fixtures: Option<&Path>,
    ) -> Result<seed::Seeded, CliError> {
        if self.local.is_none() {
            return Err(CliError::msg(
                EXIT_CONFIG,
                format!(
                    "`data seed` writes sample data into the local environment only, and profile `{}` is not embedded",
                    self.config.profile
                ),
            )
            .hint("run it with `--env local`; production data is not codelake's to overwrite"));
        }
        if let Some(scale) = scale
            && !(scale > 0.0 && scale <= 100.0)
        {
            return Err(CliError::msg(
                EXIT_CONFIG,
                format!("--scale {scale}: the TPC-H scale factor must be above 0 and at most 100"),
            ));
        }
        let fixtures = match fixtures {
            Some(dir) if !dir.is_dir() => {
                return Err(CliError::msg(
                    EXIT_CONFIG,
                    format!("--fixtures {}: no such directory", dir.display()),
                )
                .hint("give the directory that holds <database>/<table>.csv fixtures"));
            }
            Some(dir) => std::path::absolute(dir).map_err(CliError::config)?,
            None => PathBuf::from(tables::FIXTURES_DIR),
        };
        let catalog: Vec<TableSpec> = match &self.catalog {
            Some(catalog) => catalog.clone(),
            None => tables::REGISTRY.tables().cloned().collect(),
        };
        seed::seed(&self.env, scale, refresh, &fixtures, &catalog)
            .await
            .map_err(CliError::failed)
    }

    /// [`Session::seed`] from the default fixtures, before a command that
    /// reads the data: a bad fixture is a warning there, not the command's failure.
    async fn seed_warning_of_fixtures(&self, scale: Option<f64>) -> Result<(), CliError> {
        for problem in self.seed(scale, false, None).await?.problems {
            eprintln!("warning: fixture not installed: {problem}");
        }
        Ok(())
    }

    /// The configuration and the environment, started if embedded; no tables yet.
    async fn prepare(global: &Global) -> Result<Self, CliError> {
        let config = config(global)?;
        let local = if config.embedded {
            Some(
                LocalEnvironment::attach_or_start(&config.data_dir)
                    .await
                    .map_err(CliError::environment)?,
            )
        } else {
            None
        };
        let mut env = match &local {
            Some(local) => local.environment(),
            None => config.environment(),
        };
        // The embedded environment's servers answer at once; a cap set for it still holds.
        env.http_timeout = config.http_timeout;
        let ctx = Arc::new(SessionContext::new_with_config(
            catalog_runtime::session_config(),
        ));
        Ok(Self {
            ctx,
            config,
            env,
            local,
            failures: Vec::new(),
            plugins: Arc::new(PluginSet::default()),
            catalog: None,
            only_for: None,
        })
    }

    /// Loads the plugins and registers every catalog table, or those the
    /// session's one query reads.
    fn register(&mut self, global: &Global, unavailable: Unavailable) -> Result<(), CliError> {
        let declared: Vec<&TableSpec> = match &self.catalog {
            Some(catalog) => catalog.iter().collect(),
            None => tables::REGISTRY.tables().collect(),
        };
        // `--live`: materialized views run their SQL instead of reading their copies.
        let live: Vec<TableSpec>;
        let specs = if global.live {
            live = declared.iter().map(|spec| spec.live()).collect();
            live.iter().collect()
        } else {
            declared
        };
        // One query: the tables it reads, so only their plugins are opened.
        let needed = self.only_for.as_deref().and_then(|sql| {
            let statements = self.parse(sql).ok()?;
            catalog_runtime::needed_by(&self.ctx.state(), &statements, &specs)
        });
        let on_demand = needed.is_some();
        let specs = needed.unwrap_or(specs);
        // The kinds read through plugins: a view runs as SQL, unless it is read from its copy.
        let kinds: std::collections::BTreeSet<String> = specs
            .iter()
            .filter_map(|spec| match spec.materialized_copy() {
                Some(copy) => Some(copy.source.to_string()),
                None => (!spec.is_view()).then(|| spec.source.to_string()),
            })
            .collect();
        let plugin_dir = global.plugin_dir.clone().unwrap_or_else(default_plugin_dir);
        let plugins = if on_demand {
            PluginSet::load_dir_for(&plugin_dir, kinds.iter().map(String::as_str))
        } else {
            PluginSet::load_dir(&plugin_dir)
        }
        .map_err(CliError::environment)?;
        for error in &plugins.errors {
            eprintln!("warning: {error}");
        }
        if plugins.plugins.is_empty() && !kinds.is_empty() {
            return Err(CliError::msg(
                crate::error::EXIT_ENVIRONMENT,
                format!("no source plugins in {}", plugin_dir.display()),
            )
            .hint(
                "build them with `cargo build --workspace` (or run `cargo codelake ...`, which does), \
                 or point CODELAKE_PLUGIN_DIR or --plugin-dir at them",
            ));
        }
        self.failures = register_tables(&self.ctx, &plugins, specs, &self.env);
        if on_demand {
            // The query reads each of them, and its error says why.
        } else if unavailable == Unavailable::Each {
            for failure in &self.failures {
                eprintln!("warning: {failure}");
            }
        } else if unavailable == Unavailable::Summary && !self.failures.is_empty() {
            let names: Vec<&str> = self
                .failures
                .iter()
                .filter_map(catalog_runtime::Error::table)
                .collect();
            eprintln!(
                "warning: {} unavailable in environment `{}` ({}); a query that uses one says why",
                crate::names::part_of(
                    self.failures.len(),
                    self.catalog
                        .as_ref()
                        .map_or(tables::REGISTRY.len(), Vec::len),
                    "table"
                ),
                self.config.profile,
                names.join(", ")
            );
        }
        self.plugins = Arc::new(plugins);
        Ok(())
    }
}
