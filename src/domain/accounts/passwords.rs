//! Passwords: the rules a new one must meet (upstream's wording), and hashing with Argon2id at
//! OWASP's parameters. Hashing is slow on purpose, so it runs on the blocking pool behind a
//! bounded queue ([`PasswordHasher`]): a flood of sign-in attempts gets 429s, not a server
//! whose threads are all busy hashing. Passwords are never logged.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::config::AccountsConfig;
use crate::domain::{Code, DomainError, DomainResult};

/// OWASP's Argon2id recommendation: 19 MiB of memory, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;
/// Longest password accepted (upstream's 255): hashing cost must not depend on an attacker.
pub const MAX_PASSWORD_LENGTH: usize = 255;

const COMMON_PASSWORDS: &str = include_str!("../data/common_passwords.txt");

/// What an attempt beyond the bounded queue is told (429).
pub const BUSY_MESSAGE: &str =
    "Too many people are signing in at the moment. Wait a minute, then try again.";

fn argon2() -> Argon2<'static> {
    let params =
        Params::new(MEMORY_KIB, PASSES, LANES, None).expect("OWASP's Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Whether the password is one of the common ones shipped in the binary (any case).
pub fn is_common(password: &str) -> bool {
    let wanted = password.trim().to_lowercase();
    COMMON_PASSWORDS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|l| l == wanted)
}

/// Check a password someone chose. `thing` names it in the message, as upstream's forms do
/// ("your password", "your new password"). The message is shown next to the field.
pub fn check_new_password(
    config: &AccountsConfig,
    password: &str,
    thing: &str,
) -> Result<(), String> {
    let length = password.chars().count();
    if password.trim().is_empty() {
        return Err(format!("Enter {thing}"));
    }
    let min = config.min_password_length as usize;
    if length < min || length > MAX_PASSWORD_LENGTH {
        return Err(format!(
            "{} must be between {min} and {MAX_PASSWORD_LENGTH} characters long",
            sentence_case(thing)
        ));
    }
    if is_common(password) {
        return Err("Choose a password that’s harder to guess".into());
    }
    Ok(())
}

fn sentence_case(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Argon2id on the blocking pool, a few at a time, with a bounded queue in front.
pub struct PasswordHasher {
    /// Attempts admitted: the hashing threads plus the queue. Beyond it: 429 at once.
    admitted: Arc<Semaphore>,
    /// Hashes computed at once.
    hashing: Arc<Semaphore>,
}

impl PasswordHasher {
    pub fn new(config: &AccountsConfig) -> PasswordHasher {
        let threads = config.password_hashing_threads.max(1) as usize;
        PasswordHasher {
            admitted: Arc::new(Semaphore::new(
                threads + config.password_hashing_queue as usize,
            )),
            hashing: Arc::new(Semaphore::new(threads)),
        }
    }

    /// Run `work` on a hashing thread, or refuse at once when the queue is full.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> DomainResult<T> {
        let Ok(_admitted) = self.admitted.clone().try_acquire_owned() else {
            return Err(DomainError::refused(Code::Busy, BUSY_MESSAGE));
        };
        let _hashing = self
            .hashing
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| DomainError::refused(Code::Busy, BUSY_MESSAGE))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| DomainError::Internal(format!("password hashing task failed: {e}")))
    }

    /// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) of a new password.
    pub async fn hash(&self, password: String) -> DomainResult<String> {
        self.run(move || {
            argon2()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
        })
        .await?
        .map_err(|e| DomainError::invalid(format!("the password could not be hashed: {e}")))
    }

    /// Whether `password` matches `phc`. With no stored hash (an unknown email address, an
    /// account without a password yet) a dummy hash is checked instead, so the answer takes
    /// as long either way and does not tell who has an account.
    pub async fn verify(&self, password: String, phc: Option<String>) -> DomainResult<bool> {
        self.run(move || {
            let stored = phc.unwrap_or_else(|| dummy_hash().to_string());
            let matches = argon2()
                .verify_password(password.as_bytes(), stored.as_str())
                .is_ok();
            matches && !stored.is_empty()
        })
        .await
    }
}

/// A hash no password is checked against for real (see [`PasswordHasher::verify`]).
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        argon2()
            .hash_password(b"not anyone's password: a stand-in for timing")
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_passwords_are_checked_with_upstreams_words() {
        let config = AccountsConfig::default();
        let check = |p: &str| check_new_password(&config, p, "your new password");
        assert_eq!(check("  "), Err("Enter your new password".into()));
        assert_eq!(
            check("short"),
            Err("Your new password must be between 8 and 255 characters long".into())
        );
        assert!(!check(&"x".repeat(256)).unwrap_err().is_empty());
        assert_eq!(
            check("Password123"),
            Err("Choose a password that’s harder to guess".into())
        );
        assert_eq!(check("correct horse battery staple"), Ok(()));
        assert!(is_common("QWERTYUIOP"));
        assert!(!is_common("# Passwords people choose most often"));
    }

    #[tokio::test]
    async fn hashes_verify_and_the_queue_is_bounded() {
        let config = AccountsConfig {
            password_hashing_threads: 1,
            password_hashing_queue: 0,
            ..AccountsConfig::default()
        };
        let hasher = Arc::new(PasswordHasher::new(&config));
        let phc = hasher.hash("a long passphrase".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            hasher
                .verify("a long passphrase".into(), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("a wrong passphrase".into(), Some(phc))
                .await
                .unwrap()
        );
        assert!(!hasher.verify("anything".into(), None).await.unwrap());

        // One thread, no queue: while one hash runs, another attempt is refused at once.
        let held = hasher.admitted.clone().try_acquire_owned().unwrap();
        let refused = hasher.hash("another passphrase".into()).await.unwrap_err();
        assert_eq!(refused.code(), Code::Busy);
        drop(held);
        assert!(hasher.hash("another passphrase".into()).await.is_ok());
    }
}
