//! People signing in through the pages, end to end against the real server: password, a code
//! from the outbox or an authenticator, the session cookie, the internal API as that person
//! (what their permissions allow, 403 for what they do not, 404 for another service), sign-out,
//! lock-out, and the audit trail each step leaves.

use std::time::{Duration, Instant};

use notify::config::Environment;
use notify::domain::accounts::second_factor::totp_code;
use notify::domain::accounts::users::{self, NewUser};
use notify::domain::accounts::{Actor, sign_in::SIGN_IN_FAILED};
use notify::domain::services;
use serde_json::{Value, json};
use storage::ManualClock;
use storage::records::{Permission, UserState};
use uuid::Uuid;

use crate::common::TestServer;
use crate::common::browser::{Browser, Page, hidden};
use crate::common::cut_proxy::CutProxy;

const PASSWORD: &str = "a long and unusual passphrase";

impl Browser {
    /// The internal API as this browser's person (the CSRF token from `GET /session`).
    async fn api(&mut self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "POST" => self.client.post(&url),
            "DELETE" => self.client.delete(&url),
            _ => self.client.get(&url),
        };
        if method != "GET" {
            let (_, session) = Box::pin(self.api("GET", "/session", None)).await;
            let csrf = session["data"]["csrf_token"]
                .as_str()
                .unwrap_or("")
                .to_string();
            req = req.header("x-csrf-token", csrf);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let page = self.send(req).await;
        (
            page.status,
            serde_json::from_str(&page.body).unwrap_or(Value::String(page.body)),
        )
    }

    /// Sign in with the password: answers the page after it (a redirect to the second factor,
    /// or the form again).
    async fn password(&mut self, email: &str, password: &str) -> Page {
        let form = self.get("/sign-in").await;
        assert_eq!(form.status, 200);
        let csrf = hidden(&form.body, "csrf_token");
        self.post(
            "/sign-in",
            &[
                ("csrf_token", &csrf),
                ("email_address", email),
                ("password", password),
            ],
        )
        .await
    }

    async fn code(&mut self, code: &str) -> Page {
        let form = self.get("/two-factor").await;
        assert_eq!(form.status, 200, "{}", form.body);
        let csrf = hidden(&form.body, "csrf_token");
        self.post("/two-factor", &[("csrf_token", &csrf), ("sms_code", code)])
            .await
    }
}

/// The text of the element with `id`.
fn text_of(html: &str, id: &str) -> String {
    let marker = format!(r#"id="{id}">"#);
    let start = html.find(&marker).unwrap() + marker.len();
    html[start..].split('<').next().unwrap().to_string()
}

/// The newest security code emailed to `email` after `seen` messages, waiting for delivery.
async fn emailed_code(s: &TestServer, email: &str, seen: usize) -> String {
    let start = Instant::now();
    loop {
        let mine: Vec<_> = s
            .app
            .store
            .read()
            .unwrap()
            .outbox_messages(None, 500)
            .unwrap()
            .into_iter()
            .filter(|(_, m)| m.to == email)
            .collect();
        if mine.len() > seen {
            let body = &mine[0].1.body;
            let code: String = body
                .split_whitespace()
                .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
                .unwrap_or_else(|| panic!("no code in {body}"))
                .to_string();
            return code;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no code emailed to {email}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn emails_to(s: &TestServer, email: &str) -> usize {
    s.app
        .store
        .read()
        .unwrap()
        .outbox_messages(None, 500)
        .unwrap()
        .iter()
        .filter(|(_, m)| m.to == email)
        .count()
}

/// Every audit event, oldest first, as the internal API shows them.
async fn audit(s: &TestServer) -> Vec<Value> {
    let (status, body) = s
        .request("GET", "/audit-events?limit=500", Some(s.admin_auth()), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let mut events = body["data"]["events"].as_array().unwrap().clone();
    events.reverse();
    events
}

fn count(events: &[Value], action: &str, actor: Uuid) -> usize {
    events
        .iter()
        .filter(|e| e["action"] == action && e["actor"]["id"] == actor.to_string())
        .count()
}

async fn person(s: &TestServer, email: &str, permissions: Vec<Permission>) -> Uuid {
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
            password: Some(PASSWORD.into()),
        },
    )
    .await
    .unwrap();
    users::add_user_to_service(&s.app, &operator, s.service_id, user.id, permissions)
        .await
        .unwrap();
    user.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_with_codes_and_acts_within_their_permissions() {
    let clock = ManualClock::new(chrono::Utc::now());
    let s = TestServer::start_with_clock(clock.clone(), |_| {}).await;
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
    let email = "casey@example.gov.uk";
    let me = person(
        &s,
        email,
        vec![Permission::SendMessages, Permission::ManageTemplates],
    )
    .await;
    let mut b = Browser::new(&s);

    // Nobody signed in: the landing page sends to the sign-in page.
    let page = b.get("/your-services").await;
    assert_eq!((page.status, page.location.as_str()), (303, "/sign-in"));

    // A form posted without the token of its page is refused, and nothing is checked.
    let page = b
        .post(
            "/sign-in",
            &[("email_address", email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Your session has expired"));
    assert!(!b.cookies.contains_key("notify_admin_session"));

    // Password, then the code emailed to them (through the outbox).
    let seen = emails_to(&s, email);
    let page = b.password(email, PASSWORD).await;
    assert_eq!((page.status, page.location.as_str()), (303, "/two-factor"));
    let pending = b.cookies["notify_admin_session"].clone();
    // A pending session opens nothing but the second-factor page.
    assert_eq!(b.get("/your-services").await.status, 303);
    let (status, _) = b
        .api("GET", &format!("/service/{}", s.service_id), None)
        .await;
    assert_eq!(status, 401);
    let code = emailed_code(&s, email, seen).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let page = b.code(wrong).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("Code not found"));
    let page = b.code(&code).await;
    assert_eq!(
        (page.status, page.location.as_str()),
        (303, "/your-services")
    );
    let signed_in = b.cookies["notify_admin_session"].clone();
    assert_ne!(
        signed_in, pending,
        "a new session id after the second factor"
    );
    let page = b.get("/your-services").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("API tests"));
    assert!(!page.body.contains("Someone else"));

    // The internal API with the session: what they may do, what they may not, and another
    // service's things are not even there.
    let sid = s.service_id;
    let (status, body) = b
        .api(
            "POST",
            &format!("/service/{sid}/template"),
            Some(json!({"template_type": "sms", "name": "Reminder", "content": "Hi ((name))"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = b
        .api("GET", &format!("/service/{sid}/template"), None)
        .await;
    assert_eq!(status, 200);
    let (status, body) = b
        .api(
            "POST",
            &format!("/service/{sid}/api-key"),
            Some(json!({"name": "mine", "key_type": "normal"})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = b.api("GET", &format!("/service/{}", other.id), None).await;
    assert_eq!(status, 404);
    let (status, _) = b.api("GET", "/user", None).await;
    assert_eq!(status, 403);

    // A cookie alone never changes anything: without the CSRF token, refused.
    let page = b
        .send(
            b.client
                .post(format!("{}/service/{sid}/template", b.base))
                .json(&json!({"template_type": "sms", "name": "x", "content": "x"})),
        )
        .await;
    assert_eq!(page.status, 403);

    // Set up an authenticator: the code computed from the key the page shows.
    let page = b.get("/user-profile/authenticator").await;
    assert_eq!(page.status, 200);
    let key = text_of(&page.body, "authenticator-key").replace(' ', "");
    let enrolment = hidden(&page.body, "enrolment");
    let csrf = hidden(&page.body, "csrf_token");
    let now = || clock_secs(&s);
    let page = b
        .post(
            "/user-profile/authenticator",
            &[
                ("csrf_token", &csrf),
                ("enrolment", &enrolment),
                ("code", &totp_code(&key, now()).unwrap()),
            ],
        )
        .await;
    assert_eq!(
        (page.status, page.location.as_str()),
        (303, "/your-services")
    );

    // Sign out: the session is over, for the pages and the API.
    let page = b.get("/your-services").await;
    let csrf = hidden(&page.body, "csrf_token");
    let page = b.post("/sign-out", &[("csrf_token", &csrf)]).await;
    assert_eq!((page.status, page.location.as_str()), (303, "/sign-in"));
    assert!(!b.cookies.contains_key("notify_admin_session"));
    b.cookies
        .insert("notify_admin_session".into(), signed_in.clone());
    let (status, _) = b.api("GET", &format!("/service/{sid}"), None).await;
    assert_eq!(status, 401);
    assert_eq!(b.get("/your-services").await.status, 303);
    b.cookies.remove("notify_admin_session");

    // Signing in again asks for the authenticator: nothing is emailed, the emailed code no
    // longer works, and each authenticator code works once.
    clock.advance(Duration::from_secs(30));
    let seen = emails_to(&s, email);
    let page = b.password(email, PASSWORD).await;
    assert_eq!(page.status, 303);
    assert!(
        b.get("/two-factor")
            .await
            .body
            .contains("authenticator app")
    );
    assert_eq!(
        b.code(&code).await.status,
        400,
        "the emailed code worked twice"
    );
    let totp = totp_code(&key, now()).unwrap();
    let page = b.code(&totp).await;
    assert_eq!(
        (page.status, page.location.as_str()),
        (303, "/your-services")
    );
    assert_eq!(emails_to(&s, email), seen);
    let (status, _) = b.api("GET", &format!("/service/{sid}"), None).await;
    assert_eq!(status, 200);
    let page = b.get("/your-services").await;
    let csrf = hidden(&page.body, "csrf_token");
    b.post("/sign-out", &[("csrf_token", &csrf)]).await;
    b.password(email, PASSWORD).await;
    assert_eq!(
        b.code(&totp).await.status,
        400,
        "an authenticator code worked twice"
    );

    // Every audited action once, by this person.
    let events = audit(&s).await;
    assert_eq!(count(&events, "session.signed_in", me), 2);
    assert_eq!(count(&events, "session.signed_out", me), 2);
    assert_eq!(count(&events, "template.created", me), 1);
    assert_eq!(count(&events, "user.second_factor_changed", me), 1);
    // Wrong codes: the one typed on purpose, the used emailed code, the used authenticator code.
    assert_eq!(count(&events, "session.sign_in_failed", me), 3);
    assert_eq!(count(&events, "api_key.created", me), 0);
    let created = events
        .iter()
        .find(|e| e["action"] == "template.created" && e["actor"]["id"] == me.to_string())
        .unwrap();
    assert_eq!(created["actor"]["kind"], "user");
    assert_eq!(created["service_id"], sid.to_string());
}

fn clock_secs(s: &TestServer) -> u64 {
    s.app.store.clock().now().timestamp() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_wrong_passwords_lock_the_account() {
    let s = TestServer::start_with(|c| c.accounts.max_failed_logins = 3).await;
    let email = "lee@example.gov.uk";
    let me = person(&s, email, vec![Permission::ViewActivity]).await;
    let mut b = Browser::new(&s);
    for _ in 0..3 {
        let page = b.password(email, "not the password at all").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains(SIGN_IN_FAILED), "{}", page.body);
    }
    let user = users::get_user(&s.app, me).unwrap();
    assert_eq!(user.state, UserState::Locked);
    // The right password no longer helps, and says no more than a wrong one.
    let page = b.password(email, PASSWORD).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(SIGN_IN_FAILED));
    assert!(!b.cookies.contains_key("notify_admin_session"));
    let events = audit(&s).await;
    assert_eq!(count(&events, "session.sign_in_failed", me), 4);
    assert_eq!(count(&events, "session.locked_out", me), 1);
    assert_eq!(count(&events, "session.signed_in", me), 0);

    // The operator unlocks; the password works again.
    users::change_standing(&s.app, &Actor::operator(), me, users::Standing::Unlock)
        .await
        .unwrap();
    let page = b.password(email, PASSWORD).await;
    assert_eq!((page.status, page.location.as_str()), (303, "/two-factor"));
    let unlocked = audit(&s).await;
    let operator_unlocks = unlocked
        .iter()
        .filter(|e| e["action"] == "user.unlocked" && e["actor"]["kind"] == "operator")
        .count();
    assert_eq!(operator_unlocks, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_sign_in_link_lets_the_first_administrator_in() {
    let s = TestServer::start().await;
    let operator = Actor::operator();
    let admin = users::create_user(
        &s.app,
        &operator,
        NewUser {
            name: "Ada Admin".into(),
            email_address: "ada@example.gov.uk".into(),
            mobile_number: None,
            platform_admin: true,
            auth_type: None,
            password: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(admin.state, UserState::Pending);
    let token = users::first_sign_in_link(&s.app, &operator, admin.id)
        .await
        .unwrap();
    let path = format!("/first-sign-in/{token}");
    let mut b = Browser::new(&s);
    let page = b.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Ada Admin"));
    let csrf = hidden(&page.body, "csrf_token");
    let page = b
        .post(&path, &[("csrf_token", &csrf), ("password", "password")])
        .await;
    assert_eq!(page.status, 400, "a common password is refused");
    let page = b
        .post(&path, &[("csrf_token", &csrf), ("password", PASSWORD)])
        .await;
    assert_eq!(
        (page.status, page.location.as_str()),
        (303, "/your-services")
    );
    // A platform admin may do what no service's member may.
    let (status, body) = b.api("GET", "/user", None).await;
    assert_eq!(status, 200, "{body}");
    // The link worked once.
    let mut again = Browser::new(&s);
    assert_eq!(again.get(&path).await.status, 404);
}

/// Issue 28: the operator pages show nothing by address alone. In production even a browser
/// on the machine itself (or a reverse proxy there, or a forged header) is sent to sign in; a
/// member of a service without platform admin gets the 403 page; a signed-in platform admin sees
/// them. In development, a browser on this machine talking straight to the server still does
/// (how a developer reads the first sign-in code), but not one whose request came through a
/// proxy that says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_pages_need_a_signed_in_platform_admin() {
    const PAGES: [&str; 3] = ["/outbox", "/scheduler", "/alerts"];
    let s = TestServer::start_with(|c| c.environment = Environment::Production).await;
    let proxy = CutProxy::start(s.port()).await;
    let mut nobody = Browser::new(&s);
    let mut through_proxy = Browser::new(&s);
    through_proxy.base = proxy.endpoint();
    for path in PAGES {
        let page = nobody.get(path).await;
        assert_eq!(
            (page.status, page.location.as_str()),
            (303, "/sign-in"),
            "{path}"
        );
        let page = through_proxy.get(path).await;
        assert_eq!(
            (page.status, page.location.as_str()),
            (303, "/sign-in"),
            "{path}"
        );
        let req = nobody
            .client
            .get(format!("{}{path}", s.base))
            .header("x-forwarded-for", "127.0.0.1");
        assert_eq!(nobody.send(req).await.status, 303, "{path}");
    }
    assert_eq!(nobody.get("/").await.location, "/your-services");

    // A member of a service, without platform admin.
    let member = "member@example.gov.uk";
    person(&s, member, vec![Permission::ViewActivity]).await;
    let mut b = Browser::new(&s);
    let seen = emails_to(&s, member);
    assert_eq!(b.password(member, PASSWORD).await.status, 303);
    let code = emailed_code(&s, member, seen).await;
    assert_eq!(b.code(&code).await.location, "/your-services");
    for path in PAGES {
        let page = b.get(path).await;
        assert_eq!(page.status, 403, "{path}");
        assert!(!page.body.contains("Scheduled jobs") && !page.body.contains("<table"));
    }
    assert_eq!(b.get("/").await.location, "/your-services");

    // A platform admin.
    let admin = "admin@example.gov.uk";
    users::create_user(
        &s.app,
        &Actor::operator(),
        NewUser {
            name: "Ada Admin".into(),
            email_address: admin.into(),
            mobile_number: None,
            platform_admin: true,
            auth_type: None,
            password: Some(PASSWORD.into()),
        },
    )
    .await
    .unwrap();
    let mut a = Browser::new(&s);
    let seen = emails_to(&s, admin);
    assert_eq!(a.password(admin, PASSWORD).await.status, 303);
    let code = emailed_code(&s, admin, seen).await;
    assert_eq!(a.code(&code).await.status, 303);
    for path in PAGES.into_iter().chain(["/"]) {
        let page = a.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.location);
    }

    // Development: the developer's own browser, straight to the server; not through a proxy
    // that says it is one.
    let d = TestServer::start().await;
    assert_eq!(d.app.config.environment, Environment::Development);
    let mut dev = Browser::new(&d);
    for path in PAGES.into_iter().chain(["/"]) {
        assert_eq!(dev.get(path).await.status, 200, "{path}");
        let req = dev
            .client
            .get(format!("{}{path}", d.base))
            .header("forwarded", "for=127.0.0.1");
        assert_eq!(dev.send(req).await.status, 303, "{path}");
    }
}
