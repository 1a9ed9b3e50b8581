//! HTTPS: rustls (ring), TLS 1.2 and 1.3 only, a certificate read from PEM files and swapped
//! without a restart when the files change or on SIGHUP.
//!
//! The resolver hands every handshake the current `Arc<CertifiedKey>`; the reloader reads both
//! files every `server.tls.reload_check_secs` (and at once on SIGHUP) and, when their bytes
//! changed and form a valid pair, swaps it. A bad pair (say the key is written after the
//! certificate) is logged and the old certificate stays until a good pair appears.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsConfig;

/// Why a certificate could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no PEM certificate in it", path.display())]
    NoCertificate { path: PathBuf },
    #[error("{}: not a PEM certificate chain: {message}", path.display())]
    BadCertificate { path: PathBuf, message: String },
    #[error("{}: no usable PEM private key in it: {message}", path.display())]
    BadKey { path: PathBuf, message: String },
    #[error("the key in {} does not belong to the certificate in {}: {message}", key.display(), cert.display())]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        message: String,
    },
    #[error("TLS settings: {0}")]
    Config(String),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The PEM files' bytes, to tell whether they changed.
#[derive(PartialEq, Eq)]
struct Files {
    cert: Vec<u8>,
    key: Vec<u8>,
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// A certified key from the PEM files' contents.
fn certified_key(
    config: &TlsConfig,
    files: &Files,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = CertificateDer::pem_slice_iter(&files.cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadCertificate {
            path: config.cert_file.clone(),
            message: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: config.cert_file.clone(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(&files.key).map_err(|e| TlsError::BadKey {
        path: config.key_file.clone(),
        message: e.to_string(),
    })?;
    CertifiedKey::from_der(chain, key, provider).map_err(|e| TlsError::Mismatch {
        cert: config.cert_file.clone(),
        key: config.key_file.clone(),
        message: e.to_string(),
    })
}

/// Hands each handshake the current certificate.
#[derive(Debug)]
pub struct CertResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

/// The certificate in use and where it comes from.
pub struct Certificates {
    config: TlsConfig,
    provider: Arc<CryptoProvider>,
    resolver: Arc<CertResolver>,
    loaded: std::sync::Mutex<Files>,
}

impl Certificates {
    /// Load the configured pair; an error here stops the server from starting.
    pub fn load(config: &TlsConfig) -> Result<Arc<Certificates>, TlsError> {
        let provider = provider();
        let files = Files {
            cert: read(&config.cert_file)?,
            key: read(&config.key_file)?,
        };
        let key = certified_key(config, &files, &provider)?;
        Ok(Arc::new(Certificates {
            config: config.clone(),
            provider,
            resolver: Arc::new(CertResolver {
                current: RwLock::new(Arc::new(key)),
            }),
            loaded: std::sync::Mutex::new(files),
        }))
    }

    /// The rustls server configuration: TLS 1.2 and 1.3, h2 and HTTP/1.1 by ALPN.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(self.resolver.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Read the files again and swap the certificate if they changed and are a valid pair.
    /// `Ok(true)` when a new certificate is now served.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let files = Files {
            cert: read(&self.config.cert_file)?,
            key: read(&self.config.key_file)?,
        };
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if *loaded == files {
            return Ok(false);
        }
        let key = certified_key(&self.config, &files, &self.provider)?;
        *self
            .resolver
            .current
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(key);
        *loaded = files;
        Ok(true)
    }

    /// Check for a new certificate every `reload_check_secs` and on SIGHUP, until the task is
    /// dropped. Each distinct failure is logged once.
    pub async fn keep_fresh(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(self.config.reload_check_secs));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        let mut hangup = hangup_signal();
        let mut last_error = String::new();
        loop {
            let asked = tokio::select! {
                _ = tick.tick() => false,
                _ = next_hangup(&mut hangup) => true,
            };
            match self.reload() {
                Ok(true) => {
                    last_error.clear();
                    tracing::info!(
                        cert_file = %self.config.cert_file.display(),
                        "TLS certificate reloaded"
                    );
                }
                Ok(false) => {
                    if asked {
                        tracing::info!("SIGHUP: the TLS certificate files have not changed");
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    if asked || message != last_error {
                        tracing::warn!(error = %message, "TLS certificate not reloaded; the previous one is still served");
                    }
                    last_error = message;
                }
            }
        }
    }
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = ();

#[cfg(unix)]
fn hangup_signal() -> Hangup {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

#[cfg(not(unix))]
fn hangup_signal() -> Hangup {}

#[cfg(unix)]
async fn next_hangup(signal: &mut Hangup) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

#[cfg(not(unix))]
async fn next_hangup(_: &mut Hangup) {
    std::future::pending::<()>().await
}
