//! `[print]`: the daily print run (collation into zips, the folder or SFTP transport) and the
//! printer's response files.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, invalid};
use super::secret::Secret;

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

impl PrintConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_zip_bytes == 0 || self.max_zip_bytes > PRINT_ZIP_HARD_LIMIT {
            return invalid(
                "print.max_zip_bytes",
                format!(
                    "must be between 1 and {PRINT_ZIP_HARD_LIMIT} (DVLA refuses zips over 2 GB)"
                ),
            );
        }
        if self.max_letters_per_zip == 0 {
            return invalid("print.max_letters_per_zip", "must be at least 1");
        }
        if self.transport == PrintTransportKind::Sftp {
            let sftp = &self.sftp;
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
        Ok(())
    }
}
