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
//!
//! `mod.rs` has the whole [`Config`] and the loading order; each section has its own file
//! (`server`, `log`, `keys`, `storage`, `providers`, `smtp`, `sms`, `callbacks`, `sending`,
//! `scheduler`, `letters`, `print`, `metrics`, `accounts`, `oidc`, `backup`) with its defaults and its rules ([`Config::validate`]);
//! `layers` builds the layers, `error` words what went wrong, `secret` has [`Secret`].

mod accounts;
mod backup;
mod callbacks;
mod error;
mod keys;
mod layers;
mod letters;
mod log;
mod metrics;
mod oidc;
mod print;
mod providers;
mod scheduler;
mod secret;
mod sending;
mod server;
mod sms;
mod smtp;
mod storage;
#[cfg(test)]
mod tests;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use serde::{Deserialize, Serialize};

pub use accounts::{AccountsConfig, AuditConfig};
pub use backup::{BackupConfig, BackupS3Config};
pub use callbacks::CallbacksConfig;
pub use error::ConfigError;
pub use keys::{
    ADMIN_SECRET_FILE, AdminConfig, ENCRYPTION_KEY_BASE64_LEN, ENCRYPTION_KEY_FILE, SecretsConfig,
};
pub use letters::{AntivirusConfig, LettersConfig};
pub use log::{LogConfig, LogFormat};
pub use metrics::{MIN_METRICS_TOKEN_LEN, MetricsConfig};
pub use oidc::{DEFAULT_MFA_AMR, OidcConfig};
pub use print::{PRINT_ZIP_HARD_LIMIT, PrintConfig, PrintSftpConfig, PrintTransportKind};
pub use providers::{
    DeliveryConfig, EmailProviderKind, OutboxConfig, ProviderKind, ProvidersConfig, ReceiptsConfig,
    SmsProviderKind,
};
pub use scheduler::{AlertsConfig, RetentionConfig, SchedulerConfig};
pub use secret::{REDACTED, Secret, serialize_redacted};
pub use sending::{LetterRates, SendingConfig};
pub use server::{BodyLimitsConfig, DEFAULT_LISTEN, ServerConfig, TlsConfig};
pub use sms::{InboundNumbersConfig, SmsApiKind, SmsProviderConfig, SmsSwitchingConfig};
pub use smtp::{SmtpConfig, SmtpTls};
pub use storage::{BlobsConfig, BlobsKind, DiskConfig, S3Config, StorageConfig};

use error::{explain, invalid};
use layers::{
    Layer, Origin, default_dict, env_layer, file_layer, flags_layer, strip_env_prefix, value_origin,
};

/// Prefix of the environment variables that are read as settings.
pub const ENV_PREFIX: &str = "NOTIFY_";
/// Set by systemd for `Type=notify` services (see `crate::systemd`); it shares the prefix but
/// is not a setting.
pub const SYSTEMD_NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";
/// Metadata names of the layers (see [`load_layered`]).
pub const DEFAULTS_LAYER: &str = "built-in defaults";
pub const ENV_LAYER: &str = "`NOTIFY_` environment variable(s)";
pub const FLAGS_LAYER: &str = "command-line flags";
/// Separator between nesting levels in environment variable names.
pub const ENV_SEPARATOR: &str = "__";
/// Default data directory (relative to the working directory).
pub const DEFAULT_DATA_DIR: &str = "./notify-data";

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
    /// `[inbound_numbers]`: the pool of numbers services receive texts on.
    pub inbound_numbers: InboundNumbersConfig,
    pub receipts: ReceiptsConfig,
    pub callbacks: CallbacksConfig,
    pub outbox: OutboxConfig,
    pub scheduler: SchedulerConfig,
    pub retention: RetentionConfig,
    pub alerts: AlertsConfig,
    pub letters: LettersConfig,
    pub antivirus: AntivirusConfig,
    pub print: PrintConfig,
    /// `[disk]`: the low-disk watermark (see [`DiskConfig`]).
    pub disk: DiskConfig,
    /// `[backup]`: the scheduled backup job (see [`BackupConfig`]).
    pub backup: BackupConfig,
    /// `[metrics]`: the Prometheus endpoint and its bearer token.
    pub metrics: MetricsConfig,
    /// `[accounts]`: people signing in (sessions, second factor, lock-out, password hashing).
    pub accounts: AccountsConfig,
    /// `[audit]`: how long the audit trail is kept.
    pub audit: AuditConfig,
    /// `[oidc]`: single sign-on through an OpenID Connect identity provider (off by default).
    pub oidc: OidcConfig,
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
            inbound_numbers: InboundNumbersConfig::default(),
            receipts: ReceiptsConfig::default(),
            callbacks: CallbacksConfig::default(),
            outbox: OutboxConfig::default(),
            scheduler: SchedulerConfig::default(),
            retention: RetentionConfig::default(),
            alerts: AlertsConfig::default(),
            letters: LettersConfig::default(),
            antivirus: AntivirusConfig::default(),
            print: PrintConfig::default(),
            disk: DiskConfig::default(),
            backup: BackupConfig::default(),
            metrics: MetricsConfig::default(),
            accounts: AccountsConfig::default(),
            audit: AuditConfig::default(),
            oidc: OidcConfig::default(),
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

    /// The search index's directory (derived from the store; `notify reindex` rebuilds it).
    pub fn index_dir(&self) -> PathBuf {
        self.data_dir.join("index")
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
        // The low-disk watermark is about the host, not the code under test: on a CI machine
        // with under 1 GiB free every send was refused (503) and 64 tests failed. The tests of
        // the watermark set their own.
        config.disk.min_free_mb = 0;
        config
    }

    /// Checks the rules on values that types alone do not enforce, section by section; the
    /// first rule broken is the error.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.disk.validate()?;
        if self.data_dir.as_os_str().is_empty() {
            return invalid("data_dir", "must not be empty");
        }
        self.sending.validate()?;
        self.server.validate()?;
        self.log.validate()?;
        self.admin.validate()?;
        self.scheduler.validate()?;
        self.retention.validate()?;
        self.print.validate()?;
        self.letters.validate()?;
        self.antivirus.validate()?;
        self.blobs.validate()?;
        self.alerts.validate()?;
        sms::validate_sms_providers(self.providers.sms, &self.sms_providers)?;
        self.sms_switching.validate()?;
        self.delivery.validate()?;
        self.callbacks.validate()?;
        self.storage.validate()?;
        self.backup.validate()?;
        self.metrics.validate()?;
        self.accounts.validate()?;
        self.audit.validate()?;
        self.oidc.validate()?;
        self.secrets.validate()
    }
}

/// Loads the configuration: defaults, then `file` (if any), then the
/// process's `NOTIFY_*` environment variables, then `overrides`; and
/// validates it.
pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
    load_from(file, &env_vars()?, overrides)
}

/// The process's `NOTIFY_*` variables (settings), as `(name, value)` pairs.
pub fn env_vars() -> Result<Vec<(String, String)>, ConfigError> {
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
    Ok(env)
}

/// Like [`load`], but with the environment given explicitly as
/// `(name, value)` pairs; variables without the `NOTIFY_` prefix are ignored.
pub fn load_from(
    file: Option<&Path>,
    env: &[(String, String)],
    overrides: &Overrides,
) -> Result<Config, ConfigError> {
    load_layered(file, env, overrides).map(|(config, _)| config)
}

/// Like [`load_from`], and also the merged layers: figment's metadata for a
/// key tells which layer its value came from ([`DEFAULTS_LAYER`],
/// [`ENV_LAYER`], [`FLAGS_LAYER`], or a TOML file as the metadata's source).
pub fn load_layered(
    file: Option<&Path>,
    env: &[(String, String)],
    overrides: &Overrides,
) -> Result<(Config, Figment), ConfigError> {
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
    Ok((config, figment))
}
