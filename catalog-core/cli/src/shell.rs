//! The interactive SQL shell: line editing, history, statements over several lines.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use crate::error::CliError;
use crate::output::{Format, millis, run_query};
use crate::session::Session;

const HELP: &str = "\
Enter SQL ending in `;` (it may span lines). Tables are `database.table`, e.g. tpch.part.
  \\d          list the tables        \\d NAME   describe a table
  \\format F   table, csv or json     \\q        quit (or Ctrl-D)
Ctrl-C drops the statement being typed.";

/// Runs the shell until `\q` or end of input.
pub async fn run(session: &Session, mut format: Format) -> Result<(), CliError> {
    let mut editor = DefaultEditor::new().map_err(CliError::failed)?;
    let history = history_file();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    eprintln!(
        "codelake {} — profile `{}`, {} tables. \\? for help, \\q to quit.",
        env!("CARGO_PKG_VERSION"),
        session.config.profile,
        tables::REGISTRY.len() - session.failures.len()
    );
    let mut statement = String::new();
    let mut failures = 0;
    loop {
        let prompt = if statement.is_empty() {
            "codelake> "
        } else {
            "     ...> "
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                statement.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(error) => return Err(CliError::failed(error)),
        };
        let trimmed = line.trim();
        if statement.is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            let (command, argument) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
            let outcome = match command {
                "\\q" => break,
                "\\?" | "\\h" => {
                    say!("{HELP}");
                    Ok(())
                }
                "\\d" if argument.trim().is_empty() => {
                    crate::describe::tables(crate::ListFormat::Table)
                }
                "\\d" => crate::describe::describe(argument.trim()),
                "\\format" => {
                    match argument.trim() {
                        "table" => format = Format::Table,
                        "csv" => format = Format::Csv,
                        "json" => format = Format::Json,
                        other => eprintln!("unknown format `{other}`: use table, csv or json"),
                    }
                    Ok(())
                }
                other => {
                    eprintln!("unknown command `{other}`; \\? lists them");
                    Ok(())
                }
            };
            if let Err(error) = outcome {
                error.report();
            }
            continue;
        }
        if matches!(trimmed, "quit" | "exit") && statement.is_empty() {
            break;
        }
        if trimmed.is_empty() && statement.is_empty() {
            continue;
        }
        statement.push_str(&line);
        statement.push('\n');
        if !trimmed.ends_with(';') {
            continue;
        }
        let sql = std::mem::take(&mut statement);
        let _ = editor.add_history_entry(sql.trim());
        // Saved at once: a shell killed mid-query keeps what was typed.
        if let Some(path) = &history {
            let _ = editor.save_history(path);
        }
        let started = Instant::now();
        match run_query(
            session,
            sql.trim().trim_end_matches(';'),
            format,
            None,
            false,
        )
        .await
        {
            Ok(()) => eprintln!("({})", millis(started.elapsed())),
            Err(error) => {
                failures += 1;
                error.report();
            }
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    // A script piped in (`codelake sql < checks.sql`) fails when a statement did.
    if failures > 0 && !std::io::stdin().is_terminal() {
        return Err(CliError::msg(
            crate::error::EXIT_FAILED,
            format!("{failures} statement(s) failed"),
        ));
    }
    Ok(())
}

/// `~/.codelake_history`, for a person at a terminal only: statements piped
/// in (`codelake sql < checks.sql`) are a script, not history, and are kept
/// nowhere.
fn history_file() -> Option<PathBuf> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".codelake_history"))
}
