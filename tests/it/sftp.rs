//! The printer's SFTP client against a real OpenSSH server (tests/common/sshd.rs): the remote
//! tree is a local temp dir, so every effect is checked on disk.

use crate::common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Instant;

use common::sshd::Sshd;
use notify::letters::sftp::{SftpError, SftpPrinter};

/// Deterministic, incompressible-looking bytes (xorshift), so a dropped or reordered chunk shows.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn upload_streams_renames_and_skips_an_identical_rerun() {
    let sshd = Sshd::start();
    let printer = SftpPrinter::new(sshd.settings());
    let local_dir = tempfile::tempdir().unwrap();
    let local = local_dir.path().join("batch.zip");
    let content = bytes(5 * 1024 * 1024 + 123, 7);
    std::fs::write(&local, &content).unwrap();
    let remote = sshd.root.join("upload/NOTIFY.TEST.zip");

    assert_eq!(printer.remote_size("NOTIFY.TEST.zip").await.unwrap(), None);
    let size = printer.upload(&local, "NOTIFY.TEST.zip").await.unwrap();
    assert_eq!(size, content.len() as u64);
    assert!(
        std::fs::read(&remote).unwrap() == content,
        "remote bytes differ"
    );
    assert_eq!(names_in(&sshd.root.join("upload")), ["NOTIFY.TEST.zip"]);
    assert_eq!(
        printer.remote_size("NOTIFY.TEST.zip").await.unwrap(),
        Some(content.len() as u64)
    );

    // A re-run finds the same size and sends nothing: the file is neither rewritten nor replaced.
    let before = std::fs::metadata(&remote).unwrap();
    let again = printer.upload(&local, "NOTIFY.TEST.zip").await.unwrap();
    assert_eq!(again, content.len() as u64);
    let after = std::fs::metadata(&remote).unwrap();
    assert_eq!(after.ino(), before.ino(), "file was replaced");
    assert_eq!(after.modified().unwrap(), before.modified().unwrap());

    // A different size (say, a partial file from an older client) is overwritten.
    let smaller = bytes(300_000, 9);
    std::fs::write(&local, &smaller).unwrap();
    let size = printer.upload(&local, "NOTIFY.TEST.zip").await.unwrap();
    assert_eq!(size, smaller.len() as u64);
    assert!(
        std::fs::read(&remote).unwrap() == smaller,
        "not overwritten"
    );
    assert_eq!(names_in(&sshd.root.join("upload")), ["NOTIFY.TEST.zip"]);

    // Names are plain file names, never paths.
    let err = printer.upload(&local, "../escape.zip").await.unwrap_err();
    assert!(matches!(err, SftpError::InvalidName(_)), "{err}");
    // A missing local file is a local error, before any connection.
    let err = printer
        .upload(&local_dir.path().join("missing.zip"), "x.zip")
        .await
        .unwrap_err();
    assert!(matches!(err, SftpError::Local { .. }), "{err}");
}

#[tokio::test]
async fn wrong_pinned_host_key_is_refused_and_nothing_uploaded() {
    let sshd = Sshd::start();
    let mut settings = sshd.settings();
    // A valid ed25519 key, just not the server's.
    settings.host_key = std::fs::read_to_string(sshd.client_key.with_extension("pub")).unwrap();
    let printer = SftpPrinter::new(settings.clone());
    let local_dir = tempfile::tempdir().unwrap();
    let local = local_dir.path().join("batch.zip");
    std::fs::write(&local, b"zip bytes").unwrap();

    let err = printer.upload(&local, "NOTIFY.TEST.zip").await.unwrap_err();
    assert!(matches!(err, SftpError::HostKeyMismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&format!("127.0.0.1:{}", sshd.port)), "{msg}");
    assert!(msg.contains("SHA256:"), "{msg}");
    assert!(names_in(&sshd.root.join("upload")).is_empty());

    settings.host_key = "not a key".into();
    let err = SftpPrinter::new(settings)
        .list_responses()
        .await
        .unwrap_err();
    assert!(matches!(err, SftpError::Config(_)), "{err}");
}

#[tokio::test]
async fn unknown_client_key_is_an_auth_error() {
    let sshd = Sshd::start();
    let mut settings = sshd.settings();
    // The host's own private key is a valid key that is not in authorized_keys.
    settings.private_key_file = Some(sshd.client_key.with_file_name("host_key"));
    let err = SftpPrinter::new(settings)
        .list_responses()
        .await
        .unwrap_err();
    assert!(matches!(err, SftpError::Auth { .. }), "{err}");
    assert!(err.to_string().contains(&sshd.user), "{err}");
}

#[tokio::test]
async fn responses_are_listed_read_and_archived() {
    let sshd = Sshd::start();
    let printer = SftpPrinter::new(sshd.settings());
    let responses = sshd.root.join("responses");
    std::fs::write(responses.join("b-RESPONSE.TXT"), b"ref2|Sent").unwrap();
    std::fs::write(responses.join("a-RESPONSE.TXT"), b"ref1|Sent\nref3|Sent\n").unwrap();
    std::fs::create_dir(responses.join("not-a-file")).unwrap();

    assert_eq!(
        printer.list_responses().await.unwrap(),
        ["a-RESPONSE.TXT", "b-RESPONSE.TXT"]
    );
    assert_eq!(
        printer.read_response("a-RESPONSE.TXT").await.unwrap(),
        b"ref1|Sent\nref3|Sent\n"
    );

    printer.archive_response("a-RESPONSE.TXT").await.unwrap();
    assert!(!responses.join("a-RESPONSE.TXT").exists());
    assert_eq!(
        std::fs::read(responses.join("processed/a-RESPONSE.TXT")).unwrap(),
        b"ref1|Sent\nref3|Sent\n"
    );
    // The processed folder is a directory, so it is not listed.
    assert_eq!(printer.list_responses().await.unwrap(), ["b-RESPONSE.TXT"]);

    // A second file of the same name (a re-delivery) replaces the archived one.
    std::fs::write(responses.join("a-RESPONSE.TXT"), b"again").unwrap();
    printer.archive_response("a-RESPONSE.TXT").await.unwrap();
    assert_eq!(
        std::fs::read(responses.join("processed/a-RESPONSE.TXT")).unwrap(),
        b"again"
    );

    let err = printer.read_response("gone.txt").await.unwrap_err();
    let not_found = |source: &std::io::Error| source.kind() == std::io::ErrorKind::NotFound;
    assert!(
        matches!(&err, SftpError::Remote { source, .. } if not_found(source)),
        "{err}"
    );
    let err = printer.archive_response("..").await.unwrap_err();
    assert!(matches!(err, SftpError::InvalidName(_)), "{err}");
}

#[tokio::test]
async fn stopped_server_fails_fast_and_restart_recovers() {
    let mut sshd = Sshd::start();
    let settings = sshd.settings();
    let timeout = settings.timeout;
    let printer = SftpPrinter::new(settings);
    let local_dir = tempfile::tempdir().unwrap();
    let local = local_dir.path().join("batch.zip");
    std::fs::write(&local, bytes(10_000, 3)).unwrap();
    printer.upload(&local, "one.zip").await.unwrap();

    sshd.stop();
    let started = Instant::now();
    let err = printer.upload(&local, "two.zip").await.unwrap_err();
    assert!(started.elapsed() < timeout, "took {:?}", started.elapsed());
    assert!(matches!(err, SftpError::Connect { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("127.0.0.1:{}", sshd.port)),
        "{err}"
    );

    sshd.restart();
    assert_eq!(printer.upload(&local, "two.zip").await.unwrap(), 10_000);
    assert_eq!(names_in(&sshd.root.join("upload")), ["one.zip", "two.zip"]);
}

#[tokio::test]
async fn silent_server_times_out() {
    // Accepts TCP connections (the kernel's backlog does) but never speaks SSH.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let sshd = Sshd::start();
    let mut settings = sshd.settings();
    settings.port = listener.local_addr().unwrap().port();
    settings.timeout = std::time::Duration::from_millis(300);
    let started = Instant::now();
    let err = SftpPrinter::new(settings)
        .list_responses()
        .await
        .unwrap_err();
    assert!(matches!(err, SftpError::Timeout { .. }), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}
