//! [`CopyStatus`] as JSON: durations and instants in words people read.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::CopyStatus;

/// The JSON form of a [`CopyStatus`].
#[derive(Serialize, Deserialize)]
pub(super) struct CopyStatusJson {
    table: String,
    /// The declared interval, e.g. `"5m"`.
    refresh: String,
    /// RFC 3339, UTC, to the second; `null` while there is no copy.
    loaded_at: Option<String>,
    /// Seconds since `loaded_at` by the writer's clock; when read, it places
    /// `loaded_at` on the reader's clock.
    #[serde(default)]
    age_seconds: Option<u64>,
    bytes: u64,
    rows: u64,
    loads: u64,
    failures: u64,
    last_error: Option<String>,
    refused: Option<String>,
}

impl From<CopyStatus> for CopyStatusJson {
    fn from(status: CopyStatus) -> Self {
        Self {
            age_seconds: status.age().map(|age| age.as_secs()),
            table: status.table,
            refresh: humantime::format_duration(status.refresh).to_string(),
            loaded_at: status
                .loaded_at
                .map(|at| humantime::format_rfc3339_seconds(at).to_string()),
            bytes: status.bytes,
            rows: status.rows,
            loads: status.loads,
            failures: status.failures,
            last_error: status.last_error,
            refused: status.refused,
        }
    }
}

impl TryFrom<CopyStatusJson> for CopyStatus {
    type Error = String;

    fn try_from(json: CopyStatusJson) -> Result<Self, String> {
        let refresh: Duration = humantime::parse_duration(&json.refresh)
            .map_err(|error| format!("`refresh` {:?}: {error}", json.refresh))?;
        let loaded_at: Option<SystemTime> = json
            .loaded_at
            .as_deref()
            .map(|at| {
                humantime::parse_rfc3339_weak(at)
                    .map_err(|error| format!("`loaded_at` {at:?}: {error}"))
            })
            .transpose()?;
        // The writer's clock says how old the copy is: a reader whose clock is
        // off by minutes still sees the copy's true age.
        let loaded_at = match (loaded_at, json.age_seconds) {
            (Some(_), Some(age)) => SystemTime::now().checked_sub(Duration::from_secs(age)),
            (loaded_at, _) => loaded_at,
        };
        Ok(Self {
            table: json.table,
            refresh,
            loaded_at,
            bytes: json.bytes,
            rows: json.rows,
            loads: json.loads,
            failures: json.failures,
            last_error: json.last_error,
            refused: json.refused,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::CopyStatus;

    #[test]
    fn a_status_reads_back_as_it_was_written() {
        let status = CopyStatus {
            table: "tpch.nation".into(),
            refresh: Duration::from_secs(300),
            loaded_at: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            bytes: 4096,
            rows: 25,
            loads: 3,
            failures: 1,
            last_error: Some("the S3 server refused".into()),
            refused: None,
        };
        let mut json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["refresh"], "5m");
        assert_eq!(json["loaded_at"], "2023-11-14T22:13:20Z");
        let age = json["age_seconds"].as_u64().unwrap();
        assert!(age > 80_000_000, "{age}");
        let back: CopyStatus = serde_json::from_value(json.clone()).unwrap();
        let drift = back
            .loaded_at
            .unwrap()
            .duration_since(status.loaded_at.unwrap());
        assert!(
            drift.unwrap_or_default() < Duration::from_secs(5),
            "{back:?}"
        );
        assert_eq!(
            CopyStatus {
                loaded_at: status.loaded_at,
                ..back
            },
            status
        );

        // The writer's clock decides the age: one minute old, whatever `loaded_at` says.
        json["age_seconds"] = 60.into();
        let back: CopyStatus = serde_json::from_value(json).unwrap();
        let age = back.age().unwrap().as_secs();
        assert!((60..65).contains(&age), "{age}");

        let none = CopyStatus {
            loaded_at: None,
            ..status
        };
        let json = serde_json::to_value(&none).unwrap();
        assert!(json["loaded_at"].is_null() && json["age_seconds"].is_null());
        assert_eq!(serde_json::from_value::<CopyStatus>(json).unwrap(), none);
    }

    #[test]
    fn a_bad_interval_is_named() {
        let json = serde_json::json!({
            "table": "t.x", "refresh": "soon", "loaded_at": null, "bytes": 0, "rows": 0,
            "loads": 0, "failures": 0, "last_error": null, "refused": null,
        });
        let error = serde_json::from_value::<CopyStatus>(json).unwrap_err();
        assert!(error.to_string().contains("`refresh` \"soon\""), "{error}");
    }
}
