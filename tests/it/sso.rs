//! Single sign-on end to end against a real OpenID Connect provider: PyPI's
//! `oidc-provider-mock` (Flask + Authlib: discovery, an authorisation form, the token endpoint,
//! RS256 ID tokens with the nonce and the user's claims), installed into `tests/clients/.venv`
//! by `tests/clients/setup.sh` and started here on a free 127.0.0.1 port. The test plays a
//! browser without JavaScript: it follows our redirect to the provider, submits the provider's
//! sign-in form, and brings the provider's redirect back to our callback.
//!
//! Not covered by this provider: it does not check the PKCE verifier (we send the challenge and
//! the verifier; the unit tests of `domain::accounts::oidc` cover the rest of our side).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use notify::config::{OidcConfig, Secret};
use notify::domain::accounts::Actor;
use notify::domain::accounts::users::{self, NewUser};
use reqwest::header::LOCATION;
use serde_json::{Value, json};
use storage::records::Permission;
use uuid::Uuid;

use crate::common::TestServer;
use crate::common::browser::{Browser, Page, hidden};
use crate::common::servers::free_port;

/// What our configured redirect URL is; the test takes its path and query to our server.
const REDIRECT_URL: &str = "http://notify.test/sign-in/sso/callback";

/// A running `oidc-provider-mock`, stopped on drop.
struct Provider {
    port: u16,
    child: tokio::process::Child,
    http: reqwest::Client,
    _log: tempfile::TempDir,
}

impl Provider {
    async fn start() -> Provider {
        let python =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/.venv/bin/python3");
        assert!(
            python.exists(),
            "{} not found — run `bash tests/clients/setup.sh` (installs oidc-provider-mock)",
            python.display()
        );
        let port = free_port();
        let log = tempfile::tempdir().unwrap();
        let err = std::fs::File::create(log.path().join("provider.log")).unwrap();
        let child = tokio::process::Command::new(&python)
            .args(["-m", "oidc_provider_mock", "--host", "127.0.0.1"])
            .args(["--port", &port.to_string()])
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
        // The server installs the process's rustls provider too; this client may come first.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let provider = Provider {
            port,
            child,
            http,
            _log: log,
        };
        let discovery = format!("{}/.well-known/openid-configuration", provider.issuer());
        let start = Instant::now();
        loop {
            if let Ok(r) = provider.http.get(&discovery).send().await
                && r.status().is_success()
            {
                break;
            }
            if start.elapsed() > Duration::from_secs(60) {
                let log = std::fs::read_to_string(provider._log.path().join("provider.log"));
                panic!("oidc-provider-mock did not start within 60 s: {log:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        provider
    }

    fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The person `sub` is at the provider, with these claims (email, email_verified, amr).
    async fn user(&self, sub: &str, claims: Value) {
        let r = self
            .http
            .put(format!("{}/users/{sub}", self.issuer()))
            .json(&claims)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 204);
    }

    /// Sign `sub` in on the provider's form at `authorize_url`: answers where the provider
    /// sends the browser back.
    async fn sign_in(&self, authorize_url: &str, sub: &str) -> String {
        assert!(authorize_url.starts_with(&self.issuer()), "{authorize_url}");
        for needed in [
            "code_challenge=",
            "code_challenge_method=S256",
            "nonce=",
            "state=",
        ] {
            assert!(
                authorize_url.contains(needed),
                "{needed} in {authorize_url}"
            );
        }
        let form = self.http.get(authorize_url).send().await.unwrap();
        assert_eq!(form.status().as_u16(), 200);
        assert!(form.text().await.unwrap().contains(r#"name="sub""#));
        let back = self
            .http
            .post(authorize_url)
            .form(&[("sub", sub)])
            .send()
            .await
            .unwrap();
        assert_eq!(back.status().as_u16(), 302);
        back.headers()[LOCATION].to_str().unwrap().to_string()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl Browser {
    /// "Sign in with …", the provider's form as `sub`, and back: answers the callback's page
    /// and the callback's path (to replay it).
    async fn sso(&mut self, provider: &Provider, sub: &str) -> (Page, String) {
        let start = self.get("/sign-in/sso").await;
        assert_eq!(start.status, 303, "{}", start.body);
        assert!(self.cookies.contains_key("notify_sso_state"));
        let back = provider.sign_in(&start.location, sub).await;
        let callback = back
            .strip_prefix("http://notify.test")
            .unwrap_or_else(|| panic!("provider sent the browser to {back}"))
            .to_string();
        assert!(callback.starts_with("/sign-in/sso/callback?"), "{callback}");
        (self.get(&callback).await, callback)
    }

    fn signed_in(&self) -> bool {
        self.cookies.contains_key("notify_admin_session")
    }
}

/// A server with single sign-on through `provider`.
async fn server(provider: &Provider, configure: impl FnOnce(&mut OidcConfig)) -> TestServer {
    let mut oidc = OidcConfig {
        enabled: true,
        provider_name: "Test IdP".into(),
        issuer: provider.issuer(),
        client_id: "notify".into(),
        client_secret: Secret::new("test-client-secret"),
        redirect_url: REDIRECT_URL.into(),
        ..OidcConfig::default()
    };
    configure(&mut oidc);
    TestServer::start_with(move |c| c.oidc = oidc).await
}

async fn person(s: &TestServer, email: &str) -> Uuid {
    let operator = Actor::operator();
    let user = users::create_user(
        &s.app,
        &operator,
        NewUser {
            name: "Casey Worker".into(),
            email_address: email.into(),
            mobile_number: None,
            platform_admin: false,
            auth_type: None,
            password: Some("a long and unusual passphrase".into()),
        },
    )
    .await
    .unwrap();
    users::add_user_to_service(
        &s.app,
        &operator,
        s.service_id,
        user.id,
        vec![Permission::SendMessages],
    )
    .await
    .unwrap();
    user.id
}

/// Every audit event, oldest first.
async fn audit(s: &TestServer) -> Vec<Value> {
    let (status, body) = s
        .request("GET", "/audit-events?limit=500", Some(s.admin_auth()), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let mut events = body["data"]["events"].as_array().unwrap().clone();
    events.reverse();
    events
}

fn events<'a>(all: &'a [Value], action: &str) -> Vec<&'a Value> {
    all.iter().filter(|e| e["action"] == action).collect()
}

/// The newest security code emailed to `email`, waiting for delivery.
async fn emailed_code(s: &TestServer, email: &str) -> String {
    let start = Instant::now();
    loop {
        let messages = s
            .app
            .store
            .read()
            .unwrap()
            .outbox_messages(None, 500)
            .unwrap();
        if let Some((_, m)) = messages.into_iter().find(|(_, m)| m.to == email) {
            return m
                .body
                .split_whitespace()
                .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
                .unwrap_or_else(|| panic!("no code in {}", m.body))
                .to_string();
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no code emailed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_known_person_signs_in_and_the_providers_mfa_stands_in_for_ours() {
    let provider = Provider::start().await;
    let s = server(&provider, |_| {}).await;
    let casey = person(&s, "casey@example.gov.uk").await;
    provider
        .user(
            "casey",
            json!({"email": "casey@example.gov.uk", "email_verified": true, "amr": ["pwd", "mfa"]}),
        )
        .await;

    let mut b = Browser::new(&s);
    let sign_in = b.get("/sign-in").await;
    assert!(
        sign_in.body.contains("Sign in with Test IdP"),
        "{}",
        sign_in.body
    );
    assert!(sign_in.body.contains(r#"href="/sign-in/sso""#));
    assert!(
        sign_in.body.contains(r#"name="password""#),
        "passwords still work"
    );

    let (page, _) = b.sso(&provider, "casey").await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location, "/your-services");
    assert!(b.signed_in());
    assert!(
        !b.cookies.contains_key("notify_sso_state"),
        "the state cookie is spent"
    );
    let services = b.get("/your-services").await;
    assert_eq!(services.status, 200, "{}", services.body);

    let all = audit(&s).await;
    let signed_in = events(&all, "session.signed_in");
    assert_eq!(signed_in.len(), 1, "{all:?}");
    assert_eq!(signed_in[0]["actor"]["id"], casey.to_string());
    assert_eq!(signed_in[0]["details"]["method"], "sso");
    assert_eq!(signed_in[0]["details"]["second_factor"], "idp:Test IdP");
    assert!(events(&all, "session.sign_in_failed").is_empty(), "{all:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_mfa_in_amr_our_second_factor_follows() {
    let provider = Provider::start().await;
    let s = server(&provider, |_| {}).await;
    let casey = person(&s, "casey@example.gov.uk").await;
    provider
        .user(
            "casey",
            json!({"email": "casey@example.gov.uk", "email_verified": true, "amr": ["pwd"]}),
        )
        .await;

    let mut b = Browser::new(&s);
    let (page, _) = b.sso(&provider, "casey").await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location, "/two-factor");
    // A pending session opens nothing but the second-factor page.
    let services = b.get("/your-services").await;
    assert_eq!(services.location, "/sign-in");
    let form = b.get("/two-factor").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = hidden(&form.body, "csrf_token");
    let code = emailed_code(&s, "casey@example.gov.uk").await;
    let done = b
        .post("/two-factor", &[("csrf_token", &csrf), ("sms_code", &code)])
        .await;
    assert_eq!(done.location, "/your-services", "{}", done.body);
    assert_eq!(b.get("/your-services").await.status, 200);

    let all = audit(&s).await;
    let signed_in = events(&all, "session.signed_in");
    assert_eq!(signed_in.len(), 1, "{all:?}");
    assert_eq!(signed_in[0]["actor"]["id"], casey.to_string());
    assert_eq!(signed_in[0]["details"]["method"], "sso");
    assert_eq!(signed_in[0]["details"]["second_factor"], "email");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_unverified_addresses_are_refused_and_nobody_is_created() {
    let provider = Provider::start().await;
    let s = server(&provider, |_| {}).await;
    person(&s, "casey@example.gov.uk").await;
    provider
        .user(
            "stranger",
            json!({"email": "stranger@example.gov.uk", "email_verified": true, "amr": ["mfa"]}),
        )
        .await;
    provider
        .user(
            "unverified",
            json!({"email": "casey@example.gov.uk", "email_verified": false, "amr": ["mfa"]}),
        )
        .await;
    let users_before = s.app.store.read().unwrap().all_users().unwrap().len();

    let mut b = Browser::new(&s);
    let (page, _) = b.sso(&provider, "stranger").await;
    assert_eq!(page.status, 403);
    assert!(
        page.body
            .contains("There is no Notify account for stranger@example.gov.uk"),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"href="/sign-in""#));
    assert!(!b.signed_in());

    let (page, _) = b.sso(&provider, "unverified").await;
    assert_eq!(page.status, 403);
    assert!(
        page.body.contains("has not confirmed your email address"),
        "{}",
        page.body
    );
    assert!(!b.signed_in());

    let users_after = s.app.store.read().unwrap().all_users().unwrap().len();
    assert_eq!(users_before, users_after);
    let all = audit(&s).await;
    let failed = events(&all, "session.sign_in_failed");
    let reasons: Vec<&str> = failed
        .iter()
        .map(|e| e["details"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        vec![
            "unknown email address",
            "email address not verified by the identity provider"
        ]
    );
    assert!(failed.iter().all(|e| e["details"]["method"] == "sso"));
    assert!(events(&all, "session.signed_in").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_forged_and_replayed_callbacks_are_refused() {
    let provider = Provider::start().await;
    let s = server(&provider, |_| {}).await;
    person(&s, "casey@example.gov.uk").await;
    provider
        .user(
            "casey",
            json!({"email": "casey@example.gov.uk", "email_verified": true, "amr": ["mfa"]}),
        )
        .await;

    // A tampered state finds no sign-in.
    let mut b = Browser::new(&s);
    let start = b.get("/sign-in/sso").await;
    let back = provider.sign_in(&start.location, "casey").await;
    let tampered = back
        .strip_prefix("http://notify.test")
        .unwrap()
        .replace("state=", "state=x");
    let page = b.get(&tampered).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        page.body.contains("expired or was already used"),
        "{}",
        page.body
    );
    assert!(!b.signed_in());

    // A callback brought to another browser (a link an attacker sends) is refused, and
    // spends the sign-in.
    let mut b = Browser::new(&s);
    let start = b.get("/sign-in/sso").await;
    let back = provider.sign_in(&start.location, "casey").await;
    let callback = back.strip_prefix("http://notify.test").unwrap().to_string();
    let mut victim = Browser::new(&s);
    let page = victim.get(&callback).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(!victim.signed_in());
    let page = b.get(&callback).await;
    assert_eq!(
        page.status, 400,
        "a refused callback cannot be retried: {}",
        page.body
    );
    assert!(!b.signed_in());

    // A callback works once.
    let mut b = Browser::new(&s);
    let (page, callback) = b.sso(&provider, "casey").await;
    assert_eq!(page.location, "/your-services", "{}", page.body);
    let mut replay = Browser::new(&s);
    let state = callback
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("state="))
        .unwrap()
        .to_string();
    replay
        .cookies
        .insert("notify_sso_state".into(), state.clone());
    let page = replay.get(&callback).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(!replay.signed_in());

    let all = audit(&s).await;
    let failed = events(&all, "session.sign_in_failed");
    assert_eq!(failed.len(), 4, "{all:?}");
    assert!(
        failed
            .iter()
            .all(|e| e["details"]["reason"] == "unknown, used or expired state")
    );
    assert_eq!(events(&all, "session.signed_in").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_sso_refuses_passwords_and_points_at_the_button() {
    let provider = Provider::start().await;
    let s = server(&provider, |o| o.only_sso = true).await;
    person(&s, "casey@example.gov.uk").await;

    let mut b = Browser::new(&s);
    let form = b.get("/sign-in").await;
    assert!(form.body.contains("Sign in with Test IdP"), "{}", form.body);
    assert!(!form.body.contains(r#"name="password""#), "{}", form.body);
    let csrf = b.cookies.get("notify_csrf").cloned().unwrap_or_default();
    let page = b
        .post(
            "/sign-in",
            &[
                ("csrf_token", &csrf),
                ("email_address", "casey@example.gov.uk"),
                ("password", "a long and unusual passphrase"),
            ],
        )
        .await;
    assert!(
        page.body
            .contains("Sign in with Test IdP. This Notify does not use passwords."),
        "{}",
        page.body
    );
    assert!(page.body.contains(r##"href="#sso""##), "{}", page.body);
    assert!(!b.signed_in());
    let all = audit(&s).await;
    assert!(events(&all, "session.signed_in").is_empty());
    // Nor are there passwords to forget or reset.
    for path in ["/forgot-password", "/new-password/any-token"] {
        let page = b.get(path).await;
        assert_eq!(
            (page.status, page.location.as_str()),
            (303, "/sign-in"),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sso_pages_are_not_there_while_it_is_off() {
    let s = TestServer::start().await;
    let mut b = Browser::new(&s);
    assert_eq!(b.get("/sign-in/sso").await.status, 404);
    assert_eq!(
        b.get("/sign-in/sso/callback?state=a&code=b").await.status,
        404
    );
    let form = b.get("/sign-in").await;
    assert!(!form.body.contains("/sign-in/sso"), "{}", form.body);
}
