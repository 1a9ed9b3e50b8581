//! `[server]`: where the HTTP API listens and the URL it is reached at.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, invalid};

/// Default listening address: `127.0.0.1:6011`.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 6011));

/// `[server]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address the HTTP API listens on.
    pub listen: SocketAddr,
    /// Base URL used for absolute URLs in responses; empty = from the
    /// request's `Host` header.
    pub public_url: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: DEFAULT_LISTEN,
            public_url: String::new(),
        }
    }
}

impl ServerConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let url = &self.public_url;
        let has_scheme = url.starts_with("http://") || url.starts_with("https://");
        if !url.is_empty() && !has_scheme {
            return invalid(
                "server.public_url",
                format!(
                    "must be empty or start with http:// or https:// (got {url:?}), \
                     e.g. \"https://notify.example.org\""
                ),
            );
        }
        Ok(())
    }
}
