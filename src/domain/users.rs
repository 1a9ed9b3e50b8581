//! Team members: users, and their membership of services. In trial mode (and with team keys)
//! a service sends only to its team members and its guest list.

use serde::{Deserialize, Serialize};
use storage::records::User;
use storage::{Store, StoreError};
use uuid::Uuid;

use super::{Context, DomainError, DomainResult, recipients};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub name: String,
    pub email_address: String,
    #[serde(default)]
    pub mobile_number: Option<String>,
}

fn user_not_found(id: Uuid) -> String {
    format!("No user with id {id}")
}

/// A user's fields, checked: a name, a valid email address (stored as given, cleaned), and an
/// optional valid phone number (stored as `+` and E.164 digits).
pub fn check_new_user(new: NewUser, id: Uuid, now: i64) -> DomainResult<User> {
    let name = new.name.trim().to_string();
    if name.is_empty() {
        return Err(DomainError::invalid("name cannot be empty".into()));
    }
    if name.chars().count() > 255 {
        return Err(DomainError::invalid(
            "name must be 255 characters or fewer".into(),
        ));
    }
    let email_address = recipients::validate_email_address(&new.email_address)
        .map_err(|_| DomainError::invalid("email_address is not a valid email address".into()))?;
    let mobile_number = match new.mobile_number.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(m) => {
            let phone = recipients::validate_phone_number(m).map_err(|e| {
                DomainError::invalid(format!("mobile_number is not a valid phone number: {e}"))
            })?;
            Some(format!("+{}", phone.normalised))
        }
    };
    Ok(User {
        id,
        name,
        email_address,
        mobile_number,
        created_at: now,
    })
}

/// Create a user. Email addresses are unique (compared normalised).
pub async fn create_user(store: &Store, new: NewUser) -> DomainResult<User> {
    let user = check_new_user(new, Uuid::new_v4(), store.clock().now_micros())?;
    let stored = user.clone();
    store
        .write(move |ctx| {
            let wanted = recipients::normalise_email(&stored.email_address);
            if ctx
                .find_user(|u| recipients::normalise_email(&u.email_address) == wanted)?
                .is_some()
            {
                return Err(StoreError::Conflict(format!(
                    "A user with email address {} already exists",
                    stored.email_address
                )));
            }
            ctx.put_user(&stored)
        })
        .await?;
    Ok(user)
}

pub fn get_user(store: &Store, id: Uuid) -> DomainResult<User> {
    store
        .read()?
        .get_user(id)?
        .ok_or_else(|| DomainError::not_found(user_not_found(id)))
}

/// The service's team members, by name.
pub fn service_users(store: &Store, service_id: Uuid) -> DomainResult<Vec<User>> {
    super::services::get_service(store, service_id)?;
    let mut users = store.read()?.service_users(service_id)?;
    users.sort_by_key(|u| (u.name.to_lowercase(), u.id));
    Ok(users)
}

/// Make a user a team member of the service.
pub async fn add_user_to_service(
    cx: &Context,
    service_id: Uuid,
    user_id: Uuid,
) -> DomainResult<()> {
    let store = &cx.store;
    store
        .write(move |ctx| {
            super::services::require_service(ctx, service_id)?;
            if ctx.get_user(user_id)?.is_none() {
                return Err(StoreError::NotFound(user_not_found(user_id)));
            }
            if ctx.service_user_ids(service_id)?.contains(&user_id) {
                return Err(StoreError::Conflict(format!(
                    "User id: {user_id} already part of service id: {service_id}"
                )));
            }
            ctx.add_service_user(service_id, user_id)
        })
        .await?;
    // Trial mode reads the team: the v2 API's cached service is stale now.
    cx.keys.invalidate(service_id);
    Ok(())
}

/// Remove a team member; the last one stays, as upstream requires.
pub async fn remove_user_from_service(
    cx: &Context,
    service_id: Uuid,
    user_id: Uuid,
) -> DomainResult<()> {
    let store = &cx.store;
    store
        .write(move |ctx| {
            super::services::require_service(ctx, service_id)?;
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
            Ok(())
        })
        .await?;
    // Trial mode reads the team: the v2 API's cached service is stale now.
    cx.keys.invalidate(service_id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(email: &str, mobile: Option<&str>) -> NewUser {
        NewUser {
            name: " Ann ".into(),
            email_address: email.into(),
            mobile_number: mobile.map(str::to_string),
        }
    }

    #[test]
    fn users_are_checked_and_phone_numbers_normalised() {
        let u =
            check_new_user(new("Ann@Example.com", Some("07700 900123")), Uuid::nil(), 1).unwrap();
        assert_eq!(u.name, "Ann");
        assert_eq!(u.email_address, "Ann@Example.com");
        assert_eq!(u.mobile_number.as_deref(), Some("+447700900123"));
        let u = check_new_user(new("ann@example.com", Some("")), Uuid::nil(), 1).unwrap();
        assert_eq!(u.mobile_number, None);
        let e = check_new_user(new("not-an-email", None), Uuid::nil(), 1).unwrap_err();
        assert_eq!(e.to_string(), "email_address is not a valid email address");
        let e = check_new_user(new("ann@example.com", Some("12")), Uuid::nil(), 1).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("mobile_number is not a valid phone number")
        );
    }
}
