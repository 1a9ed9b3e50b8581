//! Invitations to join a service: a member with `manage_service` chooses the permissions, the
//! invited person gets an email with a single-use link (valid `accounts.invitation_days`, 2 as
//! upstream). Opening it joins an existing account to the service, or leads a new person to
//! register (name, mobile number, password) — accepting creates the account. A person may
//! belong to many services.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use storage::StoreError;
use storage::clock::format_api_timestamp;
use storage::records::{AuthType, Invitation, InvitationStatus, Membership, User, UserState};
use uuid::Uuid;

use super::actor::{Actor, Person};
use super::audit::{Action, Entry};
use super::links::{new_token, token_hash};
use super::notify_service::{self, Message};
use super::sessions::{self, NewSession, SecondFactor};
use super::users::{check_email_free, new_user_record, parse_auth_type, parse_permissions};
use crate::domain::{Context, DomainError, DomainResult, recipients};
use storage::records::Permission;

/// `POST /service/{id}/invite`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInvitation {
    pub email_address: String,
    /// The admin app's permission names (or upstream's API names).
    #[serde(default)]
    pub permissions: Vec<String>,
    /// `email_auth` (the default) or `sms_auth`: how the new person signs in.
    #[serde(default)]
    pub auth_type: Option<String>,
    /// Upstream's admin app names the inviter; only the operator may (a person is always the
    /// inviter of their own invitations).
    #[serde(default)]
    pub from_user: Option<Uuid>,
}

/// An invitation, with the link sent (for the CLI and tests; the API never shows it twice).
#[derive(Debug, Clone)]
pub struct Sent {
    pub invitation: Invitation,
    pub url: String,
    pub notification_id: Uuid,
}

fn expires_micros(cx: &Context) -> i64 {
    i64::from(cx.config.accounts.invitation_days) * 86_400_000_000
}

/// Invite `email_address` to the service.
pub async fn invite(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    new: NewInvitation,
    base_url: &str,
) -> DomainResult<Sent> {
    actor.require_in(service_id, Permission::ManageService)?;
    let service = crate::domain::services::get_service(&cx.store, service_id)?;
    let email_address = recipients::validate_email_address(&new.email_address)
        .map_err(|_| DomainError::invalid("Enter a valid email address".into()))?;
    if actor.user().is_some_and(|u| {
        recipients::normalise_email(&u.email_address) == recipients::normalise_email(&email_address)
    }) {
        return Err(DomainError::invalid(
            "Enter an email address that is not your own".into(),
        ));
    }
    let permissions = parse_permissions(&new.permissions)?;
    let auth_type = match new.auth_type.as_deref() {
        None | Some("") => AuthType::Email,
        Some(t) => parse_auth_type(t)?,
    };
    if auth_type == AuthType::Totp {
        return Err(DomainError::invalid(
            "Invite with email_auth or sms_auth; people set up an authenticator themselves".into(),
        ));
    }
    if let Some(existing) = super::users::find_by_email(cx, &email_address)?
        && cx
            .store
            .read()?
            .get_membership(existing.id, service_id)?
            .is_some()
    {
        return Err(DomainError::conflict(
            "This person is already a team member".into(),
        ));
    }
    let from_user = match (actor.user(), new.from_user) {
        (Some(u), _) => u.id,
        (None, Some(named)) => super::users::get_user(cx, named)?.id,
        (None, None) => actor.author_id(),
    };
    let inviter_name = match actor.user() {
        Some(u) => u.name.clone(),
        None if from_user != actor.author_id() => super::users::get_user(cx, from_user)?.name,
        None => super::actor::OPERATOR_NAME.to_string(),
    };
    let token = new_token();
    let now = cx.clock().now_micros();
    let invitation = Invitation {
        id: cx.clock().new_id(),
        service_id,
        email_address: email_address.clone(),
        from_user,
        permissions,
        auth_type,
        status: InvitationStatus::Pending,
        created_at: now,
        expires_at: now + expires_micros(cx),
        token_hash: token_hash(&token),
    };
    let stored = invitation.clone();
    let entry = Entry::new(actor, Action::InvitationSent)
        .service(service_id)
        .subject(invitation.id)
        .details(json!({
            "email_address": email_address,
            "permissions": invitation.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        }));
    cx.store
        .write(move |ctx| {
            crate::domain::services::require_service(ctx, service_id)?;
            ctx.put_invitation(&stored)?;
            entry.write(ctx)
        })
        .await?;
    let url = format!("{}/invitation/{token}", base_url.trim_end_matches('/'));
    let notification_id = notify_service::send(
        cx,
        Message::Invitation,
        &email_address,
        &[
            ("user_name", inviter_name),
            ("service_name", service.name.clone()),
            ("url", url.clone()),
            ("days", cx.config.accounts.invitation_days.to_string()),
        ],
    )
    .await?;
    Ok(Sent {
        invitation,
        url,
        notification_id,
    })
}

/// An invitation's status as people see it: pending ones past their time are `expired`.
pub fn status_of(cx: &Context, i: &Invitation) -> &'static str {
    match i.status {
        InvitationStatus::Pending if i.expires_at <= cx.clock().now_micros() => "expired",
        s => s.as_str(),
    }
}

pub fn invitation_json(cx: &Context, i: &Invitation) -> Value {
    json!({
        "id": i.id,
        "service": i.service_id,
        "email_address": i.email_address,
        "from_user": i.from_user,
        "permissions": i.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(","),
        "auth_type": i.auth_type.as_str(),
        "status": status_of(cx, i),
        "created_at": format_api_timestamp(i.created_at),
    })
}

/// The service's invitations, newest first.
pub fn list(cx: &Context, service_id: Uuid) -> DomainResult<Vec<Invitation>> {
    crate::domain::services::get_service(&cx.store, service_id)?;
    let mut all = cx.store.read()?.service_invitations(service_id)?;
    all.reverse();
    Ok(all)
}

/// Cancel a pending invitation: its link stops working.
pub async fn cancel(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    id: Uuid,
) -> DomainResult<Invitation> {
    actor.require_in(service_id, Permission::ManageService)?;
    let entry = Entry::new(actor, Action::InvitationCancelled)
        .service(service_id)
        .subject(id);
    Ok(cx
        .store
        .write(move |ctx| {
            let mut i = ctx
                .get_invitation(id)?
                .filter(|i| i.service_id == service_id)
                .ok_or_else(|| StoreError::NotFound(format!("No invitation with id {id}")))?;
            if i.status != InvitationStatus::Pending {
                return Err(StoreError::Invalid(format!(
                    "This invitation is already {}",
                    i.status
                )));
            }
            i.status = InvitationStatus::Cancelled;
            ctx.put_invitation(&i)?;
            entry.write(ctx)?;
            Ok(i)
        })
        .await?)
}

/// What opening an invitation link led to.
#[derive(Debug, Clone)]
pub enum Opened {
    /// The inviter cancelled it (`from` is their name).
    Cancelled { from: String, service_name: String },
    /// Past its time.
    Expired,
    /// Used before: the person already joined.
    AlreadyAccepted { service_id: Uuid },
    /// An existing account joined the service (or was in it already).
    Joined { service_id: Uuid, user_id: Uuid },
    /// A new person: they register next (their email address is the invitation's).
    Register(Invitation),
}

fn invitation_gone() -> DomainError {
    DomainError::not_found("The invitation you were sent has expired or is not valid".into())
}

/// Open an invitation link. `signed_in_as` is whoever is signed in in that browser: an
/// invitation for someone else is refused, as upstream.
pub async fn open(
    cx: &Context,
    token: &str,
    signed_in_as: Option<&User>,
    address: Option<IpAddr>,
) -> DomainResult<Opened> {
    let invitation = cx
        .store
        .read()?
        .invitation_by_token(&token_hash(token))?
        .ok_or_else(invitation_gone)?;
    if let Some(me) = signed_in_as
        && recipients::normalise_email(&me.email_address)
            != recipients::normalise_email(&invitation.email_address)
    {
        return Err(DomainError::forbidden(format!(
            "You’re signed in as {}. This invite is for another email address. Sign out and click the link again to accept this invite.",
            me.email_address
        )));
    }
    match invitation.status {
        InvitationStatus::Cancelled => {
            let from = cx
                .store
                .read()?
                .get_user(invitation.from_user)?
                .map(|u| u.name)
                .unwrap_or_else(|| super::actor::OPERATOR_NAME.to_string());
            let service_name =
                crate::domain::services::get_service(&cx.store, invitation.service_id)?.name;
            return Ok(Opened::Cancelled { from, service_name });
        }
        InvitationStatus::Accepted => {
            return Ok(Opened::AlreadyAccepted {
                service_id: invitation.service_id,
            });
        }
        InvitationStatus::Pending if invitation.expires_at <= cx.clock().now_micros() => {
            return Ok(Opened::Expired);
        }
        InvitationStatus::Pending => {}
    }
    let Some(user) = super::users::find_by_email(cx, &invitation.email_address)? else {
        return Ok(Opened::Register(invitation));
    };
    let entry = Entry::new(
        &Actor::person(Person::new(user.clone(), Vec::new())).from(address),
        Action::InvitationAccepted,
    )
    .service(invitation.service_id)
    .subject(invitation.id);
    let (service_id, user_id) = (invitation.service_id, user.id);
    cx.store
        .write(move |ctx| {
            let mut i = ctx.get_invitation(invitation.id)?.ok_or_else(|| {
                StoreError::NotFound(
                    "The invitation you were sent has expired or is not valid".into(),
                )
            })?;
            if i.status != InvitationStatus::Pending {
                return Ok(());
            }
            i.status = InvitationStatus::Accepted;
            ctx.put_invitation(&i)?;
            if ctx.get_membership(user_id, service_id)?.is_none() {
                ctx.put_membership(&Membership {
                    service_id,
                    user_id,
                    permissions: i.permissions.clone(),
                    created_at: ctx.now_micros(),
                })?;
            }
            entry.write(ctx)
        })
        .await?;
    cx.keys.invalidate(service_id);
    Ok(Opened::Joined {
        service_id,
        user_id,
    })
}

/// What a new person gives to accept an invitation.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub name: String,
    pub mobile_number: String,
    pub password: String,
}

/// Why a registration was refused, field by field (shown on the form).
pub type FieldErrors = Vec<(&'static str, String)>;

/// Accept an invitation as a new person: the account is created (active: the link proved the
/// email address) with the invitation's permissions in its service, and signed in at once for
/// email sign-in, or after a text message code for `sms_auth` (answered as `Err(pending)`).
pub async fn register(
    cx: &Context,
    token: &str,
    form: Registration,
    address: Option<IpAddr>,
) -> DomainResult<Result<Result<NewSession, NewSession>, FieldErrors>> {
    let invitation = cx
        .store
        .read()?
        .invitation_by_token(&token_hash(token))?
        .filter(|i| i.status == InvitationStatus::Pending && i.expires_at > cx.clock().now_micros())
        .ok_or_else(invitation_gone)?;
    let mut errors: FieldErrors = Vec::new();
    if form.name.trim().is_empty() {
        errors.push(("name", "Enter your full name".into()));
    }
    let mobile = form.mobile_number.trim();
    if invitation.auth_type == AuthType::Sms && mobile.is_empty() {
        errors.push(("mobile_number", "Enter your mobile number".into()));
    } else if let Err(e) = super::users::check_mobile(Some(mobile)) {
        errors.push(("mobile_number", e.to_string()));
    }
    if let Err(m) =
        super::passwords::check_new_password(&cx.config.accounts, &form.password, "your password")
    {
        errors.push(("password", m));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let now = cx.clock().now_micros();
    let mut user = new_user_record(
        Uuid::new_v4(),
        &form.name,
        &invitation.email_address,
        Some(mobile),
        invitation.auth_type,
        now,
    )?;
    user.password_hash = Some(cx.passwords.hash(form.password).await?);
    user.password_changed_at = Some(now);
    user.state = UserState::Active;
    let stored = user.clone();
    let as_them = Actor::person(Person::new(user.clone(), Vec::new())).from(address);
    let created = Entry::new(&as_them, Action::UserCreated)
        .subject(user.id)
        .details(json!({"by": "invitation", "auth_type": user.auth_type.as_str()}));
    let accepted = Entry::new(&as_them, Action::InvitationAccepted)
        .service(invitation.service_id)
        .subject(invitation.id);
    let invitation_id = invitation.id;
    cx.store
        .write(move |ctx| {
            let mut i = ctx
                .get_invitation(invitation_id)?
                .filter(|i| i.status == InvitationStatus::Pending)
                .ok_or_else(|| {
                    StoreError::NotFound(
                        "The invitation you were sent has expired or is not valid".into(),
                    )
                })?;
            check_email_free(ctx, &stored.email_address)?;
            ctx.put_user(&stored)?;
            i.status = InvitationStatus::Accepted;
            ctx.put_invitation(&i)?;
            ctx.put_membership(&Membership {
                service_id: i.service_id,
                user_id: stored.id,
                permissions: i.permissions.clone(),
                created_at: ctx.now_micros(),
            })?;
            created.write(ctx)?;
            accepted.write(ctx)
        })
        .await?;
    cx.keys.invalidate(invitation.service_id);
    if user.auth_type == AuthType::Sms {
        let pending = super::sign_in::start_second_factor(cx, &user, address).await?;
        return Ok(Ok(Err(pending)));
    }
    let session =
        sessions::create_signed_in(cx, user.id, SecondFactor::EmailLink, None, address).await?;
    Ok(Ok(Ok(session)))
}

/// `delete-invitations` (hourly, as upstream): invitations older than their expiry.
pub async fn delete_old(cx: &Context) -> DomainResult<usize> {
    let before = cx.clock().now_micros() - expires_micros(cx);
    Ok(cx
        .store
        .write_deferred(move |ctx| ctx.delete_invitations_created_before(before))
        .await?)
}
