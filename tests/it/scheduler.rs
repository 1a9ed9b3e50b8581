//! The scheduler on an injected clock: catch-up after a restart, interrupted runs, the internal
//! API, and the monitoring jobs that raise alerts (stored, listed, and POSTed to a webhook).

use crate::common;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Europe::London;
use common::TestServer;
use notify::app::App;
use notify::config::Config;
use notify::scheduler;
use serde_json::{Value, json};
use storage::records::{KeyType, Notification, NotificationStatus, NotificationType, SchedulerRun};
use storage::{ManualClock, SharedClock};
use warp::Filter;

fn london(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    London
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn run_state(app: &App, name: &str) -> SchedulerRun {
    app.store
        .read()
        .unwrap()
        .scheduler_runs()
        .unwrap()
        .into_iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no run state for {name}"))
}

fn ran(reports: &[scheduler::RunReport], name: &str) -> usize {
    reports.iter().filter(|r| r.name == name).count()
}

const TIMEOUT_JOB: &str = "timeout-sending-notifications";

#[tokio::test]
async fn a_missed_run_is_caught_up_once_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(london(2026, 11, 20, 23, 0));
    let open = |clock: &Arc<ManualClock>| {
        App::open(Config::for_tests(dir.path()), clock.clone() as SharedClock).unwrap()
    };

    // First start: every job is remembered, none is run for the time before the appliance existed.
    let app = open(&clock);
    let first = scheduler::run_due(&app).await.unwrap();
    assert!(first.is_empty(), "nothing runs on first sight: {first:?}");
    app.shutdown();

    // Down over two 00:05 slots; back at 09:00: the timeout job runs once, for the latest slot.
    clock.set(london(2026, 11, 22, 9, 0));
    let app = open(&clock);
    let reports = scheduler::run_due(&app).await.unwrap();
    assert_eq!(ran(&reports, TIMEOUT_JOB), 1);
    let state = run_state(&app, TIMEOUT_JOB);
    assert_eq!(state.runs, 1);
    assert_eq!(state.last_outcome.as_deref(), Some("ok"));
    assert_eq!(
        state.last_due,
        Some(london(2026, 11, 22, 0, 5).timestamp_micros())
    );
    // Nothing more is due at the same moment.
    let again = scheduler::run_due(&app).await.unwrap();
    assert_eq!(ran(&again, TIMEOUT_JOB), 0);

    // The next night it runs again, on schedule.
    clock.set(london(2026, 11, 23, 0, 5));
    let next = scheduler::run_due(&app).await.unwrap();
    assert_eq!(ran(&next, TIMEOUT_JOB), 1);
    assert_eq!(run_state(&app, TIMEOUT_JOB).runs, 2);
    app.shutdown();
}

#[tokio::test]
async fn a_run_cut_short_by_a_crash_runs_again_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(london(2026, 11, 22, 10, 0));
    let app = App::open(Config::for_tests(dir.path()), clock.clone() as SharedClock).unwrap();
    scheduler::run_due(&app).await.unwrap();
    // What a crash mid-run leaves behind: the run still marked running.
    let due = london(2026, 11, 22, 0, 5).timestamp_micros();
    app.store
        .write(move |ctx| {
            ctx.put_scheduler_run(&SchedulerRun {
                name: TIMEOUT_JOB.into(),
                last_due: Some(due),
                last_started: Some(due),
                running: true,
                ..Default::default()
            })
        })
        .await
        .unwrap();
    let reports = scheduler::run_due(&app).await.unwrap();
    assert_eq!(ran(&reports, TIMEOUT_JOB), 1);
    let state = run_state(&app, TIMEOUT_JOB);
    assert!(!state.running);
    assert_eq!(state.last_outcome.as_deref(), Some("ok"));
    assert_eq!(state.failures, 1, "the interrupted run counts as a failure");
    app.shutdown();
}

const BILLING_JOB: &str = "create-nightly-billing";

/// The appliance as `notify serve` and `notify jobs run` open it (scheduler timer off: the
/// test calls [`scheduler::run_due`] where the timer would tick).
fn open_app(dir: &std::path::Path, clock: &Arc<ManualClock>, jobs: &[(&str, &str)]) -> Arc<App> {
    let mut config = Config::for_tests(dir);
    for (name, line) in jobs {
        config
            .scheduler
            .jobs
            .insert(name.to_string(), line.to_string());
    }
    App::open(config, clock.clone() as SharedClock).unwrap()
}

async fn put_run_state(app: &App, run: SchedulerRun) {
    app.store
        .write(move |ctx| ctx.put_scheduler_run(&run))
        .await
        .unwrap();
}

/// Ticks the scheduler at each moment in turn; how many times `name` ran at each.
async fn runs_at(
    app: &Arc<App>,
    clock: &ManualClock,
    moments: &[DateTime<Utc>],
    name: &str,
) -> Vec<usize> {
    let mut out = Vec::new();
    for at in moments {
        clock.set(*at);
        out.push(ran(&scheduler::run_due(app).await.unwrap(), name));
    }
    out
}

#[tokio::test]
async fn a_job_first_run_by_hand_then_runs_on_its_schedule() {
    let dir = tempfile::tempdir().unwrap();
    // `notify jobs run create-nightly-billing` with the server stopped, on a new appliance.
    let clock = ManualClock::new(london(2026, 11, 20, 14, 0));
    let app = open_app(dir.path(), &clock, &[]);
    assert!(scheduler::run_now(&app, BILLING_JOB).await.unwrap().ok);
    app.shutdown();

    // The server then runs through the next day's 00:15 and later.
    clock.set(london(2026, 11, 20, 14, 5));
    let app = open_app(dir.path(), &clock, &[]);
    let runs = runs_at(
        &app,
        &clock,
        &[
            london(2026, 11, 20, 14, 5),
            london(2026, 11, 21, 0, 15),
            london(2026, 11, 21, 9, 0),
            london(2026, 11, 22, 0, 15),
        ],
        BILLING_JOB,
    )
    .await;
    assert_eq!(runs, [0, 1, 0, 1]);
    assert_eq!(run_state(&app, BILLING_JOB).runs, 3);
    app.shutdown();
}

#[tokio::test]
async fn a_hand_run_recorded_without_a_slot_by_an_older_version_is_counted_from() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(london(2026, 11, 20, 14, 5));
    let app = open_app(dir.path(), &clock, &[]);
    // What earlier versions stored for a job first run by hand: no slot counted.
    let hand_run = london(2026, 11, 19, 14, 0).timestamp_micros();
    put_run_state(
        &app,
        SchedulerRun {
            name: BILLING_JOB.into(),
            last_due: None,
            last_started: Some(hand_run),
            last_finished: Some(hand_run),
            last_outcome: Some("ok".into()),
            runs: 1,
            ..Default::default()
        },
    )
    .await;
    // Counted from the hand run: the 00:15 slot missed since is caught up once, then the
    // schedule goes on.
    let runs = runs_at(
        &app,
        &clock,
        &[
            london(2026, 11, 20, 14, 5),
            london(2026, 11, 20, 14, 6),
            london(2026, 11, 20, 14, 7),
            london(2026, 11, 21, 0, 15),
        ],
        BILLING_JOB,
    )
    .await;
    assert_eq!(runs, [0, 1, 0, 1]);
    assert_eq!(
        run_state(&app, BILLING_JOB).last_due,
        Some(london(2026, 11, 21, 0, 15).timestamp_micros())
    );
    app.shutdown();
}

#[tokio::test]
async fn a_hand_run_cut_short_by_a_crash_runs_again_then_on_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(london(2026, 11, 20, 14, 5));
    let app = open_app(dir.path(), &clock, &[]);
    // `kill -9` during `notify jobs run` on a new appliance: marked running, no slot counted.
    put_run_state(
        &app,
        SchedulerRun {
            name: BILLING_JOB.into(),
            last_due: None,
            last_started: Some(london(2026, 11, 20, 14, 0).timestamp_micros()),
            running: true,
            ..Default::default()
        },
    )
    .await;
    let runs = runs_at(
        &app,
        &clock,
        &[
            london(2026, 11, 20, 14, 5),
            london(2026, 11, 20, 14, 6),
            london(2026, 11, 21, 0, 15),
        ],
        BILLING_JOB,
    )
    .await;
    assert_eq!(runs, [1, 0, 1]);
    let state = run_state(&app, BILLING_JOB);
    assert!(!state.running);
    assert_eq!(state.failures, 1, "the interrupted run counts as a failure");
    app.shutdown();
}

#[tokio::test]
async fn a_run_cut_short_before_an_outage_runs_once_when_the_appliance_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(london(2026, 11, 22, 9, 0));
    let app = open_app(dir.path(), &clock, &[]);
    // Killed during the 00:05 run on the 20th, down until the 22nd at 09:00: two more slots
    // were missed. One run handles them all.
    let slot = london(2026, 11, 20, 0, 5).timestamp_micros();
    put_run_state(
        &app,
        SchedulerRun {
            name: TIMEOUT_JOB.into(),
            last_due: Some(slot),
            last_started: Some(slot),
            running: true,
            ..Default::default()
        },
    )
    .await;
    let runs = runs_at(
        &app,
        &clock,
        &[london(2026, 11, 22, 9, 0), london(2026, 11, 22, 9, 1)],
        TIMEOUT_JOB,
    )
    .await;
    assert_eq!(runs, [1, 0]);
    assert_eq!(
        run_state(&app, TIMEOUT_JOB).last_due,
        Some(london(2026, 11, 22, 0, 5).timestamp_micros())
    );
    app.shutdown();
}

#[tokio::test]
async fn a_clock_set_a_year_ahead_then_corrected_keeps_the_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(london(2026, 11, 20, 10, 0));
    let app = open_app(dir.path(), &clock, &[]);
    scheduler::run_due(&app).await.unwrap();
    // The clock jumps a year ahead (missed slots fold into one run), then is put right.
    let runs = runs_at(
        &app,
        &clock,
        &[
            london(2027, 11, 20, 10, 0),
            london(2027, 11, 20, 10, 1),
            london(2026, 11, 20, 10, 5),
            london(2026, 11, 20, 10, 6),
            london(2026, 11, 21, 0, 15),
            london(2026, 11, 21, 0, 16),
            london(2026, 11, 22, 0, 15),
        ],
        BILLING_JOB,
    )
    .await;
    assert_eq!(runs, [1, 0, 0, 0, 1, 0, 1]);
    app.shutdown();
}

#[tokio::test]
async fn a_clock_stepped_back_a_little_does_not_run_a_slot_twice() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(london(2026, 11, 20, 10, 0));
    let app = open_app(dir.path(), &clock, &[]);
    scheduler::run_due(&app).await.unwrap();
    let slot = london(2026, 11, 21, 0, 15);
    let runs = runs_at(
        &app,
        &clock,
        &[
            slot,
            // A time sync steps the clock back 30 seconds, before the slot it just ran.
            slot - chrono::Duration::seconds(30),
            slot,
            slot + chrono::Duration::seconds(30),
            london(2026, 11, 22, 0, 15),
        ],
        BILLING_JOB,
    )
    .await;
    assert_eq!(runs, [1, 0, 0, 0, 1]);
    app.shutdown();
}

#[tokio::test]
async fn a_schedule_changed_in_the_config_counts_from_the_change() {
    const JOB: &str = "remove-sms-email-jobs";
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(london(2026, 11, 20, 1, 0));
    let app = open_app(dir.path(), &clock, &[]);
    let runs = runs_at(
        &app,
        &clock,
        &[london(2026, 11, 20, 1, 0), london(2026, 11, 20, 4, 0)],
        JOB,
    )
    .await;
    assert_eq!(runs, [0, 1], "04:00 on the default schedule");
    app.shutdown();

    // Restarted at 10:00 with the job moved to 05:00: today's 05:00 was not missed (the old
    // schedule was in force then), so nothing runs now; from tomorrow it runs at 05:00.
    clock.set(london(2026, 11, 20, 10, 0));
    let app = open_app(dir.path(), &clock, &[(JOB, "0 0 5 * * *")]);
    let runs = runs_at(
        &app,
        &clock,
        &[
            london(2026, 11, 20, 10, 0),
            london(2026, 11, 20, 10, 1),
            london(2026, 11, 21, 4, 0),
            london(2026, 11, 21, 5, 0),
            london(2026, 11, 22, 5, 0),
        ],
        JOB,
    )
    .await;
    assert_eq!(runs, [0, 0, 0, 1, 1]);
    app.shutdown();

    // Moved back to the default (04:00) while down over the 22nd's 04:00 and 05:00: counted from
    // the change at start, so the next run is the 23rd's 04:00.
    clock.set(london(2026, 11, 22, 6, 0));
    let app = open_app(dir.path(), &clock, &[]);
    let runs = runs_at(
        &app,
        &clock,
        &[london(2026, 11, 22, 6, 0), london(2026, 11, 23, 4, 0)],
        JOB,
    )
    .await;
    assert_eq!(runs, [0, 1]);
    app.shutdown();
}

#[tokio::test]
async fn a_run_state_this_version_cannot_read_starts_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(london(2026, 11, 20, 10, 0));
    let app = open_app(dir.path(), &clock, &[]);
    // A record in a shape this binary does not know (another version's, or damaged).
    app.store
        .write(|ctx| {
            ctx.tables.scheduler_runs.insert(
                BILLING_JOB,
                [storage::codec::RECORD_FORMAT, 0xff, 0xff].as_slice(),
            )?;
            Ok(())
        })
        .await
        .unwrap();
    // Every other job still runs, and this one starts afresh and runs on its schedule.
    let runs = runs_at(
        &app,
        &clock,
        &[
            london(2026, 11, 20, 10, 0),
            london(2026, 11, 20, 10, 1),
            london(2026, 11, 21, 0, 15),
        ],
        BILLING_JOB,
    )
    .await;
    assert_eq!(runs, [0, 0, 1]);
    assert_eq!(run_state(&app, BILLING_JOB).runs, 1);
    app.shutdown();
}

#[tokio::test]
async fn jobs_are_listed_and_run_through_the_internal_api() {
    let s = TestServer::start().await;
    let auth = s.admin_auth();
    let http = reqwest::Client::new();
    let list: Value = http
        .get(format!("{}/scheduler/jobs", s.base))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jobs = list["data"].as_array().unwrap();
    let retention = jobs
        .iter()
        .find(|j| j["name"] == "delete-notifications-older-than-retention")
        .unwrap();
    assert_eq!(retention["schedule"], "0 0 3 * * *");
    assert!(retention["next_run"].as_str().unwrap().contains("03:00:00"));

    let r = http
        .post(format!("{}/scheduler/jobs/{TIMEOUT_JOB}/run", s.base))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"]["ok"], true);
    assert_eq!(body["data"]["message"], "notifications timed out: 0");

    let r = http
        .post(format!("{}/scheduler/jobs/nothing-like-this/run", s.base))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("no scheduled job called")
    );
    let state = run_state(&s.app, TIMEOUT_JOB);
    assert_eq!((state.runs, state.last_outcome.as_deref()), (1, Some("ok")));

    // Without an admin token: refused.
    let r = http
        .get(format!("{}/scheduler/jobs", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The page lists every job (loopback caller).
    let page = http
        .get(format!("{}/scheduler", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("check-if-letters-still-in-created"));
}

/// A webhook that keeps what it is sent.
async fn webhook() -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let keep = seen.clone();
    let route = warp::post().and(warp::body::json()).map(move |v: Value| {
        keep.lock().unwrap().push(v);
        warp::reply()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(route).incoming(listener).run());
    (format!("http://{addr}/alerts"), seen)
}

fn notification(
    s: &TestServer,
    kind: NotificationType,
    status: NotificationStatus,
    to: &str,
    created_at: DateTime<Utc>,
) -> Notification {
    let micros = created_at.timestamp_micros();
    Notification {
        id: storage::clock::v7_at_micros(micros),
        service_id: s.service_id,
        notification_type: kind,
        template_id: match kind {
            NotificationType::Sms => s.sms_template,
            NotificationType::Email => s.email_template,
            NotificationType::Letter => s.letter_template,
        },
        template_version: 1,
        api_key_id: None,
        key_type: KeyType::Normal,
        status,
        to: to.into(),
        normalised_to: to.into(),
        personalisation: "{}".into(),
        body: "Hello".into(),
        subject: None,
        client_reference: Some("ref-1".into()),
        job_id: None,
        job_row_number: None,
        reply_to_text: None,
        one_click_unsubscribe_url: None,
        postage: (kind == NotificationType::Letter).then(|| "second".into()),
        international: false,
        billable_units: 1,
        sent_by: None,
        created_at: micros,
        sent_at: None,
        updated_at: None,
        created_by_name: None,
        status_reason: None,
    }
}

async fn insert(s: &TestServer, rows: Vec<Notification>) {
    s.app
        .store
        .write(move |ctx| {
            for n in &rows {
                ctx.insert_notification(n)?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

async fn wait_for_webhook(seen: &Arc<Mutex<Vec<Value>>>, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        if seen.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    seen.lock().unwrap().clone()
}

#[tokio::test]
async fn letters_left_in_created_after_the_print_deadline_raise_an_alert() {
    let (url, seen) = webhook().await;
    // Thursday 07:00: letters from before 17:30 on Wednesday should have gone out.
    let clock = ManualClock::new(london(2026, 11, 19, 7, 0));
    let s = TestServer::start_with_clock(clock.clone(), |c| c.alerts.webhook_url = url).await;
    let stuck = notification(
        &s,
        NotificationType::Letter,
        NotificationStatus::Created,
        "A Person",
        london(2026, 11, 18, 17, 29),
    );
    let stuck_id = stuck.id;
    let in_time = notification(
        &s,
        NotificationType::Letter,
        NotificationStatus::Created,
        "A Person",
        london(2026, 11, 18, 17, 31),
    );
    let sent = notification(
        &s,
        NotificationType::Letter,
        NotificationStatus::Sending,
        "A Person",
        london(2026, 11, 17, 12, 0),
    );
    insert(&s, vec![stuck, in_time, sent]).await;

    let report = scheduler::run_now(&s.app, "check-if-letters-still-in-created")
        .await
        .unwrap();
    assert_eq!(report.message, "letters still created: 1");
    let alerts = s.app.store.read().unwrap().alerts(10).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, "letters-still-created");
    assert!(
        alerts[0]
            .message
            .starts_with("1 letters were created before 17.30 yesterday")
    );
    assert!(alerts[0].details[0].contains(&stuck_id.to_string()));

    let posted = wait_for_webhook(&seen, 1).await;
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0]["kind"], "letters-still-created");
    assert_eq!(posted[0]["details"][0], json!(alerts[0].details[0]));

    // Listed in the internal API and on the page.
    let listed: Value = reqwest::Client::new()
        .get(format!("{}/scheduler/alerts", s.base))
        .header("authorization", s.admin_auth())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["kind"], "letters-still-created");
    let page = reqwest::get(format!("{}/alerts", s.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("were created before 17.30 yesterday"));
}

#[tokio::test]
async fn services_failing_at_scale_or_texting_tv_numbers_raise_an_alert() {
    let clock = ManualClock::new(london(2026, 11, 19, 10, 30));
    let s = TestServer::start_with_clock(clock.clone(), |_| {}).await;
    let hour_ago = london(2026, 11, 19, 9, 30);
    // 501 texts to TV drama numbers, and 10,000 texts of which 30% permanently failed.
    let mut rows = Vec::new();
    for i in 0..501 {
        rows.push(notification(
            &s,
            NotificationType::Sms,
            NotificationStatus::Delivered,
            &format!("447700900{:03}", i % 1000),
            hour_ago,
        ));
    }
    for i in 0..10_000 {
        let status = if i % 10 < 3 {
            NotificationStatus::PermanentFailure
        } else {
            NotificationStatus::Delivered
        };
        rows.push(notification(
            &s,
            NotificationType::Sms,
            status,
            "447700123456",
            hour_ago,
        ));
    }
    insert(&s, rows).await;
    let report = scheduler::run_now(
        &s.app,
        "check-for-services-with-high-failure-rates-or-sending-to-tv-numbers",
    )
    .await
    .unwrap();
    assert_eq!(report.message, "services flagged: 2");
    let alerts = s.app.store.read().unwrap().alerts(10).unwrap();
    assert_eq!(alerts.len(), 1);
    let details = alerts[0].details.join("\n");
    assert!(
        details.contains("texts sent to TV drama numbers"),
        "{details}"
    );
    assert!(details.contains("permanently failed"), "{details}");
    assert!(details.contains(&s.service_id.to_string()));

    // A day later the same texts are out of the window: nothing flagged.
    clock.set(london(2026, 11, 20, 10, 30));
    let report = scheduler::run_now(
        &s.app,
        "check-for-services-with-high-failure-rates-or-sending-to-tv-numbers",
    )
    .await
    .unwrap();
    assert_eq!(report.message, "services flagged: 0");
}

#[tokio::test]
async fn emails_stuck_in_created_are_queued_again_once() {
    let clock = ManualClock::new(london(2026, 11, 19, 12, 0));
    let s = TestServer::start_with_clock(clock.clone(), |_| {}).await;
    let stuck = notification(
        &s,
        NotificationType::Email,
        NotificationStatus::Created,
        "a@example.com",
        london(2026, 11, 19, 10, 0),
    );
    let recent = notification(
        &s,
        NotificationType::Email,
        NotificationStatus::Created,
        "b@example.com",
        london(2026, 11, 19, 11, 30),
    );
    // Waiting out a retry delay: already queued, so not queued twice.
    let retrying = notification(
        &s,
        NotificationType::Email,
        NotificationStatus::Created,
        "c@example.com",
        london(2026, 11, 19, 9, 0),
    );
    let stuck_id = stuck.id;
    let retrying_id = retrying.id;
    insert(&s, vec![stuck, recent, retrying]).await;
    let later = london(2026, 11, 19, 13, 0).timestamp_millis();
    s.app
        .store
        .write(move |ctx| ctx.enqueue("deliver-email", later, retrying_id.as_bytes()))
        .await
        .unwrap();
    let report = scheduler::run_now(&s.app, "replay-created-notifications")
        .await
        .unwrap();
    assert_eq!(report.message, "notifications queued again: 1");
    // Delivered by the outbox provider through the normal worker.
    let mut status = NotificationStatus::Created;
    for _ in 0..100 {
        status = s
            .app
            .store
            .read()
            .unwrap()
            .get_notification(stuck_id)
            .unwrap()
            .unwrap()
            .status;
        if status != NotificationStatus::Created {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, NotificationStatus::Delivered);
    // Nothing left to replay: the recent one is under an hour old, the stuck one has moved on.
    let report = scheduler::run_now(&s.app, "replay-created-notifications")
        .await
        .unwrap();
    assert_eq!(report.message, "notifications queued again: 0");
    let waiting = s
        .app
        .store
        .read()
        .unwrap()
        .queue_payloads("deliver-email")
        .unwrap();
    assert_eq!(waiting.len(), 1);
    assert!(waiting.contains(retrying_id.as_bytes().as_slice()));
}

#[tokio::test]
async fn letters_still_sending_two_working_days_later_raise_an_alert_after_easter() {
    use notify::config::Environment;
    // Easter 2026: Good Friday 3 April and Easter Monday 6 April are bank holidays.
    let clock = ManualClock::new(london(2026, 4, 6, 17, 0));
    let s = TestServer::start_with_clock(clock.clone(), |c| {
        c.environment = Environment::Production;
    })
    .await;
    let sent = |when: DateTime<Utc>, key: KeyType| {
        let mut n = notification(
            &s,
            NotificationType::Letter,
            NotificationStatus::Sending,
            "A Person",
            when - chrono::Duration::hours(1),
        );
        n.sent_at = Some(when.timestamp_micros());
        n.key_type = key;
        n
    };
    let late = sent(london(2026, 4, 1, 17, 50), KeyType::Normal);
    let late_id = late.id;
    let recent = sent(london(2026, 4, 2, 17, 50), KeyType::Normal);
    let test_key = sent(london(2026, 3, 31, 17, 50), KeyType::Test);
    insert(&s, vec![late, recent, test_key]).await;
    const JOB: &str = "raise-alert-if-letter-notifications-still-sending";

    // Easter Monday is not a DVLA working day: nothing is checked.
    let r = scheduler::run_now(&s.app, JOB).await.unwrap();
    assert!(
        r.message.contains("not a DVLA working day"),
        "{}",
        r.message
    );

    // Tuesday: two working days back (over Monday and Good Friday) is Wednesday 1 April.
    clock.set(london(2026, 4, 7, 17, 0));
    let r = scheduler::run_now(&s.app, JOB).await.unwrap();
    assert_eq!(
        r.message,
        "letters still sending from 2026-04-01 or before: 1"
    );
    let alerts = s.app.store.read().unwrap().alerts(10).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        alerts[0].message,
        "There are 1 letters in the 'sending' state from Wednesday 1 April"
    );
    assert_eq!(alerts[0].details, vec![late_id.to_string()]);
}

#[tokio::test]
async fn the_still_sending_check_is_for_production_and_test_only() {
    let clock = ManualClock::new(london(2026, 4, 7, 17, 0));
    let s = TestServer::start_with_clock(clock.clone(), |_| {}).await;
    let r = scheduler::run_now(&s.app, "raise-alert-if-letter-notifications-still-sending")
        .await
        .unwrap();
    assert!(
        r.message
            .starts_with("not checked: the environment is Development")
    );
    // "live" is read as production.
    let c: notify::config::Config = serde_json::from_value(json!({"environment": "live"})).unwrap();
    assert_eq!(c.environment, notify::config::Environment::Production);
}

#[tokio::test]
async fn a_failed_run_is_recorded_and_alerted() {
    let clock = ManualClock::new(london(2026, 11, 19, 4, 0));
    let s = TestServer::start_with_clock(clock.clone(), |_| {}).await;
    // A job whose file key object storage refuses: its file cannot be removed.
    let created = london(2026, 10, 1, 9, 0).timestamp_micros();
    let job = storage::records::Job {
        id: storage::clock::v7_at_micros(created),
        service_id: s.service_id,
        template_id: s.email_template,
        template_version: 1,
        original_file_name: "people.csv".into(),
        file_key: "jobs/../outside.csv".into(),
        notification_count: 1,
        notifications_sent: 1,
        status: storage::records::JobStatus::Finished,
        scheduled_for: None,
        contact_list_id: None,
        created_at: created,
        processing_started: None,
        processing_finished: None,
        archived: false,
        sender_id: None,
        created_by: None,
    };
    s.app
        .store
        .write(move |ctx| {
            ctx.tables
                .jobs
                .insert(job.id.as_u128(), storage::codec::encode(&job).as_slice())?;
            Ok(())
        })
        .await
        .unwrap();
    let report = scheduler::run_now(&s.app, "remove-sms-email-jobs")
        .await
        .unwrap();
    assert!(!report.ok);
    let state = run_state(&s.app, "remove-sms-email-jobs");
    assert_eq!(state.last_outcome.as_deref(), Some("failed"));
    assert_eq!(state.failures, 1);
    assert!(state.last_message.unwrap().contains("could not be deleted"));
    let alerts = s.app.store.read().unwrap().alerts(10).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, "scheduled-job-failed");
    assert!(
        alerts[0]
            .message
            .starts_with("Scheduled job remove-sms-email-jobs failed")
    );
}
