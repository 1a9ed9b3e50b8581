//! Secrets at rest: API key secrets and callback bearer tokens are sealed with AES-256-GCM under
//! the appliance's encryption key, so a copy of the database alone does not give away keys.
//!
//! The key comes from `secrets.encryption_key` (base64 of 32 bytes) or, when that is empty, from
//! `<data_dir>/encryption-key`, created on first use with mode 0600. Sealed values are
//! `format byte ‖ 96-bit random nonce ‖ ciphertext+tag`.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore;

use crate::config::Config;

const SEALED_FORMAT: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("encryption key: {0}")]
    Key(String),
    #[error("could not read or create {path}: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error("a sealed secret could not be opened (wrong encryption key, or damaged data)")]
    Unseal,
}

#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
    fingerprint: String,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

impl Sealer {
    pub fn from_key(key: &[u8]) -> Result<Self, CryptoError> {
        let cipher = Aes256Gcm::new_from_slice(key)
            .map_err(|_| CryptoError::Key("must be exactly 32 bytes".into()))?;
        Ok(Sealer {
            cipher,
            fingerprint: fingerprint_of(key),
        })
    }

    /// Names the key without giving it away (the start of a SHA-256 of it, domain-separated):
    /// a backup records it, so a restore can tell whether the key it is given is the one the
    /// backup's sealed values need.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The appliance's sealer: from config, or from the key file in the data directory.
    pub fn for_config(config: &Config) -> Result<Self, CryptoError> {
        let encoded = if config.secrets.encryption_key.is_empty() {
            load_or_create_secret_file(&config.encryption_key_file(), || {
                let mut key = [0u8; 32];
                rand::rng().fill_bytes(&mut key);
                BASE64.encode(key)
            })?
        } else {
            config.secrets.encryption_key.expose().to_string()
        };
        Sealer::from_encoded(&encoded)
    }

    /// A sealer for a key as it is written in the key file or the config: base64 of 32 bytes.
    pub fn from_encoded(encoded: &str) -> Result<Self, CryptoError> {
        let key = BASE64
            .decode(encoded.trim())
            .map_err(|e| CryptoError::Key(format!("not valid base64: {e}")))?;
        Sealer::from_key(&key)
    }

    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(&Nonce::from(nonce), plain)
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(1 + 12 + ct.len());
        out.push(SEALED_FORMAT);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < 13 || sealed[0] != SEALED_FORMAT {
            return Err(CryptoError::Unseal);
        }
        let nonce: [u8; 12] = sealed[1..13].try_into().map_err(|_| CryptoError::Unseal)?;
        self.cipher
            .decrypt(&Nonce::from(nonce), &sealed[13..])
            .map_err(|_| CryptoError::Unseal)
    }
}

fn fingerprint_of(key: &[u8]) -> String {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    hash.update(b"notify encryption key fingerprint\0");
    hash.update(key);
    hex::encode(&hash.finalize()[..8])
}

/// Read a secret kept in a file, or create it (mode 0600) with `generate` if it is missing.
pub fn load_or_create_secret_file(
    path: &Path,
    generate: impl FnOnce() -> String,
) -> Result<String, CryptoError> {
    let err = |source| CryptoError::KeyFile {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    if let Some(parent) = path.parent() {
        // Usually the data directory: owner-only when this creates it.
        storage::files::create_private_dir(parent).map_err(err)?;
    }
    let value = generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut f) => {
            use std::io::Write;
            f.write_all(value.as_bytes()).map_err(err)?;
            f.sync_all().map_err(err)?;
            Ok(value)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(std::fs::read_to_string(path)
                .map_err(err)?
                .trim()
                .to_string())
        }
        Err(e) => Err(err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip_and_detect_tampering() {
        let s = Sealer::from_key(&[7u8; 32]).unwrap();
        let sealed = s.seal(b"8b3aa916-ec82-434e-b0c5-d5d9b371d6a3");
        assert_ne!(&sealed[13..], b"8b3aa916-ec82-434e-b0c5-d5d9b371d6a3");
        assert_eq!(
            s.open(&sealed).unwrap(),
            b"8b3aa916-ec82-434e-b0c5-d5d9b371d6a3"
        );
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(s.open(&bad).is_err());
        let other = Sealer::from_key(&[8u8; 32]).unwrap();
        assert!(other.open(&sealed).is_err());
        assert!(Sealer::from_key(&[1u8; 5]).is_err());
    }

    #[test]
    fn key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::for_tests(dir.path());
        let a = Sealer::for_config(&config).unwrap();
        let b = Sealer::for_config(&config).unwrap();
        assert_eq!(b.open(&a.seal(b"x")).unwrap(), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(config.encryption_key_file())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
