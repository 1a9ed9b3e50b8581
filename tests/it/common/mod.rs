//! An in-process test server on a temp dir, and helpers to seed a service, keys and templates.
#![allow(dead_code)]

use std::sync::Arc;

use notify::app::{self, App};
use notify::config::Config;
use notify::domain::{api_keys, services, templates};
use serde_json::Value;
use uuid::Uuid;

pub mod binary;
pub mod browser;
pub mod cut_proxy;
pub mod member;
pub mod servers;
pub mod sshd;
pub mod tls;

pub struct TestServer {
    pub app: Arc<App>,
    pub base: String,
    pub service_id: Uuid,
    pub keys: std::collections::HashMap<&'static str, String>,
    pub sms_template: Uuid,
    pub email_template: Uuid,
    pub letter_template: Uuid,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<Result<(), app::StartError>>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn template(app: &App, service: Uuid, kind: &str, subject: Option<&str>, body: &str) -> Uuid {
    templates::create_template(
        app,
        &notify::domain::accounts::Actor::operator(),
        service,
        templates::NewTemplate {
            template_type: kind.into(),
            name: format!("{kind} template"),
            subject: subject.map(str::to_string),
            content: body.into(),
            postage: None,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// A server whose config `configure` changes first (providers, retries, ...).
    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> TestServer {
        Self::start_with_clock(Arc::new(storage::SystemClock), configure).await
    }

    /// [`TestServer::start_with`] on the given clock.
    pub async fn start_with_clock(
        clock: storage::SharedClock,
        configure: impl FnOnce(&mut Config),
    ) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_tests(dir.path());
        configure(&mut config);
        let app = App::open(config, clock).unwrap();
        let listener = app::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(app::serve(app.clone(), listener, async move {
            let _ = rx.await;
        }));
        let service = services::create_service(
            &app,
            &notify::domain::accounts::Actor::operator(),
            services::NewService {
                name: "API tests".into(),
                restricted: false,
            },
        )
        .await
        .unwrap();
        let mut keys = std::collections::HashMap::new();
        for kind in ["normal", "team", "test"] {
            let k = api_keys::create_api_key(
                &app,
                &notify::domain::accounts::Actor::operator(),
                service.id,
                api_keys::NewApiKey {
                    name: kind.into(),
                    key_type: kind.into(),
                },
            )
            .await
            .unwrap();
            keys.insert(kind, k.key);
        }
        let sms_template = template(&app, service.id, "sms", None, "Hello ((name))").await;
        let email_template = template(
            &app,
            service.id,
            "email",
            Some("Hi ((name))"),
            "Dear ((name))",
        )
        .await;
        let letter_template = template(
            &app,
            service.id,
            "letter",
            Some("About ((name))"),
            "Body ((name))",
        )
        .await;
        TestServer {
            app,
            base,
            service_id: service.id,
            keys,
            sms_template,
            email_template,
            letter_template,
            _dir: dir,
            shutdown: Some(tx),
            served: Some(served),
        }
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Stop serving as a signal would (in-flight requests finish) and wait until it has.
    pub async fn stop(&mut self) -> Result<(), app::StartError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.served.take() {
            Some(served) => served.await.expect("the server task did not panic"),
            None => Ok(()),
        }
    }

    /// Change the stored service (limits, mode, permissions) and drop the auth cache.
    pub async fn update_service(
        &self,
        change: impl FnOnce(&mut storage::records::Service) + Send + 'static,
    ) {
        let id = self.service_id;
        self.app
            .store
            .write(move |ctx| {
                let mut s = ctx.get_service(id)?.unwrap();
                change(&mut s);
                ctx.put_service(&s)
            })
            .await
            .unwrap();
        self.app.keys.invalidate(id);
    }

    /// Rows `queue` holds (ready, waiting for their time, or leased to a worker).
    pub fn queue_rows(&self, queue: notify::domain::queues::Queue) -> u64 {
        self.app
            .store
            .queue_depths()
            .unwrap()
            .into_iter()
            .filter(|(name, _, _)| name == queue.name())
            .map(|(_, ready, leased)| ready + leased)
            .sum()
    }

    /// Wait until `queue` holds no row: whatever it was going to do (a call, a retry, a job)
    /// is done, so what a test then sees is final. Fails the test after a minute.
    pub async fn wait_queue_empty(&self, queue: notify::domain::queues::Queue) {
        let start = std::time::Instant::now();
        while self.queue_rows(queue) > 0 {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(60),
                "the {} queue never emptied",
                queue.name()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The stored notification (it must exist).
    pub fn stored_notification(&self, id: Uuid) -> storage::records::Notification {
        self.app
            .store
            .read()
            .unwrap()
            .get_notification(id)
            .unwrap()
            .unwrap_or_else(|| panic!("no notification {id}"))
    }

    /// Wait until `done` holds for the notification (the workers run in the background); fails
    /// the test after a minute, saying what it waited for and where the notification stands.
    pub async fn wait_for(
        &self,
        id: Uuid,
        what: &str,
        done: impl Fn(&storage::records::Notification) -> bool,
    ) -> storage::records::Notification {
        let start = std::time::Instant::now();
        loop {
            let n = self.stored_notification(id);
            if done(&n) {
                return n;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(60),
                "notification {id} never became {what}; it is {} ({:?})",
                n.status,
                n.status_reason
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// An `Authorization` header value for the internal API.
    pub fn admin_auth(&self) -> String {
        let token = notify::auth::sign_admin_token(
            &self.app.config.admin.client_id,
            self.app.admin_secret.expose(),
            // The server checks `iat` against its own (possibly injected) clock.
            self.app.store.clock().now().timestamp(),
        );
        format!("Bearer {token}")
    }

    /// A v2 token for `key` signed the way the clients do, at the server's (possibly injected)
    /// time.
    pub fn token(&self, key: &str) -> String {
        sign(
            &claims_for(key, self.app.store.clock().now().timestamp()),
            secret_of(key),
            jsonwebtoken::Algorithm::HS256,
        )
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        auth: Option<String>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let client = reqwest::Client::new();
        let url = format!("{}{}", self.base, path);
        let mut req = match method {
            "POST" => client.post(&url),
            "DELETE" => client.delete(&url),
            _ => client.get(&url),
        };
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn call(
        &self,
        key: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let token = self.token(&self.keys[key]);
        self.request(
            method,
            path,
            Some(format!("Bearer {token}")),
            body.map(|b| b.to_string()).as_deref(),
        )
        .await
    }
}

pub fn secret_of(key: &str) -> &str {
    &key[key.len() - 36..]
}

pub fn service_of(key: &str) -> &str {
    &key[key.len() - 73..key.len() - 37]
}

pub fn claims_for(key: &str, iat: i64) -> Value {
    serde_json::json!({"iss": service_of(key), "iat": iat})
}

pub fn sign(claims: &Value, secret: &str, alg: jsonwebtoken::Algorithm) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// The v2 error body's (error, message) pairs.
pub fn errors(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("not a v2 error body: {body}"))
        .iter()
        .map(|e| {
            (
                e["error"].as_str().unwrap().to_string(),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}
