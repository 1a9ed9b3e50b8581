//! Helpers shared by the storage integration tests: temporary stores and sample records.
//!
//! Every test binary includes this module (`mod common;`) and uses a different subset of it.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use storage::records::{KeyType, Notification, NotificationStatus, NotificationType};
use storage::{ManualClock, SharedClock, Store, StoreOptions};
use tempfile::TempDir;
use uuid::Uuid;

/// A fixed, ordinary moment for tests that run on a [`ManualClock`].
pub fn test_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 14, 12, 0, 0).unwrap()
}

/// A fresh temporary directory (removed when dropped).
pub fn temp_dir() -> TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// Open a store in `dir` on the real clock.
pub fn open_store(dir: &Path) -> Store {
    Store::open(dir, StoreOptions::default()).expect("open store")
}

/// Open a store in `dir` on the given clock.
pub fn open_store_with_clock(dir: &Path, clock: SharedClock) -> Store {
    Store::open(
        dir,
        StoreOptions {
            clock,
            ..StoreOptions::default()
        },
    )
    .expect("open store")
}

/// A store in a new temporary directory on a [`ManualClock`] standing at [`test_start`].
pub fn manual_store() -> (TempDir, Store, Arc<ManualClock>) {
    let dir = temp_dir();
    let clock = ManualClock::new(test_start());
    let store = open_store_with_clock(dir.path(), clock.clone());
    (dir, store, clock)
}

/// What search compares: lower-cased email, or the digits of a phone number.
pub fn normalise(recipient: &str) -> String {
    if recipient.contains('@') {
        recipient.trim().to_lowercase()
    } else {
        recipient.chars().filter(char::is_ascii_digit).collect()
    }
}

/// Microseconds since the epoch encoded in a uuid v7 (0 for other versions).
pub fn created_at_of(id: Uuid) -> i64 {
    id.get_timestamp()
        .map(|t| {
            let (secs, nanos) = t.to_unix();
            secs as i64 * 1_000_000 + i64::from(nanos / 1000)
        })
        .unwrap_or(0)
}

/// A realistic notification whose every field is a function of the arguments, so a test can
/// rebuild the exact record it expects from the id alone.
pub fn notification_with_id(
    id: Uuid,
    service_id: Uuid,
    recipient: &str,
    status: NotificationStatus,
) -> Notification {
    let email = recipient.contains('@');
    let short = &id.simple().to_string()[24..];
    let created_at = created_at_of(id);
    Notification {
        id,
        service_id,
        notification_type: if email {
            NotificationType::Email
        } else {
            NotificationType::Sms
        },
        template_id: Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0001),
        template_version: 2,
        api_key_id: Some(Uuid::from_u128(0x4b45_0000_0000_4000_8000_0000_0000_0001)),
        key_type: KeyType::Normal,
        status,
        to: recipient.to_string(),
        normalised_to: normalise(recipient),
        personalisation: format!(
            "{{\"first_name\":\"Amala\",\"reference_number\":\"{short}\",\"appointment\":\"14 January 2026 at 10:30am\"}}"
        ),
        body: format!("Dear Amala, your reference is {short}."),
        subject: email.then(|| "Your appointment".to_string()),
        client_reference: Some(format!("ref-{short}")),
        job_id: None,
        job_row_number: None,
        reply_to_text: None,
        one_click_unsubscribe_url: None,
        postage: None,
        international: false,
        billable_units: if email { 0 } else { 1 },
        sent_by: None,
        created_at,
        sent_at: None,
        updated_at: None,
        created_by_name: None,
        status_reason: None,
    }
}

/// A notification with a fresh uuid v7 id.
pub fn notification(service_id: Uuid, recipient: &str, status: NotificationStatus) -> Notification {
    notification_with_id(Uuid::now_v7(), service_id, recipient, status)
}

/// The same notification after a provider took it (a deterministic status change).
pub fn mark_sending(n: &mut Notification) {
    n.status = NotificationStatus::Sending;
    n.sent_by = Some("test-provider".to_string());
    n.sent_at = Some(n.created_at + 1);
    n.updated_at = Some(n.created_at + 1);
}

/// Every live notification, walked in id order in bounded chunks from one snapshot.
pub fn all_notifications(store: &Store) -> Vec<Notification> {
    let reader = store.read().expect("read snapshot");
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let chunk = reader
            .notifications_after(after, 1000)
            .expect("notifications_after");
        let Some(last) = chunk.last() else { break };
        after = Some(last.id);
        out.extend(chunk);
    }
    out
}
