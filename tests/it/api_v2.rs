//! The public v2 API in process: authentication (§2.3, every error in order), request errors
//! (§8), limits (§9), simulated recipients (§3).

use crate::common;

use common::{TestServer, claims_for, errors, secret_of, sign};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

const MALFORMED: &str = "Invalid token: make sure your API token matches the example at https://docs.notifications.service.gov.uk/rest-api.html#authorisation-header";

async fn templates_with(s: &TestServer, auth: Option<String>) -> (u16, Vec<(String, String)>) {
    let (status, body) = s.request("GET", "/v2/templates", auth, None).await;
    let errs = if status == 200 { vec![] } else { errors(&body) };
    (status, errs)
}

fn auth_err(status: u16, message: &str) -> (u16, Vec<(String, String)>) {
    (status, vec![("AuthError".to_string(), message.to_string())])
}

#[tokio::test]
async fn authentication_errors_in_upstream_order() {
    let s = TestServer::start().await;
    let key = s.keys["normal"].clone();
    let now = chrono::Utc::now().timestamp();
    let bearer = |t: String| Some(format!("Bearer {t}"));

    assert_eq!(
        templates_with(&s, None).await,
        auth_err(401, "Unauthorized: authentication token must be provided")
    );
    assert_eq!(
        templates_with(&s, Some(String::new())).await,
        auth_err(401, "Unauthorized: authentication token must be provided")
    );
    assert_eq!(
        templates_with(&s, Some(format!("Basic {}", s.token(&key)))).await,
        auth_err(
            401,
            "Unauthorized: authentication bearer scheme must be used"
        )
    );
    assert_eq!(
        templates_with(&s, bearer("not.a.jwt".into())).await,
        auth_err(403, MALFORMED)
    );
    let no_iss = sign(&json!({"iat": now}), secret_of(&key), Algorithm::HS256);
    assert_eq!(
        templates_with(&s, bearer(no_iss)).await,
        auth_err(403, "Invalid token: iss field not provided")
    );
    let bad_iss = sign(
        &json!({"iss": "nope", "iat": now}),
        secret_of(&key),
        Algorithm::HS256,
    );
    assert_eq!(
        templates_with(&s, bearer(bad_iss)).await,
        auth_err(403, "Invalid token: service id is not the right data type")
    );
    let unknown = sign(
        &json!({"iss": uuid::Uuid::new_v4().to_string(), "iat": now}),
        secret_of(&key),
        Algorithm::HS256,
    );
    assert_eq!(
        templates_with(&s, bearer(unknown)).await,
        auth_err(403, "Invalid token: service not found")
    );

    // A service with no keys.
    let keyless = notify::domain::services::create_service(
        &s.app,
        &notify::domain::accounts::Actor::operator(),
        notify::domain::services::NewService {
            name: "Keyless".into(),
            restricted: false,
        },
    )
    .await
    .unwrap();
    let t = sign(
        &json!({"iss": keyless.id.to_string(), "iat": now}),
        secret_of(&key),
        Algorithm::HS256,
    );
    assert_eq!(
        templates_with(&s, bearer(t)).await,
        auth_err(403, "Invalid token: service has no API keys")
    );

    let hs512 = sign(&claims_for(&key, now), secret_of(&key), Algorithm::HS512);
    assert_eq!(
        templates_with(&s, bearer(hs512)).await,
        auth_err(403, "Invalid token: algorithm used is not HS256")
    );
    let clock = "Error: Your system clock must be accurate to within 30 seconds";
    let early = sign(
        &claims_for(&key, now - 40),
        secret_of(&key),
        Algorithm::HS256,
    );
    assert_eq!(
        templates_with(&s, bearer(early)).await,
        auth_err(403, clock)
    );
    let late = sign(
        &claims_for(&key, now + 40),
        secret_of(&key),
        Algorithm::HS256,
    );
    assert_eq!(templates_with(&s, bearer(late)).await, auth_err(403, clock));
    let nbf = sign(
        &json!({"iss": s.service_id.to_string(), "iat": now, "nbf": now + 100}),
        secret_of(&key),
        Algorithm::HS256,
    );
    assert_eq!(templates_with(&s, bearer(nbf)).await, auth_err(403, clock));
    let expired = sign(
        &json!({"iss": s.service_id.to_string(), "iat": now, "exp": now - 100}),
        secret_of(&key),
        Algorithm::HS256,
    );
    assert_eq!(
        templates_with(&s, bearer(expired)).await,
        auth_err(403, MALFORMED)
    );
    let aud = sign(
        &json!({"iss": s.service_id.to_string(), "iat": now, "aud": "x"}),
        secret_of(&key),
        Algorithm::HS256,
    );
    assert_eq!(
        templates_with(&s, bearer(aud)).await,
        auth_err(403, MALFORMED)
    );
    let wrong_secret = sign(
        &claims_for(&key, now),
        &uuid::Uuid::new_v4().to_string(),
        Algorithm::HS256,
    );
    assert_eq!(
        templates_with(&s, bearer(wrong_secret)).await,
        auth_err(403, "Invalid token: API key not found")
    );
    let no_iat = sign(
        &json!({"iss": s.service_id.to_string()}),
        secret_of(&key),
        Algorithm::HS256,
    );
    assert_eq!(
        templates_with(&s, bearer(no_iat)).await,
        auth_err(403, "Invalid token: API key not found")
    );

    // Accepted: any case of the scheme, iat at the edge of the window.
    let edge = sign(
        &claims_for(&key, now - 29),
        secret_of(&key),
        Algorithm::HS256,
    );
    assert_eq!(
        templates_with(&s, Some(format!("bearer {edge}"))).await.0,
        200
    );
    assert_eq!(
        templates_with(&s, Some(format!("BEARER {}", s.token(&key))))
            .await
            .0,
        200
    );
}

/// A client reuses one token for all its requests within a second, so the server remembers
/// tokens it has verified; what can change (the time window, the key, the service) must still
/// be checked on every use.
#[tokio::test]
async fn a_reused_token_is_checked_again_on_every_use() {
    let clock = storage::ManualClock::new(chrono::Utc::now());
    let s = TestServer::start_with_clock(clock.clone(), |_| {}).await;
    let key = s.keys["normal"].clone();
    let token = Some(format!("Bearer {}", s.token(&key)));
    assert_eq!(templates_with(&s, token.clone()).await.0, 200);
    assert_eq!(
        templates_with(&s, token.clone()).await.0,
        200,
        "the same token again"
    );

    // Out of the ±30 s window by the server's clock: refused, then fine again back inside it.
    clock.advance(std::time::Duration::from_secs(31));
    assert_eq!(
        templates_with(&s, token.clone()).await,
        auth_err(
            403,
            "Error: Your system clock must be accurate to within 30 seconds"
        )
    );
    clock.set(storage::Clock::now(&*clock) - chrono::Duration::seconds(31));
    assert_eq!(templates_with(&s, token.clone()).await.0, 200);

    // The key revoked: the remembered token no longer works.
    let reader = s.app.store.read().unwrap();
    let key_id = reader
        .service_api_keys(s.service_id)
        .unwrap()
        .into_iter()
        .find(|k| k.key_type == storage::records::KeyType::Normal)
        .unwrap()
        .id;
    drop(reader);
    notify::domain::api_keys::revoke_api_key(
        &s.app,
        &notify::domain::accounts::Actor::operator(),
        s.service_id,
        key_id,
    )
    .await
    .unwrap();
    s.app.keys.invalidate(s.service_id);
    assert_eq!(
        templates_with(&s, token.clone()).await,
        auth_err(403, "Invalid token: API key revoked")
    );

    // The service archived: refused with the full check's message.
    let other = s.keys["team"].clone();
    let team_token = Some(format!("Bearer {}", s.token(&other)));
    assert_eq!(templates_with(&s, team_token.clone()).await.0, 200);
    let mut service = s
        .app
        .store
        .read()
        .unwrap()
        .get_service(s.service_id)
        .unwrap()
        .unwrap();
    service.active = false;
    s.app
        .store
        .write(move |ctx| ctx.put_service(&service))
        .await
        .unwrap();
    s.app.keys.invalidate(s.service_id);
    assert_eq!(
        templates_with(&s, team_token).await,
        auth_err(403, "Invalid token: service is archived")
    );
}

#[tokio::test]
async fn request_errors_use_the_v2_envelope() {
    let s = TestServer::start().await;
    // Invalid JSON, whatever the content type.
    let token = s.token(&s.keys["normal"]);
    let (status, body) = s
        .request(
            "POST",
            "/v2/notifications/sms",
            Some(format!("Bearer {token}")),
            Some("{nope"),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["status_code"], 400);
    assert_eq!(
        errors(&body),
        vec![(
            "BadRequestError".into(),
            "Invalid JSON supplied in POST data".into()
        )]
    );

    // Every schema error at once; null counts as {}.
    let (status, body) = s
        .call("normal", "POST", "/v2/notifications/sms", Some(Value::Null))
        .await;
    assert_eq!(status, 400);
    let messages: Vec<String> = errors(&body).into_iter().map(|e| e.1).collect();
    assert_eq!(
        messages,
        vec![
            "phone_number is a required property",
            "template_id is a required property"
        ]
    );

    let (_, body) = s
        .call("normal", "POST", "/v2/notifications/email", Some(json!({
            "email_address": 12345, "template_id": "x", "reference": "r".repeat(1001), "foo": 1, "bar": 2
        })))
        .await;
    let messages: Vec<String> = errors(&body).into_iter().map(|e| e.1).collect();
    assert!(
        messages.contains(&"email_address 12345 is not of type string".to_string()),
        "{messages:?}"
    );
    assert!(messages.contains(&"template_id is not a valid UUID".to_string()));
    assert!(messages.contains(&format!("reference {} is too long", "r".repeat(1001))));
    assert!(
        messages.contains(
            &"Additional properties are not allowed (foo, bar were unexpected)".to_string()
        ) || messages.contains(
            &"Additional properties are not allowed (bar, foo were unexpected)".to_string()
        )
    );

    // Business rules.
    let (status, body) = s
        .call("normal", "POST", "/v2/notifications/sms", Some(json!({
            "phone_number": "07700900123", "template_id": uuid::Uuid::new_v4(), "personalisation": {"name": "x"}
        })))
        .await;
    assert_eq!(
        (status, errors(&body)),
        (
            400,
            vec![("BadRequestError".into(), "Template not found".into())]
        )
    );
    let (status, body) = s
        .call("normal", "POST", "/v2/notifications/sms", Some(json!({
            "phone_number": "+1 202-555-0104", "template_id": s.sms_template, "personalisation": {"name": "x"}
        })))
        .await;
    assert_eq!(status, 201, "{body}");
    s.update_service(|svc| {
        svc.permissions
            .retain(|p| p != "international_sms" && p != "letter")
    })
    .await;
    let (status, body) = s
        .call("normal", "POST", "/v2/notifications/sms", Some(json!({
            "phone_number": "+1 202-555-0104", "template_id": s.sms_template, "personalisation": {"name": "x"}
        })))
        .await;
    assert_eq!(
        (status, errors(&body)),
        (
            400,
            vec![(
                "BadRequestError".into(),
                "Cannot send to international mobile numbers".into()
            )]
        )
    );
    let (status, body) = s
        .call("normal", "POST", "/v2/notifications/sms", Some(json!({
            "phone_number": "020 7946 0000", "template_id": s.sms_template, "personalisation": {"name": "x"}
        })))
        .await;
    assert_eq!(
        (status, errors(&body)),
        (
            400,
            vec![("InvalidPhoneError".into(), "Not a UK mobile number".into())]
        )
    );
    let (status, body) = s
        .call(
            "normal",
            "POST",
            "/v2/notifications/letter",
            Some(json!({
                "template_id": s.letter_template, "personalisation": {"name": "x"}
            })),
        )
        .await;
    assert_eq!(
        (status, errors(&body)),
        (
            400,
            vec![(
                "BadRequestError".into(),
                "Service is not allowed to send letters".into()
            )]
        )
    );
    let long = "a".repeat(919);
    let (status, body) = s
        .call("normal", "POST", "/v2/notifications/sms", Some(json!({
            "phone_number": "07700900123", "template_id": s.sms_template, "personalisation": {"name": long}
        })))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        errors(&body)[0].1,
        "Your message is too long. Text messages cannot be longer than 918 characters. Your message is 925 characters long."
    );
}

#[tokio::test]
async fn trial_mode_and_letters() {
    let s = TestServer::start().await;
    s.update_service(|svc| svc.restricted = true).await;
    let (status, body) = s
        .call("normal", "POST", "/v2/notifications/sms", Some(json!({
            "phone_number": "07700900123", "template_id": s.sms_template, "personalisation": {"name": "x"}
        })))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        errors(&body)[0].1,
        "Can’t send to this recipient when service is in trial mode – see https://www.notifications.service.gov.uk/trial-mode"
    );
    let (status, body) = s
        .call("normal", "POST", "/v2/notifications/letter", Some(json!({
            "template_id": s.letter_template,
            "personalisation": {"name": "x", "address_line_1": "A", "address_line_2": "B", "postcode": "SW1A 1AA"}
        })))
        .await;
    assert_eq!(
        (status, errors(&body)),
        (
            403,
            vec![(
                "BadRequestError".into(),
                "Cannot send letters when service is in trial mode".into()
            )]
        )
    );
    // Test keys may send letters in trial mode; the address rules still apply.
    let (status, body) = s
        .call(
            "test",
            "POST",
            "/v2/notifications/letter",
            Some(json!({
                "template_id": s.letter_template,
                "personalisation": {"name": "x", "address_line_1": "A", "address_line_2": "B"}
            })),
        )
        .await;
    assert_eq!(
        (status, errors(&body)),
        (
            400,
            vec![(
                "ValidationError".into(),
                "Address must be at least 3 lines".into()
            )]
        )
    );
    let (status, _) = s
        .call("test", "POST", "/v2/notifications/letter", Some(json!({
            "template_id": s.letter_template,
            "personalisation": {"name": "x", "address_line_1": "A", "address_line_2": "B", "postcode": "SW1A 1AA"}
        })))
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn rate_and_daily_limits() {
    let s = TestServer::start().await;
    s.update_service(|svc| {
        svc.sms_message_limit = 2;
    })
    .await;
    let send = || {
        s.call("normal", "POST", "/v2/notifications/sms", Some(json!({
            "phone_number": "07700900123", "template_id": s.sms_template, "personalisation": {"name": "x"}
        })))
    };
    assert_eq!(send().await.0, 201);
    assert_eq!(send().await.0, 201);
    let (status, body) = send().await;
    assert_eq!(
        (status, errors(&body)),
        (
            429,
            vec![(
                "TooManyRequestsError".into(),
                "Exceeded send limits (sms: 2) for today".into()
            )]
        )
    );
    // Test keys never count and are never refused by the daily limit.
    let (status, _) = s
        .call("test", "POST", "/v2/notifications/sms", Some(json!({
            "phone_number": "07700900123", "template_id": s.sms_template, "personalisation": {"name": "x"}
        })))
        .await;
    assert_eq!(status, 201);

    s.update_service(|svc| svc.rate_limit = 3).await;
    // capacity = ceil(3/3) + 1 = 2 tokens for the team key type.
    let team = || {
        s.call(
            "team",
            "POST",
            "/v2/notifications/email",
            Some(json!({"email_address": "x@example.com", "template_id": s.email_template})),
        )
    };
    let _ = team().await;
    let _ = team().await;
    let (status, body) = team().await;
    assert_eq!(
        (status, errors(&body)),
        (
            429,
            vec![(
                "RateLimitError".into(),
                "Exceeded rate limit for key type TEAM of 3 requests per 60 seconds".into()
            )]
        )
    );
}

#[tokio::test]
async fn simulated_recipients_are_accepted_but_not_stored() {
    let s = TestServer::start().await;
    let (status, body) = s
        .call("normal", "POST", "/v2/notifications/sms", Some(json!({
            "phone_number": "07700 900000", "template_id": s.sms_template, "personalisation": {"name": "x"}
        })))
        .await;
    assert_eq!(status, 201);
    let id = body["id"].as_str().unwrap();
    let (status, body) = s
        .call("normal", "GET", &format!("/v2/notifications/{id}"), None)
        .await;
    assert_eq!(
        (status, errors(&body)),
        (
            404,
            vec![("NoResultFound".into(), "No result found".into())]
        )
    );
}

#[tokio::test]
async fn unknown_v2_routes_answer_before_authentication() {
    let s = TestServer::start().await;
    let (status, body) = s.request("GET", "/v2/nothing-here", None, None).await;
    assert_eq!(status, 404);
    assert_eq!(body["result"], "error");
    let (status, body) = s
        .request("DELETE", "/v2/notifications/sms", None, None)
        .await;
    assert_eq!(status, 405, "{body}");
    let (status, _) = s
        .request("GET", "/v2/template/x/version/notanint", None, None)
        .await;
    assert_eq!(status, 404);
}
