//! The extended query protocol (`Parse`, `Bind`, `Describe`, `Execute`), as
//! psycopg and JDBC speak it: a statement planned at `Parse`, its parameters
//! bound as values, its rows streamed.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use catalog_serve::{Prepared, QueryService};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use futures::Sink;
use pgwire::api::portal::{Format, Portal, PortalExecutionState};
use pgwire::api::query::ExtendedQueryHandler;
use pgwire::api::results::{
    DescribePortalResponse, DescribeStatementResponse, FieldInfo, Response,
};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, DEFAULT_NAME, PgWireConnectionState, Type};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::extendedquery::Execute;
use pgwire::types::format::FormatOptions;

use crate::front::{
    Queries, caller, engine_settings, fields, format_options, pg_error, respond, send, user_error,
};
use crate::params;
use crate::statement::{Sorted, has_parameters, sort};

/// A statement of the extended protocol, as `Parse` left it.
#[derive(Clone)]
pub struct Parsed {
    sorted: Sorted,
    /// The types the client gave its parameters (`unknown` where it gave none).
    declared: Vec<Type>,
    /// The types the statement uses its parameters as (`None`: text).
    targets: Vec<Option<DataType>>,
    /// The schema of its answer, for `Describe`.
    schema: Option<SchemaRef>,
    /// The plan made at `Parse`, run by the first `Execute` (a statement
    /// without parameters is planned once).
    plan: Arc<Mutex<Option<Prepared>>>,
}

impl Parsed {
    /// The parameters' types as `Describe` reports them: the client's, else
    /// the statement's.
    fn parameter_types(&self) -> Vec<Type> {
        self.targets
            .iter()
            .enumerate()
            .map(|(index, target)| match self.declared.get(index) {
                Some(declared) if *declared != Type::UNKNOWN => declared.clone(),
                _ => params::described(target.as_ref()),
            })
            .collect()
    }
}

/// `Parse`: sorts the statement and, for a query, plans it as Postgres does,
/// so that an unknown table fails at `Parse`.
pub struct StatementParser {
    pub(crate) service: Arc<QueryService>,
}

#[async_trait]
impl QueryParser for StatementParser {
    type Statement = Parsed;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Parsed>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let mut sorted = sort(sql);
        if sorted.len() > 1 {
            return Err(user_error(
                "42601",
                "cannot insert multiple commands into a prepared statement",
            ));
        }
        let Some(sorted) = sorted.pop() else {
            return Ok(None);
        };
        let declared: Vec<Type> = types
            .iter()
            .map(|declared| declared.clone().unwrap_or(Type::UNKNOWN))
            .collect();
        let nothing = |sorted, schema| Parsed {
            sorted,
            declared: Vec::new(),
            targets: Vec::new(),
            schema,
            plan: Arc::new(Mutex::new(None)),
        };
        let query = match &sorted {
            Sorted::Query(query) => query.clone(),
            Sorted::Show(name) => {
                let schema = Schema::new(vec![Field::new(name, DataType::Utf8, true)]);
                return Ok(Some(nothing(sorted.clone(), Some(Arc::new(schema)))));
            }
            _ => return Ok(Some(nothing(sorted, None))),
        };
        let settings = engine_settings(client);
        let sql = format!("{settings}{query}");
        if !has_parameters(&query) && declared.is_empty() {
            let prepared = self
                .service
                .prepare(&sql, caller(client))
                .await
                .map_err(|error| pg_error(&error))?;
            return Ok(Some(Parsed {
                schema: Some(prepared.schema()),
                plan: Arc::new(Mutex::new(Some(prepared))),
                ..nothing(sorted, None)
            }));
        }
        let (schema, mut targets) = self
            .service
            .describe_parameters(&sql, caller(client))
            .await
            .map_err(|error| pg_error(&error))?;
        // A parameter the client declared but the statement does not use is still bound.
        if targets.len() < declared.len() {
            targets.resize(declared.len(), None);
        }
        Ok(Some(Parsed {
            sorted,
            declared,
            targets,
            schema: Some(schema),
            plan: Arc::new(Mutex::new(None)),
        }))
    }

    fn get_parameter_types(&self, statement: &Parsed) -> PgWireResult<Vec<Type>> {
        Ok(statement.parameter_types())
    }

    fn get_result_schema(
        &self,
        statement: &Parsed,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        Ok(match &statement.schema {
            Some(schema) => fields(
                schema,
                format.unwrap_or(&Format::UnifiedText),
                &Arc::new(FormatOptions::default()),
            ),
            None => Vec::new(),
        })
    }
}

#[async_trait]
impl ExtendedQueryHandler for Queries {
    type Statement = Parsed;
    type QueryParser = StatementParser;

    fn query_parser(&self) -> Arc<StatementParser> {
        Arc::clone(&self.parser)
    }

    /// An `Execute` without a row limit (how psycopg and JDBC fetch) streams
    /// the rows as they come; one with a limit is pgwire's, which keeps the
    /// rest for the next `Execute`.
    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Parsed>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if message.max_rows != 0 {
            return self._on_execute(client, message).await;
        }
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        let Some(Entry::Value(portal)) = client.portal_store().get_portal(name) else {
            return self._on_execute(client, message).await;
        };
        if !matches!(*portal.state().lock().await, PortalExecutionState::Initial) {
            return self._on_execute(client, message).await;
        }
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        client.set_state(PgWireConnectionState::QueryInProgress);
        let status = client.transaction_status();
        let response = ExtendedQueryHandler::do_query(self, client, &portal, 0).await?;
        let status = send(client, response, status, false).await?;
        client.set_state(PgWireConnectionState::ReadyForQuery);
        client.set_transaction_status(status);
        Ok(())
    }

    async fn do_describe_statement<C>(
        &self,
        _client: &mut C,
        target: &StoredStatement<Parsed>,
    ) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Parsed>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let parsed = &target.statement;
        let fields = self.parser.get_result_schema(parsed, None)?;
        Ok(DescribeStatementResponse::new(
            parsed.parameter_types(),
            fields,
        ))
    }

    async fn do_describe_portal<C>(
        &self,
        client: &mut C,
        portal: &Portal<Parsed>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Parsed>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let parsed = &portal.statement.statement;
        Ok(DescribePortalResponse::new(match &parsed.schema {
            Some(schema) => fields(
                schema,
                &portal.result_column_format,
                &format_options(client),
            ),
            None => Vec::new(),
        }))
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Parsed>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Parsed>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let parsed = &portal.statement.statement;
        let planned = parsed
            .plan
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        let response = match (planned, &parsed.sorted) {
            (Some(prepared), _) => match self.service.run(prepared, caller(client)).await {
                Ok(stream) => {
                    let fields = fields(
                        &stream.schema(),
                        &portal.result_column_format,
                        &format_options(client),
                    );
                    Ok(Response::Query(respond(&self.service, stream, fields)))
                }
                Err(error) => Err(pg_error(&error)),
            },
            (None, sorted) => {
                let values = if parsed.targets.is_empty() {
                    Vec::new()
                } else {
                    params::values(portal, &parsed.declared, &parsed.targets)?
                };
                self.answer(client, sorted.clone(), values, &portal.result_column_format)
                    .await
            }
        };
        // An error goes back to pgwire, which reports it and skips to the next Sync.
        response
    }
}
