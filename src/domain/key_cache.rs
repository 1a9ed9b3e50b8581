//! Services and their unsealed API-key secrets, kept for two seconds as upstream does, so the
//! v2 accept path neither opens the database nor decrypts anything per request.
//!
//! The cache lives with the domain because the domain is where services and keys change: every
//! domain function that changes a service, its keys, its senders or its team forgets that
//! service here ([`KeyCache::invalidate`]), so this process sees the change at once; other
//! processes (the CLI writing to a stopped store) are covered by the two-second lifetime.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use storage::Store;
use storage::records::{ApiKey, Service};
use uuid::Uuid;

use super::DomainResult;
use crate::crypto::Sealer;

pub const CACHE_TTL: Duration = Duration::from_secs(2);
/// Revoked keys stay loaded this long, so their users get "revoked" rather than "not found".
const REVOKED_KEY_WINDOW_MICROS: i64 = 7 * 24 * 3600 * 1_000_000;

/// A key with its secret, ready to check signatures.
pub struct LoadedKey {
    pub key: ApiKey,
    pub decoding: DecodingKey,
}

pub struct LoadedService {
    pub service: Service,
    pub keys: Vec<LoadedKey>,
    loaded: Instant,
}

#[derive(Default)]
pub struct KeyCache {
    map: RwLock<HashMap<Uuid, Arc<LoadedService>>>,
}

impl KeyCache {
    /// Forget a service (it, its keys or its settings changed in this process).
    pub fn invalidate(&self, service_id: Uuid) {
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&service_id);
    }

    /// The service with its keys, from the cache when loaded in the last two seconds.
    pub fn get(
        &self,
        store: &Store,
        sealer: &Sealer,
        service_id: Uuid,
    ) -> DomainResult<Option<Arc<LoadedService>>> {
        if let Some(hit) = self
            .map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&service_id)
            && hit.loaded.elapsed() < CACHE_TTL
        {
            return Ok(Some(hit.clone()));
        }
        let reader = store.read()?;
        let Some(service) = reader.get_service(service_id)? else {
            return Ok(None);
        };
        let now = store.clock().now_micros();
        let mut keys = Vec::new();
        for key in reader.service_api_keys(service_id)? {
            if key
                .expiry_date
                .is_some_and(|revoked| now - revoked > REVOKED_KEY_WINDOW_MICROS)
            {
                continue;
            }
            let secret = sealer.open(&key.secret_sealed)?;
            keys.push(LoadedKey {
                decoding: DecodingKey::from_secret(&secret),
                key,
            });
        }
        let loaded = Arc::new(LoadedService {
            service,
            keys,
            loaded: Instant::now(),
        });
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(service_id, loaded.clone());
        Ok(Some(loaded))
    }
}
