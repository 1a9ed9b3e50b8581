//! Configuration of the appliance.
//!
//! Settings are layered, each layer overriding the ones before it:
//!
//! 1. built-in defaults ([`Config::default`]), so no file is needed;
//! 2. an optional TOML file (`notify serve --config FILE`);
//! 3. `NOTIFY_*` environment variables, with `__` between nesting levels
//!    (`NOTIFY_SERVER__LISTEN=0.0.0.0:8080`, `NOTIFY_DATA_DIR=/var/lib/notify`);
//! 4. command-line flag overrides ([`Overrides`]).
//!
//! Every section rejects keys it does not know, whether they come from the
//! file or from the environment, and the error names the key and where it
//! came from (`config: unknown setting `server.lsten` (from /etc/notify.toml)`).
//! Secrets are wrapped in [`Secret`], whose `Debug`/`Display` never print the
//! value, so `tracing::info!(?config)` is safe.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};

/// Prefix of the environment variables that are read as settings.
pub const ENV_PREFIX: &str = "NOTIFY_";
/// Separator between nesting levels in environment variable names.
pub const ENV_SEPARATOR: &str = "__";
/// Default listening address: `127.0.0.1:6011`.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 6011));
/// Default data directory (relative to the working directory).
pub const DEFAULT_DATA_DIR: &str = "./notify-data";
/// File under the data directory holding the generated admin secret.
pub const ADMIN_SECRET_FILE: &str = "admin-secret";
/// File under the data directory holding the generated encryption key.
pub const ENCRYPTION_KEY_FILE: &str = "encryption-key";
/// Length of the base64 (standard, padded) encoding of a 32-byte key.
pub const ENCRYPTION_KEY_BASE64_LEN: usize = 44;

// ---------------------------------------------------------------------------
// Secret
// ---------------------------------------------------------------------------

/// A secret string. `Debug` prints `"[redacted]"` (or `""` when empty) and
/// `Display` prints `[redacted]` (or nothing when empty); use
/// [`Secret::expose`] to get at the value. Serializes transparently.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("\"[redacted]\"")
        }
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            f.write_str("[redacted]")
        }
    }
}

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

/// The whole configuration. See `packaging/notify.toml` for a commented
/// example of every setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where all state lives.
    pub data_dir: PathBuf,
    /// What this appliance is for; checks that page a person (letters still sending) run only
    /// in `production` and `test`.
    pub environment: Environment,
    pub server: ServerConfig,
    pub log: LogConfig,
    pub admin: AdminConfig,
    pub storage: StorageConfig,
    pub secrets: SecretsConfig,
    pub blobs: BlobsConfig,
    pub providers: ProvidersConfig,
    pub sending: SendingConfig,
    pub delivery: DeliveryConfig,
    pub smtp: SmtpConfig,
    /// `[[sms_providers]]`: the HTTP SMS providers used when `providers.sms = "http"`.
    pub sms_providers: Vec<SmsProviderConfig>,
    pub sms_switching: SmsSwitchingConfig,
    pub receipts: ReceiptsConfig,
    pub callbacks: CallbacksConfig,
    pub outbox: OutboxConfig,
    pub scheduler: SchedulerConfig,
    pub retention: RetentionConfig,
    pub alerts: AlertsConfig,
    pub letters: LettersConfig,
    pub antivirus: AntivirusConfig,
    pub print: PrintConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            environment: Environment::default(),
            server: ServerConfig::default(),
            log: LogConfig::default(),
            admin: AdminConfig::default(),
            storage: StorageConfig::default(),
            secrets: SecretsConfig::default(),
            blobs: BlobsConfig::default(),
            providers: ProvidersConfig::default(),
            sending: SendingConfig::default(),
            delivery: DeliveryConfig::default(),
            smtp: SmtpConfig::default(),
            sms_providers: Vec::new(),
            sms_switching: SmsSwitchingConfig::default(),
            receipts: ReceiptsConfig::default(),
            callbacks: CallbacksConfig::default(),
            outbox: OutboxConfig::default(),
            scheduler: SchedulerConfig::default(),
            retention: RetentionConfig::default(),
            alerts: AlertsConfig::default(),
            letters: LettersConfig::default(),
            antivirus: AntivirusConfig::default(),
            print: PrintConfig::default(),
        }
    }
}

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

/// `[log]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing_subscriber::EnvFilter` directive, e.g. `info` or
    /// `notify=debug,warn`.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}

/// `environment`: one canonical name per kind of deployment (`live` is read as `production`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// A developer's machine (the embedded default).
    #[default]
    Development,
    /// A shared test environment that behaves like production.
    Test,
    Staging,
    #[serde(alias = "live")]
    Production,
}

impl Environment {
    /// Production and test environments raise operational alerts meant for people.
    pub fn raises_operational_alerts(self) -> bool {
        matches!(self, Environment::Production | Environment::Test)
    }
}

/// `log.format`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `[admin]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// The `iss` of admin JWTs.
    pub client_id: String,
    /// Signing secret of admin JWTs; empty = generated once and kept in
    /// `<data_dir>/admin-secret` (see [`Config::admin_secret_file`]).
    pub secret: Secret,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            client_id: "notify-admin".to_owned(),
            secret: Secret::default(),
        }
    }
}

/// `[storage]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Maximum operations per group commit (>= 1).
    pub max_batch: usize,
    /// How often the search indexer commits, in milliseconds (>= 10).
    pub index_commit_interval_ms: u64,
    /// Database page cache, in MiB.
    pub cache_size_mb: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            max_batch: 4096,
            index_commit_interval_ms: 1000,
            cache_size_mb: 256,
        }
    }
}

/// `[secrets]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsConfig {
    /// Base64 of 32 bytes; empty = generated once and kept in
    /// `<data_dir>/encryption-key` (see [`Config::encryption_key_file`]).
    /// Only its shape is checked here; decoding is up to the caller.
    pub encryption_key: Secret,
}

/// `[blobs]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlobsConfig {
    pub kind: BlobsKind,
    /// Directory of the local object store; empty = `<data_dir>/blobs`
    /// (see [`Config::blobs_dir`]).
    pub path: PathBuf,
    /// `[blobs.s3]`: the bucket used when `kind = "s3"`.
    pub s3: S3Config,
}

/// `[blobs.s3]`: an S3 (or S3-compatible) bucket; every logical area is a prefix in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    /// Empty = AWS for `region`; e.g. `http://127.0.0.1:9000` for an on-premises store.
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    /// Path-style requests (`endpoint/bucket/key`), which most S3-compatible servers need.
    pub path_style: bool,
    /// Allow a plain `http://` endpoint (a store on the same machine or network).
    pub allow_http: bool,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            bucket: String::new(),
            region: "eu-west-2".into(),
            endpoint: String::new(),
            access_key_id: String::new(),
            secret_access_key: Secret::default(),
            path_style: true,
            allow_http: false,
        }
    }
}

/// `blobs.kind`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobsKind {
    /// Files on the local file system.
    #[default]
    Local,
    /// One S3 or S3-compatible bucket (`[blobs.s3]`).
    S3,
}

/// `[providers]`: which delivery provider each channel uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProvidersConfig {
    pub email: EmailProviderKind,
    pub sms: SmsProviderKind,
    pub letter: ProviderKind,
}

/// `providers.email`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailProviderKind {
    /// Keep outgoing emails in the local outbox (`/outbox`).
    #[default]
    Outbox,
    /// Relay through the SMTP server of `[smtp]`.
    Smtp,
}

/// `providers.sms`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsProviderKind {
    /// Keep outgoing text messages in the local outbox (`/outbox`).
    #[default]
    Outbox,
    /// Send through the HTTP providers of `[[sms_providers]]`.
    Http,
}

/// `[delivery]`: how delivery workers retry and time out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Retries after a failed send before the notification becomes `technical-failure`.
    pub max_retries: u32,
    /// Seconds between retries.
    pub retry_delay_seconds: u64,
    /// Emails handed to the provider at once.
    pub email_concurrency: usize,
    /// Text messages handed to providers at once.
    pub sms_concurrency: usize,
    /// Emails and texts still `sending`/`pending` after this many hours become `temporary-failure`
    /// (checked by the `timeout-sending-notifications` scheduled job).
    pub sending_timeout_hours: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            max_retries: 48,
            retry_delay_seconds: 300,
            email_concurrency: 32,
            sms_concurrency: 32,
            sending_timeout_hours: 72,
        }
    }
}

/// `[smtp]`: the relay used when `providers.email = "smtp"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// Empty = no authentication.
    pub username: String,
    pub password: Secret,
    /// PEM file of an extra CA certificate to trust (e.g. a relay's self-signed certificate);
    /// empty = the system's CA store only.
    pub ca_file: PathBuf,
    /// Connections kept open to the relay.
    pub pool_size: u32,
    pub timeout_seconds: u64,
    /// True: the relay accepting an email means `delivered`. False: it means `sending`, and
    /// delivery receipts (e.g. Amazon SES through SNS) decide the final status.
    pub delivered_on_accept: bool,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: 25,
            tls: SmtpTls::Starttls,
            username: String::new(),
            password: Secret::default(),
            ca_file: PathBuf::new(),
            pool_size: 8,
            timeout_seconds: 30,
            delivered_on_accept: true,
        }
    }
}

/// `smtp.tls`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP: only for a relay on the same machine.
    None,
    /// STARTTLS, required.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
}

/// One `[[sms_providers]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsProviderConfig {
    /// Recorded as the notification's `sent_by`, and the receipt path for `mmg`/`firetext`.
    pub name: String,
    pub kind: SmsApiKind,
    /// The provider's send URL.
    pub url: String,
    #[serde(default)]
    pub api_key: Secret,
    /// Share of traffic, 0–100; also the resting point the share drifts back to.
    pub priority: u32,
    #[serde(default)]
    pub supports_international: bool,
    #[serde(default = "default_sms_timeout")]
    pub timeout_seconds: u64,
}

fn default_sms_timeout() -> u64 {
    10
}

/// `sms_providers.kind`: the request format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsApiKind {
    Mmg,
    Firetext,
    /// JSON POST with a bearer token: `{"id","to","from","body","reference"}`.
    Webhook,
}

/// `[sms_switching]`: when traffic moves between SMS providers (workers.md §7.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsSwitchingConfig {
    /// More failed sends than this within `error_window_seconds` moves traffic away.
    pub error_threshold: u32,
    pub error_window_seconds: u64,
    /// Points moved per change.
    pub step: u32,
    /// No error-driven change within this many seconds of the previous change.
    pub min_seconds_between_changes: u64,
    /// How often shares drift back towards their resting points, in seconds.
    pub drift_every_seconds: u64,
    /// Drift only after this many seconds without a change.
    pub drift_after_quiet_seconds: u64,
}

impl Default for SmsSwitchingConfig {
    fn default() -> Self {
        SmsSwitchingConfig {
            error_threshold: 50,
            error_window_seconds: 60,
            step: 10,
            min_seconds_between_changes: 60,
            drift_every_seconds: 300,
            drift_after_quiet_seconds: 900,
        }
    }
}

/// `[receipts]`: delivery receipts and inbound texts posted by providers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReceiptsConfig {
    /// HTTP basic auth required on the receipt routes (`/notifications/sms/*`,
    /// `/notifications/email/ses`); empty = none.
    pub username: String,
    pub password: Secret,
}

/// `[callbacks]`: calls to services' callback URLs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallbacksConfig {
    pub timeout_seconds: u64,
    pub max_retries: u32,
    pub retry_delay_seconds: u64,
    /// Callbacks sent at once.
    pub concurrency: usize,
    /// Allow `http://` callback URLs to hosts other than loopback (https is always allowed).
    pub allow_http: bool,
}

impl Default for CallbacksConfig {
    fn default() -> Self {
        CallbacksConfig {
            timeout_seconds: 5,
            max_retries: 5,
            retry_delay_seconds: 300,
            concurrency: 16,
            allow_http: false,
        }
    }
}

/// `[outbox]`: the local sink used by `outbox` providers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxConfig {
    /// Most recent messages kept; older ones are dropped.
    pub keep: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig { keep: 10_000 }
    }
}

/// `[scheduler]`: the in-process scheduler of nightly and periodic jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    /// Run scheduled jobs in this process. Off only where another process owns the data.
    pub enabled: bool,
    /// Cron lines replacing a job's default, by job name (`notify jobs list` shows the names).
    /// Six fields, seconds first, in Europe/London time: `"0 50 17 * * *"` is 17:50 every day.
    pub jobs: BTreeMap<String, String>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            enabled: true,
            jobs: BTreeMap::new(),
        }
    }
}

/// `[retention]`: how long notifications are kept when a service has not chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Whole London days kept before notifications are archived (services can choose their own).
    pub default_days: u32,
    /// Notifications looked at per batch (one snapshot read; their letter PDFs deleted together).
    pub batch_size: usize,
    /// Notifications removed per commit: small, so API writes never wait long behind the purge.
    pub write_chunk: usize,
    /// Most notifications the nightly purge removes a second; 0 = as fast as it can. The purge
    /// shares the one writer with the API, and an API write that arrives during a purge commit
    /// waits for it, so an unpaced purge (about 100,000 rows/s on two cores) slows the API's
    /// answers more than one at 60,000 rows/s, which still clears a million rows in 17 seconds.
    pub max_rows_per_second: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            default_days: 7,
            batch_size: 2000,
            write_chunk: 250,
            max_rows_per_second: 60_000,
        }
    }
}

/// `[letters]`: making letter PDFs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LettersConfig {
    /// Letters rendered or validated at once.
    pub concurrency: usize,
    /// Attempts after the first when a letter's PDF cannot be made or stored (then
    /// `technical-failure`), `retry_delay_seconds` apart.
    pub max_retries: u32,
    pub retry_delay_seconds: u64,
    /// England and Wales bank holidays (DVLA and Royal Mail days off), in GOV.UK's
    /// `bank-holidays.json` format; empty = the list built into the binary (2012–2028).
    pub bank_holidays_file: PathBuf,
}

impl Default for LettersConfig {
    fn default() -> Self {
        LettersConfig {
            concurrency: 4,
            max_retries: 15,
            retry_delay_seconds: 300,
            bank_holidays_file: PathBuf::new(),
        }
    }
}

/// DVLA's hard limit on one zip.
pub const PRINT_ZIP_HARD_LIMIT: u64 = 2 * 1024 * 1024 * 1024;

/// `[print]`: the daily print run (collation into zips) and the printer's response files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrintConfig {
    /// Where zips go: `folder` (a directory the printer collects from) or `sftp`.
    pub transport: PrintTransportKind,
    /// The `folder` transport's outgoing directory; empty = `<data_dir>/print/outgoing`.
    pub folder: PathBuf,
    /// Where the `folder` transport finds the printer's response files; empty =
    /// `<data_dir>/print/responses`. Processed files move to its `processed/` folder.
    pub responses_folder: PathBuf,
    /// A new zip starts before it would pass this size (DVLA refuses zips over 2 GB).
    pub max_zip_bytes: u64,
    /// ... or before it would hold more letters than this.
    pub max_letters_per_zip: usize,
    /// Attempts after the first to upload one zip, `retry_delay_seconds` apart; then its
    /// letters are `technical-failure` and an alert is raised.
    pub upload_retries: u32,
    pub retry_delay_seconds: u64,
    /// `sent_by` of printed letters.
    pub provider_name: String,
    /// Letters sent with a test key get a response file written by the appliance itself, so
    /// they reach `delivered` the way real letters do (nothing is printed).
    pub fake_test_key_responses: bool,
    pub sftp: PrintSftpConfig,
}

impl Default for PrintConfig {
    fn default() -> Self {
        PrintConfig {
            transport: PrintTransportKind::Folder,
            folder: PathBuf::new(),
            responses_folder: PathBuf::new(),
            max_zip_bytes: 500 * 1024 * 1024,
            max_letters_per_zip: 5000,
            upload_retries: 3,
            retry_delay_seconds: 60,
            provider_name: "dvla".into(),
            fake_test_key_responses: true,
            sftp: PrintSftpConfig::default(),
        }
    }
}

/// `print.transport`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrintTransportKind {
    #[default]
    Folder,
    Sftp,
}

/// `[print.sftp]`: the printer's SFTP server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrintSftpConfig {
    pub host: String,
    pub port: u16,
    pub username: String,
    /// OpenSSH private key file (preferred), or `password`.
    pub private_key_file: PathBuf,
    pub password: Secret,
    /// The server's host key, pinned: one OpenSSH public key line (`ssh-ed25519 AAAA...`).
    pub host_key: String,
    pub upload_dir: String,
    pub response_dir: String,
    pub timeout_seconds: u64,
}

impl Default for PrintSftpConfig {
    fn default() -> Self {
        PrintSftpConfig {
            host: String::new(),
            port: 22,
            username: String::new(),
            private_key_file: PathBuf::new(),
            password: Secret::default(),
            host_key: String::new(),
            upload_dir: "notify".into(),
            response_dir: "responses".into(),
            timeout_seconds: 30,
        }
    }
}

/// `[antivirus]`: the virus scan of precompiled letters by clamd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AntivirusConfig {
    /// Off by default so a developer's appliance needs no clamd: uploads go straight to
    /// validation. Turn it on anywhere real letters are sent.
    pub enabled: bool,
    /// clamd's TCP address (`host:port`) or the path of its unix socket.
    pub clamd: String,
    /// Seconds to wait for one scan.
    pub timeout_seconds: u64,
    /// Attempts after the first when clamd or the blob store cannot be reached (then
    /// `technical-failure`, file in `letters-scan/ERROR/`), `retry_delay_seconds` apart.
    pub max_retries: u32,
    pub retry_delay_seconds: u64,
}

impl Default for AntivirusConfig {
    fn default() -> Self {
        AntivirusConfig {
            enabled: false,
            clamd: "127.0.0.1:3310".into(),
            timeout_seconds: 60,
            max_retries: 5,
            retry_delay_seconds: 300,
        }
    }
}

/// `[alerts]`: where operator alerts go besides the log, the alerts page and the internal API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// POST each alert as JSON to this URL; empty = none.
    pub webhook_url: String,
}

/// `[sending]`: what outgoing messages look like and cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SendingConfig {
    /// Domain of the From address: `<service local part>@<email_from_domain>`.
    pub email_from_domain: String,
    /// Sender of text messages when a service has none of its own.
    pub default_sms_sender: String,
    /// Price of one text message fragment, in pounds (cost data in API responses, billing).
    pub sms_rate: f64,
    /// Prices of letters, in pounds (cost data in API responses, billing).
    pub letter_rates: LetterRates,
}

/// `[sending.letter_rates]`: the price of a one-sheet letter per postage, plus a price for
/// each further sheet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LetterRates {
    pub first: f64,
    pub second: f64,
    pub economy: f64,
    pub europe: f64,
    pub rest_of_world: f64,
    pub extra_sheet: f64,
}

impl Default for LetterRates {
    fn default() -> Self {
        LetterRates {
            first: 1.31,
            second: 0.76,
            economy: 0.59,
            europe: 1.56,
            rest_of_world: 1.56,
            extra_sheet: 0.05,
        }
    }
}

impl LetterRates {
    /// The price of one letter of `sheets` sheets (0 sheets: nothing was printed, no charge).
    pub fn letter_cost(&self, sheets: u32, postage: &str) -> f64 {
        if sheets == 0 {
            return 0.0;
        }
        let base = match postage {
            "first" => self.first,
            "economy" => self.economy,
            "europe" => self.europe,
            "rest-of-world" => self.rest_of_world,
            _ => self.second,
        };
        let cost = base + self.extra_sheet * f64::from(sheets - 1);
        (cost * 100.0).round() / 100.0
    }

    fn prices(&self) -> [(&'static str, f64); 6] {
        [
            ("first", self.first),
            ("second", self.second),
            ("economy", self.economy),
            ("europe", self.europe),
            ("rest_of_world", self.rest_of_world),
            ("extra_sheet", self.extra_sheet),
        ]
    }
}

impl Default for SendingConfig {
    fn default() -> Self {
        SendingConfig {
            email_from_domain: "notify.localhost".into(),
            default_sms_sender: "GOVUK".into(),
            sms_rate: 0.0227,
            letter_rates: LetterRates::default(),
        }
    }
}

/// `providers.*`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Keep outgoing messages in a local outbox instead of sending them.
    #[default]
    Outbox,
}

/// Command-line flag overrides, applied after the file and the environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
}

impl Config {
    /// The `folder` print transport's outgoing directory.
    pub fn print_folder(&self) -> PathBuf {
        if self.print.folder.as_os_str().is_empty() {
            self.data_dir.join("print").join("outgoing")
        } else {
            self.print.folder.clone()
        }
    }

    /// Where the printer's response files are picked up with the `folder` transport.
    pub fn print_responses_folder(&self) -> PathBuf {
        if self.print.responses_folder.as_os_str().is_empty() {
            self.data_dir.join("print").join("responses")
        } else {
            self.print.responses_folder.clone()
        }
    }

    /// Directory of the local object store: `blobs.path`, or
    /// `<data_dir>/blobs` when that is empty.
    pub fn blobs_dir(&self) -> PathBuf {
        if self.blobs.path.as_os_str().is_empty() {
            self.data_dir.join("blobs")
        } else {
            self.blobs.path.clone()
        }
    }

    /// Where the generated admin secret is kept when `admin.secret` is empty.
    pub fn admin_secret_file(&self) -> PathBuf {
        self.data_dir.join(ADMIN_SECRET_FILE)
    }

    /// Where the generated encryption key is kept when
    /// `secrets.encryption_key` is empty.
    pub fn encryption_key_file(&self) -> PathBuf {
        self.data_dir.join(ENCRYPTION_KEY_FILE)
    }

    pub fn email_domain(&self) -> &str {
        &self.sending.email_from_domain
    }

    pub fn default_sms_sender(&self) -> String {
        self.sending.default_sms_sender.clone()
    }

    pub fn sms_rate(&self) -> f64 {
        self.sending.sms_rate
    }

    /// `storage.index_commit_interval_ms` as a [`Duration`].
    pub fn index_commit_interval(&self) -> Duration {
        Duration::from_millis(self.storage.index_commit_interval_ms)
    }

    /// A configuration for tests: data in `data_dir`, an ephemeral port on
    /// 127.0.0.1, a fast index commit interval and a small cache.
    pub fn for_tests(data_dir: &Path) -> Config {
        let mut config = Config {
            data_dir: data_dir.to_path_buf(),
            ..Config::default()
        };
        config.server.listen = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));
        config.storage.index_commit_interval_ms = 50;
        config.storage.cache_size_mb = 16;
        // Tests drive scheduled jobs themselves (`scheduler::run_due`, `run_now`) on their own
        // clock; a background timer would race them.
        config.scheduler.enabled = false;
        config
    }

    /// Checks the rules on values that types alone do not enforce.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn invalid(key: &str, message: impl Into<String>) -> Result<(), ConfigError> {
            Err(ConfigError::InvalidValue {
                key: key.to_owned(),
                origin: None,
                message: message.into(),
            })
        }

        if self.data_dir.as_os_str().is_empty() {
            return invalid("data_dir", "must not be empty");
        }
        if self.sending.email_from_domain.trim().is_empty() {
            return invalid("sending.email_from_domain", "must not be empty");
        }
        if !(self.sending.sms_rate.is_finite() && self.sending.sms_rate >= 0.0) {
            return invalid("sending.sms_rate", "must be a price in pounds, 0 or more");
        }
        for (name, price) in self.sending.letter_rates.prices() {
            if !(price.is_finite() && price >= 0.0) {
                return invalid(
                    &format!("sending.letter_rates.{name}"),
                    "must be a price in pounds, 0 or more",
                );
            }
        }
        if let Err((key, message)) = self.server.check_edge() {
            return invalid(&key, message);
        }
        let url = &self.server.public_url;
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
        if self.log.level.trim().is_empty() {
            return invalid(
                "log.level",
                "must not be empty; use e.g. \"info\" or \"notify=debug,warn\"",
            );
        }
        if self.admin.client_id.trim().is_empty() {
            return invalid("admin.client_id", "must not be empty");
        }
        if let Err(message) = crate::scheduler::check_overrides(&self.scheduler.jobs) {
            return invalid("scheduler.jobs", message);
        }
        if self.retention.default_days == 0
            || self.retention.batch_size == 0
            || self.retention.write_chunk == 0
        {
            return invalid(
                "retention",
                "default_days, batch_size and write_chunk must be at least 1",
            );
        }
        if self.print.max_zip_bytes == 0 || self.print.max_zip_bytes > PRINT_ZIP_HARD_LIMIT {
            return invalid(
                "print.max_zip_bytes",
                format!(
                    "must be between 1 and {PRINT_ZIP_HARD_LIMIT} (DVLA refuses zips over 2 GB)"
                ),
            );
        }
        if self.print.max_letters_per_zip == 0 {
            return invalid("print.max_letters_per_zip", "must be at least 1");
        }
        if self.print.transport == PrintTransportKind::Sftp {
            let sftp = &self.print.sftp;
            for (key, value) in [
                ("print.sftp.host", &sftp.host),
                ("print.sftp.username", &sftp.username),
                ("print.sftp.host_key", &sftp.host_key),
            ] {
                if value.trim().is_empty() {
                    return invalid(key, "must be set when print.transport = \"sftp\"");
                }
            }
            if sftp.private_key_file.as_os_str().is_empty() && sftp.password.expose().is_empty() {
                return invalid(
                    "print.sftp",
                    "needs private_key_file or password when print.transport = \"sftp\"",
                );
            }
        }
        if self.letters.concurrency == 0 {
            return invalid("letters.concurrency", "must be at least 1");
        }
        if self.antivirus.enabled && self.antivirus.clamd.trim().is_empty() {
            return invalid(
                "antivirus.clamd",
                "must be clamd's host:port or unix socket path when antivirus is enabled",
            );
        }
        if self.blobs.kind == BlobsKind::S3 {
            let s3 = &self.blobs.s3;
            if s3.bucket.trim().is_empty() {
                return invalid("blobs.s3.bucket", "must be set when blobs.kind = \"s3\"");
            }
            let e = &s3.endpoint;
            if !(e.is_empty() || e.starts_with("http://") || e.starts_with("https://")) {
                return invalid(
                    "blobs.s3.endpoint",
                    format!("must be empty (AWS) or an http(s) URL (got {e:?})"),
                );
            }
            if e.starts_with("http://") && !s3.allow_http {
                return invalid(
                    "blobs.s3.endpoint",
                    "is plain http://; set blobs.s3.allow_http = true to allow it",
                );
            }
        }
        let hook = &self.alerts.webhook_url;
        if !(hook.is_empty() || hook.starts_with("http://") || hook.starts_with("https://")) {
            return invalid(
                "alerts.webhook_url",
                format!("must be empty or an http(s) URL (got {hook:?})"),
            );
        }
        if self.providers.sms == SmsProviderKind::Http && self.sms_providers.is_empty() {
            return invalid(
                "providers.sms",
                "is \"http\" but no [[sms_providers]] are configured",
            );
        }
        let mut names = BTreeSet::new();
        for p in &self.sms_providers {
            if p.name.trim().is_empty() || !names.insert(p.name.as_str()) {
                return invalid(
                    "sms_providers.name",
                    format!("must be present and unique (got {:?})", p.name),
                );
            }
            if p.priority > 100 {
                return invalid(
                    "sms_providers.priority",
                    format!("must be 0 to 100 (got {} for {})", p.priority, p.name),
                );
            }
            if !(p.url.starts_with("http://") || p.url.starts_with("https://")) {
                return invalid(
                    "sms_providers.url",
                    format!("must be an http(s) URL (got {:?} for {})", p.url, p.name),
                );
            }
        }
        if self.delivery.email_concurrency < 1 || self.delivery.sms_concurrency < 1 {
            return invalid(
                "delivery.email_concurrency",
                "concurrency must be at least 1",
            );
        }
        if self.callbacks.concurrency < 1 {
            return invalid("callbacks.concurrency", "must be at least 1");
        }
        if self.storage.max_batch < 1 {
            return invalid(
                "storage.max_batch",
                format!("must be at least 1 (got {})", self.storage.max_batch),
            );
        }
        if self.storage.index_commit_interval_ms < 10 {
            return invalid(
                "storage.index_commit_interval_ms",
                format!(
                    "must be at least 10 milliseconds (got {})",
                    self.storage.index_commit_interval_ms
                ),
            );
        }
        let key = self.secrets.encryption_key.expose();
        if !key.is_empty() && !looks_like_base64_key(key) {
            return invalid(
                "secrets.encryption_key",
                format!(
                    "must be the base64 encoding of 32 bytes ({ENCRYPTION_KEY_BASE64_LEN} \
                     characters ending in '=', e.g. from `head -c 32 /dev/urandom | base64`); \
                     got {} characters",
                    key.chars().count()
                ),
            );
        }
        Ok(())
    }
}

/// 44 characters of the (standard or URL-safe) base64 alphabet, with exactly
/// one trailing `=`, as the padded encoding of 32 bytes is.
fn looks_like_base64_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    bytes.len() == ENCRYPTION_KEY_BASE64_LEN
        && bytes[ENCRYPTION_KEY_BASE64_LEN - 1] == b'='
        && bytes[..ENCRYPTION_KEY_BASE64_LEN - 1]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'))
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why the configuration could not be loaded. Every message starts with
/// `config:` and names the setting, file or variable at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A config file given explicitly does not exist.
    #[error("config: file `{}` does not exist", path.display())]
    FileNotFound { path: PathBuf },

    /// A config file exists but could not be read.
    #[error("config: cannot read `{}`: {source}", path.display())]
    FileUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A config file is not valid TOML.
    #[error("config: cannot parse `{}` as TOML: {message}", path.display())]
    Syntax { path: PathBuf, message: String },

    /// A key that is not a setting, in the file or in the environment.
    #[error("config: unknown setting `{key}` (from {origin}){}", hint_suffix(.hint))]
    UnknownSetting {
        /// Dotted path of the key, e.g. `server.lsten`.
        key: String,
        /// Where it came from: a file path or `environment variable NAME`.
        origin: String,
        /// A suggestion, e.g. "did you mean `server.listen`?".
        hint: Option<String>,
    },

    /// A setting has a value of the wrong type or outside its rules.
    #[error("config: invalid value for `{key}`{}: {message}", origin_suffix(.origin))]
    InvalidValue {
        /// Dotted path of the setting, e.g. `storage.max_batch`.
        key: String,
        /// Where the value came from, when known.
        origin: Option<String>,
        message: String,
    },

    /// A `NOTIFY_*` environment variable that cannot be used at all.
    #[error("config: environment variable `{var}` {message}")]
    Env { var: String, message: String },

    /// Any other error reported by the configuration library.
    #[error("config: {0}")]
    Other(Box<figment::Error>),
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default()
}

fn origin_suffix(origin: &Option<String>) -> String {
    origin
        .as_ref()
        .map(|o| format!(" (from {o})"))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

/// Loads the configuration: defaults, then `file` (if any), then the
/// process's `NOTIFY_*` environment variables, then `overrides`; and
/// validates it.
pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
    let mut env = Vec::new();
    for (name, value) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if strip_env_prefix(&name).is_none() {
            continue;
        }
        match value.into_string() {
            Ok(value) => env.push((name, value)),
            Err(_) => {
                return Err(ConfigError::Env {
                    var: name,
                    message: "is not valid UTF-8".to_owned(),
                });
            }
        }
    }
    load_from(file, &env, overrides)
}

/// Like [`load`], but with the environment given explicitly as
/// `(name, value)` pairs; variables without the `NOTIFY_` prefix are ignored.
pub fn load_from(
    file: Option<&Path>,
    env: &[(String, String)],
    overrides: &Overrides,
) -> Result<Config, ConfigError> {
    let defaults = default_dict();
    let mut layers = vec![Layer {
        origin: Origin::Defaults,
        dict: defaults.clone(),
    }];
    if let Some(path) = file {
        layers.push(file_layer(path)?);
    }
    layers.push(env_layer(env, &defaults)?);
    layers.push(flags_layer(overrides)?);

    let figment = layers
        .iter()
        .fold(Figment::new(), |figment, layer| figment.merge(layer));
    let config: Config = figment
        .extract()
        .map_err(|err| explain(err, &layers, &defaults))?;

    config.validate().map_err(|err| match err {
        ConfigError::InvalidValue {
            key,
            origin: None,
            message,
        } => {
            let path: Vec<String> = key.split('.').map(str::to_owned).collect();
            ConfigError::InvalidValue {
                origin: value_origin(&layers, &path),
                key,
                message,
            }
        }
        other => other,
    })?;
    Ok(config)
}

/// Where a layer of settings came from.
enum Origin {
    Defaults,
    File(PathBuf),
    /// Each variable's key path (lowercase segments) and its name.
    Env(Vec<(Vec<String>, String)>),
    Flags,
}

/// One layer of settings, as a figment provider.
struct Layer {
    origin: Origin,
    dict: Dict,
}

impl Layer {
    /// Says where the key at `path` in this layer came from, if the layer
    /// has it.
    fn describe(&self, path: &[String]) -> Option<String> {
        if !dict_contains(&self.dict, path) {
            return None;
        }
        Some(match &self.origin {
            Origin::Defaults => "built-in defaults".to_owned(),
            Origin::File(file) => file.display().to_string(),
            Origin::Env(vars) => {
                let exact = vars.iter().find(|(p, _)| p.as_slice() == path);
                let nested = || vars.iter().find(|(p, _)| p.starts_with(path));
                match exact.or_else(nested) {
                    Some((_, name)) => format!("environment variable {name}"),
                    None => "environment variables".to_owned(),
                }
            }
            Origin::Flags => "command-line flags".to_owned(),
        })
    }
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        match &self.origin {
            Origin::Defaults => Metadata::named("built-in defaults"),
            Origin::File(path) => Metadata::from("TOML file", path.as_path()),
            Origin::Env(_) => Metadata::named(format!("`{ENV_PREFIX}` environment variable(s)"))
                .interpolater(|_: &Profile, keys: &[&str]| {
                    format!(
                        "{ENV_PREFIX}{}",
                        keys.join(ENV_SEPARATOR).to_ascii_uppercase()
                    )
                }),
            Origin::Flags => Metadata::named("command-line flags"),
        }
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// The built-in defaults as a dictionary; also the schema of known keys and
/// their types.
fn default_dict() -> Dict {
    match Value::serialize(Config::default()) {
        Ok(Value::Dict(_, dict)) => dict,
        other => unreachable!("Config serializes to a dictionary, got {other:?}"),
    }
}

fn file_layer(path: &Path) -> Result<Layer, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ConfigError::FileNotFound {
                path: path.to_path_buf(),
            }
        } else {
            ConfigError::FileUnreadable {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let mut data = Toml::string(&text)
        .data()
        .map_err(|err| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: err.kind.to_string().trim().to_owned(),
        })?;
    Ok(Layer {
        origin: Origin::File(path.to_path_buf()),
        dict: data.remove(&Profile::Default).unwrap_or_default(),
    })
}

/// `NOTIFY_` stripped from the front of `name`, ignoring ASCII case (as
/// figment's `Env::prefixed` does), or `None` without the prefix.
fn strip_env_prefix(name: &str) -> Option<&str> {
    let head = name.get(..ENV_PREFIX.len())?;
    head.eq_ignore_ascii_case(ENV_PREFIX)
        .then(|| &name[ENV_PREFIX.len()..])
}

/// Turns `NOTIFY_*` variables into a layer, the way figment's
/// `Env::prefixed("NOTIFY_").split("__")` does, except that a setting whose
/// default is a string always gets the raw text (so a secret of `0123` stays
/// `"0123"`), and a name that cannot be a key is an error.
fn env_layer(env: &[(String, String)], defaults: &Dict) -> Result<Layer, ConfigError> {
    let mut dict = Dict::new();
    let mut vars = Vec::new();
    for (name, raw) in env {
        let Some(rest) = strip_env_prefix(name) else {
            continue;
        };
        let key = rest.trim().replace(ENV_SEPARATOR, ".").to_ascii_lowercase();
        let path: Vec<String> = key.split('.').map(str::to_owned).collect();
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::Env {
                var: name.clone(),
                message: format!(
                    "does not name a setting: use {ENV_PREFIX}SETTING or \
                     {ENV_PREFIX}SECTION{ENV_SEPARATOR}SETTING, e.g. \
                     {ENV_PREFIX}DATA_DIR or {ENV_PREFIX}SERVER{ENV_SEPARATOR}LISTEN"
                ),
            });
        }
        let value = match dict_get(defaults, &path) {
            Some(Value::String(..)) => Value::from(raw.clone()),
            _ => raw.parse::<Value>().unwrap_or_else(|never| match never {}),
        };
        insert_path(&mut dict, &path, value);
        vars.push((path, name.clone()));
    }
    Ok(Layer {
        origin: Origin::Env(vars),
        dict,
    })
}

fn flags_layer(overrides: &Overrides) -> Result<Layer, ConfigError> {
    let mut dict = Dict::new();
    if let Some(data_dir) = &overrides.data_dir {
        let Some(text) = data_dir.to_str() else {
            return Err(ConfigError::InvalidValue {
                key: "data_dir".to_owned(),
                origin: Some("command-line flags".to_owned()),
                message: format!("path {} is not valid UTF-8", data_dir.display()),
            });
        };
        insert_path(&mut dict, &["data_dir".to_owned()], Value::from(text));
    }
    if let Some(listen) = overrides.listen {
        let path = ["server".to_owned(), "listen".to_owned()];
        insert_path(&mut dict, &path, Value::from(listen.to_string()));
    }
    Ok(Layer {
        origin: Origin::Flags,
        dict,
    })
}

fn dict_get<'a>(dict: &'a Dict, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let value = dict.get(first)?;
    if rest.is_empty() {
        return Some(value);
    }
    match value {
        Value::Dict(_, inner) => dict_get(inner, rest),
        _ => None,
    }
}

fn dict_contains(dict: &Dict, path: &[String]) -> bool {
    dict_get(dict, path).is_some()
}

/// Sets `path` to `value`, creating sections on the way. A plain value set
/// for a section (`NOTIFY_LOG=debug` next to `NOTIFY_LOG__LEVEL=info`) wins
/// over the section's settings whatever the order, so that the mistake is
/// reported rather than silently ignored.
fn insert_path(dict: &mut Dict, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        dict.insert(first.clone(), value);
        return;
    }
    let entry = dict
        .entry(first.clone())
        .or_insert_with(|| Value::from(Dict::new()));
    if let Value::Dict(_, inner) = entry {
        insert_path(inner, rest, value);
    }
}

/// The highest-priority layer that supplies the value at `path`, or failing
/// that (figment's path can reach inside a value of the wrong shape, e.g.
/// `blobs.0.kind` for an array) at the longest prefix of `path` any layer has.
fn value_origin(layers: &[Layer], path: &[String]) -> Option<String> {
    (1..=path.len()).rev().find_map(|len| {
        layers
            .iter()
            .rev()
            .find_map(|layer| layer.describe(&path[..len]))
    })
}

/// Turns figment's error into one that names the setting and its source.
fn explain(err: figment::Error, layers: &[Layer], defaults: &Dict) -> ConfigError {
    use figment::error::Kind;

    let path = err.path.clone();
    let key = path.join(".");
    match &err.kind {
        Kind::UnknownField(field, expected) => {
            // figment's path usually ends with the unknown key already.
            let mut section = path.clone();
            if section.last() == Some(field) {
                section.pop();
            }
            let mut full = section.clone();
            full.push(field.clone());
            let origins: Vec<String> = layers
                .iter()
                .rev()
                .filter(|layer| !matches!(layer.origin, Origin::Defaults))
                .filter_map(|layer| layer.describe(&full))
                .collect();
            let origin = if origins.is_empty() {
                err.metadata
                    .as_ref()
                    .map(|md| md.name.to_string())
                    .unwrap_or_else(|| "configuration".to_owned())
            } else {
                origins.join(" and ")
            };
            let from_env = layers.iter().any(|layer| {
                matches!(layer.origin, Origin::Env(_)) && dict_contains(&layer.dict, &full)
            });
            ConfigError::UnknownSetting {
                key: full.join("."),
                hint: unknown_key_hint(&section, field, expected, from_env),
                origin,
            }
        }
        _ if path.is_empty() => ConfigError::Other(Box::new(err)),
        kind => {
            let message = match kind {
                Kind::InvalidType(_, expected) if expected.starts_with("struct ") => {
                    let settings = match dict_get(defaults, &path) {
                        Some(Value::Dict(_, section)) => section
                            .keys()
                            .map(String::as_str)
                            .collect::<Vec<_>>()
                            .join(", "),
                        _ => String::new(),
                    };
                    format!(
                        "`{key}` is a section, not a setting; set one of its settings \
                         instead ({settings}), e.g. `{key}.<setting>` in the file or \
                         {ENV_PREFIX}{}{ENV_SEPARATOR}<SETTING> in the environment",
                        key.to_ascii_uppercase().replace('.', ENV_SEPARATOR)
                    )
                }
                Kind::UnknownVariant(found, expected) => {
                    format!("unknown value `{found}`; expected {}", one_of(expected))
                }
                other => other.to_string(),
            };
            ConfigError::InvalidValue {
                origin: value_origin(layers, &path),
                key,
                message,
            }
        }
    }
}

fn one_of(names: &[&str]) -> String {
    match names {
        [] => "nothing here".to_owned(),
        [only] => format!("`{only}`"),
        _ => {
            let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            format!("one of {}", quoted.join(", "))
        }
    }
}

/// "did you mean ..." for an unknown key, or the list of valid keys.
fn unknown_key_hint(
    section: &[String],
    field: &str,
    expected: &[&str],
    from_env: bool,
) -> Option<String> {
    let qualify = |name: &str| {
        let mut path = section.to_vec();
        path.push(name.to_owned());
        path
    };
    // `NOTIFY_SERVER_LISTEN` instead of `NOTIFY_SERVER__LISTEN`.
    if from_env {
        let split = expected.iter().find_map(|known| {
            let rest = field.strip_prefix(known)?.strip_prefix('_')?;
            (!rest.is_empty()).then_some((known, rest))
        });
        if let Some((known, rest)) = split {
            let mut path = qualify(known);
            path.push(rest.to_owned());
            return Some(format!(
                "nesting levels are separated by `{ENV_SEPARATOR}`: did you mean {ENV_PREFIX}{}?",
                path.join(ENV_SEPARATOR).to_ascii_uppercase()
            ));
        }
    }
    let closest = expected
        .iter()
        .map(|known| (edit_distance(field, known), *known))
        .filter(|(distance, known)| *distance <= (known.len() / 3).max(1))
        .min();
    let qualified = |name: &str| {
        let path = qualify(name);
        if from_env {
            format!(
                "{ENV_PREFIX}{}",
                path.join(ENV_SEPARATOR).to_ascii_uppercase()
            )
        } else {
            path.join(".")
        }
    };
    match closest {
        Some((_, known)) => Some(format!("did you mean `{}`?", qualified(known))),
        None if expected.is_empty() => None,
        None => {
            let valid: BTreeSet<&str> = expected.iter().copied().collect();
            let where_ = if section.is_empty() {
                "at the top level".to_owned()
            } else {
                format!("in `{}`", section.join("."))
            };
            Some(format!(
                "valid settings {where_}: {}",
                valid.into_iter().collect::<Vec<_>>().join(", ")
            ))
        }
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load_env(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        load_from(None, &env(pairs), &Overrides::default())
    }

    #[test]
    fn secret_is_redacted() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "\"[redacted]\"");
        assert_eq!(secret.to_string(), "[redacted]");
        assert_eq!(secret.expose(), "hunter2");
        assert!(!secret.is_empty());
        let empty = Secret::default();
        assert_eq!(format!("{empty:?}"), "\"\"");
        assert_eq!(empty.to_string(), "");
        assert!(empty.is_empty());
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"hunter2\"");
        let back: Secret = serde_json::from_str("\"x\"").unwrap();
        assert_eq!(back.expose(), "x");
    }

    #[test]
    fn defaults_are_valid() {
        let config = load_env(&[]).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.server.listen, DEFAULT_LISTEN);
        assert_eq!(
            config.blobs_dir(),
            Path::new(DEFAULT_DATA_DIR).join("blobs")
        );
        Config::for_tests(Path::new("/tmp/x")).validate().unwrap();
    }

    #[test]
    fn string_settings_keep_their_raw_text() {
        let config = load_env(&[
            ("NOTIFY_ADMIN__SECRET", "0123"),
            ("NOTIFY_ADMIN__CLIENT_ID", "true"),
            ("NOTIFY_STORAGE__MAX_BATCH", "17"),
            ("NOTIFY_LOG__FORMAT", "json"),
            ("NOTIFY_DATA_DIR", "/var/lib/notify"),
            ("OTHER", "ignored"),
        ])
        .unwrap();
        assert_eq!(config.admin.secret.expose(), "0123");
        assert_eq!(config.admin.client_id, "true");
        assert_eq!(config.storage.max_batch, 17);
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.data_dir, Path::new("/var/lib/notify"));
    }

    #[test]
    fn section_given_a_value_is_explained() {
        for order in [
            [("NOTIFY_LOG", "debug"), ("NOTIFY_LOG__LEVEL", "info")],
            [("NOTIFY_LOG__LEVEL", "info"), ("NOTIFY_LOG", "debug")],
        ] {
            let err = load_env(&order).unwrap_err().to_string();
            assert!(err.contains("`log` is a section"), "{err}");
            assert!(err.contains("NOTIFY_LOG__"), "{err}");
            assert!(err.contains("environment variable NOTIFY_LOG)"), "{err}");
        }
    }

    #[test]
    fn single_underscore_hint() {
        let err = load_env(&[("NOTIFY_SERVER_LISTEN", "0.0.0.0:1")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown setting `server_listen`"), "{err}");
        assert!(err.contains("NOTIFY_SERVER__LISTEN"), "{err}");
    }

    #[test]
    fn bad_values_name_key_and_source() {
        let err = load_env(&[("NOTIFY_SERVER__LISTEN", "nowhere")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`server.listen`"), "{err}");
        assert!(err.contains("NOTIFY_SERVER__LISTEN"), "{err}");

        let err = load_env(&[("NOTIFY_LOG__FORMAT", "xml")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`log.format`"), "{err}");
        assert!(err.contains("`text`, `json`"), "{err}");

        let err = load_env(&[("NOTIFY_STORAGE__MAX_BATCH", "0")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`storage.max_batch`"), "{err}");
        assert!(err.contains("at least 1"), "{err}");
        assert!(err.contains("NOTIFY_STORAGE__MAX_BATCH"), "{err}");

        let err = load_env(&[("NOTIFY_STORAGE__INDEX_COMMIT_INTERVAL_MS", "5")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 10"), "{err}");
    }

    #[test]
    fn encryption_key_shape() {
        let good = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        assert_eq!(good.len(), ENCRYPTION_KEY_BASE64_LEN);
        load_env(&[("NOTIFY_SECRETS__ENCRYPTION_KEY", good)]).unwrap();
        let err = load_env(&[("NOTIFY_SECRETS__ENCRYPTION_KEY", "too-short-secret")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`secrets.encryption_key`"), "{err}");
        assert!(!err.contains("too-short-secret"), "{err}");
    }

    #[test]
    fn empty_segment_names_are_rejected() {
        let err = load_env(&[("NOTIFY_", "x")]).unwrap_err().to_string();
        assert!(err.contains("`NOTIFY_`"), "{err}");
        let err = load_env(&[("NOTIFY_SERVER____LISTEN", "x")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("NOTIFY_SERVER____LISTEN"), "{err}");
    }

    #[test]
    fn suggestions() {
        assert_eq!(edit_distance("lsten", "listen"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        let err = load_env(&[("NOTIFY_SERVER__LSTEN", "0.0.0.0:1")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("did you mean `NOTIFY_SERVER__LISTEN`?"),
            "{err}"
        );
        let err = load_env(&[("NOTIFY_WHATEVER", "1")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("valid settings at the top level"), "{err}");
    }
}
