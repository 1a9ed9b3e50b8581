//! A service's pages end to end against the real server, as a browser without JavaScript: who
//! may see which page (403 for a member without the permission, 404 for another service's ids),
//! a template added through its form (the form kept on bad input), one message sent through the
//! one-off steps and "check and send", its page, and finding it by recipient in the search.

use std::time::{Duration, Instant};

use notify::domain::accounts::Actor;
use notify::domain::accounts::sessions::{self, SecondFactor};
use notify::domain::accounts::users::{self, NewUser};
use notify::domain::services;
use reqwest::header::{COOKIE, LOCATION};
use storage::records::Permission;
use uuid::Uuid;

use crate::common::TestServer;

/// A signed-in person's browser: their session cookie, their CSRF token, no redirects followed.
struct Person {
    base: String,
    client: reqwest::Client,
    cookie: String,
    csrf: String,
    email: String,
}

struct Page {
    status: u16,
    location: String,
    body: String,
}

impl Person {
    async fn new(s: &TestServer, email: &str, permissions: Vec<Permission>) -> Person {
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
                password: None,
            },
        )
        .await
        .unwrap();
        users::add_user_to_service(&s.app, &operator, s.service_id, user.id, permissions)
            .await
            .unwrap();
        let session =
            sessions::create_signed_in(&s.app, user.id, SecondFactor::EmailCode, None, None)
                .await
                .unwrap();
        Person {
            base: s.base.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: format!("notify_admin_session={}", session.token),
            csrf: session.csrf_token,
            email: email.into(),
        }
    }

    async fn page(&self, req: reqwest::RequestBuilder) -> Page {
        let resp = req.header(COOKIE, &self.cookie).send().await.unwrap();
        Page {
            status: resp.status().as_u16(),
            location: resp
                .headers()
                .get(LOCATION)
                .map(|l| l.to_str().unwrap().to_string())
                .unwrap_or_default(),
            body: resp.text().await.unwrap(),
        }
    }

    async fn get(&self, path: &str) -> Page {
        self.page(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", &self.csrf)];
        form.extend_from_slice(fields);
        self.page(self.client.post(format!("{}{path}", self.base)).form(&form))
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_answer_by_permission_and_never_show_another_service() {
    let s = TestServer::start().await;
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
    let viewer = Person::new(&s, "viewer@example.gov.uk", vec![Permission::ViewActivity]).await;
    let nobody = Person::new(&s, "nobody@example.gov.uk", vec![]).await;
    let sid = s.service_id;
    let email = s.email_template;

    for path in [
        format!("/services/{sid}"),
        format!("/services/{sid}/templates"),
        format!("/services/{sid}/templates/email"),
        format!("/services/{sid}/templates/{email}"),
        format!("/services/{sid}/notifications/email"),
    ] {
        let page = viewer.get(&path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(page.body.contains("Sent messages"), "{path}");
    }
    for path in [
        format!("/services/{sid}/templates/add-email"),
        format!("/services/{sid}/templates/{email}/edit"),
        format!("/services/{sid}/templates/{email}/delete"),
        format!("/services/{sid}/send/{email}/one-off"),
        format!("/services/{sid}/send/{email}/one-off/step-0"),
    ] {
        let page = viewer.get(&path).await;
        assert_eq!(page.status, 403, "{path}");
        assert!(page.body.contains("You do not have permission"), "{path}");
    }
    let page = nobody
        .get(&format!("/services/{sid}/notifications/email"))
        .await;
    assert_eq!(page.status, 403);
    // Not offered what they may not do.
    let page = viewer
        .get(&format!("/services/{sid}/templates/{email}"))
        .await;
    assert!(!page.body.contains("/edit") && !page.body.contains("one-off"));

    let oid = other.id;
    for path in [
        format!("/services/{oid}"),
        format!("/services/{oid}/templates"),
        format!("/services/{oid}/notifications/email"),
        format!("/services/{oid}/notification/{}", Uuid::now_v7()),
        format!("/services/{sid}/templates/{}", Uuid::new_v4()),
        format!("/services/{sid}/notification/{}", Uuid::now_v7()),
        "/services/not-a-uuid".to_string(),
    ] {
        let page = viewer.get(&path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(page.body.contains("Page not found"), "{path}");
    }
    // Signed out: to the sign-in page.
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = anonymous
        .get(format!("{}/services/{sid}", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_adds_a_template_sends_a_message_and_finds_it() {
    let s = TestServer::start().await;
    let sid = s.service_id;
    let me = Person::new(
        &s,
        "casey@example.gov.uk",
        vec![
            Permission::ViewActivity,
            Permission::SendMessages,
            Permission::ManageTemplates,
        ],
    )
    .await;

    // A bad form keeps what was typed and says what is wrong.
    let add = format!("/services/{sid}/templates/add-email");
    let page = me
        .post(
            &add,
            &[
                ("name", "Permit ready"),
                ("subject", ""),
                ("template_content", ""),
            ],
        )
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("There is a problem"));
    assert!(page.body.contains(r#"value="Permit ready""#));
    // Without the form's CSRF token nothing happens.
    let forged = me
        .page(me.client.post(format!("{}{add}", me.base)).form(&[
            ("name", "x"),
            ("subject", "y"),
            ("template_content", "z"),
        ]))
        .await;
    assert_eq!(forged.status, 403);

    let page = me
        .post(
            &add,
            &[
                ("name", "Permit ready"),
                ("subject", "Your permit, ((name))"),
                ("template_content", "Dear ((name)), your permit is ready."),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let template_id = page.location.rsplit('/').next().unwrap().to_string();
    let page = me.get(&page.location).await;
    assert!(page.body.contains("Dear ((name))") || page.body.contains("Dear <span"));

    // The recipient, refused then accepted; the placeholder; check; send.
    let step = |n: usize| format!("/services/{sid}/send/{template_id}/one-off/step-{n}");
    let page = me
        .post(&step(0), &[("placeholder_value", "not an address")])
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains(r#"value="not an address""#));
    let page = me.post(&step(0), &[("placeholder_value", &me.email)]).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Personalise this message"));
    assert!(page.body.contains(&step(1)));
    let page = me
        .post(
            &step(1),
            &[("recipient", &me.email), ("placeholder_value", "")],
        )
        .await;
    assert_eq!(page.status, 400);
    let page = me
        .post(
            &step(1),
            &[("recipient", &me.email), ("placeholder_value", "Casey")],
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Your permit, Casey"));
    assert!(page.body.contains("Send 1 email"));
    let check = format!("/services/{sid}/template/{template_id}/notification/check");
    let page = me
        .post(&check, &[("recipient", &me.email), ("pv0", "Casey")])
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(
        page.location
            .starts_with(&format!("/services/{sid}/notification/"))
    );
    let notification_id = page.location.rsplit('/').next().unwrap().to_string();
    let n = s
        .app
        .store
        .read()
        .unwrap()
        .get_notification(Uuid::parse_str(&notification_id).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(n.created_by_name.as_deref(), Some("Casey Worker"));
    assert!(n.body.contains("Dear Casey"));
    let page = me.get(&page.location).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Delivering") || page.body.contains("Delivered"));
    assert!(page.body.contains("Created"));

    // Found by recipient (any case), by notification id; not by a stranger's address.
    let deadline = Instant::now() + Duration::from_secs(30);
    let search = format!(
        "/services/{sid}/notifications/email?to={}",
        me.email.to_uppercase()
    );
    loop {
        let page = me.get(&search).await;
        assert_eq!(page.status, 200);
        if page.body.contains(&notification_id) {
            break;
        }
        assert!(Instant::now() < deadline, "never found: {}", page.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = me
        .get(&format!(
            "/services/{sid}/notifications/email?to={notification_id}"
        ))
        .await;
    assert!(page.body.contains(&notification_id));
    let page = me
        .get(&format!(
            "/services/{sid}/notifications/email?to=someone.else%40example.com"
        ))
        .await;
    assert!(!page.body.contains(&notification_id));
    assert!(page.body.contains("No messages found"));

    // The dashboard counts it; archiving the template takes it off the list.
    let page = me.get(&format!("/services/{sid}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Messages sent today"));
    let page = me
        .post(
            &format!("/services/{sid}/templates/{template_id}/delete"),
            &[],
        )
        .await;
    assert_eq!(page.status, 303);
    let page = me.get(&format!("/services/{sid}/templates")).await;
    assert!(!page.body.contains("Permit ready"));
}
