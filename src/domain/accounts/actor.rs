//! Who is doing something: a signed-in person (with their permissions), the operator (the admin
//! secret or the CLI on the machine), an API key, or the appliance itself (the scheduler, the
//! workers). Every domain function a person can trigger takes an [`Actor`]: it checks the
//! actor's permission there ([`Actor::require`]) and writes the audit event naming them.

use std::collections::HashMap;
use std::net::IpAddr;

use storage::records::{Membership, Permission, User};
use uuid::Uuid;

use super::permissions::{Denied, Need};
use crate::domain::DomainResult;

/// The operator's stable id: what template versions, invitations and audit events record when
/// the change came through the admin secret or the CLI. The bytes spell "operator".
pub const OPERATOR_ID: Uuid = Uuid::from_u128(0x6f706572_6174_6f72_0000_000000000000);
/// How the operator is named where a person's name would be.
pub const OPERATOR_NAME: &str = "Notify operator";
/// Where a person's email address would be (v2 template `created_by`): `.invalid` is reserved
/// (RFC 2606), so this can never be someone's mailbox.
pub const OPERATOR_EMAIL: &str = "operator@notify.invalid";
/// The appliance itself (scheduled jobs, workers).
pub const SYSTEM_NAME: &str = "Notify";

/// A signed-in person and what they may do, as read when their session was checked.
#[derive(Debug, Clone)]
pub struct Person {
    pub user: User,
    /// Service id → the person's permissions there (only services they belong to).
    pub services: HashMap<Uuid, Vec<Permission>>,
}

impl Person {
    pub fn new(user: User, memberships: Vec<Membership>) -> Person {
        let services = memberships
            .into_iter()
            .map(|m| (m.service_id, m.permissions))
            .collect();
        Person { user, services }
    }

    pub fn belongs_to(&self, service_id: Uuid) -> bool {
        self.services.contains_key(&service_id)
    }

    pub fn has(&self, service_id: Uuid, permission: Permission) -> bool {
        self.services
            .get(&service_id)
            .is_some_and(|p| p.contains(&permission))
    }
}

/// Who is acting.
#[derive(Debug, Clone)]
pub enum Who {
    Person(Box<Person>),
    /// The admin secret (automation, the CLI through a running server) or the CLI working on
    /// the data directory itself.
    Operator,
    /// A service's API key (the public API).
    ApiKey {
        service_id: Uuid,
        key_id: Uuid,
        name: String,
    },
    /// The appliance itself: scheduled jobs and workers.
    System,
    /// Nobody signed in (a sign-in attempt for an unknown email address).
    Anonymous,
}

/// Who is acting, and from where.
#[derive(Debug, Clone)]
pub struct Actor {
    pub who: Who,
    /// The address the request came from (none for the CLI and the scheduler).
    pub address: Option<IpAddr>,
}

impl Actor {
    pub fn operator() -> Actor {
        Actor {
            who: Who::Operator,
            address: None,
        }
    }

    pub fn system() -> Actor {
        Actor {
            who: Who::System,
            address: None,
        }
    }

    pub fn anonymous() -> Actor {
        Actor {
            who: Who::Anonymous,
            address: None,
        }
    }

    pub fn person(person: Person) -> Actor {
        Actor {
            who: Who::Person(Box::new(person)),
            address: None,
        }
    }

    pub fn api_key(service_id: Uuid, key_id: Uuid, name: &str) -> Actor {
        Actor {
            who: Who::ApiKey {
                service_id,
                key_id,
                name: name.to_string(),
            },
            address: None,
        }
    }

    /// The same actor, acting from `address`.
    pub fn from(mut self, address: Option<IpAddr>) -> Actor {
        self.address = address;
        self
    }

    /// The signed-in person, if a person is acting.
    pub fn person_ref(&self) -> Option<&Person> {
        match &self.who {
            Who::Person(p) => Some(p),
            _ => None,
        }
    }

    /// The user acting, if a person is.
    pub fn user(&self) -> Option<&User> {
        self.person_ref().map(|p| &p.user)
    }

    /// The operator or the appliance: trusted with everything.
    pub fn is_trusted(&self) -> bool {
        matches!(self.who, Who::Operator | Who::System)
    }

    pub fn is_platform_admin(&self) -> bool {
        self.user().is_some_and(|u| u.platform_admin)
    }

    /// What the audit trail calls this kind of actor.
    pub fn kind(&self) -> &'static str {
        match self.who {
            Who::Person(_) => "user",
            Who::Operator => "operator",
            Who::ApiKey { .. } => "api_key",
            Who::System => "system",
            Who::Anonymous => "anonymous",
        }
    }

    /// The id recorded for this actor: the user's, the key's, or the operator's stable id.
    pub fn id(&self) -> Option<Uuid> {
        match &self.who {
            Who::Person(p) => Some(p.user.id),
            Who::Operator => Some(OPERATOR_ID),
            Who::ApiKey { key_id, .. } => Some(*key_id),
            Who::System | Who::Anonymous => None,
        }
    }

    /// The name recorded for this actor.
    pub fn name(&self) -> String {
        match &self.who {
            Who::Person(p) => p.user.name.clone(),
            Who::Operator => OPERATOR_NAME.to_string(),
            Who::ApiKey { name, .. } => name.clone(),
            Who::System => SYSTEM_NAME.to_string(),
            Who::Anonymous => "Someone not signed in".to_string(),
        }
    }

    /// Who a template version, a job or an invitation records as its author: the person, or
    /// the operator's stable id for anything else.
    pub fn author_id(&self) -> Uuid {
        match &self.who {
            Who::Person(p) => p.user.id,
            _ => OPERATOR_ID,
        }
    }

    /// Refuse unless this actor meets `need` (for `service_id` / `user_id` when it names one):
    /// 404 for another service's or person's things, 403 for a member without the permission.
    pub fn require(
        &self,
        need: Need,
        service_id: Option<Uuid>,
        user_id: Option<Uuid>,
    ) -> DomainResult<()> {
        super::permissions::check(self, need, service_id, user_id).map_err(Denied::into_error)
    }

    /// [`Actor::require`] for a service-scoped permission.
    pub fn require_in(&self, service_id: Uuid, permission: Permission) -> DomainResult<()> {
        self.require(Need::Permission(permission), Some(service_id), None)
    }
}
