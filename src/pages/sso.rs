//! Single sign-on's pages: `GET /sign-in/sso` sends the browser to the identity provider,
//! `GET /sign-in/sso/callback` is where the provider sends it back. The flow's rules (state,
//! nonce, PKCE, the ID token, matching the person, the audit) are
//! [`crate::domain::accounts::oidc`]'s; these handlers move the browser and its cookies.
//!
//! The `state` also goes into a short-lived cookie scoped to `/sign-in/sso`: the callback must
//! come back to the browser that left (so another site cannot sign a browser in to an account
//! of its choosing with a callback URL of its own).

use std::collections::HashMap;
use std::sync::Arc;

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::http::header::{HeaderValue, SET_COOKIE};
use warp::reply::Response;

use super::session::{Visit, visit};
use super::sign_in::{LANDING, signed_in_redirect};
use super::{PageError, html, redirect};
use crate::app::App;
use crate::config::OidcConfig;
use crate::domain::Code;
use crate::domain::accounts::oidc::{self, Callback, Finished, Refusal};

/// The cookie holding the `state` of a sign-in sent to the identity provider.
pub const STATE_COOKIE: &str = "notify_sso_state";

/// The sign-in page's button: `Some(provider name)` when single sign-on is on.
pub fn button(oidc: &OidcConfig) -> Option<String> {
    oidc.enabled.then(|| oidc.provider_name.clone())
}

/// `oidc.only_sso`: the message a password sign-in gets instead.
pub fn passwords_refused(oidc: &OidcConfig) -> Option<String> {
    (oidc.enabled && oidc.only_sso).then(|| {
        format!(
            "Sign in with {}. This Notify does not use passwords.",
            oidc.provider_name
        )
    })
}

fn state_cookie(value: &str, secure: bool, max_age: i64) -> String {
    let mut c = format!(
        "{STATE_COOKIE}={value}; Path=/sign-in/sso; HttpOnly; SameSite=Lax; Max-Age={max_age}"
    );
    if secure {
        c.push_str("; Secure");
    }
    c
}

fn set_state_cookie(response: &mut Response, value: &str, secure: bool, max_age: i64) {
    if let Ok(v) = HeaderValue::from_str(&state_cookie(value, secure, max_age)) {
        response.headers_mut().append(SET_COOKIE, v);
    }
}

fn refused_page(v: &Visit, status: StatusCode, message: String) -> Response {
    let mut r = html(
        status,
        &web::SsoRefusedPage {
            layout: web::Layout::new("You cannot sign in"),
            message,
        },
    );
    set_state_cookie(&mut r, "", v.secure(), 0);
    r
}

fn unavailable_page(v: &Visit, e: crate::domain::DomainError) -> Response {
    match e.code() {
        Code::NotFound => PageError::NotFound.into_response(),
        Code::Unavailable => refused_page(
            v,
            StatusCode::SERVICE_UNAVAILABLE,
            e.refusal()
                .unwrap_or("Single sign-on is not available right now. Try again later.")
                .to_string(),
        ),
        _ => PageError::from(e).into_response(),
    }
}

async fn get_start(v: Visit) -> Response {
    if !v.app.config.oidc.enabled {
        return PageError::NotFound.into_response();
    }
    if v.signed_in().is_some() {
        return redirect(LANDING);
    }
    match oidc::begin(&v.app).await {
        Ok(started) => {
            let mut r = redirect(&started.authorize_url);
            set_state_cookie(
                &mut r,
                &started.state,
                v.secure(),
                oidc::ATTEMPT_MINUTES * 60,
            );
            r
        }
        Err(e) => unavailable_page(&v, e),
    }
}

async fn get_callback(query: HashMap<String, String>, v: Visit) -> Response {
    if !v.app.config.oidc.enabled {
        return PageError::NotFound.into_response();
    }
    let field = |name: &str| query.get(name).cloned().unwrap_or_default();
    let callback = Callback {
        state: field("state"),
        code: field("code"),
        error: query.get("error").cloned(),
        kept_state: v.cookie(STATE_COOKIE).unwrap_or("").to_string(),
    };
    let provider = v.app.config.oidc.provider_name.clone();
    match oidc::finish(&v.app, &callback, v.address()).await {
        Ok(Ok(Finished::SignedIn(s))) => {
            let mut r = signed_in_redirect(&v, LANDING, &s);
            set_state_cookie(&mut r, "", v.secure(), 0);
            r
        }
        Ok(Ok(Finished::SecondFactorNeeded(pending))) => {
            let mut r = signed_in_redirect(&v, "/two-factor", &pending);
            set_state_cookie(&mut r, "", v.secure(), 0);
            r
        }
        Ok(Err(refusal)) => {
            let status = match refusal {
                Refusal::UnknownState | Refusal::ProviderRefused(_) => StatusCode::BAD_REQUEST,
                _ => StatusCode::FORBIDDEN,
            };
            refused_page(&v, status, refusal.message(&provider))
        }
        Err(e) => unavailable_page(&v, e),
    }
}

/// Single sign-on's routes (404 while `oidc.enabled` is off).
pub fn routes(app: Arc<App>) -> BoxedFilter<(Response,)> {
    let v = visit(app);
    let start = warp::path!("sign-in" / "sso")
        .and(warp::get())
        .and(v.clone())
        .then(get_start);
    let callback = warp::path!("sign-in" / "sso" / "callback")
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .and(v)
        .then(get_callback);
    start.or(callback).unify().boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_cookie_is_scoped_to_sso_and_short_lived() {
        assert_eq!(
            state_cookie("abc", true, 600),
            "notify_sso_state=abc; Path=/sign-in/sso; HttpOnly; SameSite=Lax; Max-Age=600; Secure"
        );
    }

    #[test]
    fn button_and_password_refusal_follow_the_settings() {
        let mut oidc = OidcConfig::default();
        assert_eq!(button(&oidc), None);
        assert_eq!(passwords_refused(&oidc), None);
        oidc.enabled = true;
        oidc.provider_name = "Entra ID".into();
        assert_eq!(button(&oidc).as_deref(), Some("Entra ID"));
        assert_eq!(passwords_refused(&oidc), None);
        oidc.only_sso = true;
        assert!(
            passwords_refused(&oidc)
                .unwrap()
                .contains("Sign in with Entra ID")
        );
    }
}
