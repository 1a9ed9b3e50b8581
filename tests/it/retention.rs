//! Retention (workers.md §5) on an injected clock: whole London days across both clock changes,
//! letters in every status and their PDFs, test keys, history without personal data, a purge
//! cut short (by a cap, by a dropped future, by a restart) and run again, the search index, a
//! simulated month, received texts, job files, and the data-retention settings API.

use crate::common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, Days, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::London;
use common::TestServer;
use notify::app::App;
use notify::config::Config;
use notify::domain::letters::pdf_path;
use notify::domain::retention::{self, PurgeOptions};
use notify::domain::{DomainError, services, templates};
use object_store::{ObjectStoreExt, PutPayload};
use serde_json::{Value, json};
use storage::clock::v7_at_micros;
use storage::codec::encode;
use storage::records::{
    InboundSms, Job, JobStatus, KeyType, Notification, NotificationHistory, NotificationStatus,
    NotificationType,
};
use storage::{Clock, ManualClock, SharedClock};
use uuid::Uuid;

const SECRET_NAME: &str = "Annabel Secretname";
const PHONE: &str = "07700900123";

fn utc(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

fn london(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    London
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// The cut-off worked out here independently: London midnight starting (London today − days).
fn expected_cutoff(now: DateTime<Utc>, days: u64) -> i64 {
    let day = now.with_timezone(&London).date_naive() - Days::new(days);
    London
        .from_local_datetime(&day.and_time(NaiveTime::MIN))
        .single()
        .unwrap()
        .timestamp_micros()
}

async fn start(clock: &Arc<ManualClock>) -> TestServer {
    let clock: SharedClock = clock.clone();
    TestServer::start_with_clock(clock, |c| {
        c.scheduler.enabled = false;
        c.retention.batch_size = 5;
    })
    .await
}

fn make(
    service_id: Uuid,
    template_id: Uuid,
    kind: NotificationType,
    key_type: KeyType,
    status: NotificationStatus,
    at: i64,
) -> Notification {
    let to = match kind {
        NotificationType::Sms => PHONE.to_string(),
        NotificationType::Email => "annabel.secretname@example.com".to_string(),
        NotificationType::Letter => SECRET_NAME.to_string(),
    };
    Notification {
        id: v7_at_micros(at),
        service_id,
        notification_type: kind,
        template_id,
        template_version: 1,
        api_key_id: None,
        key_type,
        status,
        normalised_to: to.to_lowercase(),
        to,
        personalisation: json!({ "name": SECRET_NAME }).to_string(),
        body: format!("Hello {SECRET_NAME}"),
        subject: (kind != NotificationType::Sms).then(|| format!("About {SECRET_NAME}")),
        client_reference: Some("client-ref".into()),
        job_id: None,
        job_row_number: None,
        reply_to_text: Some("reply@example.com".into()),
        one_click_unsubscribe_url: None,
        postage: (kind == NotificationType::Letter).then(|| "second".into()),
        international: false,
        billable_units: 1,
        sent_by: Some("outbox".into()),
        created_at: at,
        sent_at: None,
        updated_at: None,
        created_by_name: None,
        status_reason: None,
    }
}

impl Fixture for TestServer {
    fn service(&self) -> Uuid {
        self.service_id
    }
    fn template(&self, kind: NotificationType) -> Uuid {
        match kind {
            NotificationType::Sms => self.sms_template,
            NotificationType::Email => self.email_template,
            NotificationType::Letter => self.letter_template,
        }
    }
}

/// Whatever holds an app and a service to put notifications in.
trait Fixture {
    fn service(&self) -> Uuid;
    fn template(&self, kind: NotificationType) -> Uuid;

    fn notification(
        &self,
        kind: NotificationType,
        key_type: KeyType,
        status: NotificationStatus,
        at: i64,
    ) -> Notification {
        make(
            self.service(),
            self.template(kind),
            kind,
            key_type,
            status,
            at,
        )
    }
}

async fn insert(app: &App, rows: &[Notification]) {
    let rows = rows.to_vec();
    app.store
        .write(move |ctx| {
            for n in &rows {
                ctx.insert_notification(n)?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

fn is_live(app: &App, id: Uuid) -> bool {
    app.store
        .read()
        .unwrap()
        .get_notification(id)
        .unwrap()
        .is_some()
}

fn history(app: &App, id: Uuid) -> Option<NotificationHistory> {
    app.store
        .read()
        .unwrap()
        .get_notification_history(id)
        .unwrap()
}

async fn put_pdf(app: &App, n: &Notification) {
    app.blobs
        .put(&pdf_path(n), PutPayload::from(b"%PDF-1.4 letter".to_vec()))
        .await
        .unwrap();
}

async fn pdf_exists(app: &App, n: &Notification) -> bool {
    match app.blobs.head(&pdf_path(n)).await {
        Ok(_) => true,
        Err(object_store::Error::NotFound { .. }) => false,
        Err(e) => panic!("head: {e}"),
    }
}

async fn purge(app: &Arc<App>) -> String {
    retention::delete_notifications_older_than_retention(app)
        .await
        .unwrap()
}

async fn set_retention(s: &TestServer, kind: &str, days: u32) -> Value {
    let (status, body) = s
        .request(
            "POST",
            &format!("/service/{}/data-retention", s.service_id),
            Some(s.admin_auth()),
            Some(&json!({"notification_type": kind, "days_of_retention": days}).to_string()),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

/// Rows either side of a cut-off, for each type: (notification, archived?).
async fn boundary_rows(
    s: &TestServer,
    kind: NotificationType,
    cutoff: i64,
    around: &[(i64, bool)],
) -> Vec<(Notification, bool)> {
    let rows: Vec<(Notification, bool)> = around
        .iter()
        .map(|(offset, archived)| {
            let n = s.notification(
                kind,
                KeyType::Normal,
                NotificationStatus::Delivered,
                cutoff + offset,
            );
            (n, *archived)
        })
        .collect();
    let plain: Vec<Notification> = rows.iter().map(|(n, _)| n.clone()).collect();
    insert(&s.app, &plain).await;
    rows
}

fn check_rows(app: &App, rows: &[(Notification, bool)]) {
    for (n, archived) in rows {
        let when = storage::clock::format_api_timestamp(n.created_at);
        assert_eq!(
            history(app, n.id).is_some(),
            *archived,
            "{} created {when}: archived?",
            n.notification_type
        );
        assert_eq!(
            is_live(app, n.id),
            !archived,
            "{} created {when}: live?",
            n.notification_type
        );
    }
}

const MICROS_PER_HOUR: i64 = 3_600_000_000;

#[tokio::test]
async fn whole_london_days_are_kept_across_the_change_to_gmt() {
    // Monday 28 Oct 2024: clocks went back on Sunday 27th. Seven days back is Monday 21st,
    // which started at 23:00 UTC on the 20th (BST).
    let clock = ManualClock::new(utc("2024-10-28T03:00:00Z"));
    let s = start(&clock).await;
    set_retention(&s, "sms", 3).await;
    let email_cutoff = expected_cutoff(clock.now(), 7);
    assert_eq!(email_cutoff, utc("2024-10-20T23:00:00Z").timestamp_micros());
    // Three days back is Friday 25th (BST): 23:00 UTC on the 24th.
    let sms_cutoff = expected_cutoff(clock.now(), 3);
    assert_eq!(sms_cutoff, utc("2024-10-24T23:00:00Z").timestamp_micros());
    let around = [
        (-1, true),
        (0, false),
        // 23:30 UTC is already the kept London day: a GMT-only sum would archive it.
        (MICROS_PER_HOUR / 2, false),
        (-MICROS_PER_HOUR, true),
    ];
    let mut rows = boundary_rows(&s, NotificationType::Email, email_cutoff, &around).await;
    rows.extend(boundary_rows(&s, NotificationType::Sms, sms_cutoff, &around).await);
    let summary = purge(&s.app).await;
    assert!(summary.starts_with("archived 4 notifications"), "{summary}");
    check_rows(&s.app, &rows);
}

#[tokio::test]
async fn whole_london_days_are_kept_across_the_change_to_bst() {
    // Tuesday 1 Apr 2025: clocks went forward on Sunday 30 Mar. Seven days back is Tuesday
    // 25 Mar, which started at 00:00 UTC (GMT).
    let clock = ManualClock::new(london(2025, 4, 1, 3, 0));
    let s = start(&clock).await;
    set_retention(&s, "letter", 1).await;
    let cutoff = expected_cutoff(clock.now(), 7);
    assert_eq!(cutoff, utc("2025-03-25T00:00:00Z").timestamp_micros());
    // One day back is Monday 31 Mar, BST: 23:00 UTC on the 30th.
    let letter_cutoff = expected_cutoff(clock.now(), 1);
    assert_eq!(
        letter_cutoff,
        utc("2025-03-30T23:00:00Z").timestamp_micros()
    );
    let around = [
        (-1, true),
        (0, false),
        // 23:30 UTC on the 24th is still the 24th in London (GMT): a BST sum would keep it.
        (-MICROS_PER_HOUR / 2, true),
        (MICROS_PER_HOUR, false),
    ];
    let mut rows = boundary_rows(&s, NotificationType::Sms, cutoff, &around).await;
    rows.extend(boundary_rows(&s, NotificationType::Letter, letter_cutoff, &around).await);
    purge(&s.app).await;
    check_rows(&s.app, &rows);
}

#[tokio::test]
async fn letters_are_archived_by_status_and_their_pdfs_deleted_first() {
    use NotificationStatus::*;
    let clock = ManualClock::new(utc("2024-11-20T10:00:00Z"));
    let s = start(&clock).await;
    let old = utc("2024-11-01T10:00:00Z").timestamp_micros();
    let recent = utc("2024-11-19T10:00:00Z").timestamp_micros();
    // (status, key type, created, archived, deleted, PDF gone afterwards)
    let cases = [
        (Created, KeyType::Normal, old, false, false, false),
        (Sending, KeyType::Normal, old, false, false, false),
        (PendingVirusCheck, KeyType::Team, old, false, false, false),
        (Sent, KeyType::Normal, old, true, false, true),
        (Delivered, KeyType::Normal, old, true, false, true),
        (TechnicalFailure, KeyType::Normal, old, true, false, true),
        (TemporaryFailure, KeyType::Normal, old, true, false, true),
        (PermanentFailure, KeyType::Team, old, true, false, true),
        (ReturnedLetter, KeyType::Normal, old, true, false, true),
        (Cancelled, KeyType::Normal, old, true, false, true),
        (ValidationFailed, KeyType::Normal, old, true, false, true),
        (VirusScanFailed, KeyType::Normal, old, true, false, false),
        (Delivered, KeyType::Test, old, false, true, true),
        (Created, KeyType::Test, old, false, true, true),
        (Delivered, KeyType::Normal, recent, false, false, false),
        (Created, KeyType::Normal, recent, false, false, false),
    ];
    let mut letters = Vec::new();
    for (i, (status, key, at, ..)) in cases.iter().enumerate() {
        let n = s.notification(NotificationType::Letter, *key, *status, at + i as i64);
        put_pdf(&s.app, &n).await;
        letters.push(n);
    }
    // A delivered letter whose PDF is already gone: archived all the same.
    let missing = s.notification(
        NotificationType::Letter,
        KeyType::Normal,
        Delivered,
        old - 5,
    );
    letters.push(missing.clone());
    insert(&s.app, &letters).await;

    let summary = purge(&s.app).await;
    assert!(
        summary.contains("archived 10 notifications") && summary.contains("deleted 2 test"),
        "{summary}"
    );
    assert!(
        summary.contains("deleted 10 letter PDFs (1 already gone)"),
        "{summary}"
    );
    assert!(summary.contains("kept 3 letters"), "{summary}");
    for ((status, key, _, archived, deleted, pdf_gone), n) in cases.iter().zip(&letters) {
        let what = format!("{status} {key} letter");
        assert_eq!(
            history(&s.app, n.id).is_some(),
            *archived,
            "{what} archived?"
        );
        assert_eq!(
            is_live(&s.app, n.id),
            !archived && !deleted,
            "{what} still live?"
        );
        assert_eq!(!pdf_exists(&s.app, n).await, *pdf_gone, "{what} PDF gone?");
    }
    assert!(history(&s.app, missing.id).is_some());
    assert!(!is_live(&s.app, missing.id));
}

#[tokio::test]
async fn a_pdf_that_cannot_be_deleted_keeps_its_letter_live_until_a_later_run() {
    let clock = ManualClock::new(utc("2024-11-20T10:00:00Z"));
    let s = start(&clock).await;
    let old = utc("2024-11-01T10:00:00Z").timestamp_micros();
    let stuck = s.notification(
        NotificationType::Letter,
        KeyType::Normal,
        NotificationStatus::Delivered,
        old,
    );
    let fine = s.notification(
        NotificationType::Letter,
        KeyType::Normal,
        NotificationStatus::Delivered,
        old + 1,
    );
    insert(&s.app, &[stuck.clone(), fine.clone()]).await;
    put_pdf(&s.app, &fine).await;
    // A directory where the PDF should be: object storage refuses to delete it.
    let dir = s
        .app
        .config
        .blobs_dir()
        .join(pdf_path(&stuck).as_ref())
        .join("inside");
    std::fs::create_dir_all(&dir).unwrap();

    let outcome = retention::delete_notifications_older_than_retention(&s.app).await;
    match outcome {
        Err(DomainError::Blobs(m)) => {
            assert!(m.contains("archived 1 notifications"), "{m}");
            assert!(m.contains("1 letter PDFs could not be deleted"), "{m}");
        }
        other => panic!("expected a blob failure, got {other:?}"),
    }
    assert!(is_live(&s.app, stuck.id), "never lose a row");
    assert!(history(&s.app, stuck.id).is_none());
    assert!(history(&s.app, fine.id).is_some());

    // Storage recovers: the next run archives it.
    std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    let summary = purge(&s.app).await;
    assert!(summary.starts_with("archived 1 notifications"), "{summary}");
    assert!(history(&s.app, stuck.id).is_some());
    assert!(!is_live(&s.app, stuck.id));
}

#[tokio::test]
async fn test_key_notifications_are_deleted_and_history_has_no_personal_data() {
    let clock = ManualClock::new(utc("2024-11-20T10:00:00Z"));
    let s = start(&clock).await;
    let old = utc("2024-11-02T10:00:00Z").timestamp_micros();
    let mut rows = Vec::new();
    for (i, kind) in [NotificationType::Sms, NotificationType::Email]
        .into_iter()
        .enumerate()
    {
        for (j, key) in [KeyType::Normal, KeyType::Team, KeyType::Test]
            .into_iter()
            .enumerate()
        {
            let at = old + (i * 10 + j) as i64;
            rows.push(s.notification(kind, key, NotificationStatus::Delivered, at));
        }
    }
    insert(&s.app, &rows).await;
    let summary = purge(&s.app).await;
    assert!(
        summary.starts_with("archived 4 notifications, deleted 2 test notifications"),
        "{summary}"
    );
    for n in &rows {
        assert!(!is_live(&s.app, n.id));
        let kept = history(&s.app, n.id);
        if n.key_type == KeyType::Test {
            assert!(kept.is_none(), "test-key notifications are not archived");
            continue;
        }
        let kept = kept.expect("archived");
        assert_eq!(kept, NotificationHistory::from(n));
        assert_eq!(kept.status, NotificationStatus::Delivered);
        assert_eq!(kept.client_reference.as_deref(), Some("client-ref"));
        // Nothing personal survives in what is stored.
        let stored = String::from_utf8_lossy(&encode(&kept)).to_lowercase();
        for personal in [
            "annabel",
            "secretname",
            PHONE,
            "447700900123",
            "reply@example.com",
        ] {
            assert!(!stored.contains(personal), "history holds {personal:?}");
        }
    }
    // Status counts follow the rows out.
    let counts = s.app.store.read().unwrap().status_counts().unwrap();
    assert!(counts.is_empty(), "{counts:?}");
}

/// Wait until the indexer has taken in every change.
async fn index_settled(app: &App) {
    for _ in 0..500 {
        if app.store.read().unwrap().outbox_len().unwrap() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the indexer did not drain its outbox");
}

async fn wait_for_status(app: &App, id: Uuid, status: NotificationStatus) {
    for _ in 0..500 {
        let n = app.store.read().unwrap().get_notification(id).unwrap();
        if n.is_some_and(|n| n.status == status) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{id} never became {status}");
}

#[tokio::test]
async fn purged_notifications_leave_the_search_index() {
    let clock = ManualClock::new(utc("2024-11-01T10:00:00Z"));
    let s = start(&clock).await;
    let mut ids = Vec::new();
    for key in ["normal", "test"] {
        let (status, body) = s
            .call(
                key,
                "POST",
                "/v2/notifications/sms",
                Some(json!({
                    "phone_number": PHONE,
                    "template_id": s.sms_template,
                    "personalisation": {"name": SECRET_NAME},
                    "reference": format!("ref-{key}"),
                })),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        ids.push(Uuid::parse_str(body["id"].as_str().unwrap()).unwrap());
    }
    for id in &ids {
        wait_for_status(&s.app, *id, NotificationStatus::Delivered).await;
    }
    index_settled(&s.app).await;
    let found = |term: &str| s.app.index.search(s.service_id, term, None, 10).unwrap();
    assert_eq!(found("447700900123").len(), 2);
    assert_eq!(found("ref-test"), vec![ids[1]]);

    clock.set(utc("2024-11-12T04:00:00Z"));
    let summary = purge(&s.app).await;
    assert!(
        summary.starts_with("archived 1 notifications, deleted 1 test"),
        "{summary}"
    );
    index_settled(&s.app).await;
    assert!(found("447700900123").is_empty());
    assert!(found("ref-normal").is_empty());
    assert!(found(&ids[0].to_string()).is_empty());
    // And the public API no longer shows them.
    let (status, _) = s
        .call(
            "normal",
            "GET",
            &format!("/v2/notifications/{}", ids[0]),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

/// An app on a data directory of its own, to be closed and opened again.
struct Direct {
    app: Arc<App>,
    service: Uuid,
    templates: [Uuid; 3],
}

impl Fixture for Direct {
    fn service(&self) -> Uuid {
        self.service
    }
    fn template(&self, kind: NotificationType) -> Uuid {
        self.templates[kind as usize]
    }
}

impl Direct {
    /// A new service named `name` in `app`, with a template of each type.
    async fn create(app: &Arc<App>, name: &str) -> Direct {
        let service = services::create_service(
            app,
            &notify::domain::accounts::Actor::operator(),
            services::NewService {
                name: name.into(),
                restricted: false,
            },
        )
        .await
        .unwrap();
        let mut templates = [Uuid::nil(); 3];
        for kind in NotificationType::ALL {
            templates[*kind as usize] = templates::create_template(
                app,
                &notify::domain::accounts::Actor::operator(),
                service.id,
                templates::NewTemplate {
                    template_type: kind.as_str().into(),
                    name: kind.as_str().into(),
                    subject: (*kind != NotificationType::Sms).then(|| "Hi".into()),
                    content: "Hello ((name))".into(),
                    postage: None,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .id;
        }
        Direct {
            app: app.clone(),
            service: service.id,
            templates,
        }
    }
}

/// The purge walks every service at once, oldest first: rows of services with different
/// retention, interleaved in time, each go exactly at their own service's cut-off, in small
/// batches and chunks that mix services.
#[tokio::test]
async fn services_purged_together_each_keep_their_own_window() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(utc("2024-11-20T10:00:00Z"));
    let app = App::open(Config::for_tests(dir.path()), clock.clone() as SharedClock).unwrap();
    let mut fixtures = Vec::new();
    for (name, sms_days) in [
        ("Seven days", None),
        ("Three days", Some(3u32)),
        ("Nine", Some(9)),
    ] {
        let fx = Direct::create(&app, name).await;
        if let Some(days) = sms_days {
            retention::create_setting(
                &app.store,
                fx.service,
                &json!({"notification_type": "sms", "days_of_retention": days}),
            )
            .await
            .unwrap();
        }
        fixtures.push((
            fx,
            expected_cutoff(clock.now(), sms_days.unwrap_or(7).into()),
        ));
    }
    // A text every hour for 12 days, the services taking turns.
    let start = utc("2024-11-08T10:00:00Z").timestamp_micros();
    let mut rows = Vec::new();
    for i in 0..(12 * 24) {
        let (fx, cutoff) = &fixtures[i as usize % fixtures.len()];
        let at = start + i * MICROS_PER_HOUR;
        let n = fx.notification(
            NotificationType::Sms,
            KeyType::Normal,
            NotificationStatus::Delivered,
            at,
        );
        rows.push((n, *cutoff));
    }
    let notifications: Vec<Notification> = rows.iter().map(|(n, _)| n.clone()).collect();
    insert(&app, &notifications).await;

    let report = retention::purge_notifications(
        &app,
        PurgeOptions {
            batch_size: 5,
            write_chunk: 2,
            max_batches: None,
            max_rows_per_second: None,
        },
    )
    .await
    .unwrap();
    let archived: Vec<&Notification> = rows
        .iter()
        .filter(|(n, cutoff)| n.created_at < *cutoff)
        .map(|(n, _)| n)
        .collect();
    assert_eq!(report.archived, archived.len() as u64);
    assert!(archived.len() > 50 && archived.len() < rows.len() - 50);
    let reader = app.store.read().unwrap();
    for (n, cutoff) in &rows {
        let live = reader.get_notification(n.id).unwrap();
        let in_history = reader.get_notification_history(n.id).unwrap();
        if n.created_at < *cutoff {
            assert!(live.is_none(), "{} kept past its cut-off", n.id);
            assert_eq!(in_history, Some(NotificationHistory::from(n)));
        } else {
            assert_eq!(live.as_ref(), Some(n), "removed within its window");
            assert!(in_history.is_none());
        }
    }
    drop(reader);
    app.shutdown();
}

#[tokio::test]
async fn a_purge_cut_short_then_run_again_leaves_exactly_the_right_history() {
    use NotificationStatus::*;
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(utc("2024-11-20T10:00:00Z"));
    let mut config = Config::for_tests(dir.path());
    config.retention.batch_size = 7;
    let open = |config: &Config| App::open(config.clone(), clock.clone() as SharedClock).unwrap();
    let fx = Direct::create(&open(&config), "Retention").await;

    // 300 notifications over the last 20 days: every type, key type and letter status.
    let cutoff = expected_cutoff(clock.now(), 7);
    let start = utc("2024-10-31T10:00:00Z").timestamp_micros();
    let statuses = [
        Delivered,
        Created,
        Sending,
        ReturnedLetter,
        VirusScanFailed,
        Cancelled,
    ];
    let keys = [
        KeyType::Normal,
        KeyType::Team,
        KeyType::Test,
        KeyType::Normal,
    ];
    let mut rows = Vec::new();
    for i in 0..300i64 {
        let kind = NotificationType::ALL[i as usize % 3];
        let status = if kind == NotificationType::Letter {
            statuses[i as usize % statuses.len()]
        } else {
            Delivered
        };
        let at = start + i * MICROS_PER_HOUR * 3 / 2;
        rows.push(fx.notification(kind, keys[i as usize % 4], status, at));
    }
    for n in rows
        .iter()
        .filter(|n| n.notification_type == NotificationType::Letter)
    {
        put_pdf(&fx.app, n).await;
    }
    insert(&fx.app, &rows).await;
    let archived_expected: HashSet<Uuid> = rows
        .iter()
        .filter(|n| {
            n.created_at < cutoff
                && n.key_type != KeyType::Test
                && !(n.notification_type == NotificationType::Letter
                    && matches!(n.status, Created | Sending))
        })
        .map(|n| n.id)
        .collect();
    let live_expected: HashSet<Uuid> = rows
        .iter()
        .filter(|n| {
            n.created_at >= cutoff
                || (n.key_type != KeyType::Test
                    && n.notification_type == NotificationType::Letter
                    && matches!(n.status, Created | Sending))
        })
        .map(|n| n.id)
        .collect();
    assert!(archived_expected.len() > 60 && live_expected.len() > 60);

    // 1. Stopped after five commits, as if the process died there.
    let capped = PurgeOptions {
        batch_size: 7,
        write_chunk: 3,
        max_batches: Some(5),
        max_rows_per_second: None,
    };
    let report = retention::purge_notifications(&fx.app, capped)
        .await
        .unwrap();
    assert!(report.interrupted);
    assert_eq!(report.batches, 5);
    let done = report.archived + report.deleted;
    assert!(done > 0 && done <= 35, "{report:?}");
    // The worst moment for a crash: some PDFs deleted, their rows not yet archived.
    for n in rows.iter().filter(|n| {
        n.notification_type == NotificationType::Letter
            && archived_expected.contains(&n.id)
            && n.status != VirusScanFailed
    }) {
        if is_live(&fx.app, n.id) {
            fx.app.blobs.delete(&pdf_path(n)).await.unwrap();
            break;
        }
    }

    // 2. Restart on the same data directory; a run dropped part-way through.
    let Direct {
        app,
        service,
        templates,
    } = fx;
    app.shutdown();
    let fx = Direct {
        app: open(&config),
        service,
        templates,
    };
    let _ = tokio::time::timeout(
        Duration::from_millis(15),
        retention::delete_notifications_older_than_retention(&fx.app),
    )
    .await;
    // Dropping the run aborted its chunks' tasks: nothing of it commits after this point but a
    // commit already with the writer, which lands ahead of the next run's.

    // 3. A full run finishes the job: exactly the expected history, nothing lost, no extras.
    purge(&fx.app).await;
    let reader = fx.app.store.read().unwrap();
    assert_eq!(
        reader.notification_history_count().unwrap(),
        archived_expected.len() as u64
    );
    assert_eq!(
        reader.notification_count().unwrap(),
        live_expected.len() as u64
    );
    for n in &rows {
        let in_history = reader.get_notification_history(n.id).unwrap();
        let live = reader.get_notification(n.id).unwrap();
        if archived_expected.contains(&n.id) {
            assert_eq!(in_history, Some(NotificationHistory::from(n)));
            assert!(live.is_none());
        } else if live_expected.contains(&n.id) {
            assert_eq!(live.as_ref(), Some(n));
            assert!(in_history.is_none());
        } else {
            assert!(live.is_none() && in_history.is_none(), "test key row kept");
        }
        if n.notification_type == NotificationType::Letter {
            let pdf_kept = live_expected.contains(&n.id) || n.status == VirusScanFailed;
            assert_eq!(
                pdf_exists(&fx.app, n).await,
                pdf_kept,
                "{} letter",
                n.status
            );
        }
    }
    drop(reader);
    fx.app.shutdown();
}

#[tokio::test]
async fn a_simulated_month_keeps_exactly_the_window() {
    // From 1 Oct to 10 Nov 2024, across the change to GMT on 27 Oct: every day three times of
    // day, three kinds of row; every night at 03:00 London the purge runs.
    let clock = ManualClock::new(london(2024, 10, 1, 0, 5));
    let s = start(&clock).await;
    set_retention(&s, "email", 3).await;
    let mut created: Vec<Notification> = Vec::new();
    let first = chrono::NaiveDate::from_ymd_opt(2024, 10, 1).unwrap();
    for day in first.iter_days().take(41) {
        let (y, m, d) = (day.year(), day.month(), day.day());
        for (h, min) in [(0, 10), (12, 0), (23, 50)] {
            clock.set(london(y, m, d, h, min));
            let at = clock.now().timestamp_micros();
            let rows = [
                (NotificationType::Sms, KeyType::Normal),
                (NotificationType::Email, KeyType::Team),
                (NotificationType::Sms, KeyType::Test),
            ]
            .map(|(kind, key)| {
                let mut n = s.notification(kind, key, NotificationStatus::Delivered, at);
                n.id = s.app.store.clock().new_id();
                n
            });
            insert(&s.app, &rows).await;
            created.extend(rows);
        }
        let next = day + Days::new(1);
        let (y, m, d) = (next.year(), next.month(), next.day());
        clock.set(london(y, m, d, 3, 0));
        purge(&s.app).await;
        let now = clock.now();
        let (sms_cutoff, email_cutoff) = (expected_cutoff(now, 7), expected_cutoff(now, 3));
        for n in &created {
            let cutoff = match n.notification_type {
                NotificationType::Email => email_cutoff,
                _ => sms_cutoff,
            };
            let expired = n.created_at < cutoff;
            assert_eq!(is_live(&s.app, n.id), !expired, "{n:?} at {now}");
            let archived = expired && n.key_type != KeyType::Test;
            assert_eq!(history(&s.app, n.id).is_some(), archived, "{n:?} at {now}");
        }
        // The window itself: the last 7 whole London days of texts.
        let live_sms_days: HashSet<_> = created
            .iter()
            .filter(|n| n.notification_type == NotificationType::Sms && is_live(&s.app, n.id))
            .map(|n| {
                Utc.timestamp_micros(n.created_at)
                    .unwrap()
                    .with_timezone(&London)
                    .date_naive()
            })
            .collect();
        let days_so_far = day.signed_duration_since(first).num_days() as usize + 1;
        assert_eq!(live_sms_days.len(), days_so_far.min(7), "at {now}");
    }
}

#[tokio::test]
async fn received_texts_move_to_history_without_content_or_sender() {
    let clock = ManualClock::new(utc("2024-11-20T10:00:00Z"));
    let s = start(&clock).await;
    // This service keeps texts for 3 days; another keeps the default 7.
    set_retention(&s, "sms", 3).await;
    let other = services::create_service(
        &s.app,
        &notify::domain::accounts::Actor::operator(),
        services::NewService {
            name: "Other".into(),
            restricted: false,
        },
    )
    .await
    .unwrap();
    let text = |service_id: Uuid, at: &str| {
        let at = utc(at).timestamp_micros();
        InboundSms {
            id: v7_at_micros(at),
            service_id,
            user_number: "447700900999".into(),
            notify_number: "07700900000".into(),
            content: format!("Private reply from {SECRET_NAME}"),
            provider: "mmg".into(),
            provider_reference: Some("provider-ref".into()),
            provider_date: Some(at),
            created_at: at,
        }
    };
    let messages = [
        (text(s.service_id, "2024-11-16T23:59:59Z"), true),
        (text(s.service_id, "2024-11-17T00:00:00Z"), false),
        (text(other.id, "2024-11-12T23:59:59Z"), true),
        (text(other.id, "2024-11-13T00:00:00Z"), false),
        (text(other.id, "2024-11-16T10:00:00Z"), false),
    ];
    let all: Vec<InboundSms> = messages.iter().map(|(m, _)| m.clone()).collect();
    s.app
        .store
        .write(move |ctx| {
            for m in &all {
                ctx.insert_inbound_sms(m)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let summary = retention::delete_inbound_sms(&s.app).await.unwrap();
    assert_eq!(summary, "moved 2 received texts to history");
    let reader = s.app.store.read().unwrap();
    for (m, moved) in &messages {
        assert_eq!(reader.get_inbound_sms(m.id).unwrap().is_none(), *moved);
        let kept = reader.get_inbound_sms_history(m.id).unwrap();
        assert_eq!(kept.is_some(), *moved);
        if let Some(h) = kept {
            assert_eq!(h.provider_reference.as_deref(), Some("provider-ref"));
            let stored = String::from_utf8_lossy(&encode(&h)).to_lowercase();
            assert!(!stored.contains("private") && !stored.contains("447700900999"));
        }
    }
    // The listing no longer offers the moved ones.
    let listed = reader.service_inbound_sms(s.service_id, None, 10).unwrap();
    assert_eq!(listed.len(), 1);
}

#[tokio::test]
async fn job_files_past_retention_are_removed_and_their_jobs_archived() {
    let clock = ManualClock::new(utc("2024-11-20T10:00:00Z"));
    let s = start(&clock).await;
    let job = |template_id: Uuid, created: &str, scheduled: Option<&str>| {
        let created_at = utc(created).timestamp_micros();
        let id = v7_at_micros(created_at);
        Job {
            id,
            service_id: s.service_id,
            template_id,
            template_version: 1,
            original_file_name: "people.csv".into(),
            file_key: format!("service-{}-notify/{id}.csv", s.service_id),
            notification_count: 2,
            notifications_sent: 2,
            status: JobStatus::Finished,
            scheduled_for: scheduled.map(|t| utc(t).timestamp_micros()),
            contact_list_id: None,
            created_at,
            processing_started: None,
            processing_finished: None,
            archived: false,
            sender_id: None,
            created_by: None,
        }
    };
    let old_sms = job(s.sms_template, "2024-11-01T10:00:00Z", None);
    let old_email_no_file = job(s.email_template, "2024-11-02T10:00:00Z", None);
    let old_letter = job(s.letter_template, "2024-11-01T10:00:00Z", None);
    let scheduled_recently = job(
        s.sms_template,
        "2024-11-01T10:00:00Z",
        Some("2024-11-18T09:00:00Z"),
    );
    let recent = job(s.email_template, "2024-11-19T10:00:00Z", None);
    let jobs = [
        old_sms.clone(),
        old_email_no_file.clone(),
        old_letter.clone(),
        scheduled_recently.clone(),
        recent.clone(),
    ];
    for j in &jobs {
        if j.id != old_email_no_file.id {
            let path = object_store::path::Path::parse(&j.file_key).unwrap();
            s.app
                .blobs
                .put(
                    &path,
                    PutPayload::from(b"phone number\n07700900123\n".to_vec()),
                )
                .await
                .unwrap();
        }
    }
    let stored = jobs.to_vec();
    s.app
        .store
        .write(move |ctx| {
            for j in &stored {
                ctx.put_job(j)?;
            }
            Ok(())
        })
        .await
        .unwrap();

    let file_exists = |j: &Job| {
        let path = object_store::path::Path::parse(&j.file_key).unwrap();
        let blobs = s.app.blobs.clone();
        async move { blobs.head(&path).await.is_ok() }
    };
    let archived = |j: &Job| {
        s.app
            .store
            .read()
            .unwrap()
            .get_job(j.id)
            .unwrap()
            .unwrap()
            .archived
    };

    let summary = retention::remove_job_files(&s.app, false).await.unwrap();
    assert_eq!(summary, "removed the files of 2 email and text jobs");
    assert!(archived(&old_sms) && !file_exists(&old_sms).await);
    assert!(archived(&old_email_no_file), "a missing file is fine");
    assert!(!archived(&old_letter) && file_exists(&old_letter).await);
    assert!(!archived(&scheduled_recently) && file_exists(&scheduled_recently).await);
    assert!(!archived(&recent) && file_exists(&recent).await);

    let summary = retention::remove_job_files(&s.app, true).await.unwrap();
    assert_eq!(summary, "removed the files of 1 letter jobs");
    assert!(archived(&old_letter) && !file_exists(&old_letter).await);
    // Nothing left to do on a second run.
    let again = retention::remove_job_files(&s.app, false).await.unwrap();
    assert_eq!(again, "removed the files of 0 email and text jobs");
}

#[tokio::test]
async fn retention_settings_through_the_internal_api() {
    let s = TestServer::start().await;
    let auth = Some(s.admin_auth());
    let base = format!("/service/{}/data-retention", s.service_id);
    let post = |path: String, body: Value| {
        let auth = auth.clone();
        let s = &s;
        async move {
            s.request("POST", &path, auth, Some(&body.to_string()))
                .await
        }
    };

    let (status, body) = s.request("GET", &base, auth.clone(), None).await;
    assert_eq!((status, body), (200, json!({"data": []})));

    let (status, body) = post(
        base.clone(),
        json!({"notification_type": "sms", "days_of_retention": 10}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let created = body["data"].clone();
    assert_eq!(created["notification_type"], "sms");
    assert_eq!(created["days_of_retention"], 10);
    assert_eq!(created["service_id"], s.service_id.to_string());
    assert_eq!(created["service_name"], "API tests");
    assert!(created["updated_at"].is_null());
    let id = created["id"].as_str().unwrap().to_string();

    // One per type.
    let (status, body) = post(
        base.clone(),
        json!({"notification_type": "sms", "days_of_retention": 3}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["result"], "error");
    assert_eq!(
        body["message"],
        "Service already has data retention for sms notification type"
    );

    // Bad bodies.
    for (bad, message) in [
        (
            json!({"notification_type": "fax", "days_of_retention": 3}),
            "notification_type fax is not one of [sms, letter, email]",
        ),
        (
            json!({"days_of_retention": 3}),
            "notification_type is a required property",
        ),
        (
            json!({"notification_type": "email"}),
            "days_of_retention is a required property",
        ),
        (
            json!({"notification_type": "email", "days_of_retention": 0}),
            "days_of_retention 0 is less than the minimum of 1",
        ),
        (
            json!({"notification_type": "email", "days_of_retention": "5"}),
            "days_of_retention \"5\" is not of type integer",
        ),
        (
            json!({"notification_type": "email", "days_of_retention": 1.5}),
            "days_of_retention 1.5 is not of type integer",
        ),
    ] {
        let (status, body) = post(base.clone(), bad.clone()).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["message"], message, "{bad}");
    }
    let (status, _) = s
        .request("POST", &base, auth.clone(), Some("{not json"))
        .await;
    assert_eq!(status, 400);

    // By type, by id.
    let (status, body) = s
        .request(
            "GET",
            &format!("{base}/notification-type/sms"),
            auth.clone(),
            None,
        )
        .await;
    assert_eq!((status, &body["data"]), (200, &created));
    let (status, body) = s
        .request(
            "GET",
            &format!("{base}/notification-type/email"),
            auth.clone(),
            None,
        )
        .await;
    assert_eq!((status, body), (200, json!({"data": {}})));
    let (status, _) = s
        .request(
            "GET",
            &format!("{base}/notification-type/fax"),
            auth.clone(),
            None,
        )
        .await;
    assert_eq!(status, 400);
    let (status, body) = s
        .request("GET", &format!("{base}/{id}"), auth.clone(), None)
        .await;
    assert_eq!((status, &body["data"]), (200, &created));
    let unknown = Uuid::new_v4();
    let (status, body) = s
        .request("GET", &format!("{base}/{unknown}"), auth.clone(), None)
        .await;
    assert_eq!(status, 404, "{body}");

    // Change the days.
    let (status, body) = post(format!("{base}/{id}"), json!({"days_of_retention": 14})).await;
    assert_eq!((status, body), (204, Value::String(String::new())));
    let (_, body) = s.request("GET", &base, auth.clone(), None).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"][0]["days_of_retention"], 14);
    assert!(body["data"][0]["updated_at"].is_string());
    let (status, body) = post(format!("{base}/{id}"), json!({"days_of_retention": -2})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = post(format!("{base}/{unknown}"), json!({"days_of_retention": 5})).await;
    assert_eq!(status, 404);
    assert_eq!(
        body["message"],
        format!(
            "The service data retention for id: {unknown} was not found for service: {}",
            s.service_id
        )
    );

    // Another service neither sees nor changes this one's setting.
    let other = services::create_service(
        &s.app,
        &notify::domain::accounts::Actor::operator(),
        services::NewService {
            name: "Someone else".into(),
            restricted: false,
        },
    )
    .await
    .unwrap();
    let other_base = format!("/service/{}/data-retention", other.id);
    let (status, _) = s
        .request("GET", &format!("{other_base}/{id}"), auth.clone(), None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = post(
        format!("{other_base}/{id}"),
        json!({"days_of_retention": 5}),
    )
    .await;
    assert_eq!(status, 404);

    // Unknown service, no token.
    let nowhere = format!("/service/{}/data-retention", Uuid::new_v4());
    let (status, _) = s.request("GET", &nowhere, auth.clone(), None).await;
    assert_eq!(status, 404);
    let (status, _) = post(
        nowhere,
        json!({"notification_type": "sms", "days_of_retention": 5}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = s.request("GET", &base, None, None).await;
    assert_eq!(status, 401);

    // The purge uses the setting: a text 12 days old is kept with 14 days of retention.
    let now = s.app.store.clock().now();
    let at = (now - chrono::Duration::days(12)).timestamp_micros();
    let kept = s.notification(
        NotificationType::Sms,
        KeyType::Normal,
        NotificationStatus::Delivered,
        at,
    );
    insert(&s.app, std::slice::from_ref(&kept)).await;
    purge(&s.app).await;
    assert!(is_live(&s.app, kept.id));
}
