//! Tokens for the internal (admin) API: HS256 JWTs with `iss` = the configured admin client id,
//! signed with the admin secret, and an `iat` within 30 seconds of the server's clock — the same
//! scheme upstream uses between its admin app and its API. The CLI signs one per request.

use std::collections::HashSet;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// How far `iat` may be from the server's clock, in seconds.
pub const CLOCK_SKEW_SECS: i64 = 30;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    iat: i64,
}

/// Upstream's admin-auth messages; answered as `{"result":"error","message":{"token":[...]}}`.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum AdminAuthError {
    #[error("Unauthorized: authentication token must be provided")]
    Missing,
    #[error("Unauthorized: authentication bearer scheme must be used")]
    NotBearer,
    /// A well-formed token from someone who is not the admin client (e.g. a service's API key).
    #[error("Unauthorized: not allowed to perform this action")]
    NotAllowed,
    #[error("Invalid token: signature, api token not found")]
    BadSignature,
    #[error("Invalid token: signature, api token is not valid")]
    Invalid,
    #[error("Invalid token: expired, check that your system clock is accurate")]
    Expired,
}

/// Sign an admin token for `client_id` at `now_secs`.
pub fn sign_admin_token(client_id: &str, secret: &str, now_secs: i64) -> String {
    let claims = Claims {
        iss: client_id.to_string(),
        iat: now_secs,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 signing of a small claims object cannot fail")
}

/// Check an `Authorization` header value against the admin credentials.
pub fn verify_admin_header(
    header: Option<&str>,
    client_id: &str,
    secret: &str,
    now_secs: i64,
) -> Result<(), AdminAuthError> {
    let header = header
        .filter(|h| !h.is_empty())
        .ok_or(AdminAuthError::Missing)?;
    let token = bearer_token(header).ok_or(AdminAuthError::NotBearer)?;
    // Whose token is it? Upstream answers anyone but the admin client (a service's API key,
    // say) with "not allowed" before checking the signature.
    let claimed: serde_json::Value = jsonwebtoken::dangerous::insecure_decode_claims(token)
        .map_err(|_| AdminAuthError::Invalid)?;
    if claimed.get("iss").and_then(|v| v.as_str()) != Some(client_id) {
        return Err(AdminAuthError::NotAllowed);
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims = HashSet::from(["iss".to_string()]);
    validation.set_issuer(&[client_id]);
    let data = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidSignature => AdminAuthError::BadSignature,
        jsonwebtoken::errors::ErrorKind::InvalidIssuer => AdminAuthError::NotAllowed,
        _ => AdminAuthError::Invalid,
    })?;
    if (data.claims.iat - now_secs).abs() > CLOCK_SKEW_SECS {
        return Err(AdminAuthError::Expired);
    }
    Ok(())
}

/// The token after a `Bearer ` scheme (any case, exactly one space), as upstream reads it.
pub fn bearer_token(header: &str) -> Option<&str> {
    let scheme = header.get(..7)?;
    scheme.eq_ignore_ascii_case("bearer ").then(|| &header[7..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn a_fresh_token_from_the_right_client_passes() {
        let t = sign_admin_token("notify-admin", "s3cret", NOW);
        let h = format!("Bearer {t}");
        assert_eq!(
            verify_admin_header(Some(&h), "notify-admin", "s3cret", NOW),
            Ok(())
        );
        let h = format!("bearer {t}");
        assert_eq!(
            verify_admin_header(Some(&h), "notify-admin", "s3cret", NOW + 30),
            Ok(())
        );
    }

    #[test]
    fn each_failure_has_its_own_error() {
        let t = sign_admin_token("notify-admin", "s3cret", NOW);
        let h = format!("Bearer {t}");
        let check = |h: Option<&str>, now| verify_admin_header(h, "notify-admin", "s3cret", now);
        assert_eq!(check(None, NOW), Err(AdminAuthError::Missing));
        assert_eq!(check(Some(""), NOW), Err(AdminAuthError::Missing));
        assert_eq!(
            check(Some(&format!("Basic {t}")), NOW),
            Err(AdminAuthError::NotBearer)
        );
        assert_eq!(check(Some(&h), NOW + 31), Err(AdminAuthError::Expired));
        assert_eq!(
            check(Some("Bearer junk"), NOW),
            Err(AdminAuthError::Invalid)
        );
        assert_eq!(
            verify_admin_header(Some(&h), "notify-admin", "other", NOW),
            Err(AdminAuthError::BadSignature)
        );
        assert_eq!(
            verify_admin_header(Some(&h), "someone-else", "s3cret", NOW),
            Err(AdminAuthError::NotAllowed)
        );
    }
}
