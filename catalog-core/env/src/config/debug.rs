//! `Debug` for the configuration, field by field, so that a field added
//! later is a compile error here: secrets show as redacted, never as values.

use std::fmt;

use super::{Config, S3Config};

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Listed field by field so a new field is a compile error here.
        let Self {
            profile,
            embedded,
            data_dir,
            http_base_url,
            http_timeout,
            serve_tokens,
            serve_tokens_from,
            client_token,
            worker_token,
            s3,
            file,
        } = self;
        f.debug_struct("Config")
            .field("profile", profile)
            .field("embedded", embedded)
            .field("data_dir", data_dir)
            .field("http_base_url", http_base_url)
            .field("http_timeout", http_timeout)
            .field(
                "serve_tokens",
                &format_args!("{} redacted", serve_tokens.len()),
            )
            .field("serve_tokens_from", serve_tokens_from)
            .field("client_token", &client_token.as_ref().map(|_| "redacted"))
            .field("worker_token", &worker_token.as_ref().map(|_| "redacted"))
            .field("s3", s3)
            .field("file", file)
            .finish()
    }
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `Secret` redacts itself; listed field by field so a new field is a compile error here.
        let Self {
            endpoint,
            region,
            bucket,
            access_key_id,
            secret_access_key,
            session_token,
            connect_timeout,
            request_timeout,
        } = self;
        f.debug_struct("S3Config")
            .field("endpoint", endpoint)
            .field("region", region)
            .field("bucket", bucket)
            .field("access_key_id", access_key_id)
            .field("secret_access_key", secret_access_key)
            .field("session_token", session_token)
            .field("connect_timeout", connect_timeout)
            .field("request_timeout", request_timeout)
            .finish()
    }
}
