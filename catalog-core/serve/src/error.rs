//! The service's errors: a stable machine code and a message in the user's
//! words, the same on every front end.

use serde::Serialize;

/// What went wrong, as a stable code a client can match on. Each front end
/// maps it to its own status (HTTP: see [`ErrorCode::http_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No token, or a token the server does not accept.
    Unauthenticated,
    /// A statement the read-only policy refuses (DDL, writes, `COPY`, a `SET` off the allow-list).
    Forbidden,
    /// The SQL does not parse.
    SyntaxError,
    /// The SQL parses but does not plan: an unknown table or column, a type error.
    InvalidQuery,
    /// A table's source failed while it was read.
    SourceError,
    /// The query needed more memory than the server's pool allows.
    ResourcesExhausted,
    /// The query ran longer than the server's timeout.
    Timeout,
    /// Too many queries run or wait already.
    Busy,
    /// The result is larger than the format allows (JSON's cap).
    ResultTooLarge,
    /// The client asked for a format the server does not write.
    NotAcceptable,
    /// No such table or route.
    NotFound,
    /// The server is shutting down.
    ShuttingDown,
    /// The client went away before the result was sent (metrics only).
    Cancelled,
    /// Anything else; the message says what.
    Internal,
}

impl ErrorCode {
    /// The HTTP status of this code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::Unauthenticated => 401,
            Self::Forbidden => 403,
            Self::SyntaxError | Self::InvalidQuery => 400,
            Self::NotFound => 404,
            Self::NotAcceptable => 406,
            Self::ResultTooLarge => 413,
            Self::ResourcesExhausted => 507,
            Self::SourceError => 502,
            Self::Timeout => 504,
            Self::Busy | Self::ShuttingDown => 503,
            Self::Cancelled => 499,
            Self::Internal => 500,
        }
    }

    /// The code as it is written in errors and metrics: `source_error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::SyntaxError => "syntax_error",
            Self::InvalidQuery => "invalid_query",
            Self::SourceError => "source_error",
            Self::ResourcesExhausted => "resources_exhausted",
            Self::Timeout => "timeout",
            Self::Busy => "busy",
            Self::ResultTooLarge => "result_too_large",
            Self::NotAcceptable => "not_acceptable",
            Self::NotFound => "not_found",
            Self::ShuttingDown => "shutting_down",
            Self::Cancelled => "cancelled",
            Self::Internal => "internal",
        }
    }
}

/// An error of the service: its code, and a message that names the table,
/// setting or limit at fault and the fix. Never holds a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct ServeError {
    /// The stable code.
    pub code: ErrorCode,
    /// What went wrong and what to do.
    pub message: String,
}

impl ServeError {
    /// An error of `code` saying `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A DataFusion error, classified and said in the user's words.
    pub fn from_datafusion(error: &datafusion::error::DataFusionError) -> Self {
        use datafusion::error::DataFusionError as E;
        let message = catalog_runtime::user_message(error);
        // A source's error carries the table it came from (the SDK's context);
        // anything else that fails while running is the query's own doing
        // (a division by zero, a bad cast).
        let code = match error.find_root() {
            E::SQL(..) => ErrorCode::SyntaxError,
            E::ResourcesExhausted(_) => ErrorCode::ResourcesExhausted,
            _ if message.starts_with("table `") => ErrorCode::SourceError,
            E::Ffi(_) | E::ObjectStore(_) | E::ParquetError(_) => ErrorCode::SourceError,
            E::Plan(_)
            | E::SchemaError(..)
            | E::NotImplemented(_)
            | E::Configuration(_)
            | E::Execution(_)
            | E::ArrowError(..) => ErrorCode::InvalidQuery,
            _ => ErrorCode::Internal,
        };
        Self { code, message }
    }
}
