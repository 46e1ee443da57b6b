//! A table's contract with its readers, and how a breaking change to it is
//! acknowledged in code.
//!
//! `codelake diff` compares two catalogs and classifies each change for the
//! readers of the data ([`crate::diff`]). A breaking change passes review only
//! when the table that makes it says so, in the same change:
//! - `contract_version = N` raised: every breaking change to the table is acknowledged;
//! - `allow_breaking = "column-removed:o_comment, location-moved"`: each
//!   listed change is;
//! - `replaces = "database.old_name"`: the removal of that table is (a rename).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Str;

/// The version and acknowledgements a table declares (`contract_version`,
/// `allow_breaking`, `replaces` in `#[table(..)]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// The version of the table's contract; 1 when not declared. Raising it
    /// acknowledges every breaking change to the table in the same change.
    #[serde(default = "first_version", skip_serializing_if = "is_first_version")]
    pub version: u32,
    /// Breaking changes acknowledged one by one, each as
    /// [`Allowance`] writes it (`column-removed:o_comment`).
    #[serde(default, skip_serializing_if = "<[Str]>::is_empty")]
    pub allow_breaking: Cow<'static, [Str]>,
    /// The table this one takes over from, `database.name`: its removal is a
    /// rename, acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<Str>,
}

fn first_version() -> u32 {
    1
}

fn is_first_version(version: &u32) -> bool {
    *version == 1
}

impl Contract {
    /// Version 1, nothing acknowledged: what a table that declares none has.
    pub const NONE: Contract = Contract {
        version: 1,
        allow_breaking: Cow::Borrowed(&[]),
        replaces: None,
    };

    /// Whether nothing is declared (`catalog.json` then leaves it out).
    pub fn is_none(&self) -> bool {
        *self == Self::NONE
    }

    /// The contract in words, as `describe`, the reference pages and the
    /// catalog site show it: `version 2; acknowledges location-moved;
    /// replaces tpch.old_orders`.
    ///
    /// ```
    /// assert_eq!(catalog_core::Contract::NONE.summary(), "version 1");
    /// ```
    pub fn summary(&self) -> String {
        let mut text = format!("version {}", self.version);
        if !self.allow_breaking.is_empty() {
            text.push_str("; acknowledges ");
            text.push_str(&self.allow_breaking.join(", "));
        }
        if let Some(replaced) = &self.replaces {
            text.push_str("; replaces ");
            text.push_str(replaced);
        }
        text
    }

    /// The `allow_breaking` entries, parsed. The derive has checked them, so
    /// one that does not parse (a hand-edited `catalog.json`) is skipped.
    pub fn allowances(&self) -> impl Iterator<Item = Allowance> + '_ {
        self.allow_breaking
            .iter()
            .filter_map(|entry| Allowance::parse(entry).ok())
    }
}

impl Default for Contract {
    fn default() -> Self {
        Self::NONE
    }
}

/// What a change does to a table, as `codelake diff` names it, in its JSON
/// and in `allow_breaking` entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// A table or view removed (or renamed, or moved to another database).
    TableRemoved,
    /// A column removed (or renamed).
    ColumnRemoved,
    /// A column's type changed: breaking when narrowed, compatible when widened.
    ColumnRetyped,
    /// A column that was never null may now be null.
    ColumnNullable,
    /// The table is now read by another source kind.
    SourceChanged,
    /// The table's data moved: another `location` (or `url`), or a view's
    /// `materialize` location.
    LocationMoved,
    /// An expectation promises less: a longer freshness, fewer rows, a
    /// dropped `unique`, a wider range.
    ExpectationLoosened,
    /// The contract version went down.
    VersionLowered,
    /// A table or view added.
    TableAdded,
    /// A column added.
    ColumnAdded,
    /// A column that could be null is now never null.
    ColumnRequired,
    /// An expectation promises more, or is measured another way.
    ExpectationTightened,
    /// Another source option (a delimiter, a timeout, ...).
    OptionChanged,
    /// A view's SQL changed (its declared columns are compared on their own).
    ViewChanged,
    /// `accelerate` or `refresh` changed.
    AccelerationChanged,
    /// The owner changed.
    OwnerChanged,
    /// The table's doc comment changed.
    DocChanged,
    /// A column's doc comment changed.
    ColumnDocChanged,
    /// The contract version went up.
    VersionRaised,
}

impl ChangeKind {
    /// Every kind, breaking kinds first.
    pub const ALL: &[ChangeKind] = &[
        Self::TableRemoved,
        Self::ColumnRemoved,
        Self::ColumnRetyped,
        Self::ColumnNullable,
        Self::SourceChanged,
        Self::LocationMoved,
        Self::ExpectationLoosened,
        Self::VersionLowered,
        Self::TableAdded,
        Self::ColumnAdded,
        Self::ColumnRequired,
        Self::ExpectationTightened,
        Self::OptionChanged,
        Self::ViewChanged,
        Self::AccelerationChanged,
        Self::OwnerChanged,
        Self::DocChanged,
        Self::ColumnDocChanged,
        Self::VersionRaised,
    ];

    /// The kinds an `allow_breaking` entry may name, and what follows the
    /// `:` in each: the kinds a table that still exists can acknowledge.
    pub const ALLOWABLE: &[(ChangeKind, Target)] = &[
        (Self::ColumnRemoved, Target::GoneColumn),
        (Self::ColumnRetyped, Target::Column),
        (Self::ColumnNullable, Target::Column),
        (Self::SourceChanged, Target::Nothing),
        (Self::LocationMoved, Target::Nothing),
        (Self::ExpectationLoosened, Target::Expectation),
    ];

    /// The kind as written (`column-removed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TableRemoved => "table-removed",
            Self::ColumnRemoved => "column-removed",
            Self::ColumnRetyped => "column-retyped",
            Self::ColumnNullable => "column-nullable",
            Self::SourceChanged => "source-changed",
            Self::LocationMoved => "location-moved",
            Self::ExpectationLoosened => "expectation-loosened",
            Self::VersionLowered => "version-lowered",
            Self::TableAdded => "table-added",
            Self::ColumnAdded => "column-added",
            Self::ColumnRequired => "column-required",
            Self::ExpectationTightened => "expectation-tightened",
            Self::OptionChanged => "option-changed",
            Self::ViewChanged => "view-changed",
            Self::AccelerationChanged => "acceleration-changed",
            Self::OwnerChanged => "owner-changed",
            Self::DocChanged => "doc-changed",
            Self::ColumnDocChanged => "column-doc-changed",
            Self::VersionRaised => "version-raised",
        }
    }

    /// What an `allow_breaking` entry of this kind names after the `:`, or
    /// `None` when the kind cannot be acknowledged that way.
    pub fn allowable(self) -> Option<Target> {
        Self::ALLOWABLE
            .iter()
            .find(|(kind, _)| *kind == self)
            .map(|(_, target)| *target)
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an `allow_breaking` entry names after its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Nothing: the change is to the whole table (`location-moved`).
    Nothing,
    /// A column the struct still declares.
    Column,
    /// A column the struct no longer declares.
    GoneColumn,
    /// `freshness`, `min_rows`, `max_rows`, or a column whose `unique`,
    /// `min` or `max` was loosened.
    Expectation,
}

/// The table-level expectations an `expectation-loosened` entry can name.
pub const TABLE_EXPECTATIONS: &[&str] = &["freshness", "min_rows", "max_rows"];

/// One `allow_breaking` entry: a breaking change the table acknowledges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowance {
    /// The kind of change.
    pub kind: ChangeKind,
    /// The column or expectation it is about; `None` for table-wide kinds.
    pub target: Option<String>,
}

impl Allowance {
    /// Parses `kind` or `kind:target`, with an error that lists what can be written.
    ///
    /// ```
    /// use catalog_core::contract::{Allowance, ChangeKind};
    /// let allowance = Allowance::parse("column-removed:o_comment").unwrap();
    /// assert_eq!(allowance.kind, ChangeKind::ColumnRemoved);
    /// assert_eq!(allowance.target.as_deref(), Some("o_comment"));
    /// assert!(Allowance::parse("column-removed").is_err());
    /// assert!(Allowance::parse("table-added:x").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (kind, target) = match text.split_once(':') {
            Some((kind, target)) => (kind.trim(), Some(target.trim())),
            None => (text, None),
        };
        let forms = || {
            ChangeKind::ALLOWABLE
                .iter()
                .map(|(kind, target)| match target {
                    Target::Nothing => format!("`{kind}`"),
                    Target::Column | Target::GoneColumn => format!("`{kind}:COLUMN`"),
                    Target::Expectation => format!("`{kind}:freshness|min_rows|max_rows|COLUMN`"),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(found) = ChangeKind::ALL.iter().find(|known| known.as_str() == kind) else {
            return Err(format!(
                "`{text}` names no change a table can acknowledge; write one of {}",
                forms()
            ));
        };
        let Some(wants) = found.allowable() else {
            let how = match found {
                ChangeKind::TableRemoved => {
                    "a removed table has no struct left to say so: declare `replaces = \"database.old_name\"` on the table that takes over from it"
                }
                ChangeKind::VersionLowered => "a version only goes up",
                _ => "it is not a breaking change",
            };
            return Err(format!(
                "`{kind}` cannot be acknowledged in `allow_breaking`: {how}; entries are {}",
                forms()
            ));
        };
        match (wants, target) {
            (Target::Nothing, None) => Ok(Self {
                kind: *found,
                target: None,
            }),
            (Target::Nothing, Some(_)) => Err(format!(
                "`{text}`: `{kind}` is about the whole table; write `{kind}` alone"
            )),
            (_, Some(target)) if !target.is_empty() => Ok(Self {
                kind: *found,
                target: Some(target.to_owned()),
            }),
            (Target::Expectation, _) => Err(format!(
                "`{text}`: name the expectation, e.g. `{kind}:freshness`, `{kind}:min_rows` or `{kind}:COLUMN`"
            )),
            _ => Err(format!(
                "`{text}`: name the column, e.g. `{kind}:o_comment`"
            )),
        }
    }

    /// Splits an `allow_breaking` value into its entries (comma-separated).
    pub fn split(value: &str) -> impl Iterator<Item = &str> {
        value
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
    }

    /// Whether this entry acknowledges `kind` on `target`.
    pub fn covers(&self, kind: ChangeKind, target: Option<&str>) -> bool {
        self.kind == kind && self.target.as_deref() == target
    }
}

impl fmt::Display for Allowance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Some(target) => write!(f, "{}:{target}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_allowable_form_and_explains_the_rest() {
        for (text, kind, target) in [
            (
                "column-removed:o_comment",
                ChangeKind::ColumnRemoved,
                Some("o_comment"),
            ),
            (" location-moved ", ChangeKind::LocationMoved, None),
            (
                "expectation-loosened:min_rows",
                ChangeKind::ExpectationLoosened,
                Some("min_rows"),
            ),
        ] {
            let allowance = Allowance::parse(text).unwrap();
            assert!(allowance.covers(kind, target), "{text}");
        }
        let removed = Allowance::parse("table-removed:tpch.old").unwrap_err();
        assert!(removed.contains("replaces = "), "{removed}");
        let typo = Allowance::parse("column-dropped:x").unwrap_err();
        assert!(typo.contains("`column-removed:COLUMN`"), "{typo}");
        assert!(Allowance::parse("location-moved:x").is_err());
        assert!(Allowance::parse("column-nullable:").is_err());
        assert_eq!(
            Allowance::split("a, b,,c ").collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn a_contract_left_undeclared_is_left_out_of_the_json() {
        let json = serde_json::to_string(&Contract::NONE).unwrap();
        assert_eq!(json, "{}");
        let read: Contract = serde_json::from_str(r#"{"version": 3}"#).unwrap();
        assert_eq!(read.version, 3);
        assert!(!read.is_none());
        for kind in ChangeKind::ALL {
            let json = serde_json::to_string(kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
        }
    }
}
