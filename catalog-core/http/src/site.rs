//! `GET /` and the rest of the catalog site (`catalog-site`), from memory.
//!
//! The site shows the catalog's metadata, which `GET /v1/tables` guards with
//! the token, so the site is guarded too. A browser cannot send a bearer
//! token, so the site also takes HTTP Basic credentials whose password is the
//! token (any user name): the browser asks for them once, on the 401's
//! `WWW-Authenticate: Basic` challenge.

use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use catalog_serve::QueryService;
use catalog_site::Site;

/// The site's file for `uri`; a 401 without an accepted token, whatever the
/// path (so that a 404 cannot tell a stranger which tables exist); `None`
/// when the site has no such file, or for a method other than GET and HEAD.
pub(crate) fn answer(
    service: &QueryService,
    site: &Site,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Option<Response> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    if let Err(error) = service.authenticate(token(headers).as_deref()) {
        service.metrics().error(crate::FRONT_END, error.code);
        let mut response = crate::error_response(&error);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Basic realm=\"codelake catalog: any user name, the token as password\", charset=\"UTF-8\"",
            ),
        );
        return Some(response);
    }
    let path = match uri.path().trim_start_matches('/') {
        "" => "index.html",
        path => path,
    };
    let (bytes, content_type) = site.file(path)?;
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "no-cache"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    Some((headers, bytes.to_vec()).into_response())
}

/// The token of a bearer header, or the password of a Basic one.
fn token(headers: &HeaderMap) -> Option<String> {
    if let Some(token) = crate::bearer(headers) {
        return Some(token.to_owned());
    }
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (_user, password) = decoded.split_once(':')?;
    Some(password.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_token_as_a_basic_password() {
        let mut headers = HeaderMap::new();
        let basic = base64::engine::general_purpose::STANDARD.encode("anyone:s3cret:with-colon");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {basic}")).unwrap(),
        );
        assert_eq!(token(&headers).as_deref(), Some("s3cret:with-colon"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer tok"),
        );
        assert_eq!(token(&headers).as_deref(), Some("tok"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic %%%"));
        assert_eq!(token(&headers), None);
    }
}
