//! Letters in, end to end through the real HTTP API and the letter workers: templated letters
//! get their PDF, precompiled uploads go through a real clamd and validation, on a local
//! directory and on an S3 server (moto), and every file ends in the place §2 names.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use common::TestServer;
use common::cut_proxy::CutProxy;
use common::servers::{Clamd, S3Server};
use notify::letters::files::{Area, LetterFiles, pdf_location, scan_name};
use notify::letters::names;
use serde_json::{Value, json};
use storage::Clock;
use storage::records::{Notification, NotificationStatus};
use uuid::Uuid;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/letters")
        .join(name)
}

fn notification(s: &TestServer, id: Uuid) -> Notification {
    s.stored_notification(id)
}

async fn wait_for(
    s: &TestServer,
    id: Uuid,
    what: &str,
    done: impl Fn(&Notification) -> bool,
) -> Notification {
    s.wait_for(id, what, done).await
}

async fn wait_until_not(s: &TestServer, id: Uuid, status: NotificationStatus) -> Notification {
    wait_for(s, id, &format!("anything but {status}"), |n| {
        n.status != status
    })
    .await
}

fn files(s: &TestServer) -> LetterFiles {
    LetterFiles::new(s.app.blobs.clone())
}

async fn send_precompiled(s: &TestServer, key: &str, pdf: &[u8]) -> Uuid {
    let content = base64::engine::general_purpose::STANDARD.encode(pdf);
    let (status, body) = s
        .call(
            key,
            "POST",
            "/v2/notifications/letter",
            Some(json!({"reference": "precompiled", "content": content})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().parse().unwrap()
}

async fn send_templated(s: &TestServer, key: &str, template: Uuid, lines: &[&str]) -> Uuid {
    let mut p = serde_json::Map::new();
    for (i, line) in lines.iter().enumerate() {
        let k = if i + 1 == lines.len() {
            "postcode".to_string()
        } else {
            format!("address_line_{}", i + 1)
        };
        p.insert(k, json!(line));
    }
    p.insert("name".into(), json!("Sam"));
    let (status, body) = s
        .call(
            key,
            "POST",
            "/v2/notifications/letter",
            Some(json!({"template_id": template, "personalisation": p})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().parse().unwrap()
}

async fn get_pdf(s: &TestServer, key: &str, id: Uuid) -> (u16, Vec<u8>) {
    let token = s.token(&s.keys[key]);
    let resp = reqwest::Client::new()
        .get(format!("{}/v2/notifications/{id}/pdf", s.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
}

/// Words of page 1 with their boxes in millimetres from the top-left, read by poppler's
/// `pdftotext -bbox` (an extractor that is not ours).
fn words_on_first_page(pdf: &[u8]) -> Vec<(String, f64, f64, f64, f64)> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("letter.pdf");
    std::fs::write(&input, pdf).unwrap();
    let output = std::process::Command::new("pdftotext")
        .args(["-bbox", "-f", "1", "-l", "1"])
        .arg(&input)
        .arg("-")
        .output()
        .expect("pdftotext (Debian poppler-utils, installed by .ci/run)");
    assert!(output.status.success());
    let html = String::from_utf8_lossy(&output.stdout).to_string();
    let attr = |tag: &str, name: &str| -> f64 {
        let start = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        let end = start + tag[start..].find('"').unwrap();
        tag[start..end].parse::<f64>().unwrap() * 25.4 / 72.0
    };
    html.split("<word ")
        .skip(1)
        .map(|w| {
            let (tag, rest) = w.split_once('>').unwrap();
            let text = rest.split("</word>").next().unwrap().to_string();
            (
                text,
                attr(tag, "xMin"),
                attr(tag, "yMin"),
                attr(tag, "xMax"),
                attr(tag, "yMax"),
            )
        })
        .collect()
}

#[tokio::test]
async fn templated_letter_gets_a_pdf_with_the_address_in_the_window() {
    let s = TestServer::start().await;
    let lines = [
        "Ms Sam Example",
        "Flat 2",
        "10 Downing Street",
        "London",
        "SW1A 2AA",
    ];
    let id = send_templated(&s, "normal", s.letter_template, &lines).await;
    let n = wait_for(&s, id, "given its PDF", |n| n.updated_at.is_some()).await;
    assert_eq!(n.status, NotificationStatus::Created);
    assert_eq!(n.billable_units, 1, "one page is one sheet");

    // The file is where the print run looks: letters-pdf/<print day>/NOTIFY.<REF>.D.2.C.<ts>.PDF
    let (area, name) = pdf_location(&n);
    assert_eq!(area, Area::LettersPdf);
    let reference = names::letter_reference(id);
    assert!(
        name.starts_with(&format!(
            "{}/NOTIFY.{reference}.D.2.C.",
            names::print_day(n.created_at)
        )),
        "{name}"
    );
    let on_disk = std::fs::read(s.app.config.blobs_dir().join("letters-pdf").join(&name)).unwrap();
    let (status, served) = get_pdf(&s, "normal", id).await;
    assert_eq!(status, 200);
    assert_eq!(served, on_disk);

    // Every address word is inside the envelope window (x 24.6–120, y 39.5–66.3 mm).
    // Each line is found as its run of words (a lone "2" could be the date's day of the month).
    let words = words_on_first_page(&served);
    for line in lines {
        let wanted: Vec<&str> = line.split_whitespace().collect();
        let start = words
            .windows(wanted.len())
            .position(|run| {
                run[0].2 < 95.0 && run.iter().map(|w| w.0.as_str()).eq(wanted.iter().copied())
            })
            .unwrap_or_else(|| panic!("{line:?} not on page 1: {words:?}"));
        for (word, x0, y0, x1, y1) in &words[start..start + wanted.len()] {
            assert!(
                *x0 >= 24.6 && *x1 <= 120.0 && *y0 >= 39.5 && *y1 <= 66.3,
                "{word} at ({x0:.1},{y0:.1})–({x1:.1},{y1:.1}) mm is outside the window"
            );
        }
    }
    // Our own validator reads the same address back from the window.
    let read_back = notify::letters::validate::address_lines_in_window(&served).unwrap();
    assert_eq!(read_back, lines);
    // The subject (from the template: "About ((name))") is in the body area.
    assert!(
        words.iter().any(|w| w.0 == "About" && w.2 >= 95.0),
        "{words:?}"
    );
}

#[tokio::test]
async fn long_letters_fail_and_test_keys_go_to_test_letters() {
    let s = TestServer::start().await;
    let body = (0..400)
        .map(|i| format!("Paragraph {i} of a very long letter, ((name))."))
        .collect::<Vec<_>>()
        .join("\n\n");
    let long = notify::domain::templates::create_template(
        &s.app,
        &notify::domain::accounts::Actor::operator(),
        s.service_id,
        notify::domain::templates::NewTemplate {
            template_type: "letter".into(),
            name: "long".into(),
            subject: Some("Long".into()),
            content: body,
            postage: Some("first".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id;
    let lines = ["A Person", "1 High Street", "SW1A 1AA"];
    let id = send_templated(&s, "normal", long, &lines).await;
    let n = wait_until_not(&s, id, NotificationStatus::Created).await;
    assert_eq!(n.status, NotificationStatus::ValidationFailed);
    assert_eq!(n.status_reason.as_deref(), Some("letter-too-long"));
    assert_eq!(n.billable_units, 0);
    let (area, name) = pdf_location(&n);
    assert_eq!(area, Area::Invalid);
    assert!(!name.contains('/'), "no folder in letters-invalid: {name}");
    let reasons = files(&s)
        .get(Area::Invalid, &format!("{name}.json"))
        .await
        .unwrap()
        .unwrap();
    let reasons: Value = serde_json::from_slice(&reasons).unwrap();
    assert_eq!(reasons["message"], "letter-too-long");
    assert!(reasons["page_count"].as_u64().unwrap() > 10, "{reasons}");

    // Test key: a PDF in test-letters (no folder), delivered, not billed.
    let id = send_templated(&s, "test", s.letter_template, &lines).await;
    let n = wait_until_not(&s, id, NotificationStatus::Sending).await;
    assert_eq!(n.status, NotificationStatus::Delivered);
    assert_eq!(n.billable_units, 0);
    let (area, name) = pdf_location(&n);
    assert_eq!(area, Area::TestLetters);
    assert!(files(&s).exists(area, &name).await.unwrap());
    let (status, pdf) = get_pdf(&s, "test", id).await;
    assert_eq!(status, 200);
    assert!(pdf.starts_with(b"%PDF"));
}

/// What each fixture must come to, from its name: `fail-<code>.pdf` and
/// `fail-<code>--<variant>.pdf` → validation-failed with that code, `valid-*.pdf` → created.
fn fixtures() -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = std::fs::read_dir(fixture(""))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().to_string();
            let code = name
                .strip_prefix("fail-")
                .and_then(|r| r.strip_suffix(".pdf"))
                .map(|r| r.split("--").next().unwrap_or(r).to_string());
            (name.ends_with(".pdf") && (code.is_some() || name.starts_with("valid-")))
                .then_some((name, code))
        })
        .collect();
    out.sort();
    out
}

/// Every fixture, uploaded as a precompiled letter, ends with its status and code, and its file
/// ends in the right area; nothing is left in the scan area. The international fixture goes
/// last with the postcode-or-country case, once the service may send abroad.
async fn precompiled_fixtures_end_in_their_places(s: &TestServer) {
    let (abroad, home): (Vec<_>, Vec<_>) = fixtures().into_iter().partition(|f| {
        f.0 == "valid-international.pdf" || f.0 == "fail-not-a-real-uk-postcode-or-country.pdf"
    });
    assert!(
        home.iter().filter(|f| f.1.is_some()).count() >= 13,
        "{home:?}"
    );
    assert!(
        home.iter().filter(|f| f.1.is_none()).count() >= 3,
        "{home:?}"
    );
    assert_eq!(abroad.len(), 2);
    // New services may send abroad; take that away for the home-only cases first.
    s.update_service(|svc| svc.permissions.retain(|p| p != "international_letters"))
        .await;
    send_fixtures(s, home).await;
    s.update_service(|svc| svc.permissions.push("international_letters".into()))
        .await;
    send_fixtures(s, abroad).await;
}

async fn send_fixtures(s: &TestServer, all: Vec<(String, Option<String>)>) {
    let mut sent = Vec::new();
    for (name, code) in &all {
        let pdf = std::fs::read(fixture(name)).unwrap();
        sent.push((name, code, send_precompiled(s, "normal", &pdf).await, pdf));
    }
    if let Some((_, _, id, _)) = sent.iter().find(|f| f.0 == "valid-international.pdf") {
        let n = wait_until_not(s, *id, NotificationStatus::PendingVirusCheck).await;
        assert!(n.international);
        assert_eq!(n.postage.as_deref(), Some("europe"), "{}", n.to);
    }
    for (name, code, id, pdf) in sent {
        let n = wait_until_not(s, id, NotificationStatus::PendingVirusCheck).await;
        let scan = scan_name(&notification(s, id));
        match code {
            Some(code) => {
                assert_eq!(
                    n.status,
                    NotificationStatus::ValidationFailed,
                    "{name}: {:?}",
                    n.status_reason
                );
                assert_eq!(n.status_reason.as_deref(), Some(code.as_str()), "{name}");
                assert_eq!(n.billable_units, 0);
                assert_eq!(
                    files(s).get(Area::Invalid, &scan).await.unwrap().as_deref(),
                    Some(&pdf[..]),
                    "{name}"
                );
                let why: Value = serde_json::from_slice(
                    &files(s)
                        .get(Area::Invalid, &format!("{scan}.json"))
                        .await
                        .unwrap()
                        .unwrap(),
                )
                .unwrap();
                assert_eq!(why["message"], code.as_str(), "{name}");
            }
            None => {
                assert_eq!(
                    n.status,
                    NotificationStatus::Created,
                    "{name}: {:?}",
                    n.status_reason
                );
                assert!(n.billable_units >= 1, "{name}");
                assert_ne!(
                    n.to, "Provided as PDF",
                    "{name}: the address comes from the window"
                );
                let (area, location) = pdf_location(&n);
                assert_eq!(area, Area::LettersPdf);
                assert!(location.contains('/'), "{location}");
                assert_eq!(
                    files(s).get(area, &location).await.unwrap().as_deref(),
                    Some(&pdf[..]),
                    "{name}"
                );
                let (status, served) = get_pdf(s, "normal", id).await;
                assert_eq!((status, served), (200, pdf), "{name}");
            }
        }
        assert!(
            !files(s).exists(Area::Scan, &scan).await.unwrap(),
            "{name} left in letters-scan"
        );
        assert!(!files(s).exists(Area::LettersPdf, &scan).await.unwrap());
    }
}

#[tokio::test]
async fn precompiled_letters_without_antivirus_are_validated_on_disk() {
    let s = TestServer::start().await;
    precompiled_fixtures_end_in_their_places(&s).await;
}

/// A PDF carrying the EICAR test string (the project's clamd signatures match it anywhere).
fn infected_pdf() -> Vec<u8> {
    let mut pdf = std::fs::read(fixture("valid-1-page.pdf")).unwrap();
    pdf.extend_from_slice(
        b"\n%X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*\n",
    );
    pdf
}

fn with_clamd(clamd: &Clamd) -> impl FnOnce(&mut notify::config::Config) + '_ {
    move |c| {
        c.antivirus.enabled = true;
        c.antivirus.clamd = clamd.address();
        c.antivirus.max_retries = 2;
        c.antivirus.retry_delay_seconds = 0;
        c.antivirus.timeout_seconds = 10;
    }
}

#[tokio::test]
async fn clamd_stops_a_virus_and_lets_clean_letters_through() {
    let clamd = Clamd::start();
    let s = TestServer::start_with(with_clamd(&clamd)).await;
    let infected = infected_pdf();
    let bad = send_precompiled(&s, "normal", &infected).await;
    let good = send_precompiled(
        &s,
        "normal",
        &std::fs::read(fixture("valid-1-page.pdf")).unwrap(),
    )
    .await;

    let n = wait_until_not(&s, bad, NotificationStatus::PendingVirusCheck).await;
    assert_eq!(
        n.status,
        NotificationStatus::VirusScanFailed,
        "{:?}",
        n.status_reason
    );
    assert!(n.status_reason.as_deref().unwrap().contains("EICAR"));
    let name = scan_name(&n);
    assert_eq!(
        files(&s)
            .get(Area::ScanFailure, &name)
            .await
            .unwrap()
            .as_deref(),
        Some(&infected[..])
    );
    assert!(!files(&s).exists(Area::Scan, &name).await.unwrap());
    let (status, body) = s
        .call(
            "normal",
            "GET",
            &format!("/v2/notifications/{bad}/pdf"),
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"][0]["message"],
        "File did not pass the virus scan"
    );

    let n = wait_until_not(&s, good, NotificationStatus::PendingVirusCheck).await;
    assert_eq!(
        n.status,
        NotificationStatus::Created,
        "{:?}",
        n.status_reason
    );

    // The virus never reached the printer's area.
    let root = s.app.config.blobs_dir().join("letters-pdf");
    let printable = walk(&root);
    assert_eq!(printable.len(), 1, "{printable:?}");
    assert!(
        printable
            .iter()
            .all(|f| std::fs::read(f).unwrap() != infected)
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flat_map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() { walk(&p) } else { vec![p] }
        })
        .collect()
}

#[tokio::test]
async fn clamd_down_means_retries_then_technical_failure_and_a_replay_recovers() {
    let mut clamd = Clamd::start();
    let s = TestServer::start_with(with_clamd(&clamd)).await;
    clamd.stop();
    let pdf = std::fs::read(fixture("valid-1-page.pdf")).unwrap();
    let id = send_precompiled(&s, "normal", &pdf).await;
    let n = wait_until_not(&s, id, NotificationStatus::PendingVirusCheck).await;
    assert_eq!(n.status, NotificationStatus::TechnicalFailure);
    assert!(
        n.status_reason.as_deref().unwrap().contains("clamd"),
        "{:?}",
        n.status_reason
    );
    let name = scan_name(&n);
    assert_eq!(
        files(&s)
            .get(Area::ScanError, &name)
            .await
            .unwrap()
            .as_deref(),
        Some(&pdf[..])
    );
    assert!(!files(&s).exists(Area::Scan, &name).await.unwrap());
    let (status, body) = s
        .call(
            "normal",
            "GET",
            &format!("/v2/notifications/{id}/pdf"),
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"][0]["message"],
        "PDF not available for letters in status technical-failure"
    );
    // The alert follows the status change.
    let start = Instant::now();
    while !s
        .app
        .store
        .read()
        .unwrap()
        .alerts(10)
        .unwrap()
        .iter()
        .any(|a| a.kind == "letter-technical-failure")
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no letter-technical-failure alert"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The operator brings clamd back and replays letters-scan/ERROR.
    clamd.restart();
    let (status, body) = s
        .request(
            "POST",
            "/letters/replay-scan-errors",
            Some(s.admin_auth()),
            Some("{}"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["queued"], json!([id.to_string()]));
    let n = wait_for(&s, id, "created", |n| {
        n.status == NotificationStatus::Created
    })
    .await;
    assert_eq!(n.billable_units, 1);
    assert!(!files(&s).exists(Area::ScanError, &name).await.unwrap());
    let (area, location) = pdf_location(&n);
    assert!(files(&s).exists(area, &location).await.unwrap());
}

#[tokio::test]
async fn letters_on_s3_end_in_the_same_places() {
    let s3 = S3Server::start("notify-letters");
    let clamd = Clamd::start();
    let s = TestServer::start_with(|c| {
        s3.configure(c);
        with_clamd(&clamd)(c);
    })
    .await;
    // Templated: the PDF in the foldered letters-pdf key of the bucket.
    let id = send_templated(
        &s,
        "normal",
        s.letter_template,
        &["A Person", "1 High Street", "SW1A 1AA"],
    )
    .await;
    let n = wait_for(&s, id, "given its PDF", |n| n.updated_at.is_some()).await;
    let (area, name) = pdf_location(&n);
    let key = format!("{}/{name}", area.prefix());
    assert!(s3_object(&s, &key).await.starts_with(b"%PDF"), "{key}");
    // A virus is kept in FAILURE/ and nowhere else.
    let bad = send_precompiled(&s, "normal", &infected_pdf()).await;
    let n = wait_until_not(&s, bad, NotificationStatus::PendingVirusCheck).await;
    assert_eq!(n.status, NotificationStatus::VirusScanFailed);
    assert!(
        !s3_object(&s, &format!("letters-scan/FAILURE/{}", scan_name(&n)))
            .await
            .is_empty()
    );
    // And every fixture ends where it should.
    precompiled_fixtures_end_in_their_places(&s).await;
    let keys = s3_keys(&s).await;
    assert!(
        keys.iter().all(|k| !k.starts_with("letters-scan/NOTIFY")),
        "{keys:?}"
    );
    assert!(
        keys.iter().any(|k| k.starts_with("letters-invalid/NOTIFY")),
        "{keys:?}"
    );
    assert!(
        keys.iter()
            .any(|k| k.starts_with("letters-scan/FAILURE/NOTIFY")),
        "{keys:?}"
    );
    // The server's own listing agrees: these are objects in the bucket, not local files.
    assert!(!s.app.config.blobs_dir().join("letters-pdf").exists());
    drop(s);
}

/// The S3 store goes away (its network is cut; the server and its objects stay): a templated
/// letter is still accepted and its PDF is made once the store is back; a precompiled letter,
/// whose file must be stored before it is accepted, gets a 503 to try again; nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn letters_wait_out_an_s3_outage_and_nothing_is_lost() {
    let s3 = S3Server::start("notify-outage");
    let proxy = CutProxy::start(s3.port).await;
    let s = TestServer::start_with(|c| {
        s3.configure(c);
        c.blobs.s3.endpoint = proxy.endpoint();
        c.blobs.s3.retry_timeout_seconds = 1;
        c.letters.retry_delay_seconds = 1;
        c.letters.max_retries = 1000;
    })
    .await;
    proxy.cut();

    let templated = send_templated(
        &s,
        "normal",
        s.letter_template,
        &["A Person", "1 High Street", "SW1A 1AA"],
    )
    .await;
    let pdf = std::fs::read(fixture("valid-1-page.pdf")).unwrap();
    let content = base64::engine::general_purpose::STANDARD.encode(&pdf);
    let letter = json!({"reference": "during the outage", "content": content});
    let (status, body) = s
        .call("normal", "POST", "/v2/notifications/letter", Some(letter))
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body["errors"][0],
        json!({"error": "ServiceUnavailableError",
               "message": "The service cannot store files right now. Try again later."}),
        "{body}"
    );

    // The PDF's queue keeps trying while the store is away, and the letter waits for it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while proxy.turned_away() < 6 {
        assert!(Instant::now() < deadline, "nothing tried the store again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waiting = notification(&s, templated);
    assert_eq!(waiting.status, NotificationStatus::Created);
    assert!(
        waiting.updated_at.is_none(),
        "a PDF while the store was away"
    );

    proxy.restore();
    let n = wait_for(&s, templated, "given its PDF", |n| n.updated_at.is_some()).await;
    assert_eq!(n.status, NotificationStatus::Created);
    let (area, name) = pdf_location(&n);
    let key = format!("{}/{name}", area.prefix());
    assert!(s3_object(&s, &key).await.starts_with(b"%PDF"), "{key}");
    // With the store back, the precompiled letter is accepted and validated.
    let precompiled = send_precompiled(&s, "normal", &pdf).await;
    let n = wait_until_not(&s, precompiled, NotificationStatus::PendingVirusCheck).await;
    assert_eq!(
        n.status,
        NotificationStatus::Created,
        "{:?}",
        n.status_reason
    );
    // Only the two accepted letters exist: the refused upload left no notification.
    let stored = s.app.store.read().unwrap().notification_count().unwrap();
    assert_eq!(stored, 2);
}

/// An object from the S3 server, by its full key in the bucket.
async fn s3_object(s: &TestServer, key: &str) -> Vec<u8> {
    use object_store::ObjectStoreExt;
    let got = s.app.blobs.get(&object_store::path::Path::from(key)).await;
    got.unwrap_or_else(|e| panic!("{key}: {e}"))
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

async fn s3_keys(s: &TestServer) -> Vec<String> {
    use futures_util::TryStreamExt;
    s.app
        .blobs
        .list(None)
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn letters_can_be_cancelled_until_printing_starts() {
    // Monday 30 November 2026, 10:00 London (GMT).
    let clock = storage::ManualClock::new("2026-11-30T10:00:00Z".parse().unwrap());
    let shared: storage::SharedClock = clock.clone();
    let s = TestServer::start_with_clock(shared, |_| {}).await;
    let lines = ["A Person", "1 High Street", "SW1A 1AA"];
    let first = send_templated(&s, "normal", s.letter_template, &lines).await;
    let second = send_templated(&s, "normal", s.letter_template, &lines).await;
    wait_for(&s, second, "given its PDF", |n| n.updated_at.is_some()).await;
    let cancel = |id: Uuid| format!("/service/{}/notifications/{id}/cancel", s.service_id);

    let (status, body) = s
        .request("POST", &cancel(first), Some(s.admin_auth()), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "cancelled");
    assert_eq!(
        notification(&s, first).status,
        NotificationStatus::Cancelled
    );
    let (status, body) = s
        .request("POST", &cancel(first), Some(s.admin_auth()), None)
        .await;
    assert_eq!(
        (status, body["message"].clone()),
        (400, json!("This letter has already been cancelled."))
    );

    // 17:31: printing has started.
    clock.set("2026-11-30T17:31:00Z".parse().unwrap());
    let (status, body) = s
        .request("POST", &cancel(second), Some(s.admin_auth()), None)
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "It\u{2019}s too late to cancel this letter. Printing started today at 5.30pm"
    );
    assert_eq!(notification(&s, second).status, NotificationStatus::Created);

    let sms = s
        .call(
            "normal",
            "POST",
            "/v2/notifications/sms",
            Some(json!({"phone_number": "07700900123", "template_id": s.sms_template, "personalisation": {"name": "x"}})),
        )
        .await;
    let sms_id: Uuid = sms.1["id"].as_str().unwrap().parse().unwrap();
    let (status, body) = s
        .request("POST", &cancel(sms_id), Some(s.admin_auth()), None)
        .await;
    assert_eq!(
        (status, body["message"].clone()),
        (
            400,
            json!("Notification cannot be cancelled - only letters can be cancelled")
        )
    );
    let (status, _) = s
        .request("POST", &cancel(Uuid::new_v4()), Some(s.admin_auth()), None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_pending_virus_check_monitor_rescans_or_alerts() {
    let clock = storage::ManualClock::new("2026-11-30T10:00:00Z".parse().unwrap());
    let shared: storage::SharedClock = clock.clone();
    let s = TestServer::start_with_clock(shared, |_| {}).await;
    let pdf = std::fs::read(fixture("valid-1-page.pdf")).unwrap();
    let model = send_precompiled(&s, "normal", &pdf).await;
    let model = wait_until_not(&s, model, NotificationStatus::PendingVirusCheck).await;
    // Two uploads whose scan was lost (as after a crash of an older version): one still has
    // its file in letters-scan, the other's file is gone.
    clock.advance(Duration::from_secs(30 * 60));
    let mut stuck = Vec::new();
    for keep_file in [true, false] {
        let mut n = model.clone();
        n.created_at = clock.now_micros() - 20 * 60 * 1_000_000;
        n.id = storage::clock::v7_at_micros(n.created_at);
        n.status = NotificationStatus::PendingVirusCheck;
        n.updated_at = None;
        n.billable_units = 0;
        if keep_file {
            files(&s)
                .put(Area::Scan, &scan_name(&n), pdf.clone().into())
                .await
                .unwrap();
        }
        let row = n.clone();
        s.app
            .store
            .write(move |ctx| ctx.insert_notification(&row))
            .await
            .unwrap();
        stuck.push(n.id);
    }
    let report = notify::scheduler::run_now(&s.app, "check-if-letters-still-pending-virus-check")
        .await
        .unwrap();
    assert!(report.ok, "{}", report.message);
    assert_eq!(report.message, "letters scanned again: 1");
    let n = wait_until_not(&s, stuck[0], NotificationStatus::PendingVirusCheck).await;
    assert_eq!(n.status, NotificationStatus::Created);
    let alerts = s.app.store.read().unwrap().alerts(10).unwrap();
    let alert = alerts
        .iter()
        .find(|a| a.kind == "letters-still-pending-virus-check")
        .expect("an alert for the letter whose upload is gone");
    assert!(
        alert.details[0].contains(&stuck[1].to_string()),
        "{alert:?}"
    );
    assert_eq!(
        notification(&s, stuck[1]).status,
        NotificationStatus::PendingVirusCheck
    );
}
