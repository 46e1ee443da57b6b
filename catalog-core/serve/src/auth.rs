//! Bearer tokens: several valid at once (for rotation), compared in constant
//! time, never printed.

use std::fmt;

/// The tokens a server accepts. `Debug` shows how many, never one.
#[derive(Clone, Default)]
pub struct Tokens(Vec<String>);

impl Tokens {
    /// The non-empty, trimmed tokens of `tokens`.
    pub fn new<S: AsRef<str>>(tokens: impl IntoIterator<Item = S>) -> Self {
        Self(
            tokens
                .into_iter()
                .map(|token| token.as_ref().trim().to_owned())
                .filter(|token| !token.is_empty())
                .collect(),
        )
    }

    /// One token of 32 random bytes, hex-encoded, from the operating system's
    /// random source.
    pub fn generate() -> Result<String, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
    }

    /// Whether no token is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many tokens are valid.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether `presented` is one of the tokens. Every token is compared, each
    /// in time that depends only on the lengths, so the answer's timing says
    /// nothing about which bytes matched.
    pub fn accepts(&self, presented: &str) -> bool {
        self.0.iter().fold(false, |found, token| {
            found | equal(token.as_bytes(), presented.as_bytes())
        })
    }
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tokens({} redacted)", self.0.len())
    }
}

/// `a == b`, in time that depends on the lengths only.
fn equal(a: &[u8], b: &[u8]) -> bool {
    let mut difference = a.len() ^ b.len();
    for (index, byte) in a.iter().enumerate() {
        let other = b.get(index).copied().unwrap_or(!byte);
        difference |= usize::from(byte ^ other);
    }
    difference == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_matched_whole_and_never_shown() {
        let tokens = Tokens::new(["old-token", " new-token \n", ""]);
        assert_eq!(tokens.len(), 2);
        assert!(tokens.accepts("old-token"));
        assert!(tokens.accepts("new-token"));
        for wrong in ["", "old", "old-token-", "new-tokeN", "x"] {
            assert!(!tokens.accepts(wrong), "{wrong}");
        }
        assert!(!Tokens::default().accepts(""));
        assert_eq!(format!("{tokens:?}"), "Tokens(2 redacted)");
        let generated = Tokens::generate().unwrap();
        assert_eq!(generated.len(), 64);
        assert_ne!(generated, Tokens::generate().unwrap());
    }
}
