//! Provider receipts and received texts over real HTTP (workers.md §7.3): MMG and Firetext
//! delivery receipts, inbound texts from both, Amazon SES events through SNS, and the optional
//! basic auth. The routes are served on their own listener so these tests do not depend on how
//! they are mounted in the main tree.

use crate::common;

use std::sync::{Arc, Mutex};

use common::TestServer;
use notify::config::Secret;
use serde_json::{Value, json};
use storage::records::{KeyType, Notification, NotificationStatus, NotificationType};
use uuid::Uuid;
use warp::Filter;

use NotificationStatus::*;

/// Serve `notify::receipts::routes` for `server`'s app on a fresh port; its base URL.
async fn receipts_base(server: &TestServer) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        warp::serve(notify::receipts::routes(server.app.clone()))
            .incoming(listener)
            .run(),
    );
    base
}

/// A notification stored directly in `status`, so no worker races the test.
async fn stored(server: &TestServer, kind: NotificationType, status: NotificationStatus) -> Uuid {
    let now = server.app.store.clock().now_micros();
    let sms = kind == NotificationType::Sms;
    let n = Notification {
        id: Uuid::new_v4(),
        service_id: server.service_id,
        notification_type: kind,
        template_id: if sms {
            server.sms_template
        } else {
            server.email_template
        },
        template_version: 1,
        api_key_id: None,
        key_type: KeyType::Normal,
        status,
        to: if sms {
            "07700900123".into()
        } else {
            "someone@example.com".into()
        },
        normalised_to: if sms {
            "447700900123".into()
        } else {
            "someone@example.com".into()
        },
        personalisation: "{}".into(),
        body: "Hello".into(),
        subject: (!sms).then(|| "Hi".to_string()),
        client_reference: None,
        job_id: None,
        job_row_number: None,
        reply_to_text: None,
        one_click_unsubscribe_url: None,
        postage: None,
        international: false,
        billable_units: 1,
        sent_by: Some(if sms { "mmg" } else { "ses" }.into()),
        created_at: now,
        sent_at: Some(now),
        updated_at: None,
        created_by_name: None,
        status_reason: None,
    };
    let id = n.id;
    server
        .app
        .store
        .write(move |ctx| ctx.insert_notification(&n))
        .await
        .unwrap();
    id
}

/// An email in `status` whose SES message id is `reference`.
async fn stored_email(server: &TestServer, status: NotificationStatus, reference: &str) -> Uuid {
    let id = stored(server, NotificationType::Email, status).await;
    let reference = reference.to_string();
    server
        .app
        .store
        .write(move |ctx| ctx.put_provider_reference(&reference, id))
        .await
        .unwrap();
    id
}

fn status_of(server: &TestServer, id: Uuid) -> NotificationStatus {
    server
        .app
        .store
        .read()
        .unwrap()
        .get_notification(id)
        .unwrap()
        .unwrap()
        .status
}

async fn answer(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn post_json(base: &str, path: &str, body: &Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    answer(resp).await
}

async fn post_form(base: &str, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .form(form)
        .send()
        .await
        .unwrap();
    answer(resp).await
}

async fn post_sns(
    base: &str,
    kind: &str,
    envelope: &Value,
    auth: Option<(&str, &str)>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/notifications/email/ses"))
        .header("x-amz-sns-message-type", kind)
        .header("content-type", "text/plain; charset=UTF-8")
        .body(envelope.to_string());
    if let Some((user, password)) = auth {
        req = req.basic_auth(user, Some(password));
    }
    answer(req.send().await.unwrap()).await
}

fn mmg(id: impl ToString, status: Value) -> Value {
    json!({
        "reference": "mmg_reference",
        "CID": id.to_string(),
        "MSISDN": "447700900123",
        "status": status,
        "substatus": "5",
        "deliverytime": "2016-04-05 16:01:07"
    })
}

fn ses_notification(kind: &str, reference: &str, mail_timestamp: &str, extra: Value) -> Value {
    let mut message = json!({
        "notificationType": kind,
        "mail": {
            "timestamp": mail_timestamp,
            "source": "sender@example.com",
            "messageId": reference,
            "destination": ["someone@example.com"]
        }
    });
    if let (Some(m), Some(extra)) = (message.as_object_mut(), extra.as_object()) {
        m.extend(extra.clone());
    }
    json!({
        "Type": "Notification",
        "MessageId": Uuid::new_v4().to_string(),
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:ses-receipts",
        "Message": message.to_string(),
        "Timestamp": "2017-11-17T12:14:04.000Z",
        "SignatureVersion": "1",
        "Signature": "not checked",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/cert.pem"
    })
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[tokio::test]
async fn mmg_receipts_set_each_status() {
    let s = TestServer::start().await;
    let base = receipts_base(&s).await;
    for (status, expected) in [
        (json!("3"), Delivered),
        (json!(3), Delivered),
        (json!("2"), PermanentFailure),
        (json!("4"), TemporaryFailure),
        (json!(5), PermanentFailure),
    ] {
        let id = stored(&s, NotificationType::Sms, Sending).await;
        let (code, body) =
            post_json(&base, "/notifications/sms/mmg", &mmg(id, status.clone())).await;
        assert_eq!(code, 200, "{status}: {body}");
        assert_eq!(
            body,
            json!({"result": "success", "message": format!("MMG callback succeeded. reference {id} updated")})
        );
        assert_eq!(status_of(&s, id), expected, "{status}");
    }
}

#[tokio::test]
async fn mmg_unknown_status_is_a_technical_failure() {
    let s = TestServer::start().await;
    let base = receipts_base(&s).await;
    let id = stored(&s, NotificationType::Sms, Sending).await;
    let (code, body) = post_json(&base, "/notifications/sms/mmg", &mmg(id, json!("9"))).await;
    assert_eq!(code, 400);
    assert_eq!(
        body,
        json!({"result": "error", "message": "MMG callback failed: status 9 not found."})
    );
    assert_eq!(status_of(&s, id), TechnicalFailure);
}

#[tokio::test]
async fn mmg_bad_requests_are_named() {
    let s = TestServer::start().await;
    let base = receipts_base(&s).await;

    let (code, body) = post_json(&base, "/notifications/sms/mmg", &json!({"status": "3"})).await;
    assert_eq!(code, 400);
    assert_eq!(
        body,
        json!({"result": "error", "message": ["MMG callback failed: CID missing"]})
    );

    let (code, body) = post_json(&base, "/notifications/sms/mmg", &mmg("1234", json!("3"))).await;
    assert_eq!(code, 400);
    assert_eq!(
        body,
        json!({"result": "error", "message": "MMG callback with invalid reference 1234"})
    );

    let resp = reqwest::Client::new()
        .post(format!("{base}/notifications/sms/mmg"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (code, body) = answer(resp).await;
    assert_eq!(code, 400);
    assert_eq!(body["message"], "MMG callback failed: invalid json");

    // Unknown notification: logged and acknowledged.
    let (code, body) = post_json(
        &base,
        "/notifications/sms/mmg",
        &mmg(Uuid::new_v4(), json!("3")),
    )
    .await;
    assert_eq!((code, body), (200, json!({"result": "success"})));
}

#[tokio::test]
async fn receipts_for_final_notifications_change_nothing() {
    let s = TestServer::start().await;
    let base = receipts_base(&s).await;
    let id = stored(&s, NotificationType::Sms, Sending).await;
    let (code, _) = post_json(&base, "/notifications/sms/mmg", &mmg(id, json!("3"))).await;
    assert_eq!(code, 200);
    assert_eq!(status_of(&s, id), Delivered);

    // A late failure from either provider is ignored (§1.1), unknown statuses too.
    let (code, body) = post_json(&base, "/notifications/sms/mmg", &mmg(id, json!("5"))).await;
    assert_eq!((code, body), (200, json!({"result": "success"})));
    let id_text = id.to_string();
    let (code, _) = post_form(
        &base,
        "/notifications/sms/firetext",
        &[("status", "1"), ("code", "101"), ("reference", &id_text)],
    )
    .await;
    assert_eq!(code, 200);
    let (code, _) = post_json(&base, "/notifications/sms/mmg", &mmg(id, json!("7"))).await;
    assert_eq!(code, 400);
    assert_eq!(status_of(&s, id), Delivered);
}

#[tokio::test]
async fn firetext_receipts_follow_status_code_and_pending() {
    let s = TestServer::start().await;
    let base = receipts_base(&s).await;
    let path = "/notifications/sms/firetext";
    for (status, code, expected) in [
        ("0", None, Delivered),
        ("1", None, PermanentFailure),
        ("1", Some("101"), PermanentFailure),
        ("1", Some("401"), PermanentFailure),
        ("1", Some("102"), TemporaryFailure),
        ("1", Some("000"), TemporaryFailure),
        ("1", Some("900"), TemporaryFailure),
        ("2", None, Pending),
    ] {
        let id = stored(&s, NotificationType::Sms, Sending).await;
        let id_text = id.to_string();
        let mut form = vec![
            ("mobile", "447700900123"),
            ("status", status),
            ("time", "2016-03-10 14:17:00"),
            ("reference", id_text.as_str()),
        ];
        if let Some(c) = code {
            form.push(("code", c));
        }
        let (http, body) = post_form(&base, path, &form).await;
        assert_eq!(http, 200, "{status}/{code:?}: {body}");
        assert_eq!(
            body["message"],
            format!("Firetext callback succeeded. reference {id} updated")
        );
        assert_eq!(status_of(&s, id), expected, "{status}/{code:?}");
    }

    // Pending, then a failure with no code: only a temporary failure.
    let id = stored(&s, NotificationType::Sms, Sending).await;
    let id_text = id.to_string();
    post_form(&base, path, &[("status", "2"), ("reference", &id_text)]).await;
    assert_eq!(status_of(&s, id), Pending);
    let (http, _) = post_form(&base, path, &[("status", "1"), ("reference", &id_text)]).await;
    assert_eq!(http, 200);
    assert_eq!(status_of(&s, id), TemporaryFailure);

    // Pending, then a failure whose code says permanent.
    let id = stored(&s, NotificationType::Sms, Sending).await;
    let id_text = id.to_string();
    post_form(&base, path, &[("status", "2"), ("reference", &id_text)]).await;
    post_form(
        &base,
        path,
        &[("status", "1"), ("code", "201"), ("reference", &id_text)],
    )
    .await;
    assert_eq!(status_of(&s, id), PermanentFailure);

    // Errors as upstream words them.
    let (http, body) = post_form(&base, path, &[("status", "0"), ("reference", "")]).await;
    assert_eq!(http, 400);
    assert_eq!(
        body["message"],
        json!(["Firetext callback failed: reference missing"])
    );
    let (http, body) = post_form(&base, path, &[("status", "0"), ("reference", "1234")]).await;
    assert_eq!(http, 400);
    assert_eq!(
        body["message"],
        "Firetext callback with invalid reference 1234"
    );
    let id = stored(&s, NotificationType::Sms, Sending).await;
    let id_text = id.to_string();
    let (http, body) = post_form(&base, path, &[("status", "99"), ("reference", &id_text)]).await;
    assert_eq!(http, 400);
    assert_eq!(
        body["message"],
        "Firetext callback failed: status 99 not found."
    );
    assert_eq!(status_of(&s, id), TechnicalFailure);
}

#[tokio::test]
async fn webhook_receipts_set_each_status() {
    let s = TestServer::start().await;
    let base = receipts_base(&s).await;
    let path = "/notifications/sms/webhook";
    for (status, expected) in [
        ("delivered", Delivered),
        ("pending", Pending),
        ("temporary-failure", TemporaryFailure),
        ("permanent-failure", PermanentFailure),
    ] {
        let id = stored(&s, NotificationType::Sms, Sending).await;
        let receipt = json!({"reference": id, "status": status,
                             "timestamp": "2026-05-21T10:56:11Z"});
        let (code, body) = post_json(&base, path, &receipt).await;
        assert_eq!(code, 200, "{status}: {body}");
        assert_eq!(
            body["message"],
            format!("Webhook callback succeeded. reference {id} updated")
        );
        assert_eq!(status_of(&s, id), expected, "{status}");
    }

    // Pending then delivered; the timestamp is optional.
    let id = stored(&s, NotificationType::Sms, Sending).await;
    post_json(&base, path, &json!({"reference": id, "status": "pending"})).await;
    assert_eq!(status_of(&s, id), Pending);
    let (code, _) = post_json(
        &base,
        path,
        &json!({"reference": id, "status": "delivered"}),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(status_of(&s, id), Delivered);

    // An unknown status is a technical failure, named.
    let id = stored(&s, NotificationType::Sms, Sending).await;
    let (code, body) = post_json(&base, path, &json!({"reference": id, "status": "lost"})).await;
    assert_eq!(code, 400);
    assert_eq!(
        body["message"],
        "Webhook callback failed: status lost not found."
    );
    assert_eq!(status_of(&s, id), TechnicalFailure);

    // Bad requests change nothing and say what is wrong.
    let id = stored(&s, NotificationType::Sms, Sending).await;
    let (code, body) = post_json(&base, path, &json!({"status": "delivered"})).await;
    assert_eq!(code, 400);
    assert_eq!(
        body["message"],
        json!(["Webhook callback failed: reference missing"])
    );
    let late = json!({"reference": id, "status": "delivered", "timestamp": "yesterday"});
    let (code, body) = post_json(&base, path, &late).await;
    assert_eq!(code, 400);
    assert_eq!(
        body["message"],
        "Webhook callback failed: timestamp must be an RFC 3339 date and time"
    );
    let (code, body) = post_json(
        &base,
        path,
        &json!({"reference": "1234", "status": "delivered"}),
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(
        body["message"],
        "Webhook callback with invalid reference 1234"
    );
    assert_eq!(status_of(&s, id), Sending);
}

/// Give the test service an inbound number from the pool (and the permissions upstream asks
/// for).
async fn with_inbound_number(s: &TestServer, number: &str) {
    use notify::domain::inbound_numbers as pool;
    let n = pool::add_inbound_number(
        &s.app,
        pool::NewInboundNumber {
            number: number.to_string(),
            provider: None,
        },
    )
    .await
    .unwrap();
    let request = pool::AssignInboundNumber {
        inbound_number_id: Some(n.id),
    };
    pool::assign_inbound_number(&s.app, s.service_id, request)
        .await
        .unwrap();
    s.update_service(move |svc| {
        for p in ["sms", "inbound_sms"] {
            if !svc.permissions.iter().any(|x| x == p) {
                svc.permissions.push(p.to_string());
            }
        }
    })
    .await;
}

#[tokio::test]
async fn inbound_texts_are_stored_and_listed() {
    let s = TestServer::start().await;
    let base = receipts_base(&s).await;
    with_inbound_number(&s, "07700900500").await;

    let (code, body) = post_json(
        &base,
        "/notifications/sms/receive/mmg",
        &json!({
            "MSISDN": "447700900111",
            "Number": "447700900500",
            "Message": "Hello+there%2C+%F0%9F%93%A9",
            "ID": "mmg-inbound-1",
            "DateRecieved": "2017-05-21+11%3A56%3A11"
        }),
    )
    .await;
    assert_eq!((code, body), (200, json!({"status": "ok"})));

    let (code, body) = post_form(
        &base,
        "/notifications/sms/receive/firetext",
        &[
            ("source", "447700900222"),
            ("destination", "447700900500"),
            ("message", "Second text"),
            ("time", "2017-01-21 11:56:11"),
        ],
    )
    .await;
    assert_eq!((code, body), (200, json!({"status": "ok"})));

    // Stored with the provider's details; the dates were London time.
    let mut stored = s
        .app
        .store
        .read()
        .unwrap()
        .service_inbound_sms(s.service_id, None, 10)
        .unwrap();
    stored.sort_by_key(|m| m.provider.clone());
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].provider, "firetext");
    assert_eq!(stored[0].content, "Second text");
    assert_eq!(
        stored[0].provider_date,
        Some(
            chrono::DateTime::parse_from_rfc3339("2017-01-21T11:56:11Z")
                .unwrap()
                .timestamp_micros()
        )
    );
    assert_eq!(stored[1].provider, "mmg");
    assert_eq!(stored[1].content, "Hello there, 📩");
    assert_eq!(
        stored[1].provider_reference.as_deref(),
        Some("mmg-inbound-1")
    );
    assert_eq!(
        stored[1].provider_date,
        Some(
            chrono::DateTime::parse_from_rfc3339("2017-05-21T10:56:11Z")
                .unwrap()
                .timestamp_micros()
        )
    );

    // And visible through the public API.
    let (code, body) = s
        .call("normal", "GET", "/v2/received-text-messages", None)
        .await;
    assert_eq!(code, 200, "{body}");
    let mut contents: Vec<(String, String)> = body["received_text_messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["content"].as_str().unwrap().to_string(),
                m["user_number"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    contents.sort();
    assert_eq!(
        contents,
        vec![
            ("Hello there, 📩".to_string(), "447700900111".to_string()),
            ("Second text".to_string(), "447700900222".to_string()),
        ]
    );
}

#[tokio::test]
async fn inbound_texts_for_unknown_numbers_are_acknowledged_and_dropped() {
    let s = TestServer::start().await;
    let base = receipts_base(&s).await;
    let resp = reqwest::Client::new()
        .post(format!("{base}/notifications/sms/receive/mmg"))
        .json(&json!({"MSISDN": "447700900111", "Number": "447700900999", "Message": "hi", "ID": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.text().await.unwrap(), "RECEIVED");
    let (code, body) = post_form(
        &base,
        "/notifications/sms/receive/firetext",
        &[
            ("source", "1"),
            ("destination", "447700900999"),
            ("message", "hi"),
        ],
    )
    .await;
    assert_eq!((code, body), (200, json!({"status": "ok"})));
    assert!(
        s.app
            .store
            .read()
            .unwrap()
            .service_inbound_sms(s.service_id, None, 10)
            .unwrap()
            .is_empty()
    );
    // Missing fields are named.
    let (code, body) = post_json(
        &base,
        "/notifications/sms/receive/mmg",
        &json!({"Number": "447700900999"}),
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(
        body["message"],
        json!([
            "MMG inbound SMS failed: MSISDN missing",
            "MMG inbound SMS failed: Message missing"
        ])
    );
}

#[tokio::test]
async fn ses_deliveries_and_bounces_set_the_status() {
    let s = TestServer::start().await;
    let base = receipts_base(&s).await;
    let old = "2017-11-17T12:14:03.646Z";
    for (kind, extra, expected) in [
        ("Delivery", json!({}), Delivered),
        (
            "Bounce",
            json!({"bounce": {"bounceType": "Permanent", "bounceSubType": "General"}}),
            PermanentFailure,
        ),
        (
            "Bounce",
            json!({"bounce": {"bounceType": "Transient", "bounceSubType": "MailboxFull"}}),
            TemporaryFailure,
        ),
    ] {
        let reference = format!("ses-{}", Uuid::new_v4());
        let id = stored_email(&s, Sending, &reference).await;
        let (code, body) = post_sns(
            &base,
            "Notification",
            &ses_notification(kind, &reference, old, extra),
            None,
        )
        .await;
        assert_eq!(code, 200, "{kind}: {body}");
        assert_eq!(
            body,
            json!({"result": "success", "message": "SES callback succeeded"})
        );
        assert_eq!(status_of(&s, id), expected, "{kind}");
    }

    // A second receipt for a final email changes nothing.
    let id = stored_email(&s, Sending, "ses-msg-id").await;
    post_sns(
        &base,
        "Notification",
        &ses_notification("Delivery", "ses-msg-id", old, json!({})),
        None,
    )
    .await;
    let (code, _) = post_sns(
        &base,
        "Notification",
        &ses_notification(
            "Bounce",
            "ses-msg-id",
            old,
            json!({"bounce": {"bounceType": "Permanent"}}),
        ),
        None,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(status_of(&s, id), Delivered);
}

#[tokio::test]
async fn ses_unknown_references_and_malformed_posts() {
    let s = TestServer::start().await;
    let base = receipts_base(&s).await;

    // Old: not found. New: SNS is asked to try again (our write may not be committed yet).
    let (code, body) = post_sns(
        &base,
        "Notification",
        &ses_notification("Delivery", "nobody", "2017-11-17T12:14:03.646Z", json!({})),
        None,
    )
    .await;
    assert_eq!(code, 404, "{body}");
    let (code, _) = post_sns(
        &base,
        "Notification",
        &ses_notification("Delivery", "nobody", &now_rfc3339(), json!({})),
        None,
    )
    .await;
    assert_eq!(code, 503);

    let (code, body) = post_sns(
        &base,
        "Notification",
        &json!({"Type": "Notification"}),
        None,
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(
        body["message"],
        json!(["SES callback failed: Message missing"])
    );

    let (code, body) = post_sns(
        &base,
        "Notification",
        &json!({"Type": "Notification", "Message": "{oops"}),
        None,
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(body["message"], "SES callback failed: invalid json");

    let (code, body) = post_sns(
        &base,
        "Notification",
        &ses_notification("Open", "x", &now_rfc3339(), json!({})),
        None,
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(
        body["message"],
        "SES callback failed: status Open not found"
    );

    let resp = reqwest::Client::new()
        .post(format!("{base}/notifications/email/ses"))
        .body("definitely not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test]
async fn ses_complaints_are_recorded() {
    let s = TestServer::start().await;
    let base = receipts_base(&s).await;
    let id = stored_email(&s, Sending, "complained-about").await;
    let (code, body) = post_sns(
        &base,
        "Notification",
        &ses_notification(
            "Complaint",
            "complained-about",
            "2017-11-17T12:14:03.646Z",
            json!({"complaint": {
                "complainedRecipients": [{"emailAddress": "someone@example.com"}],
                "complaintFeedbackType": "abuse",
                "timestamp": "2018-06-05T13:59:58.000Z",
                "feedbackId": "feedback"
            }}),
        ),
        None,
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let complaints = s.app.store.read().unwrap().complaints().unwrap();
    assert_eq!(complaints.len(), 1);
    let c = &complaints[0];
    assert_eq!(c.notification_id, id);
    assert_eq!(c.service_id, s.service_id);
    assert_eq!(c.complaint_type.as_deref(), Some("abuse"));
    assert_eq!(
        c.complaint_date,
        Some(
            chrono::DateTime::parse_from_rfc3339("2018-06-05T13:59:58Z")
                .unwrap()
                .timestamp_micros()
        )
    );
    // A complaint leaves the status alone.
    assert_eq!(status_of(&s, id), Sending);
}

/// Complaints, recorded from SES, listed through the internal API: every service's, one
/// service's (paged, and as CSV), and counted over London days.
#[tokio::test]
async fn complaints_are_listed_per_service() {
    let s = TestServer::start().await;
    let base = receipts_base(&s).await;
    let mut ids = Vec::new();
    for (n, kind) in ["abuse", "not-spam"].iter().enumerate() {
        let reference = format!("complained-{n}");
        let id = stored_email(&s, Delivered, &reference).await;
        ids.push(id);
        let envelope = ses_notification(
            "Complaint",
            &reference,
            "2017-11-17T12:14:03.646Z",
            json!({"complaint": {
                "complainedRecipients": [{"emailAddress": "someone@example.com"}],
                "complaintFeedbackType": kind,
                "timestamp": "2018-06-05T13:59:58.000Z",
                "feedbackId": format!("feedback-{n}")
            }}),
        );
        let (code, body) = post_sns(&base, "Notification", &envelope, None).await;
        assert_eq!(code, 200, "{body}");
    }
    let admin = |path: String| {
        let s = &s;
        async move { s.request("GET", &path, Some(s.admin_auth()), None).await }
    };

    let (code, all) = admin("/complaint".into()).await;
    assert_eq!(code, 200, "{all}");
    let listed = all["complaints"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    // Newest first.
    assert_eq!(listed[0]["notification_id"], ids[1].to_string());
    assert_eq!(listed[0]["complaint_type"], "not-spam");
    assert_eq!(listed[0]["service_name"], "API tests");
    assert_eq!(listed[1]["complaint_date"], "2018-06-05T13:59:58.000000Z");
    assert_eq!(all["links"], json!({}));

    let sid = s.service_id;
    let (code, mine) = admin(format!("/service/{sid}/complaints?page=1")).await;
    assert_eq!(code, 200, "{mine}");
    assert_eq!(mine["complaints"], all["complaints"]);
    let (code, empty) = admin(format!("/service/{sid}/complaints?page=2")).await;
    assert_eq!(code, 200);
    assert_eq!(empty["complaints"], json!([]));
    assert_eq!(
        empty["links"]["prev"],
        format!("/service/{sid}/complaints?page=1")
    );
    let (code, _) = admin(format!("/service/{}/complaints", Uuid::new_v4())).await;
    assert_eq!(code, 404);
    let (code, _) = admin(format!("/service/{sid}/complaints?page=0")).await;
    assert_eq!(code, 400);

    let csv = reqwest::Client::new()
        .get(format!("{}/service/{sid}/complaints?format=csv", s.base))
        .header("authorization", s.admin_auth())
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status().as_u16(), 200);
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "Notification ID,Complaint type,Complaint date,Received at"
    );
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[2].starts_with(&format!("{},abuse,2018-06-05", ids[0])),
        "{text}"
    );

    let (code, today) = admin("/complaint/count-by-date-range".into()).await;
    assert_eq!((code, today), (200, json!(2)));
    let (_, long_ago) =
        admin("/complaint/count-by-date-range?start_date=2017-01-01&end_date=2017-12-31".into())
            .await;
    assert_eq!(long_ago, json!(0));
    let (code, _) = admin("/complaint/count-by-date-range?start_date=yesterday".into()).await;
    assert_eq!(code, 400);
}

/// A tiny HTTP endpoint standing in for SNS's SubscribeURL; records the query strings it got.
async fn subscribe_endpoint() -> (String, Arc<Mutex<Vec<String>>>) {
    let hits = Arc::new(Mutex::new(Vec::new()));
    let h = hits.clone();
    let route = warp::path!("confirm")
        .and(warp::get())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .map(move |q: String| {
            h.lock().unwrap().push(q);
            "<ConfirmSubscriptionResponse/>"
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/confirm", listener.local_addr().unwrap());
    tokio::spawn(warp::serve(route).incoming(listener).run());
    (url, hits)
}

fn subscription(url: &str) -> Value {
    json!({
        "Type": "SubscriptionConfirmation",
        "MessageId": Uuid::new_v4().to_string(),
        "Token": "token-123",
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:ses-receipts",
        "Message": "You have chosen to subscribe to the topic ...",
        "SubscribeURL": format!("{url}?Action=ConfirmSubscription&Token=token-123"),
        "Timestamp": "2017-11-17T12:14:04.000Z",
        "SignatureVersion": "1",
        "Signature": "not checked",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/cert.pem"
    })
}

#[tokio::test]
async fn ses_subscriptions_are_confirmed_for_authenticated_posts() {
    let s = TestServer::start_with(|c: &mut notify::config::Config| {
        c.receipts.username = "notify".into();
        c.receipts.password = Secret::new("receipts-password");
    })
    .await;
    let base = receipts_base(&s).await;
    let (url, hits) = subscribe_endpoint().await;

    let (code, body) = post_sns(
        &base,
        "SubscriptionConfirmation",
        &subscription(&url),
        Some(("notify", "receipts-password")),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body,
        json!({"result": "success", "message": "SES callback succeeded"})
    );
    assert_eq!(
        *hits.lock().unwrap(),
        vec!["Action=ConfirmSubscription&Token=token-123".to_string()]
    );

    // Without the credentials nothing is fetched.
    let (code, _) = post_sns(&base, "SubscriptionConfirmation", &subscription(&url), None).await;
    assert_eq!(code, 401);
    assert_eq!(hits.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn ses_subscriptions_without_auth_only_go_to_amazon() {
    let s = TestServer::start().await;
    let base = receipts_base(&s).await;
    let (url, hits) = subscribe_endpoint().await;
    let (code, body) = post_sns(&base, "SubscriptionConfirmation", &subscription(&url), None).await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("is not an Amazon SNS address"),
        "{body}"
    );
    assert!(hits.lock().unwrap().is_empty());
}

#[tokio::test]
async fn basic_auth_guards_every_route_when_configured() {
    let s = TestServer::start_with(|c: &mut notify::config::Config| {
        c.receipts.username = "notify".into();
        c.receipts.password = Secret::new("receipts-password");
    })
    .await;
    let base = receipts_base(&s).await;
    let id = stored(&s, NotificationType::Sms, Sending).await;
    let client = reqwest::Client::new();
    let receipt = mmg(id, json!("3")).to_string();
    let paths = [
        "/notifications/sms/mmg",
        "/notifications/sms/firetext",
        "/notifications/sms/receive/mmg",
        "/notifications/sms/receive/firetext",
        "/notifications/email/ses",
    ];
    for path in paths {
        for auth in [
            None,
            Some(("notify", "wrong")),
            Some(("other", "receipts-password")),
        ] {
            let mut req = client.post(format!("{base}{path}")).body(receipt.clone());
            if let Some((u, p)) = auth {
                req = req.basic_auth(u, Some(p));
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status().as_u16(), 401, "{path} {auth:?}");
            assert!(resp.headers().contains_key("www-authenticate"));
            let (_, body) = answer(resp).await;
            assert_eq!(body["result"], "error");
        }
    }
    assert_eq!(status_of(&s, id), Sending);

    let resp = client
        .post(format!("{base}/notifications/sms/mmg"))
        .basic_auth("notify", Some("receipts-password"))
        .body(receipt)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(status_of(&s, id), Delivered);
}

/// A local endpoint standing in for a service's callback URL; records the JSON bodies.
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
    let url = format!("http://{}/status", listener.local_addr().unwrap());
    tokio::spawn(warp::serve(route).incoming(listener).run());
    (url, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn final_receipts_reach_the_service_callback() {
    let s = TestServer::start_with(|c: &mut notify::config::Config| {
        c.callbacks.allow_http = true;
    })
    .await;
    let base = receipts_base(&s).await;
    let (url, got) = callback_receiver().await;
    let (status, body) = s
        .request(
            "POST",
            &format!("/service/{}/delivery-receipt-api", s.service_id),
            Some(s.admin_auth()),
            Some(&json!({"url": url, "bearer_token": "callback-token-123"}).to_string()),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let id = stored(&s, NotificationType::Sms, Sending).await;
    let id_text = id.to_string();
    // Pending is a step on the way: no callback. Delivered is final: one callback.
    let path = "/notifications/sms/firetext";
    post_form(&base, path, &[("status", "2"), ("reference", &id_text)]).await;
    post_form(&base, path, &[("status", "0"), ("reference", &id_text)]).await;
    assert_eq!(status_of(&s, id), Delivered);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while got.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    s.wait_queue_empty(notify::domain::queues::Queue::Callbacks)
        .await;
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["id"], id_text);
    assert_eq!(got[0]["status"], "delivered");
}
