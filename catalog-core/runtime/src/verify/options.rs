//! How to verify.

use std::time::Duration;

/// How to verify.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Warnings (an undeclared extra column, no owner, ...) fail the table too.
    pub strict: bool,
    /// Rows read for the sample checks (`non_null`, `unique`, `range`) and, for
    /// CSV and JSON sources, for the schema.
    pub sample_rows: u64,
    /// Tables verified at once.
    pub concurrency: usize,
    /// How long one table's source read or one query may take.
    pub timeout: Duration,
    /// The copies of accelerated tables, loaded before verifying
    /// (`verify --accelerated`): each gets an `accelerated` check, and its
    /// freshness counts the copy's age. Empty: tables are read from their sources.
    pub copies: Vec<crate::CopyStatus>,
    /// The `codelake serve` whose copies `copies` are (`verify --serve URL`);
    /// `None`: they were loaded by this process.
    pub copies_from: Option<String>,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            strict: false,
            sample_rows: 10_000,
            concurrency: 8,
            timeout: Duration::from_secs(30),
            copies: Vec::new(),
            copies_from: None,
        }
    }
}
