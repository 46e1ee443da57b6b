//! The query handlers: the handlers of a connection, what both protocols
//! share (errors, formats, streaming rows, session settings), and the simple
//! protocol (`Query`, several statements at once); the extended one is in
//! `extended.rs`. Both end in the query service.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use catalog_serve::{Caller, ErrorCode, QueryService, ServeError};
use datafusion::arrow::datatypes::SchemaRef;
use futures::{Sink, SinkExt, StreamExt};
use pgwire::api::auth::StartupHandler;
use pgwire::api::portal::Format;
use pgwire::api::query::{
    ExtendedQueryHandler, SimpleQueryHandler, send_execution_response, send_query_response,
    send_ready_for_query,
};
use pgwire::api::results::{FieldFormat, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::store::PortalStore;
use pgwire::api::{
    ClientInfo, ClientPortalStore, PgWireConnectionState, PgWireServerHandlers, Type,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::response::EmptyQueryResponse;
use pgwire::messages::simplequery::Query;
use pgwire::types::format::FormatOptions;

use crate::FRONT_END;
use crate::auth::Startup;
use crate::encode;
use crate::extended::StatementParser;
use crate::statement::{Sorted, sort};

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
    pub(crate) service: Arc<QueryService>,
    pub(crate) parser: Arc<StatementParser>,
}

pub(crate) fn caller<C: ClientInfo>(client: &C) -> Caller {
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

pub(crate) fn user_error(state: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_owned(),
        state.to_owned(),
        message.into(),
    )))
}

/// The client's session settings as pgwire formats values with them.
pub(crate) fn format_options<C: ClientInfo>(client: &C) -> Arc<FormatOptions> {
    Arc::new(FormatOptions::from_client_metadata(client.metadata()))
}

/// The session's `SET datafusion.…` statements, the latest for each setting,
/// sent before each of its queries. Kept in the session's extensions, which a
/// client cannot write to.
#[derive(Debug, Default)]
struct EngineSettings(Mutex<Vec<(String, String)>>);

/// The `SET datafusion.…` statements of this session, to send before a query.
pub(crate) fn engine_settings<C: ClientInfo>(client: &C) -> String {
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

pub(crate) fn fields(
    schema: &SchemaRef,
    format: &Format,
    options: &Arc<FormatOptions>,
) -> Vec<FieldInfo> {
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
pub(crate) fn respond(
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
    pub(crate) async fn answer<C>(
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
pub(crate) async fn send<C>(
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
