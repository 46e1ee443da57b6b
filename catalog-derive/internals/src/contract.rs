//! `contract_version`, `allow_breaking` and `replaces`: how a table
//! acknowledges a breaking change to its readers (`codelake diff` reads them).

use std::borrow::Cow;

use catalog_core::Contract;
use catalog_core::contract::{Allowance, TABLE_EXPECTATIONS, Target};

use crate::Errors;
use crate::ast::{FieldDef, Input};
use crate::attr;

/// The table's contract, every entry checked against its columns.
pub fn contract(
    input: &Input<'_>,
    fields: &[FieldDef],
    own_name: Option<String>,
    errors: &mut Errors,
) -> Contract {
    let mut contract = Contract::NONE;
    if let Some(version) = &input.attrs.contract_version {
        // Versions count changes; a version 0 would be below the default every table starts at.
        match u32::try_from(version.value) {
            Ok(version) if version >= 1 => contract.version = version,
            _ => errors.push(
                version.span,
                format!(
                    "`{} = {}` is out of range: versions start at 1 (the default) and go up by one with each breaking change",
                    attr::CONTRACT_VERSION,
                    version.value
                ),
            ),
        }
    }
    let columns: Vec<&str> = fields.iter().map(|field| &*field.column.name).collect();
    if let Some(allow) = &input.attrs.allow_breaking {
        let mut entries: Vec<Cow<'static, str>> = Vec::new();
        for entry in Allowance::split(&allow.value) {
            let allowance = match Allowance::parse(entry) {
                Ok(allowance) => allowance,
                Err(message) => {
                    errors.push(allow.span, format!("`{}`: {message}", attr::ALLOW_BREAKING));
                    continue;
                }
            };
            if let Some(problem) = target_problem(&allowance, &columns) {
                errors.push(allow.span, format!("`{}`: {problem}", attr::ALLOW_BREAKING));
                continue;
            }
            let text = allowance.to_string();
            // The same entry twice is a slip, like a key given twice.
            if entries.iter().any(|seen| *seen == text) {
                errors.push(
                    allow.span,
                    format!("`{}` lists `{text}` twice", attr::ALLOW_BREAKING),
                );
                continue;
            }
            entries.push(Cow::Owned(text));
        }
        if entries.is_empty() && Allowance::split(&allow.value).next().is_none() {
            errors.push(allow.span, format!("`{}` is empty: list the breaking changes it acknowledges, e.g. `{} = \"column-removed:o_comment\"`, or remove it", attr::ALLOW_BREAKING, attr::ALLOW_BREAKING));
        }
        contract.allow_breaking = Cow::Owned(entries);
    }
    if let Some(replaces) = &input.attrs.replaces {
        let text = replaces.value.trim();
        // `database.name`, as SQL and `catalog.json` name a table.
        let valid = text.split_once('.').is_some_and(|(database, name)| {
            [database, name].iter().all(|part| {
                let mut chars = part.chars();
                chars.next().is_some_and(|c| c.is_ascii_lowercase())
                    && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            })
        });
        if !valid {
            errors.push(replaces.span, format!("`{} = \"{text}\"` is not a table name: write `database.name`, e.g. `{} = \"tpch.old_orders\"`", attr::REPLACES, attr::REPLACES));
        } else if own_name.as_deref() == Some(text) {
            errors.push(
                replaces.span,
                format!(
                    "`{} = \"{text}\"` names this table itself: name the table it takes over from",
                    attr::REPLACES
                ),
            );
        } else {
            contract.replaces = Some(Cow::Owned(text.to_owned()));
        }
    }
    contract
}

/// Why an entry's target does not fit the struct, if it does not.
fn target_problem(allowance: &Allowance, columns: &[&str]) -> Option<String> {
    let target = allowance.target.as_deref()?;
    let kind = allowance.kind;
    let is_column = columns.contains(&target);
    let listed = || columns.join(", ");
    match kind.allowable()? {
        Target::Nothing => None,
        Target::Column if !is_column => Some(format!(
            "`{allowance}`: `{target}` is not a column of this table; its columns are {}",
            listed()
        )),
        // A removed column is no longer a field; naming one that is would acknowledge nothing.
        Target::GoneColumn if is_column => Some(format!(
            "`{allowance}`: `{target}` is still a column; remove its field, or this entry"
        )),
        Target::Expectation if !is_column && !TABLE_EXPECTATIONS.contains(&target) => {
            Some(format!(
                "`{allowance}`: `{target}` is neither {} nor a column of this table (its columns are {})",
                TABLE_EXPECTATIONS.join(", "),
                listed()
            ))
        }
        _ => None,
    }
}
