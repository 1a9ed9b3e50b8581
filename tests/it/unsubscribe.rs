//! One-click unsubscribe end to end: an email template with `has_unsubscribe_link`, emails sent
//! through the v2 API carry the appliance's own link, the recipient's mail client posts to it
//! (RFC 8058, no credentials), and the service lists, batches, downloads and marks processed
//! its unsubscribe requests through the internal API (upstream's routes).

use crate::common;

use std::time::Duration;

use common::TestServer;
use serde_json::{Value, json};

async fn admin(s: &TestServer, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    s.request(
        method,
        path,
        Some(s.admin_auth()),
        body.map(|b| b.to_string()).as_deref(),
    )
    .await
}

async fn send(s: &TestServer, template: &str, to: &str) -> String {
    let (status, body) = s
        .call(
            "normal",
            "POST",
            "/v2/notifications/email",
            Some(json!({"email_address": to, "template_id": template,
                        "personalisation": {"name": "Ann"}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// The link the email went out with (the outbox keeps what would have been sent).
async fn link_of(s: &TestServer, id: &str) -> String {
    for _ in 0..200 {
        let (_, body) = admin(s, "GET", "/outbox/messages", None).await;
        if let Some(m) = body["data"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["notification_id"] == id)
        {
            return m["unsubscribe_url"].as_str().unwrap_or("").to_string();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("email {id} never reached the outbox");
}

async fn click(url: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    let code = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipients_unsubscribe_and_the_service_gets_a_report() {
    let s = TestServer::start().await;
    let sid = s.service_id;

    // Only email templates may carry the link.
    let (code, body) = admin(
        &s,
        "POST",
        &format!("/service/{sid}/template"),
        Some(
            json!({"template_type": "sms", "name": "Text", "content": "Hi",
                    "has_unsubscribe_link": true}),
        ),
    )
    .await;
    assert_eq!(code, 400, "{body}");
    let (code, body) = admin(
        &s,
        "POST",
        &format!("/service/{sid}/template"),
        Some(
            json!({"template_type": "email", "name": "Newsletter", "subject": "News",
                    "content": "This month's news", "has_unsubscribe_link": true}),
        ),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["data"]["has_unsubscribe_link"], true);
    let template = body["data"]["id"].as_str().unwrap().to_string();
    let (_, got) = admin(
        &s,
        "GET",
        &format!("/service/{sid}/template/{template}"),
        None,
    )
    .await;
    assert_eq!(got["data"]["has_unsubscribe_link"], true);

    let ann = send(&s, &template, "ann@example.com").await;
    let bob = send(&s, &template, "bob@example.com").await;
    let ann_link = link_of(&s, &ann).await;
    let bob_link = link_of(&s, &bob).await;
    assert!(
        ann_link.starts_with(&format!("{}/unsubscribe/{ann}/", s.base)),
        "{ann_link}"
    );
    // The link does not show the address.
    assert!(!ann_link.contains("ann"), "{ann_link}");
    // Emails from other templates have none.
    let plain = send(&s, &s.email_template.to_string(), "cat@example.com").await;
    assert_eq!(link_of(&s, &plain).await, "");

    // Nothing yet.
    let (_, stats) = admin(
        &s,
        "GET",
        &format!("/service/{sid}/unsubscribe-request-statistics"),
        None,
    )
    .await;
    assert_eq!(stats, json!({}));

    // The mail clients post; a repeat changes nothing; a forged token is refused.
    assert_eq!(
        click(&ann_link).await,
        (
            200,
            json!({"result": "success", "message": "Unsubscribe successful"})
        )
    );
    assert_eq!(click(&ann_link).await.0, 200);
    assert_eq!(click(&bob_link).await.0, 200);
    let forged = format!("{}/unsubscribe/{bob}/{}", s.base, "A".repeat(60));
    assert_eq!(click(&forged).await.0, 404);
    let swapped = ann_link.replace(&ann, &bob);
    assert_eq!(
        click(&swapped).await.0,
        404,
        "a token is for its own email only"
    );

    let (code, stats) = admin(
        &s,
        "GET",
        &format!("/service/{sid}/unsubscribe-request-statistics"),
        None,
    )
    .await;
    assert_eq!(code, 200, "{stats}");
    assert_eq!(stats["unsubscribe_requests_count"], 2);
    let (_, summary) = admin(
        &s,
        "GET",
        &format!("/service/{sid}/unsubscribe-request-reports-summary"),
        None,
    )
    .await;
    let summary = summary.as_array().unwrap().clone();
    assert_eq!(summary.len(), 1, "{summary:?}");
    assert_eq!(summary[0]["count"], 2);
    assert_eq!(summary[0]["is_a_batched_report"], false);

    // Batched into a report, downloaded, marked processed.
    let (code, made) = admin(
        &s,
        "POST",
        &format!("/service/{sid}/create-unsubscribe-request-report"),
        Some(json!({})),
    )
    .await;
    assert_eq!(code, 201, "{made}");
    let batch = made["report_id"].as_str().unwrap().to_string();
    let (code, report) = admin(
        &s,
        "GET",
        &format!("/service/{sid}/unsubscribe-request-report/{batch}"),
        None,
    )
    .await;
    assert_eq!(code, 200, "{report}");
    let mut emails: Vec<&str> = report["unsubscribe_requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["email_address"].as_str().unwrap())
        .collect();
    emails.sort();
    assert_eq!(emails, vec!["ann@example.com", "bob@example.com"]);
    assert_eq!(
        report["unsubscribe_requests"][0]["template_name"],
        "Newsletter"
    );
    assert_eq!(
        report["unsubscribe_requests"][0]["original_file_name"],
        "N/A"
    );

    let (code, csv) = admin(
        &s,
        "GET",
        &format!("/service/{sid}/unsubscribe-request-report/{batch}?format=csv"),
        None,
    )
    .await;
    assert_eq!(code, 200);
    let csv = csv.as_str().unwrap().to_string();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("Email address,Template name"), "{csv}");
    assert!(csv.contains("ann@example.com,Newsletter,N/A,"), "{csv}");

    let (_, summary) = admin(
        &s,
        "GET",
        &format!("/service/{sid}/unsubscribe-request-reports-summary"),
        None,
    )
    .await;
    assert_eq!(summary[0]["batch_id"], batch.as_str());
    assert_eq!(summary[0]["processed_by_service_at"], Value::Null);
    let (code, _) = admin(
        &s,
        "POST",
        &format!("/service/{sid}/process-unsubscribe-request-report/{batch}"),
        Some(json!({"report_has_been_processed": true})),
    )
    .await;
    assert_eq!(code, 204);
    let (_, summary) = admin(
        &s,
        "GET",
        &format!("/service/{sid}/unsubscribe-request-reports-summary"),
        None,
    )
    .await;
    assert!(
        summary[0]["processed_by_service_at"].is_string(),
        "{summary}"
    );
    let (_, stats) = admin(
        &s,
        "GET",
        &format!("/service/{sid}/unsubscribe-request-statistics"),
        None,
    )
    .await;
    assert_eq!(stats["unsubscribe_requests_count"], 0);

    // After processing, the same recipient can ask again: a new request.
    assert_eq!(click(&ann_link).await.0, 200);
    let (_, stats) = admin(
        &s,
        "GET",
        &format!("/service/{sid}/unsubscribe-request-statistics"),
        None,
    )
    .await;
    assert_eq!(stats["unsubscribe_requests_count"], 1);

    // Nothing to batch is refused; an unknown report too.
    admin(
        &s,
        "POST",
        &format!("/service/{sid}/create-unsubscribe-request-report"),
        Some(json!({})),
    )
    .await;
    let (code, _) = admin(
        &s,
        "POST",
        &format!("/service/{sid}/create-unsubscribe-request-report"),
        Some(json!({})),
    )
    .await;
    assert_eq!(code, 400);
    let unknown = uuid::Uuid::new_v4();
    let (code, _) = admin(
        &s,
        "GET",
        &format!("/service/{sid}/unsubscribe-request-report/{unknown}"),
        None,
    )
    .await;
    assert_eq!(code, 400);
}
