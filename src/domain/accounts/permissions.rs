//! What an action needs ([`Need`]) and the one function that decides whether an actor meets it
//! ([`check`]). The internal API's route table declares a `Need` for every route and calls
//! [`check`] before the handler; domain functions call it again through [`Actor::require`], so
//! the web pages (which call the domain directly) get the same answer.
//!
//! The rules, as upstream's admin app: the operator and the appliance may do everything; a
//! platform admin may do everything except send messages and create API keys in services they
//! do not belong to ([`Need::MemberWith`], upstream's `restrict_admin_usage`); a member may do
//! what their permissions in that service say; anyone else gets "not found" for a service's
//! things (so one service never learns another exists) and "forbidden" for platform pages.

use storage::records::{Permission, UserState};
use uuid::Uuid;

use super::actor::{Actor, Who};
use crate::domain::DomainError;

/// What an action requires of its actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone signed in (their own account; creating a service, which makes them its member).
    SignedIn,
    /// The user named in the request themselves, or a platform admin.
    SelfOrPlatformAdmin,
    /// Any member of the service, whatever their permissions; platform admins.
    Member,
    /// A member with this permission; platform admins.
    Permission(Permission),
    /// A member with this permission; platform admins only when they are such a member
    /// (sending messages, creating API keys).
    MemberWith(Permission),
    /// Platform admins (and the operator): the appliance as a whole.
    PlatformAdmin,
}

impl Need {
    /// The permission named, if any.
    pub fn permission(self) -> Option<Permission> {
        match self {
            Need::Permission(p) | Need::MemberWith(p) => Some(p),
            _ => None,
        }
    }

    /// Whether the action concerns one service (its id comes from the request).
    pub fn is_service_scoped(self) -> bool {
        matches!(
            self,
            Need::Member | Need::Permission(_) | Need::MemberWith(_)
        )
    }

    /// Words for documentation and the route listing.
    pub fn describe(self) -> String {
        match self {
            Need::SignedIn => "signed in".into(),
            Need::SelfOrPlatformAdmin => "the user themselves, or a platform admin".into(),
            Need::Member => "member of the service".into(),
            Need::Permission(p) => format!("{p} in the service"),
            Need::MemberWith(p) => {
                format!("{p} in the service (platform admins too only as members)")
            }
            Need::PlatformAdmin => "platform admin".into(),
        }
    }
}

/// Why an actor was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// Nobody signed in (the pages send them to sign in; the API answers 401).
    NotSignedIn,
    /// Signed in, allowed to know the thing exists, not allowed to do this (403).
    Forbidden,
    /// Not theirs to know about (404): another service's things, another person's account.
    NotFound,
}

impl Denied {
    pub fn into_error(self) -> DomainError {
        match self {
            Denied::NotSignedIn => {
                DomainError::refused(crate::domain::Code::Unauthorized, "You need to sign in")
            }
            Denied::Forbidden => {
                DomainError::forbidden("You do not have permission to do this".into())
            }
            Denied::NotFound => DomainError::not_found("Not found".into()),
        }
    }
}

/// Whether `actor` meets `need`, for the service and user the request names.
pub fn check(
    actor: &Actor,
    need: Need,
    service_id: Option<Uuid>,
    user_id: Option<Uuid>,
) -> Result<(), Denied> {
    let person = match &actor.who {
        Who::Operator | Who::System => return Ok(()),
        Who::ApiKey { .. } => return Err(Denied::Forbidden),
        Who::Anonymous => return Err(Denied::NotSignedIn),
        Who::Person(p) => p,
    };
    if person.user.state != UserState::Active {
        return Err(Denied::NotSignedIn);
    }
    let admin = person.user.platform_admin;
    match need {
        Need::SignedIn => Ok(()),
        Need::PlatformAdmin if admin => Ok(()),
        Need::PlatformAdmin => Err(Denied::Forbidden),
        Need::SelfOrPlatformAdmin => match user_id {
            _ if admin => Ok(()),
            Some(id) if id == person.user.id => Ok(()),
            _ => Err(Denied::NotFound),
        },
        Need::Member | Need::Permission(_) | Need::MemberWith(_) => {
            let Some(service_id) = service_id else {
                // A service-scoped need without a service is a mistake in the route table;
                // refuse rather than guess.
                return Err(Denied::Forbidden);
            };
            let restricted = matches!(need, Need::MemberWith(_));
            if admin && !restricted {
                return Ok(());
            }
            let Some(permissions) = person.services.get(&service_id) else {
                // A platform admin knows every service exists.
                return Err(if admin {
                    Denied::Forbidden
                } else {
                    Denied::NotFound
                });
            };
            match need.permission() {
                None => Ok(()),
                Some(p) if permissions.contains(&p) => Ok(()),
                Some(_) => Err(Denied::Forbidden),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::accounts::actor::Person;
    use storage::records::{AuthType, Membership, User};

    fn user(platform_admin: bool) -> User {
        User {
            id: Uuid::from_u128(7),
            name: "Ann".into(),
            email_address: "ann@example.gov.uk".into(),
            mobile_number: None,
            created_at: 0,
            state: UserState::Active,
            platform_admin,
            auth_type: AuthType::Totp,
            password_hash: None,
            password_changed_at: None,
            failed_login_count: 0,
            totp_secret_sealed: None,
            totp_last_step: None,
            logged_in_at: None,
            updated_at: None,
        }
    }

    fn member(of: Uuid, permissions: &[Permission], admin: bool) -> Actor {
        let u = user(admin);
        let m = Membership {
            service_id: of,
            user_id: u.id,
            permissions: permissions.to_vec(),
            created_at: 0,
        };
        Actor::person(Person::new(u, vec![m]))
    }

    #[test]
    fn members_platform_admins_and_strangers() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let keys = Need::Permission(Permission::ManageApiKeys);
        let send = Need::MemberWith(Permission::SendMessages);
        let sender = member(a, &[Permission::SendMessages], false);
        assert_eq!(check(&sender, send, Some(a), None), Ok(()));
        assert_eq!(check(&sender, keys, Some(a), None), Err(Denied::Forbidden));
        assert_eq!(check(&sender, Need::Member, Some(a), None), Ok(()));
        assert_eq!(check(&sender, keys, Some(b), None), Err(Denied::NotFound));
        assert_eq!(
            check(&sender, Need::Member, Some(b), None),
            Err(Denied::NotFound)
        );
        assert_eq!(
            check(&sender, Need::PlatformAdmin, None, None),
            Err(Denied::Forbidden)
        );
        assert_eq!(check(&sender, Need::SignedIn, None, None), Ok(()));
        assert_eq!(
            check(
                &sender,
                Need::SelfOrPlatformAdmin,
                None,
                Some(Uuid::from_u128(7))
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &sender,
                Need::SelfOrPlatformAdmin,
                None,
                Some(Uuid::from_u128(8))
            ),
            Err(Denied::NotFound)
        );

        let admin = member(a, &[], true);
        assert_eq!(check(&admin, keys, Some(b), None), Ok(()));
        assert_eq!(check(&admin, send, Some(b), None), Err(Denied::Forbidden));
        assert_eq!(check(&admin, send, Some(a), None), Err(Denied::Forbidden));
        assert_eq!(check(&admin, Need::PlatformAdmin, None, None), Ok(()));

        assert_eq!(check(&Actor::operator(), send, Some(b), None), Ok(()));
        assert_eq!(
            check(&Actor::api_key(a, b, "k"), Need::Member, Some(a), None),
            Err(Denied::Forbidden)
        );
        let mut locked = member(a, &[Permission::SendMessages], false);
        if let Who::Person(p) = &mut locked.who {
            p.user.state = UserState::Locked;
        }
        assert_eq!(
            check(&locked, send, Some(a), None),
            Err(Denied::NotSignedIn)
        );
    }
}
