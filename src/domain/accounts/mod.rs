//! People: accounts, signing in with a second factor, what each person may do in each service,
//! invitations, and the audit trail of what everyone did. One concept per module:
//!
//! - [`actor`]: who is acting (a person with their permissions, the operator, an API key, the
//!   appliance) — every domain function a person can trigger takes one;
//! - [`permissions`]: what an action needs ([`Need`]) and the one check of it;
//! - [`audit`]: the append-only trail, written in the same commit as each change;
//! - [`users`]: accounts and memberships (team members and their permissions);
//! - [`passwords`]: password rules and Argon2id hashing on a bounded pool;
//! - [`links`]: random tokens and single-use links (only their hashes are stored);
//! - [`sessions`]: server-side sessions, their timeouts, sign-out;
//! - [`second_factor`]: authenticator apps (TOTP), codes by text message, links by email;
//! - [`sign_in`]: the sign-in steps, lock-out, forgotten passwords;
//! - [`invitations`]: inviting people to a service, accepting;
//! - [`notify_service`]: the appliance's own service that sends account messages;
//! - [`oidc`]: single sign-on through an OpenID Connect identity provider; it ends at
//!   [`sessions::create_signed_in`] with [`sessions::SecondFactor::Idp`] when the ID token's
//!   `amr` says the provider did MFA, and in our second factor otherwise.

pub mod actor;
pub mod audit;
pub mod invitations;
pub mod links;
pub mod notify_service;
pub mod oidc;
pub mod passwords;
pub mod permissions;
pub mod second_factor;
pub mod sessions;
pub mod sign_in;
pub mod users;

pub use actor::{Actor, OPERATOR_ID, Person, Who};
pub use audit::{Action, Entry};
pub use permissions::{Denied, Need};

use super::{Context, JobOutcome};

/// `delete-verify-codes` (hourly, as upstream): second-factor codes older than a day, expired
/// links, and sessions that are over.
pub async fn delete_verify_codes(cx: &std::sync::Arc<Context>) -> JobOutcome {
    let (codes, links) = second_factor::delete_old_codes(cx).await?;
    let sessions = sessions::delete_expired(cx).await?;
    let sso = oidc::delete_expired(cx).await?;
    Ok(format!(
        "deleted {codes} codes, {links} expired links, {sessions} ended sessions and {sso} \
         unfinished single sign-ons"
    ))
}

/// `delete-invitations` (hourly, as upstream).
pub async fn delete_invitations(cx: &Context) -> JobOutcome {
    let n = invitations::delete_old(cx).await?;
    Ok(format!("deleted {n} expired invitations"))
}
