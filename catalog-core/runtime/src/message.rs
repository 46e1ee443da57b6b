//! Errors in a user's words, the same in every front end: the CLI, `verify`,
//! and the servers to come.

use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;

/// A DataFusion error as a user reads it: a syntax error once, in words (not
/// as `ParserError("…")` and again as its source); a plugin's error without
/// the `FFI error:` of the boundary it crossed, its context and cause on one
/// line; no prefix said twice.
pub fn user_message(error: &DataFusionError) -> String {
    let text = match error {
        DataFusionError::SQL(parser, _) => match &**parser {
            ParserError::ParserError(text) | ParserError::TokenizerError(text) => {
                format!("SQL syntax error: {text}")
            }
            other => format!("SQL syntax error: {other}"),
        },
        DataFusionError::Ffi(text) => text.clone(),
        DataFusionError::Shared(inner) => return user_message(inner),
        other => other.to_string(),
    };
    let mut text = text.replace("\ncaused by\n", ": ");
    for doubled in ["Parquet error: ", "Arrow error: ", "Execution error: "] {
        let twice = format!("{doubled}{doubled}");
        while text.contains(&twice) {
            text = text.replace(&twice, doubled);
        }
    }
    // A plugin's context already names the table; the kind of error it wrapped adds nothing.
    let text = text.replace("): Execution error: ", "): ");
    // A plugin's panic, fenced by the SDK, names its table itself.
    match text.strip_prefix("External error: table `") {
        Some(rest) => format!("table `{rest}"),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plugins_error_reads_as_one_line_without_the_boundary() {
        let error = DataFusionError::Ffi(
            "table `t.x` (plugin `csv`, `x.csv`)\ncaused by\nExecution error: line 3 is bad".into(),
        );
        assert_eq!(
            user_message(&error),
            "table `t.x` (plugin `csv`, `x.csv`): line 3 is bad"
        );
        let panic = DataFusionError::External(
            "table `t.x`: plugin `faulty` panicked while reading: boom".into(),
        );
        assert_eq!(
            user_message(&panic),
            "table `t.x`: plugin `faulty` panicked while reading: boom"
        );
    }
}
