//! [`FlightFront`]: each Flight SQL call, authenticated, then answered by the
//! query service.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow_flight::encode::{DictionaryHandling, FlightDataEncoderBuilder};
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionBeginSavepointRequest, ActionBeginSavepointResult, ActionBeginTransactionRequest,
    ActionBeginTransactionResult, ActionClosePreparedStatementRequest,
    ActionCreatePreparedStatementRequest, ActionCreatePreparedStatementResult,
    ActionCreatePreparedSubstraitPlanRequest, ActionEndSavepointRequest,
    ActionEndTransactionRequest, Any, CommandGetCatalogs, CommandGetDbSchemas, CommandGetSqlInfo,
    CommandGetTableTypes, CommandGetTables, CommandPreparedStatementQuery,
    CommandPreparedStatementUpdate, CommandStatementIngest, CommandStatementQuery,
    CommandStatementSubstraitPlan, CommandStatementUpdate, DoPutPreparedStatementResult,
    ProstMessageExt, SqlInfo, TicketStatementQuery,
};
use arrow_flight::{
    FlightData, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse,
    IpcMessage, SchemaAsIpc, Ticket,
};
use base64::Engine as _;
use catalog_serve::{Caller, ErrorCode, Prepared, QueryService, ServeError};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::ipc::writer::IpcWriteOptions;
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use tonic::metadata::MetadataValue;
use tonic::{Code, Request, Response, Status, Streaming};

use crate::metadata;

/// The front end's name in metrics and traces.
const FRONT_END: &str = "flight";

/// A stream of Flight data, as `DoGet` answers.
type DoGetStream = Pin<Box<dyn Stream<Item = Result<FlightData, Status>> + Send + 'static>>;

/// The Flight SQL service over a [`QueryService`].
#[derive(Clone)]
pub struct FlightFront {
    service: Arc<QueryService>,
    planned: Arc<Planned>,
}

/// How long a plan made for `GetFlightInfo` waits for its `DoGet`.
const PLAN_TTL: Duration = Duration::from_secs(60);

/// Plans kept at once; beyond them, a ticket carries its SQL only.
const MAX_PLANS: usize = 1024;

/// A ticket that names a kept plan starts with this, then `ID:`, then the SQL.
const PLANNED_TICKET: &str = "codelake-plan:";

/// The plans `GetFlightInfo` made, each taken once by its `DoGet`, so a
/// statement is planned once, not twice. A ticket also carries its SQL: when
/// its plan is gone (expired, taken, or made by another server), `DoGet`
/// plans the SQL again, so tickets stay valid on any server of the catalog.
struct Planned<P = Prepared> {
    next: AtomicU64,
    plans: Mutex<HashMap<u64, (String, P, Instant)>>,
}

impl<P> Default for Planned<P> {
    fn default() -> Self {
        Self {
            next: AtomicU64::new(0),
            plans: Mutex::new(HashMap::new()),
        }
    }
}

impl<P> Planned<P> {
    /// Keeps `prepared` for `sql`: the ticket's handle.
    fn keep(&self, sql: &str, prepared: P) -> String {
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        if plans.len() >= MAX_PLANS / 2 {
            plans.retain(|_, (_, _, at)| at.elapsed() < PLAN_TTL);
        }
        if plans.len() >= MAX_PLANS {
            return sql.to_owned();
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        plans.insert(id, (sql.to_owned(), prepared, Instant::now()));
        format!("{PLANNED_TICKET}{id}:{sql}")
    }

    /// The SQL of a ticket's handle, and its kept plan if this server still
    /// has it for that same SQL.
    fn take<'h>(&self, handle: &'h str) -> (&'h str, Option<P>) {
        let Some((id, sql)) = handle
            .strip_prefix(PLANNED_TICKET)
            .and_then(|rest| rest.split_once(':'))
            .and_then(|(id, sql)| Some((id.parse::<u64>().ok()?, sql)))
        else {
            return (handle, None);
        };
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        let kept = match plans.remove(&id) {
            Some((kept_sql, prepared, at)) if kept_sql == sql && at.elapsed() < PLAN_TTL => {
                Some(prepared)
            }
            _ => None,
        };
        (sql, kept)
    }
}

impl std::fmt::Debug for FlightFront {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlightFront").finish_non_exhaustive()
    }
}

impl FlightFront {
    /// A front end for `service`.
    pub fn new(service: Arc<QueryService>) -> Self {
        Self {
            service,
            planned: Arc::default(),
        }
    }

    /// The caller of `request`, once its bearer token is accepted.
    #[allow(clippy::result_large_err)] // tonic's `Status` is what every handler returns
    fn caller<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        let caller = Caller {
            front_end: FRONT_END,
            address: request.remote_addr(),
        };
        let token = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            })
            .map(str::trim);
        self.service
            .authenticate(token)
            .map_err(|error| self.refuse(error))?;
        Ok(caller)
    }

    /// `error` as a status, counted in the metrics.
    fn refuse(&self, error: ServeError) -> Status {
        self.service.metrics().error(FRONT_END, error.code);
        status(&error)
    }

    /// A `FlightInfo` for `sql`: the schema its answer will have, and one
    /// endpoint whose ticket names the plan kept for it and carries the SQL.
    async fn info(
        &self,
        caller: Caller,
        sql: &str,
        descriptor: FlightDescriptor,
    ) -> Result<Response<FlightInfo>, Status> {
        let prepared = self
            .service
            .prepare(sql, caller)
            .await
            .map_err(|error| status(&error))?;
        let schema = prepared.schema();
        let ticket = TicketStatementQuery {
            statement_handle: self.planned.keep(sql, prepared).into(),
        };
        flight_info(
            &schema,
            Ticket::new(ticket.as_any().encode_to_vec()),
            descriptor,
        )
    }

    /// Runs `sql` for `caller` (its kept plan, if given): its batches as
    /// Flight data, as they come.
    async fn run(
        &self,
        caller: Caller,
        sql: &str,
        kept: Option<Prepared>,
    ) -> Result<Response<DoGetStream>, Status> {
        let answer = match kept {
            Some(prepared) => self.service.run(prepared, caller).await,
            None => self.service.query(sql, caller).await,
        }
        .map_err(|error| status(&error))?;
        let schema = answer.schema();
        let metrics = Arc::clone(self.service.metrics());
        let batches = answer.map_err(|error| FlightError::from(status(&error)));
        let encoded = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            // Dictionaries stay dictionaries, so the stream's schema is the
            // one `GetFlightInfo` described.
            .with_dictionary_handling(DictionaryHandling::Resend)
            .build(batches)
            .map(move |data| {
                let data = data.map_err(Status::from)?;
                metrics.bytes_out(
                    FRONT_END,
                    (data.data_header.len() + data.data_body.len()) as u64,
                );
                Ok(data)
            });
        Ok(Response::new(Box::pin(encoded)))
    }

    /// A metadata result, one batch.
    fn batch(
        &self,
        built: Result<RecordBatch, FlightError>,
    ) -> Result<Response<DoGetStream>, Status> {
        let batch = built.map_err(Status::from)?;
        let stream = FlightDataEncoderBuilder::new()
            .with_schema(batch.schema())
            .build(futures::stream::once(async move { Ok(batch) }))
            .map_err(Status::from);
        Ok(Response::new(Box::pin(stream)))
    }
}

/// A service error as a gRPC status: the closest code, and a message that
/// starts with the service's stable code (`forbidden: …`), also sent as the
/// `x-codelake-error` metadata.
fn status(error: &ServeError) -> Status {
    let code = match error.code {
        ErrorCode::Unauthenticated => Code::Unauthenticated,
        ErrorCode::Forbidden => Code::PermissionDenied,
        ErrorCode::SyntaxError | ErrorCode::InvalidQuery | ErrorCode::NotAcceptable => {
            Code::InvalidArgument
        }
        ErrorCode::NotFound => Code::NotFound,
        ErrorCode::SourceError => Code::FailedPrecondition,
        ErrorCode::ResourcesExhausted | ErrorCode::ResultTooLarge => Code::ResourceExhausted,
        ErrorCode::Timeout => Code::DeadlineExceeded,
        ErrorCode::Busy | ErrorCode::ShuttingDown => Code::Unavailable,
        ErrorCode::Cancelled => Code::Cancelled,
        ErrorCode::Internal => Code::Internal,
    };
    let mut status = Status::new(code, format!("{}: {}", error.code.as_str(), error.message));
    status.metadata_mut().insert(
        "x-codelake-error",
        MetadataValue::from_static(error.code.as_str()),
    );
    status
}

/// A `FlightInfo` describing `schema`, fetched with `ticket`.
#[allow(clippy::result_large_err)]
fn flight_info(
    schema: &SchemaRef,
    ticket: Ticket,
    descriptor: FlightDescriptor,
) -> Result<Response<FlightInfo>, Status> {
    let info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|error| Status::internal(format!("cannot encode the result's schema: {error}")))?
        .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
        .with_descriptor(descriptor)
        .with_ordered(true);
    Ok(Response::new(info))
}

/// A prepared statement's handle, or a ticket's, as text: the SQL itself
/// (for a ticket, perhaps after the name of a kept plan), so that any server
/// of the same catalog can run it.
#[allow(clippy::result_large_err)]
fn sql_of(handle: &[u8]) -> Result<&str, Status> {
    std::str::from_utf8(handle)
        .map_err(|_| Status::invalid_argument("the statement handle is not one this server made"))
}

/// The refusal of anything that would write.
fn read_only(what: &str) -> ServeError {
    ServeError::new(
        ErrorCode::Forbidden,
        format!(
            "{what}: `codelake serve` is read-only; the catalog's tables change in their sources, \
             declared in code"
        ),
    )
}

#[tonic::async_trait]
impl FlightSqlService for FlightFront {
    type FlightService = FlightFront;

    /// Basic authentication for clients that only know user and password:
    /// the password is a token (the user is ignored); the answer carries it
    /// back as the bearer token to send on every call.
    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<
        Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>,
        Status,
    > {
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let basic = header
            .strip_prefix("Basic ")
            .or_else(|| header.strip_prefix("basic "));
        let token = match basic {
            Some(basic) => {
                // Padded or not: Go's ADBC driver sends it without padding.
                let base64 = base64::engine::GeneralPurpose::new(
                    &base64::alphabet::STANDARD,
                    base64::engine::GeneralPurposeConfig::new()
                        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
                );
                let decoded = base64
                    .decode(basic.trim())
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| {
                        self.refuse(ServeError::new(
                            ErrorCode::Unauthenticated,
                            "the Basic credentials are not base64 of `user:password`",
                        ))
                    })?;
                let password = decoded
                    .split_once(':')
                    .map_or(decoded.as_str(), |(_, password)| password);
                let presented = (!password.is_empty()).then_some(password);
                self.service.authenticate(presented).map_err(|_| {
                    self.refuse(ServeError::new(
                        ErrorCode::Unauthenticated,
                        "the password is not a token this server accepts: give a token the operator \
                         configured (CODELAKE_SERVE_TOKENS or `serve.tokens_file`) as the password, \
                         with any user name",
                    ))
                })?;
                password.to_owned()
            }
            None => {
                let bearer = header
                    .strip_prefix("Bearer ")
                    .or_else(|| header.strip_prefix("bearer "))
                    .map(str::trim)
                    .filter(|token| !token.is_empty());
                self.service
                    .authenticate(bearer)
                    .map_err(|error| self.refuse(error))?;
                bearer.unwrap_or_default().to_owned()
            }
        };
        let bearer = MetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|_| Status::invalid_argument("the token is not a valid header value"))?;
        let answer = futures::stream::once(async {
            Ok(HandshakeResponse {
                protocol_version: 0,
                payload: Default::default(),
            })
        });
        let mut response: Response<Pin<Box<dyn Stream<Item = _> + Send>>> =
            Response::new(Box::pin(answer));
        response.metadata_mut().insert("authorization", bearer);
        Ok(response)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let caller = self.caller(&request)?;
        self.info(caller, &query.query, request.into_inner()).await
    }

    async fn get_flight_info_substrait_plan(
        &self,
        _query: CommandStatementSubstraitPlan,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        Err(self.refuse(substrait()))
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let caller = self.caller(&request)?;
        let sql = sql_of(&query.prepared_statement_handle)?.to_owned();
        self.info(caller, &sql, request.into_inner()).await
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        let schema = query.into_builder().schema();
        flight_info(
            &schema,
            Ticket::new(query.as_any().encode_to_vec()),
            request.into_inner(),
        )
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        let schema = query.clone().into_builder().schema();
        flight_info(
            &schema,
            Ticket::new(query.as_any().encode_to_vec()),
            request.into_inner(),
        )
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        let schema = query.clone().into_builder().schema();
        flight_info(
            &schema,
            Ticket::new(query.as_any().encode_to_vec()),
            request.into_inner(),
        )
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        let schema = query.into_builder().schema();
        flight_info(
            &schema,
            Ticket::new(query.as_any().encode_to_vec()),
            request.into_inner(),
        )
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        let schema = query.clone().into_builder(metadata::sql_info()).schema();
        flight_info(
            &schema,
            Ticket::new(query.as_any().encode_to_vec()),
            request.into_inner(),
        )
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let caller = self.caller(&request)?;
        let (sql, kept) = self.planned.take(sql_of(&ticket.statement_handle)?);
        self.run(caller, sql, kept).await
    }

    async fn do_get_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let caller = self.caller(&request)?;
        let sql = sql_of(&query.prepared_statement_handle)?;
        self.run(caller, sql, None).await
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.caller(&request)?;
        self.batch(metadata::catalogs(&self.service, query))
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.caller(&request)?;
        self.batch(metadata::schemas(&self.service, query))
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.caller(&request)?;
        self.batch(metadata::tables(&self.service, query).await)
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.caller(&request)?;
        self.batch(metadata::table_types(query))
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.caller(&request)?;
        self.batch(query.into_builder(metadata::sql_info()).build())
    }

    async fn do_get_fallback(
        &self,
        request: Request<Ticket>,
        message: Any,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        self.caller(&request)?;
        Err(Status::unimplemented(format!(
            "this server does not answer `{}`; it serves statements, prepared statements, \
             catalogs, schemas, tables, table types and SQL info",
            message.type_url
        )))
    }

    async fn do_put_statement_update(
        &self,
        _query: CommandStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        self.caller(&request)?;
        Err(self.refuse(read_only("an update statement")))
    }

    async fn do_put_statement_ingest(
        &self,
        _query: CommandStatementIngest,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        self.caller(&request)?;
        Err(self.refuse(read_only("bulk ingestion")))
    }

    async fn do_put_substrait_plan(
        &self,
        _query: CommandStatementSubstraitPlan,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        self.caller(&request)?;
        Err(self.refuse(substrait()))
    }

    async fn do_put_prepared_statement_query(
        &self,
        _query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        self.caller(&request)?;
        Err(self.refuse(ServeError::new(
            ErrorCode::InvalidQuery,
            "bound parameters are not supported yet: write the values into the SQL",
        )))
    }

    async fn do_put_prepared_statement_update(
        &self,
        _query: CommandPreparedStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        self.caller(&request)?;
        Err(self.refuse(read_only("a prepared update")))
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<arrow_flight::Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let caller = self.caller(&request)?;
        let schema = self
            .service
            .describe(&query.query, caller)
            .await
            .map_err(|error| status(&error))?;
        let IpcMessage(dataset_schema) = SchemaAsIpc::new(&schema, &IpcWriteOptions::default())
            .try_into()
            .map_err(|error: ArrowError| {
                Status::internal(format!("cannot encode the result's schema: {error}"))
            })?;
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: query.query.into(),
            dataset_schema,
            parameter_schema: Default::default(),
        })
    }

    async fn do_action_close_prepared_statement(
        &self,
        _query: ActionClosePreparedStatementRequest,
        request: Request<arrow_flight::Action>,
    ) -> Result<(), Status> {
        // A handle is its SQL: there is nothing to free.
        self.caller(&request)?;
        Ok(())
    }

    async fn do_action_create_prepared_substrait_plan(
        &self,
        _query: ActionCreatePreparedSubstraitPlanRequest,
        request: Request<arrow_flight::Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        self.caller(&request)?;
        Err(self.refuse(substrait()))
    }

    async fn do_action_begin_transaction(
        &self,
        _query: ActionBeginTransactionRequest,
        request: Request<arrow_flight::Action>,
    ) -> Result<ActionBeginTransactionResult, Status> {
        self.caller(&request)?;
        Err(self.refuse(no_transactions()))
    }

    async fn do_action_end_transaction(
        &self,
        _query: ActionEndTransactionRequest,
        request: Request<arrow_flight::Action>,
    ) -> Result<(), Status> {
        self.caller(&request)?;
        Err(self.refuse(no_transactions()))
    }

    async fn do_action_begin_savepoint(
        &self,
        _query: ActionBeginSavepointRequest,
        request: Request<arrow_flight::Action>,
    ) -> Result<ActionBeginSavepointResult, Status> {
        self.caller(&request)?;
        Err(self.refuse(no_transactions()))
    }

    async fn do_action_end_savepoint(
        &self,
        _query: ActionEndSavepointRequest,
        request: Request<arrow_flight::Action>,
    ) -> Result<(), Status> {
        self.caller(&request)?;
        Err(self.refuse(no_transactions()))
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

/// The refusal of a Substrait plan: plans would bypass the SQL policy.
fn substrait() -> ServeError {
    ServeError::new(
        ErrorCode::Forbidden,
        "Substrait plans are not accepted (the read-only policy is checked on SQL); send the query as SQL",
    )
}

fn no_transactions() -> ServeError {
    ServeError::new(
        ErrorCode::Forbidden,
        "transactions are not supported: `codelake serve` is read-only, so there is nothing to commit",
    )
}

#[cfg(test)]
mod tests {
    use super::Planned;

    #[test]
    fn a_kept_plan_is_taken_once_for_its_own_sql() {
        let planned = Planned::<u32>::default();
        let handle = planned.keep("SELECT 1", 7);
        assert_eq!(planned.take(&handle), ("SELECT 1", Some(7)));
        // Taken: the same ticket again plans its SQL anew.
        assert_eq!(planned.take(&handle), ("SELECT 1", None));
        // Another server's ticket, or one whose SQL does not match, is its SQL.
        let other = planned.keep("SELECT 2", 8);
        let forged = other.replace("SELECT 2", "SELECT 3");
        assert_eq!(planned.take(&forged), ("SELECT 3", None));
        assert_eq!(planned.take("SELECT 4"), ("SELECT 4", None));
        assert_eq!(
            planned.take("codelake-plan:x:SELECT 5"),
            ("codelake-plan:x:SELECT 5", None)
        );
    }
}
