//! Text-message routing end to end: two providers of the webhook kind served on 127.0.0.1, one
//! that confirms delivery at once (through the webhook receipt endpoint) and one that does not;
//! the slow-delivery check moves traffic away from the slow one; a person changes a share
//! through the internal API (saved as a new version and in force at once); the saved shares
//! outlive a restart.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::TestServer;
use notify::config::{Config, SmsApiKind, SmsProviderConfig, SmsProviderKind};
use serde_json::{Value, json};
use warp::Filter;

/// A fake provider: records the notification ids it was asked to send.
async fn fake_provider() -> (String, Arc<Mutex<Vec<String>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let route = warp::post()
        .and(warp::body::bytes())
        .map(move |body: Bytes| {
            let v: Value = serde_json::from_slice(&body).unwrap_or_default();
            g.lock()
                .unwrap()
                .push(v["reference"].as_str().unwrap_or("").to_string());
            warp::reply::json(&json!({"queued": true}))
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    tokio::spawn(warp::serve(route).incoming(listener).run());
    (url, got)
}

fn provider(name: &str, url: &str) -> SmsProviderConfig {
    SmsProviderConfig {
        name: name.into(),
        kind: SmsApiKind::Webhook,
        url: url.into(),
        api_key: "provider-key".into(),
        priority: 50,
        supports_international: false,
        timeout_seconds: 5,
    }
}

fn configure(c: &mut Config, fast: &str, slow: &str) {
    c.providers.sms = SmsProviderKind::Http;
    c.sms_providers = vec![provider("fast", fast), provider("slow", slow)];
    c.delivery.retry_delay_seconds = 0;
}

async fn send_sms(s: &TestServer) -> String {
    let (status, body) = s
        .call(
            "normal",
            "POST",
            "/v2/notifications/sms",
            Some(
                json!({"phone_number": "07700900123", "template_id": s.sms_template,
                        "personalisation": {"name": "Ann"}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn wait_for_sends(providers: &[&Arc<Mutex<Vec<String>>>], count: usize) {
    for _ in 0..400 {
        let total: usize = providers.iter().map(|p| p.lock().unwrap().len()).sum();
        if total >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the providers never got {count} texts");
}

async fn admin(s: &TestServer, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    s.request(
        method,
        path,
        Some(s.admin_auth()),
        body.map(|b| b.to_string()).as_deref(),
    )
    .await
}

/// `(id, priority, reason)` per provider name, from `GET /provider-details`.
async fn shares(s: &TestServer) -> Vec<(String, String, u64, Value)> {
    let (code, body) = admin(s, "GET", "/provider-details", None).await;
    assert_eq!(code, 200, "{body}");
    body["provider_details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["identifier"].as_str().unwrap().to_string(),
                p["id"].as_str().unwrap().to_string(),
                p["priority"].as_u64().unwrap(),
                p["reason"].clone(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_delivery_moves_traffic_and_shares_are_kept() {
    let (fast_url, fast) = fake_provider().await;
    let (slow_url, slow) = fake_provider().await;
    let clock = storage::ManualClock::new(chrono::Utc::now());
    // Our own data directory, to open it again after the server stops.
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_path_buf();
    let mut s = TestServer::start_with_clock(clock.clone(), |c| {
        c.data_dir = data_dir.clone();
        configure(c, &fast_url, &slow_url)
    })
    .await;
    let before = shares(&s).await;
    assert_eq!(
        before.iter().map(|p| p.2).collect::<Vec<_>>(),
        vec![50, 50],
        "{before:?}"
    );

    // 30 texts: each provider gets some (the choice is weighted, 50/50).
    for _ in 0..30 {
        send_sms(&s).await;
    }
    wait_for_sends(&[&fast, &slow], 30).await;
    let fast_ids = fast.lock().unwrap().clone();
    assert!(!fast_ids.is_empty() && !slow.lock().unwrap().is_empty());

    // The fast provider confirms its texts at once, through the webhook receipt endpoint.
    for id in &fast_ids {
        let resp = reqwest::Client::new()
            .post(format!("{}/notifications/sms/webhook", s.base))
            .json(&json!({"reference": id, "status": "delivered",
                          "timestamp": "2026-05-21T10:56:11Z"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
    }
    let bad = reqwest::Client::new()
        .post(format!("{}/notifications/sms/webhook", s.base))
        .json(&json!({"status": "delivered"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let (_, got) = s
        .call(
            "normal",
            "GET",
            &format!("/v2/notifications/{}", fast_ids[0]),
            None,
        )
        .await;
    assert_eq!(got["status"], "delivered");

    // Not slow yet: the slow provider's texts are a minute old.
    clock.advance(Duration::from_secs(60));
    notify::domain::sms_routing::switch_on_slow_delivery(&s.app)
        .await
        .unwrap();
    assert_eq!(
        shares(&s).await.iter().map(|p| p.2).collect::<Vec<_>>(),
        vec![50, 50]
    );

    // Six minutes on, every text of the slow provider is still undelivered: traffic moves.
    clock.advance(Duration::from_secs(5 * 60));
    let outcome = notify::domain::sms_routing::switch_on_slow_delivery(&s.app)
        .await
        .unwrap();
    assert!(outcome.contains("traffic moved"), "{outcome}");
    let after = shares(&s).await;
    let (fast_share, slow_share) = (&after[0], &after[1]);
    assert_eq!(fast_share.0, "fast");
    assert!(slow_share.2 < 50 && fast_share.2 > 50, "{after:?}");
    assert_eq!(slow_share.3, "Reduced due to reduced reliability");
    let slow_id = slow_share.1.clone();
    let (code, versions) = admin(
        &s,
        "GET",
        &format!("/provider-details/{slow_id}/versions"),
        None,
    )
    .await;
    assert_eq!(code, 200, "{versions}");
    assert_eq!(versions["data"][0]["priority"], slow_share.2);

    // A person switches the slow provider off: saved, and no text goes to it any more.
    let (code, refused) = admin(
        &s,
        "POST",
        &format!("/provider-details/{slow_id}"),
        Some(json!({"identifier": "renamed"})),
    )
    .await;
    assert_eq!(code, 400, "{refused}");
    let (code, changed) = admin(
        &s,
        "POST",
        &format!("/provider-details/{slow_id}"),
        Some(json!({"priority": 0, "active": false, "reason": "Late receipts"})),
    )
    .await;
    assert_eq!(code, 200, "{changed}");
    assert_eq!(changed["provider_details"]["priority"], 0);
    assert_eq!(changed["provider_details"]["active"], false);
    let (_, versions) = admin(
        &s,
        "GET",
        &format!("/provider-details/{slow_id}/versions"),
        None,
    )
    .await;
    assert_eq!(versions["data"][0]["reason"], "Late receipts");
    assert_eq!(versions["data"].as_array().unwrap().len(), 2);
    let slow_before = slow.lock().unwrap().len();
    for _ in 0..10 {
        send_sms(&s).await;
    }
    wait_for_sends(&[&fast, &slow], 40).await;
    assert_eq!(slow.lock().unwrap().len(), slow_before);

    // A restart keeps the shares as last saved.
    let config = s.app.config.clone();
    s.stop().await.unwrap();
    let app = s.app.clone();
    drop(s);
    app.shutdown();
    let reopened = Arc::new(notify::domain::context::Context::open(config, clock.clone()).unwrap());
    let listed = notify::domain::sms_routing::list_providers(&reopened).unwrap();
    let slow_listed = listed.iter().find(|p| p["identifier"] == "slow").unwrap();
    assert_eq!(slow_listed["priority"], 0);
    assert_eq!(slow_listed["active"], false);
    reopened.close();
}
