//! Letters out, end to end: letters sent through the real API get their PDFs, the 17:50 print
//! run zips them to the printer (a folder here; SFTP in `print_sftp`), and the printer's
//! response files mark them delivered — on an injected clock.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;

use common::TestServer;
use notify::letters::files::pdf_location;
use notify::letters::names::letter_reference;
use serde_json::json;
use storage::records::{Notification, NotificationStatus};
use storage::{ManualClock, SharedClock};
use uuid::Uuid;

fn at(rfc3339: &str) -> chrono::DateTime<chrono::Utc> {
    rfc3339.parse().unwrap()
}

fn notification(s: &TestServer, id: Uuid) -> Notification {
    s.stored_notification(id)
}

async fn wait_for(s: &TestServer, id: Uuid, done: impl Fn(&Notification) -> bool) -> Notification {
    s.wait_for(id, "ready", done).await
}

/// Send a templated letter and wait for its PDF.
async fn letter(s: &TestServer, key: &str, template: Uuid, name: &str) -> Uuid {
    let (status, body) = s
        .call(
            key,
            "POST",
            "/v2/notifications/letter",
            Some(json!({"template_id": template, "personalisation": {
                "address_line_1": name, "address_line_2": "1 High Street", "postcode": "SW1A 1AA", "name": name}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id: Uuid = body["id"].as_str().unwrap().parse().unwrap();
    wait_for(s, id, |n| n.updated_at.is_some()).await;
    id
}

async fn first_class_template(s: &TestServer) -> Uuid {
    notify::domain::templates::create_template(
        &s.app,
        &notify::domain::accounts::Actor::operator(),
        s.service_id,
        notify::domain::templates::NewTemplate {
            template_type: "letter".into(),
            name: "first".into(),
            subject: Some("First".into()),
            content: "Hello ((name))".into(),
            postage: Some("first".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id
}

/// A zip's name and its entries (PDF name, bytes).
type Zip = (String, Vec<(String, Vec<u8>)>);

/// Every zip in the print folder.
fn zips(folder: &Path) -> Vec<Zip> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ZIP"))
        .map(|p| {
            let mut archive = zip::ZipArchive::new(std::fs::File::open(&p).unwrap()).unwrap();
            let files = (0..archive.len())
                .map(|i| {
                    let mut f = archive.by_index(i).unwrap();
                    let mut bytes = Vec::new();
                    std::io::Read::read_to_end(&mut f, &mut bytes).unwrap();
                    (f.name().unwrap().to_string(), bytes)
                })
                .collect();
            (p.file_name().unwrap().to_string_lossy().to_string(), files)
        })
        .collect();
    out.sort();
    out
}

async fn run_job(s: &TestServer, name: &str) -> notify::scheduler::RunReport {
    notify::scheduler::run_now(&s.app, name).await.unwrap()
}

#[tokio::test]
async fn a_day_of_letters_goes_out_at_the_print_run_and_comes_back_delivered() {
    // Thursday 26 November 2026, 09:00 London (GMT).
    let clock = ManualClock::new(at("2026-11-26T09:00:00Z"));
    let shared: SharedClock = clock.clone();
    let s = TestServer::start_with_clock(shared, |c| {
        c.print.max_letters_per_zip = 2;
    })
    .await;
    let first = first_class_template(&s).await;
    // A straggler from Tuesday, letters from today, and one after today's deadline.
    clock.set(at("2026-11-24T11:00:00Z"));
    let straggler = letter(&s, "normal", s.letter_template, "Straggler").await;
    clock.set(at("2026-11-26T10:00:00Z"));
    let mut today = Vec::new();
    for i in 0..3 {
        today.push(letter(&s, "normal", s.letter_template, &format!("Second {i}")).await);
    }
    let express = letter(&s, "normal", first, "First").await;
    clock.set(at("2026-11-26T17:29:00Z"));
    let just_in_time = letter(&s, "normal", s.letter_template, "Just in time").await;
    clock.set(at("2026-11-26T17:31:00Z"));
    let too_late = letter(&s, "normal", s.letter_template, "Too late").await;
    let test_letter = letter(&s, "test", s.letter_template, "Test").await;
    let cancelled = letter(&s, "normal", s.letter_template, "Cancelled").await;
    clock.set(at("2026-11-26T12:00:00Z"));
    let (status, _) = s
        .request(
            "POST",
            &format!("/service/{}/notifications/{cancelled}/cancel", s.service_id),
            Some(s.admin_auth()),
            None,
        )
        .await;
    assert_eq!(status, 200);

    // The test-key letter was answered by the appliance's own response file.
    let n = wait_for(&s, test_letter, |n| n.status != NotificationStatus::Sending).await;
    assert_eq!(n.status, NotificationStatus::Delivered);

    clock.set(at("2026-11-26T17:50:00Z"));
    let report = run_job(&s, "collate-letter-pdfs-to-be-sent").await;
    assert!(report.ok, "{}", report.message);
    assert_eq!(
        report.message,
        "letters sent to print: 6 in 4 zips; already sent: 0; PDF missing: 0; failed: 0"
    );

    // The zips: first class first, two letters at most each, entries are bare PDF names.
    let folder = s.app.config.print_folder();
    let sent = zips(&folder);
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert!(
        sent.iter()
            .any(|(name, _)| name.starts_with("NOTIFY.2026-11-26.1.001."))
    );
    let mut in_zips = BTreeSet::new();
    for (name, files) in &sent {
        assert!(files.len() <= 2, "{name}");
        assert!(name.ends_with(&format!(
            ".{}.00000000-0000-0000-0000-000000000000.ZIP",
            s.service_id
        )));
        for (pdf_name, bytes) in files {
            assert!(!pdf_name.contains('/'), "{pdf_name}");
            assert!(bytes.starts_with(b"%PDF"));
            in_zips.insert(pdf_name.split('.').nth(1).unwrap().to_string());
        }
    }
    let printed: Vec<Uuid> = [straggler, express, just_in_time]
        .into_iter()
        .chain(today.clone())
        .collect();
    let expected: BTreeSet<String> = printed.iter().map(|id| letter_reference(*id)).collect();
    assert_eq!(in_zips, expected);
    // A zip's PDF is exactly the stored one.
    let n = notification(&s, express);
    let stored = std::fs::read(
        s.app
            .config
            .blobs_dir()
            .join("letters-pdf")
            .join(pdf_location(&n).1),
    )
    .unwrap();
    assert!(sent.iter().flat_map(|z| &z.1).any(|(_, b)| *b == stored));

    for id in &printed {
        let n = notification(&s, *id);
        assert_eq!(n.status, NotificationStatus::Sending, "{id}");
        assert_eq!(n.sent_by.as_deref(), Some("dvla"));
        assert!(n.sent_at.is_some());
    }
    assert_eq!(
        notification(&s, too_late).status,
        NotificationStatus::Created
    );
    assert_eq!(
        notification(&s, cancelled).status,
        NotificationStatus::Cancelled
    );

    // A re-run sends nothing twice.
    let report = run_job(&s, "collate-letter-pdfs-to-be-sent").await;
    assert_eq!(
        report.message,
        "letters sent to print: 0 in 0 zips; already sent: 0; PDF missing: 0; failed: 0"
    );
    assert_eq!(zips(&folder).len(), 4);

    // The printer answers: all sent but one.
    let responses = s.app.config.print_responses_folder();
    std::fs::create_dir_all(&responses).unwrap();
    let mut lines = String::new();
    for id in &printed {
        let status = if *id == straggler { "Failed" } else { "Sent" };
        lines.push_str(&format!(
            "{}|{status}|1|Sorted|2026-11-27\n",
            letter_reference(*id)
        ));
    }
    std::fs::write(responses.join("NOTIFY-20261127093000-RSP.TXT"), &lines).unwrap();
    clock.set(at("2026-11-27T09:35:00Z"));
    let report = run_job(&s, "process-dvla-response-files").await;
    assert_eq!(report.message, "response files applied: 1, refused: 0");
    assert!(
        responses
            .join("processed/NOTIFY-20261127093000-RSP.TXT")
            .exists()
    );
    for id in &printed {
        let want = if *id == straggler {
            NotificationStatus::TemporaryFailure
        } else {
            NotificationStatus::Delivered
        };
        assert_eq!(notification(&s, *id).status, want);
    }
    let alerts = s.app.store.read().unwrap().alerts(20).unwrap();
    let failed = alerts
        .iter()
        .find(|a| a.kind == "printer-reported-failed-letters")
        .unwrap();
    assert_eq!(failed.details, vec![letter_reference(straggler)]);
    let (status, body) = s
        .request(
            "GET",
            "/letters/print-responses",
            Some(s.admin_auth()),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let files = body["data"].as_array().unwrap();
    let ours = files
        .iter()
        .find(|f| f["filename"] == "NOTIFY-20261127093000-RSP.TXT")
        .unwrap();
    assert_eq!(ours["sorted_count"], 6);
    assert_eq!(ours["billing_day"], "2026-11-27");

    // Royal Mail sends one back: the printer's list names it by its reference.
    let body = json!({"references": [letter_reference(express), "ZZZZZZZZZZZZZZZZ"]}).to_string();
    let (status, body) = s
        .request(
            "POST",
            "/letters/returned",
            Some(s.admin_auth()),
            Some(&body),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["returned"], json!([express.to_string()]));
    assert_eq!(
        body["data"]["unknown_references"],
        json!(["ZZZZZZZZZZZZZZZZ"])
    );
    assert_eq!(
        notification(&s, express).status,
        NotificationStatus::ReturnedLetter
    );
}

#[tokio::test]
async fn response_files_are_applied_whole_or_not_at_all() {
    let s = TestServer::start().await;
    let a = letter(&s, "normal", s.letter_template, "A").await;
    let b = letter(&s, "normal", s.letter_template, "B").await;
    let (ra, rb) = (letter_reference(a), letter_reference(b));
    let upload =
        |name: &str, content: String| json!({"filename": name, "content": content}).to_string();
    let post = |body: String| {
        let s = &s;
        async move {
            s.request(
                "POST",
                "/letters/print-responses",
                Some(s.admin_auth()),
                Some(&body),
            )
            .await
        }
    };
    // A malformed second line: nothing applied, the line named.
    let (status, body) = post(upload(
        "NOTIFY-20261127093000-RSP.TXT",
        format!("{ra}|Sent|1|Sorted\n{rb}|Sent|1\n"),
    ))
    .await;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("line 2"),
        "{body}"
    );
    assert_eq!(notification(&s, a).status, NotificationStatus::Created);
    // An unknown sorted status.
    let (status, body) = post(upload(
        "NOTIFY-20261127093100-RSP.TXT",
        format!("{ra}|Sent|1|Sortish\n"),
    ))
    .await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("unknown Sorted status"),
        "{body}"
    );
    // A good file with an unknown reference: applied, the stranger reported.
    let (status, body) = post(upload(
        "NOTIFY-20261127093200-RSP.TXT",
        format!("{ra}|Sent|1|Sorted|2026-11-27\nZZZZZZZZZZZZZZZZ|Sent|1|Unsorted\n{rb}|Damaged|1|Sorted\n"),
    ))
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["delivered"], 1);
    assert_eq!(
        body["data"]["unknown_references"],
        json!(["ZZZZZZZZZZZZZZZZ"])
    );
    assert_eq!(body["data"]["failed_references"], json!([rb]));
    assert_eq!(body["data"]["unsorted_count"], 1);
    assert_eq!(notification(&s, a).status, NotificationStatus::Delivered);
    assert_eq!(
        notification(&s, b).status,
        NotificationStatus::TemporaryFailure
    );
    // The same file again: refused, nothing changes.
    let (status, body) = post(upload(
        "NOTIFY-20261127093200-RSP.TXT",
        format!("{rb}|Sent|1|Sorted\n"),
    ))
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        notification(&s, b).status,
        NotificationStatus::TemporaryFailure
    );
    // A badly named file.
    let (status, _) = post(upload("responses.txt", format!("{ra}|Sent|1|Sorted\n"))).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_crash_after_the_upload_never_sends_a_letter_twice() {
    let clock = ManualClock::new(at("2026-11-27T10:00:00Z"));
    let shared: SharedClock = clock.clone();
    let s = TestServer::start_with_clock(shared, |_| {}).await;
    let ids = [
        letter(&s, "normal", s.letter_template, "One").await,
        letter(&s, "normal", s.letter_template, "Two").await,
    ];
    // Friday evening run.
    clock.set(at("2026-11-27T17:50:00Z"));
    let report = run_job(&s, "collate-letter-pdfs-to-be-sent").await;
    assert!(
        report
            .message
            .starts_with("letters sent to print: 2 in 1 zips"),
        "{}",
        report.message
    );
    // As if the process died after the upload and its marker but before the statuses changed.
    let reset = ids;
    s.app
        .store
        .write(move |ctx| {
            for id in reset {
                let mut n = ctx.get_notification(id)?.unwrap();
                n.status = NotificationStatus::Created;
                n.sent_at = None;
                ctx.update_notification(&n)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let folder = s.app.config.print_folder();
    let before: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().modified().unwrap())
        .collect();
    let report = run_job(&s, "collate-letter-pdfs-to-be-sent").await;
    assert_eq!(
        report.message,
        "letters sent to print: 0 in 0 zips; already sent: 2; PDF missing: 0; failed: 0"
    );
    let after: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().modified().unwrap())
        .collect();
    assert_eq!(before, after, "no zip was written again");
    for id in ids {
        assert_eq!(notification(&s, id).status, NotificationStatus::Sending);
    }
    // Saturday's run (the run happens every day) finds nothing new.
    clock.set(at("2026-11-28T17:50:00Z"));
    let report = run_job(&s, "collate-letter-pdfs-to-be-sent").await;
    assert!(
        report
            .message
            .starts_with("letters sent to print: 0 in 0 zips"),
        "{}",
        report.message
    );
}

#[tokio::test]
async fn an_unreachable_printer_fails_the_batch_and_alerts() {
    let clock = ManualClock::new(at("2026-11-26T10:00:00Z"));
    let shared: SharedClock = clock.clone();
    let blocked = tempfile::NamedTempFile::new().unwrap();
    let folder = blocked.path().join("cannot-be-a-folder");
    let s = TestServer::start_with_clock(shared, move |c| {
        c.print.folder = folder;
        c.print.upload_retries = 1;
        c.print.retry_delay_seconds = 0;
    })
    .await;
    let id = letter(&s, "normal", s.letter_template, "Unlucky").await;
    clock.set(at("2026-11-26T17:50:00Z"));
    let report = run_job(&s, "collate-letter-pdfs-to-be-sent").await;
    assert!(!report.ok);
    assert!(report.message.contains("failed: 1"), "{}", report.message);
    let n = notification(&s, id);
    assert_eq!(n.status, NotificationStatus::TechnicalFailure);
    assert!(n.status_reason.unwrap().contains("print upload"));
    let alerts = s.app.store.read().unwrap().alerts(20).unwrap();
    assert!(
        alerts.iter().any(|a| a.kind == "print-upload-failed"),
        "{alerts:?}"
    );
}

/// A local endpoint standing in for a service's callback URL: the JSON bodies it was posted,
/// with the `Authorization` header each came with.
async fn callback_receiver() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(Option<String>, serde_json::Value)>>>,
) {
    use warp::Filter;
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let g = got.clone();
    let route = warp::post()
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::body::json())
        .map(move |auth: Option<String>, body: serde_json::Value| {
            g.lock().unwrap().push((auth, body));
            warp::reply()
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/returned", listener.local_addr().unwrap());
    tokio::spawn(warp::serve(route).incoming(listener).run());
    (url, got)
}

/// A letter printed by the real print run and reported returned by the printer reaches the
/// service's returned-letter callback: through the one status path (`Event::Returned`), the
/// durable callback queue and the callback worker, to a real local receiver.
#[tokio::test]
async fn a_returned_letter_reaches_the_service_s_returned_letter_callback() {
    let clock = ManualClock::new(at("2026-11-26T09:00:00Z"));
    let shared: SharedClock = clock.clone();
    let s = TestServer::start_with_clock(shared, |c| c.callbacks.allow_http = true).await;
    let (url, got) = callback_receiver().await;
    let (status, body) = s
        .request(
            "POST",
            &format!("/service/{}/returned-letter-api", s.service_id),
            Some(s.admin_auth()),
            Some(&json!({"url": url, "bearer_token": "returned-token-123"}).to_string()),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let id = letter(&s, "normal", s.letter_template, "Returned Person").await;
    clock.set(at("2026-11-26T17:50:00Z"));
    let report = run_job(&s, "collate-letter-pdfs-to-be-sent").await;
    assert!(report.ok, "{}", report.message);
    assert_eq!(notification(&s, id).status, NotificationStatus::Sending);

    clock.set(at("2026-11-30T10:00:00Z"));
    let (status, body) = s
        .request(
            "POST",
            "/letters/returned",
            Some(s.admin_auth()),
            Some(&json!({"notification_ids": [id]}).to_string()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["returned"], json!([id]));
    assert_eq!(
        notification(&s, id).status,
        NotificationStatus::ReturnedLetter
    );

    let start = std::time::Instant::now();
    while got.lock().unwrap().is_empty() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "the returned-letter callback never arrived"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (auth, body) = got.lock().unwrap()[0].clone();
    assert_eq!(auth.as_deref(), Some("Bearer returned-token-123"));
    assert_eq!(body["notification_id"], json!(id));
    assert_eq!(body["sent_by"], "API");
    assert_eq!(body["template_id"], json!(s.letter_template));
    assert!(
        !body.to_string().contains("Returned Person"),
        "no address in the callback: {body}"
    );
}
