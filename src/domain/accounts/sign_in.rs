//! Signing in, step by step, with upstream's limits: the password (checked on the bounded
//! hashing pool), then the second factor; `accounts.max_failed_logins` (10) failed passwords or
//! codes in a row lock the account until a password reset or `notify user unlock`. Every
//! failure is audited (and the lock too); messages never say whether an email address has an
//! account.
//!
//! Also here: forgotten passwords (an emailed link, valid `accounts.password_reset_minutes`)
//! and the first sign-in link `notify user create` prints, which both end in choosing a new
//! password.

use std::net::IpAddr;

use serde_json::json;
use storage::StoreError;
use storage::records::{AuthType, LinkPurpose, User, UserState};
use uuid::Uuid;

use super::actor::{Actor, Person};
use super::audit::{Action, Entry};
use super::notify_service::{self, Message};
use super::second_factor::{self, CODE_EXPIRED, CODE_NOT_FOUND, CodeCheck};
use super::sessions::{self, Checked, NewSession, SecondFactor};
use crate::domain::{Context, DomainError, DomainResult};

/// Upstream's one message for a wrong email address, a wrong password, a locked or an archived
/// account.
pub const SIGN_IN_FAILED: &str = "The email address or password you entered is incorrect.";

fn actor_for(user: &User, address: Option<IpAddr>) -> Actor {
    Actor::person(Person::new(user.clone(), Vec::new())).from(address)
}

/// Count a failed password or code against `user_id` inside a write: at the limit the account
/// locks (its sessions end) and the lock is audited besides the failure.
fn record_failure(
    ctx: &mut storage::WriteCtx<'_>,
    user_id: Uuid,
    max: u32,
    failure: Entry,
) -> storage::Result<()> {
    let Some(mut user) = ctx.get_user(user_id)? else {
        return Ok(());
    };
    user.failed_login_count = user.failed_login_count.saturating_add(1);
    let locks = user.failed_login_count >= max && user.state == UserState::Active;
    failure
        .clone()
        .details(json!({"failed_login_count": user.failed_login_count}))
        .write(ctx)?;
    if locks {
        user.state = UserState::Locked;
        ctx.delete_user_sessions(user_id)?;
        failure
            .action(Action::LockedOut)
            .details(json!({"failed_login_count": user.failed_login_count}))
            .write(ctx)?;
    }
    ctx.put_user(&user)
}

/// Whether an account is locked because of failed attempts (which a password reset opens), as
/// opposed to locked by a platform admin (which only unlocking opens).
pub fn locked_by_failures(cx: &Context, user: &User) -> bool {
    user.state == UserState::Locked
        && user.failed_login_count >= cx.config.accounts.max_failed_logins
}

/// Step 1: the email address and password. Answers the account when both are right and it
/// may sign in; `None` otherwise (the page shows [`SIGN_IN_FAILED`]). Too many attempts being
/// checked at once is an error (`Code::Busy`, 429).
pub async fn check_password(
    cx: &Context,
    email: &str,
    password: &str,
    address: Option<IpAddr>,
) -> DomainResult<Option<User>> {
    let user = super::users::find_by_email(cx, email)?;
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let matches = cx.passwords.verify(password.to_string(), stored).await?;
    let Some(user) = user else {
        let failure = Entry::new(&Actor::anonymous().from(address), Action::SignInFailed)
            .details(json!({"reason": "unknown email address"}));
        super::audit::record(cx, failure).await?;
        return Ok(None);
    };
    let usable = user.state == UserState::Active;
    let max = cx.config.accounts.max_failed_logins;
    let user_id = user.id;
    let entry = Entry::new(&actor_for(&user, address), Action::SignInFailed).subject(user_id);
    if matches && usable {
        cx.store
            .write(move |ctx| {
                if let Some(mut u) = ctx.get_user(user_id)?
                    && u.failed_login_count > 0
                {
                    u.failed_login_count = 0;
                    ctx.put_user(&u)?;
                }
                Ok(())
            })
            .await?;
        return Ok(Some(user));
    }
    let reason = if !usable {
        user.state.as_str()
    } else {
        "wrong password"
    };
    cx.store
        .write(move |ctx| {
            if usable {
                record_failure(ctx, user_id, max, entry)
            } else {
                entry.details(json!({"reason": reason})).write(ctx)
            }
        })
        .await?;
    Ok(None)
}

/// Step 2 begins: a pending session, and the code the person's second factor needs (sent by
/// text message or email; an authenticator needs nothing sent).
pub async fn start_second_factor(
    cx: &Context,
    user: &User,
    address: Option<IpAddr>,
) -> DomainResult<NewSession> {
    let session = sessions::create_pending(cx, user.id, address).await?;
    second_factor::send_sign_in_code(cx, user).await?;
    Ok(session)
}

/// Step 2: the code typed on the second-factor page of a pending session. A right code signs
/// in (a new session replaces the pending one); a wrong one counts towards the lock-out and is
/// `Ok(Err(message))` for the form.
pub async fn verify_code(
    cx: &Context,
    pending: &Checked,
    code: &str,
    address: Option<IpAddr>,
) -> DomainResult<Result<NewSession, String>> {
    let user_id = pending.person.user.id;
    let max = cx.config.accounts.max_failed_logins;
    let sealer = cx.sealer.clone();
    let code = code.to_string();
    let failure = Entry::new(
        &actor_for(&pending.person.user, address),
        Action::SignInFailed,
    )
    .subject(user_id)
    .details(json!({"reason": "wrong code"}));
    let outcome = cx
        .store
        .write(move |ctx| {
            let mut user = ctx
                .get_user(user_id)?
                .ok_or_else(|| StoreError::NotFound("No such user".into()))?;
            // Past the limit every code is wrong, as upstream.
            if user.failed_login_count >= max || user.state != UserState::Active {
                return Ok(CodeCheck::NotFound);
            }
            let check = second_factor::check_and_use_code(ctx, &sealer, &mut user, &code)?;
            match check {
                CodeCheck::Valid => ctx.put_user(&user)?,
                _ => record_failure(ctx, user_id, max, failure)?,
            }
            Ok(check)
        })
        .await?;
    let how = match pending.person.user.auth_type {
        AuthType::Totp => SecondFactor::Totp,
        AuthType::Sms => SecondFactor::SmsCode,
        AuthType::Email => SecondFactor::EmailCode,
    };
    match outcome {
        CodeCheck::Valid => Ok(Ok(sessions::create_signed_in(
            cx,
            user_id,
            how,
            Some(pending.hash.clone()),
            address,
        )
        .await?)),
        CodeCheck::NotFound => Ok(Err(CODE_NOT_FOUND.into())),
        CodeCheck::Expired => Ok(Err(CODE_EXPIRED.into())),
    }
}

/// "Forgotten your password?": email a reset link to the account with this address. Answers
/// the same whether or not there is one (the page says "check your email" either way).
pub async fn request_password_reset(
    cx: &Context,
    email: &str,
    base_url: &str,
    address: Option<IpAddr>,
) -> DomainResult<()> {
    let Some(user) = super::users::find_by_email(cx, email)? else {
        return Ok(());
    };
    if user.state == UserState::Archived {
        return Ok(());
    }
    let minutes = i64::from(cx.config.accounts.password_reset_minutes);
    let token = super::links::issue(
        cx,
        user.id,
        LinkPurpose::PasswordReset,
        minutes * 60_000_000,
    )
    .await?;
    let url = format!("{}/new-password/{token}", base_url.trim_end_matches('/'));
    notify_service::send(
        cx,
        Message::PasswordReset,
        &user.email_address,
        &[("user_name", user.name.clone()), ("url", url)],
    )
    .await?;
    let entry =
        Entry::new(&actor_for(&user, address), Action::PasswordResetRequested).subject(user.id);
    super::audit::record(cx, entry).await
}

/// The account a new-password link is for, if the link still works (for the page's form).
pub fn new_password_link(cx: &Context, token: &str, purpose: LinkPurpose) -> DomainResult<User> {
    super::links::peek(cx, token, purpose)
}

/// Choose a new password through a reset link or a first sign-in link: the link is used up,
/// the password stored, every other session ends, and an account locked by failed attempts
/// opens again. What comes next depends on the link: a first sign-in link (handed over by the
/// operator) signs in at once; a reset link signs in at once for email sign-in (the link came
/// by email), and otherwise asks for the second factor — answered as `Err(pending session)`.
pub async fn set_new_password(
    cx: &Context,
    token: &str,
    purpose: LinkPurpose,
    password: &str,
    address: Option<IpAddr>,
) -> DomainResult<Result<NewSession, NewSession>> {
    if !matches!(
        purpose,
        LinkPurpose::PasswordReset | LinkPurpose::FirstSignIn
    ) {
        return Err(DomainError::bad_request("Not a password link".into()));
    }
    super::passwords::check_new_password(&cx.config.accounts, password, "your new password")
        .map_err(DomainError::invalid)?;
    // Check the link before the slow hash, and again when it is used.
    let user = super::links::peek(cx, token, purpose)?;
    let hash = cx.passwords.hash(password.to_string()).await?;
    let max = cx.config.accounts.max_failed_logins;
    let entry = Entry::new(&actor_for(&user, address), Action::PasswordChanged)
        .subject(user.id)
        .details(json!({"by": purpose.as_str()}));
    let user = super::links::redeem(cx, token, purpose, move |ctx, mut user| {
        let now = ctx.now_micros();
        user.password_hash = Some(hash);
        user.password_changed_at = Some(now);
        user.updated_at = Some(now);
        let failures_lock = user.state == UserState::Locked && user.failed_login_count >= max;
        if failures_lock {
            user.state = UserState::Active;
        }
        if failures_lock || user.state == UserState::Active {
            user.failed_login_count = 0;
        }
        if user.state == UserState::Pending {
            // The link proved the email address (or the operator handed it over).
            user.state = UserState::Active;
        }
        ctx.delete_user_sessions(user.id)?;
        ctx.put_user(&user)?;
        entry.write(ctx)?;
        Ok(user)
    })
    .await?;
    if user.state != UserState::Active {
        return Err(DomainError::forbidden(
            "This account is locked. Ask your platform admin to unlock it.".into(),
        ));
    }
    let signed_in = |how| sessions::create_signed_in(cx, user.id, how, None, address);
    match (purpose, user.auth_type) {
        (LinkPurpose::FirstSignIn, _) => Ok(Ok(signed_in(SecondFactor::OperatorLink).await?)),
        (_, AuthType::Email) => Ok(Ok(signed_in(SecondFactor::EmailLink).await?)),
        _ => Ok(Err(start_second_factor(cx, &user, address).await?)),
    }
}
