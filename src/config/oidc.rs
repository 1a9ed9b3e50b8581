//! `[oidc]`: single sign-on through the organisation's identity provider (OpenID Connect's
//! authorisation code flow with PKCE; `domain::accounts::oidc`). Off by default.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, invalid};
use super::secret::Secret;

/// `amr` values (RFC 8176) that say the identity provider itself did more than a password:
/// `mfa` (multiple factors), `otp` (a one-time code), `hwk` / `swk` (a hardware or software
/// key), `sc` (a smart card), `fpt` / `face` / `iris` / `retina` / `vbm` (biometrics, which
/// providers only use as a second factor), `sms` (a code by text message).
pub const DEFAULT_MFA_AMR: [&str; 11] = [
    "mfa", "otp", "hwk", "swk", "sc", "fpt", "face", "iris", "retina", "vbm", "sms",
];

/// `[oidc]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// Offer "Sign in with …" on the sign-in page.
    pub enabled: bool,
    /// What the button says after "Sign in with" (the organisation's name for its accounts).
    pub provider_name: String,
    /// The identity provider's issuer URL; its `/.well-known/openid-configuration` is read
    /// at each sign-in.
    pub issuer: String,
    pub client_id: String,
    /// The client secret (or `NOTIFY_OIDC__CLIENT_SECRET`); empty for a public client.
    pub client_secret: Secret,
    /// A file holding the client secret (trailing whitespace ignored); instead of
    /// `client_secret`.
    pub client_secret_file: PathBuf,
    /// Where the provider sends people back: this appliance's `/sign-in/sso/callback`, as
    /// registered with the provider (e.g. `https://notify.example.gov.uk/sign-in/sso/callback`).
    pub redirect_url: String,
    /// Scopes asked for; `openid` and `email` are needed (the email address matches people).
    pub scopes: Vec<String>,
    /// Passwords are refused: people sign in only through the identity provider.
    pub only_sso: bool,
    /// `amr` values accepted in place of our second factor; an ID token with none of them is
    /// followed by our second factor, as after a password. Empty: always ours.
    pub mfa_amr: Vec<String>,
}

impl Default for OidcConfig {
    fn default() -> Self {
        OidcConfig {
            enabled: false,
            provider_name: "your organisation's account".into(),
            issuer: String::new(),
            client_id: String::new(),
            client_secret: Secret::default(),
            client_secret_file: PathBuf::new(),
            redirect_url: String::new(),
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            only_sso: false,
            mfa_amr: DEFAULT_MFA_AMR.iter().map(|s| s.to_string()).collect(),
        }
    }
}

fn is_http_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

impl OidcConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !self.enabled {
            if self.only_sso {
                return invalid("oidc.only_sso", "needs oidc.enabled = true");
            }
            return Ok(());
        }
        if !is_http_url(&self.issuer) {
            return invalid(
                "oidc.issuer",
                "must be the identity provider's https:// URL",
            );
        }
        if self.client_id.trim().is_empty() {
            return invalid("oidc.client_id", "must be set when oidc.enabled = true");
        }
        if !self.client_secret.is_empty() && !self.client_secret_file.as_os_str().is_empty() {
            return invalid(
                "oidc.client_secret_file",
                "set client_secret or client_secret_file, not both",
            );
        }
        if !is_http_url(&self.redirect_url) || !self.redirect_url.ends_with("/sign-in/sso/callback")
        {
            return invalid(
                "oidc.redirect_url",
                "must be this appliance's URL ending in /sign-in/sso/callback",
            );
        }
        for needed in ["openid", "email"] {
            if !self.scopes.iter().any(|s| s == needed) {
                return invalid("oidc.scopes", format!("must include \"{needed}\""));
            }
        }
        if self.provider_name.trim().is_empty() {
            return invalid("oidc.provider_name", "must not be empty");
        }
        Ok(())
    }

    /// The client secret: `client_secret`, or the contents of `client_secret_file`; `None` for
    /// a public client. Err = a message for the operator.
    pub fn secret(&self) -> Result<Option<Secret>, String> {
        if !self.client_secret_file.as_os_str().is_empty() {
            let path = &self.client_secret_file;
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("oidc.client_secret_file {}: {e}", path.display()))?;
            let text = text.trim_end();
            if text.is_empty() {
                return Err(format!(
                    "oidc.client_secret_file {} is empty",
                    path.display()
                ));
            }
            return Ok(Some(Secret::new(text)));
        }
        Ok((!self.client_secret.is_empty()).then(|| self.client_secret.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on() -> OidcConfig {
        OidcConfig {
            enabled: true,
            issuer: "https://login.example.gov.uk/realms/staff".into(),
            client_id: "notify".into(),
            client_secret: Secret::new("s3cret"),
            redirect_url: "https://notify.example.gov.uk/sign-in/sso/callback".into(),
            ..OidcConfig::default()
        }
    }

    #[test]
    fn off_by_default_and_valid_when_off() {
        let config = OidcConfig::default();
        assert!(!config.enabled);
        config.validate().unwrap();
    }

    #[test]
    fn on_needs_issuer_client_and_callback_url() {
        on().validate().unwrap();
        type Breaks = fn(&mut OidcConfig);
        let cases: [(&str, Breaks); 5] = [
            ("oidc.issuer", |c| c.issuer = "login.example".into()),
            ("oidc.client_id", |c| c.client_id = " ".into()),
            ("oidc.redirect_url", |c| {
                c.redirect_url = "https://notify.example.gov.uk/callback".into()
            }),
            ("oidc.scopes", |c| c.scopes = vec!["openid".into()]),
            ("oidc.client_secret_file", |c| {
                c.client_secret_file = "/run/secrets/oidc".into()
            }),
        ];
        for (key, break_it) in cases {
            let mut config = on();
            break_it(&mut config);
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
    }

    #[test]
    fn only_sso_needs_sso_on() {
        let config = OidcConfig {
            only_sso: true,
            ..OidcConfig::default()
        };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("oidc.only_sso"), "{err}");
    }

    #[test]
    fn secret_from_a_file_or_inline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oidc-secret");
        std::fs::write(&path, "from-file\n").unwrap();
        let mut config = on();
        assert_eq!(config.secret().unwrap().unwrap().expose(), "s3cret");
        config.client_secret = Secret::default();
        config.client_secret_file = path;
        assert_eq!(config.secret().unwrap().unwrap().expose(), "from-file");
        config.client_secret_file = dir.path().join("missing");
        assert!(config.secret().unwrap_err().contains("missing"));
        config.client_secret_file = PathBuf::new();
        assert_eq!(config.secret().unwrap(), None);
    }

    #[test]
    fn the_secret_is_redacted_when_shown() {
        let shown = super::super::serialize_redacted(&on()).unwrap();
        let text = format!("{shown:?}");
        assert!(!text.contains("s3cret"), "{text}");
    }
}
