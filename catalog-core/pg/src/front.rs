//! The query handlers: the simple protocol (`Query`, several statements at
//! once) and the extended one (`Parse`, `Bind`, `Describe`, `Execute`), both
//! ending in the query service.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use catalog_serve::{Caller, ErrorCode, Prepared, QueryService, ServeError};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::sql::sqlparser::ast::{Expr, Value, VisitMut, visit_expressions_mut};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use futures::{Sink, StreamExt};
use pgwire::api::auth::StartupHandler;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{
    DescribePortalResponse, DescribeStatementResponse, FieldFormat, FieldInfo, QueryResponse,
    Response, Tag,
};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireServerHandlers, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::types::format::FormatOptions;

use crate::FRONT_END;
use crate::auth::Startup;
use crate::encode;
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

/// The `SET datafusion.…` statements of this session, to send before a query.
fn engine_settings<C: ClientInfo>(client: &C) -> String {
    let mut settings: Vec<(&String, &String)> = client
        .metadata()
        .iter()
        .filter(|(name, _)| name.starts_with(ENGINE_SET))
        .collect();
    settings.sort();
    settings
        .iter()
        .map(|(_, set)| format!("{set};\n"))
        .collect()
}

/// Metadata keys of the session's DataFusion settings.
const ENGINE_SET: &str = "codelake.set.";

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
    /// One sorted statement of the simple protocol.
    async fn simple<C>(&self, client: &mut C, sorted: Sorted) -> PgWireResult<Response>
    where
        C: ClientInfo + Send + Sync,
    {
        Ok(match sorted {
            Sorted::Begin => Response::TransactionStart(Tag::new("BEGIN")),
            Sorted::End(tag) => Response::TransactionEnd(Tag::new(tag)),
            Sorted::Ignored(tag) => Response::Execution(Tag::new(tag)),
            Sorted::Show(name) => show(client, &name)?,
            Sorted::Set(name, value) => {
                client.metadata_mut().insert(name, value);
                Response::Execution(Tag::new("SET"))
            }
            Sorted::EngineSet(set) => {
                // Checked now (an unknown or forbidden setting fails here), kept for the session.
                let check = format!("{set};\nSELECT 1");
                let mut stream = self
                    .service
                    .query(&check, caller(client))
                    .await
                    .map_err(|error| pg_error(&error))?;
                while let Some(batch) = stream.next().await {
                    batch.map_err(|error| pg_error(&error))?;
                }
                let name = set
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_lowercase();
                client
                    .metadata_mut()
                    .insert(format!("{ENGINE_SET}{name}"), set);
                Response::Execution(Tag::new("SET"))
            }
            Sorted::Query(sql) => {
                let sql = format!("{}{sql}", engine_settings(client));
                let stream = self
                    .service
                    .query(&sql, caller(client))
                    .await
                    .map_err(|error| pg_error(&error))?;
                let fields = fields(
                    &stream.schema(),
                    &Format::UnifiedText,
                    &format_options(client),
                );
                Response::Query(respond(&self.service, stream, fields))
            }
        })
    }
}

#[async_trait]
impl SimpleQueryHandler for Queries {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut responses = Vec::new();
        for sorted in sort(query) {
            match self.simple(client, sorted).await {
                Ok(response) => responses.push(response),
                Err(PgWireError::UserError(info)) => {
                    // Like Postgres: the first error ends the request.
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
    /// Its parameters' types: the client's, or `text` where it gave none.
    parameters: Vec<Type>,
    /// The schema of its answer, for `Describe`.
    schema: Option<SchemaRef>,
    /// The plan made at `Parse`, run by the first `Execute` (a statement
    /// without parameters is planned once).
    plan: Arc<Mutex<Option<Prepared>>>,
}

/// `Parse`: sorts the statement and, for a query, plans it as Postgres does,
/// so that an unknown table fails at `Parse`.
pub struct StatementParser {
    service: Arc<QueryService>,
}

/// The numbers of the `$n` parameters of `sql`.
fn parameter_count(sql: &str) -> usize {
    let Ok(mut statements) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return 0;
    };
    let mut count = 0;
    let _ = visit_expressions_mut(&mut statements, |expr| {
        if let Expr::Value(value) = expr
            && let Value::Placeholder(name) = &value.value
            && let Some(number) = name.strip_prefix('$').and_then(|n| n.parse::<usize>().ok())
        {
            count = count.max(number);
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    count
}

/// `sql` with each `$n` replaced by `value(n)`, a SQL literal.
fn substitute(sql: &str, value: impl Fn(usize) -> PgWireResult<Expr>) -> PgWireResult<String> {
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .map_err(|error| user_error("42601", error.to_string()))?;
    let mut failed = None;
    let _ = statements.visit(&mut Substitute {
        value: &value,
        failed: &mut failed,
    });
    if let Some(error) = failed {
        return Err(error);
    }
    Ok(statements
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(";\n"))
}

struct Substitute<'a, F> {
    value: &'a F,
    failed: &'a mut Option<PgWireError>,
}

impl<F: Fn(usize) -> PgWireResult<Expr>> datafusion::sql::sqlparser::ast::VisitorMut
    for Substitute<'_, F>
{
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> std::ops::ControlFlow<()> {
        if let Expr::Value(value) = expr
            && let Value::Placeholder(name) = &value.value
            && let Some(number) = name.strip_prefix('$').and_then(|n| n.parse::<usize>().ok())
        {
            match (self.value)(number) {
                Ok(literal) => *expr = literal,
                Err(error) => {
                    *self.failed = Some(error);
                    return std::ops::ControlFlow::Break(());
                }
            }
        }
        std::ops::ControlFlow::Continue(())
    }
}

/// The SQL literal of parameter `index` of `portal`, of type `pg_type`.
fn literal<S: Clone>(portal: &Portal<S>, index: usize, pg_type: &Type) -> PgWireResult<Expr> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
    let Some(Some(bytes)) = portal.parameters.get(index) else {
        return Ok(Expr::value(Value::Null));
    };
    let number = |text: String| -> PgWireResult<Expr> {
        // Checked as a number, so that a parameter can never be SQL.
        if text.parse::<f64>().is_err() {
            return Err(user_error(
                "22P02",
                format!(
                    "invalid input syntax for type {}: \"{text}\"",
                    pg_type.name()
                ),
            ));
        }
        Ok(Expr::value(Value::Number(text, false)))
    };
    let string = |text: String| Expr::value(Value::SingleQuotedString(text));
    let typed = |text: String, sql_type: &str| -> PgWireResult<Expr> {
        Parser::new(&PostgreSqlDialect {})
            .try_with_sql(&format!(
                "CAST('{}' AS {sql_type})",
                text.replace('\'', "''")
            ))
            .and_then(|mut parser| parser.parse_expr())
            .map_err(|error| user_error("22P02", error.to_string()))
    };
    if format_for(&portal.parameter_format, index) == FieldFormat::Binary {
        let binary = |what: &str| {
            user_error(
                "22P03",
                format!("bad binary {what} parameter ${}", index + 1),
            )
        };
        return match *pg_type {
            Type::INT2 => number(
                portal
                    .parameter::<i16>(index, pg_type)?
                    .unwrap_or_default()
                    .to_string(),
            ),
            Type::INT4 => number(
                portal
                    .parameter::<i32>(index, pg_type)?
                    .unwrap_or_default()
                    .to_string(),
            ),
            Type::INT8 => number(
                portal
                    .parameter::<i64>(index, pg_type)?
                    .unwrap_or_default()
                    .to_string(),
            ),
            Type::FLOAT4 => number(
                portal
                    .parameter::<f32>(index, pg_type)?
                    .unwrap_or_default()
                    .to_string(),
            ),
            Type::FLOAT8 => number(
                portal
                    .parameter::<f64>(index, pg_type)?
                    .unwrap_or_default()
                    .to_string(),
            ),
            Type::BOOL => Ok(Expr::value(Value::Boolean(
                portal
                    .parameter::<bool>(index, pg_type)?
                    .unwrap_or_default(),
            ))),
            Type::DATE => typed(
                portal
                    .parameter::<NaiveDate>(index, pg_type)?
                    .ok_or_else(|| binary("date"))?
                    .to_string(),
                "DATE",
            ),
            Type::TIMESTAMP => typed(
                portal
                    .parameter::<NaiveDateTime>(index, pg_type)?
                    .ok_or_else(|| binary("timestamp"))?
                    .to_string(),
                "TIMESTAMP",
            ),
            Type::TIMESTAMPTZ => typed(
                postgres_types::FromSql::from_sql(pg_type, bytes)
                    .map(|time: DateTime<Utc>| time.to_rfc3339())
                    .map_err(|_| binary("timestamptz"))?,
                "TIMESTAMPTZ",
            ),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => Ok(string(
                String::from_utf8(bytes.to_vec()).map_err(|_| binary("text"))?,
            )),
            _ => Err(user_error(
                "0A000",
                format!(
                    "parameter ${} of type {} in binary format is not supported; send it as text",
                    index + 1,
                    pg_type.name()
                ),
            )),
        };
    }
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| user_error("22021", format!("parameter ${} is not UTF-8", index + 1)))?;
    match *pg_type {
        Type::INT2
        | Type::INT4
        | Type::INT8
        | Type::OID
        | Type::FLOAT4
        | Type::FLOAT8
        | Type::NUMERIC => number(text),
        Type::BOOL => Ok(Expr::value(Value::Boolean(matches!(
            text.to_lowercase().as_str(),
            "t" | "true" | "on" | "yes" | "1"
        )))),
        Type::DATE => typed(text, "DATE"),
        Type::TIMESTAMP => typed(text, "TIMESTAMP"),
        Type::TIMESTAMPTZ => typed(text, "TIMESTAMPTZ"),
        _ => Ok(string(text)),
    }
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
        let Sorted::Query(query) = &sorted else {
            return Ok(Some(Parsed {
                sorted,
                parameters: Vec::new(),
                schema: None,
                plan: Arc::new(Mutex::new(None)),
            }));
        };
        let count = parameter_count(query).max(types.len());
        let parameters: Vec<Type> = (0..count)
            .map(|index| types.get(index).cloned().flatten().unwrap_or(Type::TEXT))
            .collect();
        let settings = engine_settings(client);
        let (schema, plan) = if count == 0 {
            let prepared = self
                .service
                .prepare(&format!("{settings}{query}"), caller(client))
                .await
                .map_err(|error| pg_error(&error))?;
            (Some(prepared.schema()), Some(prepared))
        } else {
            // Described with every parameter null: the answer's columns do not depend on them.
            let nulls = substitute(query, |_| Ok(Expr::value(Value::Null)))?;
            let schema = self
                .service
                .describe(&format!("{settings}{nulls}"), caller(client))
                .await
                .map_err(|error| pg_error(&error))?;
            (Some(schema), None)
        };
        Ok(Some(Parsed {
            sorted,
            parameters,
            schema,
            plan: Arc::new(Mutex::new(plan)),
        }))
    }

    fn get_parameter_types(&self, statement: &Parsed) -> PgWireResult<Vec<Type>> {
        Ok(statement.parameters.clone())
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
            parsed.parameters.clone(),
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
        let Sorted::Query(query) = &parsed.sorted else {
            return match self.simple(client, parsed.sorted.clone()).await {
                Ok(response) => Ok(response),
                Err(PgWireError::UserError(info)) => Ok(Response::Error(info)),
                Err(other) => Err(other),
            };
        };
        let planned = parsed
            .plan
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        let started = match planned {
            Some(prepared) => self.service.run(prepared, caller(client)).await,
            None => {
                let sql = substitute(query, |number| {
                    let index = number - 1;
                    let pg_type = parsed.parameters.get(index).cloned().unwrap_or(Type::TEXT);
                    literal(portal, index, &pg_type)
                })?;
                let sql = format!("{}{sql}", engine_settings(client));
                self.service.query(&sql, caller(client)).await
            }
        };
        let stream = match started {
            Ok(stream) => stream,
            Err(error) => return Err(pg_error(&error)),
        };
        let fields = fields(
            &stream.schema(),
            &portal.result_column_format,
            &format_options(client),
        );
        Ok(Response::Query(respond(&self.service, stream, fields)))
    }
}
