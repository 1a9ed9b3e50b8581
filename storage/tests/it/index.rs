//! The derived search index: fed from the outbox by the indexer thread, drained on demand, and
//! rebuildable from redb alone with the same answers.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use storage::Store;
use storage::index::SearchIndex;
use storage::indexer::{self, Indexer};
use storage::records::{Notification, NotificationStatus};
use uuid::Uuid;

/// Index commit interval of the background indexer in these tests.
const INTERVAL: Duration = Duration::from_millis(50);
/// Failure guard for "eventually" checks; never a timing assertion.
const GUARD: Duration = Duration::from_secs(10);

/// Poll `check` until it holds, failing after [`GUARD`].
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + GUARD;
    while !check() {
        assert!(Instant::now() < deadline, "not within {GUARD:?}: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn search(index: &SearchIndex, service: Uuid, term: &str) -> Vec<Uuid> {
    index.search(service, term, None, 10).expect("search")
}

fn outbox_len(store: &Store) -> u64 {
    store.read().unwrap().outbox_len().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_written_notification_is_found_within_the_commit_interval() {
    let dir = common::temp_dir();
    let store = common::open_store(&dir.path().join("data"));
    let index = Arc::new(SearchIndex::open(&dir.path().join("index")).unwrap());
    let indexer = Indexer::start(store.clone(), index.clone(), INTERVAL).unwrap();

    let service = Uuid::now_v7();
    let other_service = Uuid::now_v7();
    let n = common::notification(
        service,
        "Jo.Bloggs@Example.COM",
        NotificationStatus::Created,
    );
    let recipient = n.normalised_to.clone();
    assert_eq!(recipient, "jo.bloggs@example.com");
    let reference = n.client_reference.clone().unwrap();
    // Another service sends to the same person with the same reference.
    let mut theirs = common::notification(
        other_service,
        "jo.bloggs@example.com",
        NotificationStatus::Created,
    );
    theirs.client_reference = Some(reference.clone());
    let (n_id, theirs_id) = (n.id, theirs.id);
    {
        let (n, theirs) = (n.clone(), theirs.clone());
        store
            .write(move |ctx| {
                ctx.insert_notification(&n)?;
                ctx.insert_notification(&theirs)
            })
            .await
            .unwrap();
    }

    eventually("the insert is searchable by recipient", || {
        search(&index, service, &recipient) == vec![n_id]
    })
    .await;
    assert_eq!(search(&index, service, &reference), vec![n_id]);
    assert_eq!(search(&index, service, &n_id.to_string()), vec![n_id]);
    assert_eq!(
        index
            .search(service, &recipient, Some("email"), 10)
            .unwrap(),
        vec![n_id]
    );
    assert!(
        index
            .search(service, &recipient, Some("sms"), 10)
            .unwrap()
            .is_empty()
    );
    // Another service never sees it, by any term.
    assert_eq!(search(&index, other_service, &recipient), vec![theirs_id]);
    assert_eq!(search(&index, other_service, &reference), vec![theirs_id]);
    assert!(search(&index, other_service, &n_id.to_string()).is_empty());
    assert!(search(&index, Uuid::now_v7(), &recipient).is_empty());

    // An update replaces the document: still one per notification, old terms gone.
    let mut updated = n.clone();
    updated.status = NotificationStatus::Delivered;
    updated.client_reference = Some("ref-updated".to_string());
    store
        .write(move |ctx| ctx.update_notification(&updated))
        .await
        .unwrap();
    eventually("the update is searchable", || {
        search(&index, service, "ref-updated") == vec![n_id]
    })
    .await;
    assert!(search(&index, service, &reference).is_empty());
    assert_eq!(search(&index, service, &recipient), vec![n_id]);
    assert_eq!(index.num_docs(), 2, "one document per notification");

    // A delete removes the document once drained.
    let deleted = store
        .write(move |ctx| ctx.delete_notification(n_id))
        .await
        .unwrap();
    assert_eq!(deleted.map(|d| d.id), Some(n_id));
    eventually("the delete reaches the index", || {
        search(&index, service, &recipient).is_empty()
    })
    .await;
    assert!(search(&index, service, &n_id.to_string()).is_empty());
    assert!(search(&index, service, "ref-updated").is_empty());
    assert_eq!(index.num_docs(), 1);
    assert_eq!(search(&index, other_service, &recipient), vec![theirs_id]);
    eventually("the outbox is emptied", || outbox_len(&store) == 0).await;

    indexer.stop();
    store.close();
}

/// A mixed data set: two services, shared recipients and references, emails and texts, some
/// updated and some deleted. Every notification has its own creation millisecond, so
/// newest-first order is unambiguous.
fn populate(store: &Store, services: [Uuid; 2], count: usize, base_micros: i64) -> Vec<Uuid> {
    const RECIPIENTS: [&str; 6] = [
        "ann@example.com",
        "Bob@Example.com",
        "cat@example.org",
        "07700 900111",
        "07700 900222",
        "+44 7700 900333",
    ];
    const REFERENCES: [Option<&str>; 4] = [Some("invoice-1"), Some("invoice-2"), Some("x"), None];
    let mut batch: Vec<Notification> = Vec::new();
    for i in 0..count {
        let mut n = common::notification(
            services[i % 2],
            RECIPIENTS[i % RECIPIENTS.len()],
            NotificationStatus::Created,
        );
        n.client_reference = REFERENCES[i % REFERENCES.len()].map(str::to_string);
        n.created_at = base_micros + i as i64 * 1000;
        batch.push(n);
    }
    let ids: Vec<Uuid> = batch.iter().map(|n| n.id).collect();
    store
        .write_blocking(move |ctx| {
            for n in &batch {
                ctx.insert_notification(n)?;
            }
            Ok(())
        })
        .unwrap();
    // Re-address every seventh and delete every fifth (in separate commits, as in life).
    for (i, &id) in ids.iter().enumerate() {
        if i % 7 == 3 {
            store
                .write_blocking(move |ctx| {
                    let mut n = ctx.get_notification(id)?.expect("just inserted");
                    n.to = "Moved@Example.com".into();
                    n.normalised_to = "moved@example.com".into();
                    n.status = NotificationStatus::Sending;
                    ctx.update_notification(&n)
                })
                .unwrap();
        }
        if i % 5 == 1 {
            store
                .write_blocking(move |ctx| ctx.delete_notification(id))
                .unwrap();
        }
    }
    ids
}

/// What a search must answer, worked out from the live records.
fn expected(live: &[Notification], service: Uuid, term: &str, kind: Option<&str>) -> Vec<Uuid> {
    let as_id = Uuid::parse_str(term).ok();
    let mut hits: Vec<&Notification> = live
        .iter()
        .filter(|n| n.service_id == service)
        .filter(|n| kind.is_none_or(|k| n.notification_type.as_str() == k))
        .filter(|n| {
            n.normalised_to == term
                || n.client_reference.as_deref() == Some(term)
                || as_id == Some(n.id)
        })
        .collect();
    hits.sort_by_key(|n| std::cmp::Reverse(n.created_at));
    hits.into_iter().map(|n| n.id).take(100).collect()
}

fn queries(ids: &[Uuid]) -> Vec<String> {
    let mut q: Vec<String> = [
        "ann@example.com",
        "bob@example.com",
        "Bob@Example.com",
        "cat@example.org",
        "moved@example.com",
        "07700900111",
        "07700900222",
        "447700900333",
        "invoice-1",
        "invoice-2",
        "x",
        "nobody@example.com",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Some ids, live and deleted, in both spellings.
    for id in ids.iter().step_by(4) {
        q.push(id.to_string());
        q.push(id.simple().to_string().to_uppercase());
    }
    q
}

#[test]
fn drain_all_and_rebuild_give_the_same_answers() {
    let dir = common::temp_dir();
    let store = common::open_store(&dir.path().join("data"));
    let services = [Uuid::now_v7(), Uuid::now_v7()];
    let ids = populate(&store, services, 60, 1_768_392_000_000_000);
    let live = common::all_notifications(&store);
    assert!(live.len() < ids.len(), "some were deleted");

    // Index A: fed from the outbox.
    let pending = outbox_len(&store);
    assert!(pending >= ids.len() as u64);
    let a = SearchIndex::open(&dir.path().join("index-a")).unwrap();
    assert_eq!(indexer::drain_all(&store, &a).unwrap() as u64, pending);
    assert_eq!(outbox_len(&store), 0, "drain_all empties the outbox");
    assert_eq!(
        indexer::drain_all(&store, &a).unwrap(),
        0,
        "nothing left to drain"
    );

    // Index B: a fresh, empty directory rebuilt from redb alone.
    let b = SearchIndex::open(&dir.path().join("index-b")).unwrap();
    assert!(b.needs_rebuild());
    assert_eq!(b.num_docs(), 0);
    assert_eq!(indexer::rebuild(&store, &b).unwrap(), live.len() as u64);
    assert!(!b.needs_rebuild());

    assert_eq!(a.num_docs(), live.len() as u64);
    assert_eq!(b.num_docs(), live.len() as u64);
    let mut non_empty = 0;
    for service in services {
        for term in queries(&ids) {
            for kind in [None, Some("email"), Some("sms")] {
                let want = expected(&live, service, &term, kind);
                let from_a = a.search(service, &term, kind, 100).unwrap();
                let from_b = b.search(service, &term, kind, 100).unwrap();
                assert_eq!(from_a, want, "index A: {service} {term:?} {kind:?}");
                assert_eq!(
                    from_b, from_a,
                    "rebuilt index B: {service} {term:?} {kind:?}"
                );
                non_empty += usize::from(!want.is_empty());
            }
        }
    }
    assert!(
        non_empty > 20,
        "the queries must actually find things ({non_empty})"
    );

    // Later changes: a rebuild also forgets the outbox rows its snapshot covered.
    let more = populate(&store, services, 10, 1_768_400_000_000_000);
    assert!(outbox_len(&store) > 0);
    let live = common::all_notifications(&store);
    assert_eq!(indexer::rebuild(&store, &b).unwrap(), live.len() as u64);
    assert_eq!(outbox_len(&store), 0);
    assert_eq!(b.num_docs(), live.len() as u64);
    for service in services {
        for term in queries(&more) {
            assert_eq!(
                b.search(service, &term, None, 100).unwrap(),
                expected(&live, service, &term, None),
                "after the second rebuild: {term:?}"
            );
        }
    }
    store.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_indexer_rebuilds_a_new_index_from_the_database() {
    let dir = common::temp_dir();
    let store = common::open_store(&dir.path().join("data"));
    let service = Uuid::now_v7();
    let n = common::notification(service, "07700 900999", NotificationStatus::Delivered);
    let id = n.id;
    store
        .write(move |ctx| ctx.insert_notification(&n))
        .await
        .unwrap();
    // Forget the outbox (as if an earlier index had taken it in, then been lost).
    let scratch = SearchIndex::in_memory().unwrap();
    let store2 = store.clone();
    tokio::task::spawn_blocking(move || indexer::rebuild(&store2, &scratch))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outbox_len(&store), 0);

    // A brand-new index directory: the indexer must fill it from redb, not from the outbox.
    let index_dir = dir.path().join("index");
    let index = Arc::new(SearchIndex::open(&index_dir).unwrap());
    let indexer = Indexer::start(store.clone(), index.clone(), INTERVAL).unwrap();
    eventually("the start-up rebuild finds the old notification", || {
        search(&index, service, "07700900999") == vec![id]
    })
    .await;
    // A rebuild on request, through the indexer thread.
    assert_eq!(indexer.rebuild().await.unwrap(), 1);
    assert_eq!(search(&index, service, &id.to_string()), vec![id]);
    indexer.stop();
    drop(index);

    // The rebuilt index was committed and marked done: it opens without asking again.
    let reopened = SearchIndex::open(&index_dir).unwrap();
    assert!(!reopened.needs_rebuild());
    assert_eq!(search(&reopened, service, "07700900999"), vec![id]);
    store.close();
}

/// New notifications are added to the index without a delete by id, so a crash after the
/// tantivy commit but before the outbox rows are forgotten must not add them twice: the
/// commit records the last outbox sequence it holds, and the next drain drops those rows.
#[test]
fn a_crash_between_the_index_commit_and_forgetting_the_outbox_adds_nothing_twice() {
    let dir = common::temp_dir();
    let store = common::open_store(&dir.path().join("data"));
    let service = Uuid::now_v7();
    let first: Vec<Notification> = (0..5)
        .map(|i| {
            common::notification(
                service,
                &format!("person{i}@example.com"),
                NotificationStatus::Created,
            )
        })
        .collect();
    {
        let first = first.clone();
        store
            .write_blocking(move |ctx| {
                for n in &first {
                    ctx.insert_notification(n)?;
                }
                Ok(())
            })
            .unwrap();
    }
    let index_dir = dir.path().join("index");
    {
        // What a drain does up to the moment of the crash: documents in, tantivy committed
        // through the last outbox row, outbox rows not yet forgotten.
        let index = SearchIndex::open(&index_dir).unwrap();
        index.mark_rebuilt().unwrap();
        let rows = store.read().unwrap().outbox(100).unwrap();
        assert_eq!(rows.len(), 5);
        assert!(
            rows.iter().all(|r| r.new),
            "inserts go to the new-rows outbox"
        );
        let docs: Vec<_> = first.iter().map(indexer::doc_for).collect();
        index.add(&docs).unwrap();
        index.commit_through(rows[4].seq).unwrap();
        assert_eq!(index.committed_through(), Some(rows[4].seq));
    }

    // After the restart: one more insert and a change to a searched field of the first.
    let late = common::notification(service, "late@example.com", NotificationStatus::Created);
    let (late_id, moved_id) = (late.id, first[0].id);
    store
        .write_blocking(move |ctx| {
            ctx.insert_notification(&late)?;
            let mut n = ctx.get_notification(moved_id)?.expect("inserted above");
            n.normalised_to = "moved@example.com".into();
            ctx.update_notification(&n)
        })
        .unwrap();
    let index = SearchIndex::open(&index_dir).unwrap();
    assert!(!index.needs_rebuild());
    assert_eq!(index.num_docs(), 5, "the committed documents survived");
    assert_eq!(
        outbox_len(&store),
        7,
        "5 replayed inserts, 1 insert, 1 change"
    );
    assert_eq!(indexer::drain_all(&store, &index).unwrap(), 7);
    assert_eq!(outbox_len(&store), 0);
    assert_eq!(index.num_docs(), 6, "one document per notification");
    for n in &first[1..] {
        assert_eq!(search(&index, service, &n.normalised_to), vec![n.id]);
    }
    assert_eq!(search(&index, service, "late@example.com"), vec![late_id]);
    assert_eq!(search(&index, service, "moved@example.com"), vec![moved_id]);
    assert!(search(&index, service, &first[0].normalised_to).is_empty());
    store.close();
}

/// An index whose last commit claims outbox rows this database never wrote (the database was
/// restored from an older copy) would skip the database's next rows: the indexer rebuilds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_ahead_of_the_database_is_rebuilt() {
    let dir = common::temp_dir();
    let store = common::open_store(&dir.path().join("data"));
    let index_dir = dir.path().join("index");
    {
        let index = SearchIndex::open(&index_dir).unwrap();
        index.mark_rebuilt_through(Some(1_000_000)).unwrap();
    }
    let service = Uuid::now_v7();
    let n = common::notification(service, "07700 900444", NotificationStatus::Created);
    let id = n.id;
    store
        .write(move |ctx| ctx.insert_notification(&n))
        .await
        .unwrap();
    let index = Arc::new(SearchIndex::open(&index_dir).unwrap());
    assert!(!index.needs_rebuild());
    assert_eq!(index.committed_through(), Some(1_000_000));
    let indexer = Indexer::start(store.clone(), index.clone(), INTERVAL).unwrap();
    eventually("the rebuilt index finds the notification", || {
        search(&index, service, "07700900444") == vec![id]
    })
    .await;
    assert!(index.committed_through() < Some(1_000_000));
    indexer.stop();
    store.close();
}
