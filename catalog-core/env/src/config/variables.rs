//! The environment variables the configuration reads, with what each sets:
//! the reference docs' table is checked against this list.

/// One environment variable the configuration reads.
#[derive(Debug, Clone, Copy)]
pub struct Variable {
    /// Its name, e.g. `CODELAKE_ENV`.
    pub name: &'static str,
    /// What it sets.
    pub doc: &'static str,
}

/// Every environment variable [`super::ConfigBuilder::from_env`] reads, in the
/// order of the reference docs. A `CODELAKE_` variable wins over its `AWS_` twin.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "CODELAKE_ENV",
        doc: "The profile to run: `local` (the default) or `production`, or any profile of `codelake.toml`.",
    },
    Variable {
        name: "CODELAKE_CONFIG",
        doc: "Path of the profiles file; by default `codelake.toml` in the current directory or the nearest parent that has one.",
    },
    Variable {
        name: "CODELAKE_DATA_DIR",
        doc: "Directory of the environment's files: relative CSV locations, and for `local` the embedded S3 server's buckets.",
    },
    Variable {
        name: "CODELAKE_HTTP_BASE_URL",
        doc: "Base URL of `http-api` tables whose `url` is a path, e.g. `https://fx.example.com`. Ignored by `local`, which serves its own.",
    },
    Variable {
        name: "CODELAKE_HTTP_TIMEOUT",
        doc: "The longest one request to an `http-api` table's API may take, e.g. `2s`; it caps each table's declared `timeout`.",
    },
    Variable {
        name: "CODELAKE_S3_ENDPOINT",
        doc: "S3 endpoint URL, e.g. `https://s3.eu-west-1.amazonaws.com` or a MinIO URL; unset means AWS. Falls back to `AWS_ENDPOINT_URL`.",
    },
    Variable {
        name: "CODELAKE_S3_REGION",
        doc: "S3 region; default `us-east-1`. Falls back to `AWS_REGION`.",
    },
    Variable {
        name: "CODELAKE_S3_BUCKET",
        doc: "The bucket every `s3://` location of the catalog is read from, replacing the bucket written in the table (`codelake`).",
    },
    Variable {
        name: "CODELAKE_S3_ACCESS_KEY_ID",
        doc: "S3 access key id. Falls back to `AWS_ACCESS_KEY_ID`.",
    },
    Variable {
        name: "CODELAKE_S3_SECRET_ACCESS_KEY",
        doc: "S3 secret access key; never printed. Falls back to `AWS_SECRET_ACCESS_KEY`.",
    },
    Variable {
        name: "CODELAKE_S3_SESSION_TOKEN",
        doc: "Session token of temporary S3 credentials (STS, SSO); never printed. Falls back to `AWS_SESSION_TOKEN`.",
    },
    Variable {
        name: "CODELAKE_S3_CONNECT_TIMEOUT",
        doc: "How long to wait for a connection to the S3 endpoint, e.g. `2s`; default `5s`.",
    },
    Variable {
        name: "CODELAKE_SERVE_TOKENS",
        doc: "The bearer tokens `codelake serve` accepts, separated by commas (several at once, for rotation); never printed.",
    },
    Variable {
        name: "CODELAKE_TOKEN",
        doc: "The token codelake presents to a running `codelake serve` as a client (`codelake verify --serve URL`); never printed. Unset: the first of the configured serve tokens, then the token a local server made, for a server on loopback only.",
    },
    Variable {
        name: "CODELAKE_WORKER_TOKEN",
        doc: "The token a coordinator (`--workers`) and its workers (`codelake worker`) share; every call between them carries it, and a worker beyond loopback requires it. Never printed.",
    },
    Variable {
        name: "CODELAKE_S3_REQUEST_TIMEOUT",
        doc: "How long one S3 request may take, e.g. `10s`; default `30s`. A failed request is retried for at most twice this long.",
    },
];
