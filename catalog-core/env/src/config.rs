//! Which environment codelake runs in, resolved in one place.
//!
//! Settings come from four layers, each overriding the one before:
//!
//! 1. built-in defaults: profile `local` (embedded servers, data under
//!    `.codelake/local`) and profile `production` (servers from the settings);
//! 2. the profile of that name in `codelake.toml`, if there is one;
//! 3. environment variables ([`VARIABLES`] lists every one read here);
//! 4. explicit settings, e.g. command-line flags ([`ConfigBuilder::profile`],
//!    [`ConfigBuilder::data_dir`]).
//!
//! ```
//! use catalog_env::config::ConfigBuilder;
//!
//! let config = ConfigBuilder::new()
//!     .vars([("CODELAKE_ENV", "production"), ("CODELAKE_S3_REGION", "eu-west-1")])
//!     .project_dir("/srv/lake")
//!     .build()
//!     .unwrap();
//! assert_eq!(config.profile, "production");
//! assert!(!config.embedded);
//! assert_eq!(config.s3.region.as_deref(), Some("eu-west-1"));
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use catalog_core::{Environment, S3Settings, Secret};

mod debug;
mod variables;

pub use variables::{VARIABLES, Variable};

/// The file of named profiles, looked for in the current directory and its parents.
pub const CONFIG_FILE: &str = "codelake.toml";

/// The data directory of the built-in `local` profile, relative to the project.
pub const LOCAL_DATA_DIR: &str = ".codelake/local";

/// Why the configuration cannot be resolved. Each message names the file,
/// profile or variable at fault and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The profiles file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The profiles file is not valid, e.g. an unknown key.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// No profile of that name.
    #[error(
        "no profile `{profile}` (chosen by {chosen_by}); the profiles are: {known}. \
         Add `[profiles.{profile}]` to {file} or pick one of those"
    )]
    UnknownProfile {
        /// The profile asked for.
        profile: String,
        /// `CODELAKE_ENV`, `--env` or the file's `default_profile`.
        chosen_by: String,
        /// The profiles that exist, comma-separated.
        known: String,
        /// The profiles file, or `codelake.toml` when there is none.
        file: String,
    },
    /// A setting has a value that cannot work.
    #[error("{setting}: {message}")]
    Invalid {
        /// The variable or key at fault.
        setting: String,
        /// What is wrong and what to do.
        message: String,
    },
}

/// The resolved configuration: which environment to run in and how to reach it.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// The profile's name, e.g. `local`; also the environment's name.
    pub profile: String,
    /// Whether codelake starts the environment's servers itself (embedded S3
    /// and HTTP API on loopback), as the `local` profile does.
    pub embedded: bool,
    /// Directory of the environment's files (absolute).
    pub data_dir: PathBuf,
    /// Base URL of `http-api` tables whose `url` is a path.
    pub http_base_url: Option<String>,
    /// Caps every `http-api` table's `timeout`.
    pub http_timeout: Option<Duration>,
    /// The bearer tokens `codelake serve` accepts: `CODELAKE_SERVE_TOKENS`
    /// (comma-separated), else the lines of `serve.tokens_file`. Never printed.
    pub serve_tokens: Vec<Secret>,
    /// Where they were read from, for messages: the variable or the file.
    pub serve_tokens_from: Option<String>,
    /// The token presented to a running `codelake serve` as its client:
    /// `CODELAKE_TOKEN`. Never printed.
    pub client_token: Option<Secret>,
    /// The token a cluster's coordinator and workers share (`codelake worker`,
    /// `--workers`): `CODELAKE_WORKER_TOKEN`. Never printed.
    pub worker_token: Option<Secret>,
    /// How to reach S3 (ignored when `embedded`).
    pub s3: S3Config,
    /// The profiles file that was read, if any.
    pub file: Option<PathBuf>,
}

/// S3 settings as configured, each optional until the environment is built.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// Endpoint URL; `None` for AWS.
    pub endpoint: Option<String>,
    /// Region; `us-east-1` when unset.
    pub region: Option<String>,
    /// Bucket replacing the one written in `s3://` locations.
    pub bucket: Option<String>,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Secret access key; never printed.
    pub secret_access_key: Option<Secret>,
    /// Session token of temporary credentials (STS, SSO); never printed.
    pub session_token: Option<Secret>,
    /// Connect timeout, e.g. `"2s"` in `codelake.toml`.
    #[serde(default, deserialize_with = "duration")]
    pub connect_timeout: Option<Duration>,
    /// Request timeout, e.g. `"10s"` in `codelake.toml`.
    #[serde(default, deserialize_with = "duration")]
    pub request_timeout: Option<Duration>,
}

/// A duration written as text (`"2s"`, `"1m 30s"`).
fn duration<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text).map(Some).map_err(|error| {
        serde::de::Error::custom(format!(
            "`{text}` is not a duration such as \"5s\": {error}"
        ))
    })
}

impl Config {
    /// The environment plugins read tables in, for a profile whose servers run
    /// elsewhere. (An embedded profile's environment comes from its servers.)
    pub fn environment(&self) -> Environment {
        let mut env = Environment::new(&self.profile, &self.data_dir);
        env.http_base_url = self.http_base_url.clone();
        env.http_timeout = self.http_timeout;
        env.s3 = Some(S3Settings {
            endpoint: self.s3.endpoint.clone(),
            region: self.s3.region.clone().unwrap_or_else(|| "us-east-1".into()),
            bucket: self.s3.bucket.clone(),
            access_key_id: self.s3.access_key_id.clone(),
            secret_access_key: self.s3.secret_access_key.clone(),
            session_token: self.s3.session_token.clone(),
            connect_timeout: self.s3.connect_timeout,
            request_timeout: self.s3.request_timeout,
        });
        env
    }
}

/// `codelake.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    /// The profile used when neither `CODELAKE_ENV` nor a flag picks one.
    default_profile: Option<String>,
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

/// `[profiles.NAME]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    embedded: Option<bool>,
    data_dir: Option<PathBuf>,
    http_base_url: Option<String>,
    #[serde(default, deserialize_with = "duration")]
    http_timeout: Option<Duration>,
    #[serde(default)]
    serve: ServeConfig,
    #[serde(default)]
    s3: S3Config,
}

/// `[profiles.NAME.serve]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServeConfig {
    /// A file of bearer tokens, one per line (relative to the profiles file).
    tokens_file: Option<PathBuf>,
}

/// Builds a [`Config`] from defaults, `codelake.toml`, variables and flags.
#[derive(Debug, Default)]
#[must_use]
pub struct ConfigBuilder {
    vars: BTreeMap<String, String>,
    profile: Option<String>,
    file: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    project_dir: Option<PathBuf>,
}

impl ConfigBuilder {
    /// A builder that reads no variables: only defaults, the file and explicit settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the process's variables listed in [`VARIABLES`] and their `AWS_` fallbacks.
    pub fn from_env() -> Self {
        let names = VARIABLES
            .iter()
            .map(|v| v.name)
            .chain(AWS_FALLBACKS.iter().map(|(_, aws)| *aws));
        Self::new().vars(names.filter_map(|name| Some((name, std::env::var(name).ok()?))))
    }

    /// Uses these variables as if they were the process's (for tests and embedding).
    pub fn vars<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.vars
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Runs this profile, over `CODELAKE_ENV` (the `--env` flag).
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Reads this profiles file, over `CODELAKE_CONFIG` and the search (the `--config` flag).
    pub fn config_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.file = Some(file.into());
        self
    }

    /// Uses this data directory, over the profile and `CODELAKE_DATA_DIR`.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Where to start looking for `codelake.toml`, and what relative paths
    /// are relative to when there is none; the current directory by default.
    pub fn project_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.project_dir = Some(dir.into());
        self
    }

    /// Resolves the layers into one [`Config`].
    pub fn build(self) -> Result<Config, ConfigError> {
        let start = match &self.project_dir {
            Some(dir) => dir.clone(),
            None => std::env::current_dir().map_err(|source| ConfigError::Read {
                path: PathBuf::from("."),
                source,
            })?,
        };
        let var = |name: &str| self.vars.get(name).filter(|v| !v.is_empty()).cloned();
        let file_path = self
            .file
            .clone()
            .or_else(|| var("CODELAKE_CONFIG").map(PathBuf::from))
            .map(|path| start.join(path))
            .or_else(|| find_upwards(&start, CONFIG_FILE));
        let file = match &file_path {
            Some(path) => read_file(path)?,
            None => File::default(),
        };
        // Relative paths are relative to the file that holds them, or to the project.
        let base = file_path
            .as_deref()
            .and_then(Path::parent)
            .map_or_else(|| start.clone(), Path::to_path_buf);

        let (profile_name, chosen_by) = if let Some(name) = &self.profile {
            (name.clone(), "--env".to_owned())
        } else if let Some(name) = var("CODELAKE_ENV") {
            (name, "CODELAKE_ENV".to_owned())
        } else if let Some(name) = &file.default_profile {
            (
                name.clone(),
                format!("`default_profile` in {}", display(&file_path)),
            )
        } else {
            ("local".to_owned(), "default".to_owned())
        };
        let builtin = match profile_name.as_str() {
            "local" => Some(Profile {
                embedded: Some(true),
                data_dir: Some(PathBuf::from(LOCAL_DATA_DIR)),
                ..Profile::default()
            }),
            "production" => Some(Profile {
                embedded: Some(false),
                data_dir: Some(PathBuf::from("data")),
                ..Profile::default()
            }),
            _ => None,
        };
        let profile = match (builtin, file.profiles.get(&profile_name)) {
            (Some(builtin), Some(own)) => merge(builtin, own.clone()),
            (Some(builtin), None) => builtin,
            (None, Some(own)) => own.clone(),
            (None, None) => {
                let mut known: Vec<&str> = vec!["local", "production"];
                known.extend(file.profiles.keys().map(String::as_str));
                known.sort_unstable();
                known.dedup();
                return Err(ConfigError::UnknownProfile {
                    profile: profile_name,
                    chosen_by,
                    known: known.join(", "),
                    file: display(&file_path),
                });
            }
        };

        let embedded = profile.embedded.unwrap_or(false);
        // A flag or variable is relative to the current directory; a file key to the file's.
        let data_dir = match self
            .data_dir
            .clone()
            .or_else(|| var("CODELAKE_DATA_DIR").map(PathBuf::from))
        {
            Some(dir) => start.join(dir),
            None => base.join(profile.data_dir.unwrap_or_else(|| PathBuf::from("data"))),
        };
        let http_base_url = var("CODELAKE_HTTP_BASE_URL").or(profile.http_base_url);
        if let Some(url) = &http_base_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid {
                setting: "CODELAKE_HTTP_BASE_URL / http_base_url".into(),
                message: format!("`{url}` is not an http:// or https:// URL"),
            });
        }
        // The variable, else the file of tokens (relative to the profiles file).
        let (serve_tokens, serve_tokens_from) = match var("CODELAKE_SERVE_TOKENS") {
            Some(tokens) => (
                tokens
                    .split(',')
                    .map(str::trim)
                    .filter(|token| !token.is_empty())
                    .map(Secret::new)
                    .collect(),
                Some("CODELAKE_SERVE_TOKENS".to_owned()),
            ),
            None => match &profile.serve.tokens_file {
                Some(path) => {
                    let base = file_path
                        .as_deref()
                        .and_then(Path::parent)
                        .unwrap_or(Path::new("."));
                    let path = base.join(path);
                    let text =
                        std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                            path: path.clone(),
                            source,
                        })?;
                    (
                        text.lines()
                            .map(str::trim)
                            .filter(|line| !line.is_empty() && !line.starts_with('#'))
                            .map(Secret::new)
                            .collect(),
                        Some(path.display().to_string()),
                    )
                }
                None => (Vec::new(), None),
            },
        };
        if let Some(from) = serve_tokens_from
            .as_ref()
            .filter(|_| serve_tokens.is_empty())
        {
            let setting = if from == "CODELAKE_SERVE_TOKENS" {
                from.clone()
            } else {
                format!("serve.tokens_file ({from})")
            };
            return Err(ConfigError::Invalid {
                setting,
                message: "holds no token; put at least one there, or unset it to let a local \
                          server make its own"
                    .into(),
            });
        }
        // Ours, then the file, then the AWS variables: a shell that exports AWS_* for
        // another tool does not override what the project pinned.
        let aws = |name: &str| {
            AWS_FALLBACKS
                .iter()
                .find(|(ours, _)| *ours == name)
                .and_then(|(_, aws)| var(aws))
        };
        let layered = |name: &str, file: Option<String>| var(name).or(file).or_else(|| aws(name));
        // Credentials come as a whole from one layer, never a key from one and a secret from another.
        let credentials = [
            (
                var("CODELAKE_S3_ACCESS_KEY_ID"),
                var("CODELAKE_S3_SECRET_ACCESS_KEY").map(Secret::new),
                var("CODELAKE_S3_SESSION_TOKEN").map(Secret::new),
            ),
            (
                profile.s3.access_key_id.clone(),
                profile.s3.secret_access_key.clone(),
                profile.s3.session_token.clone(),
            ),
            (
                var("AWS_ACCESS_KEY_ID"),
                var("AWS_SECRET_ACCESS_KEY").map(Secret::new),
                var("AWS_SESSION_TOKEN").map(Secret::new),
            ),
        ]
        .into_iter()
        .zip([
            ("CODELAKE_S3_ACCESS_KEY_ID", "CODELAKE_S3_SECRET_ACCESS_KEY"),
            ("s3.access_key_id", "s3.secret_access_key"),
            ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
        ])
        .find(|((id, secret, _), _)| id.is_some() || secret.is_some());
        // Half a credential signs nothing: say which half is missing, where. An
        // embedded profile's servers hold their own, so a stray variable is ignored there.
        if let Some(((id, secret, _), (id_name, secret_name))) = &credentials
            && !embedded
            && id.is_some() != secret.is_some()
        {
            let (set, unset) = if id.is_some() {
                (id_name, secret_name)
            } else {
                (secret_name, id_name)
            };
            return Err(ConfigError::Invalid {
                setting: format!("{id_name} / {secret_name}"),
                message: format!(
                    "{set} is set but {unset} is not; set both, or neither for unsigned requests"
                ),
            });
        }
        let credentials = credentials
            .map(|(credentials, _)| credentials)
            .unwrap_or_default();
        let s3 = S3Config {
            endpoint: layered("CODELAKE_S3_ENDPOINT", profile.s3.endpoint),
            region: layered("CODELAKE_S3_REGION", profile.s3.region),
            bucket: var("CODELAKE_S3_BUCKET").or(profile.s3.bucket),
            access_key_id: credentials.0,
            secret_access_key: credentials.1,
            session_token: credentials.2,
            connect_timeout: timeout(&var, "CODELAKE_S3_CONNECT_TIMEOUT", "s3.connect_timeout")?
                .or(profile.s3.connect_timeout),
            request_timeout: timeout(&var, "CODELAKE_S3_REQUEST_TIMEOUT", "s3.request_timeout")?
                .or(profile.s3.request_timeout),
        };
        if let Some(endpoint) = &s3.endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(ConfigError::Invalid {
                setting: "CODELAKE_S3_ENDPOINT / s3.endpoint".into(),
                message: format!("`{endpoint}` is not an http:// or https:// URL"),
            });
        }
        Ok(Config {
            profile: profile_name,
            embedded,
            data_dir,
            http_base_url,
            http_timeout: timeout(&var, "CODELAKE_HTTP_TIMEOUT", "http_timeout")?
                .or(profile.http_timeout),
            serve_tokens,
            serve_tokens_from,
            client_token: var("CODELAKE_TOKEN")
                .map(|token| token.trim().to_owned())
                .filter(|token| !token.is_empty())
                .map(Secret::new),
            worker_token: var("CODELAKE_WORKER_TOKEN")
                .map(|token| token.trim().to_owned())
                .filter(|token| !token.is_empty())
                .map(Secret::new),
            s3,
            file: file_path,
        })
    }
}

/// Our variable and the AWS variable it falls back to.
const AWS_FALLBACKS: &[(&str, &str)] = &[
    ("CODELAKE_S3_ENDPOINT", "AWS_ENDPOINT_URL"),
    ("CODELAKE_S3_REGION", "AWS_REGION"),
    ("CODELAKE_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
    ("CODELAKE_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
    ("CODELAKE_S3_SESSION_TOKEN", "AWS_SESSION_TOKEN"),
];

/// The duration variable `name`, if set; an error names it and its file key.
fn timeout(
    var: &dyn Fn(&str) -> Option<String>,
    name: &str,
    key: &str,
) -> Result<Option<Duration>, ConfigError> {
    var(name)
        .map(|text| {
            humantime::parse_duration(&text).map_err(|error| ConfigError::Invalid {
                setting: format!("{name} / {key}"),
                message: format!("`{text}` is not a duration such as \"5s\": {error}"),
            })
        })
        .transpose()
}

/// `over`'s settings where it has them, `under`'s elsewhere.
fn merge(under: Profile, over: Profile) -> Profile {
    Profile {
        embedded: over.embedded.or(under.embedded),
        data_dir: over.data_dir.or(under.data_dir),
        http_base_url: over.http_base_url.or(under.http_base_url),
        http_timeout: over.http_timeout.or(under.http_timeout),
        serve: ServeConfig {
            tokens_file: over.serve.tokens_file.or(under.serve.tokens_file),
        },
        s3: S3Config {
            endpoint: over.s3.endpoint.or(under.s3.endpoint),
            region: over.s3.region.or(under.s3.region),
            bucket: over.s3.bucket.or(under.s3.bucket),
            access_key_id: over.s3.access_key_id.or(under.s3.access_key_id),
            secret_access_key: over.s3.secret_access_key.or(under.s3.secret_access_key),
            session_token: over.s3.session_token.or(under.s3.session_token),
            connect_timeout: over.s3.connect_timeout.or(under.s3.connect_timeout),
            request_timeout: over.s3.request_timeout.or(under.s3.request_timeout),
        },
    }
}

fn read_file(path: &Path) -> Result<File, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    // Not the error's `Display`: it quotes the offending line, which may hold a secret.
    toml::from_str(&text).map_err(|error: toml::de::Error| {
        let place = error.span().map_or_else(String::new, |span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: ")
        });
        ConfigError::Parse {
            path: path.to_owned(),
            message: format!("{place}{}", error.message().trim_end()),
        }
    })
}

fn find_upwards(start: &Path, name: &str) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

fn display(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map_or_else(|| CONFIG_FILE.to_owned(), |p| p.display().to_string())
}

#[cfg(test)]
mod tests;
