//! Server time of the service pages with many notifications stored.
//!
//! Seeds `BENCH_N` (default 1,000,000) emails of one service spread evenly over the last
//! `BENCH_DAYS` London days (default 7, so today holds about a seventh of them), 1 in 100
//! failed, lets the search index take them in, then asks each page `BENCH_REQUESTS` times
//! (default 200) one after another through the real HTTP server as a signed-in member, and
//! prints each page's p50/p99/max, and the store's and the search index's size on disk. The
//! issue's targets: pages p99 ≤ 20 ms at 1 million; searches p99 ≤ 50 ms and a filtered
//! listing ("failed messages") ≤ 200 ms at 10 million (`BENCH_N=10000000`).
//!
//! `cargo bench --bench pages`.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::app::{self, App};
use notify::config::Config;
use notify::domain::accounts::Actor;
use notify::domain::accounts::sessions::{self, SecondFactor};
use notify::domain::accounts::users::{self, NewUser};
use notify::domain::{services, templates};
use storage::clock::v7_at_micros;
use storage::codec::encode;
use storage::records::{KeyType, Notification, NotificationStatus, NotificationType, Permission};
use uuid::Uuid;

#[path = "common/load.rs"]
mod load;

use load::{env, pct};

const SEED_CHUNK: usize = 20_000;
const RECIPIENT: &str = "someone@example.com";

async fn seed(app: &App, service_id: Uuid, template_id: Uuid, n: usize, days: i64) -> Uuid {
    let now = chrono::Utc::now().timestamp_micros();
    let span = days * 86_400_000_000;
    let start = now - span;
    let step = (span / n.max(1) as i64).max(1);
    let mut done = 0;
    let mut last = Uuid::nil();
    while done < n {
        let count = SEED_CHUNK.min(n - done);
        let rows: Vec<(Notification, Vec<u8>)> = (done..done + count)
            .map(|i| {
                let at = start + i as i64 * step;
                let failed = i % 100 == 0;
                let to = if i % 1000 == 0 {
                    RECIPIENT.to_string()
                } else {
                    format!("person{i}@example.com")
                };
                let n = Notification {
                    id: v7_at_micros(at),
                    service_id,
                    notification_type: NotificationType::Email,
                    template_id,
                    template_version: 1,
                    api_key_id: None,
                    key_type: KeyType::Normal,
                    status: if failed {
                        NotificationStatus::PermanentFailure
                    } else {
                        NotificationStatus::Delivered
                    },
                    normalised_to: to.clone(),
                    to,
                    personalisation: r#"{"name":"Ann"}"#.into(),
                    body: "Hello Ann".into(),
                    subject: Some("Hello".into()),
                    client_reference: Some(format!("ref-{i}")),
                    job_id: None,
                    job_row_number: None,
                    reply_to_text: None,
                    one_click_unsubscribe_url: None,
                    postage: None,
                    international: false,
                    billable_units: 0,
                    sent_by: Some("outbox".into()),
                    created_at: at,
                    sent_at: Some(at + 1000),
                    updated_at: Some(at + 2000),
                    created_by_name: None,
                    status_reason: None,
                };
                let bytes = encode(&n);
                (n, bytes)
            })
            .collect();
        last = rows.last().map(|(n, _)| n.id).unwrap_or(last);
        app.store
            .write(move |ctx| {
                for (n, bytes) in &rows {
                    ctx.insert_encoded_notification(n, bytes)?;
                }
                Ok(())
            })
            .await
            .expect("seed");
        done += count;
    }
    last
}

/// Bytes of a file, or of every file under a directory.
fn dir_size(path: &std::path::Path) -> u64 {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => m.len(),
        Ok(_) => std::fs::read_dir(path)
            .map(|entries| entries.flatten().map(|e| dir_size(&e.path())).sum())
            .unwrap_or(0),
        Err(_) => 0,
    }
}

async fn index_settled(app: &App) {
    while app.store.read().map_or(1, |r| r.outbox_len().unwrap_or(1)) > 0 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::main]
async fn main() {
    let n = env("BENCH_N", 1_000_000usize);
    let days = env("BENCH_DAYS", 7i64).max(1);
    let requests = env("BENCH_REQUESTS", 200usize).max(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::for_tests(dir.path());
    config.log.level = "warn".into();
    config.storage.cache_size_mb = 256;
    let app = App::open(config, Arc::new(storage::SystemClock)).expect("open");
    let listener = app::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app::serve(app.clone(), listener, async move {
        let _ = stopped.await;
    }));

    let operator = Actor::operator();
    let service = services::create_service(
        &app,
        &operator,
        services::NewService {
            name: "Busy service".into(),
            restricted: false,
        },
    )
    .await
    .expect("service");
    let template = templates::create_template(
        &app,
        &operator,
        service.id,
        templates::NewTemplate {
            template_type: "email".into(),
            name: "Hello".into(),
            subject: Some("Hello".into()),
            content: "Hello ((name))".into(),
            ..Default::default()
        },
    )
    .await
    .expect("template");
    let user = users::create_user(
        &app,
        &operator,
        NewUser {
            name: "Bench Reader".into(),
            email_address: "reader@example.gov.uk".into(),
            mobile_number: None,
            platform_admin: false,
            auth_type: None,
            password: None,
        },
    )
    .await
    .expect("user");
    users::add_user_to_service(
        &app,
        &operator,
        service.id,
        user.id,
        Permission::ALL.to_vec(),
    )
    .await
    .expect("member");
    let session = sessions::create_signed_in(&app, user.id, SecondFactor::EmailCode, None, None)
        .await
        .expect("session");

    let started = Instant::now();
    let newest = seed(&app, service.id, template.id, n, days).await;
    let seeded = started.elapsed().as_secs_f64();
    index_settled(&app).await;
    println!(
        "seeded {n} emails over {days} days in {seeded:.1} s (indexed after {:.1} s)",
        started.elapsed().as_secs_f64()
    );

    println!(
        "store {:.0} MB, search index {:.0} MB on disk",
        dir_size(&dir.path().join("notify.redb")) as f64 / 1e6,
        dir_size(&dir.path().join("index")) as f64 / 1e6
    );

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let cookie = format!("notify_admin_session={}", session.token);
    let sid = service.id;
    let pages = [
        ("dashboard", format!("/services/{sid}")),
        ("templates", format!("/services/{sid}/templates")),
        (
            "sent messages",
            format!("/services/{sid}/notifications/email"),
        ),
        (
            "failed messages",
            format!("/services/{sid}/notifications/email?status=failed"),
        ),
        (
            "search by recipient",
            format!("/services/{sid}/notifications/email?to={RECIPIENT}"),
        ),
        (
            "search, page 10",
            format!("/services/{sid}/notifications/email?to={RECIPIENT}&page=10"),
        ),
        (
            "search by reference",
            format!("/services/{sid}/notifications/email?to=ref-{}", n / 2),
        ),
        (
            "one message",
            format!("/services/{sid}/notification/{newest}"),
        ),
    ];
    for (name, path) in &pages {
        let url = format!("{base}{path}");
        let mut micros = Vec::with_capacity(requests);
        for _ in 0..requests {
            let t = Instant::now();
            let resp = client
                .get(&url)
                .header("cookie", &cookie)
                .send()
                .await
                .expect("request");
            assert_eq!(resp.status().as_u16(), 200, "{name}");
            resp.bytes().await.expect("body");
            micros.push(t.elapsed().as_micros() as u64);
        }
        micros.sort_unstable();
        println!(
            "{name:<22} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
            pct(&micros, 0.50),
            pct(&micros, 0.99),
            *micros.last().unwrap_or(&0) as f64 / 1000.0
        );
    }
    let _ = stop_server.send(());
    let _ = server.await;
}
