//! Server-side sessions. The cookie holds a random 256-bit id; redb holds only its SHA-256,
//! with the user, how the second factor was proved, when it started and when it was last used.
//!
//! A session is *pending* after the password alone ([`create_pending`]): it opens only the
//! second-factor pages. Proving the second factor ([`create_signed_in`]) ends the pending
//! session and starts a new one under a new id (so an id seen before sign-in is worthless
//! after). Every way of proving the second factor ends there — a code, an authenticator, an
//! emailed link, and (added later) an identity provider whose ID token says it did MFA
//! ([`SecondFactor::Idp`]) — so lock-out resets, the sign-in audit event and the session's
//! timeouts are the same for all of them.
//!
//! A session ends after `accounts.session_absolute_hours` whatever happens, after
//! `accounts.session_idle_minutes` without a request (platform admins:
//! `platform_admin_idle_minutes`, as upstream), at sign-out, and for every session of a user
//! at "sign out everywhere", a lock, a new password or a reset second factor.

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::json;
use storage::StoreError;
use storage::records::{Session, SsoRecord, UserState};

use super::actor::{Actor, Person};
use super::audit::{Action, Entry};
use super::links::{new_token, token_hash};
use super::permissions::Denied;
use crate::domain::{Context, DomainError, DomainResult};

/// The session cookie's name (upstream's admin app's).
pub const COOKIE: &str = "notify_admin_session";

/// Last-seen times are written at most this often per session: the idle timeout needs minutes,
/// not every request's write.
const TOUCH_EVERY_MICROS: i64 = 60 * 1_000_000;

/// How a person proved the second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecondFactor {
    /// An authenticator app's code (TOTP).
    Totp,
    /// A code sent by text message.
    SmsCode,
    /// A code sent by email.
    EmailCode,
    /// A link sent by email (a password reset, an invitation).
    EmailLink,
    /// The first sign-in link `notify user create` printed for the operator to hand over.
    OperatorLink,
    /// An identity provider that says it did multi-factor authentication itself (the ID
    /// token's `amr`); `provider` names the configured issuer.
    Idp { provider: String },
}

impl SecondFactor {
    pub fn as_str(&self) -> String {
        match self {
            SecondFactor::Totp => "totp".into(),
            SecondFactor::SmsCode => "sms".into(),
            SecondFactor::EmailCode => "email".into(),
            SecondFactor::EmailLink => "email-link".into(),
            SecondFactor::OperatorLink => "operator-link".into(),
            SecondFactor::Idp { provider } => format!("idp:{provider}"),
        }
    }
}

/// A session just made: the cookie's value and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
}

/// A session the cookie opened.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The stored session's key (the hash of the cookie's id).
    pub hash: Vec<u8>,
    pub session: Session,
    /// The person, with their permissions (for a pending session too; nothing lets a pending
    /// session act as them).
    pub person: Person,
    /// The last-seen time is old enough to write again ([`touch_later`]).
    pub needs_touch: bool,
}

impl Checked {
    /// Passed only the password so far.
    pub fn is_pending(&self) -> bool {
        self.session.second_factor.is_none()
    }

    /// The actor of a signed-in session, acting from `address`.
    pub fn actor(&self, address: Option<IpAddr>) -> Actor {
        Actor::person(self.person.clone()).from(address)
    }
}

fn new_session(
    user_id: uuid::Uuid,
    second_factor: Option<String>,
    now: i64,
    address: Option<IpAddr>,
) -> Session {
    Session {
        user_id,
        second_factor,
        created_at: now,
        last_seen_at: now,
        csrf_token: new_token(),
        address: address.map(|a| a.to_string()),
    }
}

/// A pending session after a correct password: it opens only the second-factor pages.
pub async fn create_pending(
    cx: &Context,
    user_id: uuid::Uuid,
    address: Option<IpAddr>,
) -> DomainResult<NewSession> {
    let token = new_token();
    let hash = token_hash(&token);
    let session = new_session(user_id, None, cx.clock().now_micros(), address);
    let csrf_token = session.csrf_token.clone();
    cx.store
        .write(move |ctx| ctx.insert_session(&hash, &session))
        .await?;
    Ok(NewSession { token, csrf_token })
}

/// Sign the user in: end the pending session `replacing` (if any), start a new one, reset the
/// failed-login count, note the time, and write the sign-in audit event — one write. The user
/// must be active (a pending user becomes active: proving the second factor proved the email
/// address or phone). This is where every second factor ends, including an identity
/// provider's.
pub async fn create_signed_in(
    cx: &Context,
    user_id: uuid::Uuid,
    second_factor: SecondFactor,
    replacing: Option<Vec<u8>>,
    address: Option<IpAddr>,
) -> DomainResult<NewSession> {
    let token = new_token();
    let hash = token_hash(&token);
    let how = second_factor.as_str();
    cx.store
        .write(move |ctx| {
            // A pending session that single sign-on started (`oidc`) carries a mark: the
            // sign-in its code completes is audited as SSO too.
            let mut via_sso = matches!(second_factor, SecondFactor::Idp { .. });
            if let Some(old) = &replacing {
                ctx.delete_session(old)?;
                via_sso |= matches!(
                    ctx.take_sso_record(old)?,
                    Some(SsoRecord::PendingSession { .. })
                );
            }
            let now = ctx.now_micros();
            let mut user = ctx
                .get_user(user_id)?
                .ok_or_else(|| StoreError::NotFound("No such user".into()))?;
            match user.state {
                UserState::Active => {}
                UserState::Pending => user.state = UserState::Active,
                UserState::Locked | UserState::Archived => {
                    return Err(StoreError::Invalid(
                        "This account is locked. Ask your platform admin to unlock it.".into(),
                    ));
                }
            }
            user.failed_login_count = 0;
            user.logged_in_at = Some(now);
            ctx.put_user(&user)?;
            let session = new_session(user_id, Some(how.clone()), now, address);
            let csrf_token = session.csrf_token.clone();
            ctx.insert_session(&hash, &session)?;
            let actor = Actor::person(Person::new(user, Vec::new())).from(address);
            Entry::new(&actor, Action::SignedIn)
                .subject(user_id)
                .details(if via_sso {
                    json!({"second_factor": how, "method": "sso"})
                } else {
                    json!({"second_factor": how})
                })
                .write(ctx)?;
            Ok(csrf_token)
        })
        .await
        .map(|csrf_token| NewSession { token, csrf_token })
        .map_err(DomainError::from)
}

/// Open the session a cookie names: one snapshot read of the session, the user and their
/// memberships. The hot path of every signed-in request (benched: `benches/sessions.rs`).
pub fn check(cx: &Context, token: &str) -> Result<Checked, Denied> {
    if token.is_empty() || token.len() > 128 {
        return Err(Denied::NotSignedIn);
    }
    let hash = token_hash(token);
    let reader = cx.store.read().map_err(|_| Denied::NotSignedIn)?;
    let session = reader
        .get_session(&hash)
        .ok()
        .flatten()
        .ok_or(Denied::NotSignedIn)?;
    let user = reader
        .get_user(session.user_id)
        .ok()
        .flatten()
        .filter(|u| matches!(u.state, UserState::Active | UserState::Pending))
        .ok_or(Denied::NotSignedIn)?;
    let now = cx.clock().now_micros();
    if expired(cx, &session, user.platform_admin, now) {
        return Err(Denied::NotSignedIn);
    }
    let memberships = reader
        .user_memberships(user.id)
        .map_err(|_| Denied::NotSignedIn)?;
    let needs_touch = now - session.last_seen_at >= TOUCH_EVERY_MICROS;
    Ok(Checked {
        hash,
        session,
        person: Person::new(user, memberships),
        needs_touch,
    })
}

/// Whether a session is over: past its absolute lifetime, or idle too long. A pending session
/// lasts as long as its codes do.
pub fn expired(cx: &Context, s: &Session, platform_admin: bool, now: i64) -> bool {
    let a = &cx.config.accounts;
    let minute = 60 * 1_000_000i64;
    if s.second_factor.is_none() {
        return now - s.created_at > i64::from(a.code_expiry_minutes) * minute;
    }
    let idle_minutes = if platform_admin {
        a.platform_admin_idle_minutes.min(a.session_idle_minutes)
    } else {
        a.session_idle_minutes
    };
    now - s.created_at > i64::from(a.session_absolute_hours) * 60 * minute
        || now - s.last_seen_at > i64::from(idle_minutes) * minute
}

/// Note that the session was used now, in the background (a deferred write: losing it to a
/// crash costs at most a minute of idle time).
pub fn touch_later(cx: &Arc<Context>, checked: &Checked) {
    let cx = cx.clone();
    let hash = checked.hash.clone();
    let mut session = checked.session.clone();
    tokio::spawn(async move {
        session.last_seen_at = cx.clock().now_micros();
        if let Err(e) = cx
            .store
            .write_deferred(move |ctx| ctx.update_session(&hash, &session).map(|_| ()))
            .await
        {
            tracing::debug!(error = %e, "could not note a session's last use");
        }
    });
}

/// Sign out: end this session.
pub async fn sign_out(
    cx: &Context,
    checked: &Checked,
    address: Option<IpAddr>,
) -> DomainResult<()> {
    let hash = checked.hash.clone();
    let entry =
        Entry::new(&checked.actor(address), Action::SignedOut).subject(checked.person.user.id);
    let pending = checked.is_pending();
    cx.store
        .write(move |ctx| {
            if ctx.delete_session(&hash)?.is_some() && !pending {
                entry.write(ctx)?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}

/// Sign out everywhere: end every session of `user_id` (the person themselves, or a platform
/// admin sending someone out).
pub async fn sign_out_everywhere(
    cx: &Context,
    actor: &Actor,
    user_id: uuid::Uuid,
) -> DomainResult<usize> {
    actor.require(
        super::permissions::Need::SelfOrPlatformAdmin,
        None,
        Some(user_id),
    )?;
    let entry = Entry::new(actor, Action::SignedOutEverywhere).subject(user_id);
    let ended = cx
        .store
        .write(move |ctx| {
            if ctx.get_user(user_id)?.is_none() {
                return Err(StoreError::NotFound(format!("No user with id {user_id}")));
            }
            let n = ctx.delete_user_sessions(user_id)?;
            entry.details(json!({"sessions": n})).write(ctx)?;
            Ok(n)
        })
        .await?;
    Ok(ended)
}

/// `delete-verify-codes` (hourly) also ends sessions that are over, so the table holds only
/// live ones.
pub async fn delete_expired(cx: &Arc<Context>) -> DomainResult<usize> {
    let now = cx.clock().now_micros();
    let admins: std::collections::HashSet<uuid::Uuid> = cx
        .store
        .read()?
        .all_users()?
        .into_iter()
        .filter(|u| u.platform_admin)
        .map(|u| u.id)
        .collect();
    let cx2 = cx.clone();
    Ok(cx
        .store
        .write_deferred(move |ctx| {
            ctx.delete_sessions_where(|s| expired(&cx2, s, admins.contains(&s.user_id), now))
        })
        .await?)
}
