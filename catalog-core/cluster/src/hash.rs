//! [`CatalogHash`]: what a coordinator and its workers compare before one
//! runs the other's plans.

use std::fmt;

use sha2::{Digest, Sha256};

/// The version of what travels between codelake processes besides the
/// engine's own protocol (a scan sent by name: `rebuild::Wire`). Raise it
/// whenever that changes, so that processes of two builds refuse each other
/// by hash instead of failing on a plan they cannot decode.
const WIRE: u32 = 2;

/// The SHA-256 of a catalog (its `catalog.json`), the plugins that serve it
/// (name and version each), the environment it reads (`local`,
/// `production`…), codelake's version and the version of what codelake
/// sends beside the engine's protocol (`WIRE`), hex-encoded.
/// Two processes with the same hash plan and read every table the same way,
/// from the same place. Two builds of one version whose code differs
/// elsewhere are not told apart: deploy one build everywhere. `Display` shows the first 12
/// digits, enough to tell catalogs apart in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogHash(String);

impl CatalogHash {
    /// The hash of `catalog_json`, `plugins` (`(name, version)`, in any
    /// order) and `environment`'s name, by this build of codelake.
    pub fn new<N: AsRef<str>, V: AsRef<str>>(
        catalog_json: &str,
        plugins: impl IntoIterator<Item = (N, V)>,
        environment: &str,
    ) -> Self {
        let mut plugins: Vec<String> = plugins
            .into_iter()
            .map(|(name, version)| format!("{} {}", name.as_ref(), version.as_ref()))
            .collect();
        plugins.sort();
        let mut hasher = Sha256::new();
        hasher.update(catalog_json.as_bytes());
        for plugin in &plugins {
            hasher.update(b"\nplugin ");
            hasher.update(plugin.as_bytes());
        }
        hasher.update(b"\nenvironment ");
        hasher.update(environment.as_bytes());
        hasher.update(b"\ncodelake ");
        hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
        hasher.update(b"\nwire ");
        hasher.update(WIRE.to_string().as_bytes());
        let digest = hasher.finalize();
        Self(digest.iter().map(|byte| format!("{byte:02x}")).collect())
    }

    /// The hash of a catalog's specs (serialised as `catalog.json` holds
    /// them), the plugins that serve it and the environment it reads.
    pub fn of<N: AsRef<str>, V: AsRef<str>>(
        specs: &[&catalog_core::TableSpec],
        plugins: impl IntoIterator<Item = (N, V)>,
        environment: &str,
    ) -> Self {
        Self::new(
            &serde_json::to_string(specs).unwrap_or_default(),
            plugins,
            environment,
        )
    }

    /// A hash as another process sent it.
    pub fn from_wire(text: &str) -> Self {
        Self(text.trim().to_owned())
    }

    /// All 64 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CatalogHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.get(..12) {
            Some(short) => f.write_str(short),
            None if self.0.is_empty() => f.write_str("(none)"),
            None => f.write_str(&self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_follows_the_catalog_each_plugin_version_and_the_environment_not_their_order() {
        let plugins = [("csv", "0.1.0"), ("s3-parquet", "0.1.0")];
        let a = CatalogHash::new("[1]", plugins, "local");
        let b = CatalogHash::new("[1]", [("s3-parquet", "0.1.0"), ("csv", "0.1.0")], "local");
        assert_eq!(a, b);
        assert_ne!(a, CatalogHash::new("[2]", plugins, "local"));
        assert_ne!(
            a,
            CatalogHash::new("[1]", [("csv", "0.1.1"), ("s3-parquet", "0.1.0")], "local")
        );
        assert_ne!(a, CatalogHash::new("[1]", plugins, "production"));
        assert_eq!(a.as_str().len(), 64);
        assert_eq!(a.to_string().len(), 12);
        assert_eq!(CatalogHash::from_wire(a.as_str()), a);
    }
}
