//! The inbound-number pool end to end over the internal API: numbers added, assigned to
//! services (the number becomes the default text message sender), texts posted in MMG's and
//! Firetext's formats routed to the service that owns the number and to its inbound callback,
//! the `inbound_sms` permission honoured, and a released number back in the pool.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TestServer;
use serde_json::{Value, json};
use uuid::Uuid;
use warp::Filter;

async fn admin(s: &TestServer, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    s.request(
        method,
        path,
        Some(s.admin_auth()),
        body.map(|b| b.to_string()).as_deref(),
    )
    .await
}

/// A local endpoint standing in for a service's inbound-SMS callback; records the bodies.
async fn callback_receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let route = warp::post()
        .and(warp::body::json())
        .map(move |body: Value| {
            g.lock().unwrap().push(body);
            warp::reply()
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/inbound", listener.local_addr().unwrap());
    tokio::spawn(warp::serve(route).incoming(listener).run());
    (url, got)
}

async fn mmg_text(s: &TestServer, from: &str, to: &str, message: &str, id: &str) {
    let resp = reqwest::Client::new()
        .post(format!("{}/notifications/sms/receive/mmg", s.base))
        .json(
            &json!({"MSISDN": from, "Number": to, "Message": message, "ID": id,
                      "DateRecieved": "2026-05-21+11%3A56%3A11"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

async fn firetext_text(s: &TestServer, from: &str, to: &str, message: &str) {
    let resp = reqwest::Client::new()
        .post(format!("{}/notifications/sms/receive/firetext", s.base))
        .form(&[
            ("source", from),
            ("destination", to),
            ("message", message),
            ("time", "2026-01-21 11:56:11"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

fn received(s: &TestServer, service_id: Uuid) -> Vec<(String, String)> {
    let mut list: Vec<(String, String)> = s
        .app
        .store
        .read()
        .unwrap()
        .service_inbound_sms(service_id, None, 100)
        .unwrap()
        .into_iter()
        .map(|m| (m.content, m.notify_number))
        .collect();
    list.sort();
    list
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_reach_the_service_that_owns_the_number() {
    let s = TestServer::start_with(|c| c.callbacks.allow_http = true).await;
    let first = s.service_id;

    // The pool: two numbers; bad ones refused with a reason.
    let (code, a) = admin(
        &s,
        "POST",
        "/inbound-number",
        Some(json!({"number": "07700900500"})),
    )
    .await;
    assert_eq!(code, 201, "{a}");
    assert_eq!(a["data"]["provider"], "mmg");
    assert_eq!(a["data"]["service"], Value::Null);
    let (code, b) = admin(
        &s,
        "POST",
        "/inbound-number",
        Some(json!({"number": "+44 7700 900600", "provider": "firetext"})),
    )
    .await;
    assert_eq!(code, 201, "{b}");
    let (code, dup) = admin(
        &s,
        "POST",
        "/inbound-number",
        Some(json!({"number": "447700900500"})),
    )
    .await;
    assert_eq!(code, 400, "the same number twice: {dup}");
    let (code, bad) = admin(
        &s,
        "POST",
        "/inbound-number",
        Some(json!({"number": "call me"})),
    )
    .await;
    assert_eq!(code, 400, "{bad}");
    let a_id = a["data"]["id"].as_str().unwrap().to_string();
    let (_, available) = admin(&s, "GET", "/inbound-number/available", None).await;
    assert_eq!(available["data"].as_array().unwrap().len(), 2);

    // A second service, with the permission to receive texts and a callback.
    let (code, second) = admin(
        &s,
        "POST",
        "/service",
        Some(json!({"name": "Second service", "restricted": false})),
    )
    .await;
    assert_eq!(code, 201, "{second}");
    let second: Uuid = second["data"]["id"].as_str().unwrap().parse().unwrap();

    // The chosen number to the first service: its only sender becomes the number.
    let (code, sender) = admin(
        &s,
        "POST",
        &format!("/inbound-number/service/{first}"),
        Some(json!({"inbound_number_id": a_id})),
    )
    .await;
    assert_eq!(code, 201, "{sender}");
    assert_eq!(sender["sms_sender"], "07700900500");
    assert_eq!(sender["is_default"], true);
    assert_eq!(sender["inbound_number"], true);
    // The oldest available to the second (no body).
    let (code, sender) = admin(
        &s,
        "POST",
        &format!("/inbound-number/service/{second}"),
        None,
    )
    .await;
    assert_eq!(code, 201, "{sender}");
    assert_eq!(sender["sms_sender"], "+447700900600");
    // A service holds one number; the pool is now empty.
    let (code, again) = admin(
        &s,
        "POST",
        &format!("/inbound-number/service/{first}"),
        None,
    )
    .await;
    assert_eq!(code, 400, "{again}");
    let (_, available) = admin(&s, "GET", "/inbound-number/available", None).await;
    assert_eq!(available["data"], json!([]));
    let (_, mine) = admin(&s, "GET", &format!("/inbound-number/service/{first}"), None).await;
    assert_eq!(mine["data"]["number"], "07700900500");
    assert_eq!(mine["data"]["service"]["name"], "API tests");
    let (_, all) = admin(&s, "GET", "/inbound-number", None).await;
    let owners: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["service"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(owners.len(), 2);
    assert!(owners.contains(&"Second service"), "{all}");

    // The sender shows on the service: sends from it use the number.
    let svc = s
        .app
        .store
        .read()
        .unwrap()
        .get_service(first)
        .unwrap()
        .unwrap();
    let default: Vec<_> = svc.sms_senders.iter().filter(|x| x.is_default).collect();
    assert_eq!(default.len(), 1);
    assert_eq!(default[0].sms_sender, "07700900500");

    // Only the first service may receive texts, and it has a callback.
    let (code, body) = admin(
        &s,
        "POST",
        &format!("/service/{first}"),
        Some(json!({"permissions": ["email", "sms", "inbound_sms"]})),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let (url, got) = callback_receiver().await;
    let (code, body) = admin(
        &s,
        "POST",
        &format!("/service/{first}/inbound-api"),
        Some(json!({"url": url, "bearer_token": "inbound-token-123"})),
    )
    .await;
    assert_eq!(code, 201, "{body}");

    // MMG and Firetext texts to the first number, whatever form the number takes.
    mmg_text(
        &s,
        "447700900111",
        "447700900500",
        "Hello+from+MMG",
        "mmg-1",
    )
    .await;
    firetext_text(&s, "447700900222", "07700900500", "Hello from Firetext").await;
    // To the second service's number: it may not receive texts, so they are dropped.
    firetext_text(&s, "447700900333", "447700900600", "Not for you").await;
    // To a number nobody has.
    mmg_text(&s, "447700900444", "447700900999", "Nobody", "mmg-2").await;

    assert_eq!(
        received(&s, first),
        vec![
            ("Hello from Firetext".to_string(), "07700900500".to_string()),
            ("Hello from MMG".to_string(), "07700900500".to_string()),
        ]
    );
    assert!(received(&s, second).is_empty());

    // Both reached the first service's inbound callback.
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.lock().unwrap().len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut calls = got.lock().unwrap().clone();
    calls.sort_by_key(|c| c["message"].as_str().unwrap_or("").to_string());
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0]["message"], "Hello from Firetext");
    assert_eq!(calls[0]["source_number"], "447700900222");
    assert_eq!(calls[0]["destination_number"], "07700900500");
    assert_eq!(calls[1]["message"], "Hello from MMG");
    assert_eq!(calls[1]["source_number"], "447700900111");

    // And the v2 API lists them.
    let (code, body) = s
        .call("normal", "GET", "/v2/received-text-messages", None)
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["received_text_messages"].as_array().unwrap().len(), 2);

    // Releasing: the permission goes, the number's sender is archived and the number is
    // back in the pool; texts to it are dropped.
    let (code, body) = admin(
        &s,
        "POST",
        &format!("/service/{first}/inbound-sms/remove"),
        Some(json!({"archive": false})),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["data"]["number"], "07700900500");
    let svc = s
        .app
        .store
        .read()
        .unwrap()
        .get_service(first)
        .unwrap()
        .unwrap();
    assert!(!svc.permissions.iter().any(|p| p == "inbound_sms"));
    assert!(
        svc.sms_senders
            .iter()
            .all(|x| !x.inbound_number || x.archived)
    );
    let (_, available) = admin(&s, "GET", "/inbound-number/available", None).await;
    assert_eq!(available["data"][0]["number"], "07700900500");
    mmg_text(&s, "447700900111", "447700900500", "After", "mmg-3").await;
    assert_eq!(received(&s, first).len(), 2);

    // Switching a number off drops texts to it even for a service allowed to receive them.
    let (code, _) = admin(
        &s,
        "POST",
        &format!("/service/{second}"),
        Some(json!({"permissions": ["sms", "inbound_sms"]})),
    )
    .await;
    assert_eq!(code, 200);
    firetext_text(&s, "447700900333", "447700900600", "Now for you").await;
    assert_eq!(received(&s, second).len(), 1);
    let (code, _) = admin(
        &s,
        "POST",
        &format!("/inbound-number/service/{second}/off"),
        None,
    )
    .await;
    assert_eq!(code, 204);
    firetext_text(&s, "447700900333", "447700900600", "Off again").await;
    assert_eq!(received(&s, second).len(), 1);
}

#[tokio::test]
async fn the_internal_api_needs_the_admin_token() {
    let s = TestServer::start().await;
    let (code, _) = s.request("GET", "/inbound-number", None, None).await;
    assert_eq!(code, 401);
}

#[tokio::test]
async fn a_low_pool_raises_an_alert() {
    use notify::domain::inbound_numbers as pool;
    let s = TestServer::start_with(|c| c.inbound_numbers.low_pool_threshold = 1).await;
    let alerts = |s: &TestServer| s.app.store.read().unwrap().alerts(10).unwrap();

    // No pool: inbound texts unused, nothing to say.
    let said = pool::check_for_low_available_inbound_sms_numbers(&s.app)
        .await
        .unwrap();
    assert_eq!(said, "0 of 0 inbound numbers available");
    for number in ["07700900701", "07700900702"] {
        let (code, body) = admin(
            &s,
            "POST",
            "/inbound-number",
            Some(json!({"number": number})),
        )
        .await;
        assert_eq!(code, 201, "{body}");
    }
    pool::check_for_low_available_inbound_sms_numbers(&s.app)
        .await
        .unwrap();
    assert!(alerts(&s).is_empty());

    // One given to the service: one left, at the threshold.
    let sid = s.service_id;
    let (code, body) = admin(&s, "POST", &format!("/inbound-number/service/{sid}"), None).await;
    assert_eq!(code, 201, "{body}");
    let said = pool::check_for_low_available_inbound_sms_numbers(&s.app)
        .await
        .unwrap();
    assert!(said.ends_with("alert raised"), "{said}");
    let raised = alerts(&s);
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].kind, "low-available-inbound-sms-numbers");
    assert!(
        raised[0].message.contains("only 1 inbound SMS numbers"),
        "{}",
        raised[0].message
    );
}

/// `notify inbound-number ...` on a stopped data directory, as an operator uses it.
#[test]
fn the_cli_manages_the_pool() {
    use std::process::Command;
    let data = tempfile::tempdir().unwrap();
    let notify = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_notify"))
            .arg("--data-dir")
            .arg(data.path())
            .args(args)
            .env("NOTIFY_LOG__LEVEL", "warn")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            out.status.success(),
            "{args:?}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let service = notify(&["service", "create", "--name", "Texts In"]);
    let service = service.lines().last().unwrap().trim().to_string();
    let first = notify(&["inbound-number", "add", "07700900801"]);
    Uuid::parse_str(&first).unwrap();
    let second = notify(&[
        "inbound-number",
        "add",
        "07700900802",
        "--provider",
        "firetext",
    ]);
    let listed: Value =
        serde_json::from_str(&notify(&["inbound-number", "list", "--json"])).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    let of = |id: &str| listed.iter().find(|n| n["id"] == id).unwrap().clone();
    assert_eq!(of(&first)["provider"], "mmg");
    assert_eq!(of(&second)["provider"], "firetext");

    // Assigning the chosen number prints it; the list shows the owner.
    let assigned = notify(&[
        "inbound-number",
        "assign",
        "--service",
        &service,
        "--number",
        &second,
    ]);
    assert_eq!(assigned, "07700900802");
    let lines = notify(&["inbound-number", "list"]);
    let line = lines.lines().find(|l| l.starts_with(&second)).unwrap();
    assert!(line.ends_with(&service), "{line}");

    // Released: back in the pool.
    let released = notify(&["inbound-number", "release", "--service", &service]);
    assert_eq!(released, "released 07700900802");
    let listed: Value =
        serde_json::from_str(&notify(&["inbound-number", "list", "--json"])).unwrap();
    let back = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == second.as_str())
        .unwrap()
        .clone();
    assert_eq!(back["service"], Value::Null);
    assert_eq!(
        notify(&["inbound-number", "release", "--service", &service]),
        "the service had no inbound number"
    );
}
