//! `notify load`: a load generator for the accept path. It behaves like the official clients —
//! a fresh HS256 token per request, JSON bodies — holds N keep-alive connections, and prints
//! requests/s and latency percentiles. Meant for loopback benchmarks, not for other hosts.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:6011")]
    pub url: String,
    /// API key (`{name}-{service_id}-{secret}`).
    #[arg(long, env = "NOTIFY_LOAD_API_KEY")]
    pub key: String,
    /// Template to send with.
    #[arg(long)]
    pub template: uuid::Uuid,
    /// `email` or `sms`.
    #[arg(long = "type", default_value = "email")]
    pub notification_type: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Seconds to run (after a one-second warm-up).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: i64,
}

pub async fn run(args: LoadArgs) -> Result<(), String> {
    if args.key.len() < 74 {
        return Err("the API key is too short to hold a service id and a secret".into());
    }
    let secret = args.key[args.key.len() - 36..].to_string();
    let service = args.key[args.key.len() - 73..args.key.len() - 37].to_string();
    let (path, body) = match args.notification_type.as_str() {
        "email" => (
            "v2/notifications/email",
            json!({"email_address": "load@example.com", "template_id": args.template, "personalisation": {"name": "Load"}}),
        ),
        "sms" => (
            "v2/notifications/sms",
            json!({"phone_number": "07700900123", "template_id": args.template, "personalisation": {"name": "Load"}}),
        ),
        other => return Err(format!("--type {other}: use email or sms")),
    };
    let url = format!("{}/{path}", args.url.trim_end_matches('/'));
    let body = Arc::new(body.to_string());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    let recording = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let (client, url, body, key, service) = (
            client.clone(),
            url.clone(),
            body.clone(),
            key.clone(),
            service.clone(),
        );
        let (recording, stop, errors) = (recording.clone(), stop.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let claims = Claims {
                    iss: &service,
                    iat: chrono::Utc::now().timestamp(),
                };
                let token = jsonwebtoken::encode(
                    &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                    &claims,
                    &key,
                )
                .expect("HS256 signing cannot fail");
                let started = Instant::now();
                let resp = client
                    .post(&url)
                    .bearer_auth(token)
                    .header("content-type", "application/json")
                    .body(body.as_str().to_owned())
                    .send()
                    .await;
                let ok = match resp {
                    Ok(r) => {
                        let created = r.status().as_u16() == 201;
                        let _ = r.bytes().await;
                        created
                    }
                    Err(_) => false,
                };
                if recording.load(Ordering::Relaxed) {
                    if ok {
                        latencies.push(started.elapsed().as_micros() as u64);
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    recording.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    recording.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())?);
    }
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        all[((all.len() as f64 * p) as usize).min(all.len() - 1)] as f64 / 1000.0
    };
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stdout().lock(),
        "type={} connections={} accepted={} errors={} seconds={:.1} rate={:.0}/s p50={:.2}ms p90={:.2}ms p99={:.2}ms",
        args.notification_type,
        args.connections,
        all.len(),
        errors.load(Ordering::Relaxed),
        elapsed,
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.90),
        pct(0.99),
    );
    Ok(())
}
