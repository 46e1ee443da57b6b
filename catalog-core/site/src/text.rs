//! The text of the pages: docs as paragraphs with code spans, summaries,
//! labels, the snippets to copy, and source options with credentials hidden.

use catalog_core::TableSpec;

/// The first paragraph of a doc comment, on one line: what lists show.
pub(crate) fn summary(doc: &str) -> String {
    let first = doc.trim().split("\n\n").next().unwrap_or_default();
    first.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A doc comment as paragraphs, each on one line.
pub(crate) fn paragraphs(doc: &str) -> Vec<Rich> {
    doc.trim()
        .split("\n\n")
        .map(|paragraph| {
            let lines: Vec<&str> = paragraph.lines().map(str::trim).collect();
            lines.join(" ")
        })
        .filter(|paragraph| !paragraph.is_empty())
        .map(|paragraph| Rich::new(&paragraph))
        .collect()
}

/// A doc as one line.
pub(crate) fn paragraphs_joined(doc: &str) -> String {
    doc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Doc text with its `code spans`: the one piece of Markdown docs use
/// everywhere. The template escapes each piece; nothing is raw HTML.
pub(crate) struct Rich(pub(crate) Vec<(bool, String)>);

impl Rich {
    pub(crate) fn new(text: &str) -> Self {
        let pieces = text.split('`').collect::<Vec<_>>();
        // An odd number of backticks: the last one is a literal.
        let balanced = pieces.len() % 2 == 1;
        let mut out = Vec::new();
        for (index, piece) in pieces.iter().enumerate() {
            let code = index % 2 == 1 && (balanced || index + 1 < pieces.len());
            if !code && index % 2 == 1 {
                out.push((false, format!("`{piece}")));
            } else if !piece.is_empty() {
                out.push((code, (*piece).to_owned()));
            }
        }
        Self(out)
    }
}

/// A node's label: the name, cut to fit the node (the full name is its title).
pub(crate) fn label(name: &str) -> String {
    // 13 px monospace in a 220 px box, with its padding.
    const FITS: usize = 26;
    if name.chars().count() <= FITS {
        return name.to_owned();
    }
    let mut cut: String = name.chars().take(FITS - 1).collect();
    cut.push('…');
    cut
}

pub(crate) fn freshness(spec: &TableSpec) -> Option<String> {
    let expectations = &spec.expectations;
    let freshness = expectations.freshness.as_ref()?;
    Some(match &expectations.freshness_column {
        Some(column) => format!(
            "newest data at most {} old, judged by the largest `{column}`",
            freshness.text
        ),
        None => format!(
            "newest data at most {} old, judged by the newest object's time",
            freshness.text
        ),
    })
}

/// The location (`location`, `url` or `function`) and the other options,
/// with anything that looks like a credential hidden. Specs hold no secrets
/// by design (credentials come from the environment), but a site is
/// published: this is the last line of defence, not the first.
pub(crate) fn source_facts(spec: &TableSpec) -> (Option<String>, Vec<(String, String)>) {
    let mut location = None;
    let mut options = Vec::new();
    for option in spec.options.iter() {
        let value = redact(&option.key, &option.value);
        match &*option.key {
            "location" | "url" | "function" if location.is_none() => location = Some(value),
            _ => options.push((option.key.to_string(), value)),
        }
    }
    (location, options)
}

/// `value` with credentials hidden: the whole value when its key names one,
/// else a URL's user info and any query parameter that names one.
pub(crate) fn redact(key: &str, value: &str) -> String {
    const SECRET_WORDS: [&str; 9] = [
        "password",
        "passwd",
        "secret",
        "token",
        "credential",
        "apikey",
        "api_key",
        "signature",
        "private_key",
    ];
    // Query parameters that carry a credential under a short name (S3 and
    // Azure presigned URLs, API keys).
    const SECRET_PARAMETERS: [&str; 4] = ["sig", "key", "auth", "x-amz-security-token"];
    // `auth_env` names the variable that holds a token, not the token.
    let secret = |name: &str| {
        let name = name.to_ascii_lowercase();
        SECRET_WORDS.iter().any(|word| name.contains(word)) && !name.ends_with("_env")
    };
    let secret_parameter =
        |name: &str| secret(name) || SECRET_PARAMETERS.contains(&&*name.to_ascii_lowercase());
    if secret(key) {
        return "(hidden)".into();
    }
    let mut value = value.to_owned();
    if let Some(scheme_end) = value.find("://") {
        let rest = &value[scheme_end + 3..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            value = format!("{}***{}", &value[..scheme_end + 3], &rest[at..]);
        }
    }
    if let Some((base, query)) = value.split_once('?') {
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if secret_parameter(name) => format!("{name}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        value = format!("{base}?{}", query.join("&"));
    }
    value
}

/// A name as SQL writes it: bare when it is a plain lower-case identifier.
fn sql_name(name: &str) -> String {
    let plain = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    match plain {
        true => name.to_owned(),
        false => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

pub(crate) fn sql_snippet(spec: &TableSpec) -> String {
    let columns: Vec<String> = spec.columns.iter().map(|c| sql_name(&c.name)).collect();
    format!(
        "SELECT {}\nFROM {}.{}\nLIMIT 100;",
        columns.join(", "),
        sql_name(&spec.database),
        sql_name(&spec.name)
    )
}

pub(crate) fn rust_snippet(spec: &TableSpec) -> String {
    let krate = spec.rust_type.split("::").next().unwrap_or("tables");
    format!(
        "use catalog_runtime::Rows as _;\n\n\
         // `ctx`: a session with the catalog's tables registered.\n\
         let rows: Vec<{}> =\n    {krate}::catalog().{}().{}().rows(&ctx).await?;",
        spec.rust_type, spec.database, spec.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_credentials_in_options() {
        assert_eq!(redact("password", "hunter2"), "(hidden)");
        assert_eq!(redact("auth_env", "FX_TOKEN"), "FX_TOKEN");
        assert_eq!(
            redact("url", "https://me:pw@host/x?api_key=1&page=2"),
            "https://***@host/x?api_key=***&page=2"
        );
        assert_eq!(
            redact("location", "s3://bucket/a@b.parquet"),
            "s3://bucket/a@b.parquet"
        );
        assert_eq!(
            redact(
                "url",
                "https://acct.blob/x?sv=1&sig=abc&X-Amz-Signature=def"
            ),
            "https://acct.blob/x?sv=1&sig=***&X-Amz-Signature=***"
        );
    }

    #[test]
    fn quotes_names_sql_would_fold() {
        assert_eq!(sql_name("l_orderkey"), "l_orderkey");
        assert_eq!(sql_name("Order Key"), "\"Order Key\"");
    }

    #[test]
    fn summarises_the_first_line() {
        assert_eq!(
            summary("  One line,\n wrapped.\n\nNext."),
            "One line, wrapped."
        );
        let texts: Vec<Vec<(bool, String)>> = paragraphs("a\nb\n\nc `d` `e")
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(
            texts,
            [
                vec![(false, "a b".to_owned())],
                vec![
                    (false, "c ".into()),
                    (true, "d".into()),
                    (false, " ".into()),
                    (false, "`e".into())
                ]
            ]
        );
    }
}
