//! Random tokens and single-use links. A token is 256 random bits, base64url in the link or
//! the cookie; only its SHA-256 is stored, so a copy of the database opens no session and
//! follows no link. Links (email sign-in, password reset, the first sign-in link `notify user
//! create` prints) work once, until they expire.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use storage::StoreError;
use storage::records::{LinkPurpose, LinkToken, User, UserState};
use uuid::Uuid;

use crate::domain::{Context, DomainError, DomainResult};

/// A new random token: 32 bytes, base64url without padding (43 characters).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored instead of a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Why a link does not work, in upstream's words where it has them.
fn link_refused(purpose: LinkPurpose) -> DomainError {
    DomainError::not_found(
        match purpose {
            LinkPurpose::PasswordReset => {
                "The link in the email we sent you has expired. Enter your email address to resend."
            }
            LinkPurpose::EmailSignIn => "The link has expired",
            LinkPurpose::FirstSignIn => {
                "This sign-in link has expired or has been used. Ask the operator for a new one."
            }
        }
        .to_string(),
    )
}

/// Make a link for `user_id` that works once for `valid_micros`; answers the token.
pub async fn issue(
    cx: &Context,
    user_id: Uuid,
    purpose: LinkPurpose,
    valid_micros: i64,
) -> DomainResult<String> {
    let token = new_token();
    let hash = token_hash(&token);
    cx.store
        .write(move |ctx| {
            let now = ctx.now_micros();
            ctx.put_link_token(
                &hash,
                &LinkToken {
                    purpose,
                    user_id,
                    created_at: now,
                    expires_at: now + valid_micros,
                    used_at: None,
                },
            )
        })
        .await?;
    Ok(token)
}

/// The link's user, if the link still works (not used, not expired, for this purpose, for an
/// account that is not archived). Reads only: a page may show its form first.
pub fn peek(cx: &Context, token: &str, purpose: LinkPurpose) -> DomainResult<User> {
    let reader = cx.store.read()?;
    let now = cx.clock().now_micros();
    let link = reader
        .get_link_token(&token_hash(token))?
        .filter(|l| l.purpose == purpose && l.used_at.is_none() && l.expires_at > now)
        .ok_or_else(|| link_refused(purpose))?;
    reader
        .get_user(link.user_id)?
        .filter(|u| u.state != UserState::Archived)
        .ok_or_else(|| link_refused(purpose))
}

/// Use the link: in one write, check it still works and mark it used, then apply `change` to
/// its user (which may write more: a new password, an audit event). Answers the user as
/// `change` left it. A second use of the same link fails.
pub async fn redeem<F>(
    cx: &Context,
    token: &str,
    purpose: LinkPurpose,
    change: F,
) -> DomainResult<User>
where
    F: FnOnce(&mut storage::WriteCtx<'_>, User) -> storage::Result<User> + Send + 'static,
{
    let hash = token_hash(token);
    let refused = link_refused(purpose).to_string();
    cx.store
        .write(move |ctx| {
            let now = ctx.now_micros();
            let gone = || StoreError::NotFound(refused.clone());
            let mut link = ctx
                .get_link_token(&hash)?
                .filter(|l| l.purpose == purpose && l.used_at.is_none() && l.expires_at > now)
                .ok_or_else(gone)?;
            let user = ctx
                .get_user(link.user_id)?
                .filter(|u| u.state != UserState::Archived)
                .ok_or_else(gone)?;
            link.used_at = Some(now);
            ctx.put_link_token(&hash, &link)?;
            change(ctx, user)
        })
        .await
        .map_err(DomainError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_stored_as_hashes() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_eq!(token_hash(&a).len(), 32);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}
