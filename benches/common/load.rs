//! What the benches share: an API sender with a live key and limits out of the way, and an
//! open-loop load of text messages through the real HTTP API with its latency percentiles.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notify::app::App;
use notify::domain::{api_keys, services, templates};

pub fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub struct Sender {
    pub url: String,
    pub service: String,
    pub secret: String,
    pub body: String,
}

/// A service with its template and a live key, limits raised out of the way.
pub async fn sender(app: &App, base: &str) -> Sender {
    let service = services::create_service(
        app,
        &notify::domain::accounts::Actor::operator(),
        services::NewService {
            name: "Load".into(),
            restricted: false,
        },
    )
    .await
    .expect("service");
    let id = service.id;
    app.store
        .write(move |ctx| {
            let mut s = ctx.get_service(id)?.expect("just created");
            s.rate_limit = 10_000_000;
            s.sms_message_limit = 100_000_000;
            ctx.put_service(&s)
        })
        .await
        .expect("limits");
    app.keys.invalidate(id);
    let template = templates::create_template(
        app,
        &notify::domain::accounts::Actor::operator(),
        id,
        templates::NewTemplate {
            template_type: "sms".into(),
            name: "load".into(),
            subject: None,
            content: "Hello ((name))".into(),
            postage: None,
            ..Default::default()
        },
    )
    .await
    .expect("template");
    let key = api_keys::create_api_key(
        app,
        &notify::domain::accounts::Actor::operator(),
        id,
        api_keys::NewApiKey {
            name: "load".into(),
            key_type: "normal".into(),
        },
    )
    .await
    .expect("key")
    .key;
    Sender {
        url: format!("{base}/v2/notifications/sms"),
        service: id.to_string(),
        secret: key[key.len() - 36..].to_string(),
        body: serde_json::json!({
            "phone_number": "07700900123",
            "template_id": template.id,
            "personalisation": {"name": "Load"},
        })
        .to_string(),
    }
}

pub fn token(s: &Sender) -> String {
    let claims = serde_json::json!({"iss": s.service, "iat": chrono::Utc::now().timestamp()});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(s.secret.as_bytes()),
    )
    .expect("HS256 signing")
}

/// Latencies (µs) of the requests started while `running`, and how many failed.
#[derive(Default)]
pub struct Recorded {
    pub latencies: Vec<u64>,
    pub errors: u64,
}

/// Send `rate` requests a second, each on its own task (open loop: a stalled server makes
/// requests pile up rather than slowing the load), until `stop` resolves.
pub async fn load(
    sender: Arc<Sender>,
    client: reqwest::Client,
    rate: u64,
    stop: impl std::future::Future<Output = ()>,
) -> Recorded {
    let recorded = Arc::new(Mutex::new(Recorded::default()));
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {
                let (sender, client, recorded) = (sender.clone(), client.clone(), recorded.clone());
                tasks.spawn(async move {
                    let started = Instant::now();
                    let ok = client
                        .post(&sender.url)
                        .bearer_auth(token(&sender))
                        .header("content-type", "application/json")
                        .body(sender.body.clone())
                        .send()
                        .await
                        .is_ok_and(|r| r.status().as_u16() == 201);
                    let mut r = recorded.lock().unwrap_or_else(|p| p.into_inner());
                    if ok {
                        r.latencies.push(started.elapsed().as_micros() as u64);
                    } else {
                        r.errors += 1;
                    }
                });
            }
        }
    }
    while tasks.join_next().await.is_some() {}
    let mut r = std::mem::take(&mut *recorded.lock().unwrap_or_else(|p| p.into_inner()));
    r.latencies.sort_unstable();
    r
}

pub fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)] as f64 / 1000.0
}

pub fn describe(r: &Recorded, seconds: f64) -> String {
    format!(
        "{} accepted ({:.0}/s), {} errors, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        r.latencies.len(),
        r.latencies.len() as f64 / seconds,
        r.errors,
        pct(&r.latencies, 0.50),
        pct(&r.latencies, 0.99),
        pct(&r.latencies, 1.0),
    )
}
