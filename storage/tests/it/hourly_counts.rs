//! The hourly status counts ([`storage::hourly_counts`]) stay equal to a recount of the stored
//! rows through every kind of write: inserts, status changes, archiving, status changes of
//! archived rows, deletion; test keys are never counted; old hours are pruned.

use std::collections::BTreeMap;

use redb::ReadableTable;
use storage::Store;
use storage::codec::encode;
use storage::hourly_counts::hour_of;
use storage::records::{KeyType, NotificationHistory, NotificationStatus, NotificationType};
use storage::retention::Retiring;
use uuid::Uuid;

use crate::common::*;

type Counts = BTreeMap<(Uuid, i64, NotificationType, KeyType, NotificationStatus), u64>;

/// What the table holds, as a map.
pub(crate) fn stored(store: &Store) -> Counts {
    store
        .read()
        .unwrap()
        .hourly_counts(None, i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|c| {
            (
                (
                    c.service_id,
                    c.hour,
                    c.notification_type,
                    c.key_type,
                    c.status,
                ),
                c.count,
            )
        })
        .collect()
}

/// The same counts worked out from every live and archived row.
pub(crate) fn recount(store: &Store) -> Counts {
    let reader = store.read().unwrap();
    let mut out = Counts::new();
    let mut add = |h: &NotificationHistory| {
        if h.key_type != KeyType::Test {
            *out.entry((
                h.service_id,
                hour_of(h.created_at),
                h.notification_type,
                h.key_type,
                h.status,
            ))
            .or_default() += 1;
        }
    };
    for n in all_notifications(store) {
        add(&NotificationHistory::from(&n));
    }
    for h in reader.notification_history_after(None, 10_000).unwrap() {
        add(&h);
    }
    out
}

#[test]
fn hourly_counts_follow_every_write_and_old_hours_are_pruned() {
    let (_dir, store, _clock) = manual_store();
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let start = test_start().timestamp_micros();
    let hour = 3_600_000_000;
    // Three hours, two services, every key type, emails and texts.
    let mut rows = Vec::new();
    for i in 0..30u32 {
        let at = start - 2 * hour + i64::from(i) * (hour / 10);
        let id = storage::clock::v7_at_micros(at);
        let service = if i % 3 == 0 { b } else { a };
        let recipient = if i % 2 == 0 {
            "x@example.com"
        } else {
            "07700900123"
        };
        let mut n = notification_with_id(id, service, recipient, NotificationStatus::Created);
        n.key_type = match i % 5 {
            0 => KeyType::Test,
            1 => KeyType::Team,
            _ => KeyType::Normal,
        };
        rows.push(n);
    }
    let inserted = rows.clone();
    store
        .write_blocking(move |ctx| {
            for n in &inserted {
                ctx.insert_notification(n)?;
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(stored(&store), recount(&store));
    assert_eq!(
        stored(&store).values().sum::<u64>(),
        24,
        "the 6 test-key rows are not counted"
    );

    // Status changes, some twice in one commit.
    let changed = rows.clone();
    store
        .write_blocking(move |ctx| {
            for n in changed.iter().step_by(2) {
                let mut n = n.clone();
                mark_sending(&mut n);
                ctx.update_notification(&n)?;
                if n.id.as_u128() % 3 == 0 {
                    n.status = NotificationStatus::Delivered;
                    ctx.update_notification(&n)?;
                }
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(stored(&store), recount(&store));

    // Archive the first ten (test keys deleted without history), then change the status of an
    // archived one, and delete one live row.
    let live = all_notifications(&store);
    let retiring: Vec<Retiring> = live[..10]
        .iter()
        .map(|n| Retiring {
            id: n.id,
            service_id: n.service_id,
            status: n.status,
            stored: encode(n),
            history: (n.key_type != KeyType::Test).then(|| encode(&NotificationHistory::from(n))),
            rate_multiplier: None,
        })
        .collect();
    store
        .write_blocking(move |ctx| ctx.retire_notifications(&retiring).map(|_| ()))
        .unwrap();
    let archived = live[..10]
        .iter()
        .find(|n| n.key_type != KeyType::Test)
        .map(NotificationHistory::from)
        .unwrap();
    let deleted = live[20].id;
    store
        .write_blocking(move |ctx| {
            let mut h = archived.clone();
            h.status = NotificationStatus::PermanentFailure;
            ctx.put_notification_history(&h)?;
            ctx.delete_notification(deleted)?;
            Ok(())
        })
        .unwrap();
    assert_eq!(stored(&store), recount(&store));
    let fine = store.snapshot().unwrap().check().unwrap();
    assert!(fine.problems.is_empty(), "{:?}", fine.problems);
    assert!(
        stored(&store)
            .keys()
            .any(|k| k.4 == NotificationStatus::PermanentFailure),
        "the archived row's new status is counted"
    );

    // One service, one range of hours.
    let newest_hour = hour_of(start);
    let of_a: u64 = store
        .read()
        .unwrap()
        .hourly_counts(Some(a), newest_hour, newest_hour + 1)
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!((c.service_id, c.hour), (a, newest_hour));
            c.count
        })
        .sum();
    let expected: u64 = recount(&store)
        .iter()
        .filter(|(k, _)| k.0 == a && k.1 == newest_hour)
        .map(|(_, v)| v)
        .sum();
    assert!(expected > 0);
    assert_eq!(of_a, expected);

    // Pruning drops whole hours before the cut and nothing after it.
    let pruned = store
        .write_blocking(move |ctx| ctx.prune_hourly_counts(newest_hour))
        .unwrap();
    assert!(pruned > 0);
    let left = stored(&store);
    assert!(left.keys().all(|k| k.1 >= newest_hour));
    let recounted_newest: Counts = recount(&store)
        .into_iter()
        .filter(|(k, _)| k.1 >= newest_hour)
        .collect();
    assert_eq!(left, recounted_newest);
    // A later change to a row of a pruned hour (a status update of an old archived letter, say)
    // is not counted there: no stray part of a pruned hour.
    let old_archived = store
        .read()
        .unwrap()
        .notification_history_after(None, 10_000)
        .unwrap()
        .into_iter()
        .find(|h| hour_of(h.created_at) < newest_hour && h.key_type != KeyType::Test)
        .expect("an archived row of a pruned hour");
    store
        .write_blocking(move |ctx| {
            let mut h = old_archived.clone();
            h.status = NotificationStatus::TemporaryFailure;
            ctx.put_notification_history(&h)
        })
        .unwrap();
    assert!(stored(&store).keys().all(|k| k.1 >= newest_hour));

    // A live row that also has its history written (a retirement cut short between the two)
    // is counted once, as live, by the check.
    let both = all_notifications(&store)
        .into_iter()
        .find(|n| n.key_type != KeyType::Test && hour_of(n.created_at) >= newest_hour)
        .expect("a live counted row");
    store
        .write_blocking(move |ctx| {
            let h = encode(&NotificationHistory::from(&both));
            ctx.tables
                .notification_history
                .open()?
                .insert(both.id.as_u128(), h.as_slice())?;
            Ok(())
        })
        .unwrap();

    // `notify check` compares the hours from the cut on, and finds a count that drifted.
    let fine = store.snapshot().unwrap().check().unwrap();
    assert!(fine.problems.is_empty(), "{:?}", fine.problems);
    store
        .write_blocking(move |ctx| {
            let key = (a.as_u128(), newest_hour, "email", "normal", "delivered");
            let table = ctx.tables.hourly_status_counts.open()?;
            let was = table.get(key)?.map(|v| v.value()).unwrap_or(0);
            table.insert(key, was + 7)?;
            Ok(())
        })
        .unwrap();
    let found = store.snapshot().unwrap().check().unwrap();
    assert!(
        found
            .problems
            .iter()
            .any(|p| p.contains(&format!("service {a}")) && p.contains("hourly count says")),
        "{:?}",
        found.problems
    );
}
