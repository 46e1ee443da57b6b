//! One table before and after: the changes, each classified.

use std::collections::BTreeMap;

use super::{Change, Impact, widens};
use crate::contract::ChangeKind;
use crate::{ColumnSpec, Interval, TableSpec};

/// A change with no downstream or acknowledgement yet.
fn change(
    table: &TableSpec,
    kind: ChangeKind,
    target: Option<&str>,
    impact: Impact,
    summary: String,
) -> Change {
    Change {
        table: table.qualified_name(),
        kind,
        target: target.map(str::to_owned),
        impact,
        summary,
        before: None,
        after: None,
        downstream: Vec::new(),
        downstream_columns: Vec::new(),
        acknowledged_by: None,
        hint: None,
    }
}

fn with(mut change: Change, before: Option<String>, after: Option<String>) -> Change {
    change.before = before;
    change.after = after;
    change
}

fn what(table: &TableSpec) -> &'static str {
    if table.is_view() { "view" } else { "table" }
}

/// A table of `base` that `head` lacks.
pub fn removed(table: &TableSpec) -> Change {
    let mut removed = change(
        table,
        ChangeKind::TableRemoved,
        None,
        Impact::Breaking,
        format!("{} removed", what(table)),
    );
    removed.before = Some(table.source.to_string());
    removed.hint = Some(format!(
        "its readers break; if another table takes over its data, declare `replaces = \"{}\"` on it; if it is retired, acknowledge it with `--allow table-removed:{}`",
        table.qualified_name(),
        table.qualified_name()
    ));
    removed
}

/// A table of `head` that `base` lacks.
pub fn added(table: &TableSpec) -> Change {
    let mut added = change(
        table,
        ChangeKind::TableAdded,
        None,
        Impact::Compatible,
        format!("{} added", what(table)),
    );
    added.after = Some(table.source.to_string());
    added
}

/// Every change from `old` to `new`, the same table in both catalogs.
pub fn table(old: &TableSpec, new: &TableSpec, out: &mut Vec<Change>) {
    columns(old, new, out);
    source(old, new, out);
    expectations(old, new, out);
    let text = |value: Option<&str>| value.unwrap_or("none").to_owned();
    if old.owner != new.owner {
        out.push(with(
            change(
                new,
                ChangeKind::OwnerChanged,
                None,
                Impact::Compatible,
                "owner changed".into(),
            ),
            Some(text(old.owner.as_deref())),
            Some(text(new.owner.as_deref())),
        ));
    }
    if old.doc != new.doc {
        out.push(change(
            new,
            ChangeKind::DocChanged,
            None,
            Impact::Compatible,
            "doc comment changed".into(),
        ));
    }
    let sql = |table: &TableSpec| table.view.as_ref().map(|view| view.sql.trim().to_owned());
    if old.is_view() && new.is_view() && sql(old) != sql(new) {
        out.push(change(
            new,
            ChangeKind::ViewChanged,
            None,
            Impact::Compatible,
            "SQL changed".into(),
        ));
    }
    if (old.accelerate, &old.refresh) != (new.accelerate, &new.refresh) {
        let acceleration = |table: &TableSpec| {
            table
                .acceleration()
                .unwrap_or_else(|| match &table.refresh {
                    Some(refresh) => format!("none, refreshed every {}", refresh.text),
                    None => "none".into(),
                })
        };
        out.push(with(
            change(
                new,
                ChangeKind::AccelerationChanged,
                None,
                Impact::Compatible,
                "acceleration changed".into(),
            ),
            Some(acceleration(old)),
            Some(acceleration(new)),
        ));
    }
    let (from, to) = (old.contract.version, new.contract.version);
    if from != to {
        let (kind, impact, verb) = if to > from {
            (ChangeKind::VersionRaised, Impact::Compatible, "raised")
        } else {
            (ChangeKind::VersionLowered, Impact::Breaking, "lowered")
        };
        let mut version = with(
            change(new, kind, None, impact, format!("contract version {verb}")),
            Some(from.to_string()),
            Some(to.to_string()),
        );
        if to < from {
            version.hint = Some(format!(
                "a contract version only goes up: set `contract_version = {}` or higher",
                from + 1
            ));
        }
        out.push(version);
    }
}

fn columns(old: &TableSpec, new: &TableSpec, out: &mut Vec<Change>) {
    let describe = |column: &ColumnSpec| {
        format!(
            "{}{}",
            column.ty,
            if column.nullable { ", nullable" } else { "" }
        )
    };
    for before in old.columns.iter() {
        let name = &*before.name;
        let Some(after) = new.column(name) else {
            out.push(with(
                change(
                    new,
                    ChangeKind::ColumnRemoved,
                    Some(name),
                    Impact::Breaking,
                    format!("column `{name}` removed"),
                ),
                Some(describe(before)),
                None,
            ));
            continue;
        };
        if before.ty != after.ty {
            let (impact, verb) = if widens(before.ty, after.ty) {
                (Impact::Compatible, "widened")
            } else {
                (Impact::Breaking, "narrowed")
            };
            out.push(with(
                change(
                    new,
                    ChangeKind::ColumnRetyped,
                    Some(name),
                    impact,
                    format!("column `{name}` {verb}"),
                ),
                Some(before.ty.to_string()),
                Some(after.ty.to_string()),
            ));
        }
        if before.nullable != after.nullable {
            let (kind, impact, summary) = if after.nullable {
                (
                    ChangeKind::ColumnNullable,
                    Impact::Breaking,
                    format!("column `{name}` may now be null"),
                )
            } else {
                (
                    ChangeKind::ColumnRequired,
                    Impact::Compatible,
                    format!("column `{name}` is now never null"),
                )
            };
            let null = |nullable: bool| if nullable { "nullable" } else { "not null" };
            out.push(with(
                change(new, kind, Some(name), impact, summary),
                Some(null(before.nullable).into()),
                Some(null(after.nullable).into()),
            ));
        }
        column_checks(new, before, after, out);
        if before.doc != after.doc {
            out.push(change(
                new,
                ChangeKind::ColumnDocChanged,
                Some(name),
                Impact::Compatible,
                format!("doc comment of column `{name}` changed"),
            ));
        }
    }
    for after in new.columns.iter() {
        if old.column(&after.name).is_none() {
            out.push(with(
                change(
                    new,
                    ChangeKind::ColumnAdded,
                    Some(&after.name),
                    Impact::Compatible,
                    format!("column `{}` added", after.name),
                ),
                None,
                Some(describe(after)),
            ));
        }
    }
    // A column removed and one added with the same type: maybe a rename, which breaks readers all the same.
    let removed: Vec<&ColumnSpec> = old
        .columns
        .iter()
        .filter(|column| new.column(&column.name).is_none())
        .collect();
    let added: Vec<&ColumnSpec> = new
        .columns
        .iter()
        .filter(|column| old.column(&column.name).is_none())
        .collect();
    for gone in &removed {
        let twins: Vec<&&ColumnSpec> = added.iter().filter(|new| new.ty == gone.ty).collect();
        if let [twin] = twins.as_slice()
            && let Some(change) = out.iter_mut().rev().find(|change| {
                change.kind == ChangeKind::ColumnRemoved
                    && change.target.as_deref() == Some(&*gone.name)
            })
        {
            change.hint = Some(format!(
                "`{}` was added with the same type: if it is `{}` renamed, readers of `{}` still break; keep `{}` as well until they move",
                twin.name, gone.name, gone.name, gone.name
            ));
        }
    }
}

/// `unique`, `min` and `max` of one column.
fn column_checks(
    table: &TableSpec,
    before: &ColumnSpec,
    after: &ColumnSpec,
    out: &mut Vec<Change>,
) {
    let name = &*before.name;
    if before.unique == after.unique && before.min == after.min && before.max == after.max {
        return;
    }
    // Looser: a promise dropped, or a bound that admits more values.
    let looser = (before.unique && !after.unique)
        || bound_looser(before.min, after.min, |old, new| new < old)
        || bound_looser(before.max, after.max, |old, new| new > old);
    let checks = |column: &ColumnSpec| {
        let checks = column.checks();
        if checks.is_empty() {
            "none".to_owned()
        } else {
            checks.join(", ")
        }
    };
    let (kind, impact, verb) = expectation_change(looser);
    out.push(with(
        change(
            table,
            kind,
            Some(name),
            impact,
            format!("checks on column `{name}` {verb}"),
        ),
        Some(checks(before)),
        Some(checks(after)),
    ));
}

/// An expectation changed: loosened (a promise dropped or weakened) is
/// breaking, anything else compatible.
fn expectation_change(looser: bool) -> (ChangeKind, Impact, &'static str) {
    if looser {
        (
            ChangeKind::ExpectationLoosened,
            Impact::Breaking,
            "loosened",
        )
    } else {
        (
            ChangeKind::ExpectationTightened,
            Impact::Compatible,
            "tightened",
        )
    }
}

/// Whether a bound went from `old` to `new` in the looser direction: dropped,
/// or moved as `looser` says.
fn bound_looser<T: Copy>(old: Option<T>, new: Option<T>, looser: impl Fn(T, T) -> bool) -> bool {
    match (old, new) {
        (Some(_), None) => true,
        (Some(old), Some(new)) => looser(old, new),
        (None, _) => false,
    }
}

/// The source options that say where a table's rows come from.
const LOCATED: &[&str] = &["location", "url", "function"];

/// Where a table's rows come from: its `location` (or `url`), the function
/// of a `function` table, or a view's `materialize`.
fn location(table: &TableSpec) -> Option<String> {
    if let Some(view) = &table.view {
        return view.materialize.as_deref().map(str::to_owned);
    }
    match table.source_options() {
        Ok(options) => Some(options.target().to_owned()).filter(|target| !target.is_empty()),
        Err(_) => LOCATED
            .iter()
            .find_map(|key| table.option(key))
            .map(str::to_owned),
    }
}

fn source(old: &TableSpec, new: &TableSpec, out: &mut Vec<Change>) {
    if old.source != new.source {
        out.push(with(
            change(
                new,
                ChangeKind::SourceChanged,
                None,
                Impact::Breaking,
                "source kind changed".into(),
            ),
            Some(old.source.to_string()),
            Some(new.source.to_string()),
        ));
    }
    let (from, to) = (location(old), location(new));
    if let (None, Some(to)) = (&from, &to)
        && new.is_view()
    {
        // A view's first written copy: nobody can have read a file that did not exist.
        out.push(with(
            change(
                new,
                ChangeKind::AccelerationChanged,
                None,
                Impact::Compatible,
                "materialized copy added".into(),
            ),
            Some("none".into()),
            Some(to.clone()),
        ));
    } else if from != to {
        out.push(with(
            change(
                new,
                ChangeKind::LocationMoved,
                None,
                Impact::Breaking,
                "data moved to another location".into(),
            ),
            Some(from.unwrap_or_else(|| "none".into())),
            Some(to.unwrap_or_else(|| "none".into())),
        ));
    }
    // Where the rows come from is compared above, whatever its key.
    let located = |key: &str| LOCATED.contains(&key);
    let options = |table: &TableSpec| -> BTreeMap<String, String> {
        table
            .options
            .iter()
            .filter(|option| !located(&option.key))
            .map(|option| (option.key.to_string(), option.value.to_string()))
            .collect()
    };
    let (before, after) = (options(old), options(new));
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for key in keys {
        let (from, to) = (before.get(key), after.get(key));
        if from != to {
            out.push(with(
                change(
                    new,
                    ChangeKind::OptionChanged,
                    Some(key),
                    Impact::Compatible,
                    format!("source option `{key}` changed"),
                ),
                from.cloned(),
                to.cloned(),
            ));
        }
    }
}

fn expectations(old: &TableSpec, new: &TableSpec, out: &mut Vec<Change>) {
    let (before, after) = (&old.expectations, &new.expectations);
    let interval = |value: &Option<Interval>| value.as_ref().map(|value| value.text.to_string());
    let count = |value: Option<u64>| value.map(|value| value.to_string());
    let mut expectation = |target: &str, looser: bool, from: Option<String>, to: Option<String>| {
        let (kind, impact, verb) = expectation_change(looser);
        out.push(with(
            change(
                new,
                kind,
                Some(target),
                impact,
                format!("`{target}` {verb}"),
            ),
            Some(from.unwrap_or_else(|| "none".into())),
            Some(to.unwrap_or_else(|| "none".into())),
        ));
    };
    let seconds = |value: &Option<Interval>| value.as_ref().map(|value| value.seconds);
    if seconds(&before.freshness) != seconds(&after.freshness) {
        let looser = bound_looser(
            seconds(&before.freshness),
            seconds(&after.freshness),
            |old, new| new > old,
        );
        expectation(
            "freshness",
            looser,
            interval(&before.freshness),
            interval(&after.freshness),
        );
    }
    if before.min_rows != after.min_rows {
        let looser = bound_looser(before.min_rows, after.min_rows, |old, new| new < old);
        expectation(
            "min_rows",
            looser,
            count(before.min_rows),
            count(after.min_rows),
        );
    }
    if before.max_rows != after.max_rows {
        let looser = bound_looser(before.max_rows, after.max_rows, |old, new| new > old);
        expectation(
            "max_rows",
            looser,
            count(before.max_rows),
            count(after.max_rows),
        );
    }
    if before.freshness_column != after.freshness_column {
        // Measured on another column: no promise is dropped.
        expectation(
            "freshness_column",
            false,
            before.freshness_column.as_deref().map(str::to_owned),
            after.freshness_column.as_deref().map(str::to_owned),
        );
    }
}

/// Hints on tables removed and added together that look like one table
/// renamed (or moved to another database): the same columns, or the same location.
pub fn hint_renames(
    before: &BTreeMap<String, &TableSpec>,
    after: &BTreeMap<String, &TableSpec>,
    changes: &mut [Change],
) {
    let signature = |table: &TableSpec| -> Vec<(String, crate::ColumnType)> {
        table
            .columns
            .iter()
            .map(|column| (column.name.to_string(), column.ty))
            .collect()
    };
    let mut renames = Vec::new();
    for (old_name, old) in before.iter().filter(|(name, _)| !after.contains_key(*name)) {
        for (new_name, new) in after.iter().filter(|(name, _)| !before.contains_key(*name)) {
            let same_location = location(old).is_some() && location(old) == location(new);
            if signature(old) == signature(new) || same_location {
                renames.push((old_name.clone(), new_name.clone()));
            }
        }
    }
    for (old_name, new_name) in renames {
        for change in changes.iter_mut() {
            if change.kind == ChangeKind::TableRemoved && change.table == old_name {
                change.hint = Some(format!(
                    "{new_name} was added with the same columns or location: if it is {old_name} renamed, readers of {old_name} still break; declare `replaces = \"{old_name}\"` on {new_name} to acknowledge it"
                ));
            } else if change.kind == ChangeKind::TableAdded && change.table == new_name {
                change.hint = Some(format!("looks like {old_name} renamed"));
            }
        }
    }
}
