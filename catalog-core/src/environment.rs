//! The environment a table is read in: what a plugin needs besides the spec.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where the data of one environment (`local`, `production`) lives. A table's
/// provider is built from its [`crate::TableSpec`] and this alone, so any
/// process holding both can rebuild any table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// The environment's name, e.g. `local`.
    pub name: String,
    /// Base directory of relative file locations (`location = "tpch/nation.csv"`).
    pub data_dir: PathBuf,
    /// Base URL of `http-api` tables whose `url` is a `/path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_base_url: Option<String>,
}

impl Environment {
    /// An environment named `name` whose relative files live under `data_dir`.
    pub fn new(name: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            data_dir: data_dir.into(),
            http_base_url: None,
        }
    }
}
