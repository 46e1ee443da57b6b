use super::*;

fn in_dir(dir: &Path) -> ConfigBuilder {
    ConfigBuilder::new().project_dir(dir)
}

#[test]
fn defaults_to_the_embedded_local_profile() {
    let dir = tempfile::tempdir().unwrap();
    let config = in_dir(dir.path()).build().unwrap();
    assert_eq!(config.profile, "local");
    assert!(config.embedded);
    assert_eq!(config.data_dir, dir.path().join(LOCAL_DATA_DIR));
    assert_eq!(config.file, None);
}

#[test]
fn layers_override_in_order_file_then_variables_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(CONFIG_FILE),
        r#"
default_profile = "staging"
[profiles.staging]
data_dir = "staged"
http_base_url = "https://fx.staging.example"
[profiles.staging.s3]
endpoint = "https://s3.staging.example"
region = "eu-west-1"
bucket = "lake-staging"
"#,
    )
    .unwrap();
    let nested = dir.path().join("a/b");
    std::fs::create_dir_all(&nested).unwrap();

    // The file is found from a subdirectory; its paths are relative to it.
    let config = in_dir(&nested).build().unwrap();
    assert_eq!(config.profile, "staging");
    assert!(!config.embedded);
    assert_eq!(config.data_dir, dir.path().join("staged"));
    assert_eq!(config.s3.bucket.as_deref(), Some("lake-staging"));
    assert_eq!(config.file, Some(dir.path().join(CONFIG_FILE)));

    // Our variables beat the file, which beats AWS_ variables.
    let config = in_dir(&nested)
        .vars([
            ("CODELAKE_S3_REGION", "us-west-2"),
            ("AWS_REGION", "ap-south-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
            ("AWS_ACCESS_KEY_ID", "AKIA-from-aws"),
            ("AWS_SECRET_ACCESS_KEY", "aws-secret"),
        ])
        .build()
        .unwrap();
    assert_eq!(config.s3.region.as_deref(), Some("us-west-2"));
    assert_eq!(
        config.s3.endpoint.as_deref(),
        Some("https://s3.staging.example")
    );
    assert_eq!(config.s3.access_key_id.as_deref(), Some("AKIA-from-aws"));
    // Credentials come as a pair: a lone CODELAKE_ secret does not borrow AWS's
    // key id; it is half a credential, an error that names both halves and
    // never the secret.
    let error = in_dir(&nested)
        .vars([
            ("CODELAKE_S3_SECRET_ACCESS_KEY", "ours-do-not-print"),
            ("AWS_ACCESS_KEY_ID", "AKIA-from-aws"),
        ])
        .build()
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "CODELAKE_S3_ACCESS_KEY_ID / CODELAKE_S3_SECRET_ACCESS_KEY: \
         CODELAKE_S3_SECRET_ACCESS_KEY is set but CODELAKE_S3_ACCESS_KEY_ID is not; \
         set both, or neither for unsigned requests"
    );
    // The embedded `local` profile holds its own credentials: a stray half is ignored there.
    in_dir(dir.path())
        .vars([
            ("CODELAKE_ENV", "local"),
            ("AWS_ACCESS_KEY_ID", "AKIA-from-aws"),
        ])
        .build()
        .unwrap();
    let error = in_dir(&nested)
        .vars([("AWS_ACCESS_KEY_ID", "AKIA-from-aws")])
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"),
        "{error}"
    );

    // Flags beat variables.
    let config = in_dir(&nested)
        .vars([
            ("CODELAKE_ENV", "production"),
            ("CODELAKE_DATA_DIR", "from-var"),
        ])
        .profile("local")
        .data_dir("/flagged")
        .build()
        .unwrap();
    assert_eq!(config.profile, "local");
    assert!(config.embedded);
    assert_eq!(config.data_dir, PathBuf::from("/flagged"));

    // A relative flag or variable is relative to where codelake runs, not to the file.
    let config = in_dir(&nested)
        .vars([("CODELAKE_DATA_DIR", "scratch")])
        .build()
        .unwrap();
    assert_eq!(config.data_dir, nested.join("scratch"));
}

#[test]
fn unknown_keys_and_profiles_are_errors_that_say_where() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(CONFIG_FILE);
    std::fs::write(&file, "[profiles.production.s3]\nendpont = \"http://x\"\n").unwrap();
    let error = in_dir(dir.path()).build().unwrap_err().to_string();
    assert!(error.contains("codelake.toml: line 2, column 1"), "{error}");
    assert!(error.contains("unknown field `endpont`"), "{error}");
    assert!(error.contains("endpoint"), "{error}");

    // A misspelt secret key is named, but its value never shown.
    std::fs::write(
        &file,
        "[profiles.production.s3]\nsecret_acess_key = \"hunter2\"\n",
    )
    .unwrap();
    let error = in_dir(dir.path()).build().unwrap_err().to_string();
    assert!(error.contains("secret_acess_key"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");

    std::fs::write(&file, "[profiles.staging]\n").unwrap();
    let error = in_dir(dir.path())
        .vars([("CODELAKE_ENV", "prod")])
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("no profile `prod` (chosen by CODELAKE_ENV)"),
        "{error}"
    );
    assert!(error.contains("local, production, staging"), "{error}");
}

#[test]
fn bad_urls_name_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let error = in_dir(dir.path())
        .vars([("CODELAKE_S3_ENDPOINT", "localhost:9000")])
        .build()
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("CODELAKE_S3_ENDPOINT"), "{error}");
}

#[test]
fn secrets_are_redacted_in_debug() {
    let dir = tempfile::tempdir().unwrap();
    let config = in_dir(dir.path())
        .vars([
            ("CODELAKE_ENV", "production"),
            ("CODELAKE_S3_ACCESS_KEY_ID", "AKIA-test"),
            ("CODELAKE_S3_SECRET_ACCESS_KEY", "hunter2"),
        ])
        .build()
        .unwrap();
    assert_eq!(
        config.s3.secret_access_key.as_ref().map(Secret::expose),
        Some("hunter2")
    );
    assert!(!format!("{config:?}").contains("hunter2"));
    assert!(!format!("{:?}", config.environment()).contains("hunter2"));
}

#[test]
fn s3_timeouts_come_from_the_file_or_a_variable_and_reach_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(CONFIG_FILE),
        "[profiles.production.s3]\nconnect_timeout = \"2s\"\nrequest_timeout = \"1m\"\n",
    )
    .unwrap();
    let production = || in_dir(dir.path()).vars([("CODELAKE_ENV", "production")]);
    let s3 = production().build().unwrap().environment().s3.unwrap();
    assert_eq!(s3.connect_timeout(), Duration::from_secs(2));
    assert_eq!(s3.request_timeout(), Duration::from_secs(60));
    let config = production()
        .vars([
            ("CODELAKE_ENV", "production"),
            ("CODELAKE_S3_REQUEST_TIMEOUT", "10s"),
        ])
        .build()
        .unwrap();
    assert_eq!(config.s3.request_timeout, Some(Duration::from_secs(10)));

    // Unset, the defaults of `S3Settings`.
    let s3 = in_dir(tempfile::tempdir().unwrap().path())
        .vars([("CODELAKE_ENV", "production")])
        .build()
        .unwrap()
        .environment()
        .s3
        .unwrap();
    assert_eq!(s3.request_timeout(), S3Settings::DEFAULT_REQUEST_TIMEOUT);

    std::fs::write(
        dir.path().join(CONFIG_FILE),
        "[profiles.production.s3]\nrequest_timeout = \"soon\"\n",
    )
    .unwrap();
    let error = production().build().unwrap_err().to_string();
    assert!(error.contains("line 2"), "{error}");
    assert!(error.contains("`soon` is not a duration"), "{error}");
}

#[test]
fn the_http_timeout_comes_from_the_file_or_a_variable_and_reaches_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(CONFIG_FILE),
        "[profiles.production]\nhttp_timeout = \"3s\"\n",
    )
    .unwrap();
    let production = || in_dir(dir.path()).vars([("CODELAKE_ENV", "production")]);
    let env = production().build().unwrap().environment();
    assert_eq!(env.http_timeout, Some(Duration::from_secs(3)));
    let env = production()
        .vars([
            ("CODELAKE_ENV", "production"),
            ("CODELAKE_HTTP_TIMEOUT", "250ms"),
        ])
        .build()
        .unwrap()
        .environment();
    assert_eq!(env.http_timeout, Some(Duration::from_millis(250)));
    // Unset, each table keeps its own `timeout`.
    let env = in_dir(tempfile::tempdir().unwrap().path())
        .vars([("CODELAKE_ENV", "production")])
        .build()
        .unwrap()
        .environment();
    assert_eq!(env.http_timeout, None);
    let error = production()
        .vars([
            ("CODELAKE_ENV", "production"),
            ("CODELAKE_HTTP_TIMEOUT", "soon"),
        ])
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("CODELAKE_HTTP_TIMEOUT / http_timeout: `soon` is not a duration"),
        "{error}"
    );
}
