//! API keys: the string a team pastes into the official clients is
//! `{key_name}-{service_id}-{secret}`; only the sealed secret is stored.

use serde::{Deserialize, Serialize};
use serde_json::json;
use storage::Store;
use storage::records::{ApiKey, KeyType, Permission};
use uuid::Uuid;

use super::accounts::{Action, Actor, Entry, Need};
use super::{Context, DomainError, DomainResult};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub name: String,
    pub key_type: String,
}

/// A key as created: the record, plus the full key string, shown once.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedApiKey {
    pub id: Uuid,
    pub service_id: Uuid,
    pub name: String,
    pub key_type: &'static str,
    pub key: String,
}

/// The admin app's `make_string_safe`: accents removed, lower case, whitespace runs as `_`,
/// anything else that is not a letter or digit dropped.
pub fn safe_key_name(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::new();
    let mut in_space = false;
    for c in name.trim().nfkd() {
        if c.is_whitespace() {
            if !in_space {
                out.push('_');
            }
            in_space = true;
            continue;
        }
        in_space = false;
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

pub fn parse_key_type(text: &str) -> DomainResult<KeyType> {
    KeyType::parse(text).ok_or_else(|| {
        DomainError::invalid(format!(
            "key_type {text} is not one of [normal, team, test]"
        ))
    })
}

/// Create a key; its secret is shown once, in the answer. Needs `manage_api_keys` as a member
/// (platform admins too: upstream keeps them from minting keys for services they are not in).
pub async fn create_api_key(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    new: NewApiKey,
) -> DomainResult<CreatedApiKey> {
    actor.require(
        Need::MemberWith(Permission::ManageApiKeys),
        Some(service_id),
        None,
    )?;
    let store = &cx.store;
    let key_type = parse_key_type(&new.key_type)?;
    let name = new.name.trim().to_string();
    if name.is_empty() {
        return Err(DomainError::invalid("key name cannot be empty".into()));
    }
    let service = super::services::get_service(store, service_id)?;
    if !service.active {
        return Err(DomainError::invalid(format!(
            "service {service_id} is archived"
        )));
    }
    let secret = Uuid::new_v4().to_string();
    let key = ApiKey {
        id: Uuid::new_v4(),
        service_id,
        name: name.clone(),
        key_type,
        secret_sealed: cx.sealer.seal(secret.as_bytes()),
        created_at: store.clock().now_micros(),
        expiry_date: None,
    };
    let id = key.id;
    let entry = Entry::new(actor, Action::ApiKeyCreated)
        .service(service_id)
        .subject(id)
        .details(json!({"name": name, "key_type": key_type.as_str()}));
    store
        .write(move |ctx| {
            // Re-checked inside the commit: the service may have gone since the read above.
            super::services::require_service(ctx, service_id)?;
            ctx.put_api_key(&key)?;
            entry.write(ctx)
        })
        .await?;
    cx.keys.invalidate(service_id);
    Ok(CreatedApiKey {
        id,
        service_id,
        key_type: key_type.as_str(),
        key: format!("{}-{}-{}", safe_key_name(&name), service_id, secret),
        name,
    })
}

/// The service's keys (revoked ones included), oldest first. Secrets stay sealed in the
/// records; callers must not show them.
pub fn list_api_keys(store: &Store, service_id: Uuid) -> DomainResult<Vec<ApiKey>> {
    super::services::get_service(store, service_id)?;
    let reader = store.read()?;
    let mut keys = reader.service_api_keys(service_id)?;
    keys.sort_by_key(|k| (k.created_at, k.id));
    Ok(keys)
}

fn key_not_found(service_id: Uuid, key_id: Uuid) -> String {
    format!("No API key with id {key_id} for service {service_id}")
}

/// One key of the service.
pub fn get_api_key(store: &Store, service_id: Uuid, key_id: Uuid) -> DomainResult<ApiKey> {
    super::services::get_service(store, service_id)?;
    store
        .read()?
        .get_api_key(key_id)?
        .filter(|k| k.service_id == service_id)
        .ok_or_else(|| DomainError::not_found(key_not_found(service_id, key_id)))
}

/// Revoke a key: its `expiry_date` becomes now (a revoked key keeps its first revocation
/// time).
pub async fn revoke_api_key(
    cx: &Context,
    actor: &Actor,
    service_id: Uuid,
    key_id: Uuid,
) -> DomainResult<ApiKey> {
    actor.require_in(service_id, Permission::ManageApiKeys)?;
    let entry = Entry::new(actor, Action::ApiKeyRevoked)
        .service(service_id)
        .subject(key_id);
    let store = &cx.store;
    super::services::get_service(store, service_id)?;
    let now = store.clock().now_micros();
    let key = store
        .write(move |ctx| {
            let mut key = ctx
                .get_api_key(key_id)?
                .filter(|k| k.service_id == service_id)
                .ok_or_else(|| storage::StoreError::NotFound(key_not_found(service_id, key_id)))?;
            if key.expiry_date.is_none() {
                key.expiry_date = Some(now);
                ctx.put_api_key(&key)?;
                entry.write(ctx)?;
            }
            Ok(key)
        })
        .await?;
    cx.keys.invalidate(service_id);
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_made_safe_like_the_admin_app() {
        for (name, want) in [
            ("My Key", "my_key"),
            ("  Ça   va! ", "ca_va"),
            ("live-key_2", "livekey2"),
            ("a\tb", "a_b"),
        ] {
            assert_eq!(safe_key_name(name), want, "{name}");
        }
    }

    #[test]
    fn key_types_are_the_three_upstream_names() {
        assert_eq!(parse_key_type("team").unwrap(), KeyType::Team);
        assert!(parse_key_type("live").is_err());
    }
}
