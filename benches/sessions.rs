//! What a signed-in page request's session check costs (issue 26: at most 50 µs added).
//!
//! Seeds `BENCH_USERS` people (default 2,000), each signed in and a member of
//! `BENCH_SERVICES` services (default 3), in a temporary data directory, then times
//! `sessions::check` — the one snapshot read of the session, the user and their memberships
//! every signed-in page and internal API request makes — for one person's cookie, picked in
//! turn: `BENCH_ROUNDS` (default 200) rounds of `BENCH_BATCH` (default 500) checks. Prints the
//! per-check time's median, p90 and p99 over the rounds, and the median of single checks timed
//! one by one (which includes the timer's own cost).
//!
//! `cargo bench --bench sessions`.

// The server's allocator (src/main.rs), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::Instant;

use notify::config::Config;
use notify::domain::accounts::sessions::{self, SecondFactor};
use notify::domain::accounts::{Actor, users};
use notify::domain::context::Context;
use notify::domain::services;
use storage::records::Permission;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let people = env("BENCH_USERS", 2_000usize);
    let per_person = env("BENCH_SERVICES", 3usize);
    let rounds = env("BENCH_ROUNDS", 200usize);
    let batch = env("BENCH_BATCH", 500usize);
    let work = tempfile::tempdir().expect("temp dir");
    let mut config = Config::for_tests(&work.path().join("data"));
    config.log.level = "warn".into();
    let cx = Arc::new(Context::open(config, Arc::new(storage::SystemClock)).expect("open"));
    let operator = Actor::operator();

    let mut service_ids = Vec::new();
    for i in 0..per_person.max(1) * 4 {
        let s = services::create_service(
            &cx,
            &operator,
            services::NewService {
                name: format!("Service {i}"),
                restricted: false,
            },
        )
        .await
        .expect("service");
        service_ids.push(s.id);
    }
    let seeding = Instant::now();
    let mut tokens = Vec::with_capacity(people);
    for i in 0..people {
        let user = users::create_user(
            &cx,
            &operator,
            users::NewUser {
                name: format!("Person {i}"),
                email_address: format!("person{i}@example.gov.uk"),
                mobile_number: None,
                platform_admin: false,
                auth_type: None,
                password: None,
            },
        )
        .await
        .expect("user");
        for k in 0..per_person {
            let service_id = service_ids[(i + k) % service_ids.len()];
            users::add_user_to_service(
                &cx,
                &operator,
                service_id,
                user.id,
                vec![Permission::SendMessages, Permission::ViewActivity],
            )
            .await
            .expect("member");
        }
        let session =
            sessions::create_signed_in(&cx, user.id, SecondFactor::OperatorLink, None, None)
                .await
                .expect("session");
        tokens.push(session.token);
    }
    println!(
        "seeded {people} signed-in people, {per_person} services each, in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    // Warm the store's cache as a running server's would be.
    for t in &tokens {
        sessions::check(&cx, t).expect("live session");
    }
    let mut per_check = Vec::with_capacity(rounds);
    let mut next = 0usize;
    for _ in 0..rounds {
        let started = Instant::now();
        for _ in 0..batch {
            let checked = sessions::check(&cx, &tokens[next % tokens.len()]).expect("live");
            std::hint::black_box(checked);
            next = next.wrapping_add(7919);
        }
        per_check.push(started.elapsed().as_secs_f64() * 1e6 / batch as f64);
    }
    per_check.sort_by(f64::total_cmp);
    let mut single = Vec::with_capacity(rounds * 10);
    for _ in 0..rounds * 10 {
        let t = &tokens[next % tokens.len()];
        next = next.wrapping_add(7919);
        let started = Instant::now();
        std::hint::black_box(sessions::check(&cx, t).expect("live"));
        single.push(started.elapsed().as_secs_f64() * 1e6);
    }
    single.sort_by(f64::total_cmp);
    println!(
        "sessions::check over {rounds} rounds of {batch}: median {:.1} µs, p90 {:.1} µs, p99 {:.1} µs per check",
        percentile(&per_check, 0.5),
        percentile(&per_check, 0.9),
        percentile(&per_check, 0.99),
    );
    println!(
        "single checks ({}): median {:.1} µs, p99 {:.1} µs (target: at most 50 µs)",
        single.len(),
        percentile(&single, 0.5),
        percentile(&single, 0.99),
    );
    cx.close();
}
