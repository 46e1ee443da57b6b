use super::*;
use crate::source::SOURCES;

#[test]
fn every_declared_default_parses_with_its_shape() {
    for def in SOURCES {
        for option in def.options {
            if let Some(default) = option.default {
                assert!(
                    option.value.parse(default).is_some(),
                    "{}.{}: default {default:?} is not {}",
                    def.kind,
                    option.key,
                    option.value.describe()
                );
            }
        }
    }
}

#[test]
fn every_kind_parses_with_only_its_required_options() {
    let minimal = |def: &SourceDef| -> Vec<(&str, &str)> {
        def.options
            .iter()
            .filter(|option| option.required)
            .map(|option| {
                let value = match option.value {
                    OptionValue::S3Uri => "s3://b/k.parquet",
                    OptionValue::Url => "/rows",
                    OptionValue::Ident => "f",
                    _ => "x.csv",
                };
                (option.key, value)
            })
            .collect()
    };
    for def in SOURCES {
        let given = minimal(def);
        let parsed = SourceOptions::parse(def.kind, &given);
        assert!(parsed.is_ok(), "{}: {parsed:?}", def.kind);
        let parsed = parsed.unwrap();
        assert_eq!(parsed.kind(), def.kind);
        // `SourceDef::target` and the typed `target()` name the same option.
        let written = given.iter().find(|(key, _)| *key == def.target).unwrap().1;
        assert_eq!(parsed.target(), written, "{}", def.kind);
        // And the declared location, read without parsing, is the typed one.
        let spec = crate::TableSpec {
            source: def.kind.into(),
            options: given
                .iter()
                .map(|&(key, value)| crate::SourceOption {
                    key: key.to_owned().into(),
                    value: value.to_owned().into(),
                })
                .collect::<Vec<_>>()
                .into(),
            database: "db".into(),
            name: "t".into(),
            doc: "".into(),
            rust_type: "T".into(),
            owner: None,
            expectations: crate::Expectations::default(),
            columns: std::borrow::Cow::Borrowed(&[]),
            view: None,
            accelerate: None,
            refresh: None,
            contract: crate::Contract::NONE,
        };
        assert_eq!(
            super::super::declared_location(&spec),
            parsed.location(),
            "{}",
            def.kind
        );
    }
}

#[test]
fn the_target_is_a_required_option() {
    for def in SOURCES {
        let target = def.options.iter().find(|option| option.key == def.target);
        assert!(target.is_some_and(|option| option.required), "{}", def.kind);
    }
}

#[test]
fn defaults_come_from_the_table() {
    let SourceOptions::HttpApi(http) = SourceOptions::parse("http-api", &[("url", "/x")]).unwrap()
    else {
        panic!("http-api parses as http-api");
    };
    assert_eq!(http.timeout, Duration::from_secs(30));
    assert_eq!(http.max_retries, 3);
    assert_eq!(http.rows_path, "");
    assert_eq!(http.pagination, Pagination::None);
    assert_eq!(http.auth, None);
}

#[test]
fn typed_values() {
    let parsed = SourceOptions::parse(
        "http-api",
        &[
            ("url", "https://api.example/x"),
            ("pagination", "page"),
            ("page_param", "p"),
            ("auth_header", "Authorization"),
            ("auth_env", "API_TOKEN"),
            ("timeout", "2m"),
            ("max_retries", "4294967295"),
        ],
    )
    .unwrap();
    let SourceOptions::HttpApi(http) = parsed else {
        panic!("http-api parses as http-api");
    };
    assert_eq!(http.pagination, Pagination::Page { param: "p".into() });
    assert_eq!(http.timeout, Duration::from_secs(120));
    assert_eq!(http.max_retries, u32::MAX);
    assert_eq!(
        http.auth,
        Some(HttpAuth {
            header: "Authorization".into(),
            env: "API_TOKEN".into()
        })
    );
    let SourceOptions::S3Parquet(s3) = SourceOptions::parse(
        "s3-parquet",
        &[("location", "s3://b/p/"), ("partitions", "year, month")],
    )
    .unwrap() else {
        panic!("s3-parquet parses as s3-parquet");
    };
    assert_eq!(s3.partitions, ["year", "month"]);
    let SourceOptions::Csv(csv) = SourceOptions::parse(
        "csv",
        &[
            ("location", "x.csv"),
            ("delimiter", "\t"),
            ("header", "false"),
        ],
    )
    .unwrap() else {
        panic!("csv parses as csv");
    };
    assert_eq!((csv.delimiter, csv.header), (b'\t', false));
}

/// A value the reader's type cannot hold is refused, not replaced by the default.
#[test]
fn an_out_of_range_count_is_refused_with_the_accepted_values() {
    let problems =
        SourceOptions::parse("http-api", &[("url", "/x"), ("max_retries", "4294967296")])
            .unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].kind, ProblemKind::InvalidValue);
    assert_eq!(problems[0].key.as_deref(), Some("max_retries"));
    assert_eq!(
        problems[0].message,
        "`max_retries = \"4294967296\"` is not valid: expected an integer from 0 to 4294967295"
    );
}

#[test]
fn delta_pins_one_version_or_none() {
    let parse = |options: &[(&str, &str)]| SourceOptions::parse("delta", options);
    let root = ("location", "s3://lake/orders/");
    let Ok(SourceOptions::Delta(latest)) = parse(&[root]) else {
        panic!("a root alone is a delta table");
    };
    assert_eq!(latest.version, DeltaVersion::Latest);
    assert!(latest.on_s3());
    let Ok(SourceOptions::Delta(pinned)) = parse(&[root, ("version", "3")]) else {
        panic!("a version pins the table");
    };
    assert_eq!(pinned.version, DeltaVersion::At(3));
    let Ok(SourceOptions::Delta(as_of)) =
        parse(&[root, ("timestamp", "2026-01-31T12:00:00+01:00")])
    else {
        panic!("a timestamp pins the table");
    };
    let DeltaVersion::AsOf { millis, .. } = as_of.version else {
        panic!("{:?}", as_of.version);
    };
    assert_eq!(millis, 1_769_857_200_000);
    let both = parse(&[
        root,
        ("version", "3"),
        ("timestamp", "2026-01-31T12:00:00Z"),
    ])
    .unwrap_err();
    assert!(both[0].message.contains("keep one"), "{both:?}");
    let bad = parse(&[root, ("timestamp", "yesterday")]).unwrap_err();
    assert!(bad[0].message.contains("RFC 3339"), "{bad:?}");
    let bad = parse(&[("location", "https://h/orders/")]).unwrap_err();
    assert!(bad[0].message.contains("table's root"), "{bad:?}");
}
