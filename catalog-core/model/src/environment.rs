//! The environment a table is read in: what a plugin needs besides the spec.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

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
    /// The longest an `http-api` request may take in this environment: it caps
    /// each table's own `timeout`, so an environment can fail fast.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_timeout: Option<std::time::Duration>,
    /// How to reach S3, for `s3://` locations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Settings>,
    /// Credentials by the variable name a table reads them from (its
    /// `auth_env`), for environments that hand them out themselves, as `local`
    /// does for its embedded HTTP API. A name absent here is read from the
    /// process environment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, Secret>,
}

impl Environment {
    /// An environment named `name` whose relative files live under `data_dir`.
    pub fn new(name: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            data_dir: data_dir.into(),
            http_base_url: None,
            http_timeout: None,
            s3: None,
            secrets: BTreeMap::new(),
        }
    }

    /// Where an `s3://bucket/key` location is read in this environment: the
    /// same, or with the bucket replaced by [`S3Settings::bucket`].
    pub fn s3_location(&self, location: &str) -> String {
        let bucket = self.s3.as_ref().and_then(|s3| s3.bucket.as_deref());
        match (bucket, location.strip_prefix("s3://")) {
            (Some(bucket), Some(rest)) => match rest.split_once('/') {
                Some((_, key)) => format!("s3://{bucket}/{key}"),
                None => format!("s3://{bucket}"),
            },
            _ => location.to_owned(),
        }
    }

    /// Where a local `location` (a `csv` or `parquet` table's) is: an absolute
    /// path or `file://` URL as written, a relative one under the data directory.
    pub fn local_path(&self, location: &str) -> PathBuf {
        let location = location.strip_prefix("file://").unwrap_or(location);
        let path = std::path::Path::new(location);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.data_dir.join(path)
        }
    }

    /// The credential held in variable `name`: the environment's own, else the process's.
    pub fn secret(&self, name: &str) -> Option<Secret> {
        self.secrets
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok().map(Secret::new))
    }

    /// The same environment, reaching S3 with `s3`.
    pub fn with_s3(mut self, s3: S3Settings) -> Self {
        self.s3 = Some(s3);
        self
    }
}

/// How to reach an S3-compatible store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// The endpoint, e.g. `http://127.0.0.1:9000`; `None` for AWS itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The region, e.g. `us-east-1`.
    pub region: String,
    /// The bucket every `s3://` location is read from in this environment,
    /// replacing the one the table declares; `None` keeps the declared one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// The access key id, if the store needs credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// The secret access key; never printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<Secret>,
    /// The session token of temporary credentials (STS, SSO); never printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<Secret>,
    /// How long to wait for a connection to the endpoint; `None` for
    /// [`S3Settings::DEFAULT_CONNECT_TIMEOUT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<Duration>,
    /// How long one request may take; `None` for
    /// [`S3Settings::DEFAULT_REQUEST_TIMEOUT`]. A failed request is retried
    /// for at most twice this long in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout: Option<Duration>,
}

impl S3Settings {
    /// The connect timeout when none is set: an endpoint that does not accept
    /// a connection in this time is down.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// The request timeout when none is set.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

    /// The connect timeout in force.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
            .unwrap_or(Self::DEFAULT_CONNECT_TIMEOUT)
    }

    /// The request timeout in force.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
            .unwrap_or(Self::DEFAULT_REQUEST_TIMEOUT)
    }
}

/// A secret: serialised as itself (it must reach the plugin), but never shown
/// by `Debug` or `Display`, so it cannot leak into logs or error messages.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show() {
        let s3 = S3Settings {
            secret_access_key: Some(Secret::new("hunter2")),
            ..S3Settings::default()
        };
        let env = Environment::new("production", "/data").with_s3(s3);
        assert!(!format!("{env:?}").contains("hunter2"));
        assert!(format!("{env:?}").contains("Secret(***)"));
        // It does travel to the plugin, which must use it.
        assert!(serde_json::to_string(&env).unwrap().contains("hunter2"));
    }

    #[test]
    fn a_configured_bucket_replaces_the_declared_one() {
        let mut env = Environment::new("production", "/data");
        assert_eq!(
            env.s3_location("s3://codelake/tpch/part.parquet"),
            "s3://codelake/tpch/part.parquet"
        );
        env.s3 = Some(S3Settings {
            bucket: Some("lake-prod".into()),
            ..S3Settings::default()
        });
        assert_eq!(
            env.s3_location("s3://codelake/tpch/part.parquet"),
            "s3://lake-prod/tpch/part.parquet"
        );
        assert_eq!(env.s3_location("s3://codelake"), "s3://lake-prod");
        assert_eq!(env.s3_location("tpch/nation.csv"), "tpch/nation.csv");
    }
}
