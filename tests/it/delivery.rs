//! Delivery end to end in-process: the outbox sink, test-key simulation, SMS through real HTTP
//! servers standing in for MMG, Firetext and a webhook provider (weighted choice, failover,
//! retries, receipts), service callbacks against a local receiver, and the sending timeout.
//! Email over a real SMTP server is tested with the real binary in `tests/clients`.

use crate::common;
use notify::domain::queues::Queue;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::TestServer;
use notify::config::{Config, SmsApiKind, SmsProviderConfig, SmsProviderKind};
use serde_json::{Value, json};
use warp::Filter;

/// One request a fake provider or callback receiver got.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    authorization: Option<String>,
    body: String,
}

/// A real HTTP server on 127.0.0.1 that records requests and answers with scripted statuses
/// (200 once the script runs out).
#[derive(Clone)]
struct Recorder {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
    always: Arc<Mutex<Option<u16>>>,
}

impl Recorder {
    async fn start() -> Recorder {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::new()));
        let always = Arc::new(Mutex::new(None));
        let (s, sc, al) = (seen.clone(), script.clone(), always.clone());
        let route = warp::path::full()
            .and(warp::header::optional::<String>("authorization"))
            .and(warp::body::bytes())
            .map(
                move |path: warp::path::FullPath, auth: Option<String>, body: Bytes| {
                    s.lock().unwrap().push(Seen {
                        path: path.as_str().to_string(),
                        authorization: auth,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    let status = al
                        .lock()
                        .unwrap()
                        .or_else(|| sc.lock().unwrap().pop_front())
                        .unwrap_or(200);
                    warp::reply::with_status(
                        warp::reply::json(&json!({"code": 0, "description": "queued"})),
                        warp::http::StatusCode::from_u16(status).unwrap(),
                    )
                },
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(warp::serve(route).incoming(listener).run());
        Recorder {
            addr,
            seen,
            script,
            always,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn answer(&self, statuses: &[u16]) {
        self.script.lock().unwrap().extend(statuses);
    }

    fn always_answer(&self, status: u16) {
        *self.always.lock().unwrap() = Some(status);
    }

    async fn wait_for(&self, count: usize) -> Vec<Seen> {
        for _ in 0..200 {
            let seen = self.seen();
            if seen.len() >= count {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {count} requests, got {:?}", self.seen());
    }
}

fn provider(name: &str, kind: SmsApiKind, url: String, priority: u32) -> SmsProviderConfig {
    SmsProviderConfig {
        name: name.into(),
        kind,
        url,
        api_key: "provider-key".into(),
        priority,
        supports_international: false,
        timeout_seconds: 5,
    }
}

fn http_sms(config: &mut Config, providers: Vec<SmsProviderConfig>) {
    config.providers.sms = SmsProviderKind::Http;
    config.sms_providers = providers;
    config.delivery.retry_delay_seconds = 0;
}

async fn send_sms(s: &TestServer, key: &str, phone: &str) -> String {
    let (status, body) = s
        .call(
            key,
            "POST",
            "/v2/notifications/sms",
            Some(json!({
                "phone_number": phone,
                "template_id": s.sms_template,
                "personalisation": {"name": "Ann"},
                "reference": "ref-1",
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn send_email(s: &TestServer, key: &str, to: &str) -> String {
    let (status, body) = s
        .call(
            key,
            "POST",
            "/v2/notifications/email",
            Some(json!({
                "email_address": to,
                "template_id": s.email_template,
                "personalisation": {"name": "Bob"},
                "one_click_unsubscribe_url": "https://example.gov.uk/unsubscribe",
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// Poll the v2 API until the notification has `want` (panics after ~10 s with what it has).
async fn wait_status(s: &TestServer, id: &str, want: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        let (_, body) = s
            .call("normal", "GET", &format!("/v2/notifications/{id}"), None)
            .await;
        if body["status"] == want {
            return body;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("notification {id} never became {want}: {last}");
}

async fn set_callback(s: &TestServer, kind_path: &str, url: &str) {
    let (status, body) = s
        .request(
            "POST",
            &format!("/service/{}/{kind_path}", s.service_id),
            Some(s.admin_auth()),
            Some(&json!({"url": url, "bearer_token": "callback-token-123"}).to_string()),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["url"], url);
    assert!(body["data"].get("bearer_token").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_keeps_what_would_have_been_sent_and_marks_it_delivered() {
    let s = TestServer::start().await;
    let email = send_email(&s, "normal", "someone@example.com").await;
    let sms = send_sms(&s, "normal", "07700 900123").await;
    let got = wait_status(&s, &email, "delivered").await;
    assert!(got["sent_at"].is_string(), "{got}");
    wait_status(&s, &sms, "delivered").await;

    let (status, body) = s
        .request("GET", "/outbox/messages", Some(s.admin_auth()), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let messages = body["data"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{body}");
    let mail = messages
        .iter()
        .find(|m| m["notification_id"] == email.as_str())
        .unwrap();
    assert_eq!(mail["to"], "someone@example.com");
    assert_eq!(mail["subject"], "Hi Bob");
    assert_eq!(mail["from"], "\"API tests\" <api.tests@notify.localhost>");
    assert_eq!(mail["body"], "Dear Bob\n");
    assert!(mail["html"].as_str().unwrap().contains("Dear Bob"));
    assert_eq!(
        mail["unsubscribe_url"],
        "https://example.gov.uk/unsubscribe"
    );
    let text = messages
        .iter()
        .find(|m| m["notification_id"] == sms.as_str())
        .unwrap();
    assert_eq!(text["to"], "447700900123");
    // The service name goes in front (services have `prefix_sms` on by default, as upstream).
    assert_eq!(text["body"], "API tests: Hello Ann");
    assert_eq!(text["from"], "GOVUK");

    // The web page, from loopback.
    let page = reqwest::get(format!("{}/outbox", s.base)).await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Hi Bob") && html.contains("Hello Ann"),
        "{html}"
    );

    // The internal listing needs the admin token.
    let (status, _) = s.request("GET", "/outbox/messages", None, None).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_keys_simulate_outcomes_from_the_recipient_and_never_reach_a_provider() {
    let mmg = Recorder::start().await;
    let s = TestServer::start_with(|c| {
        http_sms(
            c,
            vec![provider("mmg", SmsApiKind::Mmg, mmg.url("/mmg"), 100)],
        )
    })
    .await;
    let cases = [
        (
            send_sms(&s, "test", "07700900003").await,
            "temporary-failure",
        ),
        (
            send_sms(&s, "test", "07700900002").await,
            "permanent-failure",
        ),
        (send_sms(&s, "test", "07700900001").await, "delivered"),
        (
            send_email(&s, "test", "temp-fail@simulator.notify").await,
            "temporary-failure",
        ),
        (
            send_email(&s, "test", "perm-fail@simulator.notify").await,
            "permanent-failure",
        ),
        (
            send_email(&s, "test", "someone@example.com").await,
            "delivered",
        ),
    ];
    for (id, want) in &cases {
        let got = wait_status(&s, id, want).await;
        assert!(got["sent_at"].is_string(), "{got}");
    }
    assert!(mmg.seen().is_empty(), "a test key reached a provider");
    let (_, body) = s
        .request("GET", "/outbox/messages", Some(s.admin_auth()), None)
        .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 0, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_status_callbacks_carry_the_token_and_retry_server_errors_and_throttling() {
    let receiver = Recorder::start().await;
    receiver.answer(&[500, 429, 200]);
    let s = TestServer::start_with(|c| c.callbacks.retry_delay_seconds = 0).await;
    set_callback(&s, "delivery-receipt-api", &receiver.url("/status")).await;
    let id = send_sms(&s, "test", "07700900001").await;
    wait_status(&s, &id, "delivered").await;

    let seen = receiver.wait_for(3).await;
    s.wait_queue_empty(Queue::Callbacks).await;
    assert_eq!(receiver.seen().len(), 3, "one call, two retries, then done");
    for call in &seen {
        assert_eq!(call.path, "/status");
        assert_eq!(
            call.authorization.as_deref(),
            Some("Bearer callback-token-123")
        );
        let body: Value = serde_json::from_str(&call.body).unwrap();
        assert_eq!(body["id"], id.as_str());
        assert_eq!(body["status"], "delivered");
        assert_eq!(body["reference"], "ref-1");
        assert_eq!(body["to"], "07700900001");
        assert_eq!(body["notification_type"], "sms");
        assert_eq!(body["template_id"], s.sms_template.to_string());
        assert_eq!(body["template_version"], 1);
        assert!(body["sent_at"].as_str().unwrap().ends_with('Z'));
        assert!(body["completed_at"].is_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_refused_with_a_client_error_are_not_retried() {
    let receiver = Recorder::start().await;
    receiver.always_answer(400);
    let s = TestServer::start_with(|c| c.callbacks.retry_delay_seconds = 0).await;
    set_callback(&s, "delivery-receipt-api", &receiver.url("/status")).await;
    let id = send_email(&s, "test", "perm-fail@simulator.notify").await;
    wait_status(&s, &id, "permanent-failure").await;
    receiver.wait_for(1).await;
    s.wait_queue_empty(Queue::Callbacks).await;
    assert_eq!(receiver.seen().len(), 1);

    // The setting can be read (without its token) and removed.
    let path = format!("/service/{}/delivery-receipt-api", s.service_id);
    let (status, body) = s.request("GET", &path, Some(s.admin_auth()), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["callback_type"], "delivery_status");
    let (status, _) = s.request("DELETE", &path, Some(s.admin_auth()), None).await;
    assert_eq!(status, 204);
    let (status, _) = s.request("GET", &path, Some(s.admin_auth()), None).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_urls_must_be_https_unless_on_this_machine() {
    let s = TestServer::start().await;
    let (status, body) = s
        .request(
            "POST",
            &format!("/service/{}/delivery-receipt-api", s.service_id),
            Some(s.admin_auth()),
            Some(
                &json!({"url": "http://example.gov.uk/cb", "bearer_token": "long-enough-token"})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("https"),
        "{body}"
    );
    let (status, body) = s
        .request(
            "POST",
            &format!("/service/{}/delivery-receipt-api", s.service_id),
            Some(s.admin_auth()),
            Some(&json!({"url": "https://example.gov.uk/cb", "bearer_token": "short"}).to_string()),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        !body.to_string().contains("\"short\""),
        "token echoed: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_go_to_the_weighted_provider_in_its_format_and_wait_for_the_receipt() {
    let mmg = Recorder::start().await;
    let firetext = Recorder::start().await;
    let s = TestServer::start_with(|c| {
        http_sms(
            c,
            vec![
                provider("mmg", SmsApiKind::Mmg, mmg.url("/mmg"), 100),
                provider("firetext", SmsApiKind::Firetext, firetext.url("/ft"), 0),
            ],
        )
    })
    .await;
    let id = send_sms(&s, "normal", "07700 900123").await;
    let got = wait_status(&s, &id, "sending").await;
    assert!(got["sent_at"].is_string());
    let seen = mmg.wait_for(1).await;
    assert!(firetext.seen().is_empty(), "priority 0 got traffic");
    assert_eq!(seen[0].authorization.as_deref(), Some("Basic provider-key"));
    let req: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(req["MSISDN"], "447700900123");
    assert_eq!(req["msg"], "API tests: Hello Ann");
    assert_eq!(req["cid"], id.as_str());
    assert_eq!(req["sender"], "GOVUK");
    let stored = s
        .app
        .store
        .read()
        .unwrap()
        .get_notification(id.parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(stored.sent_by.as_deref(), Some("mmg"));

    // MMG's receipt finishes it.
    let (status, body) = s
        .request(
            "POST",
            "/notifications/sms/mmg",
            None,
            Some(
                &json!({"status": "3", "substatus": "2", "CID": id, "MSISDN": "447700900123"})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    wait_status(&s, &id, "delivered").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_move_traffic_to_the_other_provider() {
    let mmg = Recorder::start().await;
    mmg.always_answer(500);
    let firetext = Recorder::start().await;
    let s = TestServer::start_with(|c| {
        http_sms(
            c,
            vec![
                provider("mmg", SmsApiKind::Mmg, mmg.url("/mmg"), 100),
                provider("firetext", SmsApiKind::Firetext, firetext.url("/ft"), 0),
            ],
        );
        c.sms_switching.error_threshold = 1;
        c.sms_switching.step = 100;
        c.sms_switching.min_seconds_between_changes = 0;
    })
    .await;
    let id = send_sms(&s, "normal", "07700 900123").await;
    wait_status(&s, &id, "sending").await;
    assert_eq!(mmg.seen().len(), 2, "two failures, then the switch");
    let seen = firetext.wait_for(1).await;
    let form: Vec<(String, String)> = form_urlencoded::parse(seen[0].body.as_bytes())
        .into_owned()
        .collect();
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(field("apiKey").as_deref(), Some("provider-key"));
    assert_eq!(field("to").as_deref(), Some("447700900123"));
    assert_eq!(field("message").as_deref(), Some("API tests: Hello Ann"));
    assert_eq!(field("reference"), Some(id.clone()));
    let stored = s
        .app
        .store
        .read()
        .unwrap()
        .get_notification(id.parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(stored.sent_by.as_deref(), Some("firetext"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_keeps_failing_ends_in_technical_failure_after_the_retries() {
    let hook = Recorder::start().await;
    hook.always_answer(503);
    let receiver = Recorder::start().await;
    let s = TestServer::start_with(|c| {
        http_sms(
            c,
            vec![provider(
                "hook",
                SmsApiKind::Webhook,
                hook.url("/send"),
                100,
            )],
        );
        c.delivery.max_retries = 2;
    })
    .await;
    set_callback(&s, "delivery-receipt-api", &receiver.url("/status")).await;
    let id = send_sms(&s, "normal", "07700 900123").await;
    wait_status(&s, &id, "technical-failure").await;
    assert_eq!(hook.seen().len(), 3, "the first attempt and two retries");
    let req: Value = serde_json::from_str(&hook.seen()[0].body).unwrap();
    assert_eq!(req["to"], "447700900123");
    assert_eq!(req["body"], "API tests: Hello Ann");
    assert_eq!(
        hook.seen()[0].authorization.as_deref(),
        Some("Bearer provider-key")
    );
    let call = receiver.wait_for(1).await;
    let body: Value = serde_json::from_str(&call[0].body).unwrap();
    assert_eq!(body["status"], "technical-failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_still_sending_after_the_timeout_become_temporary_failures() {
    let hook = Recorder::start().await;
    let clock = storage::ManualClock::new(chrono::Utc::now());
    let s = TestServer::start_with_clock(clock.clone(), |c| {
        http_sms(
            c,
            vec![provider(
                "hook",
                SmsApiKind::Webhook,
                hook.url("/send"),
                100,
            )],
        )
    })
    .await;
    let id = send_sms(&s, "normal", "07700 900123").await;
    wait_status(&s, &id, "sending").await;
    // Not yet: 71 hours.
    clock.advance(Duration::from_secs(71 * 3600));
    assert_eq!(
        notify::domain::upkeep::timeout_sending_notifications(&s.app)
            .await
            .unwrap(),
        "notifications timed out: 0"
    );
    clock.advance(Duration::from_secs(2 * 3600));
    assert_eq!(
        notify::domain::upkeep::timeout_sending_notifications(&s.app)
            .await
            .unwrap(),
        "notifications timed out: 1"
    );
    let stored = s
        .app
        .store
        .read()
        .unwrap()
        .get_notification(id.parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(stored.status.as_str(), "temporary-failure");
}
