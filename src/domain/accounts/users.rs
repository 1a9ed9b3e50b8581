//! People's accounts and their memberships of services: creating accounts (the operator or a
//! platform admin; invitations make the rest, see [`super::invitations`]), what they may do in
//! each service, and the platform admin's levers (lock, unlock, reset the second factor,
//! archive). Team members are also who a trial-mode service may send to.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use storage::StoreError;
use storage::clock::format_api_timestamp;
use storage::records::{AuthType, LinkPurpose, Membership, Permission, User, UserState};
use uuid::Uuid;

use super::actor::Actor;
use super::audit::{Action, Entry};
use super::permissions::Need;
use crate::domain::{Context, DomainError, DomainResult, recipients};

/// `POST /user`, `notify user create`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub name: String,
    pub email_address: String,
    #[serde(default)]
    pub mobile_number: Option<String>,
    #[serde(default)]
    pub platform_admin: bool,
    /// `sms_auth`, `email_auth` (the default) or `totp_auth`.
    #[serde(default)]
    pub auth_type: Option<String>,
    /// A password to start with; without one the account is pending until its person chooses
    /// one (a first sign-in link, or "forgotten your password").
    #[serde(default)]
    pub password: Option<String>,
}

fn user_not_found(id: Uuid) -> String {
    format!("No user with id {id}")
}

/// Upstream's names for the parts of `send_messages` and `manage_service`, accepted too.
const UPSTREAM_PERMISSION_NAMES: &[(&str, Permission)] = &[
    ("send_texts", Permission::SendMessages),
    ("send_emails", Permission::SendMessages),
    ("send_letters", Permission::SendMessages),
    ("manage_users", Permission::ManageService),
    ("manage_settings", Permission::ManageService),
];

/// Permissions by name (the admin app's five, or upstream's API names), each once, in the
/// canonical order.
pub fn parse_permissions<S: AsRef<str>>(names: &[S]) -> DomainResult<Vec<Permission>> {
    let mut wanted = Vec::new();
    for name in names {
        let name = name.as_ref().trim();
        let p = Permission::parse(name)
            .or_else(|| {
                UPSTREAM_PERMISSION_NAMES
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, p)| *p)
            })
            .ok_or_else(|| {
                DomainError::invalid(format!(
                    "{name} is not a permission: use {}",
                    Permission::ALL
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        wanted.push(p);
    }
    Ok(Permission::ALL
        .iter()
        .copied()
        .filter(|p| wanted.contains(p))
        .collect())
}

pub fn parse_auth_type(text: &str) -> DomainResult<AuthType> {
    AuthType::parse(text).ok_or_else(|| {
        DomainError::invalid(format!(
            "auth_type {text} is not one of [sms_auth, email_auth, totp_auth]"
        ))
    })
}

/// A name, a valid email address (stored as given, cleaned) and an optional valid mobile
/// number (stored as `+` and E.164 digits).
fn check_identity(
    name: &str,
    email: &str,
    mobile: Option<&str>,
) -> DomainResult<(String, String, Option<String>)> {
    let name = name.trim().to_string();
    if name.is_empty() {
        return Err(DomainError::invalid("name cannot be empty".into()));
    }
    if name.chars().count() > 255 {
        return Err(DomainError::invalid(
            "name must be 255 characters or fewer".into(),
        ));
    }
    let email_address = recipients::validate_email_address(email)
        .map_err(|_| DomainError::invalid("email_address is not a valid email address".into()))?;
    Ok((name, email_address, check_mobile(mobile)?))
}

pub fn check_mobile(mobile: Option<&str>) -> DomainResult<Option<String>> {
    match mobile.map(str::trim) {
        None | Some("") => Ok(None),
        Some(m) => {
            let phone = recipients::validate_phone_number(m).map_err(|e| {
                DomainError::invalid(format!("mobile_number is not a valid phone number: {e}"))
            })?;
            Ok(Some(format!("+{}", phone.normalised)))
        }
    }
}

/// A new account's record (nothing stored yet). Text-message sign-in needs a mobile number.
pub fn new_user_record(
    id: Uuid,
    name: &str,
    email: &str,
    mobile: Option<&str>,
    auth_type: AuthType,
    now: i64,
) -> DomainResult<User> {
    let (name, email_address, mobile_number) = check_identity(name, email, mobile)?;
    if auth_type == AuthType::Sms && mobile_number.is_none() {
        return Err(DomainError::invalid(
            "Mobile number must be set if auth_type is set to sms_auth".into(),
        ));
    }
    Ok(User {
        id,
        name,
        email_address,
        mobile_number,
        created_at: now,
        state: UserState::Pending,
        platform_admin: false,
        auth_type,
        password_hash: None,
        password_changed_at: None,
        failed_login_count: 0,
        totp_secret_sealed: None,
        totp_last_step: None,
        logged_in_at: None,
        updated_at: None,
    })
}

/// Refuse a second account for the same email address (compared normalised).
pub(crate) fn check_email_free(ctx: &storage::WriteCtx<'_>, email: &str) -> storage::Result<()> {
    let wanted = recipients::normalise_email(email);
    if ctx
        .find_user(|u| recipients::normalise_email(&u.email_address) == wanted)?
        .is_some()
    {
        return Err(StoreError::Conflict(format!(
            "A user with email address {email} already exists"
        )));
    }
    Ok(())
}

/// Create an account (the operator, or a platform admin). With a password it is active at
/// once; without, pending until its person chooses one.
pub async fn create_user(cx: &Context, actor: &Actor, new: NewUser) -> DomainResult<User> {
    actor.require(Need::PlatformAdmin, None, None)?;
    let auth_type = match new.auth_type.as_deref() {
        None | Some("") => AuthType::Email,
        Some(t) => parse_auth_type(t)?,
    };
    let now = cx.clock().now_micros();
    let mut user = new_user_record(
        Uuid::new_v4(),
        &new.name,
        &new.email_address,
        new.mobile_number.as_deref(),
        auth_type,
        now,
    )?;
    user.platform_admin = new.platform_admin;
    if let Some(password) = new.password {
        super::passwords::check_new_password(&cx.config.accounts, &password, "a password")
            .map_err(DomainError::invalid)?;
        user.password_hash = Some(cx.passwords.hash(password).await?);
        user.password_changed_at = Some(now);
        user.state = UserState::Active;
    }
    let stored = user.clone();
    let entry = Entry::new(actor, Action::UserCreated)
        .subject(user.id)
        .details(json!({"platform_admin": user.platform_admin, "auth_type": auth_type.as_str()}));
    cx.store
        .write(move |ctx| {
            check_email_free(ctx, &stored.email_address)?;
            ctx.put_user(&stored)?;
            entry.write(ctx)
        })
        .await?;
    Ok(user)
}

/// A first sign-in link for a new account (printed by `notify user create` for the operator to
/// hand over): it lets its person choose a password and signs them in. Answers the token.
pub async fn first_sign_in_link(
    cx: &Context,
    actor: &Actor,
    user_id: Uuid,
) -> DomainResult<String> {
    actor.require(Need::PlatformAdmin, None, None)?;
    get_user(cx, user_id)?;
    let hours = i64::from(cx.config.accounts.first_sign_in_hours);
    super::links::issue(cx, user_id, LinkPurpose::FirstSignIn, hours * 3_600_000_000).await
}

pub fn get_user(cx: &Context, id: Uuid) -> DomainResult<User> {
    cx.store
        .read()?
        .get_user(id)?
        .ok_or_else(|| DomainError::not_found(user_not_found(id)))
}

/// The account with this email address (compared normalised), if any.
pub fn find_by_email(cx: &Context, email: &str) -> DomainResult<Option<User>> {
    let wanted = recipients::normalise_email(email.trim());
    Ok(cx
        .store
        .read()?
        .all_users()?
        .into_iter()
        .find(|u| recipients::normalise_email(&u.email_address) == wanted))
}

/// Every account, by name (platform admins).
pub fn list_users(cx: &Context, actor: &Actor) -> DomainResult<Vec<User>> {
    actor.require(Need::PlatformAdmin, None, None)?;
    let mut users = cx.store.read()?.all_users()?;
    users.sort_by_key(|u| (u.name.to_lowercase(), u.id));
    Ok(users)
}

/// An account as the internal API shows it (never its secrets), with its services and
/// permissions in each.
pub fn user_json(cx: &Context, u: &User) -> DomainResult<Value> {
    let memberships = cx.store.read()?.user_memberships(u.id)?;
    let permissions: serde_json::Map<String, Value> = memberships
        .iter()
        .map(|m| {
            (
                m.service_id.to_string(),
                json!(m.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>()),
            )
        })
        .collect();
    Ok(json!({
        "id": u.id,
        "name": u.name,
        "email_address": u.email_address,
        "mobile_number": u.mobile_number,
        "created_at": format_api_timestamp(u.created_at),
        "state": u.state.as_str(),
        "platform_admin": u.platform_admin,
        "auth_type": u.auth_type.as_str(),
        "failed_login_count": u.failed_login_count,
        "logged_in_at": u.logged_in_at.map(format_api_timestamp),
        "password_changed_at": u.password_changed_at.map(format_api_timestamp),
        "totp_enrolled": u.totp_secret_sealed.is_some(),
        "services": memberships.iter().map(|m| m.service_id).collect::<Vec<_>>(),
        "permissions": permissions,
    }))
}

/// `POST /user/{id}`: what a person may change about their own account (a platform admin
/// about anyone's, and who is a platform admin).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub mobile_number: Option<String>,
    #[serde(default)]
    pub auth_type: Option<String>,
    #[serde(default)]
    pub platform_admin: Option<bool>,
}

pub async fn update_user(
    cx: &Context,
    actor: &Actor,
    id: Uuid,
    update: UserUpdate,
) -> DomainResult<User> {
    actor.require(Need::SelfOrPlatformAdmin, None, Some(id))?;
    if update.platform_admin.is_some() {
        actor.require(Need::PlatformAdmin, None, None)?;
    }
    let mobile = match &update.mobile_number {
        Some(m) => Some(check_mobile(Some(m))?),
        None => None,
    };
    let auth_type = update
        .auth_type
        .as_deref()
        .map(parse_auth_type)
        .transpose()?;
    let name = match update.name.as_deref().map(str::trim) {
        Some("") => return Err(DomainError::invalid("name cannot be empty".into())),
        other => other.map(str::to_string),
    };
    let entry = Entry::new(actor, Action::UserUpdated)
        .subject(id)
        .details(serde_json::to_value(&update).unwrap_or_default());
    let user = cx
        .store
        .write(move |ctx| {
            let mut user = ctx
                .get_user(id)?
                .ok_or_else(|| StoreError::NotFound(user_not_found(id)))?;
            if let Some(n) = name {
                user.name = n;
            }
            if let Some(m) = mobile {
                user.mobile_number = m;
            }
            if let Some(t) = auth_type {
                if t == AuthType::Totp && user.totp_secret_sealed.is_none() {
                    return Err(StoreError::Invalid(
                        "Set up an authenticator app first (your account's authenticator page)"
                            .into(),
                    ));
                }
                user.auth_type = t;
            }
            if user.auth_type == AuthType::Sms && user.mobile_number.is_none() {
                return Err(StoreError::Invalid(
                    "Mobile number must be set if auth_type is set to sms_auth".into(),
                ));
            }
            if let Some(p) = update.platform_admin {
                user.platform_admin = p;
            }
            user.updated_at = Some(ctx.now_micros());
            ctx.put_user(&user)?;
            entry.write(ctx)?;
            Ok(user)
        })
        .await?;
    Ok(user)
}

/// A platform admin's change to an account's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Nobody may sign in as them (their sessions end) until unlocked.
    Lock,
    /// Open again, with the failed-attempt count reset.
    Unlock,
    /// Lost their phone or authenticator: back to the emailed second factor, codes and
    /// sessions gone.
    ResetSecondFactor,
    /// Gone for good: out of every service, signed out, unable to sign in; the email address
    /// is freed for a new account.
    Archive,
}

pub async fn change_standing(
    cx: &Context,
    actor: &Actor,
    id: Uuid,
    change: Standing,
) -> DomainResult<User> {
    actor.require(Need::PlatformAdmin, None, None)?;
    // Locking or archiving yourself would leave you signed out with nobody to undo it.
    if actor.id() == Some(id) && matches!(change, Standing::Lock | Standing::Archive) {
        return Err(DomainError::invalid(
            "You cannot lock or archive your own account".into(),
        ));
    }
    let action = match change {
        Standing::Lock => Action::UserLocked,
        Standing::Unlock => Action::UserUnlocked,
        Standing::ResetSecondFactor => Action::SecondFactorReset,
        Standing::Archive => Action::UserArchived,
    };
    let entry = Entry::new(actor, action).subject(id);
    let stamp = cx.clock().now().format("%Y-%m-%d_%H:%M:%S").to_string();
    let user = cx
        .store
        .write(move |ctx| {
            let mut user = ctx
                .get_user(id)?
                .ok_or_else(|| StoreError::NotFound(user_not_found(id)))?;
            if user.state == UserState::Archived {
                return Err(StoreError::Invalid("This account is archived".into()));
            }
            match change {
                Standing::Lock => {
                    user.state = UserState::Locked;
                    ctx.delete_user_sessions(id)?;
                }
                Standing::Unlock => {
                    user.state = if user.password_hash.is_some() {
                        UserState::Active
                    } else {
                        UserState::Pending
                    };
                    user.failed_login_count = 0;
                }
                Standing::ResetSecondFactor => {
                    user.totp_secret_sealed = None;
                    user.totp_last_step = None;
                    user.auth_type = AuthType::Email;
                    ctx.delete_user_verify_codes(id)?;
                    ctx.delete_user_sessions(id)?;
                }
                Standing::Archive => {
                    for m in ctx.user_memberships(id)? {
                        ctx.remove_service_user(m.service_id, id)?;
                    }
                    ctx.delete_user_sessions(id)?;
                    ctx.delete_user_verify_codes(id)?;
                    user.state = UserState::Archived;
                    user.email_address = format!("_archived_{stamp}_{}", user.email_address);
                    user.mobile_number = None;
                    user.password_hash = None;
                    user.totp_secret_sealed = None;
                    user.platform_admin = false;
                    user.auth_type = AuthType::Email;
                }
            }
            user.updated_at = Some(ctx.now_micros());
            ctx.put_user(&user)?;
            entry.write(ctx)?;
            Ok(user)
        })
        .await?;
    Ok(user)
}

/// The service's team members, by name.
pub fn service_users(cx: &Context, service_id: Uuid) -> DomainResult<Vec<(User, Membership)>> {
    crate::domain::services::get_service(&cx.store, service_id)?;
    let mut team = cx.store.read()?.service_memberships(service_id)?;
    team.sort_by_key(|(u, _)| (u.name.to_lowercase(), u.id));
    Ok(team)
}

/// Make a user a team member of the service with `permissions` (managing the team needs
/// `manage_service`).
pub async fn add_user_to_service(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    user_id: Uuid,
    permissions: Vec<Permission>,
) -> DomainResult<()> {
    actor.require_in(service_id, Permission::ManageService)?;
    let entry = Entry::new(actor, Action::MemberAdded)
        .service(service_id)
        .subject(user_id)
        .details(json!({"permissions": names(&permissions)}));
    cx.store
        .write(move |ctx| {
            crate::domain::services::require_service(ctx, service_id)?;
            let user = ctx
                .get_user(user_id)?
                .ok_or_else(|| StoreError::NotFound(user_not_found(user_id)))?;
            if user.state == UserState::Archived {
                return Err(StoreError::Invalid("This account is archived".into()));
            }
            if ctx.get_membership(user_id, service_id)?.is_some() {
                return Err(StoreError::Conflict(format!(
                    "User id: {user_id} already part of service id: {service_id}"
                )));
            }
            ctx.put_membership(&Membership {
                service_id,
                user_id,
                permissions,
                created_at: ctx.now_micros(),
            })?;
            entry.write(ctx)
        })
        .await?;
    // Trial mode reads the team: the v2 API's cached service is stale now.
    cx.keys.invalidate(service_id);
    Ok(())
}

/// Change what a team member may do in the service.
pub async fn set_permissions(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    user_id: Uuid,
    permissions: Vec<Permission>,
) -> DomainResult<Membership> {
    actor.require_in(service_id, Permission::ManageService)?;
    let entry = Entry::new(actor, Action::PermissionsChanged)
        .service(service_id)
        .subject(user_id);
    Ok(cx
        .store
        .write(move |ctx| {
            let mut m = ctx.get_membership(user_id, service_id)?.ok_or_else(|| {
                StoreError::NotFound(format!(
                    "User {user_id} is not a member of service {service_id}"
                ))
            })?;
            let before = names(&m.permissions);
            m.permissions = permissions;
            ctx.put_membership(&m)?;
            entry
                .details(json!({"before": before, "after": names(&m.permissions)}))
                .write(ctx)?;
            Ok(m)
        })
        .await?)
}

fn names(permissions: &[Permission]) -> Vec<&'static str> {
    permissions.iter().map(|p| p.as_str()).collect()
}

/// Remove a team member; the last one stays, as upstream requires.
pub async fn remove_user_from_service(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    user_id: Uuid,
) -> DomainResult<()> {
    actor.require_in(service_id, Permission::ManageService)?;
    let entry = Entry::new(actor, Action::MemberRemoved)
        .service(service_id)
        .subject(user_id);
    cx.store
        .write(move |ctx| {
            crate::domain::services::require_service(ctx, service_id)?;
            let members = ctx.service_user_ids(service_id)?;
            if !members.contains(&user_id) {
                return Err(StoreError::NotFound(format!(
                    "User {user_id} is not a member of service {service_id}"
                )));
            }
            if members.len() == 1 {
                return Err(StoreError::Invalid(
                    "You cannot remove the only user for a service".into(),
                ));
            }
            ctx.remove_service_user(service_id, user_id)?;
            entry.write(ctx)
        })
        .await?;
    // Trial mode reads the team: the v2 API's cached service is stale now.
    cx.keys.invalidate(service_id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_checked_and_phone_numbers_normalised() {
        let u = new_user_record(
            Uuid::nil(),
            " Ann ",
            "Ann@Example.com",
            Some("07700 900123"),
            AuthType::Sms,
            1,
        )
        .unwrap();
        assert_eq!(u.name, "Ann");
        assert_eq!(u.email_address, "Ann@Example.com");
        assert_eq!(u.mobile_number.as_deref(), Some("+447700900123"));
        assert_eq!(u.state, UserState::Pending);
        let u = new_user_record(
            Uuid::nil(),
            "Ann",
            "ann@example.com",
            Some(""),
            AuthType::Email,
            1,
        )
        .unwrap();
        assert_eq!(u.mobile_number, None);
        let e = new_user_record(Uuid::nil(), "Ann", "not-an-email", None, AuthType::Email, 1)
            .unwrap_err();
        assert_eq!(e.to_string(), "email_address is not a valid email address");
        let e = new_user_record(
            Uuid::nil(),
            "Ann",
            "ann@example.com",
            Some("12"),
            AuthType::Email,
            1,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("mobile_number is not a valid phone number")
        );
        let e = new_user_record(
            Uuid::nil(),
            "Ann",
            "ann@example.com",
            None,
            AuthType::Sms,
            1,
        )
        .unwrap_err();
        assert!(e.to_string().contains("Mobile number must be set"));
    }

    #[test]
    fn permissions_by_either_name_each_once_in_order() {
        assert_eq!(
            parse_permissions(&[
                "send_texts",
                "manage_api_keys",
                "send_emails",
                "send_messages"
            ])
            .unwrap(),
            [Permission::SendMessages, Permission::ManageApiKeys]
        );
        assert_eq!(
            parse_permissions(&["manage_settings"]).unwrap(),
            [Permission::ManageService]
        );
        assert!(
            parse_permissions(&["root"])
                .unwrap_err()
                .to_string()
                .contains("not a permission")
        );
        assert!(parse_permissions::<&str>(&[]).unwrap().is_empty());
    }
}
