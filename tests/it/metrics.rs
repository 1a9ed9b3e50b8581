//! `GET /metrics` end to end: the real server, real sends through the outbox and a failing SMS
//! provider, a scheduled job run by hand; the scrape is parsed and each counter must have moved
//! by exactly what happened. The endpoint refuses requests without its token.

use std::collections::BTreeMap;

use notify::config::{SmsApiKind, SmsProviderConfig, SmsProviderKind};
use serde_json::json;

use crate::common::TestServer;
use crate::common::servers::free_port;

const TOKEN: &str = "metrics-token-for-the-tests";

/// One scrape: `name{label="value",...}` (labels sorted) → value.
#[derive(Debug)]
struct Scrape(BTreeMap<String, f64>);

/// Parse the Prometheus text format: comments skipped, every sample line `series value`.
/// Label values here never hold spaces, commas or quotes, so a split is enough; a line that
/// does not parse fails the test.
fn parse(text: &str) -> Scrape {
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample line: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number in: {line}"));
        let key = match series.split_once('{') {
            None => series.to_string(),
            Some((name, labels)) => {
                let labels = labels
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels: {line}"));
                let mut pairs: Vec<&str> = labels.split(',').collect();
                pairs.sort();
                format!("{name}{{{}}}", pairs.join(","))
            }
        };
        assert!(
            samples.insert(key.clone(), value).is_none(),
            "series {key} twice"
        );
    }
    Scrape(samples)
}

impl Scrape {
    /// The sample `name` with `labels` (in any order), 0 when the series is absent (a counter
    /// not yet moved).
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        pairs.sort();
        let key = match pairs.is_empty() {
            true => name.to_string(),
            false => format!("{name}{{{}}}", pairs.join(",")),
        };
        self.0.get(&key).copied().unwrap_or(0.0)
    }

    fn has(&self, prefix: &str) -> bool {
        self.0.keys().any(|k| k.starts_with(prefix))
    }
}

async fn scrape(s: &TestServer) -> Scrape {
    let resp = reqwest::Client::new()
        .get(format!("{}/metrics", s.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    parse(&resp.text().await.unwrap())
}

async fn send(s: &TestServer, kind: &str, body: serde_json::Value) -> (u16, String) {
    let (status, body) = s
        .call(
            "normal",
            "POST",
            &format!("/v2/notifications/{kind}"),
            Some(body),
        )
        .await;
    (status, body["id"].as_str().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scraped_counts_move_by_exactly_what_happened() {
    // Nothing listens on this port: every text fails with a retryable error.
    let dead = format!("http://127.0.0.1:{}/send", free_port());
    let s = TestServer::start_with(|c| {
        c.metrics.bearer_token = TOKEN.into();
        c.providers.sms = SmsProviderKind::Http;
        c.sms_providers = vec![SmsProviderConfig {
            name: "dead".into(),
            kind: SmsApiKind::Webhook,
            url: dead,
            api_key: "provider-key".into(),
            priority: 100,
            supports_international: false,
            timeout_seconds: 5,
        }];
        c.delivery.retry_delay_seconds = 0;
        c.delivery.max_retries = 1;
    })
    .await;
    let before = scrape(&s).await;

    let mut emails = Vec::new();
    for i in 0..3 {
        let (status, id) = send(
            &s,
            "email",
            json!({"email_address": format!("a{i}@example.gov.uk"), "template_id": s.email_template,
                   "personalisation": {"name": "Ann"}}),
        )
        .await;
        assert_eq!(status, 201);
        emails.push(id.parse().unwrap());
    }
    let (status, sms) = send(
        &s,
        "sms",
        json!({"phone_number": "07700 900123", "template_id": s.sms_template,
               "personalisation": {"name": "Ann"}}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = send(
        &s,
        "sms",
        json!({"phone_number": "not a number", "template_id": s.sms_template}),
    )
    .await;
    assert_eq!(status, 400);
    for id in &emails {
        s.wait_for(*id, "delivered", |n| n.status.as_str() == "delivered")
            .await;
    }
    s.wait_for(sms.parse().unwrap(), "technical-failure", |n| {
        n.status.as_str() == "technical-failure"
    })
    .await;
    let job = "tend-providers-back-to-middle";
    notify::scheduler::run_now(&s.app, job).await.unwrap();

    let after = scrape(&s).await;
    let moved =
        |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);

    // Requests, by route class and status (the scrape itself is an internal request).
    let v2 = |status| [("class", "v2"), ("status", status)];
    assert_eq!(moved("notify_http_requests_total", &v2("201")), 4.0);
    assert_eq!(moved("notify_http_requests_total", &v2("400")), 1.0);
    assert_eq!(
        moved(
            "notify_http_request_duration_seconds_count",
            &[("class", "v2")]
        ),
        5.0
    );
    assert_eq!(
        moved("notify_accept_duration_seconds_count", &[("type", "email")]),
        3.0
    );
    assert_eq!(
        moved("notify_accept_duration_seconds_count", &[("type", "sms")]),
        1.0
    );
    assert_eq!(
        moved(
            "notify_accept_duration_seconds_bucket",
            &[("type", "email"), ("le", "+Inf")]
        ),
        3.0
    );

    // Notifications entering each status, by type.
    let entered = |kind, status| {
        moved(
            "notify_notification_status_entries_total",
            &[("type", kind), ("status", status)],
        )
    };
    assert_eq!(entered("email", "created"), 3.0);
    assert_eq!(entered("email", "delivered"), 3.0);
    assert_eq!(entered("sms", "created"), 1.0);
    assert_eq!(entered("sms", "technical-failure"), 1.0);
    assert_eq!(entered("letter", "created"), 0.0);
    assert_eq!(
        after.get("notify_notifications", &[("status", "delivered")]),
        3.0
    );

    // Provider sends: the outbox took the emails; the dead provider failed the first attempt
    // and its one retry.
    let sends = [("type", "email"), ("provider", "outbox")];
    assert_eq!(moved("notify_delivery_attempts_total", &sends), 3.0);
    assert_eq!(
        moved("notify_provider_send_duration_seconds_count", &sends),
        3.0
    );
    let dead = [("type", "sms"), ("provider", "dead")];
    assert_eq!(moved("notify_delivery_attempts_total", &dead), 2.0);
    assert_eq!(
        moved(
            "notify_delivery_errors_total",
            &[("type", "sms"), ("provider", "dead"), ("kind", "retryable")]
        ),
        2.0
    );
    assert_eq!(
        moved("notify_provider_send_duration_seconds_count", &dead),
        2.0
    );
    assert!(after.has("notify_sms_provider_share{provider=\"dead\"}"));

    // The job run by hand.
    assert_eq!(
        moved("notify_scheduler_job_runs_total", &[("job", job)]),
        1.0
    );
    assert_eq!(
        moved("notify_scheduler_job_failures_total", &[("job", job)]),
        0.0
    );
    assert!(
        after.get(
            "notify_scheduler_job_last_success_time_seconds",
            &[("job", job)]
        ) > 1.7e9
    );
    assert_eq!(
        after.get(
            "notify_scheduler_job_last_success_time_seconds",
            &[("job", "create-nightly-billing")]
        ),
        0.0
    );

    // What is read at scrape time.
    for queue in ["deliver-email", "deliver-sms"] {
        assert_eq!(after.get("notify_queue_ready", &[("queue", queue)]), 0.0);
        assert_eq!(
            after.get("notify_queue_oldest_due_age_seconds", &[("queue", queue)]),
            0.0
        );
    }
    assert!(after.has("notify_queue_ready{queue=\"letter-scan\"}"));
    assert!(after.get("notify_store_size_bytes", &[]) > 0.0);
    assert!(after.get("notify_disk_available_bytes", &[]) > 0.0);
    assert_eq!(after.get("notify_store_healthy", &[]), 1.0);
    assert!(
        after.get("notify_store_commit_duration_seconds_count", &[])
            > before.get("notify_store_commit_duration_seconds_count", &[])
    );
    assert!(after.has("notify_build_info{"));
    assert!(after.0.keys().any(|k| k.starts_with("notify_build_info{")
        && k.contains(&format!("version=\"{}\"", notify::status::VERSION))));
    assert_the_dashboard_asks_only_for_exported_series(&after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_wants_its_token_and_is_off_without_one() {
    let s = TestServer::start_with(|c| c.metrics.bearer_token = TOKEN.into()).await;
    let client = reqwest::Client::new();
    let url = format!("{}/metrics", s.base);
    for auth in [None, Some("Bearer wrong-token-of-some-length"), Some(TOKEN)] {
        let mut req = client.get(&url);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{auth:?}");
        assert!(resp.headers().contains_key("www-authenticate"));
        let body = resp.text().await.unwrap();
        assert!(!body.contains("notify_"), "{body}");
    }
    assert_eq!(
        client
            .get(&url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let off = TestServer::start().await;
    let resp = client
        .get(format!("{}/metrics", off.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

/// `packaging/grafana/notify-dashboard.json` asks only for metrics the server exports: every
/// `notify_…` series name in a panel's query has samples in `scrape` (one taken after sends,
/// provider errors and a scheduled job, so every family has some).
fn assert_the_dashboard_asks_only_for_exported_series(scrape: &Scrape) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("packaging/grafana/notify-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut asked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        assert!(panel["gridPos"]["w"].as_u64().is_some(), "{panel}");
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            for name in expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("notify_"))
            {
                let exported = scrape.0.keys().any(|k| {
                    k.strip_prefix(name)
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('{'))
                });
                assert!(
                    exported,
                    "the dashboard asks for {name}, which the server does not export"
                );
                asked += 1;
            }
        }
    }
    assert!(
        asked >= 20,
        "only {asked} metric references in the dashboard"
    );
}
