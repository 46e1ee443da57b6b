//! How the [`QueryService`] plans: SQL under the statement policy, in a
//! session of its own, with bound parameters; and describing a statement
//! without running it, for protocols that ask first.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;

use super::{Caller, MAX_PARAMETERS, Prepared, QueryService};
use crate::{ErrorCode, ServeError};

impl QueryService {
    /// The schema of the batches `sql` would answer, as [`QueryService::query`]
    /// would stream them, without running it: for protocols that describe a
    /// result before fetching it (Flight SQL's `GetFlightInfo`, prepared
    /// statements). Planned under the policy, in a slot and within the query
    /// timeout, since planning may read a source's listing or footers.
    pub async fn describe(&self, sql: &str, caller: Caller) -> Result<SchemaRef, ServeError> {
        Ok(self.prepare(sql, caller).await?.schema())
    }

    /// Plans `sql` as [`QueryService::describe`] does, and keeps the plan, so
    /// that [`QueryService::run`] can run it without planning again.
    pub async fn prepare(&self, sql: &str, caller: Caller) -> Result<Prepared, ServeError> {
        let started = Instant::now();
        let result = self.prepare_within(sql, caller.front_end).await;
        if let Err(error) = &result {
            self.metrics.error(caller.front_end, error.code);
            tracing::info!(
                front_end = caller.front_end,
                client = caller.address.map(|address| address.to_string()),
                code = error.code.as_str(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "query refused or failed while described"
            );
        }
        result
    }

    /// [`Self::prepare`] under the limits: a slot, and the query timeout.
    async fn prepare_within(&self, sql: &str, front_end: &str) -> Result<Prepared, ServeError> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(ServeError::new(
                ErrorCode::ShuttingDown,
                "the server is shutting down; retry against another one, or after it restarts",
            ));
        }
        let deadline = Instant::now() + self.limits.query_timeout;
        // Planning may read sources (listings, footers), so it takes a slot too.
        let planned = async {
            let _slot = self.slot().await?;
            let (plan, task) = self.physical(sql, front_end, Vec::new()).await?;
            Ok(Prepared { plan, task })
        };
        tokio::time::timeout_at(deadline.into(), planned)
            .await
            .map_err(|_| self.timeout())?
    }

    /// Plans and starts `sql` in a session of its own, so that a `SET` lasts
    /// for this request alone.
    pub(super) async fn plan(
        &self,
        sql: &str,
        front_end: &str,
        params: Vec<ScalarValue>,
    ) -> Result<SendableRecordBatchStream, ServeError> {
        let (plan, task) = self.physical(sql, front_end, params).await?;
        Ok(self.executor.execute(plan, task))
    }

    /// The schema `sql` would answer, and the type its last statement uses each
    /// parameter `$1`, `$2`, … as (`None` where the statement does not tell),
    /// from its logical plan under the policy, without running it: how a
    /// protocol with bound parameters describes a statement before it has
    /// their values. In a slot and within the query timeout, as `prepare`.
    pub async fn describe_parameters(
        &self,
        sql: &str,
        caller: Caller,
    ) -> Result<(SchemaRef, Vec<Option<DataType>>), ServeError> {
        let described = async {
            let _slot = self.slot().await?;
            let ctx = SessionContext::new_with_state(self.state_for(caller.front_end).clone());
            let plan = self.logical(&ctx, sql).await?;
            let types = plan
                .get_parameter_types()
                .map_err(|error| ServeError::from_datafusion(&error))?;
            let mut numbered = Vec::new();
            for (name, data_type) in types {
                let number = name
                    .strip_prefix('$')
                    .and_then(|n| n.parse::<usize>().ok())
                    .filter(|n| (1..=MAX_PARAMETERS).contains(n))
                    .ok_or_else(|| {
                        ServeError::new(
                            ErrorCode::InvalidQuery,
                            format!(
                                "parameter `{name}`: parameters are numbered $1 to ${MAX_PARAMETERS}"
                            ),
                        )
                    })?;
                numbered.push((number, data_type));
            }
            let count = numbered.iter().map(|(n, _)| *n).max().unwrap_or(0);
            let mut ordered = vec![None; count];
            for (number, data_type) in numbered {
                ordered[number - 1] = data_type;
            }
            let schema: SchemaRef = Arc::new(plan.schema().as_arrow().clone());
            Ok((schema, ordered))
        };
        let deadline = Instant::now() + self.limits.query_timeout;
        let result: Result<_, ServeError> = tokio::time::timeout_at(deadline.into(), described)
            .await
            .map_err(|_| self.timeout())
            .and_then(|described| described);
        if let Err(error) = &result {
            self.metrics.error(caller.front_end, error.code);
        }
        result
    }

    /// The logical plan of `sql`'s last statement, checked against the policy,
    /// after running the `SET`s before it in `ctx`.
    async fn logical(&self, ctx: &SessionContext, sql: &str) -> Result<LogicalPlan, ServeError> {
        let statements = parse(ctx, sql)?;
        let last = statements.len() - 1;
        // Before the query, only settings: nothing else is run whole into memory.
        if let Some(other) = statements[..last].iter().find(|statement| {
            !matches!(
                statement,
                datafusion::sql::parser::Statement::Statement(inner)
                    if matches!(**inner, datafusion::sql::sqlparser::ast::Statement::Set(_))
            )
        }) {
            return Err(ServeError::new(
                ErrorCode::Forbidden,
                format!(
                    "`{other}`: only SET statements may come before the query; send one query per request"
                ),
            ));
        }
        for (index, statement) in statements.into_iter().enumerate() {
            let state = ctx.state();
            let plan = state
                .statement_to_plan(statement)
                .await
                .map_err(|error| self.planning_error(&error))?;
            self.policy
                .check(&plan, &state.config_options().catalog)
                .map_err(|refused| ServeError::new(ErrorCode::Forbidden, refused.to_string()))?;
            if index == last {
                return Ok(plan);
            }
            ctx.execute_logical_plan(plan)
                .await
                .map_err(|error| self.planning_error(&error))?
                .collect()
                .await
                .map_err(|error| ServeError::from_datafusion(&error))?;
        }
        unreachable!("`parse` returns at least one statement")
    }

    /// The physical plan of `sql`'s last statement, after running the `SET`s
    /// before it, with `params` bound to its parameters, and the context to
    /// execute it in.
    async fn physical(
        &self,
        sql: &str,
        front_end: &str,
        params: Vec<ScalarValue>,
    ) -> Result<(Arc<dyn ExecutionPlan>, Arc<TaskContext>), ServeError> {
        let ctx = SessionContext::new_with_state(self.state_for(front_end).clone());
        let mut plan = self.logical(&ctx, sql).await?;
        if !params.is_empty() {
            plan = plan
                .with_param_values(params)
                .map_err(|error| ServeError::from_datafusion(&error))?;
        }
        let frame = ctx
            .execute_logical_plan(plan)
            .await
            .map_err(|error| self.planning_error(&error))?;
        let task = Arc::new(frame.task_ctx());
        let plan = frame
            .create_physical_plan()
            .await
            .map_err(|error| ServeError::from_datafusion(&error))?;
        Ok((plan, task))
    }

    /// A planning error; a table that is declared but could not be opened is
    /// named with why, not reported as missing.
    fn planning_error(&self, error: &datafusion::error::DataFusionError) -> ServeError {
        let mut served = ServeError::from_datafusion(error);
        let missing = served
            .message
            .split("table '")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .filter(|_| served.message.contains("not found"))
            .map(|name| name.trim_start_matches("datafusion.").to_owned());
        if let Some(missing) = missing {
            served = match self.unavailable.iter().find(|(table, _)| *table == missing) {
                Some((_, why)) => ServeError::new(ErrorCode::SourceError, why.clone()),
                None => ServeError::new(
                    ErrorCode::InvalidQuery,
                    format!(
                        "there is no table `{missing}`; names are `database.table`, and the catalog lists them \
                         (HTTP `GET /v1/tables`, a Flight SQL client's table list, psql's `\\dt`)"
                    ),
                ),
            };
        }
        served
    }
}

/// The statements of `sql`, parsed with the session's dialect.
fn parse(
    ctx: &SessionContext,
    sql: &str,
) -> Result<Vec<datafusion::sql::parser::Statement>, ServeError> {
    use datafusion::sql::parser::DFParserBuilder;
    let state = ctx.state();
    let options = state.config().options();
    let dialect =
        datafusion::sql::sqlparser::dialect::dialect_from_str(options.sql_parser.dialect.as_ref())
            .ok_or_else(|| ServeError::new(ErrorCode::Internal, "unsupported SQL dialect"))?;
    let statements = DFParserBuilder::new(sql)
        .with_dialect(dialect.as_ref())
        .with_recursion_limit(options.sql_parser.recursion_limit.get())
        .build()
        .and_then(|mut parser| parser.parse_statements())
        .map_err(|error| ServeError::from_datafusion(&error))?;
    if statements.is_empty() {
        return Err(ServeError::new(
            ErrorCode::SyntaxError,
            "no SQL statement: send the query as the request body",
        ));
    }
    Ok(statements.into())
}
