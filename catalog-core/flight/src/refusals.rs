//! How the Flight SQL front end says no: the service's errors as gRPC
//! statuses, and the refusals of what a read-only server does not do.

use catalog_serve::{ErrorCode, ServeError};
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

/// A service error as a gRPC status: the closest code, and a message that
/// starts with the service's stable code (`forbidden: …`), also sent as the
/// `x-codelake-error` metadata.
pub(crate) fn status(error: &ServeError) -> Status {
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

/// The refusal of anything that would write.
pub(crate) fn read_only(what: &str) -> ServeError {
    ServeError::new(
        ErrorCode::Forbidden,
        format!(
            "{what}: `codelake serve` is read-only; the catalog's tables change in their sources, \
             declared in code"
        ),
    )
}

/// The refusal of a Substrait plan: plans would bypass the SQL policy.
pub(crate) fn substrait() -> ServeError {
    ServeError::new(
        ErrorCode::Forbidden,
        "Substrait plans are not accepted (the read-only policy is checked on SQL); send the query as SQL",
    )
}

/// The refusal of a transaction.
pub(crate) fn no_transactions() -> ServeError {
    ServeError::new(
        ErrorCode::Forbidden,
        "transactions are not supported: `codelake serve` is read-only, so there is nothing to commit",
    )
}
