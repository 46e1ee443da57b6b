//! `GET /v1/tables` and `GET /v1/tables/{database}/{table}`: the declared
//! catalog, as JSON, with each accelerated table's copy in this server. A spec
//! holds the names of credential variables, never a credential; a copy's
//! `last_error` and `refused` are the plugins' and the accelerator's own
//! messages, which name tables, files and settings, never a credential's value
//! (the acceleration tests check a failed refresh's message for its token).

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use catalog_core::TableSpec;
use catalog_serve::CopyStatus;
use catalog_serve::{ErrorCode, QueryService, ServeError};
use serde_json::{Value, json};

use crate::{TablePath, error_response};

/// One table as a client reads it; `copy` is its accelerated copy's status
/// in this server, for a table declared `accelerate`.
fn table(spec: &TableSpec, unavailable: Option<&str>, copy: Option<&CopyStatus>) -> Value {
    let columns: Vec<Value> = spec
        .columns
        .iter()
        .map(|column| {
            json!({
                "name": column.name,
                "type": column.ty.to_string(),
                "nullable": column.nullable,
                "doc": column.doc,
                "unique": column.unique,
                "min": column.min,
                "max": column.max,
            })
        })
        .collect();
    let expectations = &spec.expectations;
    json!({
        "name": spec.qualified_name(),
        "database": spec.database,
        "table": spec.name,
        "doc": spec.doc,
        "source": spec.source,
        "location": catalog_core::source::declared_location(spec),
        "owner": spec.owner,
        "freshness": expectations.freshness.as_ref().map(|freshness| freshness.text.to_string()),
        "min_rows": expectations.min_rows,
        "max_rows": expectations.max_rows,
        "accelerate": spec.accelerate.map(|kind| kind.as_str()),
        "refresh": spec.refresh.as_ref().map(|refresh| refresh.text.to_string()),
        "copy": copy,
        "available": unavailable.is_none(),
        "unavailable_because": unavailable,
        "columns": columns,
    })
}

fn why<'a>(service: &'a QueryService, spec: &TableSpec) -> Option<&'a str> {
    let name = spec.qualified_name();
    service
        .unavailable()
        .iter()
        .find(|(table, _)| *table == name)
        .map(|(_, why)| why.as_str())
}

fn copy<'a>(copies: &'a [CopyStatus], spec: &TableSpec) -> Option<&'a CopyStatus> {
    let name = spec.qualified_name();
    copies.iter().find(|copy| copy.table == name)
}

fn json_response(value: &Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// `GET /v1/tables`.
pub(crate) async fn list(State(service): State<Arc<QueryService>>) -> Response {
    let copies = service.accelerated();
    let tables: Vec<Value> = service
        .catalog()
        .iter()
        .map(|spec| table(spec, why(&service, spec), copy(&copies, spec)))
        .collect();
    json_response(&json!({ "tables": tables }))
}

/// `GET /v1/tables/{database}/{table}`.
pub(crate) async fn one(
    State(service): State<Arc<QueryService>>,
    axum::extract::Path((database, name)): TablePath,
) -> Response {
    match service
        .catalog()
        .iter()
        .find(|spec| spec.database == database && spec.name == name)
    {
        Some(spec) => {
            let copies = service.accelerated();
            json_response(&table(spec, why(&service, spec), copy(&copies, spec)))
        }
        None => error_response(&ServeError::new(
            ErrorCode::NotFound,
            format!("there is no table `{database}.{name}`; `GET /v1/tables` lists them"),
        )),
    }
}
