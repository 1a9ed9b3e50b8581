//! Durable queues and group commit, on a manual clock: claiming honours due times and leases,
//! retries back off and give up, leases come back after a crash, waiters are woken, and one
//! rejected operation never fails its neighbours in the same commit.

use crate::common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use rand::seq::SliceRandom;
use storage::records::NotificationStatus;
use storage::{Claimed, Clock, RetryOutcome, Store, StoreError};
use uuid::Uuid;

const Q: &str = "deliver-email";
/// A failure guard for waits that should end promptly; never a timing assertion.
const GUARD: Duration = Duration::from_secs(5);

async fn enqueue(store: &Store, queue: &'static str, delay_ms: i64, payload: &[u8]) -> u64 {
    let payload = payload.to_vec();
    store
        .write(move |ctx| {
            let due = ctx.now_ms() + delay_ms;
            ctx.enqueue(queue, due, &payload)
        })
        .await
        .expect("enqueue")
}

async fn ack(store: &Store, seq: u64) -> bool {
    store.write(move |ctx| ctx.ack(Q, seq)).await.expect("ack")
}

async fn retry(store: &Store, seq: u64, delay_ms: i64, max_retries: u32) -> RetryOutcome {
    store
        .write(move |ctx| ctx.retry(Q, seq, delay_ms, max_retries))
        .await
        .expect("retry")
}

async fn claim(store: &Store, max: usize, lease_ms: i64) -> Vec<Claimed> {
    store.claim(Q, max, lease_ms).await.expect("claim")
}

fn depth(store: &Store, queue: &str) -> (u64, u64) {
    store
        .queue_depths()
        .expect("queue depths")
        .into_iter()
        .find(|(q, _, _)| q == queue)
        .map(|(_, ready, leased)| (ready, leased))
        .unwrap_or((0, 0))
}

fn seqs(rows: &[Claimed]) -> Vec<u64> {
    rows.iter().map(|r| r.seq).collect()
}

#[tokio::test]
async fn enqueue_claim_ack() {
    let (_dir, store, clock) = common::manual_store();
    let a = enqueue(&store, Q, 0, b"a").await;
    let b = enqueue(&store, Q, 0, b"b").await;
    let c = enqueue(&store, Q, 0, b"c").await;
    assert!(a < b && b < c, "sequences increase: {a} {b} {c}");
    assert_eq!(depth(&store, Q), (3, 0));

    let rows = claim(&store, 10, 60_000).await;
    assert_eq!(seqs(&rows), vec![a, b, c]);
    let now = clock.now_ms();
    for (row, payload) in rows.iter().zip([b"a", b"b", b"c"]) {
        assert_eq!(row.queue, Q);
        assert_eq!(row.payload, payload.to_vec());
        assert_eq!(row.attempts, 0);
        assert_eq!(row.due_ms, now);
    }
    assert_eq!(depth(&store, Q), (0, 3));
    assert!(
        claim(&store, 10, 60_000).await.is_empty(),
        "leased rows are not handed out twice"
    );

    for seq in [a, b, c] {
        assert!(ack(&store, seq).await, "ack of leased row {seq}");
        assert!(!ack(&store, seq).await, "second ack of {seq}");
    }
    assert_eq!(depth(&store, Q), (0, 0));
    clock.advance(Duration::from_secs(3600));
    assert!(
        claim(&store, 10, 60_000).await.is_empty(),
        "acked rows are gone for good"
    );
    store.close();
}

#[tokio::test]
async fn ack_of_unknown_seq_returns_false() {
    let (_dir, store, _clock) = common::manual_store();
    assert!(!ack(&store, 12345).await);
    let seq = enqueue(&store, Q, 0, b"x").await;
    // Ready but not leased: ack refuses it and leaves it in the queue.
    assert!(!ack(&store, seq).await);
    assert!(
        !store
            .write(move |ctx| ctx.ack("other-queue", seq))
            .await
            .unwrap()
    );
    assert_eq!(depth(&store, Q), (1, 0));
    assert_eq!(
        retry(&store, 999_999, 1000, 5).await,
        RetryOutcome::NotLeased
    );
    store.close();
}

#[tokio::test]
async fn queues_are_separate() {
    let (_dir, store, _clock) = common::manual_store();
    enqueue(&store, "deliver-sms", 0, b"sms").await;
    let email = enqueue(&store, Q, 0, b"email").await;
    let rows = claim(&store, 10, 60_000).await;
    assert_eq!(seqs(&rows), vec![email]);
    assert_eq!(depth(&store, "deliver-sms"), (1, 0));
    store.close();
}

#[tokio::test]
async fn claim_respects_due_time() {
    let (_dir, store, clock) = common::manual_store();
    let later = enqueue(&store, Q, 10_000, b"later").await;
    let now = enqueue(&store, Q, 0, b"now").await;

    let rows = claim(&store, 10, 60_000).await;
    assert_eq!(seqs(&rows), vec![now], "only the due row");
    assert_eq!(depth(&store, Q), (1, 1));

    clock.advance(Duration::from_millis(9_999));
    assert!(
        claim(&store, 10, 60_000).await.is_empty(),
        "1 ms before it is due"
    );
    clock.advance(Duration::from_millis(1));
    let rows = claim(&store, 10, 60_000).await;
    assert_eq!(seqs(&rows), vec![later], "due exactly now");
    assert_eq!(rows[0].payload, b"later");
    store.close();
}

#[tokio::test]
async fn batch_claim_returns_at_most_max_in_due_order() {
    let (_dir, store, _clock) = common::manual_store();
    // Twelve rows already due, enqueued in shuffled due order; two share a due time.
    let mut delays: Vec<i64> = (0..11).map(|i| -1000 * (i + 1)).collect();
    delays.push(-5000);
    delays.shuffle(&mut rand::rng());
    let mut rows = Vec::new();
    for (i, delay) in delays.iter().enumerate() {
        let seq = enqueue(&store, Q, *delay, format!("row-{i}").as_bytes()).await;
        rows.push((*delay, seq));
    }
    // Due order: earliest due first, then sequence.
    rows.sort();
    let expected: Vec<u64> = rows.iter().map(|&(_, seq)| seq).collect();

    let mut got = Vec::new();
    for want in [5, 5, 2] {
        let batch = claim(&store, 5, 60_000).await;
        assert_eq!(batch.len(), want, "at most max, then the rest");
        assert!(
            batch
                .windows(2)
                .all(|w| (w[0].due_ms, w[0].seq) < (w[1].due_ms, w[1].seq)),
            "a batch is in due order"
        );
        got.extend(seqs(&batch));
    }
    assert_eq!(got, expected);
    assert!(claim(&store, 5, 60_000).await.is_empty());
    assert!(
        claim(&store, 0, 60_000).await.is_empty(),
        "max 0 claims nothing"
    );
    store.close();
}

#[tokio::test]
async fn retry_delays_the_row_and_counts_attempts() {
    let (_dir, store, clock) = common::manual_store();
    let seq = enqueue(&store, Q, 0, b"payload").await;
    let row = claim(&store, 1, 60_000).await.remove(0);
    assert_eq!(row.attempts, 0);

    let before = clock.now_ms();
    let outcome = retry(&store, seq, 30_000, 3).await;
    assert_eq!(
        outcome,
        RetryOutcome::Scheduled {
            attempts: 1,
            due_ms: before + 30_000
        }
    );
    assert_eq!(depth(&store, Q), (1, 0), "back in the ready rows");
    assert!(
        claim(&store, 1, 60_000).await.is_empty(),
        "not before the delay"
    );
    clock.advance(Duration::from_millis(29_999));
    assert!(claim(&store, 1, 60_000).await.is_empty());
    clock.advance(Duration::from_millis(1));
    let again = claim(&store, 1, 60_000).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].seq, seq, "the same row comes back");
    assert_eq!(again[0].attempts, 1);
    assert_eq!(again[0].due_ms, before + 30_000);
    assert_eq!(again[0].payload, b"payload");

    // A second failure counts again.
    assert!(matches!(
        retry(&store, seq, 1000, 3).await,
        RetryOutcome::Scheduled { attempts: 2, .. }
    ));
    clock.advance(Duration::from_secs(1));
    assert_eq!(claim(&store, 1, 60_000).await[0].attempts, 2);
    assert!(ack(&store, seq).await);
    store.close();
}

#[tokio::test]
async fn retry_gives_up_after_max_retries() {
    let (_dir, store, clock) = common::manual_store();
    const MAX: u32 = 3;
    let seq = enqueue(&store, Q, 0, b"doomed").await;
    for attempt in 1..=MAX {
        let rows = claim(&store, 1, 60_000).await;
        assert_eq!(seqs(&rows), vec![seq]);
        assert_eq!(rows[0].attempts, attempt - 1);
        match retry(&store, seq, 500, MAX).await {
            RetryOutcome::Scheduled { attempts, .. } => assert_eq!(attempts, attempt),
            other => panic!("retry {attempt} of {MAX} should be scheduled, got {other:?}"),
        }
        clock.advance(Duration::from_millis(500));
    }
    let rows = claim(&store, 1, 60_000).await;
    assert_eq!(rows[0].attempts, MAX);
    assert_eq!(
        retry(&store, seq, 500, MAX).await,
        RetryOutcome::GaveUp {
            attempts: MAX + 1,
            payload: b"doomed".to_vec()
        }
    );
    assert_eq!(depth(&store, Q), (0, 0), "the row is gone");
    clock.advance(Duration::from_secs(3600));
    assert!(claim(&store, 10, 60_000).await.is_empty());
    assert_eq!(retry(&store, seq, 500, MAX).await, RetryOutcome::NotLeased);
    assert!(!ack(&store, seq).await);

    // max_retries = 0: the first failure gives up.
    let seq = enqueue(&store, Q, 0, b"once").await;
    claim(&store, 1, 60_000).await;
    assert_eq!(
        retry(&store, seq, 500, 0).await,
        RetryOutcome::GaveUp {
            attempts: 1,
            payload: b"once".to_vec()
        }
    );
    store.close();
}

#[tokio::test]
async fn expired_lease_is_claimed_again() {
    let (_dir, store, clock) = common::manual_store();
    let seq = enqueue(&store, Q, 0, b"x").await;
    let first = claim(&store, 10, 5_000).await;
    assert_eq!(seqs(&first), vec![seq]);

    assert!(claim(&store, 10, 5_000).await.is_empty(), "lease held");
    clock.advance(Duration::from_millis(4_999));
    assert!(
        claim(&store, 10, 5_000).await.is_empty(),
        "lease still held"
    );
    clock.advance(Duration::from_millis(1));
    let second = claim(&store, 10, 5_000).await;
    assert_eq!(seqs(&second), vec![seq], "the dead worker's row comes back");
    assert_eq!(second[0].payload, b"x");
    assert_eq!(
        second[0].attempts, 0,
        "an expired lease is not a failed attempt"
    );
    assert_eq!(depth(&store, Q), (0, 1));
    assert!(ack(&store, seq).await);
    assert_eq!(depth(&store, Q), (0, 0));
    store.close();
}

#[tokio::test]
async fn leases_return_to_the_queue_when_the_store_reopens() {
    let dir = common::temp_dir();
    let clock = storage::ManualClock::new(common::test_start());
    let store = common::open_store_with_clock(dir.path(), clock.clone());
    let a = enqueue(&store, Q, 0, b"a").await;
    let b = enqueue(&store, Q, 0, b"b").await;
    let c = enqueue(&store, Q, 0, b"c").await;
    let held = claim(&store, 2, 3_600_000).await;
    assert_eq!(seqs(&held), vec![a, b]);
    assert_eq!(depth(&store, Q), (1, 2));
    // The process "dies" holding two hour-long leases.
    store.close();

    let store = common::open_store_with_clock(dir.path(), clock.clone());
    assert_eq!(depth(&store, Q), (3, 0), "every lease returned on open");
    let rows = claim(&store, 10, 60_000).await;
    assert_eq!(
        seqs(&rows),
        vec![a, b, c],
        "claimable at once, in due order"
    );
    assert!(rows.iter().all(|r| r.attempts == 0));
    assert_eq!(rows[0].payload, b"a");

    // Sequences keep increasing across a reopen (no row is ever reused).
    let d = enqueue(&store, Q, 0, b"d").await;
    assert!(d > c);
    store.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_work_returns_when_another_task_enqueues() {
    let (_dir, store, _clock) = common::manual_store();
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move { store.wait_for_work(Q, Duration::from_secs(60)).await })
    };
    // Give the waiter a moment to go to sleep on an empty queue (if it has not yet, it finds
    // the row at once instead; either way it must return long before its 60 s cap).
    tokio::time::sleep(Duration::from_millis(100)).await;
    enqueue(&store, Q, 0, b"work").await;
    tokio::time::timeout(GUARD, waiter)
        .await
        .expect("wait_for_work was not woken by the enqueue")
        .expect("waiter task")
        .expect("wait_for_work");
    assert_eq!(claim(&store, 10, 60_000).await.len(), 1);
    store.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_work_wakes_for_a_future_row_and_for_a_retry() {
    let (_dir, store, clock) = common::manual_store();
    // A sleeper on an empty queue must learn of a row due later (its next wake-up changes).
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move { store.wait_for_work(Q, Duration::from_secs(60)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let seq = enqueue(&store, Q, 3_600_000, b"later").await;
    tokio::time::timeout(GUARD, waiter)
        .await
        .expect("not woken by a future row")
        .unwrap()
        .unwrap();

    // Due now (by the store's clock): returns at once.
    clock.advance(Duration::from_secs(3600));
    tokio::time::timeout(GUARD, store.wait_for_work(Q, Duration::from_secs(60)))
        .await
        .expect("a due row must end the wait at once")
        .unwrap();
    assert_eq!(seqs(&claim(&store, 1, 60_000).await), vec![seq]);

    // A retry puts the row back and wakes the sleeper too.
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move { store.wait_for_work(Q, Duration::from_secs(60)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(matches!(
        retry(&store, seq, 600_000, 5).await,
        RetryOutcome::Scheduled { attempts: 1, .. }
    ));
    tokio::time::timeout(GUARD, waiter)
        .await
        .expect("not woken by a retry")
        .unwrap()
        .unwrap();
    store.close();
}

#[tokio::test]
async fn wait_for_work_on_an_idle_queue_ends_at_max_wait() {
    let (_dir, store, _clock) = common::manual_store();
    // Nothing will ever arrive: the wait ends by its own cap (the guard only catches a hang).
    tokio::time::timeout(GUARD, store.wait_for_work(Q, Duration::from_millis(50)))
        .await
        .expect("wait_for_work ignored max_wait")
        .unwrap();
    store.close();
}

// ---------------------------------------------------------------------------------------------
// Group commit: a rejected operation does not fail its neighbours.
// ---------------------------------------------------------------------------------------------

type BoxedWrite<'a> = Pin<Box<dyn Future<Output = storage::Result<i64>> + Send + 'a>>;

/// Poll a write once so it is handed to the writer now (it stays pending until its commit).
fn submit(mut write: BoxedWrite<'_>) -> BoxedWrite<'_> {
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        matches!(write.as_mut().poll(&mut cx), Poll::Pending),
        "the writer is held: nothing can have committed yet"
    );
    write
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_does_not_fail_its_neighbours_in_the_same_commit() {
    // The real clock: every operation in one commit sees the same `now_micros`, so the answers
    // show which operations shared a commit.
    let dir = common::temp_dir();
    let store = common::open_store(dir.path());
    let service = Uuid::now_v7();

    // Hold the writer inside an operation while the rest are queued behind it, so they all land
    // in the next group commit together.
    let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let gate = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .write(move |_ctx| {
                    entered_tx.send(()).expect("test waits for the gate");
                    release_rx.recv().expect("test releases the gate");
                    Ok(())
                })
                .await
        })
    };
    tokio::task::spawn_blocking(move || entered_rx.recv())
        .await
        .unwrap()
        .expect("the writer entered the gate");

    let duplicate = common::notification(service, "dup@example.com", NotificationStatus::Created);
    let mut writes: Vec<(Option<Uuid>, BoxedWrite<'_>)> = Vec::new();
    for i in 0..40 {
        // Alternate distinct inserts with inserts of one and the same id.
        let (n, distinct) = if i % 2 == 0 {
            let email = format!("user{i}@example.com");
            let n = common::notification(service, &email, NotificationStatus::Created);
            (n.clone(), Some(n.id))
        } else {
            (duplicate.clone(), None)
        };
        let write: BoxedWrite<'_> = Box::pin(store.write(move |ctx| {
            ctx.insert_notification(&n)?;
            let now = ctx.now_ms();
            ctx.enqueue(Q, now, n.id.as_bytes())?;
            Ok(ctx.now_micros())
        }));
        writes.push((distinct, submit(write)));
    }
    release_tx.send(()).unwrap();
    gate.await.unwrap().expect("gate commit");

    let mut commit_times = std::collections::BTreeSet::new();
    let (mut duplicate_ok, mut conflicts, mut distinct_ok) = (0, 0, 0);
    for (distinct, write) in writes {
        match (distinct, write.await) {
            (Some(_), Ok(at)) => {
                distinct_ok += 1;
                commit_times.insert(at);
            }
            (Some(id), Err(e)) => panic!("distinct insert {id} failed beside a conflict: {e}"),
            (None, Ok(at)) => {
                duplicate_ok += 1;
                commit_times.insert(at);
            }
            (None, Err(StoreError::Conflict(_))) => conflicts += 1,
            (None, Err(e)) => panic!("duplicate insert failed with {e}, not a conflict"),
        }
    }
    assert_eq!(distinct_ok, 20);
    assert_eq!(duplicate_ok, 1, "exactly one insert of the same id wins");
    assert_eq!(conflicts, 19);
    assert_eq!(
        commit_times.len(),
        1,
        "every write queued behind the gate shares one group commit"
    );

    // The rejected operations wrote nothing: counts, outbox and queue hold 21 of everything.
    let reader = store.read().unwrap();
    assert_eq!(reader.notification_count().unwrap(), 21);
    assert_eq!(
        reader.status_counts().unwrap(),
        vec![(NotificationStatus::Created, 21)]
    );
    assert_eq!(reader.outbox_len().unwrap(), 21);
    assert_eq!(
        reader.get_notification(duplicate.id).unwrap(),
        Some(duplicate)
    );
    assert_eq!(depth(&store, Q), (21, 0));
    drop(reader);
    store.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicate_inserts_exactly_one_wins() {
    let dir = common::temp_dir();
    let store = common::open_store(dir.path());
    let service = Uuid::now_v7();
    let duplicate = Arc::new(common::notification(
        service,
        "447700900123",
        NotificationStatus::Created,
    ));
    let barrier = Arc::new(tokio::sync::Barrier::new(128));
    let mut tasks = Vec::new();
    for i in 0..128 {
        let store = store.clone();
        let barrier = barrier.clone();
        let duplicate = duplicate.clone();
        tasks.push(tokio::spawn(async move {
            let (n, distinct) = if i % 2 == 0 {
                let recipient = format!("0770090{i:04}");
                (
                    common::notification(service, &recipient, NotificationStatus::Created),
                    true,
                )
            } else {
                ((*duplicate).clone(), false)
            };
            barrier.wait().await;
            (
                distinct,
                store.write(move |ctx| ctx.insert_notification(&n)).await,
            )
        }));
    }
    let (mut distinct_ok, mut duplicate_ok, mut conflicts) = (0, 0, 0);
    for task in tasks {
        match task.await.unwrap() {
            (true, Ok(())) => distinct_ok += 1,
            (true, Err(e)) => panic!("a distinct insert failed: {e}"),
            (false, Ok(())) => duplicate_ok += 1,
            (false, Err(StoreError::Conflict(_))) => conflicts += 1,
            (false, Err(e)) => panic!("duplicate insert failed with {e}, not a conflict"),
        }
    }
    assert_eq!((distinct_ok, duplicate_ok, conflicts), (64, 1, 63));
    let reader = store.read().unwrap();
    assert_eq!(reader.notification_count().unwrap(), 65);
    assert_eq!(reader.outbox_len().unwrap(), 65);
    assert_eq!(
        reader.status_counts().unwrap(),
        vec![(NotificationStatus::Created, 65)]
    );
    drop(reader);
    store.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_operation_fails_its_commit_but_not_the_writer() {
    let dir = common::temp_dir();
    let store = common::open_store(dir.path());
    let service = Uuid::now_v7();
    let n = common::notification(service, "a@example.com", NotificationStatus::Created);
    let id = n.id;
    let result: storage::Result<()> = store
        .write(move |ctx| {
            ctx.insert_notification(&n)?;
            panic!("a bug in one write operation");
        })
        .await;
    let err = result.expect_err("a panicking operation cannot succeed");
    assert!(err.is_fatal_for_batch(), "{err}");
    // Its half-done writes were rolled back with the batch...
    assert_eq!(store.read().unwrap().get_notification(id).unwrap(), None);
    assert_eq!(store.read().unwrap().outbox_len().unwrap(), 0);
    // ...and the writer is still there for everyone else.
    let m = common::notification(service, "b@example.com", NotificationStatus::Created);
    let m_id = m.id;
    store
        .write(move |ctx| ctx.insert_notification(&m))
        .await
        .expect("the writer survives a panicking operation");
    assert!(
        store
            .read()
            .unwrap()
            .get_notification(m_id)
            .unwrap()
            .is_some()
    );
    store.close();
}

/// Deferred writes (retention batches) mixed with ordinary ones from many tasks: every one is
/// answered and visible, and on disk once answered (the store is reopened to check).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_and_durable_writes_interleave_and_all_land() {
    let dir = common::temp_dir();
    let service = Uuid::now_v7();
    let mut ids = Vec::new();
    {
        let store = common::open_store(dir.path());
        let mut tasks = Vec::new();
        for i in 0..200 {
            let n = common::notification(
                service,
                &format!("0770090{i:04}"),
                NotificationStatus::Created,
            );
            ids.push(n.id);
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                if i % 2 == 0 {
                    store
                        .write_deferred(move |ctx| ctx.insert_notification(&n))
                        .await
                } else {
                    store.write(move |ctx| ctx.insert_notification(&n)).await
                }
            }));
        }
        for t in tasks {
            t.await.expect("task").expect("write");
        }
        let reader = store.read().expect("read");
        for id in &ids {
            assert!(reader.get_notification(*id).expect("get").is_some());
        }
        drop(reader);
        // One more ordinary write before closing, as an API would make.
        store.write(|_| Ok(())).await.expect("durable commit");
        store.close();
    }
    let store = common::open_store(dir.path());
    let reader = store.read().expect("read");
    for id in &ids {
        assert!(
            reader.get_notification(*id).expect("get").is_some(),
            "{id} lost"
        );
    }
}

/// A durable write that arrives while deferred (bulk) work is waiting is committed first: an
/// API write waits behind at most the one chunk already being committed. The deferred work
/// still lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_writes_go_before_waiting_deferred_ones() {
    let dir = common::temp_dir();
    let store = common::open_store(dir.path());
    let order = Arc::new(std::sync::Mutex::new(Vec::<&'static str>::new()));
    // Keep the writer busy so what follows queues up behind it.
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let busy = {
        let store = store.clone();
        let order = order.clone();
        tokio::spawn(async move {
            store
                .write(move |_| {
                    started_tx.send(()).unwrap();
                    std::thread::sleep(Duration::from_millis(30));
                    order.lock().unwrap().push("busy");
                    Ok(())
                })
                .await
        })
    };
    started_rx.recv().unwrap();
    let mut deferred = Vec::new();
    for _ in 0..3 {
        let store = store.clone();
        let order = order.clone();
        deferred.push(tokio::spawn(async move {
            store
                .write_deferred(move |_| {
                    order.lock().unwrap().push("deferred");
                    Ok(())
                })
                .await
        }));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let durable = {
        let store = store.clone();
        let order = order.clone();
        tokio::spawn(async move {
            store
                .write(move |_| {
                    order.lock().unwrap().push("durable");
                    Ok(())
                })
                .await
        })
    };
    busy.await.unwrap().unwrap();
    durable.await.unwrap().unwrap();
    for d in deferred {
        d.await.unwrap().unwrap();
    }
    let order = order.lock().unwrap().clone();
    assert_eq!(
        order,
        ["busy", "durable", "deferred", "deferred", "deferred"]
    );
    store.close();
}

/// Run `work` as a deferred operation that first waits (off the async threads) until a durable
/// write is queued behind it, sending that write once the deferred operation has started.
/// Returns whether it saw nothing to give way to before the durable write was sent, what
/// `work` returned, and the durable write's commit time.
async fn deferred_while_a_durable_write_waits<R: Send + 'static>(
    store: &Store,
    work: impl FnOnce(&mut storage::WriteCtx<'_>) -> storage::Result<R> + Send + 'static,
) -> (bool, R, i64) {
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let deferred = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .write_deferred(move |ctx| {
                    let quiet_before = !ctx.should_give_way();
                    started_tx.send(()).expect("test is waiting");
                    let deadline = std::time::Instant::now() + GUARD;
                    while !ctx.should_give_way() && std::time::Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Ok((quiet_before, work(ctx)?))
                })
                .await
        })
    };
    tokio::task::spawn_blocking(move || started_rx.recv())
        .await
        .expect("join")
        .expect("deferred operation started");
    let durable = {
        let store = store.clone();
        tokio::spawn(async move { store.write(|ctx| Ok(ctx.now_micros())).await })
    };
    let (quiet_before, outcome) = deferred.await.expect("join").expect("deferred write");
    let durable_time = durable.await.expect("join").expect("durable write");
    (quiet_before, outcome, durable_time)
}

/// Deferred work can see that a durable write is waiting (so it can stop early and let it
/// through); a durable batch is never asked to give way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_work_sees_a_waiting_durable_write() {
    let dir = common::temp_dir();
    let store = common::open_store(dir.path());
    let in_durable = store
        .write(|ctx| Ok(ctx.should_give_way()))
        .await
        .expect("write");
    assert!(!in_durable, "a durable batch has nothing to give way to");
    let (quiet_before, asked_after, _) =
        deferred_while_a_durable_write_waits(&store, |ctx| Ok(ctx.should_give_way())).await;
    assert!(quiet_before, "no durable write was waiting yet");
    assert!(asked_after, "the durable write sent meanwhile was not seen");
    store.close();
}

/// A durable write that arrives while deferred work is applied joins that work's commit (one
/// fsync for both): it has the commit's time, read once when the deferred work began, not the
/// later time a commit of its own would read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_write_arriving_during_deferred_work_joins_its_commit() {
    let (_dir, store, clock) = common::manual_store();
    let later = clock.clone();
    let (_, deferred_time, durable_time) =
        deferred_while_a_durable_write_waits(&store, move |ctx| {
            // The clock moves before the deferred work ends: a commit after it would see that.
            later.advance(Duration::from_secs(5));
            Ok(ctx.now_micros())
        })
        .await;
    assert_eq!(
        durable_time, deferred_time,
        "the durable write had a commit of its own"
    );
    let next = store
        .write(|ctx| Ok(ctx.now_micros()))
        .await
        .expect("write");
    assert_eq!(
        next - deferred_time,
        5_000_000,
        "the clock moved for later commits"
    );
    store.close();
}

/// Retention's yielding retire stops after its first few rows when an API write is waiting,
/// says how far it got, and the rest retires in a later commit: every row goes exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retiring_gives_way_to_a_waiting_durable_write_and_loses_nothing() {
    use storage::retention::Retiring;
    let dir = common::temp_dir();
    let store = common::open_store(dir.path());
    let service = Uuid::now_v7();
    let mut rows = Vec::new();
    for i in 0..40 {
        let n = common::notification(
            service,
            &format!("0770090{i:04}"),
            NotificationStatus::Delivered,
        );
        rows.push(Retiring {
            id: n.id,
            service_id: service,
            status: n.status,
            stored: storage::codec::encode(&n),
            history: None,
            rate_multiplier: None,
        });
        store
            .write(move |ctx| ctx.insert_notification(&n))
            .await
            .expect("insert");
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let (_, (first, looked_at, rest), _) =
        deferred_while_a_durable_write_waits(&store, move |ctx| {
            let (done, looked_at) = ctx.retire_notifications_yielding(&rows)?;
            Ok((done, looked_at, rows.split_off(looked_at)))
        })
        .await;
    assert!(
        looked_at > 0 && looked_at < ids.len(),
        "stopped after {looked_at} of {} rows",
        ids.len()
    );
    assert_eq!(first.deleted, looked_at as u64);
    let second = store
        .write_deferred(move |ctx| ctx.retire_notifications(&rest))
        .await
        .expect("retire the rest");
    assert_eq!(first.deleted + second.deleted, ids.len() as u64);
    assert_eq!(first.changed + second.changed, 0);
    let reader = store.read().expect("read");
    for id in ids {
        assert!(
            reader.get_notification(id).expect("get").is_none(),
            "{id} left"
        );
    }
    drop(reader);
    store.close();
}

/// Retention's merged walk: rows of several services come oldest first across all of them,
/// each service only up to its own bound, in batches that resume where the last stopped;
/// every row below its bound is given exactly once and each walk ends `done`.
#[test]
fn the_merged_walk_gives_every_service_s_rows_oldest_first_and_resumes() {
    use storage::clock::v7_at_micros;
    use storage::retention::ServiceWalk;
    let dir = common::temp_dir();
    let store = common::open_store(dir.path());
    let services = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
    let start = 1_700_000_000_000_000i64;
    // 30 rows a service, interleaved in time as services really send.
    let mut all = Vec::new();
    for i in 0..90i64 {
        let service = services[(i % 3) as usize];
        let n = common::notification_with_id(
            v7_at_micros(start + i * 1000),
            service,
            &format!("0770090{i:04}"),
            NotificationStatus::Delivered,
        );
        all.push((n.id, service));
        store
            .write_blocking(move |ctx| ctx.insert_notification(&n))
            .expect("insert");
    }
    // The first service walks everything, the second its rows before the 60th, the third none.
    let bounds = [
        v7_at_micros(start + 90 * 1000),
        v7_at_micros(start + 60 * 1000),
        v7_at_micros(start),
    ];
    let mut walks: Vec<ServiceWalk> = services
        .iter()
        .zip(bounds)
        .map(|(s, b)| ServiceWalk::new(*s, b))
        .collect();
    let mut seen = Vec::new();
    let mut batches = 0;
    while walks.iter().any(|w| !w.done) {
        let rows = store
            .read()
            .expect("read")
            .services_notifications_raw(&mut walks, 7)
            .expect("walk");
        assert!(rows.len() <= 7, "a batch of {}", rows.len());
        for (n, stored) in rows {
            assert_eq!(stored, storage::codec::encode(&n));
            seen.push((n.id, n.service_id));
        }
        batches += 1;
        assert!(batches < 100, "the walk does not end");
    }
    let expected: Vec<(Uuid, Uuid)> = all
        .iter()
        .copied()
        .filter(|(id, service)| {
            let bound = bounds[services.iter().position(|s| s == service).unwrap()];
            *id < bound
        })
        .collect();
    assert_eq!(expected.len(), 30 + 20);
    assert_eq!(
        seen, expected,
        "oldest first across services, each row once"
    );
    assert_eq!(
        walks[2].after, None,
        "the third service had nothing to walk"
    );
    assert_eq!(walks[0].after, Some(all[87].0));
    store.close();
}
