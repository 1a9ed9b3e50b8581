//! v2 authentication (spec §2): `Authorization: Bearer <jwt>`, HS256 signed with one of the
//! service's key secrets, `iss` = service id, `iat` within ±30 s. The checks run in upstream's
//! order so each failure gets upstream's message.
//!
//! Services and their (unsealed) key secrets are cached for two seconds, as upstream does, so
//! the accept path does not open the database or decrypt anything per request; tokens that
//! verified are remembered for as long, so a client's many requests within one second (one
//! token, as `iat` is in whole seconds) pay for one signature check.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;
use storage::records::{ApiKey, Service};
use uuid::Uuid;
use warp::http::StatusCode;

use crate::domain::Context;
use crate::domain::key_cache::{CACHE_TTL as CACHE_TTL_OF_KEYS, LoadedService};
use crate::error::AppError;

/// Tokens stay remembered as verified this long (as long as the key cache keeps a service).
const CACHE_TTL: Duration = CACHE_TTL_OF_KEYS;
pub const CLOCK_SKEW_SECS: i64 = 30;

const MALFORMED: &str = "Invalid token: make sure your API token matches the example at https://docs.notifications.service.gov.uk/rest-api.html#authorisation-header";

/// Who is calling: the service and the key that signed the token.
#[derive(Clone)]
pub struct Caller {
    pub service: Arc<LoadedService>,
    pub key_index: usize,
}

impl Caller {
    pub fn service(&self) -> &Service {
        &self.service.service
    }

    pub fn key(&self) -> &ApiKey {
        &self.service.keys[self.key_index].key
    }
}

/// Tokens whose signature was checked lately. A client signs a fresh token per request, but
/// `iat` is in whole seconds, so one token serves all of a client's requests in a second:
/// checking its HMAC and parsing its JSON once per second instead of per request is most of
/// the authentication cost. Only what cannot change is remembered (who signed it, with which
/// key, its time claims); the time window, the key's revocation and the service's state are
/// checked again on every use.
#[derive(Default)]
pub struct VerifiedTokens {
    verified: RwLock<HashMap<Box<str>, VerifiedToken>>,
}

/// A token that passed every check once.
#[derive(Clone, Copy)]
struct VerifiedToken {
    service_id: Uuid,
    key_id: Uuid,
    key_index: usize,
    iat: i64,
    nbf: Option<i64>,
    exp: Option<i64>,
    checked: Instant,
}

/// Tokens remembered at most; beyond it the memory is simply cleared (tokens live seconds).
const VERIFIED_TOKENS_MAX: usize = 4096;

impl VerifiedTokens {
    /// A caller for a token verified lately, if it still passes the checks that can change
    /// (its service is active, its key still loaded and not revoked, its time claims). `None`
    /// sends the token through the full checks, which give the exact error when it fails.
    fn verified_again(
        &self,
        cx: &Context,
        token: &str,
        now: i64,
    ) -> Result<Option<Caller>, AppError> {
        let Some(seen) = self
            .verified
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .copied()
        else {
            return Ok(None);
        };
        if seen.checked.elapsed() >= CACHE_TTL
            || (now - seen.iat).abs() > CLOCK_SKEW_SECS
            || seen.nbf.is_some_and(|nbf| nbf > now)
            || seen.exp.is_some_and(|exp| exp < now)
        {
            return Ok(None);
        }
        let Some(loaded) = cx.keys.get(&cx.store, &cx.sealer, seen.service_id)? else {
            return Ok(None);
        };
        let key_still_valid = loaded.service.active
            && loaded
                .keys
                .get(seen.key_index)
                .is_some_and(|k| k.key.id == seen.key_id && k.key.expiry_date.is_none());
        Ok(key_still_valid.then(|| Caller {
            service: loaded,
            key_index: seen.key_index,
        }))
    }

    fn remember(&self, token: &str, verified: VerifiedToken) {
        let mut map = self.verified.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= VERIFIED_TOKENS_MAX {
            map.clear();
        }
        map.insert(token.into(), verified);
    }
}

/// The `alg` of a token's header, read as upstream's JWT library reads it before checking any
/// signature: three segments, the first base64url JSON object. `None` when that fails; an
/// object without `alg`, or with one this library cannot even name (`none`), is still a
/// header, and fails later with upstream's "algorithm used is not HS256".
fn token_algorithm(token: &str) -> Option<Option<String>> {
    use base64::Engine as _;
    let mut segments = token.split('.');
    let (Some(header), Some(_), Some(_), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return None;
    };
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()?;
    let Value::Object(header) = serde_json::from_slice::<Value>(&json).ok()? else {
        return None;
    };
    Some(
        header
            .get("alg")
            .and_then(Value::as_str)
            .map(str::to_string),
    )
}

fn auth_error(status: StatusCode, message: &str) -> AppError {
    AppError::Auth {
        status,
        message: message.to_string(),
    }
}

fn forbidden(message: &str) -> AppError {
    auth_error(StatusCode::FORBIDDEN, message)
}

/// Authenticate a v2 request from its `Authorization` header.
pub fn authenticate(
    header: Option<&str>,
    cx: &Context,
    tokens: &VerifiedTokens,
) -> Result<Caller, AppError> {
    // Steps 1 and 2.
    let header = header.filter(|h| !h.is_empty()).ok_or_else(|| {
        auth_error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized: authentication token must be provided",
        )
    })?;
    let token = crate::auth::bearer_token(header).ok_or_else(|| {
        auth_error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized: authentication bearer scheme must be used",
        )
    })?;
    let now = cx.clock().now().timestamp();
    if let Some(caller) = tokens.verified_again(cx, token, now)? {
        return Ok(caller);
    }
    // Step 3: decodes without verification, has an iss.
    let alg = token_algorithm(token).ok_or_else(|| forbidden(MALFORMED))?;
    let claims: Value =
        jsonwebtoken::dangerous::insecure_decode_claims(token).map_err(|_| forbidden(MALFORMED))?;
    let iss = match claims.get("iss") {
        None | Some(Value::Null) => return Err(forbidden("Invalid token: iss field not provided")),
        Some(v) => v,
    };
    // Step 4.
    let service_id = iss
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| forbidden("Invalid token: service id is not the right data type"))?;
    // Steps 5 to 7.
    let loaded = cx
        .keys
        .get(&cx.store, &cx.sealer, service_id)?
        .ok_or_else(|| forbidden("Invalid token: service not found"))?;
    if loaded.keys.is_empty() {
        return Err(forbidden("Invalid token: service has no API keys"));
    }
    if !loaded.service.active {
        return Err(forbidden("Invalid token: service is archived"));
    }
    // Step 8: try each key; the first whose secret verifies the signature decides.
    if alg.as_deref() != Some("HS256") {
        return Err(forbidden("Invalid token: algorithm used is not HS256"));
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.required_spec_claims.clear();
    for (i, k) in loaded.keys.iter().enumerate() {
        let verified = match jsonwebtoken::decode::<Value>(token, &k.decoding, &validation) {
            Ok(data) => data.claims,
            Err(e) => match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => continue,
                _ => return Err(forbidden(MALFORMED)),
            },
        };
        // A signed token without iat is treated as "try the next key", as upstream does.
        let Some(iat) = verified.get("iat") else {
            continue;
        };
        let clock_error =
            || forbidden("Error: Your system clock must be accurate to within 30 seconds");
        let iat = iat.as_f64().ok_or_else(clock_error)? as i64;
        if (now - iat).abs() > CLOCK_SKEW_SECS {
            return Err(clock_error());
        }
        if verified
            .get("nbf")
            .and_then(Value::as_f64)
            .is_some_and(|nbf| nbf as i64 > now)
        {
            return Err(clock_error());
        }
        if verified
            .get("exp")
            .is_some_and(|exp| exp.as_f64().is_none_or(|exp| (exp as i64) < now))
        {
            return Err(forbidden(MALFORMED));
        }
        if k.key.expiry_date.is_some() {
            return Err(forbidden("Invalid token: API key revoked"));
        }
        tokens.remember(
            token,
            VerifiedToken {
                service_id,
                key_id: k.key.id,
                key_index: i,
                iat,
                nbf: verified
                    .get("nbf")
                    .and_then(Value::as_f64)
                    .map(|v| v as i64),
                exp: verified
                    .get("exp")
                    .and_then(Value::as_f64)
                    .map(|v| v as i64),
                checked: Instant::now(),
            },
        );
        return Ok(Caller {
            service: loaded.clone(),
            key_index: i,
        });
    }
    Err(forbidden("Invalid token: API key not found"))
}
