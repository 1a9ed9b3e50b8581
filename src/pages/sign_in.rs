//! Signing in and out: `/sign-in` (email address and password), `/two-factor` (the code from a
//! text message, an email or an authenticator app), `/sign-out`, `/first-sign-in/{token}` (the
//! link `notify user create` prints: choose a password), `/user-profile/authenticator` (set up
//! an authenticator app) and `/your-services`, where a signed-in person lands.
//!
//! The rules (lock-out, codes, sessions, audit) are the domain's
//! ([`crate::domain::accounts`]); these handlers read forms, call it, and set cookies.

use std::sync::Arc;

use bytes::Bytes;
use storage::records::{AuthType, LinkPurpose};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use web::{FormErrors, Layout, UserBar};

use super::session::{self, Visit, csrf_matches, visit};
use super::{Form, PageError, html, ok, redirect, respond};
use crate::app::App;
use crate::domain::Code;
use crate::domain::accounts::second_factor::{self, Enrolment};
use crate::domain::accounts::sessions::{self, Checked, NewSession};
use crate::domain::accounts::sign_in;

/// Where a person lands once signed in.
pub const LANDING: &str = "/your-services";

/// Upstream's answer to a form whose CSRF token is missing or wrong (the form was open too
/// long, or was not ours).
pub(crate) const FORM_EXPIRED: &str = "Your session has expired. Try again.";

pub(crate) fn user_bar(s: &Checked) -> Option<UserBar> {
    Some(UserBar {
        name: s.person.user.name.clone(),
        platform_admin: s.person.user.platform_admin,
    })
}

/// A page's layout for a signed-in (or pending) person.
pub(crate) fn layout_for(title: &str, s: &Checked, errors: &FormErrors) -> Layout {
    let mut layout = Layout::new(title);
    layout.csrf_token = s.session.csrf_token.clone();
    layout.has_errors = !errors.is_empty();
    if !s.is_pending() {
        layout.user = user_bar(s);
    }
    layout
}

/// A page shown before any session, with the form token it must post back.
pub(crate) fn anonymous_page(
    v: &Visit,
    status: StatusCode,
    title: &str,
    errors: &FormErrors,
    render: impl FnOnce(Layout) -> Response,
) -> Response {
    let (token, new) = session::form_token(v);
    let mut layout = Layout::new(title);
    layout.csrf_token = token.clone();
    layout.has_errors = !errors.is_empty();
    let mut response = render(layout);
    *response.status_mut() = status;
    if new {
        session::set_form_token(&mut response, &token, v.secure());
    }
    response
}

/// Answer with `to`, the browser now holding `session`.
pub(crate) fn signed_in_redirect(v: &Visit, to: &str, session: &NewSession) -> Response {
    let mut r = redirect(to);
    session::set_session(&mut r, session, v.secure());
    r
}

// ---- /sign-in ----

fn sign_in_page(v: &Visit, email: &str, errors: FormErrors) -> Response {
    anonymous_page(v, StatusCode::OK, "Sign in", &errors, |layout| {
        ok(&web::SignInPage {
            layout,
            email_address: email.to_string(),
            errors: errors.clone(),
            sso: super::sso::button(&v.app.config.oidc),
            only_sso: v.app.config.oidc.enabled && v.app.config.oidc.only_sso,
        })
    })
}

async fn get_sign_in(v: Visit) -> Response {
    match v.session() {
        Some(s) if !s.is_pending() => redirect(LANDING),
        _ => sign_in_page(&v, "", FormErrors::default()),
    }
}

async fn post_sign_in(v: Visit, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let email = form.get("email_address");
    let password = form.raw("password");
    let mut errors = FormErrors::default();
    if let Some(message) = super::sso::passwords_refused(&v.app.config.oidc) {
        errors.add("sso", message);
        return sign_in_page(&v, "", errors);
    }
    let expected = v.cookie(session::CSRF_COOKIE).unwrap_or("").to_string();
    if !csrf_matches(&form.get("csrf_token"), &expected) {
        errors.add("email_address", FORM_EXPIRED);
        return sign_in_page(&v, &email, errors);
    }
    if email.is_empty() {
        errors.add("email_address", "Enter your email address");
    }
    if password.is_empty() {
        errors.add("password", "Enter your password");
    }
    if !errors.is_empty() {
        return sign_in_page(&v, &email, errors);
    }
    let result: Result<Response, PageError> = async {
        let Some(user) = sign_in::check_password(&v.app, &email, &password, v.address()).await?
        else {
            errors.add("password", sign_in::SIGN_IN_FAILED);
            return Ok(sign_in_page(&v, &email, errors));
        };
        let pending = sign_in::start_second_factor(&v.app, &user, v.address()).await?;
        Ok(signed_in_redirect(&v, "/two-factor", &pending))
    }
    .await;
    respond(result)
}

// ---- /two-factor ----

fn two_factor_page(s: &Checked, errors: FormErrors) -> Response {
    let (lede, label, not_received) = match s.person.user.auth_type {
        AuthType::Totp => (
            "Open your authenticator app and enter the 6-digit code it shows for Notify.",
            "Code from your authenticator app",
            None,
        ),
        AuthType::Sms => (
            "We've sent you a text message with a security code.",
            "Text message code",
            Some(("/text-not-received", "Not received a text message?")),
        ),
        AuthType::Email => (
            "We've sent you an email with a security code.",
            "Email code",
            Some(("/email-not-received", "Not received an email?")),
        ),
    };
    let title = "Check your security code";
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    html(
        status,
        &web::TwoFactorPage {
            layout: layout_for(title, s, &errors),
            lede: lede.to_string(),
            label: label.to_string(),
            not_received: not_received.map(|(h, t)| (h.to_string(), t.to_string())),
            errors,
        },
    )
}

async fn get_two_factor(v: Visit) -> Response {
    match v.session() {
        Some(s) if s.is_pending() => two_factor_page(&s, FormErrors::default()),
        Some(_) => redirect(LANDING),
        None => redirect("/sign-in"),
    }
}

async fn post_two_factor(v: Visit, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let Some(s) = v.session() else {
        // Over (timed out, or locked by too many wrong codes): start again.
        return redirect("/sign-in");
    };
    if !s.is_pending() {
        return redirect(LANDING);
    }
    let mut errors = FormErrors::default();
    if !csrf_matches(&form.get("csrf_token"), &s.session.csrf_token) {
        errors.add("sms_code", FORM_EXPIRED);
        return two_factor_page(&s, errors);
    }
    let code = form.get("sms_code");
    if let Err(message) = second_factor::check_code_format(&code, "the security code") {
        errors.add("sms_code", message);
        return two_factor_page(&s, errors);
    }
    respond(
        match sign_in::verify_code(&v.app, &s, &code, v.address()).await {
            Ok(Ok(signed_in)) => Ok(signed_in_redirect(&v, LANDING, &signed_in)),
            Ok(Err(message)) => {
                errors.add("sms_code", message);
                Ok(two_factor_page(&s, errors))
            }
            Err(e) => Err(e.into()),
        },
    )
}

// ---- /sign-out ----

async fn post_sign_out(v: Visit, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let mut r = redirect("/sign-in");
    let Some(s) = v.session() else {
        session::clear_session(&mut r, v.secure());
        return r;
    };
    if !csrf_matches(&form.get("csrf_token"), &s.session.csrf_token) {
        // Not from our own page: nobody is signed out by another site.
        return PageError::Forbidden.into_response();
    }
    if let Err(e) = sessions::sign_out(&v.app, &s, v.address()).await {
        return PageError::from(e).into_response();
    }
    session::clear_session(&mut r, v.secure());
    r
}

// ---- /your-services ----

async fn get_your_services(v: Visit) -> Response {
    let Some(s) = v.signed_in() else {
        return redirect("/sign-in");
    };
    let result: Result<Response, PageError> = (|| {
        let reader = v.app.store.read()?;
        let mut services = Vec::new();
        for service_id in s.person.services.keys() {
            if let Some(service) = reader.get_service(*service_id)?
                && service.active
            {
                services.push(web::ServiceLink {
                    id: service.id.to_string(),
                    name: service.name.clone(),
                    trial_mode: service.restricted,
                });
            }
        }
        services.sort_by_key(|s| s.name.to_lowercase());
        Ok(ok(&web::YourServicesPage {
            layout: layout_for("Your services", &s, &FormErrors::default()),
            services,
        }))
    })();
    respond(result)
}

// ---- /first-sign-in/{token} ----

fn choose_password_page(v: &Visit, token: &str, name: &str, errors: FormErrors) -> Response {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    anonymous_page(v, status, "Choose a password", &errors, |layout| {
        ok(&web::ChoosePasswordPage {
            layout,
            action: format!("/first-sign-in/{token}"),
            name: name.to_string(),
            errors: errors.clone(),
        })
    })
}

async fn get_first_sign_in(token: String, v: Visit) -> Response {
    match sign_in::new_password_link(&v.app, &token, LinkPurpose::FirstSignIn) {
        Ok(user) => choose_password_page(&v, &token, &user.name, FormErrors::default()),
        Err(e) => PageError::from(e).into_response(),
    }
}

async fn post_first_sign_in(token: String, v: Visit, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let user = match sign_in::new_password_link(&v.app, &token, LinkPurpose::FirstSignIn) {
        Ok(user) => user,
        Err(e) => return PageError::from(e).into_response(),
    };
    let mut errors = FormErrors::default();
    let expected = v.cookie(session::CSRF_COOKIE).unwrap_or("").to_string();
    if !csrf_matches(&form.get("csrf_token"), &expected) {
        errors.add("password", FORM_EXPIRED);
        return choose_password_page(&v, &token, &user.name, errors);
    }
    let password = form.raw("password");
    match sign_in::set_new_password(
        &v.app,
        &token,
        LinkPurpose::FirstSignIn,
        &password,
        v.address(),
    )
    .await
    {
        Ok(Ok(s)) => signed_in_redirect(&v, LANDING, &s),
        Ok(Err(pending)) => signed_in_redirect(&v, "/two-factor", &pending),
        Err(e) if e.code() == Code::Invalid => {
            errors.add("password", e.refusal().unwrap_or("Enter a valid password"));
            choose_password_page(&v, &token, &user.name, errors)
        }
        Err(e) => PageError::from(e).into_response(),
    }
}

// ---- /user-profile/authenticator ----

fn authenticator_page(s: &Checked, e: Enrolment, errors: FormErrors) -> Response {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    // In groups of four, as authenticator apps show keys.
    let secret = e
        .secret_base32
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    html(
        status,
        &web::AuthenticatorPage {
            layout: layout_for("Set up an authenticator app", s, &errors),
            secret,
            qr_svg: e.qr_svg,
            enrolment: e.token,
            errors,
        },
    )
}

async fn get_authenticator(v: Visit) -> Response {
    let Some(s) = v.signed_in() else {
        return redirect("/sign-in");
    };
    match second_factor::begin_totp_enrolment(&v.app, &s.person.user) {
        Ok(e) => authenticator_page(&s, e, FormErrors::default()),
        Err(e) => PageError::from(e).into_response(),
    }
}

async fn post_authenticator(v: Visit, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let Some(s) = v.signed_in() else {
        return redirect("/sign-in");
    };
    if !csrf_matches(&form.get("csrf_token"), &s.session.csrf_token) {
        return PageError::Forbidden.into_response();
    }
    let token = form.get("enrolment");
    let enrolment = match second_factor::resume_totp_enrolment(&v.app, &s.person.user, &token) {
        Ok(e) => e,
        Err(_) => return redirect("/user-profile/authenticator"),
    };
    let mut errors = FormErrors::default();
    let code = form.get("code");
    if let Err(message) = second_factor::check_code_format(&code, "the code") {
        errors.add("code", message);
        return authenticator_page(&s, enrolment, errors);
    }
    let actor = s.actor(v.address());
    match second_factor::confirm_totp_enrolment(&v.app, &actor, &token, &code).await {
        Ok(Ok(())) => redirect(LANDING),
        Ok(Err(message)) => {
            errors.add("code", message);
            authenticator_page(&s, enrolment, errors)
        }
        Err(e) => PageError::from(e).into_response(),
    }
}

/// The sign-in pages' routes.
pub fn routes(app: Arc<App>) -> BoxedFilter<(Response,)> {
    let v = visit(app);
    let body = crate::server::bodies::bytes;
    let sign_in_get = warp::path!("sign-in")
        .and(warp::get())
        .and(v.clone())
        .then(get_sign_in);
    let sign_in_post = warp::path!("sign-in")
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_sign_in);
    let two_factor_get = warp::path!("two-factor")
        .and(warp::get())
        .and(v.clone())
        .then(get_two_factor);
    let two_factor_post = warp::path!("two-factor")
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_two_factor);
    let sign_out = warp::path!("sign-out")
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_sign_out);
    let your_services = warp::path!("your-services")
        .and(warp::get())
        .and(v.clone())
        .then(get_your_services);
    let first_get = warp::path!("first-sign-in" / String)
        .and(warp::get())
        .and(v.clone())
        .then(get_first_sign_in);
    let first_post = warp::path!("first-sign-in" / String)
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_first_sign_in);
    let authenticator_get = warp::path!("user-profile" / "authenticator")
        .and(warp::get())
        .and(v.clone())
        .then(get_authenticator);
    let authenticator_post = warp::path!("user-profile" / "authenticator")
        .and(warp::post())
        .and(v)
        .and(body())
        .then(post_authenticator);
    sign_in_get
        .or(sign_in_post)
        .unify()
        .or(two_factor_get)
        .unify()
        .or(two_factor_post)
        .unify()
        .or(sign_out)
        .unify()
        .or(your_services)
        .unify()
        .or(first_get)
        .unify()
        .or(first_post)
        .unify()
        .or(authenticator_get)
        .unify()
        .or(authenticator_post)
        .unify()
        .boxed()
}
