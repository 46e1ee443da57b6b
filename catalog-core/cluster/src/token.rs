//! [`ClusterToken`]: the secret a coordinator and its workers share.

use std::fmt;

use http::HeaderValue;

/// The bearer token every call to a worker carries, coordinator to worker and
/// worker to worker. `Debug` never shows it.
#[derive(Clone)]
pub struct ClusterToken(String);

impl ClusterToken {
    /// The token, trimmed; `None` when it is empty. A token an HTTP header
    /// cannot carry is an error, never dropped: the workers would then be
    /// called without one.
    pub fn new(token: &str) -> Result<Option<Self>, crate::ClusterError> {
        let token = token.trim();
        if token.is_empty() {
            return Ok(None);
        }
        let token = Self(token.to_owned());
        match token.header() {
            Some(_) => Ok(Some(token)),
            None => Err(crate::ClusterError::BadToken),
        }
    }

    /// Whether `presented` (an `authorization` header's value) is this token,
    /// compared in time that depends on the lengths only.
    pub(crate) fn accepts(&self, presented: &str) -> bool {
        let presented = presented.strip_prefix("Bearer ").unwrap_or_default();
        catalog_serve::Tokens::new([&self.0]).accepts(presented)
    }

    /// The `authorization` header's value, marked sensitive (never logged by
    /// the HTTP stack); `None` only for a token [`ClusterToken::new`] refuses.
    pub(crate) fn header(&self) -> Option<HeaderValue> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.0)).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}

impl fmt::Debug for ClusterToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClusterToken(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_none_and_a_token_no_header_can_carry_is_refused_unshown() {
        assert!(ClusterToken::new("  ").unwrap().is_none());
        let token = ClusterToken::new(" s3cret ").unwrap().unwrap();
        assert!(token.accepts("Bearer s3cret"));
        assert!(!token.accepts("s3cret"));
        let error = ClusterToken::new("line\nbreak").unwrap_err().to_string();
        assert!(error.contains("CODELAKE_WORKER_TOKEN"), "{error}");
        assert!(!error.contains("break"), "{error}");
        assert_eq!(format!("{token:?}"), "ClusterToken(redacted)");
    }
}
