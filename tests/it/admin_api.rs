//! The internal (admin) API against an in-process server: services, senders, guest lists,
//! team members, keys and templates, and what their changes do to the public v2 API at once.

use std::sync::Arc;

use notify::app::{self, App};
use notify::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

const TRIAL_MODE: &str = "Can’t send to this recipient when service is in trial mode – see https://www.notifications.service.gov.uk/trial-mode";

struct Server {
    app: Arc<App>,
    base: String,
    http: reqwest::Client,
    _stop: oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Server {
    async fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::for_tests(dir.path());
        let listen = config.server.listen;
        let app = App::open(config, Arc::new(storage::SystemClock)).unwrap();
        let listener = app::bind(listen).await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(app::serve(app.clone(), listener, async move {
            let _ = stopped.await;
        }));
        Server {
            app,
            base,
            http: reqwest::Client::new(),
            _stop: stop,
            _dir: dir,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<String>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        (status, value)
    }

    fn admin_token(&self) -> String {
        notify::auth::sign_admin_token(
            &self.app.config.admin.client_id,
            self.app.admin_secret.expose(),
            now(),
        )
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.send(method, path, Some(self.admin_token()), body)
            .await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.admin(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.admin(Method::POST, path, Some(body)).await
    }

    /// A request to the public API signed with `key` (`{name}-{service_id}-{secret}`).
    async fn v2(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.send(method, path, Some(v2_token(key)), body).await
    }

    async fn create_service(&self, name: &str) -> String {
        let (status, body) = self.post("/service", json!({ "name": name })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["data"]["id"].as_str().unwrap().to_string()
    }

    /// Returns (key id, key string).
    async fn create_key(&self, service: &str, key_type: &str) -> (String, String) {
        let (status, body) = self
            .post(
                &format!("/service/{service}/api-key"),
                json!({ "name": "my key", "key_type": key_type }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["data"]["id"].as_str().unwrap().to_string(),
            body["data"]["key"].as_str().unwrap().to_string(),
        )
    }

    async fn create_sms_template(&self, service: &str, content: &str) -> String {
        let (status, body) = self
            .post(
                &format!("/service/{service}/template"),
                json!({ "template_type": "sms", "name": "Greeting", "content": content }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["data"]["id"].as_str().unwrap().to_string()
    }

    async fn send_sms(&self, key: &str, template: &str, phone: &str) -> (StatusCode, Value) {
        self.v2(
            key,
            Method::POST,
            "/v2/notifications/sms",
            Some(json!({ "phone_number": phone, "template_id": template })),
        )
        .await
    }
}

/// An HS256 token as the official clients make one: `iss` = service id, secret = the last 36
/// characters of the key.
fn v2_token(key: &str) -> String {
    let secret = &key[key.len() - 36..];
    let service_id = &key[key.len() - 73..key.len() - 37];
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({ "iss": service_id, "iat": now() }),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn message(body: &Value) -> &str {
    assert_eq!(body["result"], "error", "{body}");
    body["message"].as_str().unwrap()
}

fn v2_message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap()
}

const UNKNOWN: &str = "00000000-0000-4000-8000-000000000000";

#[tokio::test]
async fn updating_a_service_checks_every_field() {
    let s = Server::start().await;
    let a = s.create_service("Service A").await;
    s.create_service("Service B").await;
    let path = format!("/service/{a}");

    let (status, body) = s
        .post(
            &path,
            json!({
                "name": "Renamed A",
                "restricted": true,
                "rate_limit": 100,
                "email_message_limit": 10,
                "sms_message_limit": 20,
                "letter_message_limit": 30,
                "international_sms_message_limit": 0,
                "permissions": ["email", "sms", "inbound_sms", "email_auth"],
                "prefix_sms": false,
                "contact_link": "https://example.gov.uk/contact",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let d = &body["data"];
    assert_eq!(d["name"], "Renamed A");
    assert_eq!(d["restricted"], true);
    assert_eq!(d["rate_limit"], 100);
    assert_eq!(d["email_message_limit"], 10);
    assert_eq!(d["sms_message_limit"], 20);
    assert_eq!(d["letter_message_limit"], 30);
    assert_eq!(d["international_sms_message_limit"], 0);
    assert_eq!(
        d["permissions"],
        json!(["email", "sms", "inbound_sms", "email_auth"])
    );
    assert_eq!(d["prefix_sms"], false);
    assert_eq!(d["contact_link"], "https://example.gov.uk/contact");
    assert!(d["updated_at"].is_string());

    // Stored, and absent fields keep their values.
    let (status, body) = s.post(&path, json!({ "contact_link": null })).await;
    assert_eq!(status, StatusCode::OK);
    let (_, got) = s.get(&path).await;
    assert_eq!(got["data"], body["data"]);
    assert_eq!(got["data"]["contact_link"], Value::Null);
    assert_eq!(got["data"]["rate_limit"], 100);

    for (update, want) in [
        (
            json!({ "name": "service b" }),
            "a service named 'Service B' already exists",
        ),
        (json!({ "name": "  " }), "service name cannot be empty"),
        (
            json!({ "permissions": ["sms", "fax"] }),
            "Invalid Service Permission: 'fax'",
        ),
        (
            json!({ "permissions": ["sms", "email", "sms"] }),
            "Duplicate Service Permission: ['sms']",
        ),
        (
            json!({ "rate_limit": 0 }),
            "rate_limit must be a whole number greater than 0",
        ),
        (
            json!({ "sms_message_limit": -1 }),
            "sms_message_limit must be a whole number, 0 or more",
        ),
        (
            json!({ "contact_link": "not a link" }),
            "contact_link must be a URL",
        ),
        (
            json!({ "colour": "red" }),
            "Invalid JSON: unknown field `colour`",
        ),
    ] {
        let (status, body) = s.post(&path, update.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{update}: {body}");
        assert!(message(&body).starts_with(want), "{update}: {body}");
    }
    // Nothing above changed anything; renaming to its own name in another case is fine.
    let (status, body) = s.post(&path, json!({ "name": "RENAMED a" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["sms_message_limit"], 20);

    let (status, body) = s.post(&format!("/service/{UNKNOWN}"), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(message(&body), format!("No service with id {UNKNOWN}"));

    let (status, body) = s
        .send(Method::POST, &path, None, Some(json!({ "name": "x" })))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["message"]["token"][0],
        "Unauthorized: authentication token must be provided"
    );
}

#[tokio::test]
async fn an_archived_services_keys_stop_working() {
    let s = Server::start().await;
    let service = s.create_service("Archive Me").await;
    let (_, key) = s.create_key(&service, "normal").await;
    let template = s.create_sms_template(&service, "Hello").await;
    let v2_path = format!("/v2/template/{template}");
    let (status, _) = s.v2(&key, Method::GET, &v2_path, None).await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = s
        .admin(Method::POST, &format!("/service/{service}/archive"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let (status, body) = s.v2(&key, Method::GET, &v2_path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(v2_message(&body), "Invalid token: service is archived");

    let (_, body) = s.get(&format!("/service/{service}")).await;
    assert_eq!(body["data"]["active"], false);
    let name = body["data"]["name"].as_str().unwrap();
    assert!(
        name.starts_with("_archived_") && name.ends_with("_Archive Me"),
        "{name}"
    );
    let (_, keys) = s.get(&format!("/service/{service}/api-keys")).await;
    assert!(keys["data"][0]["expiry_date"].is_string(), "{keys}");

    // Archiving again changes nothing; the name is free for a new service.
    let (status, _) = s
        .admin(Method::POST, &format!("/service/{service}/archive"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    s.create_service("Archive Me").await;
    let (status, body) = s
        .post(
            &format!("/service/{service}/api-key"),
            json!({ "name": "late", "key_type": "normal" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).ends_with("is archived"), "{body}");

    let (status, _) = s
        .admin(Method::POST, &format!("/service/{UNKNOWN}/archive"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn reply_to_addresses_keep_exactly_one_default() {
    let s = Server::start().await;
    let service = s.create_service("Replies").await;
    let base = format!("/service/{service}/email-reply-to");

    let (status, body) = s
        .post(
            &base,
            json!({ "email_address": "a@example.com", "is_default": false }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        message(&body),
        "You must have at least one reply to email address as the default."
    );
    let (status, body) = s
        .post(&base, json!({ "email_address": "a@example.com" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["is_default"], true, "the first is the default");
    assert_eq!(body["data"]["service_id"], service.as_str());
    let a = body["data"]["id"].as_str().unwrap().to_string();
    let (status, body) = s
        .post(
            &base,
            json!({ "email_address": "b@example.com", "is_default": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let b = body["data"]["id"].as_str().unwrap().to_string();

    let (status, list) = s.get(&base).await;
    assert_eq!(status, StatusCode::OK);
    let list = list["data"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], b.as_str(), "the default first");
    assert_eq!(list[1]["is_default"], false);

    let (status, body) = s.post(&base, json!({ "email_address": "nope" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(message(&body), "email_address is not a valid email address");
    let (status, body) = s.post(&base, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(message(&body), "email_address is a required property");

    let (status, body) = s
        .post(
            &format!("{base}/{a}"),
            json!({ "email_address": "a2@example.com" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["email_address"], "a2@example.com");
    assert_eq!(body["data"]["is_default"], false);
    let (status, body) = s
        .post(&format!("{base}/{b}"), json!({ "is_default": false }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        message(&body),
        "You must have at least one reply to email address as the default."
    );
    let (status, body) = s
        .admin(Method::POST, &format!("{base}/{b}/archive"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        message(&body),
        "You cannot delete a default email reply to address if other reply to addresses exist"
    );

    // Moving the default, then archiving the old one.
    let (status, _) = s
        .post(&format!("{base}/{a}"), json!({ "is_default": true }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = s.get(&format!("{base}/{b}")).await;
    assert_eq!(body["data"]["is_default"], false);
    let (status, body) = s
        .admin(Method::POST, &format!("{base}/{b}/archive"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["archived"], true);
    let (_, list) = s.get(&base).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["email_address"], "a2@example.com");
    let (status, body) = s.get(&format!("{base}/{b}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message(&body).starts_with("No email reply-to address with id"));
    // The last one may go, default or not.
    let (status, _) = s
        .admin(Method::POST, &format!("{base}/{a}/archive"), None)
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, _) = s
        .post(&format!("{base}/{UNKNOWN}"), json!({ "is_default": true }))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s
        .post(
            &format!("/service/{UNKNOWN}/email-reply-to"),
            json!({ "email_address": "a@example.com" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sms_senders_keep_one_default_and_sends_use_it() {
    let s = Server::start().await;
    let service = s.create_service("Senders").await;
    let (_, key) = s.create_key(&service, "normal").await;
    let template = s.create_sms_template(&service, "Hi").await;
    let base = format!("/service/{service}/sms-sender");

    for (sender, want) in [
        ("AB", "sms_sender must be 3 characters or more"),
        ("TWELVECHARSX", "sms_sender must be 11 characters or fewer"),
        ("GOV*UK", "sms_sender must use only letters"),
    ] {
        let (status, body) = s.post(&base, json!({ "sms_sender": sender })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{sender}");
        assert!(message(&body).starts_with(want), "{body}");
    }
    let (status, body) = s.post(&base, json!({ "sms_sender": "GOVUK" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["is_default"], true);
    let first = body["data"]["id"].as_str().unwrap().to_string();
    let (status, body) = s
        .post(
            &base,
            json!({ "sms_sender": "MYSERVICE", "is_default": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let second = body["data"]["id"].as_str().unwrap().to_string();

    // The change takes effect at once for sending.
    let (status, body) = s.send_sms(&key, &template, "07700 900123").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["content"]["from_number"], "MYSERVICE");

    let (status, body) = s
        .admin(Method::POST, &format!("{base}/{second}/archive"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(message(&body), "You cannot delete a default sms sender");
    let (status, body) = s
        .post(
            &format!("{base}/{first}"),
            json!({ "sms_sender": "NEWNAME", "is_default": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["sms_sender"], "NEWNAME");
    let (status, _) = s
        .admin(Method::POST, &format!("{base}/{second}/archive"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = s.get(&base).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["sms_sender"], "NEWNAME");

    let (status, body) = s.send_sms(&key, &template, "07700 900123").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["content"]["from_number"], "NEWNAME");
    let (status, _) = s.get(&format!("{base}/{UNKNOWN}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn letter_contacts_have_at_most_one_default() {
    let s = Server::start().await;
    let service = s.create_service("Letters").await;
    let base = format!("/service/{service}/letter-contact");

    let (status, body) = s
        .post(
            &base,
            json!({ "contact_block": "Office A\nLondon", "is_default": false }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["data"]["is_default"], false,
        "a blank default is allowed"
    );
    let a = body["data"]["id"].as_str().unwrap().to_string();
    let (status, body) = s
        .post(
            &base,
            json!({ "contact_block": "Office B", "is_default": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let b = body["data"]["id"].as_str().unwrap().to_string();
    let (status, body) = s
        .post(&format!("{base}/{a}"), json!({ "is_default": true }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["is_default"], true);
    let (_, body) = s.get(&format!("{base}/{b}")).await;
    assert_eq!(body["data"]["is_default"], false);

    let (status, body) = s.post(&base, json!({ "contact_block": " " })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(message(&body), "contact_block cannot be empty");
    let (status, body) = s
        .post(&base, json!({ "contact_block": "x\n".repeat(11) }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(message(&body), "contact_block must be 10 lines or fewer");

    let (status, body) = s
        .admin(Method::POST, &format!("{base}/{a}/archive"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["archived"], true);
    let (_, list) = s.get(&base).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["contact_block"], "Office B");
    let (status, _) = s
        .admin(Method::POST, &format!("{base}/{a}/archive"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn letter_templates_carry_their_contact_block() {
    let s = Server::start().await;
    let service = s.create_service("Letters with contact").await;
    let other = s.create_service("Someone else").await;
    let (_, key) = s.create_key(&service, "normal").await;
    let (status, body) = s
        .post(
            &format!("/service/{service}/letter-contact"),
            json!({ "contact_block": "Office A\nLondon", "is_default": false }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let contact = body["data"]["id"].as_str().unwrap().to_string();
    let (_, body) = s
        .post(
            &format!("/service/{other}/letter-contact"),
            json!({ "contact_block": "Elsewhere", "is_default": true }),
        )
        .await;
    let others_contact = body["data"]["id"].as_str().unwrap().to_string();

    let letter = |reply_to: &str| {
        json!({ "template_type": "letter", "name": "Letter", "subject": "About you",
                "content": "Dear you", "reply_to": reply_to })
    };
    let base = format!("/service/{service}/template");
    let (status, body) = s.post(&base, letter(&contact)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["reply_to"], contact.as_str());
    assert_eq!(body["data"]["letter_contact_block"], "Office A\nLondon");
    let template = body["data"]["id"].as_str().unwrap().to_string();

    // Another service's contact block, or one on a text message template, is refused.
    let (status, body) = s.post(&base, letter(&others_contact)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = s
        .post(
            &base,
            json!({ "template_type": "sms", "name": "Text", "content": "Hi",
                    "reply_to": contact }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // The public API returns it, as upstream's clients read it.
    let (status, body) = s
        .v2(&key, Method::GET, &format!("/v2/template/{template}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["letter_contact_block"], "Office A\nLondon");
    // Made with the admin secret: the operator is its author, named by a stable id.
    let operator = notify::domain::templates::OPERATOR_ID.to_string();
    assert_eq!(body["created_by"], operator.as_str());
    let (_, admin_view) = s.get(&format!("{base}/{template}")).await;
    assert_eq!(admin_view["data"]["created_by"], operator.as_str());

    // `null` removes it.
    let (status, body) = s
        .post(&format!("{base}/{template}"), json!({ "reply_to": null }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["reply_to"], Value::Null);
    let (_, body) = s
        .v2(&key, Method::GET, &format!("/v2/template/{template}"), None)
        .await;
    assert_eq!(body["letter_contact_block"], Value::Null);

    // A version a person made names them: their id, and their address in the public API.
    let (status, body) = s
        .post(
            "/user",
            json!({ "name": "Ann Author", "email_address": "ann.author@example.gov.uk" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let ann = body["data"]["id"].as_str().unwrap().to_string();
    let (status, body) = s
        .post(
            &format!("{base}/{template}"),
            json!({ "content": "Dear reader", "created_by": ann }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["created_by"], ann.as_str());
    let (_, body) = s
        .v2(&key, Method::GET, &format!("/v2/template/{template}"), None)
        .await;
    assert_eq!(body["created_by"], "ann.author@example.gov.uk");
}

#[tokio::test]
async fn template_updates_make_new_versions_and_old_ones_stay_readable() {
    let s = Server::start().await;
    let service = s.create_service("Templates").await;
    let other = s.create_service("Other").await;
    let (_, key) = s.create_key(&service, "normal").await;
    let template = s.create_sms_template(&service, "Hello ((name))").await;
    let path = format!("/service/{service}/template/{template}");

    let (status, body) = s
        .post(
            &path,
            json!({ "content": "Goodbye ((name))", "name": "Farewell" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["version"], 2);
    assert_eq!(body["data"]["content"], "Goodbye ((name))");
    assert_eq!(body["data"]["name"], "Farewell");
    assert!(body["data"]["updated_at"].is_string());

    // An update that changes nothing makes no version.
    let (status, body) = s
        .post(&path, json!({ "content": "Goodbye ((name))" }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["version"], 2);

    let (_, body) = s.get(&path).await;
    assert_eq!(body["data"]["version"], 2);
    let (status, body) = s.get(&format!("{path}/versions")).await;
    assert_eq!(status, StatusCode::OK);
    let versions: Vec<(u64, String)> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap(),
                v["content"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        versions,
        vec![
            (2, "Goodbye ((name))".to_string()),
            (1, "Hello ((name))".to_string())
        ]
    );
    let (_, body) = s.get(&format!("{path}/version/1")).await;
    assert_eq!(body["data"]["content"], "Hello ((name))");
    let (status, _) = s.get(&format!("{path}/version/9")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The public API sees the new version, and the old one by number.
    let (status, body) = s
        .v2(
            &key,
            Method::GET,
            &format!("/v2/template/{template}/version/1"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["body"], "Hello ((name))");
    assert_eq!(body["version"], 1);
    let (_, body) = s
        .v2(&key, Method::GET, &format!("/v2/template/{template}"), None)
        .await;
    assert_eq!(body["body"], "Goodbye ((name))");
    assert_eq!(body["version"], 2);

    for (update, want) in [
        (
            json!({ "subject": "Hi" }),
            "a text message template has no subject",
        ),
        (
            json!({ "content": "  " }),
            "template content cannot be empty",
        ),
        (
            json!({ "template_type": "email" }),
            "template_type cannot be changed",
        ),
        (
            json!({ "postage": "first" }),
            "only letter templates have postage",
        ),
        (
            json!({ "created_by": UNKNOWN }),
            "created_by: no user with id",
        ),
    ] {
        let (status, body) = s.post(&path, update.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{update}");
        assert!(message(&body).starts_with(want), "{update}: {body}");
    }

    // Listing and archiving.
    let (_, body) = s
        .post(
            &format!("/service/{service}/template"),
            json!({ "template_type": "email", "name": "Apology", "subject": "Sorry", "content": "Oops" }),
        )
        .await;
    let email_template = body["data"]["id"].as_str().unwrap().to_string();
    let (status, body) = s.get(&format!("/service/{service}/template")).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Apology", "Farewell"]);
    let (_, body) = s
        .get(&format!("/service/{service}/template?template_type=email"))
        .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"][0]["id"], email_template.as_str());
    let (status, body) = s
        .get(&format!("/service/{service}/template?template_type=fax"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        message(&body),
        "template_type fax is not one of [sms, email, letter]"
    );

    let (status, body) = s
        .admin(Method::POST, &format!("{path}/archive"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["archived"], true);
    assert_eq!(body["data"]["version"], 3);
    let (_, body) = s.get(&format!("/service/{service}/template")).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    let (_, body) = s
        .get(&format!(
            "/service/{service}/template?include_archived=true"
        ))
        .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    let (status, body) = s.post(&path, json!({ "content": "Back again" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).ends_with("has been archived and cannot be changed"));
    let (status, body) = s.send_sms(&key, &template, "07700 900123").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v2_message(&body), "Template has been deleted");

    // Unknown ids, and another service's template, are 404.
    for p in [
        format!("/service/{service}/template/{UNKNOWN}"),
        format!("/service/{other}/template/{template}"),
        format!("/service/{other}/template/{template}/versions"),
        format!("/service/{UNKNOWN}/template"),
    ] {
        let (status, body) = s.get(&p).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{p}: {body}");
    }
    let (status, _) = s
        .post(
            &format!("/service/{other}/template/{template}"),
            json!({ "name": "Stolen" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn api_keys_are_listed_without_secrets_and_can_be_revoked() {
    let s = Server::start().await;
    let service = s.create_service("Keys").await;
    let other = s.create_service("Other Keys").await;
    let (first_id, first) = s.create_key(&service, "normal").await;
    let (second_id, second) = s.create_key(&service, "team").await;
    let template = s.create_sms_template(&service, "Hi").await;
    let v2_path = format!("/v2/template/{template}");

    let (status, body) = s.get(&format!("/service/{service}/api-keys")).await;
    assert_eq!(status, StatusCode::OK);
    let keys = body["data"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["id"], first_id.as_str());
    assert_eq!(keys[0]["key_type"], "normal");
    assert_eq!(keys[1]["key_type"], "team");
    assert_eq!(keys[0]["expiry_date"], Value::Null);
    let text = body.to_string();
    for secret in [&first[first.len() - 36..], &second[second.len() - 36..]] {
        assert!(!text.contains(secret), "a secret leaked: {text}");
    }
    assert!(keys[0].get("key").is_none() && keys[0].get("secret_sealed").is_none());
    let (status, body) = s
        .get(&format!("/service/{service}/api-keys/{second_id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["name"], "my key");

    let (status, _) = s.v2(&first, Method::GET, &v2_path, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = s
        .admin(
            Method::POST,
            &format!("/service/{service}/api-key/revoke/{first_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let revoked_at = body["data"]["expiry_date"].as_str().unwrap().to_string();

    let (status, body) = s.v2(&first, Method::GET, &v2_path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(v2_message(&body), "Invalid token: API key revoked");
    let (status, _) = s.v2(&second, Method::GET, &v2_path, None).await;
    assert_eq!(status, StatusCode::OK, "the other key still works");

    // Revoking again keeps the first revocation time.
    let (status, body) = s
        .admin(
            Method::POST,
            &format!("/service/{service}/api-key/revoke/{first_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["data"]["expiry_date"], revoked_at.as_str());

    for p in [
        format!("/service/{service}/api-key/revoke/{UNKNOWN}"),
        format!("/service/{other}/api-key/revoke/{second_id}"),
    ] {
        let (status, body) = s.admin(Method::POST, &p, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{p}");
        assert!(message(&body).starts_with("No API key with id"), "{body}");
    }
    let (status, _) = s
        .get(&format!("/service/{other}/api-keys/{second_id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.get(&format!("/service/{UNKNOWN}/api-keys")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn team_members_and_the_guest_list_decide_who_a_trial_service_reaches() {
    let s = Server::start().await;
    let service = s.create_service("Trial").await;
    let (status, body) = s
        .post(
            &format!("/service/{service}"),
            json!({ "restricted": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, key) = s.create_key(&service, "normal").await;
    let template = s.create_sms_template(&service, "Hi").await;
    let guests = format!("/service/{service}/guest-list");

    // The guest list: replaced whole, validated, stored normalised.
    let (status, body) = s
        .admin(
            Method::PUT,
            &guests,
            Some(json!({
                "email_addresses": ["Guest@Example.COM", ""],
                "phone_numbers": ["07700 900123", "+44 7700 900123"],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let want = json!({
        "email_addresses": ["guest@example.com"],
        "phone_numbers": ["447700900123"],
    });
    assert_eq!(body["data"], want);
    let (status, body) = s.get(&guests).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"], want);
    for (list, want) in [
        (
            json!({ "email_addresses": ["not-an-email"] }),
            "Invalid guest list: not-an-email is not a valid email address",
        ),
        (
            json!({ "phone_numbers": ["12"] }),
            "Invalid guest list: 12 is not a valid phone number",
        ),
    ] {
        let (status, body) = s.admin(Method::PUT, &guests, Some(list)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(message(&body).starts_with(want), "{body}");
    }
    let (status, _) = s
        .admin(
            Method::PUT,
            &format!("/service/{UNKNOWN}/guest-list"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) = s.send_sms(&key, &template, "07700900123").await;
    assert_eq!(status, StatusCode::CREATED, "a guest: {body}");
    let (status, body) = s.send_sms(&key, &template, "07700900456").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v2_message(&body), TRIAL_MODE);

    // Team members.
    let (status, body) = s
        .post(
            "/user",
            json!({ "name": "Ann", "email_address": "ann@example.gov.uk", "mobile_number": "07700 900456" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["mobile_number"], "+447700900456");
    let ann = body["data"]["id"].as_str().unwrap().to_string();
    let (status, body) = s.get(&format!("/user/{ann}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["email_address"], "ann@example.gov.uk");
    for (user, want) in [
        (
            json!({ "name": "Ann 2", "email_address": "ANN@example.gov.uk" }),
            "A user with email address ANN@example.gov.uk already exists",
        ),
        (
            json!({ "name": "Bad", "email_address": "bad" }),
            "email_address is not a valid email address",
        ),
        (
            json!({ "name": "Bad", "email_address": "b@example.com", "mobile_number": "12" }),
            "mobile_number is not a valid phone number",
        ),
        (
            json!({ "name": "", "email_address": "c@example.com" }),
            "name cannot be empty",
        ),
    ] {
        let (status, body) = s.post("/user", user.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{user}");
        assert!(message(&body).starts_with(want), "{body}");
    }

    let members = format!("/service/{service}/users");
    let (status, body) = s
        .admin(Method::POST, &format!("{members}/{ann}"), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["id"], service.as_str());
    let (status, body) = s
        .admin(Method::POST, &format!("{members}/{ann}"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("already part of service"));
    let (status, _) = s
        .admin(Method::POST, &format!("{members}/{UNKNOWN}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = s.get(&members).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"][0]["name"], "Ann");

    // A team member's number is now allowed.
    let (status, body) = s.send_sms(&key, &template, "07700900456").await;
    assert_eq!(status, StatusCode::CREATED, "a team member: {body}");

    let (status, body) = s
        .admin(Method::DELETE, &format!("{members}/{ann}"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        message(&body),
        "You cannot remove the only user for a service"
    );
    let (_, body) = s
        .post(
            "/user",
            json!({ "name": "Bob", "email_address": "bob@example.gov.uk" }),
        )
        .await;
    let bob = body["data"]["id"].as_str().unwrap().to_string();
    let (status, _) = s
        .admin(Method::POST, &format!("{members}/{bob}"), None)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = s
        .admin(Method::DELETE, &format!("{members}/{ann}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, body) = s.get(&members).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"][0]["name"], "Bob");
    let (status, _) = s
        .admin(Method::DELETE, &format!("{members}/{ann}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Removed: refused again, at once.
    let (status, body) = s.send_sms(&key, &template, "07700900456").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v2_message(&body), TRIAL_MODE);

    // Out of trial mode, anyone.
    s.post(
        &format!("/service/{service}"),
        json!({ "restricted": false }),
    )
    .await;
    let (status, body) = s.send_sms(&key, &template, "07700900456").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
