//! The derive's expansion, as snapshots, and its error reporting.
//!
//! Each snapshot is the pretty-printed output of [`catalog_derive_internals::expand`]
//! for one combination of attributes. Regenerate with
//! `INSTA_UPDATE=always cargo test -p catalog-derive-internals --test it`, then
//! review the diff: the expansion must stay readable and use absolute paths only.

use proc_macro2::TokenStream;
use quote::quote;

/// Snapshots a `#[derive(Table)]` input and its expansion, one after the other.
macro_rules! assert_expansion {
    ($($input:tt)*) => {{
        let input: TokenStream = quote! { $($input)* };
        let snapshot = format!(
            "// Input\n\n{}\n// Expansion\n\n{}",
            pretty(input.clone()),
            expand(input)
        );
        insta::with_settings!({ omit_expression => true }, {
            insta::assert_snapshot!(snapshot);
        });
    }};
}

/// Pretty-prints a token stream that is a sequence of items.
fn pretty(tokens: TokenStream) -> String {
    let file = syn::parse2::<syn::File>(tokens).expect("valid Rust items");
    prettyplease::unparse(&file)
}

/// Expands a `#[derive(Table)]` input and pretty-prints the result.
fn expand(input: TokenStream) -> String {
    let output = catalog_derive_internals::expand(input.clone(), &Default::default());
    assert_absolute_paths(&input, &output);
    pretty(output)
}

/// Generated code must mean the same in any module, whatever it imports or
/// shadows: every path into `catalog_core`, `std` or `core` starts with `::`.
/// Field types are the user's own tokens, copied as written, so they are
/// left out of the check.
fn assert_absolute_paths(input: &TokenStream, output: &TokenStream) {
    let mut text = output.to_string();
    if let Ok(syn::DeriveInput {
        data: syn::Data::Struct(data),
        ..
    }) = syn::parse2(input.clone())
    {
        let mut types: Vec<String> = data
            .fields
            .iter()
            .map(|field| quote::ToTokens::to_token_stream(&field.ty).to_string())
            .collect();
        // Longest first, so `Vec<u8>` does not break up `Option<Vec<u8>>`.
        types.sort_by_key(|ty| std::cmp::Reverse(ty.len()));
        for ty in types {
            text = text.replace(&ty, "FieldType");
        }
    }
    for root in ["catalog_core", "std", "core"] {
        let needle = format!("{root} ::");
        for (at, _) in text.match_indices(&needle) {
            let before = text[..at].trim_end();
            // `root` must be a whole word, not the tail of `arrow_core` etc.
            let whole_word = !before.ends_with(|c: char| c.is_alphanumeric() || c == '_');
            assert!(
                !whole_word || before.ends_with("::"),
                "relative path `{root}::` in the expansion:\n{text}"
            );
        }
    }
}

#[test]
fn s3_parquet_minimal() {
    assert_expansion! {
        /// Orders, one row per order.
        #[derive(Table)]
        #[table(database = "shop", source = "s3-parquet", location = "s3://lake/shop/orders.parquet")]
        struct Order {
            /// Order key.
            id: i64,
        }
    }
}

#[test]
fn csv_with_delimiter_and_header() {
    assert_expansion! {
        /// Nations, from a pipe-separated file without a header line.
        #[derive(Table)]
        #[table(
            database = "tpch",
            source = "csv",
            location = "nation.tbl",
            delimiter = "|",
            header = false
        )]
        struct Nation {
            /// Nation key.
            n_nationkey: i32,
            /// Nation name.
            n_name: String,
        }
    }
}

#[test]
fn http_api_with_every_option() {
    assert_expansion! {
        /// Exchange rates, one page at a time.
        #[derive(Table)]
        #[table(
            database = "fx",
            source = "http-api",
            url = "https://fx.example/v1/rates",
            rows_path = "/data/rates",
            pagination = "page",
            page_param = "page",
            auth_header = "Authorization",
            auth_env = "FX_API_TOKEN",
            timeout = "10s",
            max_retries = 5
        )]
        struct Rate {
            /// ISO currency code.
            currency: String,
            /// Units per US dollar.
            rate: f64,
        }
    }
}

#[test]
fn function_source() {
    assert_expansion! {
        /// Every day of a calendar year, computed.
        #[derive(Table)]
        #[table(database = "util", source = "function", function = "calendar_days")]
        struct CalendarDay {
            /// The day.
            day: chrono::NaiveDate,
        }
    }
}

#[test]
fn every_column_key_and_expectation() {
    assert_expansion! {
        /// Line items of orders.
        ///
        /// One row per item; the second paragraph stays in the table's doc.
        #[derive(Table)]
        #[table(
            database = "shop",
            name = "order_lines",
            source = "csv",
            location = "shop/lines.csv",
            owner = "data@shop.example",
            freshness = "1h 30m",
            freshness_column = "shipped",
            min_rows = 1,
            max_rows = 5000000
        )]
        struct LineItem {
            /// Line key.
            /// Only the first line of a column doc goes on its constant.
            #[column(unique)]
            id: i64,
            /// Quantity ordered.
            #[column(name = "qty", min = 1, max = 10000)]
            quantity: u32,
            /// Discount as a fraction.
            #[column(min = 0.0)]
            #[column(max = 0.5)]
            discount: Option<f64>,
            /// Balance after the order; may be negative.
            #[column(min = -1000000.5)]
            balance: f64,
            /// When the item shipped; freshness is measured on it, by its column name.
            #[column(name = "shipped")]
            shipped_at: Option<DateTime<Utc>>,
        }
    }
}

#[test]
fn every_field_type() {
    assert_expansion! {
        /// One column of every supported type.
        #[derive(Table)]
        #[table(database = "test", source = "function", function = "every_type")]
        struct EveryType {
            /// A flag.
            flag: bool,
            /// i8.
            tiny: i8,
            /// i16.
            small: i16,
            /// i32.
            int: i32,
            /// i64.
            big: i64,
            /// u8.
            utiny: u8,
            /// u16.
            usmall: u16,
            /// u32.
            uint: u32,
            /// u64.
            ubig: u64,
            /// f32.
            single: f32,
            /// f64.
            double: f64,
            /// Text.
            text: String,
            /// Bytes.
            bytes: Vec<u8>,
            /// A date.
            day: chrono::NaiveDate,
            /// Wall-clock time.
            local: NaiveDateTime,
            /// An instant.
            instant: chrono::DateTime<chrono::Utc>,
            /// Money.
            price: catalog_core::Decimal<15, 2>,
            /// Widest decimal, braced const arguments.
            wide: Decimal<{ 38 }, { 10 }>,
            /// Optional text.
            maybe_text: Option<String>,
            /// Optional bytes.
            maybe_bytes: std::option::Option<Vec<u8>>,
            /// Optional date.
            maybe_day: Option<NaiveDate>,
            /// Optional instant.
            maybe_instant: Option<DateTime<Utc>>,
            /// Optional money.
            maybe_price: Option<Decimal<38, 0>>,
        }
    }
}

#[test]
fn invalid_struct_expands_to_errors_and_a_stub() {
    assert_expansion! {
        /// Orders.
        #[derive(Table)]
        #[table(database = "shop", source = "csv", location = "orders.csv", freshness = "daily")]
        struct Order {
            /// Order key.
            id: i64,
            /// Free-form tags.
            tags: HashMap<String, i64>,
        }
    }
}

#[test]
fn an_enum_expands_to_an_error_without_a_stub() {
    assert_expansion! {
        /// Orders.
        #[derive(Table)]
        #[table(database = "shop", source = "csv", location = "orders.csv")]
        enum Order {
            Open { id: i64 },
        }
    }
}

#[test]
fn independent_mistakes_are_all_reported() {
    let input: syn::DeriveInput = syn::parse2(quote! {
        #[derive(Table)]
        #[table(database = "shop", source = "csv", location = "orders.csv", freshness = "daily")]
        struct Order {
            /// Order key.
            #[column(uniq)]
            id: i64,
        }
    })
    .unwrap();
    let Err(error) = catalog_derive_internals::table_def(&input, &Default::default()) else {
        panic!("three mistakes, yet the table was accepted");
    };
    let messages: Vec<String> = error.into_iter().map(|error| error.to_string()).collect();
    assert_eq!(messages.len(), 3, "{messages:#?}");
    let expected = [
        "unknown key `uniq`",
        "has no doc comment",
        "invalid `freshness`",
    ];
    for fragment in expected {
        assert!(
            messages.iter().any(|message| message.contains(fragment)),
            "no error mentions {fragment:?}: {messages:#?}"
        );
    }
}

/// The messages `table_def` reports for a struct.
fn errors(input: TokenStream) -> Vec<String> {
    let input: syn::DeriveInput = syn::parse2(input).unwrap();
    match catalog_derive_internals::table_def(&input, &Default::default()) {
        Ok(_) => Vec::new(),
        Err(error) => error.into_iter().map(|error| error.to_string()).collect(),
    }
}

#[test]
fn freshness_column_takes_any_timestamp_or_date_column() {
    for ty in [
        quote! { DateTime<Utc> },
        quote! { chrono::NaiveDateTime },
        quote! { NaiveDate },
        quote! { Option<chrono::NaiveDate> },
    ] {
        let messages = errors(quote! {
            /// Orders.
            #[table(database = "shop", source = "csv", location = "orders.csv", freshness = "1h", freshness_column = "at")]
            struct Order {
                /// When.
                at: #ty,
            }
        });
        assert_eq!(messages, Vec::<String>::new(), "{ty}");
    }
}

#[test]
fn freshness_column_written_as_the_field_name_names_the_column() {
    let messages = errors(quote! {
        /// Orders.
        #[table(database = "shop", source = "csv", location = "orders.csv", freshness = "1h", freshness_column = "placed_at")]
        struct Order {
            /// When the order was placed.
            #[column(name = "placed")]
            placed_at: DateTime<Utc>,
        }
    });
    assert_eq!(
        messages,
        [
            "`freshness_column` names `placed_at`, which is not a column of this table; field `placed_at` is the column `placed`: write `freshness_column = \"placed\"`"
        ]
    );
}

#[test]
fn freshness_column_on_a_rejected_type_adds_no_second_error() {
    let messages = errors(quote! {
        /// Orders.
        #[table(database = "shop", source = "csv", location = "orders.csv", freshness = "1h", freshness_column = "at")]
        struct Order {
            /// When, in local time.
            at: DateTime<Local>,
        }
    });
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(
        messages[0].contains("only `DateTime<Utc>`"),
        "{messages:#?}"
    );
}

#[test]
fn freshness_column_with_a_rejected_freshness_is_not_missing_it() {
    // A value that does not parse as a duration, and one that is not even a string.
    for (freshness, error) in [
        (quote! { "daily" }, "invalid `freshness`"),
        (quote! { 24 }, "`freshness` takes a string"),
    ] {
        let messages = errors(quote! {
            /// Orders.
            #[table(database = "shop", source = "csv", location = "orders.csv", freshness = #freshness, freshness_column = "at")]
            struct Order {
                /// When.
                at: DateTime<Utc>,
            }
        });
        assert_eq!(messages.len(), 1, "{messages:#?}");
        assert!(messages[0].contains(error), "{messages:#?}");
    }
}

#[test]
fn a_valid_table_has_no_errors() {
    let input: syn::DeriveInput = syn::parse2(quote! {
        /// Orders.
        #[table(database = "shop", source = "csv", location = "orders.csv")]
        struct Order {
            /// Order key.
            id: i64,
        }
    })
    .unwrap();
    let def = catalog_derive_internals::table_def(&input, &Default::default()).unwrap();
    assert_eq!(def.spec.qualified_name(), "shop.order");
    assert_eq!(def.fields[0].constant, "ID");
}

#[test]
fn a_views_sql_file_is_found_beside_its_module_or_named_with_both_paths() {
    let input: syn::DeriveInput = syn::parse2(quote! {
        /// Orders per day.
        #[derive(Table)]
        #[table(database = "shop", view = "shop/orders_per_day.sql")]
        struct OrdersPerDay {
            /// Orders.
            orders: i64,
        }
    })
    .unwrap();
    let origin = catalog_derive_internals::Origin {
        file: Some("/nowhere/catalog/src/shop.rs".into()),
        root: "/nowhere/catalog".into(),
    };
    let Err(error) = catalog_derive_internals::table_def(&input, &origin) else {
        panic!("a view whose SQL file does not exist was accepted");
    };
    let message = error.to_string();
    assert!(
        message.starts_with("cannot read the view's SQL file src/shop/orders_per_day.sql: "),
        "{message}"
    );
    assert!(
        message.ends_with("the path is relative to src/shop.rs, the file that declares the view"),
        "{message}"
    );
}

/// The messages for a table with `keys` added to a valid `#[table(..)]`.
fn errors_with(keys: TokenStream) -> Vec<String> {
    errors(quote! {
        /// Rates.
        #[table(database = "fx", source = "csv", location = "rates.csv", freshness = "15m", #keys)]
        struct Rate {
            /// Currency.
            currency: String,
        }
    })
}

#[test]
fn an_accelerated_table_keeps_its_kind_and_refresh_in_its_spec() {
    let input: syn::DeriveInput = syn::parse2(quote! {
        /// Rates.
        #[table(database = "fx", source = "csv", location = "rates.csv", accelerate = "memory", refresh = "5m")]
        struct Rate {
            /// Currency.
            currency: String,
        }
    })
    .unwrap();
    let def = catalog_derive_internals::table_def(&input, &Default::default()).unwrap();
    assert_eq!(def.spec.accelerate, Some(catalog_core::Accelerate::Memory));
    assert_eq!(def.spec.refresh.as_ref().map(|r| r.seconds), Some(300));
    assert_eq!(
        def.spec.acceleration().as_deref(),
        Some("memory, refreshed every 5m")
    );
}

#[test]
fn accelerate_and_refresh_are_checked_together_and_against_freshness() {
    let cases = [
        (
            quote! { accelerate = "disk", refresh = "5m" },
            "invalid `accelerate`: `disk` is not a place to keep a copy: use \"memory\"",
        ),
        (
            quote! { accelerate = "memory" },
            "an accelerated table needs `refresh = \"…\"`: how often its copy is read again from the source, e.g. `refresh = \"15m\"`",
        ),
        (
            quote! { refresh = "5m" },
            "`refresh` says how often a table's copy is read again, and this table keeps none: add `accelerate = \"memory\"`, or remove `refresh`",
        ),
        (
            quote! { accelerate = "memory", refresh = "1h" },
            "`refresh = \"1h\"` is not shorter than `freshness = \"15m\"`: the copy would be older than the data may be; refresh more often than the freshness bound",
        ),
        (
            quote! { accelerate = "memory", refresh = "0s" },
            "invalid `refresh`: `0s` is zero; use a positive duration such as \"24h\"",
        ),
        (
            quote! { accelerate = "memory", refresh = "1500ms" },
            "invalid `refresh`: `1500ms` has a fraction of a second; use whole seconds, e.g. \"2s\"",
        ),
    ];
    for (keys, expected) in cases {
        assert_eq!(errors_with(keys.clone()), [expected], "{keys}");
    }
    assert_eq!(
        errors_with(quote! { accelerate = "memory", refresh = "5m" }),
        Vec::<String>::new()
    );
}

/// A Delta table's log is read again on `refresh`, with or without a copy;
/// its time-travel options are checked like any other.
#[test]
fn a_delta_table_takes_refresh_alone_and_one_pinned_version() {
    let input: syn::DeriveInput = syn::parse2(quote! {
        /// Orders.
        #[table(database = "lake", source = "delta", location = "s3://lake/orders/", refresh = "1m")]
        struct Order {
            /// Key.
            key: i64,
        }
    })
    .unwrap();
    let def = catalog_derive_internals::table_def(&input, &Default::default()).unwrap();
    assert_eq!(def.spec.refresh.as_ref().map(|r| r.seconds), Some(60));
    assert_eq!(def.spec.accelerate, None);
    let errors = errors(quote! {
        /// Orders.
        #[table(database = "lake", source = "delta", location = "s3://lake/orders/", version = 3, timestamp = "2026-01-01T00:00:00Z")]
        struct Order {
            /// Key.
            key: i64,
        }
    });
    assert!(
        errors.iter().any(|error| error.contains("keep one")),
        "{errors:?}"
    );
}

#[test]
fn contract_keys_expand_to_the_spec_s_contract() {
    assert_expansion! {
        /// Orders.
        #[derive(Table)]
        #[table(database = "shop", source = "csv", location = "orders.csv")]
        #[table(contract_version = 2, allow_breaking = "column-removed:note, location-moved", replaces = "shop.sales")]
        struct Orders {
            /// Key.
            id: i64,
        }
    }
}

#[test]
fn allow_breaking_entries_are_checked_against_the_struct() {
    let contract = |keys: TokenStream| {
        errors(quote! {
            /// Orders.
            #[table(database = "shop", source = "csv", location = "orders.csv", #keys)]
            struct Orders {
                /// Key.
                id: i64,
                /// Amount.
                #[column(min = 0)]
                amount: f64,
            }
        })
    };
    let valid = contract(quote! {
        contract_version = 3,
        allow_breaking = "column-removed:note, column-retyped:amount, expectation-loosened:amount, expectation-loosened:min_rows",
        replaces = "shop.sales"
    });
    assert!(valid.is_empty(), "{valid:?}");
    for (keys, expected) in [
        (
            quote! { allow_breaking = "column-removed:id" },
            "`column-removed:id`: `id` is still a column; remove its field, or this entry",
        ),
        (
            quote! { allow_breaking = "column-nullable:nope" },
            "`nope` is not a column of this table; its columns are id, amount",
        ),
        (
            quote! { allow_breaking = "expectation-loosened:staleness" },
            "`staleness` is neither freshness, min_rows, max_rows nor a column",
        ),
        (
            quote! { allow_breaking = "column-dropped:id" },
            "names no change a table can acknowledge; write one of `column-removed:COLUMN`",
        ),
        (
            quote! { allow_breaking = "table-removed" },
            "declare `replaces = \"database.old_name\"` on the table that takes over from it",
        ),
        (
            quote! { allow_breaking = "location-moved, location-moved" },
            "lists `location-moved` twice",
        ),
        (
            quote! { allow_breaking = " , " },
            "`allow_breaking` is empty",
        ),
        (
            quote! { contract_version = 0 },
            "`contract_version = 0` is out of range: versions start at 1",
        ),
        (
            quote! { replaces = "sales" },
            "`replaces = \"sales\"` is not a table name: write `database.name`",
        ),
        (
            quote! { replaces = "shop.orders" },
            "names this table itself",
        ),
    ] {
        let errors = contract(keys.clone());
        assert!(
            errors.len() == 1 && errors[0].contains(expected),
            "{keys}: {errors:?}"
        );
    }
}
