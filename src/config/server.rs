//! `[server]`: where the HTTP API listens and the URL it is reached at.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;

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

    // --- The HTTP edge (src/server/); its types and rules are in the block below. ---
    /// `[server.tls]`: serve HTTPS on `server.listen` when a certificate is configured.
    pub tls: TlsConfig,
    /// A second, plain-HTTP address that only redirects to HTTPS ("" = none).
    pub redirect_http_listen: String,
    /// IP addresses or CIDRs of reverse proxies whose `X-Forwarded-For` / `X-Forwarded-Proto`
    /// are believed (e.g. `["127.0.0.1"]`); empty = never believed.
    pub trusted_proxies: Vec<String>,
    /// Host names (without port) the web pages answer to; empty = localhost, 127.0.0.1,
    /// [::1], the listen address and `public_url`'s host. `"*"` allows any host.
    pub allowed_hosts: Vec<String>,
    /// Seconds a client has to send a complete request head once it started sending it (and to
    /// finish a TLS handshake).
    pub header_read_timeout_secs: u64,
    /// Seconds a connection may stay open with no request in progress.
    pub idle_timeout_secs: u64,
    /// Connections served at once (lowered to 3/4 of the open-files limit when that is less);
    /// beyond it new connections wait to be accepted.
    pub max_connections: usize,
    /// `[server.bodies]`: request body limits.
    pub bodies: BodyLimitsConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: DEFAULT_LISTEN,
            public_url: String::new(),
            tls: TlsConfig::default(),
            redirect_http_listen: String::new(),
            trusted_proxies: Vec::new(),
            allowed_hosts: Vec::new(),
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 4096,
            bodies: BodyLimitsConfig::default(),
        }
    }
}

// ---------------------------------------------------------------------------
// The HTTP edge: the `[server]` settings read by src/server/ (TLS, proxies, hosts, connection
// hygiene, request bodies). One self-contained block.
// ---------------------------------------------------------------------------

/// `[server.tls]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain (server certificate first); empty = plain HTTP.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of the certificate.
    pub key_file: PathBuf,
    /// How often the files are checked for a new certificate, in seconds (SIGHUP checks at
    /// once).
    pub reload_check_secs: u64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            cert_file: PathBuf::new(),
            key_file: PathBuf::new(),
            reload_check_secs: 10,
        }
    }
}

impl TlsConfig {
    pub fn enabled(&self) -> bool {
        !self.cert_file.as_os_str().is_empty()
    }
}

/// `[server.bodies]`: the largest request body per kind of route, in KiB, and the memory all
/// bodies being read or handled may hold at once, in MiB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BodyLimitsConfig {
    /// Public API (`/v2/...`): a 2 MB file or precompiled letter, base64, with room.
    pub v2_kib: u64,
    /// Internal API JSON.
    pub internal_kib: u64,
    /// Sheet uploads (`/service/{id}/job/upload`, `/service/{id}/contact-list`).
    pub sheet_upload_kib: u64,
    /// Provider receipts and inbound messages (`/notifications/...`).
    pub receipts_kib: u64,
    /// Web page forms (`/d/...`).
    pub forms_kib: u64,
    /// Memory held by request bodies in flight, in MiB. Requests beyond it wait.
    pub in_flight_mib: u64,
}

impl Default for BodyLimitsConfig {
    fn default() -> Self {
        BodyLimitsConfig {
            v2_kib: 12 * 1024,
            internal_kib: 2 * 1024,
            sheet_upload_kib: 100 * 1024,
            receipts_kib: 1024,
            forms_kib: 16,
            in_flight_mib: 128,
        }
    }
}

impl ServerConfig {
    /// The edge's rules that types do not enforce: (setting, message) of the first broken one.
    fn check_edge(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, message: String| Err((format!("server.{key}"), message));
        if self.tls.cert_file.as_os_str().is_empty() != self.tls.key_file.as_os_str().is_empty() {
            return bad(
                "tls",
                "cert_file and key_file go together: set both or neither".into(),
            );
        }
        if !self.redirect_http_listen.is_empty() {
            if !self.tls.enabled() {
                return bad(
                    "redirect_http_listen",
                    "redirects to HTTPS, so it needs [server.tls]".into(),
                );
            }
            if self.redirect_http_listen.parse::<SocketAddr>().is_err() {
                return bad(
                    "redirect_http_listen",
                    format!(
                        "must be an address and port such as \"0.0.0.0:80\" (got {:?})",
                        self.redirect_http_listen
                    ),
                );
            }
        }
        for cidr in &self.trusted_proxies {
            if crate::server::client::parse_proxy(cidr).is_none() {
                return bad(
                    "trusted_proxies",
                    format!("{cidr:?} is not an IP address or CIDR such as \"10.0.0.0/8\""),
                );
            }
        }
        if self.tls.reload_check_secs == 0 {
            return bad("tls.reload_check_secs", "must be at least 1".into());
        }
        if self.header_read_timeout_secs == 0 || self.idle_timeout_secs == 0 {
            return bad(
                "header_read_timeout_secs",
                "header_read_timeout_secs and idle_timeout_secs must be at least 1".into(),
            );
        }
        if self.max_connections == 0 {
            return bad("max_connections", "must be at least 1".into());
        }
        let b = &self.bodies;
        let largest = [
            b.v2_kib,
            b.internal_kib,
            b.sheet_upload_kib,
            b.receipts_kib,
            b.forms_kib,
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        if [
            b.v2_kib,
            b.internal_kib,
            b.sheet_upload_kib,
            b.receipts_kib,
            b.forms_kib,
        ]
        .contains(&0)
        {
            return bad("bodies", "every body limit must be at least 1 KiB".into());
        }
        if b.in_flight_mib.saturating_mul(1024) < largest {
            return bad(
                "bodies.in_flight_mib",
                format!(
                    "must hold the largest body limit ({largest} KiB), or that body could never \
                     be read"
                ),
            );
        }
        Ok(())
    }
}

impl ServerConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if let Err((key, message)) = self.check_edge() {
            return invalid(&key, message);
        }
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
