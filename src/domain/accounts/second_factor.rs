//! Second factors: an authenticator app (TOTP, RFC 6238: 6 digits, 30-second steps, one step
//! of clock drift either way, each code accepted once), or a 6-digit code by text message or
//! by email (each works once, for `accounts.code_expiry_minutes`). Codes go out through the
//! appliance's own service ([`super::notify_service`]), so on the embedded default they land
//! in the outbox.
//!
//! Enrolling an authenticator is stateless until it is confirmed: the new secret travels in
//! the enrolment form sealed with the appliance's key (bound to the person), and is stored
//! only once a code made from it has been typed back.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use storage::records::{AuthType, CodeKind, User, VerifyCode};
use storage::{StoreError, WriteCtx};
use totp_rs::{Algorithm, Totp};
use uuid::Uuid;

use super::actor::Actor;
use super::audit::{Action, Entry};
use super::notify_service::{self, Message};
use crate::crypto::Sealer;
use crate::domain::{Context, DomainError, DomainResult};

/// What authenticator apps show the account under.
pub const TOTP_ISSUER: &str = "Notify";
/// Digits of every code: authenticator, text message.
pub const CODE_DIGITS: usize = 6;
const TOTP_STEP_SECS: u64 = 30;
/// 160 bits, as RFC 4226 recommends.
const TOTP_SECRET_BYTES: usize = 20;

/// Upstream's answers to a wrong or used code.
pub const CODE_NOT_FOUND: &str = "Code not found";
pub const CODE_EXPIRED: &str = "Code has expired";

fn totp(secret: Vec<u8>, account: &str) -> DomainResult<Totp> {
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(CODE_DIGITS as u8)
        .with_skew(1)
        .with_step_duration(TOTP_STEP_SECS)
        .with_secret(secret)
        .with_account_name(account.replace(':', ""))
        .with_issuer(Some(TOTP_ISSUER))
        .build()
        .map_err(|e| DomainError::Internal(format!("authenticator secret: {e}")))
}

/// The code an authenticator shows for `secret_base32` at `unix_secs` (tests and scripts use
/// this to sign in).
pub fn totp_code(secret_base32: &str, unix_secs: u64) -> DomainResult<String> {
    let secret = totp_rs::Secret::try_from_base32(secret_base32)
        .map_err(|e| DomainError::invalid(format!("not a base32 secret: {e}")))?;
    Ok(totp(secret.as_ref().to_vec(), "x")?
        .generate(unix_secs)
        .to_string())
}

/// An authenticator enrolment to show: the secret (to type in), the `otpauth://` URL and the
/// QR code (SVG) of it, and the sealed token the confirmation form posts back.
#[derive(Debug, Clone)]
pub struct Enrolment {
    pub secret_base32: String,
    pub otpauth_url: String,
    pub qr_svg: String,
    pub token: String,
}

/// A new authenticator secret for `user`, not stored yet.
pub fn begin_totp_enrolment(cx: &Context, user: &User) -> DomainResult<Enrolment> {
    let mut secret = vec![0u8; TOTP_SECRET_BYTES];
    rand::rng().fill_bytes(&mut secret);
    enrolment_of(cx, user, secret)
}

/// The enrolment a set-up form posted back (to show again after a wrong code), if the token is
/// this person's.
pub fn resume_totp_enrolment(cx: &Context, user: &User, token: &str) -> DomainResult<Enrolment> {
    let secret = enrolment_secret(&cx.sealer, token, user.id).ok_or_else(|| {
        DomainError::bad_request("This set-up form has expired: start again".into())
    })?;
    enrolment_of(cx, user, secret)
}

fn enrolment_of(cx: &Context, user: &User, secret: Vec<u8>) -> DomainResult<Enrolment> {
    let t = totp(secret.clone(), &user.email_address)?;
    let otpauth_url = t
        .to_url()
        .map_err(|e| DomainError::Internal(format!("authenticator URL: {e}")))?;
    let qr_svg = qrcode::QrCode::new(otpauth_url.as_bytes())
        .map_err(|e| DomainError::Internal(format!("QR code: {e}")))?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    let mut bound = user.id.as_bytes().to_vec();
    bound.extend_from_slice(&secret);
    Ok(Enrolment {
        secret_base32: t.secret().to_base32(),
        otpauth_url,
        qr_svg,
        token: URL_SAFE_NO_PAD.encode(cx.sealer.seal(&bound)),
    })
}

/// The secret inside an enrolment token, if the token is this person's.
fn enrolment_secret(sealer: &Sealer, token: &str, user_id: Uuid) -> Option<Vec<u8>> {
    let sealed = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    let bound = sealer.open(&sealed).ok()?;
    let (id, secret) = bound.split_at_checked(16)?;
    (id == user_id.as_bytes()).then(|| secret.to_vec())
}

/// Confirm an enrolment with a code from the app: the secret is stored (sealed) and the person
/// signs in with their authenticator from now on. The acting person enrols only themselves.
/// `Ok(Err(message))` is a wrong code (shown on the form).
pub async fn confirm_totp_enrolment(
    cx: &Context,
    actor: &Actor,
    token: &str,
    code: &str,
) -> DomainResult<Result<(), String>> {
    let Some(user) = actor.user() else {
        return Err(DomainError::bad_request(
            "Only a person can set up an authenticator".into(),
        ));
    };
    let user_id = user.id;
    let secret = enrolment_secret(&cx.sealer, token, user_id).ok_or_else(|| {
        DomainError::bad_request("This set-up form has expired: start again".into())
    })?;
    let code = normalise_code(code);
    let now_secs = cx.clock().now().timestamp().max(0) as u64;
    let Some(step) = totp(secret.clone(), &user.email_address)?.check(&code, now_secs) else {
        return Ok(Err(CODE_NOT_FOUND.to_string()));
    };
    let sealed = cx.sealer.seal(&secret);
    let entry = Entry::new(actor, Action::SecondFactorChanged)
        .subject(user_id)
        .details(serde_json::json!({"auth_type": AuthType::Totp.as_str()}));
    cx.store
        .write(move |ctx| {
            let mut user = ctx
                .get_user(user_id)?
                .ok_or_else(|| StoreError::NotFound("No such user".into()))?;
            user.totp_secret_sealed = Some(sealed);
            user.totp_last_step = Some(step);
            user.auth_type = AuthType::Totp;
            user.updated_at = Some(ctx.now_micros());
            ctx.put_user(&user)?;
            ctx.delete_user_verify_codes(user_id)?;
            entry.write(ctx)
        })
        .await?;
    Ok(Ok(()))
}

/// A code as typed: digits only (people type spaces and dashes).
pub fn normalise_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_digit()).collect()
}

/// Whether `code` (normalised) looks like a code at all: upstream's field checks.
pub fn check_code_format(code: &str, thing: &str) -> Result<(), String> {
    let digits = normalise_code(code);
    if code.trim().is_empty() {
        return Err(format!("Enter {thing}"));
    }
    if code
        .chars()
        .any(|c| !(c.is_ascii_digit() || c == ' ' || c == '-'))
    {
        return Err("Numbers only".into());
    }
    if digits.len() != CODE_DIGITS {
        return Err(format!("Security code must be {CODE_DIGITS} digits long"));
    }
    Ok(())
}

fn code_hash(id: Uuid, code: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(id.as_bytes());
    h.update(code.as_bytes());
    h.finalize().to_vec()
}

/// Send the sign-in code the person's auth type calls for: a 6-digit code by text message or
/// by email; nothing for an authenticator. At most `accounts.max_active_codes` unused codes at
/// a time: more requests send nothing (as upstream), so nobody can flood a phone or an inbox.
pub async fn send_sign_in_code(cx: &Context, user: &User) -> DomainResult<()> {
    let (kind, message, to) = match user.auth_type {
        AuthType::Sms => {
            let Some(mobile) = user.mobile_number.clone() else {
                return Err(DomainError::invalid(
                    "This account has no mobile number to send a code to".into(),
                ));
            };
            (CodeKind::Sms, Message::SmsCode, mobile)
        }
        AuthType::Email => (
            CodeKind::Email,
            Message::EmailCode,
            user.email_address.clone(),
        ),
        AuthType::Totp => return Ok(()),
    };
    let now = cx.clock().now_micros();
    let active = cx
        .store
        .read()?
        .user_verify_codes(user.id)?
        .iter()
        .filter(|c| !c.used && c.expires_at > now)
        .count();
    if active >= cx.config.accounts.max_active_codes as usize {
        tracing::warn!(user_id = %user.id, active, "too many verify codes created for a user: none sent");
        return Ok(());
    }
    let minutes = i64::from(cx.config.accounts.code_expiry_minutes);
    let code: String = (0..CODE_DIGITS)
        .map(|_| char::from(b'0' + rand::rng().random_range(0..10u8)))
        .collect();
    let id = Uuid::now_v7();
    let record = VerifyCode {
        id,
        user_id: user.id,
        kind,
        code_hash: code_hash(id, &code),
        created_at: now,
        expires_at: now + minutes * 60_000_000,
        used: false,
    };
    cx.store
        .write(move |ctx| ctx.put_verify_code(&record))
        .await?;
    let personalisation = match message {
        Message::EmailCode => vec![
            ("name", user.name.clone()),
            ("verify_code", code),
            ("minutes", minutes.to_string()),
        ],
        _ => vec![("verify_code", code)],
    };
    notify_service::send(cx, message, &to, &personalisation).await?;
    Ok(())
}

/// How a typed code compares with what the person's second factor expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    Valid,
    /// Wrong, or used already.
    NotFound,
    Expired,
}

/// Check a code inside a write, using it up when it is valid: a text message code is marked
/// used; an authenticator code's step is remembered so it works once.
pub(crate) fn check_and_use_code(
    ctx: &mut WriteCtx<'_>,
    sealer: &Sealer,
    user: &mut User,
    code: &str,
) -> storage::Result<CodeCheck> {
    let code = normalise_code(code);
    match user.auth_type {
        AuthType::Totp => {
            let Some(sealed) = &user.totp_secret_sealed else {
                return Ok(CodeCheck::NotFound);
            };
            let secret = sealer
                .open(sealed)
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            let t = totp(secret, &user.email_address)
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            let now_secs = (ctx.now_micros() / 1_000_000).max(0) as u64;
            match t.check(&code, now_secs) {
                Some(step) if user.totp_last_step.is_none_or(|last| step > last) => {
                    user.totp_last_step = Some(step);
                    Ok(CodeCheck::Valid)
                }
                _ => Ok(CodeCheck::NotFound),
            }
        }
        AuthType::Sms | AuthType::Email => {
            let kind = if user.auth_type == AuthType::Sms {
                CodeKind::Sms
            } else {
                CodeKind::Email
            };
            let now = ctx.now_micros();
            let found = ctx
                .user_verify_codes(user.id)?
                .into_iter()
                .find(|c| c.kind == kind && c.code_hash == code_hash(c.id, &code));
            match found {
                None => Ok(CodeCheck::NotFound),
                Some(c) if c.used || c.expires_at <= now => Ok(CodeCheck::Expired),
                Some(mut c) => {
                    c.used = true;
                    ctx.put_verify_code(&c)?;
                    Ok(CodeCheck::Valid)
                }
            }
        }
    }
}

/// `delete-verify-codes` (hourly): codes older than a day, links past their expiry.
pub async fn delete_old_codes(cx: &Context) -> DomainResult<(usize, usize)> {
    let now = cx.clock().now_micros();
    let day_ago = now - 86_400_000_000;
    Ok(cx
        .store
        .write_deferred(move |ctx| {
            Ok((
                ctx.delete_verify_codes_created_before(day_ago)?,
                ctx.delete_link_tokens_expired_before(now)?,
            ))
        })
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authenticator_codes_follow_rfc_6238() {
        // RFC 6238 appendix B, SHA-1, 8 digits: 94287082 at 59 s, so 6 digits are its tail.
        let secret = b"12345678901234567890".to_vec();
        let t = totp(secret, "x").unwrap();
        assert_eq!(t.generate(59).to_string(), "287082");
        assert_eq!(t.generate(1_111_111_109).to_string(), "081804");
        assert!(t.check("287082", 59 + 30).is_some(), "one step of drift");
        assert!(t.check("287082", 59 + 90).is_none());
        let base32 = t.secret().to_base32();
        assert_eq!(totp_code(&base32, 59).unwrap(), "287082");
    }

    #[test]
    fn typed_codes_are_checked_as_upstream() {
        assert_eq!(
            check_code_format("", "your code"),
            Err("Enter your code".into())
        );
        assert_eq!(check_code_format("12a456", "x"), Err("Numbers only".into()));
        assert_eq!(
            check_code_format("1234", "x"),
            Err("Security code must be 6 digits long".into())
        );
        assert_eq!(check_code_format("123 456", "x"), Ok(()));
        assert_eq!(normalise_code(" 123-456 "), "123456");
    }
}
