//! Single sign-on with OpenID Connect (`[oidc]`): the authorisation code flow with PKCE
//! against the organisation's identity provider (Entra ID, Keycloak, ...), through the
//! `openidconnect` crate with our own rustls HTTP client.
//!
//! [`begin`] reads the provider's discovery document, makes a random `state`, nonce and PKCE
//! verifier, keeps the nonce and verifier in redb under the SHA-256 of the state (10 minutes,
//! single use) and answers the provider's authorisation URL. [`finish`] takes that record back
//! (gone after the first try: a replayed or forged callback finds nothing), exchanges the code
//! with the verifier, checks the ID token (signature against the provider's keys, issuer,
//! audience, expiry, nonce) and matches the person by its email address, which the provider
//! must say it verified (`email_verified: true`). Nobody is created here: an address without
//! an account is refused (accounts come from `notify user create` and invitations, which also
//! give the permissions).
//!
//! When the ID token's `amr` holds one of `oidc.mfa_amr` (default [`DEFAULT_MFA_AMR`]) the
//! provider's multi-factor sign-in stands in for ours ([`SecondFactor::Idp`]); otherwise our
//! second factor follows, exactly as after a password. Either way the sign-in ends in
//! [`sessions::create_signed_in`], which audits it with `"method": "sso"`; every refusal is
//! audited as a failed sign-in.
//!
//! Metadata and keys are read afresh at each step: sign-ins are rare, and a provider that
//! rotates its keys then needs nothing from us.
//!
//! [`DEFAULT_MFA_AMR`]: crate::config::DEFAULT_MFA_AMR

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde_json::json;
use storage::records::{SsoRecord, User, UserState};
use subtle::ConstantTimeEq;

use super::actor::{Actor, Person};
use super::audit::{Action, Entry};
use super::links::token_hash;
use super::sessions::{NewSession, SecondFactor};
use crate::config::OidcConfig;
use crate::domain::{Context, DomainError, DomainResult};

/// How long a sign-in sent to the identity provider may take to come back.
pub const ATTEMPT_MINUTES: i64 = 10;

const MINUTE_MICROS: i64 = 60 * 1_000_000;

/// A sign-in sent to the identity provider: where to send the browser, and the `state` the
/// browser keeps (in a cookie) to prove on its way back that it is the one that left.
#[derive(Debug, Clone)]
pub struct Started {
    pub authorize_url: String,
    pub state: String,
}

/// How a sign-in through the identity provider ended.
#[derive(Debug, Clone)]
pub enum Finished {
    /// The provider did multi-factor authentication: signed in.
    SignedIn(NewSession),
    /// Our second factor follows: a pending session, its code sent as after a password.
    SecondFactorNeeded(NewSession),
}

/// Why a sign-in through the identity provider was refused. Each is audited as a failed
/// sign-in with [`Refusal::reason`] and shown with [`Refusal::message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such state, already used, expired, or not the one this browser started.
    UnknownState,
    /// The provider sent the person back with an error (they cancelled, or it refused).
    ProviderRefused(String),
    /// The code exchange or the ID token check failed.
    NotConfirmed,
    /// No email address, or the provider does not say it verified it.
    EmailNotVerified,
    /// A verified address with no account here.
    UnknownEmail(String),
    /// The account is locked or archived.
    AccountLocked,
}

impl Refusal {
    /// Why, for the audit trail (no personal data).
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::UnknownState => "unknown, used or expired state",
            Refusal::ProviderRefused(_) => "identity provider returned an error",
            Refusal::NotConfirmed => "code exchange or ID token check failed",
            Refusal::EmailNotVerified => "email address not verified by the identity provider",
            Refusal::UnknownEmail(_) => "unknown email address",
            Refusal::AccountLocked => "account locked or archived",
        }
    }

    /// What the person is told; `provider` is `oidc.provider_name`.
    pub fn message(&self, provider: &str) -> String {
        match self {
            Refusal::UnknownState => {
                "This sign-in has expired or was already used. Sign in again.".into()
            }
            Refusal::ProviderRefused(_) => {
                format!("You did not finish signing in with {provider}. Sign in again.")
            }
            Refusal::NotConfirmed => {
                format!("We could not confirm who you are with {provider}. Sign in again.")
            }
            Refusal::EmailNotVerified => format!(
                "{provider} has not confirmed your email address, so we cannot match it to a \
                 Notify account. Ask your IT team to confirm it, then sign in again."
            ),
            Refusal::UnknownEmail(email) => format!(
                "There is no Notify account for {email}. Ask a member of your team to invite \
                 you, or ask your platform admin for an account."
            ),
            Refusal::AccountLocked => {
                "This account is locked. Ask your platform admin to unlock it.".into()
            }
        }
    }
}

/// Whether the ID token's `amr` says the provider did more than one factor: any value in
/// `accepted` (`oidc.mfa_amr`).
pub fn provider_did_mfa(amr: &[String], accepted: &[String]) -> bool {
    amr.iter().any(|a| accepted.iter().any(|ok| ok == a))
}

/// Whether the `state` a browser kept is the one it came back with (in constant time).
pub fn state_matches(returned: &str, kept: &str) -> bool {
    !returned.is_empty() && bool::from(returned.as_bytes().ct_eq(kept.as_bytes()))
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct HttpError(String);

/// The `openidconnect` crate's HTTP calls, made with a reqwest client (rustls) that never
/// follows redirects (the crate's advice: a redirect could carry the code elsewhere). A named
/// type with a boxed `Send` future, so the page handlers' futures stay `Send`.
struct Http(reqwest::Client);

impl Http {
    fn new() -> DomainResult<Http> {
        reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map(Http)
            .map_err(|e| unavailable(format!("HTTP client: {e}")))
    }
}

type HttpFuture<'c> =
    Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, HttpError>> + Send + 'c>>;

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = HttpFuture<'c>;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(send(&self.0, request))
    }
}

async fn send(
    client: &reqwest::Client,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, HttpError> {
    let request = reqwest::Request::try_from(request).map_err(|e| HttpError(e.to_string()))?;
    let response = client
        .execute(request)
        .await
        .map_err(|e| HttpError(e.to_string()))?;
    let mut builder = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| HttpError(e.to_string()))?;
    builder
        .body(body.to_vec())
        .map_err(|e| HttpError(e.to_string()))
}

fn unavailable(message: String) -> DomainError {
    tracing::warn!(error = %message, "single sign-on: the identity provider could not be used");
    DomainError::refused(
        crate::domain::Code::Unavailable,
        "Single sign-on is not available right now. Try again later.",
    )
}

fn settings(cx: &Context) -> DomainResult<&OidcConfig> {
    let oidc = &cx.config.oidc;
    if !oidc.enabled {
        return Err(DomainError::not_found(
            "Single sign-on is not set up".into(),
        ));
    }
    Ok(oidc)
}

/// The client for the configured provider, from its discovery document (read now).
async fn provider_client(
    oidc: &OidcConfig,
    http: &Http,
) -> DomainResult<
    CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
> {
    let issuer = IssuerUrl::new(oidc.issuer.clone()).map_err(|e| unavailable(e.to_string()))?;
    let metadata = CoreProviderMetadata::discover_async(issuer, http)
        .await
        .map_err(|e| unavailable(format!("discovery: {e}")))?;
    let secret = oidc.secret().map_err(unavailable)?;
    let redirect =
        RedirectUrl::new(oidc.redirect_url.clone()).map_err(|e| unavailable(e.to_string()))?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(oidc.client_id.clone()),
        secret.map(|s| ClientSecret::new(s.expose().to_string())),
    )
    .set_redirect_uri(redirect))
}

/// Start a sign-in: the provider's authorisation URL (with PKCE, state and nonce), the state
/// kept server-side for [`ATTEMPT_MINUTES`].
pub async fn begin(cx: &Context) -> DomainResult<Started> {
    let oidc = settings(cx)?;
    let http = Http::new()?;
    let client = provider_client(oidc, &http).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in oidc.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
    let record = SsoRecord::Attempt {
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        expires_at: cx.clock().now_micros() + ATTEMPT_MINUTES * MINUTE_MICROS,
    };
    let hash = token_hash(state.secret());
    cx.store
        .write(move |ctx| ctx.put_sso_record(&hash, &record))
        .await?;
    Ok(Started {
        authorize_url: url.to_string(),
        state: state.secret().clone(),
    })
}

/// What the provider sent the browser back with.
#[derive(Debug, Clone, Default)]
pub struct Callback {
    pub state: String,
    pub code: String,
    /// `error` (and `error_description`) instead of a code.
    pub error: Option<String>,
    /// The state this browser kept when it left (its cookie).
    pub kept_state: String,
}

async fn refuse(
    cx: &Context,
    refusal: Refusal,
    user: Option<&User>,
    address: Option<IpAddr>,
) -> DomainResult<Result<Finished, Refusal>> {
    let (actor, subject) = match user {
        Some(u) => (
            Actor::person(Person::new(u.clone(), Vec::new())).from(address),
            Some(u.id),
        ),
        None => (Actor::anonymous().from(address), None),
    };
    let mut entry = Entry::new(&actor, Action::SignInFailed)
        .details(json!({"method": "sso", "reason": refusal.reason()}));
    if let Some(id) = subject {
        entry = entry.subject(id);
    }
    super::audit::record(cx, entry).await?;
    tracing::info!(reason = refusal.reason(), "single sign-on refused");
    Ok(Err(refusal))
}

/// Finish a sign-in the provider sent back: `Ok(Err(refusal))` for the refusal page (already
/// audited), `Err` only when the provider or the store could not be reached.
pub async fn finish(
    cx: &Context,
    callback: &Callback,
    address: Option<IpAddr>,
) -> DomainResult<Result<Finished, Refusal>> {
    let oidc = settings(cx)?;
    // The record goes whatever happens next: a state works once.
    let hash = token_hash(&callback.state);
    let taken = cx
        .store
        .write(move |ctx| ctx.take_sso_record(&hash))
        .await?;
    let now = cx.clock().now_micros();
    let (nonce, verifier) = match taken {
        Some(SsoRecord::Attempt {
            nonce,
            pkce_verifier,
            expires_at,
        }) if expires_at >= now && state_matches(&callback.state, &callback.kept_state) => {
            (nonce, pkce_verifier)
        }
        _ => return refuse(cx, Refusal::UnknownState, None, address).await,
    };
    if let Some(error) = &callback.error {
        return refuse(cx, Refusal::ProviderRefused(error.clone()), None, address).await;
    }
    if callback.code.is_empty() {
        return refuse(cx, Refusal::NotConfirmed, None, address).await;
    }
    let http = Http::new()?;
    let client = provider_client(oidc, &http).await?;
    let exchange = client
        .exchange_code(AuthorizationCode::new(callback.code.clone()))
        .map_err(|e| unavailable(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(verifier));
    let tokens = match exchange.request_async(&http).await {
        Ok(tokens) => tokens,
        Err(e) => {
            tracing::info!(error = %e, "single sign-on: the code exchange failed");
            return refuse(cx, Refusal::NotConfirmed, None, address).await;
        }
    };
    let Some(id_token) = tokens.id_token() else {
        return refuse(cx, Refusal::NotConfirmed, None, address).await;
    };
    let claims = match id_token.claims(&client.id_token_verifier(), &Nonce::new(nonce)) {
        Ok(claims) => claims,
        Err(e) => {
            tracing::info!(error = %e, "single sign-on: the ID token was refused");
            return refuse(cx, Refusal::NotConfirmed, None, address).await;
        }
    };
    let email = match (claims.email(), claims.email_verified()) {
        (Some(email), Some(true)) => email.as_str().to_string(),
        _ => return refuse(cx, Refusal::EmailNotVerified, None, address).await,
    };
    let amr: Vec<String> = claims
        .auth_method_refs()
        .map(|list| list.iter().map(|a| a.as_str().to_string()).collect())
        .unwrap_or_default();
    let Some(user) = super::users::find_by_email(cx, &email)? else {
        return refuse(cx, Refusal::UnknownEmail(email), None, address).await;
    };
    if !matches!(user.state, UserState::Active | UserState::Pending) {
        return refuse(cx, Refusal::AccountLocked, Some(&user), address).await;
    }
    let provider = oidc.provider_name.clone();
    if provider_did_mfa(&amr, &oidc.mfa_amr) {
        let how = SecondFactor::Idp { provider };
        let session = super::sessions::create_signed_in(cx, user.id, how, None, address).await?;
        return Ok(Ok(Finished::SignedIn(session)));
    }
    let pending = super::sign_in::start_second_factor(cx, &user, address).await?;
    // Remember that this pending session came through the provider, so the sign-in its code
    // completes is audited as SSO.
    let mark = SsoRecord::PendingSession {
        provider,
        expires_at: now + i64::from(cx.config.accounts.code_expiry_minutes) * MINUTE_MICROS,
    };
    let hash = token_hash(&pending.token);
    cx.store
        .write(move |ctx| ctx.put_sso_record(&hash, &mark))
        .await?;
    Ok(Ok(Finished::SecondFactorNeeded(pending)))
}

/// `delete-verify-codes` also removes sign-ins that never came back.
pub async fn delete_expired(cx: &Context) -> DomainResult<usize> {
    let now = cx.clock().now_micros();
    Ok(cx
        .store
        .write_deferred(move |ctx| ctx.delete_sso_records_expired_before(now))
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn mfa_only_when_amr_names_an_accepted_method() {
        let accepted: Vec<String> = crate::config::DEFAULT_MFA_AMR
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(provider_did_mfa(&strings(&["pwd", "mfa"]), &accepted));
        assert!(provider_did_mfa(&strings(&["hwk"]), &accepted));
        assert!(provider_did_mfa(&strings(&["otp", "pwd"]), &accepted));
        assert!(!provider_did_mfa(&strings(&["pwd"]), &accepted));
        assert!(!provider_did_mfa(&[], &accepted));
        // An operator who trusts no provider's MFA empties the list.
        assert!(!provider_did_mfa(&strings(&["mfa"]), &[]));
    }

    #[test]
    fn state_must_match_the_browsers_and_not_be_empty() {
        assert!(state_matches("abc", "abc"));
        assert!(!state_matches("abc", "abd"));
        assert!(!state_matches("abc", ""));
        assert!(!state_matches("", ""));
    }

    #[test]
    fn refusals_name_the_provider_and_never_put_addresses_in_the_audit_reason() {
        let refusals = [
            Refusal::UnknownState,
            Refusal::ProviderRefused("access_denied".into()),
            Refusal::NotConfirmed,
            Refusal::EmailNotVerified,
            Refusal::UnknownEmail("someone@example.gov.uk".into()),
            Refusal::AccountLocked,
        ];
        for r in &refusals {
            assert!(!r.reason().contains('@'), "{r:?}");
            assert!(!r.message("Entra ID").is_empty());
        }
        assert!(
            Refusal::NotConfirmed
                .message("Entra ID")
                .contains("Entra ID")
        );
        assert!(
            Refusal::UnknownEmail("someone@example.gov.uk".into())
                .message("Entra ID")
                .contains("someone@example.gov.uk")
        );
    }
}
