//! Delivery throughput: notifications already queued → delivered through the real workers and
//! providers to fast local sinks on 127.0.0.1 (an SMTP sink written for the bench, and an HTTP
//! SMS provider that answers 200 at once).
//!
//! `cargo bench --bench delivery` (BENCH_N=20000 messages per channel by default).
//! Prints messages/s from the workers' start until the last status change is durable.

// The server's allocator and memory settings (src/main.rs), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::app::App;
use notify::config::{
    Config, EmailProviderKind, SmsApiKind, SmsProviderConfig, SmsProviderKind, SmtpTls,
};
use notify::domain::{services, templates};
use storage::records::{KeyType, Notification, NotificationStatus, NotificationType};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use uuid::Uuid;
use warp::Filter;

/// A minimal SMTP server: accepts every message and forgets it.
async fn smtp_sink() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 sink ESMTP\r\n").await;
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply: &[u8] = if in_data {
                        if line == "." {
                            in_data = false;
                            b"250 Ok queued\r\n"
                        } else {
                            continue;
                        }
                    } else {
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        match verb.as_str() {
                            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                            "DATA" => {
                                in_data = true;
                                b"354 go ahead\r\n"
                            }
                            "QUIT" => {
                                let _ = w.write_all(b"221 bye\r\n").await;
                                return;
                            }
                            _ => b"250 Ok\r\n",
                        }
                    };
                    if w.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

async fn http_sink() -> String {
    let route = warp::post().map(|| warp::reply::json(&serde_json::json!({"ok": true})));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(route).incoming(listener).run());
    format!("http://{addr}/send")
}

async fn queue(app: &App, service: Uuid, template: Uuid, t: NotificationType, n: usize) {
    let queue = match t {
        NotificationType::Email => "deliver-email",
        _ => "deliver-sms",
    };
    for chunk in 0..n.div_ceil(1000) {
        let count = 1000.min(n - chunk * 1000);
        app.store
            .write(move |ctx| {
                for i in 0..count {
                    let (to, normalised) = match t {
                        NotificationType::Email => {
                            let a = format!("person{i}@example.com");
                            (a.clone(), a)
                        }
                        _ => ("07700 900123".to_string(), "447700900123".to_string()),
                    };
                    let n = Notification {
                        id: Uuid::now_v7(),
                        service_id: service,
                        notification_type: t,
                        template_id: template,
                        template_version: 1,
                        api_key_id: None,
                        key_type: KeyType::Normal,
                        status: NotificationStatus::Created,
                        to,
                        normalised_to: normalised,
                        personalisation: r#"{"name":"Ann"}"#.into(),
                        body: "Hello Ann".into(),
                        subject: Some("Hi Ann".into()),
                        client_reference: None,
                        job_id: None,
                        job_row_number: None,
                        reply_to_text: None,
                        one_click_unsubscribe_url: None,
                        postage: None,
                        international: false,
                        billable_units: 1,
                        sent_by: None,
                        created_at: ctx.now_micros(),
                        sent_at: None,
                        updated_at: None,
                        created_by_name: None,
                        status_reason: None,
                    };
                    ctx.insert_notification(&n)?;
                    let now = ctx.now_ms();
                    ctx.enqueue(queue, now, n.id.as_bytes())?;
                }
                Ok(())
            })
            .await
            .unwrap();
    }
}

fn count(app: &App, status: NotificationStatus) -> u64 {
    app.store
        .read()
        .unwrap()
        .status_counts()
        .unwrap()
        .into_iter()
        .find(|(s, _)| *s == status)
        .map_or(0, |(_, n)| n)
}

async fn run(t: NotificationType, n: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(dir.path());
    config.log.level = "warn".into();
    let done_status = match t {
        NotificationType::Email => {
            config.providers.email = EmailProviderKind::Smtp;
            config.smtp.host = "127.0.0.1".into();
            config.smtp.port = smtp_sink().await;
            config.smtp.tls = SmtpTls::None;
            config.smtp.pool_size = 32;
            NotificationStatus::Delivered
        }
        _ => {
            config.providers.sms = SmsProviderKind::Http;
            config.sms_providers = vec![SmsProviderConfig {
                name: "sink".into(),
                kind: SmsApiKind::Webhook,
                url: http_sink().await,
                api_key: "k".into(),
                priority: 100,
                supports_international: false,
                timeout_seconds: 10,
            }];
            NotificationStatus::Sending
        }
    };
    let app = App::open(config, Arc::new(storage::SystemClock)).unwrap();
    let service = services::create_service(
        &app,
        &notify::domain::accounts::Actor::operator(),
        services::NewService {
            name: "Bench".into(),
            restricted: false,
        },
    )
    .await
    .unwrap();
    let template = templates::create_template(
        &app,
        &notify::domain::accounts::Actor::operator(),
        service.id,
        templates::NewTemplate {
            template_type: t.as_str().into(),
            name: "bench".into(),
            subject: (t == NotificationType::Email).then(|| "Hi ((name))".into()),
            content: "Hello ((name)), this is a **benchmark** message.".into(),
            postage: None,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    queue(&app, service.id, template.id, t, n).await;
    let started = Instant::now();
    let workers = notify::workers::start(&app);
    while count(&app, done_status) < n as u64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    workers.stop().await;
    rate
}

fn main() {
    storage::memory::disable_transparent_huge_pages();
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for t in [NotificationType::Email, NotificationType::Sms] {
            let rate = run(t, n).await;
            println!(
                "delivery {:<5} {n} messages: {rate:>8.0} messages/s",
                t.as_str()
            );
        }
    });
}
