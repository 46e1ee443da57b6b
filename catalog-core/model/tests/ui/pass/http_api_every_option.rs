use catalog_core::Table as _;
use catalog_derive::Table;

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

/// Exchange-rate history, following `next` links; the URL is relative to the
/// environment's HTTP base URL.
#[derive(Table)]
#[table(
    database = "fx",
    source = "http-api",
    url = "/v1/history",
    rows_path = "",
    pagination = "next_link",
    next_link_path = "/links/next"
)]
struct RateHistory {
    /// ISO currency code.
    currency: String,
}

fn main() {
    let spec = Rate::SPEC;
    for (key, value) in [
        ("url", "https://fx.example/v1/rates"),
        ("rows_path", "/data/rates"),
        ("pagination", "page"),
        ("page_param", "page"),
        ("auth_header", "Authorization"),
        ("auth_env", "FX_API_TOKEN"),
        ("timeout", "10s"),
        ("max_retries", "5"),
    ] {
        assert_eq!(spec.option(key), Some(value), "{key}");
    }
    let history = RateHistory::SPEC;
    assert_eq!(history.option("next_link_path"), Some("/links/next"));
    assert_eq!(history.option("rows_path"), Some(""));
}
