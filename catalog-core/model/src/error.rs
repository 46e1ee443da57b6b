//! The one error type of this crate.

/// Why a catalog operation failed. Every variant names the table and, where
/// there is one, the column or option, so the message alone says what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A record batch lacks a column the table declares.
    #[error("table `{table}`: the batch has no column `{column}` (it has: {available})")]
    MissingColumn {
        /// Qualified table name, `database.table`.
        table: String,
        /// The declared column that is absent.
        column: String,
        /// The batch's column names, comma-separated.
        available: String,
    },
    /// A record batch column has another Arrow type than the declaration.
    #[error(
        "table `{table}`, column `{column}`: expected Arrow type {expected}, found {found}; \
         change the field's Rust type or cast the column"
    )]
    ColumnType {
        /// Qualified table name.
        table: String,
        /// Column name.
        column: String,
        /// The declared Arrow type.
        expected: String,
        /// The batch's Arrow type.
        found: String,
    },
    /// A null where the declaration says the column is not nullable.
    #[error(
        "table `{table}`, column `{column}`: null at row {row}, but the field is not an \
         `Option`; declare it `Option<..>` if nulls are expected"
    )]
    UnexpectedNull {
        /// Qualified table name.
        table: String,
        /// Column name.
        column: String,
        /// Row index within the batch.
        row: usize,
    },
    /// A value that does not fit the declared type (a decimal outside its precision, say).
    #[error("table `{table}`, column `{column}`: {message}")]
    InvalidValue {
        /// Qualified table name.
        table: String,
        /// Column name.
        column: String,
        /// What is wrong with the value.
        message: String,
    },
    /// A table's source options do not parse.
    #[error("table `{table}`: {problems}")]
    Options {
        /// Qualified table name.
        table: String,
        /// Every problem, each naming the option and the values it accepts.
        problems: String,
    },
    /// `catalog.json` could not be read.
    #[error("catalog.json: {message}")]
    Manifest {
        /// What is wrong and how to fix it.
        message: String,
    },
    /// Arrow refused to build a batch.
    #[error("table `{table}`: {source}")]
    Arrow {
        /// Qualified table name.
        table: String,
        /// Arrow's own error.
        #[source]
        source: arrow_schema::ArrowError,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
