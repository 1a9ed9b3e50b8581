//! Billing, status and processing-time facts (workers.md §6.2, §6.3) and the statistics built
//! on them, on an injected clock: a fixture day in summer time with every status and key type,
//! live and archived rows; the facts survive retention; the statistics endpoints; and a simulated
//! month driven by the scheduler, whose billing matches a count made here by hand.

use crate::common;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::London;
use common::TestServer;
use notify::app::App;
use notify::domain::facts::day_number;
use notify::scheduler;
use serde_json::{Value, json};
use storage::clock::v7_at_micros;
use storage::records::{
    BillingFact, Job, JobStatus, KeyType, Notification, NotificationHistory, NotificationStatus,
    NotificationType, StatusFact,
};
use storage::{Clock, ManualClock, SharedClock};
use uuid::Uuid;

use KeyType::{Normal, Team, Test};
use NotificationStatus::*;
use NotificationType::{Email, Letter, Sms};

fn london(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    London
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

async fn start(clock: &Arc<ManualClock>) -> TestServer {
    let clock: SharedClock = clock.clone();
    TestServer::start_with_clock(clock, |c| {
        c.scheduler.enabled = false;
        c.sending.sms_rate = 0.02;
        c.sending.letter_rates.second = 0.70;
        c.sending.letter_rates.first = 1.20;
        c.sending.letter_rates.extra_sheet = 0.10;
    })
    .await
}

/// One notification as a fixture row: what the facts look at, and nothing personal.
struct Row {
    kind: NotificationType,
    key: KeyType,
    status: NotificationStatus,
    units: u32,
    provider: &'static str,
    postage: Option<&'static str>,
    to: &'static str,
}

fn row(kind: NotificationType, key: KeyType, status: NotificationStatus, units: u32) -> Row {
    Row {
        kind,
        key,
        status,
        units,
        provider: match kind {
            Sms => "mmg",
            Email => "smtp",
            Letter => "outbox",
        },
        postage: (kind == Letter).then_some("second"),
        to: match kind {
            Sms => "447700900123",
            Email => "someone@example.com",
            Letter => "A Person",
        },
    }
}

fn notification(s: &TestServer, r: &Row, at: i64) -> Notification {
    let template_id = match r.kind {
        Sms => s.sms_template,
        Email => s.email_template,
        Letter => s.letter_template,
    };
    Notification {
        id: v7_at_micros(at),
        service_id: s.service_id,
        notification_type: r.kind,
        template_id,
        template_version: 1,
        api_key_id: Some(Uuid::now_v7()),
        key_type: r.key,
        status: r.status,
        to: r.to.into(),
        normalised_to: r.to.into(),
        personalisation: "{}".into(),
        body: "body".into(),
        subject: None,
        client_reference: None,
        job_id: None,
        job_row_number: None,
        reply_to_text: None,
        one_click_unsubscribe_url: None,
        postage: r.postage.map(str::to_string),
        international: r.to.starts_with("33"),
        billable_units: r.units,
        sent_by: Some(r.provider.into()),
        created_at: at,
        sent_at: None,
        updated_at: None,
        created_by_name: None,
        status_reason: None,
    }
}

/// Where a fixture row is kept: live, archived (retention has run), or both (a purge that was
/// cut short between writing history and removing the live row).
#[derive(Clone, Copy, PartialEq)]
enum Kept {
    Live,
    Archived,
    Both,
}

async fn put(app: &App, rows: Vec<(Notification, Kept)>) {
    app.store
        .write(move |ctx| {
            for (n, kept) in &rows {
                if *kept != Kept::Archived {
                    ctx.insert_notification(n)?;
                }
                if *kept != Kept::Live {
                    ctx.put_notification_history(&NotificationHistory::from(n))?;
                }
            }
            Ok(())
        })
        .await
        .unwrap();
}

/// The fixture day: Wednesday 15 July 2026 (British Summer Time, so London midnight is 23:00
/// UTC the evening before). Rows spread over the day, a third archived, one in both tables, and
/// rows just outside the day on either side.
async fn fixture_day(s: &TestServer) -> Vec<Notification> {
    let mut intl = row(Sms, Normal, Delivered, 2);
    intl.to = "33612345678";
    let mut first_class = row(Letter, Normal, Delivered, 1);
    first_class.postage = Some("first");
    let mut firetext = row(Sms, Normal, Sending, 1);
    firetext.provider = "firetext";
    let rows = vec![
        // Texts: billed statuses, normal and team keys.
        row(Sms, Normal, Delivered, 2),
        row(Sms, Normal, Delivered, 2),
        row(Sms, Normal, Delivered, 2),
        firetext,
        row(Sms, Normal, PermanentFailure, 1),
        row(Sms, Normal, Pending, 1),
        row(Sms, Normal, TemporaryFailure, 1),
        row(Sms, Normal, Sent, 1),
        row(Sms, Team, Delivered, 3),
        intl,
        // Texts not billed: failures of ours, not yet sent, test keys.
        row(Sms, Normal, TechnicalFailure, 1),
        row(Sms, Normal, Created, 1),
        row(Sms, Test, Delivered, 1),
        row(Sms, Test, Delivered, 1),
        // Emails.
        row(Email, Normal, Delivered, 0),
        row(Email, Normal, Delivered, 0),
        row(Email, Team, TemporaryFailure, 0),
        row(Email, Normal, PermanentFailure, 0),
        row(Email, Normal, Sending, 0),
        row(Email, Normal, Created, 0),
        row(Email, Normal, TechnicalFailure, 0),
        row(Email, Test, Delivered, 0),
        // Letters.
        row(Letter, Normal, Sending, 2),
        first_class,
        row(Letter, Normal, ReturnedLetter, 1),
        row(Letter, Normal, Delivered, 3),
        row(Letter, Normal, Created, 1),
        row(Letter, Normal, Cancelled, 1),
        row(Letter, Normal, ValidationFailed, 0),
        row(Letter, Normal, PendingVirusCheck, 0),
        row(Letter, Test, Delivered, 1),
    ];
    // 00:00 to 23:58 London, one row every few minutes.
    let start = london(2026, 7, 15, 0, 0).timestamp_micros();
    let step = 23 * 3_600_000_000i64 / rows.len() as i64;
    let mut stored = Vec::new();
    let mut made = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let n = notification(s, r, start + step * i as i64);
        let kept = match i % 3 {
            0 => Kept::Live,
            1 => Kept::Archived,
            _ if i == 2 => Kept::Both,
            _ => Kept::Live,
        };
        stored.push((n.clone(), kept));
        made.push(n);
    }
    // Just outside: 23:59:59 London the day before, 00:00 London the day after.
    let before = notification(s, &row(Sms, Normal, Delivered, 5), start - 1_000_000);
    let after = notification(
        s,
        &row(Sms, Normal, Delivered, 7),
        london(2026, 7, 16, 0, 0).timestamp_micros(),
    );
    stored.push((before, Kept::Archived));
    stored.push((after, Kept::Live));
    put(&s.app, stored).await;
    made
}

/// A billing fact as (type, provider, multiplier, international, postage, rate in pence,
/// units, sent), for comparing with a hand count.
type Bill = (NotificationType, String, u32, bool, String, i64, u64, u64);

fn bills(facts: &[BillingFact]) -> Vec<Bill> {
    let mut out: Vec<Bill> = facts
        .iter()
        .map(|f| {
            (
                f.notification_type,
                f.provider.clone(),
                f.rate_multiplier,
                f.international,
                f.postage.clone(),
                (f.rate * 100.0).round() as i64,
                f.billable_units,
                f.notifications_sent,
            )
        })
        .collect();
    out.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    out
}

// One argument per column, in the order the hand count reads.
#[allow(clippy::too_many_arguments)]
fn bill(
    kind: NotificationType,
    provider: &str,
    multiplier: u32,
    international: bool,
    postage: &str,
    pence: i64,
    units: u64,
    sent: u64,
) -> Bill {
    (
        kind,
        provider.into(),
        multiplier,
        international,
        postage.into(),
        pence,
        units,
        sent,
    )
}

fn stored_billing(app: &App, day: NaiveDate) -> Vec<BillingFact> {
    let d = day_number(day);
    app.store
        .read()
        .unwrap()
        .billing_facts(None, d..=d)
        .unwrap()
}

fn stored_status(
    app: &App,
    day: NaiveDate,
) -> BTreeMap<(NotificationType, KeyType, NotificationStatus), u64> {
    let d = day_number(day);
    let facts: Vec<StatusFact> = app.store.read().unwrap().status_facts(None, d..=d).unwrap();
    let mut out = BTreeMap::new();
    for f in facts {
        *out.entry((f.notification_type, f.key_type, f.status))
            .or_default() += f.count;
    }
    out
}

/// What the live hourly counts say of `day` (what dashboards show for today), in the same shape.
fn hourly_status(
    app: &App,
    day: NaiveDate,
) -> BTreeMap<(NotificationType, KeyType, NotificationStatus), u64> {
    let reader = app.store.read().unwrap();
    let per_service =
        notify::domain::facts::status_facts_from_hourly_counts(&reader, None, day).unwrap();
    let mut out = BTreeMap::new();
    for f in per_service.into_values().flatten() {
        *out.entry((f.notification_type, f.key_type, f.status))
            .or_default() += f.count;
    }
    out
}

async fn run(app: &Arc<App>, job: &str) -> String {
    let report = scheduler::run_now(app, job).await.unwrap();
    assert!(report.ok, "{job}: {}", report.message);
    report.message
}

fn expected_fixture_bills() -> Vec<Bill> {
    let mut expected = vec![
        // 3 × 2 fragments + 1 permanent-failure + 1 pending + 1 temporary-failure + 1 sent
        // (normal key) + 3 (team key), all through mmg at 2p.
        bill(Sms, "mmg", 1, false, "none", 2, 6 + 1 + 1 + 1 + 1 + 3, 8),
        bill(Sms, "firetext", 1, false, "none", 2, 1, 1),
        // France: multiplier 2.
        bill(Sms, "mmg", 2, true, "none", 2, 2, 1),
        // Emails: delivered ×2, temporary-failure, permanent-failure, sending.
        bill(Email, "smtp", 0, false, "none", 0, 0, 5),
        // Letters: sending 2 sheets second (70p + 10p), delivered 1 sheet first (120p),
        // returned 1 sheet second (70p), delivered 3 sheets second (70p + 20p).
        bill(Letter, "dvla", 1, false, "second", 80, 2, 1),
        bill(Letter, "dvla", 1, false, "first", 120, 1, 1),
        bill(Letter, "dvla", 1, false, "second", 70, 1, 1),
        bill(Letter, "dvla", 1, false, "second", 90, 3, 1),
    ];
    expected.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    expected
}

fn expected_fixture_status() -> BTreeMap<(NotificationType, KeyType, NotificationStatus), u64> {
    let mut m = BTreeMap::new();
    for (k, v) in [
        ((Sms, Normal, Delivered), 4),
        ((Sms, Normal, Sending), 1),
        ((Sms, Normal, PermanentFailure), 1),
        ((Sms, Normal, Pending), 1),
        ((Sms, Normal, TemporaryFailure), 1),
        ((Sms, Normal, Sent), 1),
        ((Sms, Team, Delivered), 1),
        ((Sms, Normal, TechnicalFailure), 1),
        ((Sms, Normal, Created), 1),
        ((Email, Normal, Delivered), 2),
        ((Email, Team, TemporaryFailure), 1),
        ((Email, Normal, PermanentFailure), 1),
        ((Email, Normal, Sending), 1),
        ((Email, Normal, Created), 1),
        ((Email, Normal, TechnicalFailure), 1),
        ((Letter, Normal, Sending), 1),
        ((Letter, Normal, Delivered), 2),
        ((Letter, Normal, ReturnedLetter), 1),
        ((Letter, Normal, Created), 1),
        ((Letter, Normal, Cancelled), 1),
        ((Letter, Normal, ValidationFailed), 1),
        ((Letter, Normal, PendingVirusCheck), 1),
    ] {
        m.insert(k, v);
    }
    m
}

#[tokio::test]
async fn billing_and_status_facts_for_a_fixture_day_match_a_hand_count() {
    let clock = ManualClock::new(london(2026, 7, 16, 0, 15));
    let s = start(&clock).await;
    fixture_day(&s).await;
    let day = date(2026, 7, 15);

    // The live hourly counts (a dashboard's "today") say what the facts will.
    assert_eq!(hourly_status(&s.app, day), expected_fixture_status());

    let line = run(&s.app, "create-nightly-billing").await;
    assert!(line.contains("over 10 days"), "{line}");
    assert_eq!(
        bills(&stored_billing(&s.app, day)),
        expected_fixture_bills()
    );
    run(&s.app, "create-nightly-notification-status").await;
    assert_eq!(stored_status(&s.app, day), expected_fixture_status());
    // The rows just outside the day belong to the days either side.
    assert_eq!(
        bills(&stored_billing(&s.app, date(2026, 7, 14))),
        vec![bill(Sms, "mmg", 1, false, "none", 2, 5, 1)]
    );

    // Running again changes nothing.
    run(&s.app, "create-nightly-billing").await;
    run(&s.app, "create-nightly-notification-status").await;
    assert_eq!(
        bills(&stored_billing(&s.app, day)),
        expected_fixture_bills()
    );
    assert_eq!(stored_status(&s.app, day), expected_fixture_status());

    // Three days later, after every row of the day has been archived, the recomputed facts are
    // the same (the French text keeps its multiplier though its number is gone).
    clock.set(london(2026, 7, 19, 3, 0));
    s.request(
        "POST",
        &format!("/service/{}/data-retention", s.service_id),
        Some(s.admin_auth()),
        Some(r#"{"notification_type": "sms", "days_of_retention": 1}"#),
    )
    .await;
    for kind in ["email", "letter"] {
        s.request(
            "POST",
            &format!("/service/{}/data-retention", s.service_id),
            Some(s.admin_auth()),
            Some(&format!(
                r#"{{"notification_type": "{kind}", "days_of_retention": 1}}"#
            )),
        )
        .await;
    }
    run(&s.app, "delete-notifications-older-than-retention").await;
    let reader = s.app.store.read().unwrap();
    let live_that_day = reader
        .service_notifications_since(s.service_id, london(2026, 7, 15, 0, 0).timestamp_micros())
        .unwrap()
        .into_iter()
        .filter(|n| n.created_at < london(2026, 7, 16, 0, 0).timestamp_micros())
        .filter(|n| {
            !matches!(n.status, Sending | Created | PendingVirusCheck)
                || n.notification_type != Letter
        })
        .count();
    assert_eq!(
        live_that_day, 0,
        "only letters that may still be printed stay live"
    );
    drop(reader);
    clock.set(london(2026, 7, 20, 0, 15));
    run(&s.app, "create-nightly-billing").await;
    run(&s.app, "create-nightly-notification-status").await;
    assert_eq!(
        bills(&stored_billing(&s.app, day)),
        expected_fixture_bills()
    );
    assert_eq!(stored_status(&s.app, day), expected_fixture_status());
    // Archiving moved the rows, not their counts.
    assert_eq!(hourly_status(&s.app, day), expected_fixture_status());

    // Once the day is older than the nightly job's ten days, its hourly counts go; the facts stay.
    clock.set(london(2026, 7, 27, 0, 30));
    let line = run(&s.app, "create-nightly-notification-status").await;
    assert!(line.contains("old hourly counts pruned"), "{line}");
    assert!(hourly_status(&s.app, day).is_empty());
    assert_eq!(stored_status(&s.app, day), expected_fixture_status());
}

#[tokio::test]
async fn processing_time_counts_api_messages_sent_within_ten_seconds() {
    let clock = ManualClock::new(london(2026, 3, 30, 2, 0));
    let s = start(&clock).await;
    // Sunday 29 March 2026: the clocks go forward, a 23-hour London day.
    let base = london(2026, 3, 29, 0, 30).timestamp_micros();
    let mut rows = Vec::new();
    for (i, (kind, key, api, sent_after_secs)) in [
        (Sms, Normal, true, Some(3)),
        (Sms, Team, true, Some(10)),
        (Email, Normal, true, Some(11)),
        (Email, Normal, true, None),
        (Sms, Normal, false, Some(1)),
        (Sms, Test, true, Some(1)),
        (Letter, Normal, true, Some(1)),
    ]
    .into_iter()
    .enumerate()
    {
        let at = base + i as i64 * 3_600_000_000;
        let mut n = notification(&s, &row(kind, key, Delivered, 1), at);
        if !api {
            n.api_key_id = None;
        }
        n.sent_at = sent_after_secs.map(|secs: i64| at + secs * 1_000_000);
        rows.push((n, Kept::Live));
    }
    put(&s.app, rows).await;
    let line = run(&s.app, "save-daily-notification-processing-time").await;
    assert_eq!(
        line,
        "processing time for 2026-03-29: 2 of 4 within 10 seconds"
    );
    let d = day_number(date(2026, 3, 29));
    let facts = s
        .app
        .store
        .read()
        .unwrap()
        .processing_time_facts(d..=d)
        .unwrap();
    assert_eq!(facts.len(), 1);
    assert_eq!(
        (facts[0].messages_total, facts[0].messages_within_10_secs),
        (4, 2)
    );
}

async fn get(s: &TestServer, path: &str) -> (u16, Value) {
    s.request("GET", path, Some(s.admin_auth()), None).await
}

#[tokio::test]
async fn statistics_endpoints_read_facts_for_past_days_and_live_rows_for_today() {
    let clock = ManualClock::new(london(2026, 7, 16, 0, 30));
    let s = start(&clock).await;
    let made = fixture_day(&s).await;
    run(&s.app, "create-nightly-billing").await;
    run(&s.app, "create-nightly-notification-status").await;
    // Today (16 July) so far: the row at 00:00 from the fixture and two more.
    clock.set(london(2026, 7, 16, 11, 0));
    let now = clock.now().timestamp_micros();
    put(
        &s.app,
        vec![
            (
                notification(&s, &row(Email, Normal, Delivered, 0), now),
                Kept::Live,
            ),
            (
                notification(&s, &row(Sms, Normal, TechnicalFailure, 1), now + 1),
                Kept::Live,
            ),
        ],
    )
    .await;
    let sid = s.service_id;

    let (status, body) = get(&s, &format!("/service/{sid}/statistics?limit_days=7")).await;
    assert_eq!(status, 200, "{body}");
    // Texts: 12 on the fixture day (test keys excluded), one the day before, the 00:00 row and
    // one failure today.
    assert_eq!(
        body["data"]["sms"],
        json!({"requested": 12 + 1 + 1 + 1, "delivered": 6 + 1 + 1, "failed": 3 + 1})
    );
    assert_eq!(
        body["data"]["email"],
        json!({"requested": 7 + 1, "delivered": 2 + 1, "failed": 3})
    );
    assert_eq!(
        body["data"]["letter"],
        json!({"requested": 8, "delivered": 2, "failed": 1})
    );
    let (_, today) = get(&s, &format!("/service/{sid}/statistics?today_only=true")).await;
    assert_eq!(
        today["data"]["sms"],
        json!({"requested": 2, "delivered": 1, "failed": 1})
    );
    let (status, bad) = get(&s, &format!("/service/{sid}/statistics?limit_days=abc")).await;
    assert_eq!(status, 400);
    assert_eq!(
        bad["message"],
        "limit_days must be a number of days from 1 to 366"
    );

    let (status, monthly) = get(
        &s,
        &format!("/service/{sid}/notifications/monthly?year=2026"),
    )
    .await;
    assert_eq!(status, 200, "{monthly}");
    let july = &monthly["data"]["2026-07"];
    assert_eq!(july["sms"]["delivered"], json!(4 + 1 + 1 + 1));
    assert_eq!(july["letter"]["returned-letter"], json!(1));
    assert_eq!(
        monthly["data"]["2027-03"],
        json!({"email": {}, "letter": {}, "sms": {}})
    );
    assert_eq!(monthly["data"].as_object().unwrap().len(), 12);

    let (status, usage) = get(
        &s,
        &format!("/service/{sid}/billing/yearly-usage-summary?year=2026"),
    )
    .await;
    assert_eq!(status, 200, "{usage}");
    let rows = usage["data"].as_array().unwrap();
    let sms: Vec<&Value> = rows
        .iter()
        .filter(|r| r["notification_type"] == "sms")
        .collect();
    assert_eq!(sms.len(), 1, "{usage}");
    // 13 + 1 + 2 × 2 fragments on the 15th, 5 on the 14th; at 2p.
    assert_eq!(sms[0]["chargeable_units"], json!(13 + 1 + 4 + 5));
    assert_eq!(sms[0]["cost"], json!(0.46));
    let letter_cost: f64 = rows
        .iter()
        .filter(|r| r["notification_type"] == "letter")
        .map(|r| r["cost"].as_f64().unwrap())
        .sum();
    assert!((letter_cost - 3.60).abs() < 1e-9, "{usage}");
    let (_, by_month) = get(
        &s,
        &format!("/service/{sid}/billing/monthly-usage?year=2026"),
    )
    .await;
    assert!(
        by_month["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["month"] == "2026-07")
    );
    let (status, _) = get(&s, &format!("/service/{sid}/billing/monthly-usage")).await;
    assert_eq!(status, 400, "year is required");

    let (_, templates) = get(
        &s,
        &format!("/service/{sid}/template-statistics?whole_days=2"),
    )
    .await;
    let letter_rows: u64 = templates["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["template_type"] == "letter")
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(letter_rows, 8);

    // Last used: today for texts (live); after retention, the fixture day from the facts.
    let (_, used) = get(
        &s,
        &format!(
            "/service/{sid}/template-statistics/last-used/{}",
            s.letter_template
        ),
    )
    .await;
    assert_eq!(used["data"]["last_date_used"], "2026-07-15");
    let letters: Vec<Uuid> = made
        .iter()
        .filter(|n| n.notification_type == Letter)
        .map(|n| n.id)
        .collect();
    s.app
        .store
        .write(move |ctx| {
            for id in &letters {
                ctx.delete_notification(*id)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let (_, used) = get(
        &s,
        &format!(
            "/service/{sid}/template-statistics/last-used/{}",
            s.letter_template
        ),
    )
    .await;
    assert_eq!(used["data"]["last_date_used"], "2026-07-15");
    let (status, _) = get(
        &s,
        &format!(
            "/service/{sid}/template-statistics/last-used/{}",
            Uuid::now_v7()
        ),
    )
    .await;
    assert_eq!(status, 404);
}

fn job(s: &TestServer, status: JobStatus, at: i64, scheduled_for: Option<i64>) -> Job {
    Job {
        id: v7_at_micros(at),
        service_id: s.service_id,
        template_id: s.sms_template,
        template_version: 1,
        original_file_name: "people.csv".into(),
        file_key: "jobs/people.csv".into(),
        notification_count: 4,
        notifications_sent: 4,
        status,
        scheduled_for,
        contact_list_id: None,
        created_at: at,
        processing_started: Some(at),
        processing_finished: (status == JobStatus::Finished).then_some(at + 60_000_000),
        archived: false,
        sender_id: None,
        created_by: None,
    }
}

#[tokio::test]
async fn job_outcomes_stay_right_after_retention_and_scheduled_jobs_are_counted() {
    let clock = ManualClock::new(london(2026, 11, 2, 9, 0));
    let s = start(&clock).await;
    let at = clock.now().timestamp_micros();
    let finished = job(&s, JobStatus::Finished, at, None);
    let job_id = finished.id;
    let mut rows = Vec::new();
    for (i, status) in [Delivered, Delivered, PermanentFailure, Sending]
        .into_iter()
        .enumerate()
    {
        let mut n = notification(
            &s,
            &row(Sms, Normal, status, 1),
            at + 1_000_000 * (i as i64 + 1),
        );
        n.job_id = Some(job_id);
        n.job_row_number = Some(i as u32);
        // Half already archived.
        rows.push((
            n,
            if i % 2 == 0 {
                Kept::Archived
            } else {
                Kept::Live
            },
        ));
    }
    // Another job's row in the same minute.
    let mut other = notification(&s, &row(Sms, Normal, Delivered, 1), at + 5_000_000);
    other.job_id = Some(Uuid::now_v7());
    rows.push((other, Kept::Live));
    put(&s.app, rows).await;
    let soon = london(2026, 11, 3, 9, 0).timestamp_micros();
    let later = london(2026, 11, 4, 9, 0).timestamp_micros();
    let jobs = vec![
        finished,
        job(&s, JobStatus::Scheduled, at + 1, Some(later)),
        job(&s, JobStatus::Scheduled, at + 2, Some(soon)),
        job(&s, JobStatus::Cancelled, at + 3, Some(soon)),
    ];
    s.app
        .store
        .write(move |ctx| {
            for j in &jobs {
                ctx.put_job(j)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let sid = s.service_id;
    let (status, body) = get(&s, &format!("/service/{sid}/job/{job_id}/statistics")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["statistics"],
        json!([
            {"status": "delivered", "count": 2},
            {"status": "permanent-failure", "count": 1},
            {"status": "sending", "count": 1},
        ])
    );
    let (status, _) = get(
        &s,
        &format!("/service/{sid}/job/{}/statistics", Uuid::now_v7()),
    )
    .await;
    assert_eq!(status, 404);
    let (_, scheduled) = get(&s, &format!("/service/{sid}/job/scheduled-job-stats")).await;
    assert_eq!(
        scheduled["data"],
        json!({"count": 2, "soonest_scheduled_for": "2026-11-03T09:00:00.000000Z"})
    );
}

/// The "done when" of the issue: a month of sending on a driven clock, with every scheduled job
/// running when the scheduler says it is due. Each day brings texts, emails and letters; some
/// letters are still with the printer (`sending`) and must never go. At the end: exactly the
/// retention window is live, nothing printable was removed, and every day's billing equals the
/// count made here.
#[tokio::test]
async fn a_simulated_month_keeps_its_window_and_bills_what_was_sent() {
    let first = date(2026, 10, 10);
    let clock = ManualClock::new(london(2026, 10, 9, 12, 0));
    let s = start(&clock).await;
    // First sight: the scheduler remembers every job without running it.
    scheduler::run_due(&s.app).await.unwrap();
    let days = 35u64;
    let mut made: Vec<Notification> = Vec::new();
    let mut still_printing = Vec::new();
    for offset in 0..days {
        let day = first + Days::new(offset);
        let (y, m, d) = (day.year(), day.month(), day.day());
        for hour in 0..24 {
            clock.set(london(y, m, d, hour, 20));
            let at = clock.now().timestamp_micros();
            if hour % 6 == 1 {
                let mut rows = vec![
                    row(Sms, Normal, Delivered, 2),
                    row(Email, Team, Delivered, 0),
                    row(Sms, Test, Delivered, 1),
                    row(Letter, Normal, Delivered, 2),
                ];
                if hour == 7 {
                    rows.push(row(Letter, Normal, Sending, 1));
                }
                let mut batch = Vec::new();
                for (i, r) in rows.iter().enumerate() {
                    let n = notification(&s, r, at + i as i64);
                    if n.status == Sending {
                        still_printing.push(n.id);
                    }
                    made.push(n.clone());
                    batch.push((n, Kept::Live));
                }
                put(&s.app, batch).await;
            }
            for report in scheduler::run_due(&s.app).await.unwrap() {
                assert!(report.ok, "{} failed: {}", report.name, report.message);
            }
        }
    }
    let now = clock.now();
    let reader = s.app.store.read().unwrap();
    let today = now.with_timezone(&London).date_naive();
    // Retention: 7 whole London days before today are kept, and today so far.
    let window_start = today - Days::new(7);
    for n in &made {
        let day = Utc
            .timestamp_micros(n.created_at)
            .unwrap()
            .with_timezone(&London)
            .date_naive();
        let live = reader.get_notification(n.id).unwrap().is_some();
        let printable = still_printing.contains(&n.id);
        assert_eq!(
            live,
            day >= window_start || printable,
            "{day} {:?} {:?}",
            n.notification_type,
            n.status
        );
        let archived = reader.get_notification_history(n.id).unwrap().is_some();
        assert_eq!(
            archived,
            !live && n.key_type != Test,
            "{day} {:?}",
            n.key_type
        );
    }
    // Billing: each day, 4 texts of 2 fragments, 4 emails, 4 letters of 2 sheets (80p) and
    // one letter of 1 sheet (70p) still being printed; test keys never billed. Today's facts
    // are as of the last hourly run (23:00, before the last batch at 19:20 … all of today).
    for offset in 0..days {
        let day = first + Days::new(offset);
        let d = day_number(day);
        let facts = reader.billing_facts(Some(s.service_id), d..=d).unwrap();
        let sum = |kind: NotificationType| -> (u64, u64) {
            facts
                .iter()
                .filter(|f| f.notification_type == kind)
                .fold((0, 0), |acc, f| {
                    (acc.0 + f.billable_units, acc.1 + f.notifications_sent)
                })
        };
        assert_eq!(sum(Sms), (8, 4), "texts on {day}");
        assert_eq!(sum(Email), (0, 4), "emails on {day}");
        assert_eq!(sum(Letter), (9, 5), "letters on {day}");
        let pence: i64 = facts
            .iter()
            .map(|f| match f.notification_type {
                Sms => (f.rate * 100.0).round() as i64 * f.billable_units as i64,
                Letter => (f.rate * 100.0).round() as i64 * f.notifications_sent as i64,
                Email => 0,
            })
            .sum();
        assert_eq!(pence, 8 * 2 + 4 * 80 + 70, "cost on {day}");
    }
    drop(reader);
    // The same through the API: the financial year holds every day of the month.
    let (_, usage) = get(
        &s,
        &format!(
            "/service/{}/billing/yearly-usage-summary?year=2026",
            s.service_id
        ),
    )
    .await;
    let total: f64 = usage["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["cost"].as_f64().unwrap())
        .sum();
    let expected = days as f64 * (8.0 * 0.02 + 4.0 * 0.80 + 0.70);
    assert!(
        (total - expected).abs() < 0.005,
        "{total} vs {expected}: {usage}"
    );
    // Nothing failed along the way.
    let alerts = s.app.store.read().unwrap().alerts(100).unwrap();
    assert!(
        alerts.iter().all(|a| a.kind != "scheduled-job-failed"),
        "{alerts:?}"
    );
}

async fn report_returned(s: &TestServer, ids: Vec<Uuid>) -> (u16, Value) {
    let body = json!({ "notification_ids": ids }).to_string();
    s.request(
        "POST",
        "/letters/returned",
        Some(s.admin_auth()),
        Some(&body),
    )
    .await
}

#[tokio::test]
async fn returned_letters_are_recorded_live_or_archived_and_summarised_by_day() {
    let clock = ManualClock::new(london(2026, 11, 2, 9, 0));
    let s = start(&clock).await;
    notify::domain::callbacks::set_callback(
        &s.app.store,
        &s.app.sealer,
        s.service_id,
        storage::records::CallbackKind::ReturnedLetter,
        "https://service.example/returned",
        "a-long-enough-bearer-token",
        false,
    )
    .await
    .unwrap();
    let at = clock.now().timestamp_micros();
    let mk = |i: i64, r: Row| notification(&s, &r, at + i);
    let delivered = mk(1, row(Letter, Normal, Delivered, 1));
    let sending = mk(2, row(Letter, Normal, Sending, 1));
    let archived = mk(3, row(Letter, Normal, Delivered, 2));
    let created = mk(4, row(Letter, Normal, Created, 1));
    let test_key = mk(5, row(Letter, Test, Delivered, 1));
    let text = mk(6, row(Sms, Normal, Delivered, 1));
    put(
        &s.app,
        vec![
            (delivered.clone(), Kept::Live),
            (sending.clone(), Kept::Live),
            (archived.clone(), Kept::Archived),
            (created.clone(), Kept::Live),
            (test_key.clone(), Kept::Live),
            (text.clone(), Kept::Live),
        ],
    )
    .await;
    let stranger = Uuid::now_v7();
    let (status, body) = report_returned(
        &s,
        vec![
            delivered.id,
            archived.id,
            created.id,
            test_key.id,
            text.id,
            stranger,
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["returned"], json!([delivered.id, archived.id]));
    assert_eq!(
        body["data"]["not_printed"],
        json!([created.id, test_key.id])
    );
    assert_eq!(body["data"]["unknown"], json!([text.id, stranger]));
    let reader = s.app.store.read().unwrap();
    assert_eq!(
        reader
            .get_notification(delivered.id)
            .unwrap()
            .unwrap()
            .status,
        ReturnedLetter
    );
    assert_eq!(
        reader
            .get_notification_history(archived.id)
            .unwrap()
            .unwrap()
            .status,
        ReturnedLetter
    );
    assert_eq!(
        reader.get_notification(created.id).unwrap().unwrap().status,
        Created
    );
    // The service's returned-letter callback is queued for each, without the address.
    let queued: Vec<Value> = reader
        .queue_payloads("service-callbacks")
        .unwrap()
        .into_iter()
        .map(|p| serde_json::from_slice::<Value>(&p).unwrap()["body"].clone())
        .collect();
    assert_eq!(queued.len(), 2, "{queued:?}");
    let first = queued
        .iter()
        .find(|b| b["notification_id"] == json!(delivered.id))
        .unwrap();
    assert_eq!(first["template_name"], "letter template");
    assert_eq!(first["sent_by"], "API");
    assert!(!first.to_string().contains("A Person"), "{first}");
    drop(reader);

    // The next day another comes back, and one is reported again (its first day stands).
    clock.set(london(2026, 11, 3, 15, 0));
    let (_, body) = report_returned(&s, vec![sending.id, delivered.id]).await;
    assert_eq!(body["data"]["returned"], json!([sending.id]));
    assert_eq!(body["data"]["already_returned"], json!([delivered.id]));
    let (status, summary) = get(
        &s,
        &format!("/service/{}/returned-letter-summary", s.service_id),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        summary["data"],
        json!([
            {"returned_letter_count": 1, "reported_at": "2026-11-03"},
            {"returned_letter_count": 2, "reported_at": "2026-11-02"},
        ])
    );
    let (_, stats) = get(
        &s,
        &format!("/service/{}/returned-letter-statistics", s.service_id),
    )
    .await;
    assert_eq!(
        stats["data"],
        json!({"returned_letter_count": 3, "most_recent_report": "2026-11-03"})
    );
    // The letters reported on a day, as JSON and as upstream's spreadsheet.
    let day_path = format!(
        "/service/{}/returned-letters?reported_at=2026-11-02",
        s.service_id
    );
    let (status, day) = get(&s, &day_path).await;
    assert_eq!(status, 200, "{day}");
    assert_eq!(day["orphaned_count"], 0);
    let listed = day["returned_letters"].as_array().unwrap();
    let mut ids: Vec<&str> = listed
        .iter()
        .map(|r| r["notification_id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut expected = vec![delivered.id.to_string(), archived.id.to_string()];
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(listed[0]["reported_at"], "2026-11-02");
    assert_eq!(listed[0]["template_name"], "letter template");
    assert_eq!(listed[0]["email_address"], "API");
    let csv = reqwest::Client::new()
        .get(format!("{}{day_path}&format=csv", s.base))
        .header("authorization", s.admin_auth())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[0].starts_with("Notification ID,Reference,Date sent,Sent by"),
        "{csv}"
    );
    assert!(lines[1].contains(",API,letter template,"), "{csv}");
    let (status, _) = get(&s, &format!("/service/{}/returned-letters", s.service_id)).await;
    assert_eq!(status, 400);
    // A week later the reports have aged out of the count; the latest day stays.
    clock.set(london(2026, 11, 10, 9, 0));
    let (_, stats) = get(
        &s,
        &format!("/service/{}/returned-letter-statistics", s.service_id),
    )
    .await;
    assert_eq!(
        stats["data"],
        json!({"returned_letter_count": 0, "most_recent_report": "2026-11-03"})
    );
    let (status, bad) = s
        .request(
            "POST",
            "/letters/returned",
            Some(s.admin_auth()),
            Some(r#"{"notification_ids": []}"#),
        )
        .await;
    assert_eq!(status, 400, "{bad}");
}
