//! The query handlers: the simple protocol (`Query`, several statements at
//! once) and the extended one (`Parse`, `Bind`, `Describe`, `Execute`), both
//! ending in the query service.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use catalog_serve::{Caller, ErrorCode, Prepared, QueryService, ServeError};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use futures::{Sink, SinkExt, StreamExt};
use pgwire::api::auth::StartupHandler;
use pgwire::api::portal::{Format, Portal, PortalExecutionState};
use pgwire::api::query::{
    ExtendedQueryHandler, SimpleQueryHandler, send_execution_response, send_query_response,
    send_ready_for_query,
};
use pgwire::api::results::{
    DescribePortalResponse, DescribeStatementResponse, FieldFormat, FieldInfo, QueryResponse,
    Response, Tag,
};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{
    ClientInfo, ClientPortalStore, DEFAULT_NAME, PgWireConnectionState, PgWireServerHandlers, Type,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::extendedquery::Execute;
use pgwire::messages::response::EmptyQueryResponse;
use pgwire::messages::simplequery::Query;
use pgwire::types::format::FormatOptions;

use crate::FRONT_END;
use crate::auth::Startup;
use crate::encode;
use crate::params;
use crate::statement::{Sorted, has_parameters, sort};

/// The handlers of every connection: one per server.
pub struct PgFront {
    service: Arc<QueryService>,
    startup: Arc<Startup>,
    queries: Arc<Queries>,
}

impl PgFront {
    /// The Postgres front end of `service`.
    pub fn new(service: Arc<QueryService>) -> Self {
        Self {
            startup: Arc::new(Startup::new(Arc::clone(&service))),
            queries: Arc::new(Queries {
                parser: Arc::new(StatementParser {
                    service: Arc::clone(&service),
                }),
                service: Arc::clone(&service),
            }),
            service,
        }
    }

    /// The query service this front end serves.
    pub fn service(&self) -> &Arc<QueryService> {
        &self.service
    }
}

impl PgWireServerHandlers for PgFront {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::clone(&self.queries)
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        Arc::clone(&self.queries)
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::clone(&self.startup)
    }
}

/// Both query protocols.
pub struct Queries {
    service: Arc<QueryService>,
    parser: Arc<StatementParser>,
}

fn caller<C: ClientInfo>(client: &C) -> Caller {
    Caller {
        front_end: FRONT_END,
        address: Some(client.socket_addr()),
    }
}

/// The service's error, as Postgres reports it: a SQLSTATE and the message.
pub fn pg_error(error: &ServeError) -> PgWireError {
    let state = match error.code {
        ErrorCode::Unauthenticated => "28P01",
        ErrorCode::Forbidden => "25006",
        ErrorCode::SyntaxError => "42601",
        ErrorCode::InvalidQuery if error.message.contains("there is no table") => "42P01",
        ErrorCode::InvalidQuery => "42000",
        ErrorCode::NotFound => "42P01",
        ErrorCode::SourceError => "58000",
        ErrorCode::ResourcesExhausted => "53200",
        ErrorCode::Timeout | ErrorCode::Cancelled => "57014",
        ErrorCode::Busy => "53300",
        ErrorCode::ShuttingDown => "57P01",
        ErrorCode::ResultTooLarge => "54000",
        ErrorCode::NotAcceptable | ErrorCode::Internal => "XX000",
    };
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_owned(),
        state.to_owned(),
        error.message.clone(),
    )))
}

fn user_error(state: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_owned(),
        state.to_owned(),
        message.into(),
    )))
}

/// The client's session settings as pgwire formats values with them.
fn format_options<C: ClientInfo>(client: &C) -> Arc<FormatOptions> {
    Arc::new(FormatOptions::from_client_metadata(client.metadata()))
}

/// The session's `SET datafusion.…` statements, the latest for each setting,
/// sent before each of its queries. Kept in the session's extensions, which a
/// client cannot write to.
#[derive(Debug, Default)]
struct EngineSettings(Mutex<Vec<(String, String)>>);

/// The `SET datafusion.…` statements of this session, to send before a query.
fn engine_settings<C: ClientInfo>(client: &C) -> String {
    client
        .session_extensions()
        .get::<EngineSettings>()
        .map(|settings| {
            settings
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .iter()
                .map(|(_, set)| format!("{set};\n"))
                .collect()
        })
        .unwrap_or_default()
}

/// Keeps `set` (a checked `SET datafusion.name = …`) for the rest of the session.
fn keep_engine_setting<C: ClientInfo>(client: &C, name: String, set: String) {
    let settings = client
        .session_extensions()
        .get_or_insert_with(EngineSettings::default);
    let mut settings = settings
        .0
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    settings.retain(|(kept, _)| *kept != name);
    settings.push((name, set));
}

/// A result format that never indexes past the client's list of codes.
fn format_for(format: &Format, index: usize) -> FieldFormat {
    match format {
        Format::Individual(codes) if index >= codes.len() => FieldFormat::Text,
        other => other.format_for(index),
    }
}

fn fields(schema: &SchemaRef, format: &Format, options: &Arc<FormatOptions>) -> Vec<FieldInfo> {
    let format = match format {
        Format::Individual(_) => Format::Individual(
            (0..schema.fields().len())
                .map(|index| i16::from(format_for(format, index) == FieldFormat::Binary))
                .collect(),
        ),
        other => other.clone(),
    };
    encode::fields(schema, &format, options)
}

/// A query's answer: its rows as they come from the service.
fn respond(
    service: &Arc<QueryService>,
    stream: catalog_serve::QueryStream,
    fields: Vec<FieldInfo>,
) -> QueryResponse {
    let fields = Arc::new(fields);
    let metrics = Arc::clone(service.metrics());
    let encoding = Arc::clone(&fields);
    let rows = stream
        .map(move |batch| -> PgWireResult<Vec<PgWireResult<_>>> {
            let batch = batch.map_err(|error| pg_error(&error))?;
            let rows = encode::rows(&batch, &encoding)?;
            let bytes: usize = rows.iter().map(|row| row.data.len() + 7).sum();
            metrics.bytes_out(FRONT_END, bytes as u64);
            Ok(rows.into_iter().map(Ok).collect())
        })
        .flat_map(|rows| {
            futures::stream::iter(match rows {
                Ok(rows) => rows,
                Err(error) => vec![Err(error)],
            })
        });
    QueryResponse::new(fields, rows)
}

/// A one-column answer, for `SHOW`.
fn single_text(name: &str, value: &str) -> Response {
    let field = FieldInfo::new(name.to_owned(), None, None, Type::TEXT, FieldFormat::Text);
    let fields = Arc::new(vec![field]);
    let mut encoder = pgwire::api::results::DataRowEncoder::new(Arc::clone(&fields));
    let row = encoder.encode_field(&value).map(|()| encoder.take_row());
    Response::Query(QueryResponse::new(fields, futures::stream::iter(vec![row])))
}

/// The value `SHOW name` answers: the session's setting, or the server's.
fn show<C: ClientInfo>(client: &C, name: &str) -> PgWireResult<Response> {
    if let Some(value) = client.metadata().get(name) {
        return Ok(single_text(name, value));
    }
    let value = match name {
        "server_version" => crate::pg_catalog::SERVER_VERSION,
        "server_encoding" | "client_encoding" => "UTF8",
        "transaction isolation level" | "transaction_isolation" => "read committed",
        "transaction_read_only" | "default_transaction_read_only" => "on",
        "standard_conforming_strings" | "integer_datetimes" => "on",
        "search_path" => "\"$user\", public",
        "timezone" => "Etc/UTC",
        "datestyle" => "ISO, MDY",
        "max_identifier_length" => "63",
        "lc_collate" | "lc_ctype" => "C",
        "is_superuser" => "off",
        _ => {
            return Err(user_error(
                "42704",
                format!("unrecognized configuration parameter \"{name}\""),
            ));
        }
    };
    Ok(single_text(name, value))
}

impl Queries {
    /// One sorted statement, as either protocol runs it; `params` are the
    /// bound parameters of an extended-protocol query.
    async fn answer<C>(
        &self,
        client: &mut C,
        sorted: Sorted,
        params: Vec<datafusion::common::ScalarValue>,
        format: &Format,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Send + Sync,
        C::PortalStore: PortalStore,
    {
        Ok(match sorted {
            Sorted::Begin => Response::TransactionStart(Tag::new("BEGIN")),
            Sorted::End(tag) => Response::TransactionEnd(Tag::new(tag)),
            Sorted::Ignored(tag) => Response::Execution(Tag::new(tag)),
            Sorted::Discard => {
                client
                    .session_extensions()
                    .insert(EngineSettings::default());
                Response::Execution(Tag::new("DISCARD ALL"))
            }
            Sorted::Deallocate(name) => {
                if let Some(name) = name {
                    client.portal_store().rm_statement(&name);
                }
                Response::Execution(Tag::new("DEALLOCATE"))
            }
            Sorted::Show(name) => show(client, &name)?,
            Sorted::Set(name, value) => {
                client.metadata_mut().insert(name, value);
                Response::Execution(Tag::new("SET"))
            }
            Sorted::EngineSet(name, set) => {
                // Checked now (an unknown or forbidden setting fails here), kept for the session.
                let check = format!("{}{set};\nSELECT 1", engine_settings(client));
                let mut stream = self
                    .service
                    .query(&check, caller(client))
                    .await
                    .map_err(|error| pg_error(&error))?;
                while let Some(batch) = stream.next().await {
                    batch.map_err(|error| pg_error(&error))?;
                }
                keep_engine_setting(client, name, set);
                Response::Execution(Tag::new("SET"))
            }
            Sorted::Query(sql) => {
                let sql = format!("{}{sql}", engine_settings(client));
                let started = if params.is_empty() {
                    self.service.query(&sql, caller(client)).await
                } else {
                    self.service.query_with(&sql, params, caller(client)).await
                };
                let stream = started.map_err(|error| pg_error(&error))?;
                let fields = fields(&stream.schema(), format, &format_options(client));
                Response::Query(respond(&self.service, stream, fields))
            }
        })
    }
}

/// Sends `response` as the answer to one statement (with its row description
/// first when `describe`: the simple protocol's way); the transaction status
/// after it.
async fn send<C>(
    client: &mut C,
    response: Response,
    status: pgwire::messages::response::TransactionStatus,
    describe: bool,
) -> PgWireResult<pgwire::messages::response::TransactionStatus>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    Ok(match response {
        Response::EmptyQuery => {
            client
                .feed(PgWireBackendMessage::EmptyQueryResponse(
                    EmptyQueryResponse::new(),
                ))
                .await?;
            status
        }
        Response::Query(results) => {
            send_query_response(client, results, describe).await?;
            status
        }
        Response::Execution(tag) => {
            send_execution_response(client, tag).await?;
            status
        }
        Response::TransactionStart(tag) => {
            send_execution_response(client, tag).await?;
            status.to_in_transaction_state()
        }
        Response::TransactionEnd(tag) => {
            send_execution_response(client, tag).await?;
            status.to_idle_state()
        }
        Response::Error(error) => {
            client
                .feed(PgWireBackendMessage::ErrorResponse((*error).into()))
                .await?;
            status.to_error_state()
        }
        // No statement here answers with COPY.
        _ => status,
    })
}

#[async_trait]
impl SimpleQueryHandler for Queries {
    /// Each statement is answered, its rows streamed, before the next one
    /// starts: a request of many queries never holds more than one slot.
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        client.set_state(PgWireConnectionState::QueryInProgress);
        let mut status = client.transaction_status();
        let statements = sort(&query.query);
        if statements.is_empty() {
            status = send(client, Response::EmptyQuery, status, true).await?;
        }
        for sorted in statements {
            let response = match self
                .answer(client, sorted, Vec::new(), &Format::UnifiedText)
                .await
            {
                Ok(response) => response,
                Err(PgWireError::UserError(info)) => Response::Error(info),
                Err(other) => return Err(other),
            };
            let failed = matches!(response, Response::Error(_));
            status = send(client, response, status, true).await?;
            // Like Postgres: the first error ends the request.
            if failed {
                break;
            }
        }
        client.set_state(PgWireConnectionState::ReadyForQuery);
        client.set_transaction_status(status);
        send_ready_for_query(client, status).await?;
        Ok(())
    }

    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // Only reached through pgwire's default `on_query`, which `on_query` replaces.
        let mut responses = Vec::new();
        for sorted in sort(query) {
            match self
                .answer(client, sorted, Vec::new(), &Format::UnifiedText)
                .await
            {
                Ok(response) => responses.push(response),
                Err(PgWireError::UserError(info)) => {
                    responses.push(Response::Error(info));
                    break;
                }
                Err(other) => return Err(other),
            }
        }
        Ok(responses)
    }
}

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
    service: Arc<QueryService>,
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
