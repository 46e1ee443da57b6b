//! One pair of catalogs per kind of change, with the classification asserted.

use std::borrow::Cow;

use super::*;
use crate::lineage::{ColumnLineage, ViewLineage};
use crate::{ColumnSpec, ColumnType, Contract, Expectations, Interval, SourceOption, ViewSpec};

fn column(name: &str, ty: ColumnType, nullable: bool) -> ColumnSpec {
    ColumnSpec {
        name: Cow::Owned(name.into()),
        ty,
        nullable,
        doc: "A column.".into(),
        unique: false,
        min: None,
        max: None,
    }
}

/// `shop.orders`, read from CSV, with an id, an amount and a note.
fn orders() -> TableSpec {
    TableSpec {
        database: "shop".into(),
        name: "orders".into(),
        doc: "Orders.".into(),
        rust_type: "tables::shop::Orders".into(),
        source: "csv".into(),
        options: Cow::Owned(vec![SourceOption {
            key: "location".into(),
            value: "shop/orders.csv".into(),
        }]),
        owner: Some("sales@shop.example".into()),
        expectations: Expectations {
            min_rows: Some(1),
            freshness: Some(Interval::parse("24h").unwrap()),
            ..Expectations::default()
        },
        columns: Cow::Owned(vec![
            column("id", ColumnType::Int32, false),
            column("amount", ColumnType::Float64, false),
            column("note", ColumnType::Utf8, true),
        ]),
        view: None,
        accelerate: None,
        refresh: None,
        contract: Contract::NONE,
    }
}

/// `shop.totals`, a view over `shop.orders`.
fn totals() -> TableSpec {
    TableSpec {
        name: "totals".into(),
        source: crate::VIEW_SOURCE.into(),
        options: Cow::Owned(Vec::new()),
        rust_type: "tables::shop::Totals".into(),
        columns: Cow::Owned(vec![column("total", ColumnType::Float64, true)]),
        view: Some(ViewSpec {
            sql: "SELECT sum(amount) AS total FROM shop.orders".into(),
            file: "tables/src/shop.rs".into(),
            materialize: None,
        }),
        ..orders()
    }
}

fn catalog(tables: Vec<TableSpec>) -> Manifest {
    let mut manifest = Manifest::new(tables, "test");
    if manifest.tables.iter().any(|table| table.name == "totals") {
        manifest.lineage = vec![ViewLineage {
            view: "shop.totals".into(),
            reads: vec!["shop.orders".into()],
            columns: vec![ColumnLineage {
                column: "total".into(),
                from: vec!["shop.orders.amount".into()],
            }],
        }];
    }
    manifest
}

/// The diff from `orders()` to `orders()` changed by `edit`.
fn diff_orders(edit: impl FnOnce(&mut TableSpec)) -> Diff {
    let mut after = orders();
    edit(&mut after);
    Diff::between(&catalog(vec![orders()]), &catalog(vec![after]))
}

/// The one change of `diff`, checked to be of `kind`, `target` and `impact`.
#[track_caller]
fn only(diff: &Diff, kind: ChangeKind, target: Option<&str>, impact: Impact) -> Change {
    assert_eq!(diff.changes.len(), 1, "{:#?}", diff.changes);
    let change = diff.changes[0].clone();
    assert_eq!(
        (change.kind, change.target.as_deref(), change.impact),
        (kind, target, impact),
        "{change:#?}"
    );
    change
}

fn set_column(table: &mut TableSpec, name: &str, edit: impl FnOnce(&mut ColumnSpec)) {
    edit(
        table
            .columns
            .to_mut()
            .iter_mut()
            .find(|column| column.name == name)
            .unwrap(),
    );
}

#[test]
fn a_removed_column_is_breaking_and_says_how_to_acknowledge_it() {
    let diff = diff_orders(|table| table.columns.to_mut().retain(|c| c.name != "note"));
    let change = only(
        &diff,
        ChangeKind::ColumnRemoved,
        Some("note"),
        Impact::Breaking,
    );
    assert_eq!(change.before.as_deref(), Some("Utf8, nullable"));
    assert!(change.is_unacknowledged());
    let hint = change.hint.unwrap();
    assert!(
        hint.contains("raise `contract_version` on `tables::shop::Orders` (now 1)")
            && hint.contains("allow_breaking = \"column-removed:note\""),
        "{hint}"
    );
}

#[test]
fn a_widened_column_is_compatible_and_a_narrowed_one_breaking() {
    let widened = diff_orders(|table| {
        set_column(table, "id", |id| id.ty = ColumnType::Int64);
    });
    let change = only(
        &widened,
        ChangeKind::ColumnRetyped,
        Some("id"),
        Impact::Compatible,
    );
    assert_eq!(change.summary, "column `id` widened");
    assert_eq!(
        (change.before.as_deref(), change.after.as_deref()),
        (Some("Int32"), Some("Int64"))
    );
    let narrowed = diff_orders(|table| {
        set_column(table, "amount", |amount| amount.ty = ColumnType::Float32);
    });
    let change = only(
        &narrowed,
        ChangeKind::ColumnRetyped,
        Some("amount"),
        Impact::Breaking,
    );
    assert_eq!(change.summary, "column `amount` narrowed");
}

#[test]
fn a_column_that_may_now_be_null_is_breaking_and_the_reverse_compatible() {
    let nullable = diff_orders(|table| set_column(table, "id", |id| id.nullable = true));
    only(
        &nullable,
        ChangeKind::ColumnNullable,
        Some("id"),
        Impact::Breaking,
    );
    let required = diff_orders(|table| set_column(table, "note", |note| note.nullable = false));
    only(
        &required,
        ChangeKind::ColumnRequired,
        Some("note"),
        Impact::Compatible,
    );
}

#[test]
fn a_moved_location_and_another_source_kind_are_breaking() {
    let moved = diff_orders(|table| {
        table.options.to_mut()[0].value = "archive/orders.csv".into();
    });
    let change = only(&moved, ChangeKind::LocationMoved, None, Impact::Breaking);
    assert_eq!(
        (change.before.as_deref(), change.after.as_deref()),
        (Some("shop/orders.csv"), Some("archive/orders.csv"))
    );
    let reformatted = diff_orders(|table| {
        table.source = "jsonl".into();
        table.options.to_mut()[0].value = "shop/orders.jsonl".into();
    });
    let kinds: Vec<ChangeKind> = reformatted.changes.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [ChangeKind::SourceChanged, ChangeKind::LocationMoved],
        "{reformatted:#?}"
    );
    // Another option than the location leaves readers alone.
    let delimited = diff_orders(|table| {
        table.options.to_mut().push(SourceOption {
            key: "delimiter".into(),
            value: "|".into(),
        });
    });
    only(
        &delimited,
        ChangeKind::OptionChanged,
        Some("delimiter"),
        Impact::Compatible,
    );
}

#[test]
fn a_renamed_table_is_a_removal_and_an_addition_with_a_hint_and_replaces_acknowledges_it() {
    let renamed = || {
        let mut sales = orders();
        sales.name = "sales".into();
        sales
    };
    let diff = Diff::between(&catalog(vec![orders()]), &catalog(vec![renamed()]));
    assert_eq!(diff.changes.len(), 2, "{diff:#?}");
    let (removed, added) = (&diff.changes[0], &diff.changes[1]);
    assert_eq!(
        (removed.kind, removed.impact, removed.table.as_str()),
        (ChangeKind::TableRemoved, Impact::Breaking, "shop.orders")
    );
    assert_eq!(
        (added.kind, added.impact, added.table.as_str()),
        (ChangeKind::TableAdded, Impact::Compatible, "shop.sales")
    );
    let hint = removed.hint.as_deref().unwrap();
    assert!(
        hint.contains("if it is shop.orders renamed")
            && hint.contains("replaces = \"shop.orders\""),
        "{hint}"
    );
    assert_eq!(
        added.hint.as_deref(),
        Some("looks like shop.orders renamed")
    );
    assert!(removed.is_unacknowledged());

    let mut successor = renamed();
    successor.contract.replaces = Some("shop.orders".into());
    let diff = Diff::between(&catalog(vec![orders()]), &catalog(vec![successor]));
    assert_eq!(
        diff.changes[0].acknowledged_by.as_deref(),
        Some("replaces = \"shop.orders\" on shop.sales")
    );
    assert_eq!(diff.unacknowledged().count(), 0);
}

#[test]
fn a_change_to_a_table_a_view_reads_names_the_view() {
    let mut after = orders();
    after.columns.to_mut().retain(|c| c.name != "note");
    let diff = Diff::between(
        &catalog(vec![orders(), totals()]),
        &catalog(vec![after, totals()]),
    );
    let change = only(
        &diff,
        ChangeKind::ColumnRemoved,
        Some("note"),
        Impact::Breaking,
    );
    assert_eq!(change.downstream, ["shop.totals"]);
    // `note` feeds no column of the view; `amount` feeds `total`.
    assert!(change.downstream_columns.is_empty());
    let mut after = orders();
    set_column(&mut after, "amount", |amount| amount.nullable = true);
    let diff = Diff::between(
        &catalog(vec![orders(), totals()]),
        &catalog(vec![after, totals()]),
    );
    assert_eq!(diff.changes[0].downstream_columns, ["shop.totals.total"]);
}

#[test]
fn loosened_expectations_are_breaking_and_tightened_ones_compatible() {
    let staler = diff_orders(|table| {
        table.expectations.freshness = Some(Interval::parse("48h").unwrap());
    });
    let change = only(
        &staler,
        ChangeKind::ExpectationLoosened,
        Some("freshness"),
        Impact::Breaking,
    );
    assert_eq!(
        (change.before.as_deref(), change.after.as_deref()),
        (Some("24h"), Some("48h"))
    );
    let no_minimum = diff_orders(|table| table.expectations.min_rows = None);
    only(
        &no_minimum,
        ChangeKind::ExpectationLoosened,
        Some("min_rows"),
        Impact::Breaking,
    );
    let capped = diff_orders(|table| table.expectations.max_rows = Some(10));
    only(
        &capped,
        ChangeKind::ExpectationTightened,
        Some("max_rows"),
        Impact::Compatible,
    );
    let mut unique = orders();
    set_column(&mut unique, "id", |id| id.unique = true);
    let dropped = Diff::between(&catalog(vec![unique]), &catalog(vec![orders()]));
    only(
        &dropped,
        ChangeKind::ExpectationLoosened,
        Some("id"),
        Impact::Breaking,
    );
}

#[test]
fn a_raised_version_or_a_matching_allowance_acknowledges_and_a_stale_one_is_noted() {
    let remove_note = |table: &mut TableSpec| table.columns.to_mut().retain(|c| c.name != "note");
    let raised = diff_orders(|table| {
        remove_note(table);
        table.contract.version = 2;
    });
    let removal = raised
        .changes
        .iter()
        .find(|c| c.kind == ChangeKind::ColumnRemoved)
        .unwrap();
    assert_eq!(
        removal.acknowledged_by.as_deref(),
        Some("version raised from 1 to 2")
    );
    assert_eq!(raised.unacknowledged().count(), 0, "{raised:#?}");

    let allowed = diff_orders(|table| {
        remove_note(table);
        table.contract.allow_breaking = Cow::Owned(vec!["column-removed:note".into()]);
    });
    let change = only(
        &allowed,
        ChangeKind::ColumnRemoved,
        Some("note"),
        Impact::Breaking,
    );
    assert_eq!(
        change.acknowledged_by.as_deref(),
        Some("allow_breaking = \"column-removed:note\"")
    );
    assert!(allowed.notes.is_empty(), "{:?}", allowed.notes);

    // An allowance for another change acknowledges nothing, and is noted.
    let wrong = diff_orders(|table| {
        remove_note(table);
        table.contract.allow_breaking = Cow::Owned(vec!["column-removed:amount".into()]);
    });
    assert_eq!(wrong.unacknowledged().count(), 1);
    assert!(
        wrong.notes[0].contains(
            "`allow_breaking = \"column-removed:amount\"` on shop.orders acknowledges no change"
        ),
        "{:?}",
        wrong.notes
    );

    let lowered = Diff::between(
        &catalog(vec![TableSpec {
            contract: Contract {
                version: 3,
                ..Contract::NONE
            },
            ..orders()
        }]),
        &catalog(vec![orders()]),
    );
    let change = only(&lowered, ChangeKind::VersionLowered, None, Impact::Breaking);
    assert!(change.is_unacknowledged());
}

#[test]
fn the_command_line_acknowledges_a_retired_table_and_refuses_an_entry_matching_nothing() {
    let mut diff = Diff::between(&catalog(vec![orders(), totals()]), &catalog(vec![totals()]));
    assert_eq!(diff.unacknowledged().count(), 1);
    let error = diff
        .allow(&["table-removed:shop.order".into()])
        .unwrap_err();
    assert!(error.contains("table-removed:shop.orders"), "{error}");
    diff.allow(&["table-removed:shop.orders".into()]).unwrap();
    assert_eq!(diff.unacknowledged().count(), 0);
    assert!(diff.allow(&["nonsense".into()]).is_err());
}

#[test]
fn the_report_puts_breaking_changes_first_in_every_format() {
    let diff = diff_orders(|table| {
        table.doc = "All orders.".into();
        table.columns.to_mut().retain(|c| c.name != "note");
    });
    let labels = Labels {
        base: "main".into(),
        head: "the working tree".into(),
    };
    let report = Report::new(&diff, &labels);
    assert_eq!(
        report.headline(),
        "1 breaking (1 not acknowledged), 1 compatible"
    );
    let text = report.text();
    let breaking = text.find("BREAKING    shop.orders: column `note` removed");
    let compatible = text.find("compatible  shop.orders: doc comment changed");
    assert!(breaking.unwrap() < compatible.unwrap(), "{text}");
    let markdown = report.markdown();
    let rows: Vec<&str> = markdown.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(rows.len(), 3, "{markdown}");
    assert!(rows[1].starts_with("| **breaking** | `shop.orders` | column `note` removed"));
    let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
    assert_eq!(json["summary"]["unacknowledged"], 1);
    assert_eq!(json["changes"][0]["kind"], "column-removed");
    assert_eq!(json["changes"][1]["impact"], "compatible");
}

#[test]
fn an_allowance_left_from_an_earlier_change_acknowledges_no_later_one() {
    let mut allowing = orders();
    allowing.contract.allow_breaking = Cow::Owned(vec!["location-moved".into()]);
    let mut moved = allowing.clone();
    moved.options.to_mut()[0].value = "archive/orders.csv".into();
    let diff = Diff::between(&catalog(vec![allowing]), &catalog(vec![moved]));
    let change = only(&diff, ChangeKind::LocationMoved, None, Impact::Breaking);
    assert!(change.is_unacknowledged(), "{change:#?}");
    assert!(
        diff.notes[0].contains("was declared before this change and acknowledges nothing in it"),
        "{:?}",
        diff.notes
    );
}

#[test]
fn a_first_materialized_copy_is_compatible_and_another_function_moves_the_data() {
    let mut materialized = totals();
    materialized.view.as_mut().unwrap().materialize = Some("s3://lake/totals.parquet".into());
    let added = Diff::between(
        &catalog(vec![orders(), totals()]),
        &catalog(vec![orders(), materialized.clone()]),
    );
    only(
        &added,
        ChangeKind::AccelerationChanged,
        None,
        Impact::Compatible,
    );
    let dropped = Diff::between(
        &catalog(vec![orders(), materialized]),
        &catalog(vec![orders(), totals()]),
    );
    only(&dropped, ChangeKind::LocationMoved, None, Impact::Breaking);

    let function = |name: &str| TableSpec {
        source: "function".into(),
        options: Cow::Owned(vec![SourceOption {
            key: "function".into(),
            value: name.to_owned().into(),
        }]),
        ..orders()
    };
    let other = Diff::between(
        &catalog(vec![function("price_tiers")]),
        &catalog(vec![function("other_tiers")]),
    );
    let change = only(&other, ChangeKind::LocationMoved, None, Impact::Breaking);
    assert_eq!(change.after.as_deref(), Some("other_tiers"));
}
