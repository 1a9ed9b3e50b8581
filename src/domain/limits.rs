//! Sending limits (spec §9): a per-minute token bucket per service and key type, and daily
//! counts per service and type. Buckets live in memory (as upstream keeps them in Redis); daily
//! counts are seeded from the database the first time a service sends on a UTC day, so a
//! restart does not reset them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use storage::Store;
use storage::records::{KeyType, NotificationType, Service};
use uuid::Uuid;

use super::{DomainError, DomainResult};

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// (service, limit name) → (UTC day, count so far).
type DailyCounts = HashMap<(Uuid, &'static str), (i64, u64)>;

#[derive(Default)]
pub struct Limits {
    buckets: Mutex<HashMap<(Uuid, KeyType), Bucket>>,
    daily: Mutex<DailyCounts>,
}

fn key_type_label(k: KeyType) -> &'static str {
    match k {
        KeyType::Normal => "LIVE",
        KeyType::Team => "TEAM",
        KeyType::Test => "TEST",
    }
}

fn utc_day(micros: i64) -> i64 {
    micros.div_euclid(86_400_000_000)
}

impl Limits {
    /// Take one token from the service's bucket for this key type.
    pub fn check_rate(&self, service: &Service, key_type: KeyType) -> DomainResult<()> {
        let rate = f64::from(service.rate_limit.max(1));
        let capacity = ((rate / 3.0).ceil() + 1.0).min(1000.0);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let bucket = buckets.entry((service.id, key_type)).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let refill = now.duration_since(bucket.updated).as_secs_f64() * rate / 60.0;
        bucket.tokens = (bucket.tokens + refill).min(capacity);
        bucket.updated = now;
        if bucket.tokens < 1.0 {
            return Err(DomainError::rate_limited(format!(
                "Exceeded rate limit for key type {} of {} requests per 60 seconds",
                key_type_label(key_type),
                service.rate_limit
            )));
        }
        bucket.tokens -= 1.0;
        Ok(())
    }

    fn limit_for(service: &Service, name: &str) -> u64 {
        match name {
            "email" => service.email_message_limit,
            "sms" => service.sms_message_limit,
            "letter" => service.letter_message_limit,
            _ => service.international_sms_message_limit,
        }
    }

    /// Refuse when today's count for this type would pass the service's limit. Test keys are
    /// never limited here (they never count).
    pub fn check_daily(
        &self,
        store: &Store,
        service: &Service,
        key_type: KeyType,
        t: NotificationType,
    ) -> DomainResult<()> {
        if key_type == KeyType::Test {
            return Ok(());
        }
        let name = t.as_str();
        let sent = self.sent_today(store, service.id, name)?;
        let limit = Self::limit_for(service, name);
        if sent + 1 > limit {
            return Err(DomainError::daily_limit(format!(
                "Exceeded send limits ({name}: {limit}) for today"
            )));
        }
        Ok(())
    }

    /// Today's count of messages of this type and the service's daily limit for it (the
    /// dashboard shows what is left).
    pub fn used_today(
        &self,
        store: &Store,
        service: &Service,
        t: NotificationType,
    ) -> DomainResult<(u64, u64)> {
        let name = t.as_str();
        Ok((
            self.sent_today(store, service.id, name)?,
            Self::limit_for(service, name),
        ))
    }

    /// Whether `count` more messages of this type fit in today's limit (a bulk send checks its
    /// whole sheet at once, as upstream's `process-job` does).
    pub fn fits_daily(
        &self,
        store: &Store,
        service: &Service,
        t: NotificationType,
        count: u64,
    ) -> DomainResult<bool> {
        let name = t.as_str();
        let sent = self.sent_today(store, service.id, name)?;
        Ok(sent + count <= Self::limit_for(service, name))
    }

    /// Count `count` stored notifications of a bulk send, `international` of them international
    /// texts.
    pub fn record_sent_many(
        &self,
        service_id: Uuid,
        t: NotificationType,
        count: u64,
        international: u64,
    ) {
        let mut daily = self.daily.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = daily.get_mut(&(service_id, t.as_str())) {
            entry.1 += count;
        }
        if let Some(entry) = daily.get_mut(&(service_id, "international_sms")) {
            entry.1 += international;
        }
    }

    fn sent_today(&self, store: &Store, service_id: Uuid, name: &'static str) -> DomainResult<u64> {
        let now = store.clock().now_micros();
        let today = utc_day(now);
        if let Some((day, count)) = self
            .daily
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(service_id, name))
            && *day == today
        {
            return Ok(*count);
        }
        let since_micros = today * 86_400_000_000;
        let counted =
            store
                .read()?
                .count_service_notifications_since(service_id, since_micros, |n| {
                    n.key_type != KeyType::Test
                        && match name {
                            "international_sms" => {
                                n.notification_type == NotificationType::Sms && n.international
                            }
                            other => n.notification_type.as_str() == other,
                        }
                })?;
        let mut daily = self.daily.lock().unwrap_or_else(|p| p.into_inner());
        let entry = daily.entry((service_id, name)).or_insert((today, counted));
        if entry.0 != today {
            *entry = (today, counted);
        }
        Ok(entry.1)
    }

    /// Count a stored notification (normal and team keys only; the caller checks).
    pub fn record_sent(&self, service_id: Uuid, t: NotificationType, international_sms: bool) {
        let mut daily = self.daily.lock().unwrap_or_else(|p| p.into_inner());
        let mut bump = |name: &'static str| {
            if let Some(entry) = daily.get_mut(&(service_id, name)) {
                entry.1 += 1;
            }
        };
        bump(t.as_str());
        if international_sms {
            bump("international_sms");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(rate_limit: u32) -> Service {
        Service {
            id: Uuid::new_v4(),
            name: "s".into(),
            active: true,
            restricted: false,
            rate_limit,
            email_message_limit: 2,
            sms_message_limit: 2,
            letter_message_limit: 2,
            international_sms_message_limit: 1,
            permissions: vec![],
            email_sender_local_part: "s".into(),
            prefix_sms: true,
            contact_link: None,
            email_reply_to: vec![],
            sms_senders: vec![],
            letter_contacts: vec![],
            guest_list: vec![],
            created_at: 0,
            updated_at: None,
        }
    }

    #[test]
    fn the_bucket_holds_a_third_of_the_minute_plus_one() {
        let limits = Limits::default();
        let s = service(30);
        // capacity = ceil(30/3) + 1 = 11
        for _ in 0..11 {
            limits.check_rate(&s, KeyType::Normal).unwrap();
        }
        match limits.check_rate(&s, KeyType::Normal) {
            Err(e @ DomainError::Refused { .. }) => assert_eq!(
                (e.code(), e.to_string().as_str()),
                (
                    crate::domain::Code::RateLimited,
                    "Exceeded rate limit for key type LIVE of 30 requests per 60 seconds"
                ),
            ),
            other => panic!("{other:?}"),
        }
        // Each key type has its own bucket.
        limits.check_rate(&s, KeyType::Team).unwrap();
    }
}
