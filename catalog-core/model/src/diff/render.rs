//! A diff for people (terminal text, a pull-request comment in Markdown) and
//! for tools (JSON, schema in `docs/reference/catalog-diff.schema.json`).

use std::fmt::Write as _;

use serde::Serialize;

use super::{Change, Diff, Impact};

/// What each side of a diff was read from, in words: `HEAD (3f2a91c)`,
/// `the working tree`, a file's path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Labels {
    /// The catalog before.
    pub base: String,
    /// The catalog after.
    pub head: String,
}

/// A diff with its labels, ready to print.
#[derive(Debug, Clone, Serialize)]
pub struct Report<'a> {
    /// The report's layout version; bumped when a field is removed, renamed
    /// or changes meaning.
    pub report_version: u32,
    /// The catalog before.
    pub base: &'a str,
    /// The catalog after.
    pub head: &'a str,
    /// How many changes of each kind.
    pub summary: Summary,
    /// Every change, breaking first.
    pub changes: &'a [Change],
    /// Things worth a look that are not changes.
    pub notes: &'a [String],
}

/// Counts of a diff's changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Breaking changes, acknowledged or not.
    pub breaking: usize,
    /// Breaking changes nothing acknowledges: the diff fails when this is not 0.
    pub unacknowledged: usize,
    /// Compatible changes.
    pub compatible: usize,
}

impl<'a> Report<'a> {
    /// The JSON format version [`Report::json`] writes.
    pub const VERSION: u32 = 1;

    /// `diff` between the catalogs `labels` names.
    pub fn new(diff: &'a Diff, labels: &'a Labels) -> Self {
        Self {
            report_version: Self::VERSION,
            base: &labels.base,
            head: &labels.head,
            summary: Summary {
                breaking: diff.count(Impact::Breaking),
                unacknowledged: diff.unacknowledged().count(),
                compatible: diff.count(Impact::Compatible),
            },
            changes: &diff.changes,
            notes: &diff.notes,
        }
    }

    /// The counts in words: `2 breaking (1 not acknowledged), 3 compatible`.
    pub fn headline(&self) -> String {
        let Summary {
            breaking,
            unacknowledged,
            compatible,
        } = self.summary;
        if breaking + compatible == 0 {
            return "no changes".to_owned();
        }
        let mut line = format!("{breaking} breaking");
        if unacknowledged > 0 {
            let _ = write!(line, " ({unacknowledged} not acknowledged)");
        }
        let _ = write!(line, ", {compatible} compatible");
        line
    }

    /// Pretty JSON with a trailing newline.
    pub fn json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a report serialises");
        text.push('\n');
        text
    }

    /// Text for a terminal: one block per change, breaking first.
    pub fn text(&self) -> String {
        let mut out = format!(
            "Catalog changes from {} to {}: {}\n",
            self.base,
            self.head,
            self.headline()
        );
        for change in self.changes {
            let label = match (change.impact, &change.acknowledged_by) {
                (Impact::Breaking, None) => "BREAKING",
                (Impact::Breaking, Some(_)) => "breaking",
                (Impact::Compatible, _) => "compatible",
            };
            let _ = write!(out, "\n{label:<10}  {}: {}", change.table, change.summary);
            match (&change.before, &change.after) {
                (Some(before), Some(after)) => {
                    let _ = write!(out, " ({before} → {after})");
                }
                (Some(before), None) => {
                    let _ = write!(out, " (was {before})");
                }
                (None, Some(after)) => {
                    let _ = write!(out, " ({after})");
                }
                (None, None) => {}
            }
            out.push('\n');
            let indent = " ".repeat(12);
            if !change.downstream.is_empty() && change.impact == Impact::Breaking {
                let _ = writeln!(out, "{indent}read by: {}", change.downstream.join(", "));
                if !change.downstream_columns.is_empty() {
                    let _ = writeln!(
                        out,
                        "{indent}computed from it: {}",
                        change.downstream_columns.join(", ")
                    );
                }
            }
            if let Some(by) = &change.acknowledged_by {
                let _ = writeln!(out, "{indent}acknowledged by {by}");
            }
            // An acknowledged change needs no advice on how to acknowledge it.
            if let Some(hint) = &change.hint
                && !(change.impact == Impact::Breaking && change.acknowledged_by.is_some())
            {
                let _ = writeln!(out, "{indent}hint: {hint}");
            }
        }
        for note in self.notes {
            let _ = write!(out, "\nnote: {note}\n");
        }
        out
    }

    /// Markdown for a pull-request comment: a heading with the counts, then
    /// one table row per change, breaking first.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "### Catalog changes: {}\n\nFrom {} to {}.\n",
            self.headline(),
            code(self.base),
            code(self.head)
        );
        if !self.changes.is_empty() {
            out.push_str(
                "\n| Impact | Table | Change | Before | After | Read by | Acknowledged |\n|---|---|---|---|---|---|---|\n",
            );
        }
        for change in self.changes {
            let impact = match (change.impact, &change.acknowledged_by) {
                (Impact::Breaking, None) => "**breaking**",
                (Impact::Breaking, Some(_)) => "breaking",
                (Impact::Compatible, _) => "compatible",
            };
            let acknowledged = match (change.impact, &change.acknowledged_by) {
                (Impact::Breaking, Some(by)) => code(by),
                (Impact::Breaking, None) => "**no**".to_owned(),
                (Impact::Compatible, _) => String::new(),
            };
            let mut downstream: Vec<String> =
                change.downstream.iter().map(|view| code(view)).collect();
            if !change.downstream_columns.is_empty() {
                let columns: Vec<String> = change
                    .downstream_columns
                    .iter()
                    .map(|column| code(column))
                    .collect();
                downstream.push(format!("computed from it: {}", columns.join(", ")));
            }
            let _ = writeln!(
                out,
                "| {impact} | {} | {} | {} | {} | {} | {acknowledged} |",
                code(&change.table),
                cell(&change.summary),
                change.before.as_deref().map(code).unwrap_or_default(),
                change.after.as_deref().map(code).unwrap_or_default(),
                downstream.join(", "),
            );
        }
        let hints: Vec<&Change> = self
            .changes
            .iter()
            .filter(|change| change.is_unacknowledged() && change.hint.is_some())
            .collect();
        if !hints.is_empty() {
            out.push_str("\nTo acknowledge a breaking change:\n\n");
            for change in hints {
                let _ = writeln!(
                    out,
                    "- {} {}: {}",
                    code(&change.table),
                    cell(&change.summary),
                    cell(change.hint.as_deref().unwrap_or_default())
                );
            }
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in self.notes {
                let _ = writeln!(out, "- Note: {}", cell(note));
            }
        }
        out
    }
}

/// Text as a Markdown table cell: pipes escaped, one line.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Text as inline code in a cell; a value that holds a backtick is left plain.
fn code(text: &str) -> String {
    if text.contains('`') {
        cell(text)
    } else {
        format!("`{}`", cell(text))
    }
}
