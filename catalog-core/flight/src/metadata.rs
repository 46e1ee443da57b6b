//! The metadata Flight SQL clients ask for on connect, from the served
//! catalog: catalogs, database schemas, tables with their Arrow schemas, table
//! types and the server's SQL info. The builders of `arrow_flight` apply the
//! clients' filters (catalog, `LIKE` patterns, table types).

use std::sync::OnceLock;

use arrow_flight::error::FlightError;
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::{
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetTableTypes, CommandGetTables, SqlInfo,
    SqlSupportedTransaction,
};
use catalog_serve::QueryService;
use datafusion::arrow::array::RecordBatch;

/// A table read from its source.
const TABLE: &str = "TABLE";
/// A catalog view: rows computed by SQL over other tables.
const VIEW: &str = "VIEW";

/// The table types a server may report.
const TABLE_TYPES: [&str; 2] = [TABLE, VIEW];

/// What the server tells clients about itself (`GetSqlInfo`).
pub(crate) fn sql_info() -> &'static SqlInfoData {
    static INFO: OnceLock<SqlInfoData> = OnceLock::new();
    INFO.get_or_init(|| {
        let mut info = SqlInfoDataBuilder::new();
        info.append(SqlInfo::FlightSqlServerName, "codelake");
        info.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
        // The Arrow columnar format's version (Schema.fbs), not the crate's: 1.4 has `Utf8View`.
        info.append(SqlInfo::FlightSqlServerArrowVersion, "1.4");
        info.append(SqlInfo::FlightSqlServerReadOnly, true);
        info.append(SqlInfo::FlightSqlServerSql, true);
        info.append(SqlInfo::FlightSqlServerSubstrait, false);
        info.append(
            SqlInfo::FlightSqlServerTransaction,
            SqlSupportedTransaction::None as i32,
        );
        info.append(SqlInfo::FlightSqlServerCancel, false);
        info.append(SqlInfo::FlightSqlServerBulkIngestion, false);
        info.append(SqlInfo::SqlDdlCatalog, false);
        info.append(SqlInfo::SqlDdlSchema, false);
        info.append(SqlInfo::SqlDdlTable, false);
        info.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
        info.build()
            .expect("a fixed set of SqlInfo values always builds")
    })
}

/// `GetCatalogs`: the one catalog the tables are in.
pub(crate) fn catalogs(
    service: &QueryService,
    query: CommandGetCatalogs,
) -> Result<RecordBatch, FlightError> {
    let mut builder = query.into_builder();
    builder.append(service.catalog_name());
    builder.build()
}

/// `GetDbSchemas`: the catalog's databases.
pub(crate) fn schemas(
    service: &QueryService,
    query: CommandGetDbSchemas,
) -> Result<RecordBatch, FlightError> {
    let catalog = service.catalog_name();
    let mut databases: Vec<&str> = service
        .catalog()
        .iter()
        .map(|spec| &*spec.database)
        .collect();
    databases.sort_unstable();
    databases.dedup();
    let mut builder = query.into_builder();
    for database in databases {
        builder.append(&catalog, database);
    }
    builder.build()
}

/// `GetTables`: every declared table, with the schema `SELECT *` answers (or,
/// for a table that could not be opened, its declared schema).
pub(crate) async fn tables(
    service: &QueryService,
    query: CommandGetTables,
) -> Result<RecordBatch, FlightError> {
    let catalog = service.catalog_name();
    let mut builder = query.into_builder();
    for spec in service.catalog() {
        let schema = match service.table_schema(&spec.database, &spec.name).await {
            Some(schema) => schema.as_ref().clone(),
            None => spec.arrow_schema(),
        };
        let kind = if spec.is_view() { VIEW } else { TABLE };
        builder.append(&catalog, &*spec.database, &*spec.name, kind, &schema)?;
    }
    builder.build()
}

/// `GetTableTypes`.
pub(crate) fn table_types(query: CommandGetTableTypes) -> Result<RecordBatch, FlightError> {
    let mut builder = query.into_builder();
    for kind in TABLE_TYPES {
        builder.append(kind);
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_info_says_read_only_and_no_substrait() {
        let info = sql_info();
        let batch = info
            .record_batch([
                SqlInfo::FlightSqlServerReadOnly as u32,
                SqlInfo::FlightSqlServerSubstrait as u32,
            ])
            .unwrap();
        assert_eq!(batch.num_rows(), 2);
    }
}
