//! [`ClusterToken`]: the secret a coordinator and its workers share.

use std::fmt;

use http::HeaderValue;

/// The bearer token every call to a worker carries, coordinator to worker and
/// worker to worker. `Debug` never shows it.
#[derive(Clone)]
pub struct ClusterToken(String);

impl ClusterToken {
    /// The token, trimmed; `None` when it is empty.
    pub fn new(token: &str) -> Option<Self> {
        let token = token.trim();
        (!token.is_empty()).then(|| Self(token.to_owned()))
    }

    /// Whether `presented` (an `authorization` header's value) is this token,
    /// compared in time that depends on the lengths only.
    pub(crate) fn accepts(&self, presented: &str) -> bool {
        let presented = presented.strip_prefix("Bearer ").unwrap_or_default();
        catalog_serve::Tokens::new([&self.0]).accepts(presented)
    }

    /// The `authorization` header's value, marked sensitive (never logged by the HTTP stack).
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
