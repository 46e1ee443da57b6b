//! The SDK's errors, and how any error becomes the ABI's at the boundary.

use codelake_plugin_abi::{ErrorKind, PluginError};
use stabby::string::String as SString;

/// Why a plugin call failed, on the SDK's side or in the plugin's own code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The host sent JSON this plugin cannot read.
    #[error("the host sent {what} this plugin cannot read: {source}")]
    Protocol {
        /// What: "a spec", "an environment", "a request".
        what: &'static str,
        /// The decoder's error.
        #[source]
        source: serde_json::Error,
    },
    /// The table's source options do not parse: each option at fault and the
    /// values it accepts (the host adds the table's name).
    #[error("{0}")]
    Options(String),
    /// The table's source kind is not one this plugin serves.
    #[error("plugin `{plugin}` does not serve source `{kind}`")]
    WrongKind {
        /// The plugin.
        plugin: &'static str,
        /// The table's source kind.
        kind: String,
    },
    /// A panic, caught on the plugin's side.
    #[error("plugin `{plugin}` panicked while {during}: {message}")]
    Panic {
        /// The plugin.
        plugin: &'static str,
        /// What it was doing: "building the table", "reading the source".
        during: &'static str,
        /// The panic's message.
        message: String,
    },
    /// Reading the source for an inspection took too long.
    #[error(
        "reading the source took longer than {} s: is it reachable? If it is large, raise `verify --timeout`",
        .0.as_secs_f64()
    )]
    Timeout(std::time::Duration),
    /// The inspection could not be encoded for the host.
    #[error("cannot encode the inspection: {0}")]
    Encode(#[source] serde_json::Error),
    /// The plugin's own error.
    #[error(transparent)]
    Source(Box<dyn std::error::Error + Send + Sync>),
    /// The plugin's own error, one that [`crate::Source::unreachable`] says
    /// means the source could not be reached at all.
    #[error(transparent)]
    Unreachable(Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// What kind of failure this is, for the host.
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Protocol { .. } | Self::Encode(_) => ErrorKind::PROTOCOL,
            Self::Options(_) | Self::WrongKind { .. } => ErrorKind::OPTIONS,
            Self::Panic { .. } => ErrorKind::PANIC,
            Self::Source(_) => ErrorKind::SOURCE,
            // A source that does not answer in time was not reached.
            Self::Timeout(_) | Self::Unreachable(_) => ErrorKind::UNREACHABLE,
        }
    }

    /// The ABI's error: the kind, and the message with every cause that it
    /// does not already include.
    pub(crate) fn into_ffi(self) -> PluginError {
        PluginError {
            kind: self.kind(),
            message: SString::from(chain(&self).as_str()),
        }
    }
}

/// An error's message with each of its causes that the message does not
/// already include, `: `-separated. (A cause whose text appears in the
/// message is taken to be said already; most messages embed their source.)
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        let text = error.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        cause = error.source();
    }
    message
}
