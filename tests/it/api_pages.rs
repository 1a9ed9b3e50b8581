//! The API integration pages end to end against the real server, as a browser without
//! JavaScript: a key created in the page works against `POST /v2/notifications/…` and its
//! secret is shown on the creation page only; revoking it in the page stops it (Notify's 403
//! body); a team key sends only to the team and the guest list set in the page; callback forms
//! refuse bad values with the error summary and keep what was typed; received text messages;
//! and who may see the pages (403 without the permission, 404 for another service's key).

use notify::domain::accounts::Actor;
use notify::domain::receipts::{InboundText, receive_inbound_sms};
use notify::domain::{api_keys, inbound_numbers, services};
use serde_json::{Value, json};
use storage::records::{CallbackKind, Permission};
use uuid::Uuid;

use crate::common::member::Member;
use crate::common::{TestServer, errors};

/// A member of the test service named Dev Eloper.
async fn member(s: &TestServer, email: &str, permissions: Vec<Permission>) -> Member {
    Member::new(s, "Dev Eloper", email, permissions).await
}

/// Creating a key through the pages.
trait CreateKey {
    async fn create_key(&self, sid: Uuid, name: &str, key_type: &str) -> String;
}

impl CreateKey for Member {
    /// The full key string from the page that shows it once.
    async fn create_key(&self, sid: Uuid, name: &str, key_type: &str) -> String {
        let page = self
            .post(
                &format!("/services/{sid}/api/keys/create"),
                &[("key_name", name), ("key_type", key_type)],
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("New API key"));
        let start = page.body.find(r#"id="api-key""#).unwrap();
        let after = &page.body[start..];
        let text = &after[after.find('>').unwrap() + 1..];
        text[..text.find('<').unwrap()].trim().to_string()
    }
}

/// Send an email with `key` as the official clients do.
async fn send_email(s: &TestServer, key: &str, to: &str) -> (u16, Value) {
    let body = json!({
        "email_address": to,
        "template_id": s.email_template,
        "personalisation": {"name": "Ann"},
    });
    s.request(
        "POST",
        "/v2/notifications/email",
        Some(format!("Bearer {}", s.token(key))),
        Some(&body.to_string()),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_made_in_the_page_sends_until_it_is_revoked_in_the_page() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    let dev = member(&s, "dev@example.gov.uk", vec![Permission::ManageApiKeys]).await;

    // The overview links to the parts and shows the service id.
    let page = dev.get(&format!("/services/{sid}/api")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for href in ["/api/keys", "/api/guest-list", "/api/callbacks"] {
        assert!(
            page.body.contains(&format!("/services/{sid}{href}")),
            "{href}"
        );
    }
    assert!(page.body.contains(&sid.to_string()));
    assert!(page.body.contains("Message log"));

    // The form refuses nothing typed and a name in use, keeping what was typed.
    let create = format!("/services/{sid}/api/keys/create");
    let page = dev.get(&create).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("Team and guest list – limits who you can send to")
    );
    let page = dev.post(&create, &[("key_name", "")]).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("There is a problem"));
    assert!(page.body.contains("Enter a name for this API key"));
    assert!(page.body.contains("Select a type of API key"));
    let page = dev
        .post(&create, &[("key_name", "NORMAL"), ("key_type", "test")])
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("A key with this name already exists"));
    assert!(page.body.contains(r#"value="NORMAL""#));

    // A live key, made in the page, in upstream's format; it sends.
    let key = dev.create_key(sid, "Payments live", "normal").await;
    assert!(
        key.starts_with(&format!("payments_live-{sid}-")),
        "not the clients' format: {key}"
    );
    assert_eq!(key.len(), "payments_live-".len() + 36 + 1 + 36);
    let (status, body) = send_email(&s, &key, "someone@example.com").await;
    assert_eq!(status, 201, "{body}");

    // The secret is never shown again: not in the list, the overview or the revoke question.
    let secret = &key[key.len() - 36..];
    let keys = dev.get(&format!("/services/{sid}/api/keys")).await;
    assert_eq!(keys.status, 200);
    assert!(keys.body.contains("Payments live"));
    assert!(keys.body.contains("Live – sends to anyone"));
    let overview = dev.get(&format!("/services/{sid}/api")).await;
    assert!(
        overview.body.contains("someone@example.com"),
        "the message log"
    );
    assert!(overview.body.contains("Payments live"));
    let id = api_keys::list_api_keys(&s.app.store, sid)
        .unwrap()
        .into_iter()
        .find(|k| k.name == "Payments live")
        .unwrap()
        .id;
    let revoke = format!("/services/{sid}/api/keys/revoke/{id}");
    let question = dev.get(&revoke).await;
    assert_eq!(question.status, 200);
    assert!(
        question
            .body
            .contains("Are you sure you want to revoke ‘Payments live’?")
    );
    for page in [&keys, &overview, &question] {
        assert!(!page.body.contains(secret));
    }

    // Revoked in the page: the key is refused with Notify's error body.
    let page = dev.post(&revoke, &[]).await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location, format!("/services/{sid}/api/keys"));
    let (status, body) = send_email(&s, &key, "someone@example.com").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        errors(&body),
        [(
            "AuthError".to_string(),
            "Invalid token: API key revoked".to_string()
        )]
    );
    assert_eq!(body["status_code"], 403);
    let keys = dev.get(&format!("/services/{sid}/api/keys")).await;
    assert!(keys.body.contains("Revoked today at"));
    assert!(!keys.body.contains(&revoke));
    // The audit trail has both, as from the internal API.
    let audit = notify::domain::accounts::audit::list(&s.app, Some(sid), None, 100).unwrap();
    let by_dev: Vec<_> = audit
        .iter()
        .filter(|e| e.actor_name == "Dev Eloper")
        .map(|e| e.action.as_str())
        .collect();
    assert!(by_dev.contains(&"api_key.created"), "{by_dev:?}");
    assert!(by_dev.contains(&"api_key.revoked"), "{by_dev:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_key_sends_only_to_the_team_and_the_guest_list_set_in_the_page() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    let dev = member(&s, "dev@example.gov.uk", vec![Permission::ManageApiKeys]).await;
    let key = dev.create_key(sid, "Team key", "team").await;

    let (status, body) = send_email(&s, &key, "dev@example.gov.uk").await;
    assert_eq!(status, 201, "a team member: {body}");
    let (status, body) = send_email(&s, &key, "guest@example.com").await;
    assert_eq!(status, 400, "{body}");
    assert!(errors(&body)[0].1.contains("team-only API key"), "{body}");

    // A bad box is refused where it was typed; the good ones are kept.
    let list = format!("/services/{sid}/api/guest-list");
    let page = dev
        .post(
            &list,
            &[
                ("email_addresses-1", "guest@example.com"),
                ("email_addresses-2", "not an address"),
                ("phone_numbers-1", "07700 900123"),
            ],
        )
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("There is a problem"));
    assert!(page.body.contains(r##"href="#email_addresses-2""##));
    assert!(page.body.contains(r#"value="guest@example.com""#));
    assert!(page.body.contains(r#"value="not an address""#));
    // Upstream's old address answers too.
    let page = dev
        .post(
            &format!("/services/{sid}/api/whitelist"),
            &[
                ("email_addresses-1", "guest@example.com"),
                ("phone_numbers-1", "07700 900123"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let page = dev.get(&list).await;
    assert!(page.body.contains(r#"value="guest@example.com""#));
    assert!(page.body.contains("447700900123"));
    let (status, body) = send_email(&s, &key, "guest@example.com").await;
    assert_eq!(status, 201, "on the guest list: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_forms_refuse_bad_values_and_keep_what_was_typed() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    let dev = member(&s, "dev@example.gov.uk", vec![Permission::ManageApiKeys]).await;
    let form = format!("/services/{sid}/api/callbacks/delivery-status-callback");

    let page = dev
        .post(
            &form,
            &[
                ("url", "http://example.gov.uk/receipts"),
                ("bearer_token", "short"),
            ],
        )
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("There is a problem"));
    assert!(page.body.contains(r##"href="#url""##));
    assert!(page.body.contains("Must be a valid https URL"));
    assert!(
        page.body
            .contains("The bearer token must be at least 10 characters long")
    );
    assert!(
        page.body
            .contains(r#"value="http://example.gov.uk/receipts""#)
    );
    assert!(
        callbacks_of(&s, CallbackKind::DeliveryStatus).is_none(),
        "nothing saved"
    );

    let page = dev
        .post(
            &form,
            &[
                ("url", "https://example.gov.uk/receipts"),
                ("bearer_token", "a-long-enough-token"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location, format!("/services/{sid}/api/callbacks"));
    let page = dev.get(&page.location).await;
    assert!(page.body.contains("https://example.gov.uk/receipts"));
    // The token is never shown: the form holds a stand-in, and saving it keeps the token.
    let page = dev.get(&form).await;
    assert!(!page.body.contains("a-long-enough-token"));
    let page = dev
        .post(
            &form,
            &[
                ("url", "https://example.gov.uk/receipts/v2"),
                ("bearer_token", "bearer_token_set"),
            ],
        )
        .await;
    assert_eq!(page.status, 303);
    let cb = callbacks_of(&s, CallbackKind::DeliveryStatus).unwrap();
    assert_eq!(cb.url, "https://example.gov.uk/receipts/v2");
    assert_eq!(
        s.app.sealer.open(&cb.bearer_token_sealed).unwrap(),
        b"a-long-enough-token"
    );
    // An empty URL removes it.
    let page = dev
        .post(&form, &[("url", ""), ("bearer_token", "bearer_token_set")])
        .await;
    assert_eq!(page.status, 303);
    assert!(callbacks_of(&s, CallbackKind::DeliveryStatus).is_none());
    let page = dev.get(&format!("/services/{sid}/api/callbacks")).await;
    assert!(page.body.contains("Not set"));
    // Without an inbound number there is no received-text-messages callback to set.
    assert!(!page.body.contains("received-text-messages-callback"));
    let page = dev
        .get(&format!(
            "/services/{sid}/api/callbacks/received-text-messages-callback"
        ))
        .await;
    assert_eq!(page.status, 303);
}

fn callbacks_of(s: &TestServer, kind: CallbackKind) -> Option<storage::records::ServiceCallback> {
    s.app
        .store
        .read()
        .unwrap()
        .get_service_callback(s.service_id, kind)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn received_text_messages_are_listed_once_the_service_has_a_number() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    let viewer = member(&s, "viewer@example.gov.uk", vec![Permission::ViewActivity]).await;
    let page = viewer.get(&format!("/services/{sid}/inbox")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Receive text messages"));
    assert!(page.body.contains("unique 11-digit phone number"));

    s.update_service(|svc| svc.permissions.push("inbound_sms".into()))
        .await;
    inbound_numbers::add_inbound_number(
        &s.app,
        inbound_numbers::NewInboundNumber {
            number: "07700900500".into(),
            provider: None,
        },
    )
    .await
    .unwrap();
    inbound_numbers::assign_inbound_number(&s.app, sid, Default::default())
        .await
        .unwrap();
    let page = viewer.get(&format!("/services/{sid}/inbound-sms")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("07700900500"), "{}", page.body);
    receive_inbound_sms(
        &s.app,
        InboundText {
            notify_number: "07700900500".into(),
            user_number: "07700900111".into(),
            content: "Yes <please>".into(),
            provider: "mmg".into(),
            provider_reference: None,
            provider_date: None,
        },
    )
    .await
    .unwrap();
    let page = viewer.get(&format!("/services/{sid}/inbox")).await;
    assert!(page.body.contains("Received text messages"));
    assert!(page.body.contains("447700900111"));
    assert!(page.body.contains("Yes &#60;please&#62;") || page.body.contains("Yes &lt;please&gt;"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_members_with_the_api_permission_see_the_pages_and_only_their_keys() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    let viewer = member(&s, "viewer@example.gov.uk", vec![Permission::ViewActivity]).await;
    let some_key = api_keys::list_api_keys(&s.app.store, sid).unwrap()[0].id;
    for path in [
        format!("/services/{sid}/api"),
        format!("/services/{sid}/api/keys"),
        format!("/services/{sid}/api/keys/create"),
        format!("/services/{sid}/api/keys/revoke/{some_key}"),
        format!("/services/{sid}/api/callbacks"),
        format!("/services/{sid}/api/callbacks/delivery-status-callback"),
        format!("/services/{sid}/api/guest-list"),
    ] {
        let page = viewer.get(&path).await;
        assert_eq!(page.status, 403, "{path}");
        assert!(page.body.contains("You do not have permission"), "{path}");
    }
    let page = viewer
        .post(
            &format!("/services/{sid}/api/keys/create"),
            &[("key_name", "sneaky"), ("key_type", "test")],
        )
        .await;
    assert_eq!(page.status, 403);
    let page = viewer
        .post(&format!("/services/{sid}/api/keys/revoke/{some_key}"), &[])
        .await;
    assert_eq!(page.status, 403);
    assert!(
        api_keys::get_api_key(&s.app.store, sid, some_key)
            .unwrap()
            .expiry_date
            .is_none()
    );

    // Another service's key is not there, whichever service's page asks.
    let other = services::create_service(
        &s.app,
        &Actor::operator(),
        services::NewService {
            name: "Someone else's".into(),
            restricted: false,
        },
    )
    .await
    .unwrap();
    let theirs = api_keys::create_api_key(
        &s.app,
        &Actor::operator(),
        other.id,
        api_keys::NewApiKey {
            name: "theirs".into(),
            key_type: "normal".into(),
        },
    )
    .await
    .unwrap();
    let dev = member(&s, "dev@example.gov.uk", vec![Permission::ManageApiKeys]).await;
    let page = dev
        .get(&format!("/services/{sid}/api/keys/revoke/{}", theirs.id))
        .await;
    assert_eq!(page.status, 404);
    let page = dev
        .post(
            &format!("/services/{sid}/api/keys/revoke/{}", theirs.id),
            &[],
        )
        .await;
    assert_eq!(page.status, 404);
    let page = dev
        .get(&format!(
            "/services/{}/api/keys/revoke/{}",
            other.id, theirs.id
        ))
        .await;
    assert_eq!(page.status, 404);
    assert!(
        api_keys::get_api_key(&s.app.store, other.id, theirs.id)
            .unwrap()
            .expiry_date
            .is_none(),
        "still in use"
    );
    // Without the form's CSRF token nothing happens.
    let forged = dev
        .page(
            dev.client
                .post(format!("{}/services/{sid}/api/keys/create", dev.base))
                .form(&[("key_name", "x"), ("key_type", "test")]),
        )
        .await;
    assert_eq!(forged.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_keys_are_not_offered_in_trial_mode() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    s.update_service(|svc| svc.restricted = true).await;
    let dev = member(&s, "dev@example.gov.uk", vec![Permission::ManageApiKeys]).await;
    let create = format!("/services/{sid}/api/keys/create");
    let page = dev.get(&create).await;
    assert!(page.body.contains(r#"value="normal" disabled"#));
    assert!(
        page.body
            .contains("Not available because your service is in trial mode")
    );
    let page = dev
        .post(&create, &[("key_name", "Live"), ("key_type", "normal")])
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("trial mode"));
}
