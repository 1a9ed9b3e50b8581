//! The print run against a real SFTP server (Debian's sshd on a loopback port, `internal-sftp`):
//! zips land in the printer's upload folder holding exactly the letters' PDFs, only uploaded
//! letters change status, a printer that is down fails its batches without losing a letter,
//! and response files are fetched from the printer's response folder.

use crate::common;

use std::collections::BTreeSet;

use common::TestServer;
use common::sshd::Sshd;
use notify::config::{Config, PrintTransportKind};
use notify::letters::names::letter_reference;
use serde_json::json;
use storage::records::{Notification, NotificationStatus};
use storage::{ManualClock, SharedClock};
use uuid::Uuid;

fn at(rfc3339: &str) -> chrono::DateTime<chrono::Utc> {
    rfc3339.parse().unwrap()
}

fn notification(s: &TestServer, id: Uuid) -> Notification {
    s.app
        .store
        .read()
        .unwrap()
        .get_notification(id)
        .unwrap()
        .unwrap()
}

async fn letter(s: &TestServer, name: &str) -> Uuid {
    let (status, body) = s
        .call(
            "normal",
            "POST",
            "/v2/notifications/letter",
            Some(json!({"template_id": s.letter_template, "personalisation": {
                "address_line_1": name, "address_line_2": "1 High Street", "postcode": "SW1A 1AA", "name": name}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id: Uuid = body["id"].as_str().unwrap().parse().unwrap();
    s.wait_for(id, "given its PDF", |n| n.updated_at.is_some())
        .await;
    id
}

fn use_sftp(sshd: &Sshd) -> impl FnOnce(&mut Config) + '_ {
    move |c| {
        let settings = sshd.settings();
        c.print.transport = PrintTransportKind::Sftp;
        c.print.max_letters_per_zip = 2;
        c.print.upload_retries = 1;
        c.print.retry_delay_seconds = 0;
        let s = &mut c.print.sftp;
        s.host = settings.host;
        s.port = settings.port;
        s.username = settings.username;
        s.private_key_file = settings.private_key_file.unwrap();
        s.host_key = settings.host_key;
        s.upload_dir = settings.upload_dir;
        s.response_dir = settings.response_dir;
        s.timeout_seconds = 5;
    }
}

/// Zip name → references of the PDFs inside, read from the SFTP server's folder.
fn remote_zips(sshd: &Sshd) -> Vec<(String, BTreeSet<String>)> {
    let upload = std::path::PathBuf::from(sshd.settings().upload_dir);
    let mut out: Vec<_> = std::fs::read_dir(&upload)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            assert!(
                name.ends_with(".ZIP"),
                "only finished zips on the server: {name}"
            );
            let mut archive = zip::ZipArchive::new(std::fs::File::open(&p).unwrap()).unwrap();
            let refs = (0..archive.len())
                .map(|i| {
                    archive
                        .by_index(i)
                        .unwrap()
                        .name()
                        .unwrap()
                        .split('.')
                        .nth(1)
                        .unwrap()
                        .to_string()
                })
                .collect();
            (name, refs)
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn the_print_run_uploads_over_sftp_and_survives_the_server_going_away() {
    let mut sshd = Sshd::start();
    let clock = ManualClock::new(at("2026-11-25T10:00:00Z"));
    let shared: SharedClock = clock.clone();
    let s = TestServer::start_with_clock(shared, use_sftp(&sshd)).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(letter(&s, &format!("Person {i}")).await);
    }

    // Wednesday's run, with the printer's server down: every batch fails after its retry.
    sshd.stop();
    clock.set(at("2026-11-25T17:50:00Z"));
    let report = notify::scheduler::run_now(&s.app, "collate-letter-pdfs-to-be-sent")
        .await
        .unwrap();
    assert!(!report.ok);
    assert!(report.message.contains("failed: 5"), "{}", report.message);
    for id in &ids {
        assert_eq!(
            notification(&s, *id).status,
            NotificationStatus::TechnicalFailure
        );
    }

    // Thursday: the server is back; new letters go out, the failed ones are not sent again.
    sshd.restart();
    clock.set(at("2026-11-26T10:00:00Z"));
    let mut thursday = Vec::new();
    for i in 0..3 {
        thursday.push(letter(&s, &format!("Thursday {i}")).await);
    }
    clock.set(at("2026-11-26T17:50:00Z"));
    let report = notify::scheduler::run_now(&s.app, "collate-letter-pdfs-to-be-sent")
        .await
        .unwrap();
    assert!(report.ok, "{}", report.message);
    assert_eq!(
        report.message,
        "letters sent to print: 3 in 2 zips; already sent: 0; PDF missing: 0; failed: 0"
    );
    let zips = remote_zips(&sshd);
    assert_eq!(zips.len(), 2, "{zips:?}");
    let on_server: BTreeSet<String> = zips.iter().flat_map(|z| z.1.iter().cloned()).collect();
    let expected: BTreeSet<String> = thursday.iter().map(|id| letter_reference(*id)).collect();
    assert_eq!(on_server, expected);
    for id in &thursday {
        let n = notification(&s, *id);
        assert_eq!(n.status, NotificationStatus::Sending);
        assert_eq!(n.sent_by.as_deref(), Some("dvla"));
    }
    // A re-run uploads nothing new.
    let report = notify::scheduler::run_now(&s.app, "collate-letter-pdfs-to-be-sent")
        .await
        .unwrap();
    assert!(
        report
            .message
            .starts_with("letters sent to print: 0 in 0 zips"),
        "{}",
        report.message
    );
    assert_eq!(remote_zips(&sshd), zips);

    // The printer's response file, fetched over SFTP.
    let responses = std::path::PathBuf::from(sshd.settings().response_dir);
    let body: String = thursday
        .iter()
        .map(|id| format!("{}|Sent|1|Sorted|2026-11-27\n", letter_reference(*id)))
        .collect();
    std::fs::write(responses.join("NOTIFY-20261127080000-RSP.TXT"), body).unwrap();
    clock.set(at("2026-11-27T08:05:00Z"));
    let report = notify::scheduler::run_now(&s.app, "process-dvla-response-files")
        .await
        .unwrap();
    assert_eq!(report.message, "response files applied: 1, refused: 0");
    for id in &thursday {
        assert_eq!(notification(&s, *id).status, NotificationStatus::Delivered);
    }
    assert!(
        responses
            .join("processed/NOTIFY-20261127080000-RSP.TXT")
            .exists()
    );
}
