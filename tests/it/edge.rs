//! The HTTP edge against real clients: HTTPS with a test CA (the official python client, a
//! certificate swapped on disk, plain HTTP refused, the redirect listener), slow clients cut by
//! the header-read timeout, body limits and chunked bodies, who the client is (forwarded
//! headers believed only from trusted proxies), CORS and the Host check, request ids, and the
//! JWT / JSON edge cases where upstream is more lenient or more precise.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::servers::free_port;
use crate::common::tls::TlsFiles;
use crate::common::{TestServer, errors};

fn https_base(server: &TestServer) -> String {
    format!("https://127.0.0.1:{}", server.port())
}

fn https_client(ca_pem: &str) -> reqwest::Client {
    notify::app::install_tls_provider();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap()
}

/// The DER of the certificate a TLS handshake with the server presents.
async fn presented_certificate(port: u16, ca_pem: &str) -> Vec<u8> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

fn der_of(pem: &str) -> Vec<u8> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

/// Send raw bytes and read until the server closes or 30 s pass: (bytes read, closed by
/// the server).
async fn raw_exchange(port: u16, request: &[u8]) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut got)).await;
    (got, read.is_ok())
}

/// A raw HTTP/1.1 response's status and JSON body (chunked bodies are not expected).
fn parse_response(raw: &[u8]) -> (u16, String, Value) {
    let text = String::from_utf8_lossy(raw).to_string();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        status,
        head.to_ascii_lowercase(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

fn venv_python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/.venv/bin/python");
    assert!(
        python.exists(),
        "{} not found — run `bash tests/clients/setup.sh` (installs the official python client)",
        python.display()
    );
    python
}

#[tokio::test]
async fn the_python_client_sends_and_gets_over_https_with_a_test_ca() {
    let files = TlsFiles::new();
    let s = TestServer::start_with(|c| files.configure(c)).await;
    let script = r#"
import json, os, sys
from notifications_python_client.notifications import NotificationsAPIClient
client = NotificationsAPIClient(os.environ["KEY"], base_url=os.environ["BASE"])
sent = client.send_sms_notification(phone_number="07700900123", template_id=os.environ["TEMPLATE"],
                                    personalisation={"name": "TLS"}, reference="over-https")
got = client.get_notification_by_id(sent["id"])
print(json.dumps({"sent": sent, "got": got}))
"#;
    let out = tokio::process::Command::new(venv_python())
        .args(["-c", script])
        .env("KEY", &s.keys["test"])
        .env("BASE", https_base(&s))
        .env("TEMPLATE", s.sms_template.to_string())
        .env("REQUESTS_CA_BUNDLE", files.ca_file())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "python client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["sent"]["reference"], "over-https");
    assert_eq!(answer["sent"]["content"]["body"], "Hello TLS");
    assert_eq!(answer["got"]["id"], answer["sent"]["id"]);
    // Links in responses are https: the edge knows the client used TLS.
    assert!(
        answer["sent"]["uri"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:"),
        "{answer}"
    );

    // HSTS is sent over HTTPS (and only there: see the plain-HTTP tests).
    let resp = https_client(&files.ca.pem)
        .get(format!("{}/_status", https_base(&s)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("strict-transport-security"));
}

#[tokio::test]
async fn a_certificate_swapped_on_disk_is_served_without_restart() {
    let files = TlsFiles::new();
    let first = std::fs::read_to_string(files.cert_file()).unwrap();
    let s = TestServer::start_with(|c| files.configure(c)).await;
    assert_eq!(
        presented_certificate(s.port(), &files.ca.pem).await,
        der_of(&first)
    );

    let second = files.install("second");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if presented_certificate(s.port(), &files.ca.pem).await == der_of(&second) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Requests still work with the new certificate.
    let resp = https_client(&files.ca.pem)
        .get(format!("{}/_status", https_base(&s)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn plain_http_on_the_tls_port_is_refused() {
    let files = TlsFiles::new();
    let s = TestServer::start_with(|c| files.configure(c)).await;
    let (got, closed) = raw_exchange(
        s.port(),
        b"GET /_status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(closed, "the server closed the connection");
    assert!(
        !got.starts_with(b"HTTP/"),
        "no HTTP answer on the TLS port: {:?}",
        String::from_utf8_lossy(&got)
    );
}

#[tokio::test]
async fn the_plain_http_listener_only_redirects_to_https() {
    let files = TlsFiles::new();
    let redirect_port = free_port();
    let s = TestServer::start_with(|c| {
        files.configure(c);
        c.server.redirect_http_listen = format!("127.0.0.1:{redirect_port}");
    })
    .await;
    let (got, _) = raw_exchange(
        redirect_port,
        format!(
            "GET /outbox?before=5 HTTP/1.1\r\nHost: 127.0.0.1:{redirect_port}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    let (status, head, _) = parse_response(&got);
    assert_eq!(status, 301, "{head}");
    assert!(
        head.contains(&format!(
            "location: https://127.0.0.1:{}/outbox?before=5",
            s.port()
        )),
        "{head}"
    );
    assert!(!head.contains("strict-transport-security"));
    // Other methods keep theirs (308), and a foreign host gets no redirect.
    let (got, _) = raw_exchange(
        redirect_port,
        b"POST /v2/notifications/sms HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(parse_response(&got).0, 308);
    let (got, _) = raw_exchange(
        redirect_port,
        b"GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(parse_response(&got).0, 400);
}

#[tokio::test]
async fn a_slow_client_sending_half_its_headers_is_disconnected() {
    let s = TestServer::start_with(|c| c.server.header_read_timeout_secs = 1).await;
    let (got, closed) = raw_exchange(
        s.port(),
        b"POST /v2/notifications/sms HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty",
    )
    .await;
    assert!(
        closed,
        "a connection with a half-sent head must be closed by the header-read timeout"
    );
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    // Meanwhile the server answers others.
    let (status, _) = s.request("GET", "/_status", None, None).await;
    assert_eq!(status, 200);

    // A connection that never sends anything is closed after the idle timeout.
    let idle = TestServer::start_with(|c| c.server.idle_timeout_secs = 1).await;
    let (got, closed) = raw_exchange(idle.port(), b"").await;
    assert!(closed && got.is_empty(), "an idle connection is closed");
}

/// Bytes the server's end of a loopback connection has received but not read yet (from
/// /proc/net/tcp: the socket whose local port is the server's and remote port the client's).
fn unread_by_server(server_port: u16, client_port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let port = |f: &str| u16::from_str_radix(f.rsplit(':').next()?, 16).ok();
        if port(fields.get(1)?)? != server_port || port(fields.get(2)?)? != client_port {
            return None;
        }
        u64::from_str_radix(fields.get(4)?.split(':').nth(1)?, 16).ok()
    })
}

#[tokio::test]
async fn requests_in_flight_finish_when_the_server_stops() {
    let mut s = TestServer::start().await;
    let body = json!({"phone_number": "07700900123", "template_id": s.sms_template, "personalisation": {"name": "Late"}}).to_string();
    let token = s.token(&s.keys["test"]);
    let mut conn = TcpStream::connect(("127.0.0.1", s.port())).await.unwrap();
    let head = format!(
        "POST /v2/notifications/sms HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&body.as_bytes()[..10]).await.unwrap();
    // Stop only once the server has read what was sent: the request is then in its handler,
    // waiting for the rest of its body.
    let client_port = conn.local_addr().unwrap().port();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while unread_by_server(s.port(), client_port) != Some(0) {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never read the request"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let port = s.port();
    let stopping = tokio::spawn(async move { s.stop().await.map_err(|e| e.to_string()) });
    // New connections are no longer accepted once the stop is under way.
    let refused_deadline = std::time::Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
        assert!(
            std::time::Instant::now() < refused_deadline,
            "the listener was never closed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    conn.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut got = Vec::new();
    conn.read_to_end(&mut got).await.unwrap();
    let (status, _, answer) = parse_response(&got);
    assert_eq!(status, 201, "{answer}");
    stopping.await.unwrap().unwrap();
}

#[tokio::test]
async fn oversize_bodies_get_413_and_chunked_bodies_are_taken() {
    let s = TestServer::start_with(|c| {
        c.server.bodies.v2_kib = 64;
        c.server.bodies.internal_kib = 16;
    })
    .await;
    let token = s.token(&s.keys["test"]);
    let big = "x".repeat(70 * 1024);
    let (status, body) = s
        .request(
            "POST",
            "/v2/notifications/sms",
            Some(format!("Bearer {token}")),
            Some(&big),
        )
        .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["status_code"], 413);
    assert_eq!(errors(&body)[0].0, "RequestEntityTooLarge");

    // A small body sent chunked (no Content-Length) is accepted.
    let json_body = json!({"phone_number": "07700900123", "template_id": s.sms_template, "personalisation": {"name": "Chunky"}}).to_string();
    let (first, rest) = json_body.split_at(20);
    let request = format!(
        "POST /v2/notifications/sms HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{first}\r\n{:x}\r\n{rest}\r\n0\r\n\r\n",
        first.len(),
        rest.len()
    );
    let (got, _) = raw_exchange(s.port(), request.as_bytes()).await;
    let (status, _, answer) = parse_response(&got);
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["content"]["body"], "Hello Chunky");

    // A chunked body past the limit is cut there.
    let chunk = "y".repeat(16 * 1024);
    let mut request = format!(
        "POST /v2/notifications/sms HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for _ in 0..5 {
        request.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    request.push_str("0\r\n\r\n");
    let (got, _) = raw_exchange(s.port(), request.as_bytes()).await;
    let (status, _, answer) = parse_response(&got);
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["errors"][0]["error"], "RequestEntityTooLarge");

    // The internal API answers in its own error body.
    let (status, body) = s
        .request(
            "POST",
            "/service",
            Some(s.admin_auth()),
            Some(&"z".repeat(17 * 1024)),
        )
        .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["result"], "error");

    // 405 is for a path that exists with another method, and only that.
    let (status, _) = s
        .request("DELETE", "/v2/notifications/sms", None, None)
        .await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn forwarded_headers_are_believed_only_from_trusted_proxies() {
    let s = TestServer::start().await;
    let token = s.token(&s.keys["test"]);
    let client = reqwest::Client::new();
    let send = |forwarded: bool| {
        let mut req = client
            .post(format!("{}/v2/notifications/sms", s.base))
            .bearer_auth(&token)
            .json(&json!({"phone_number": "07700900123", "template_id": s.sms_template, "personalisation": {"name": "X"}}));
        if forwarded {
            req = req
                .header("x-forwarded-proto", "https")
                .header("x-forwarded-for", "203.0.113.9");
        }
        req.send()
    };
    let resp = send(true).await.unwrap();
    assert!(!resp.headers().contains_key("strict-transport-security"));
    let answer: Value = resp.json().await.unwrap();
    assert!(
        answer["uri"].as_str().unwrap().starts_with("http://"),
        "a forged X-Forwarded-Proto changes nothing: {answer}"
    );
    // A forged X-Forwarded-For names no client, and a request carrying one is not a browser
    // on this machine talking to us directly: the operator page wants a signed-in admin.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_redirects
        .get(format!("{}/outbox", s.base))
        .header("x-forwarded-for", "127.0.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/sign-in");

    // Behind a trusted proxy, the proxy's word counts: the client is elsewhere (and so not the
    // developer's own browser), and it used https.
    let proxied =
        TestServer::start_with(|c| c.server.trusted_proxies = vec!["127.0.0.1".into()]).await;
    let resp = no_redirects
        .get(format!("{}/outbox", proxied.base))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let resp = client
        .get(format!("{}/outbox", proxied.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "a browser on this machine, straight to the server (development)"
    );
    let token = proxied.token(&proxied.keys["test"]);
    let resp = client
        .post(format!("{}/v2/notifications/sms", proxied.base))
        .bearer_auth(&token)
        .header("x-forwarded-proto", "https")
        .json(&json!({"phone_number": "07700900123", "template_id": proxied.sms_template, "personalisation": {"name": "X"}}))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().contains_key("strict-transport-security"));
    let answer: Value = resp.json().await.unwrap();
    assert!(answer["uri"].as_str().unwrap().starts_with("https://"));
}

#[tokio::test]
async fn cors_only_on_the_public_api_and_pages_check_their_host() {
    let s = TestServer::start().await;
    let client = reqwest::Client::new();
    let cors = |r: &reqwest::Response| r.headers().get("access-control-allow-origin").cloned();

    let page = client
        .get(format!("{}/outbox", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(cors(&page), None);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");

    let internal = client
        .get(format!("{}/outbox/messages", s.base))
        .header("authorization", s.admin_auth())
        .send()
        .await
        .unwrap();
    assert_eq!(internal.status(), 200);
    assert_eq!(cors(&internal), None);
    assert!(internal.headers().get("content-security-policy").is_none());

    let v2 = client
        .get(format!("{}/v2/notifications", s.base))
        .bearer_auth(s.token(&s.keys["test"]))
        .send()
        .await
        .unwrap();
    assert_eq!(v2.status(), 200);
    assert_eq!(cors(&v2).unwrap(), "*");
    assert_eq!(
        v2.headers()["access-control-allow-headers"],
        "Content-Type,Authorization"
    );
    assert!(v2.headers().get("strict-transport-security").is_none());

    // A service's pages carry the page headers too (inline styles allowed for email previews,
    // never inline scripts).
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let service_page = no_redirects
        .get(format!("{}/services/{}", s.base, s.service_id))
        .send()
        .await
        .unwrap();
    assert_eq!(service_page.status(), 303, "not signed in: to sign in");
    let csp = service_page.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("script-src 'self';") && csp.contains("style-src 'self' 'unsafe-inline'"),
        "{csp}"
    );
    assert_eq!(service_page.headers()["referrer-policy"], "no-referrer");

    // DNS rebinding: the page under a name that is not ours is refused; the API still works.
    let service_path = format!("/services/{}", s.service_id);
    for path in ["/outbox", "/", service_path.as_str(), "/platform-admin"] {
        let (got, _) = raw_exchange(
            s.port(),
            format!(
                "GET {path} HTTP/1.1\r\nHost: attacker.example:6011\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await;
        let (status, head, _) = parse_response(&got);
        assert_eq!(status, 400, "{path}: {head}");
        assert!(!head.contains("access-control-allow-origin"));
    }
    let (got, _) = raw_exchange(
        s.port(),
        b"GET /_status HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(parse_response(&got).0, 200);
}

#[tokio::test]
async fn request_ids_are_returned_and_taken_from_the_client() {
    let s = TestServer::start().await;
    let client = reqwest::Client::new();
    let resp = client
        .get(format!("{}/_status", s.base))
        .header("x-request-id", "trace-42.a_b")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "trace-42.a_b");
    let resp = client
        .get(format!("{}/_status", s.base))
        .header("x-request-id", "not ok<script>")
        .send()
        .await
        .unwrap();
    let made = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(made.len(), 32);
    assert!(made.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[tokio::test]
async fn alg_none_tokens_get_upstreams_algorithm_message() {
    use base64::Engine as _;
    let s = TestServer::start().await;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let claims =
        crate::common::claims_for(&s.keys["normal"], s.app.store.clock().now().timestamp());
    let token = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims)
    );
    let (status, body) = s
        .request(
            "GET",
            "/v2/notifications",
            Some(format!("Bearer {token}")),
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        errors(&body),
        vec![(
            "AuthError".to_string(),
            "Invalid token: algorithm used is not HS256".to_string()
        )]
    );
    // A header that is not JSON at all is still the general message.
    let token = format!("bm90IGpzb24.{}.", b64(&claims));
    let (status, body) = s
        .request(
            "GET",
            "/v2/notifications",
            Some(format!("Bearer {token}")),
            None,
        )
        .await;
    assert_eq!(status, 403);
    assert!(errors(&body)[0].1.starts_with("Invalid token: make sure"));
}

#[tokio::test]
async fn json_bodies_with_a_bom_or_a_lone_surrogate_are_accepted_as_upstream_does() {
    let s = TestServer::start().await;
    let token = s.token(&s.keys["test"]);
    let body = json!({"phone_number": "07700900123", "template_id": s.sms_template, "personalisation": {"name": "Bom"}}).to_string();
    let with_bom = format!("\u{feff}{body}");
    let (status, answer) = s
        .request(
            "POST",
            "/v2/notifications/sms",
            Some(format!("Bearer {token}")),
            Some(&with_bom),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["content"]["body"], "Hello Bom");

    let surrogate = format!(
        r#"{{"phone_number": "07700900123", "template_id": "{}", "personalisation": {{"name": "A\ud800B"}}}}"#,
        s.sms_template
    );
    let (status, answer) = s
        .request(
            "POST",
            "/v2/notifications/sms",
            Some(format!("Bearer {token}")),
            Some(&surrogate),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    // U+FFFD in its place (which text messages then send as "?", as any character GSM lacks).
    let sent = answer["content"]["body"].as_str().unwrap();
    assert!(sent == "Hello A\u{fffd}B" || sent == "Hello A?B", "{sent}");
}

#[tokio::test]
async fn the_load_generator_measures_over_https() {
    let files = TlsFiles::new();
    let s = TestServer::start_with(|c| files.configure(c)).await;
    // Out of the way: 2 s of load on a quick machine empties the default bucket (3,000 a
    // minute, 1,000 at once) and the 429s would count as errors.
    s.update_service(|svc| svc.rate_limit = 10_000_000).await;
    let report = notify::loadgen::measure(&notify::loadgen::LoadArgs {
        url: https_base(&s),
        tls_ca: Some(files.ca_file()),
        key: s.keys["test"].clone(),
        template: s.sms_template,
        notification_type: "sms".into(),
        connections: 2,
        seconds: 1,
        rate: 0,
        server_pid: None,
    })
    .await
    .unwrap();
    assert!(report.accepted > 0, "{report:?}");
    assert_eq!(report.errors, 0, "{report:?}");
}
