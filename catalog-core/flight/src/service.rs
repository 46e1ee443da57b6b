//! [`FlightFront`]: each Flight SQL call, authenticated, then answered by the
//! query service.

use std::pin::Pin;
use std::sync::Arc;

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
use tonic::{Request, Response, Status, Streaming};

use crate::metadata;
use crate::planned::Planned;
use crate::refusals::{no_transactions, read_only, status, substrait};

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
