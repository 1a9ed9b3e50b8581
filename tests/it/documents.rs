//! Sending a file by email (§5.2) with the built-in document download: the link in the
//! message, the confirm-your-email page, the download itself, and the errors.

use crate::common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{TestServer, errors};
use notify::domain::templates;
use serde_json::{Value, json};
use uuid::Uuid;

const CSV: &[u8] = b"name,amount\nAnn,12.50\n";
const RECIPIENT: &str = "Ann.Example@Example.com";
const UNSUPPORTED: &str = "Unsupported file type 'application/zip'. Supported types are: '.csv', '.jpeg', '.jpg', '.png', '.xlsx', '.doc', '.docx', '.pdf', '.json', '.odt', '.rtf', '.txt'";

async fn doc_template(s: &TestServer) -> Uuid {
    templates::create_template(
        &s.app,
        &notify::domain::accounts::Actor::operator(),
        s.service_id,
        templates::NewTemplate {
            template_type: "email".into(),
            name: "With a file".into(),
            subject: Some("Your file".into()),
            content: "Download your file: ((doc))".into(),
            postage: None,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id
}

async fn with_contact_link(s: &TestServer) {
    s.update_service(|svc| svc.contact_link = Some("https://example.gov.uk/contact".into()))
        .await;
}

async fn send(s: &TestServer, key: &str, to: &str, template: Uuid, doc: Value) -> (u16, Value) {
    s.call(
        key,
        "POST",
        "/v2/notifications/email",
        Some(json!({
            "email_address": to,
            "template_id": template,
            "personalisation": {"doc": doc},
        })),
    )
    .await
}

/// The document link in a send response's body.
fn link_in(s: &TestServer, response: &Value) -> String {
    let body = response["content"]["body"].as_str().unwrap();
    let prefix = format!("{}/d/{}/", s.base, s.service_id);
    let start = body
        .find(&prefix)
        .unwrap_or_else(|| panic!("no document link in {body:?}"));
    body[start..]
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap()
        .to_string()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// POST the confirmation form: (status, content-type, content-disposition, body).
async fn confirm(link: &str, key: &str, email: &str) -> (u16, String, String, Vec<u8>) {
    let (page, _) = link.split_once('?').unwrap();
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("key", key)
        .append_pair("email_address", email)
        .finish();
    let resp = client()
        .post(format!("{page}/confirm"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    parts(resp).await
}

async fn get(url: &str) -> (u16, String, String, Vec<u8>) {
    parts(client().get(url).send().await.unwrap()).await
}

async fn parts(resp: reqwest::Response) -> (u16, String, String, Vec<u8>) {
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    let status = resp.status().as_u16();
    (
        status,
        content_type,
        disposition,
        resp.bytes().await.unwrap().to_vec(),
    )
}

fn key_of(link: &str) -> &str {
    link.split_once("?key=").unwrap().1
}

fn stored_documents(s: &TestServer) -> usize {
    let dir = s
        .app
        .config
        .blobs_dir()
        .join("documents")
        .join(s.service_id.to_string());
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test]
async fn files_need_a_contact_link() {
    let s = TestServer::start().await;
    let template = doc_template(&s).await;
    let (status, body) = send(
        &s,
        "normal",
        RECIPIENT,
        template,
        json!({"file": BASE64.encode(CSV), "filename": "report.csv"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        errors(&body),
        vec![(
            "BadRequestError".to_string(),
            format!(
                "Send files by email has not been set up - add contact details for your service at {}/services/{}/service-settings/send-files-by-email",
                s.base, s.service_id
            )
        )]
    );
    assert_eq!(stored_documents(&s), 0);
}

#[tokio::test]
async fn a_file_is_downloaded_after_the_recipient_confirms_their_email() {
    let s = TestServer::start().await;
    with_contact_link(&s).await;
    let template = doc_template(&s).await;
    let (status, body) = send(
        &s,
        "normal",
        RECIPIENT,
        template,
        json!({"file": BASE64.encode(CSV), "filename": "report.csv", "confirm_email_before_download": null, "retention_period": null}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let link = link_in(&s, &body);
    assert!(
        body["content"]["body"]
            .as_str()
            .unwrap()
            .starts_with("Download your file: ")
    );
    assert_eq!(stored_documents(&s), 2, "the file and its metadata");
    // The stored file is sealed: its bytes are nowhere in the blob store.
    let dir = s.app.config.blobs_dir().join("documents");
    for entry in walk(&dir) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(!bytes.windows(CSV.len()).any(|w| w == CSV), "{entry:?}");
    }

    // The link asks for the recipient's email address first.
    let (status, content_type, _, page) = get(&link).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = String::from_utf8(page).unwrap();
    let path = link
        .split_once('?')
        .unwrap()
        .0
        .strip_prefix(&s.base)
        .unwrap()
        .to_string();
    assert!(page.contains("Confirm your email address"), "{page}");
    assert!(
        page.contains(&format!(r#"action="{path}/confirm""#)),
        "{page}"
    );
    assert!(page.contains(&format!(r#"name="key" value="{}""#, key_of(&link))));

    // The wrong address: the form again, with an error.
    let (status, content_type, disposition, page) =
        confirm(&link, key_of(&link), "someone.else@example.com").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"));
    assert!(disposition.is_empty());
    let page = String::from_utf8(page).unwrap();
    assert!(
        page.contains("This is not the email address the file was sent to"),
        "{page}"
    );
    let (_, _, _, page) = confirm(&link, key_of(&link), "  ").await;
    assert!(
        String::from_utf8(page)
            .unwrap()
            .contains("Enter your email address")
    );

    // The right address (any case, spaces around it): the exact file.
    let (status, content_type, disposition, file) =
        confirm(&link, key_of(&link), " ann.example@EXAMPLE.com ").await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/csv");
    assert_eq!(disposition, r#"attachment; filename="report.csv""#);
    assert_eq!(file, CSV);

    // The right address with a tampered key: unavailable.
    let mut tampered = key_of(&link).to_string();
    let first = if tampered.starts_with('A') { "B" } else { "A" };
    tampered.replace_range(..1, first);
    let (status, _, _, page) = confirm(&link, &tampered, RECIPIENT).await;
    assert_eq!(status, 404);
    assert!(
        String::from_utf8(page)
            .unwrap()
            .contains("no longer available")
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test]
async fn a_file_without_confirmation_downloads_directly() {
    let s = TestServer::start().await;
    with_contact_link(&s).await;
    let template = doc_template(&s).await;
    let pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
    let (status, body) = send(
        &s,
        "normal",
        RECIPIENT,
        template,
        json!({"file": BASE64.encode(&pdf), "confirm_email_before_download": false, "retention_period": "4 weeks"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let link = link_in(&s, &body);

    let (status, content_type, disposition, file) = get(&link).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/pdf");
    assert_eq!(disposition, r#"attachment; filename="document.pdf""#);
    assert_eq!(file, pdf);

    // A tampered key, no key, or an unknown document: the same 404 page.
    let (page, key) = link.split_once("?key=").unwrap();
    let mut bad = key.to_string();
    let first = if bad.starts_with('A') { "B" } else { "A" };
    bad.replace_range(..1, first);
    for url in [
        format!("{page}?key={bad}"),
        page.to_string(),
        format!("{page}?key="),
        format!("{}/d/{}/{}?key={key}", s.base, s.service_id, Uuid::new_v4()),
        format!("{}/d/{}/not-a-uuid?key={key}", s.base, s.service_id),
    ] {
        let (status, content_type, disposition, body) = get(&url).await;
        assert_eq!(status, 404, "{url}");
        assert!(content_type.starts_with("text/html"));
        assert!(disposition.is_empty());
        assert!(
            String::from_utf8(body)
                .unwrap()
                .contains("The file is no longer available")
        );
    }
}

#[tokio::test]
async fn refused_files_are_400s_and_store_nothing() {
    let s = TestServer::start().await;
    with_contact_link(&s).await;
    let template = doc_template(&s).await;
    let bad_request = |m: &str| vec![("BadRequestError".to_string(), m.to_string())];

    let zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00 not an office file".to_vec();
    let (status, body) = send(
        &s,
        "normal",
        RECIPIENT,
        template,
        json!({"file": BASE64.encode(&zip)}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(errors(&body), bad_request(UNSUPPORTED));

    let (status, body) = send(
        &s,
        "normal",
        RECIPIENT,
        template,
        json!({"file": BASE64.encode(b"x"), "filename": "page.html"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        errors(&body),
        bad_request(&UNSUPPORTED.replace("application/zip", "text/html"))
    );

    let big = vec![b'a'; 2 * 1024 * 1024 + 1];
    let (status, body) = send(
        &s,
        "normal",
        RECIPIENT,
        template,
        json!({"file": BASE64.encode(&big), "filename": "big.txt"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(errors(&body), bad_request("File is larger than 2MB"));

    // A recipient the key may not send to is refused before anything is stored.
    let (status, body) = send(
        &s,
        "team",
        RECIPIENT,
        template,
        json!({"file": BASE64.encode(CSV), "filename": "report.csv"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        errors(&body),
        bad_request("Can’t send to this recipient using a team-only API key")
    );
    assert_eq!(stored_documents(&s), 0);
}

#[tokio::test]
async fn simulated_recipients_get_the_test_document_link() {
    let s = TestServer::start().await;
    with_contact_link(&s).await;
    let template = doc_template(&s).await;
    let (status, body) = send(
        &s,
        "normal",
        "simulate-delivered@notifications.service.gov.uk",
        template,
        json!({"file": BASE64.encode(CSV), "filename": "report.csv"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["content"]["body"],
        format!(
            "Download your file: {}/services/{}/documents/test-document",
            s.base, s.service_id
        )
    );
    assert_eq!(stored_documents(&s), 0);
}

/// `remove-expired-documents` deletes the files past their retention and keeps the others.
#[tokio::test]
async fn the_sweep_deletes_expired_files_only() {
    let clock = storage::ManualClock::new(chrono::Utc::now());
    let s = TestServer::start_with_clock(clock.clone(), |_| {}).await;
    with_contact_link(&s).await;
    let template = doc_template(&s).await;
    let mut links = Vec::new();
    for weeks in ["1 week", "4 weeks"] {
        let (status, body) = send(
            &s,
            "normal",
            RECIPIENT,
            template,
            json!({"file": BASE64.encode(CSV), "confirm_email_before_download": false,
                   "retention_period": weeks}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        links.push(link_in(&s, &body));
    }
    let before = stored_documents(&s);
    assert!(before >= 2, "{before}");

    // Nothing has expired yet.
    let said = notify::domain::documents::remove_expired_documents(&s.app)
        .await
        .unwrap();
    assert_eq!(
        said,
        "expired documents deleted: 0, orphaned files deleted: 0"
    );
    assert_eq!(stored_documents(&s), before);

    // Two weeks on, the one-week file goes; the four-week one stays and still downloads.
    clock.advance(std::time::Duration::from_secs(14 * 24 * 3600));
    let said = notify::domain::documents::remove_expired_documents(&s.app)
        .await
        .unwrap();
    assert_eq!(
        said,
        "expired documents deleted: 1, orphaned files deleted: 0"
    );
    assert_eq!(stored_documents(&s), before / 2);
    assert_eq!(get(&links[0]).await.0, 404);
    let (status, _, _, file) = get(&links[1]).await;
    assert_eq!(status, 200);
    assert_eq!(file, CSV);
}

/// With antivirus on, every file is scanned by a real clamd before it is kept: an infected
/// one refuses the send with upstream's error and stores nothing; a clean one goes out.
#[tokio::test]
async fn clamd_refuses_infected_files() {
    let clamd = common::servers::Clamd::start();
    let s = TestServer::start_with(|c| {
        c.antivirus.enabled = true;
        c.antivirus.clamd = clamd.address();
        c.antivirus.timeout_seconds = 10;
    })
    .await;
    with_contact_link(&s).await;
    let template = doc_template(&s).await;
    let mut infected = CSV.to_vec();
    infected.extend_from_slice(
        b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*\n",
    );
    let (status, body) = send(
        &s,
        "normal",
        RECIPIENT,
        template,
        json!({"file": BASE64.encode(&infected), "filename": "data.csv"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        errors(&body),
        vec![(
            "BadRequestError".to_string(),
            "File did not pass the virus scan".to_string()
        )]
    );
    assert_eq!(stored_documents(&s), 0);

    let (status, body) = send(
        &s,
        "normal",
        RECIPIENT,
        template,
        json!({"file": BASE64.encode(CSV), "filename": "data.csv"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(stored_documents(&s) > 0);
}
