//! The pages about people, at the admin app's URLs:
//!
//! - `/forgot-password` and the emailed `/new-password/{token}` (then the second factor, as
//!   upstream: an email sign-in needs none, the link came by email);
//! - `/text-not-received`, `/email-not-received` and `/send-new-code` (a fresh sign-in code);
//! - `/invitation/{token}`: an existing account joins the service, a new person creates an
//!   account (name, mobile number, password) on the same URL (upstream keeps the invitation in
//!   its session and moves on to `/register-from-invite`; the token in the URL does that here);
//! - `/services/{id}/users` (team members and invitations), `/services/{id}/users/invite`,
//!   `/services/{id}/users/{user_id}` (permissions; `?delete=yes` asks to remove),
//!   `/services/{id}/users/{user_id}/delete`, `/services/{id}/cancel-invited-user/{id}`;
//! - `/user-profile`: the person's own details.
//!
//! Every change goes through a domain function, which checks the permission again and writes
//! the audit event.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use storage::records::{AuthType, LinkPurpose, Permission, User};
use uuid::Uuid;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use web::{Banner, ButtonForm, Choice, FormErrors, Layout, PermissionMark};

use super::done::Done;
use super::session::{self, Visit, csrf_matches, visit};
use super::sign_in::{FORM_EXPIRED, LANDING, anonymous_page, layout_for, signed_in_redirect};
use super::{Form, PageError, html, ok, redirect, respond};
use crate::app::App;
use crate::domain::accounts::invitations::{self, NewInvitation, Opened, Registration};
use crate::domain::accounts::sessions::Checked;
use crate::domain::accounts::{Actor, Need, second_factor, sign_in, users};
use crate::domain::{Code, DomainError, recipients};

/// The five permissions with the admin app's labels, in its order.
pub const PERMISSION_LABELS: [(Permission, &str); 5] = [
    (Permission::ManageService, "Manage settings, team and usage"),
    (Permission::ViewActivity, "See dashboard"),
    (Permission::SendMessages, "Send messages"),
    (Permission::ManageTemplates, "Add and edit templates"),
    (Permission::ManageApiKeys, "Manage API integration"),
];

/// Upstream's answer to a reset link that is past its time or used (one message: the store
/// cannot tell the two apart without saying which links exist).
const RESET_LINK_GONE: &str = "The link in the email we sent you has expired or has already been used. Enter your email address to resend.";

fn status_of(errors: &FormErrors) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    }
}

/// What a refused change says on its form.
fn refusal_text(e: &DomainError) -> String {
    e.refusal()
        .map(str::to_string)
        .unwrap_or_else(|| e.to_string())
}

/// The appliance's root URL as this request reached it (links in emails point here).
fn root_url(v: &Visit, host: Option<String>) -> String {
    let host = host.filter(|_| v.info.host_allowed);
    crate::api::root_url(&v.app, host.as_deref(), v.info.client.scheme)
}

/// A page that says one thing, for whoever is visiting.
fn notice(
    v: &Visit,
    status: StatusCode,
    title: &str,
    paragraphs: Vec<String>,
    steps: Vec<String>,
    form: Option<ButtonForm>,
) -> Response {
    let layout = match v.session() {
        Some(s) => layout_for(title, &s, &FormErrors::default()),
        None => Layout::new(title),
    };
    html(
        status,
        &web::NoticePage {
            layout,
            paragraphs,
            steps,
            form,
            link: None,
        },
    )
}

/// The signed-in visitor, or where to send them (to sign in).
fn signed_in(v: &Visit) -> Result<Checked, &'static str> {
    v.signed_in().ok_or("/sign-in")
}

/// A signed-in form's token matches its session (else 403: not from our page).
fn check_csrf(s: &Checked, form: &Form) -> Result<(), PageError> {
    if csrf_matches(&form.get("csrf_token"), &s.session.csrf_token) {
        Ok(())
    } else {
        Err(PageError::Forbidden)
    }
}

// ---- /forgot-password, /new-password/{token} ----

fn forgot_password_page(
    v: &Visit,
    email: &str,
    errors: FormErrors,
    banner: Option<&str>,
) -> Response {
    anonymous_page(
        v,
        status_of(&errors),
        "Forgotten your password?",
        &errors,
        |mut layout| {
            layout.banner = banner.map(|m| Banner {
                message: m.to_string(),
                success: false,
            });
            ok(&web::ForgotPasswordPage {
                layout,
                email_address: email.to_string(),
                errors: errors.clone(),
            })
        },
    )
}

async fn get_forgot_password(v: Visit) -> Response {
    if v.app.config.oidc.only_sso {
        // Only single sign-on: there are no passwords to forget or reset.
        return redirect("/sign-in");
    }
    forgot_password_page(&v, "", FormErrors::default(), None)
}

async fn post_forgot_password(v: Visit, host: Option<String>, body: Bytes) -> Response {
    if v.app.config.oidc.only_sso {
        // Only single sign-on: there are no passwords to forget or reset.
        return redirect("/sign-in");
    }
    let form = Form::parse(&body);
    let email = form.get("email_address");
    let mut errors = FormErrors::default();
    let expected = v.cookie(session::CSRF_COOKIE).unwrap_or("").to_string();
    if !csrf_matches(&form.get("csrf_token"), &expected) {
        errors.add("email_address", FORM_EXPIRED);
    } else if email.is_empty() {
        errors.add("email_address", "Enter your email address");
    } else if recipients::validate_email_address(&email).is_err() {
        errors.add("email_address", "Enter a valid email address");
    }
    if !errors.is_empty() {
        return forgot_password_page(&v, &email, errors, None);
    }
    let root = root_url(&v, host);
    if let Err(e) = sign_in::request_password_reset(&v.app, &email, &root, v.address()).await {
        return PageError::from(e).into_response();
    }
    // The same answer whether or not the address has an account.
    notice(
        &v,
        StatusCode::OK,
        "Check your inbox",
        vec!["Click the link in the email to reset your password.".into()],
        Vec::new(),
        None,
    )
}

fn new_password_page(v: &Visit, token: &str, errors: FormErrors) -> Response {
    anonymous_page(
        v,
        status_of(&errors),
        "Create a new password",
        &errors,
        |layout| {
            ok(&web::NewPasswordPage {
                layout,
                action: format!("/new-password/{token}"),
                errors: errors.clone(),
            })
        },
    )
}

async fn get_new_password(token: String, v: Visit) -> Response {
    if v.app.config.oidc.only_sso {
        // Only single sign-on: there are no passwords to forget or reset.
        return redirect("/sign-in");
    }
    match sign_in::new_password_link(&v.app, &token, LinkPurpose::PasswordReset) {
        Ok(_) => new_password_page(&v, &token, FormErrors::default()),
        Err(e) if e.code() == Code::NotFound => {
            forgot_password_page(&v, "", FormErrors::default(), Some(RESET_LINK_GONE))
        }
        Err(e) => PageError::from(e).into_response(),
    }
}

async fn post_new_password(token: String, v: Visit, body: Bytes) -> Response {
    if v.app.config.oidc.only_sso {
        // Only single sign-on: there are no passwords to forget or reset.
        return redirect("/sign-in");
    }
    let form = Form::parse(&body);
    let mut errors = FormErrors::default();
    let expected = v.cookie(session::CSRF_COOKIE).unwrap_or("").to_string();
    if !csrf_matches(&form.get("csrf_token"), &expected) {
        errors.add("new_password", FORM_EXPIRED);
        return new_password_page(&v, &token, errors);
    }
    let password = form.raw("new_password");
    match sign_in::set_new_password(
        &v.app,
        &token,
        LinkPurpose::PasswordReset,
        &password,
        v.address(),
    )
    .await
    {
        Ok(Ok(s)) => signed_in_redirect(&v, LANDING, &s),
        Ok(Err(pending)) => signed_in_redirect(&v, "/two-factor", &pending),
        Err(e) if e.code() == Code::Invalid => {
            errors.add("new_password", refusal_text(&e));
            new_password_page(&v, &token, errors)
        }
        Err(e) if e.code() == Code::NotFound => {
            forgot_password_page(&v, "", FormErrors::default(), Some(RESET_LINK_GONE))
        }
        Err(e) => PageError::from(e).into_response(),
    }
}

// ---- /text-not-received, /email-not-received, /send-new-code ----

/// Half way through signing in (password only), or where to send them.
fn pending(v: &Visit) -> Result<Checked, &'static str> {
    match v.session() {
        Some(s) if s.is_pending() => Ok(s),
        Some(_) => Err(LANDING),
        None => Err("/sign-in"),
    }
}

fn resend_button() -> Option<ButtonForm> {
    Some(ButtonForm {
        action: "/send-new-code".into(),
        button: "Resend security code".into(),
        class: String::new(),
    })
}

async fn get_text_not_received(v: Visit) -> Response {
    if let Err(to) = pending(&v) {
        return redirect(to);
    }
    notice(
        &v,
        StatusCode::OK,
        "If you do not receive a security code",
        Vec::new(),
        vec![
            "Check that you can receive text messages from other numbers.".into(),
            "Switch your phone off and then back on again.".into(),
            "If you still do not receive a security code, we can send you a new one.".into(),
        ],
        resend_button(),
    )
}

async fn get_email_not_received(v: Visit) -> Response {
    if let Err(to) = pending(&v) {
        return redirect(to);
    }
    notice(
        &v,
        StatusCode::OK,
        "If you do not receive an email",
        Vec::new(),
        vec![
            "Check your spam folder for emails from Notify.".into(),
            "If the email is not in your spam folder, we can send you another one.".into(),
        ],
        resend_button(),
    )
}

async fn post_send_new_code(v: Visit, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let s = match pending(&v) {
        Ok(s) => s,
        Err(to) => return redirect(to),
    };
    if let Err(e) = check_csrf(&s, &form) {
        return e.into_response();
    }
    // At most `accounts.max_active_codes` unused codes: beyond that nothing more is sent.
    match second_factor::send_sign_in_code(&v.app, &s.person.user).await {
        Ok(()) => redirect("/two-factor"),
        Err(e) => PageError::from(e).into_response(),
    }
}

// ---- /invitation/{token} ----

fn register_page(
    v: &Visit,
    token: &str,
    email: &str,
    auth_type: AuthType,
    form: &Registration,
    errors: FormErrors,
) -> Response {
    anonymous_page(
        v,
        status_of(&errors),
        "Create an account",
        &errors,
        |layout| {
            ok(&web::RegisterPage {
                layout,
                action: format!("/invitation/{token}"),
                email_address: email.to_string(),
                name: form.name.clone(),
                mobile_number: form.mobile_number.clone(),
                mobile_required: auth_type == AuthType::Sms,
                errors: errors.clone(),
            })
        },
    )
}

/// Open the invitation and answer what it led to; a new person's registration form goes
/// through `register` (the GET shows the empty form, the POST registers).
async fn accept_invitation(v: Visit, token: String, register: Option<Registration>) -> Response {
    let me = v.signed_in();
    let opened = invitations::open(
        &v.app,
        &token,
        me.as_ref().map(|s| &s.person.user),
        v.address(),
    )
    .await;
    let invitation = match opened {
        Ok(Opened::Register(i)) => i,
        Ok(Opened::Joined { .. }) | Ok(Opened::AlreadyAccepted { .. }) => {
            // Upstream goes on to the service's dashboard, which needs a signed-in person.
            return redirect(if me.is_some() { LANDING } else { "/sign-in" });
        }
        Ok(Opened::Cancelled { from, service_name }) => {
            return notice(
                &v,
                StatusCode::OK,
                "The invitation you were sent has been cancelled",
                vec![
                    format!("{from} decided to cancel this invitation."),
                    format!(
                        "If you need access to {service_name}, you’ll have to ask them to invite you again."
                    ),
                ],
                Vec::new(),
                None,
            );
        }
        Ok(Opened::Expired) => {
            return notice(
                &v,
                StatusCode::OK,
                "The invitation you were sent has expired",
                vec![
                    "Your invitation to Notify has expired. Ask the person that invited you to send you another one.".into(),
                ],
                Vec::new(),
                None,
            );
        }
        Err(e) if e.code() == Code::Forbidden => {
            // Signed in as someone else: sign out, then open the link again.
            return notice(
                &v,
                StatusCode::FORBIDDEN,
                "This invitation is for another email address",
                vec![refusal_text(&e)],
                Vec::new(),
                Some(ButtonForm {
                    action: "/sign-out".into(),
                    button: "Sign out".into(),
                    class: "button--secondary".into(),
                }),
            );
        }
        Err(e) if e.code() == Code::NotFound => {
            return notice(
                &v,
                StatusCode::NOT_FOUND,
                "The invitation you were sent is not valid",
                vec![
                    "Check you used the whole link in the email. If you did, ask the person that invited you to send you another invitation.".into(),
                ],
                Vec::new(),
                None,
            );
        }
        Err(e) => return PageError::from(e).into_response(),
    };
    let email = invitation.email_address.clone();
    let Some(form) = register else {
        return register_page(
            &v,
            &token,
            &email,
            invitation.auth_type,
            &Registration::default(),
            FormErrors::default(),
        );
    };
    match invitations::register(&v.app, &token, form.clone(), v.address()).await {
        Ok(Ok(Ok(s))) => signed_in_redirect(&v, LANDING, &s),
        Ok(Ok(Err(pending))) => signed_in_redirect(&v, "/two-factor", &pending),
        Ok(Err(refused)) => {
            let mut errors = FormErrors::default();
            for (field, message) in refused {
                errors.add(field, message);
            }
            register_page(&v, &token, &email, invitation.auth_type, &form, errors)
        }
        Err(e) => PageError::from(e).into_response(),
    }
}

async fn get_invitation(token: String, v: Visit) -> Response {
    accept_invitation(v, token, None).await
}

async fn post_invitation(token: String, v: Visit, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let registration = Registration {
        name: form.get("name"),
        mobile_number: form.get("mobile_number"),
        password: form.raw("password"),
    };
    let expected = v.cookie(session::CSRF_COOKIE).unwrap_or("").to_string();
    if !csrf_matches(&form.get("csrf_token"), &expected) {
        let mut errors = FormErrors::default();
        errors.add("name", FORM_EXPIRED);
        // The form again, as typed; the invitation is checked when it is sent back.
        return match invitations::open(&v.app, &token, None, v.address()).await {
            Ok(Opened::Register(i)) => register_page(
                &v,
                &token,
                &i.email_address,
                i.auth_type,
                &registration,
                errors,
            ),
            _ => redirect(&format!("/invitation/{token}")),
        };
    }
    accept_invitation(v, token, Some(registration)).await
}

// ---- /services/{service_id}/users ... ----

/// A service page's layout: the person, the service's name and its navigation.
fn service_layout(
    v: &Visit,
    s: &Checked,
    service_id: Uuid,
    title: &str,
    errors: &FormErrors,
) -> Result<Layout, PageError> {
    let service = crate::domain::services::get_service(&v.app.store, service_id)?;
    let mut layout = layout_for(title, s, errors);
    layout.service = Some(super::services::service_nav(
        &service,
        super::services::Section::Team,
    ));
    Ok(layout)
}

fn marks(granted: &[Permission]) -> Vec<PermissionMark> {
    PERMISSION_LABELS
        .iter()
        .map(|(p, label)| PermissionMark {
            label: label.to_string(),
            granted: granted.contains(p),
        })
        .collect()
}

fn permission_choices(checked: &[Permission]) -> Vec<Choice> {
    PERMISSION_LABELS
        .iter()
        .map(|(p, label)| Choice {
            value: p.as_str().to_string(),
            label: label.to_string(),
            hint: String::new(),
            checked: checked.contains(p),
        })
        .collect()
}

fn signs_in_with(user: &User) -> &'static str {
    match user.auth_type {
        AuthType::Sms => "Signs in with a text message code",
        AuthType::Email => "Signs in with an email code",
        AuthType::Totp => "Signs in with an authenticator app",
    }
}

fn invite_status(status: &str) -> String {
    match status {
        "pending" => "(invited)".into(),
        "cancelled" => "(cancelled invite)".into(),
        other => format!("({other} invite)"),
    }
}

async fn get_team(service_id: Uuid, v: Visit) -> Response {
    let s = match signed_in(&v) {
        Ok(s) => s,
        Err(to) => return redirect(to),
    };
    let result: Result<Response, PageError> = (|| {
        let actor = s.actor(v.address());
        // Every member sees the team, as upstream; managing it needs the permission.
        actor.require(Need::Member, Some(service_id), None)?;
        let can_manage = actor
            .require_in(service_id, Permission::ManageService)
            .is_ok();
        let mut layout =
            service_layout(&v, &s, service_id, "Team members", &FormErrors::default())?;
        layout.banner = v.done_banner();
        let members = users::service_users(&v.app, service_id)?
            .into_iter()
            .map(|(user, membership)| {
                let you = user.id == s.person.user.id;
                web::MemberRow {
                    name: user.name.clone(),
                    email_address: user.email_address.clone(),
                    you,
                    permissions: marks(&membership.permissions),
                    signs_in_with: signs_in_with(&user).to_string(),
                    edit_href: (can_manage && !you)
                        .then(|| format!("/services/{service_id}/users/{}", user.id)),
                }
            })
            .collect();
        // The internal API shows invitations to those who may manage the team; so do we.
        let invited = if can_manage {
            invitations::list(&v.app, service_id)?
                .into_iter()
                .filter_map(|i| {
                    let status = invitations::status_of(&v.app, &i);
                    (status != "accepted").then(|| web::InvitedRow {
                        email_address: i.email_address.clone(),
                        status: invite_status(status),
                        permissions: marks(&i.permissions),
                        cancel: (status == "pending").then(|| ButtonForm {
                            action: format!("/services/{service_id}/cancel-invited-user/{}", i.id),
                            button: "Cancel invitation".into(),
                            class: String::new(),
                        }),
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(ok(&web::TeamPage {
            layout,
            members,
            invited,
            invite_href: can_manage.then(|| format!("/services/{service_id}/users/invite")),
        }))
    })();
    respond(result)
}

/// The signed-in person's actor, who may manage this service's team (403 if a member without
/// the permission, 404 if not a member).
fn team_manager(v: &Visit, s: &Checked, service_id: Uuid) -> Result<Actor, PageError> {
    let actor = s.actor(v.address());
    actor.require_in(service_id, Permission::ManageService)?;
    Ok(actor)
}

fn sign_in_method_choices(chosen: &str) -> Vec<Choice> {
    [
        ("email_auth", "Email code"),
        ("sms_auth", "Text message code"),
    ]
    .iter()
    .map(|(value, label)| Choice {
        value: value.to_string(),
        label: label.to_string(),
        hint: String::new(),
        checked: *value == chosen,
    })
    .collect()
}

fn invite_page(
    v: &Visit,
    s: &Checked,
    service_id: Uuid,
    form: &Form,
    errors: FormErrors,
) -> Result<Response, PageError> {
    let mut layout = service_layout(v, s, service_id, "Invite a team member", &errors)?;
    layout.back_link = Some(format!("/services/{service_id}/users"));
    let checked = users::parse_permissions(&form.all("permissions")).unwrap_or_default();
    let method = match form.get("login_authentication") {
        m if m == "sms_auth" => "sms_auth",
        _ => "email_auth",
    };
    Ok(html(
        status_of(&errors),
        &web::InvitePage {
            layout,
            action: format!("/services/{service_id}/users/invite"),
            email_address: form.get("email_address"),
            permissions: permission_choices(&checked),
            sign_in_methods: sign_in_method_choices(method),
            errors,
        },
    ))
}

async fn get_invite(service_id: Uuid, v: Visit) -> Response {
    let s = match signed_in(&v) {
        Ok(s) => s,
        Err(to) => return redirect(to),
    };
    respond(
        team_manager(&v, &s, service_id)
            .and_then(|_| invite_page(&v, &s, service_id, &Form::default(), FormErrors::default())),
    )
}

async fn post_invite(service_id: Uuid, v: Visit, host: Option<String>, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let s = match signed_in(&v) {
        Ok(s) => s,
        Err(to) => return redirect(to),
    };
    let result: Result<Response, PageError> = async {
        let actor = team_manager(&v, &s, service_id)?;
        check_csrf(&s, &form)?;
        let email = form.get("email_address");
        let mut errors = FormErrors::default();
        if email.is_empty() {
            errors.add("email_address", "Enter an email address");
            return invite_page(&v, &s, service_id, &form, errors);
        }
        let new = NewInvitation {
            email_address: email,
            permissions: form.all("permissions"),
            auth_type: Some(form.get("login_authentication")).filter(|a| !a.is_empty()),
            from_user: None,
        };
        let root = root_url(&v, host);
        match invitations::invite(&v.app, &actor, service_id, new, &root).await {
            Ok(_) => Ok(redirect(
                &Done::InviteSent.on(&format!("/services/{service_id}/users")),
            )),
            Err(e) if matches!(e.code(), Code::Invalid | Code::Conflict) => {
                errors.add("email_address", refusal_text(&e));
                invite_page(&v, &s, service_id, &form, errors)
            }
            Err(e) => Err(e.into()),
        }
    }
    .await;
    respond(result)
}

/// A team member of the service (404 if the user is not one).
fn member(
    v: &Visit,
    service_id: Uuid,
    user_id: Uuid,
) -> Result<(User, Vec<Permission>), PageError> {
    users::service_users(&v.app, service_id)?
        .into_iter()
        .find(|(u, _)| u.id == user_id)
        .map(|(u, m)| (u, m.permissions))
        .ok_or(PageError::NotFound)
}

fn edit_member_page(
    v: &Visit,
    s: &Checked,
    service_id: Uuid,
    user: &User,
    checked: &[Permission],
    confirm_remove: bool,
    errors: FormErrors,
) -> Result<Response, PageError> {
    let mut layout = service_layout(v, s, service_id, &user.name, &errors)?;
    layout.back_link = Some(format!("/services/{service_id}/users"));
    let base = format!("/services/{service_id}/users/{}", user.id);
    Ok(html(
        status_of(&errors),
        &web::EditMemberPage {
            layout,
            action: base.clone(),
            email_address: user.email_address.clone(),
            mobile_number: user.mobile_number.clone().unwrap_or_default(),
            permissions: permission_choices(checked),
            confirm_remove: confirm_remove.then(|| ButtonForm {
                action: format!("{base}/delete"),
                button: "Yes, remove".into(),
                class: "button--warning".into(),
            }),
            remove_href: format!("{base}?delete=yes"),
            errors,
        },
    ))
}

async fn get_member(
    service_id: Uuid,
    user_id: Uuid,
    v: Visit,
    query: HashMap<String, String>,
) -> Response {
    let s = match signed_in(&v) {
        Ok(s) => s,
        Err(to) => return redirect(to),
    };
    respond(team_manager(&v, &s, service_id).and_then(|_| {
        let (user, permissions) = member(&v, service_id, user_id)?;
        let confirm = query.get("delete").is_some_and(|d| d == "yes");
        edit_member_page(
            &v,
            &s,
            service_id,
            &user,
            &permissions,
            confirm,
            FormErrors::default(),
        )
    }))
}

async fn post_member(service_id: Uuid, user_id: Uuid, v: Visit, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let s = match signed_in(&v) {
        Ok(s) => s,
        Err(to) => return redirect(to),
    };
    let result: Result<Response, PageError> = async {
        let actor = team_manager(&v, &s, service_id)?;
        check_csrf(&s, &form)?;
        let (user, _) = member(&v, service_id, user_id)?;
        let permissions = match users::parse_permissions(&form.all("permissions")) {
            Ok(p) => p,
            Err(e) => {
                let mut errors = FormErrors::default();
                errors.add("permissions", refusal_text(&e));
                return edit_member_page(&v, &s, service_id, &user, &[], false, errors);
            }
        };
        users::set_permissions(&v.app, &actor, service_id, user_id, permissions).await?;
        Ok(redirect(
            &Done::PermissionsSaved.on(&format!("/services/{service_id}/users")),
        ))
    }
    .await;
    respond(result)
}

async fn post_remove_member(service_id: Uuid, user_id: Uuid, v: Visit, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let s = match signed_in(&v) {
        Ok(s) => s,
        Err(to) => return redirect(to),
    };
    let result: Result<Response, PageError> = async {
        let actor = team_manager(&v, &s, service_id)?;
        check_csrf(&s, &form)?;
        let (user, permissions) = member(&v, service_id, user_id)?;
        match users::remove_user_from_service(&v.app, &actor, service_id, user_id).await {
            Ok(()) => Ok(redirect(
                &Done::MemberRemoved.on(&format!("/services/{service_id}/users")),
            )),
            Err(e) if e.code() == Code::Invalid => {
                let mut errors = FormErrors::default();
                errors.add("permissions", refusal_text(&e));
                edit_member_page(&v, &s, service_id, &user, &permissions, false, errors)
            }
            Err(e) => Err(e.into()),
        }
    }
    .await;
    respond(result)
}

async fn post_cancel_invitation(
    service_id: Uuid,
    invitation_id: Uuid,
    v: Visit,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let s = match signed_in(&v) {
        Ok(s) => s,
        Err(to) => return redirect(to),
    };
    let result: Result<Response, PageError> = async {
        let actor = team_manager(&v, &s, service_id)?;
        check_csrf(&s, &form)?;
        match invitations::cancel(&v.app, &actor, service_id, invitation_id).await {
            // Cancelled already (another tab, another manager): the team page shows it.
            Ok(_) => Ok(redirect(
                &Done::InviteCancelled.on(&format!("/services/{service_id}/users")),
            )),
            Err(e) if e.code() == Code::Invalid => {
                Ok(redirect(&format!("/services/{service_id}/users")))
            }
            Err(e) => Err(e.into()),
        }
    }
    .await;
    respond(result)
}

// ---- /user-profile ----

async fn get_user_profile(v: Visit) -> Response {
    let s = match signed_in(&v) {
        Ok(s) => s,
        Err(to) => return redirect(to),
    };
    let user = &s.person.user;
    let method = match user.auth_type {
        AuthType::Sms => "Text message code",
        AuthType::Email => "Email code",
        AuthType::Totp => "Authenticator app",
    };
    ok(&web::UserProfilePage {
        layout: layout_for("Your profile", &s, &FormErrors::default()),
        name: user.name.clone(),
        email_address: user.email_address.clone(),
        mobile_number: user.mobile_number.clone().unwrap_or_default(),
        sign_in_method: method.to_string(),
    })
}

/// The people pages' routes.
pub fn routes(app: Arc<App>) -> BoxedFilter<(Response,)> {
    let v = visit(app);
    let body = crate::server::bodies::bytes;
    let host = || warp::header::optional::<String>("host");
    let forgot_get = warp::path!("forgot-password")
        .and(warp::get())
        .and(v.clone())
        .then(get_forgot_password);
    let forgot_post = warp::path!("forgot-password")
        .and(warp::post())
        .and(v.clone())
        .and(host())
        .and(body())
        .then(post_forgot_password);
    let new_password_get = warp::path!("new-password" / String)
        .and(warp::get())
        .and(v.clone())
        .then(get_new_password);
    let new_password_post = warp::path!("new-password" / String)
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_new_password);
    let text_not_received = warp::path!("text-not-received")
        .and(warp::get())
        .and(v.clone())
        .then(get_text_not_received);
    let email_not_received = warp::path!("email-not-received")
        .and(warp::get())
        .and(v.clone())
        .then(get_email_not_received);
    let send_new_code = warp::path!("send-new-code")
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_send_new_code);
    let invitation_get = warp::path!("invitation" / String)
        .and(warp::get())
        .and(v.clone())
        .then(get_invitation);
    let invitation_post = warp::path!("invitation" / String)
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_invitation);
    let team = warp::path!("services" / Uuid / "users")
        .and(warp::get())
        .and(v.clone())
        .then(get_team);
    let invite_get = warp::path!("services" / Uuid / "users" / "invite")
        .and(warp::get())
        .and(v.clone())
        .then(get_invite);
    let invite_post = warp::path!("services" / Uuid / "users" / "invite")
        .and(warp::post())
        .and(v.clone())
        .and(host())
        .and(body())
        .then(post_invite);
    let member_get = warp::path!("services" / Uuid / "users" / Uuid)
        .and(warp::get())
        .and(v.clone())
        .and(warp::query::<HashMap<String, String>>())
        .then(get_member);
    let member_post = warp::path!("services" / Uuid / "users" / Uuid)
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_member);
    let member_delete = warp::path!("services" / Uuid / "users" / Uuid / "delete")
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_remove_member);
    let cancel_invitation = warp::path!("services" / Uuid / "cancel-invited-user" / Uuid)
        .and(warp::post())
        .and(v.clone())
        .and(body())
        .then(post_cancel_invitation);
    let profile = warp::path!("user-profile")
        .and(warp::get())
        .and(v)
        .then(get_user_profile);
    forgot_get
        .or(forgot_post)
        .unify()
        .or(new_password_get)
        .unify()
        .or(new_password_post)
        .unify()
        .or(text_not_received)
        .unify()
        .or(email_not_received)
        .unify()
        .or(send_new_code)
        .unify()
        .or(invitation_get)
        .unify()
        .or(invitation_post)
        .unify()
        .boxed()
        .or(team)
        .unify()
        .or(invite_get)
        .unify()
        .or(invite_post)
        .unify()
        .or(member_get)
        .unify()
        .or(member_post)
        .unify()
        .or(member_delete)
        .unify()
        .or(cancel_invitation)
        .unify()
        .or(profile)
        .unify()
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_carry_the_admin_apps_labels_in_its_order() {
        let labels: Vec<&str> = PERMISSION_LABELS.iter().map(|(_, l)| *l).collect();
        assert_eq!(
            labels,
            [
                "Manage settings, team and usage",
                "See dashboard",
                "Send messages",
                "Add and edit templates",
                "Manage API integration",
            ]
        );
        // Every permission once.
        for p in Permission::ALL {
            assert_eq!(PERMISSION_LABELS.iter().filter(|(q, _)| q == p).count(), 1);
        }
        let m = marks(&[Permission::SendMessages]);
        assert_eq!(
            m.iter()
                .filter(|m| m.granted)
                .map(|m| m.label.as_str())
                .collect::<Vec<_>>(),
            ["Send messages"]
        );
        let c = permission_choices(&[Permission::ManageApiKeys]);
        assert_eq!(c[4].value, "manage_api_keys");
        assert!(c[4].checked && !c[0].checked);
    }

    #[test]
    fn invitation_statuses_read_as_upstream() {
        assert_eq!(invite_status("pending"), "(invited)");
        assert_eq!(invite_status("cancelled"), "(cancelled invite)");
        assert_eq!(invite_status("expired"), "(expired invite)");
    }
}
