//! A signed-in member of the test service, as a browser without JavaScript: their session
//! cookie and CSRF token, no redirects followed. Shared by the service page tests.

use notify::domain::accounts::Actor;
use notify::domain::accounts::sessions::{self, SecondFactor};
use notify::domain::accounts::users::{self, NewUser};
use reqwest::header::{COOKIE, LOCATION};
use storage::records::Permission;

use super::TestServer;

pub struct Member {
    pub base: String,
    pub client: reqwest::Client,
    pub cookie: String,
    pub csrf: String,
    pub email: String,
}

/// A page as the browser got it.
pub struct Page {
    pub status: u16,
    pub location: String,
    pub body: String,
}

impl Member {
    /// `name` joins the test service with `permissions` and signs in.
    pub async fn new(
        s: &TestServer,
        name: &str,
        email: &str,
        permissions: Vec<Permission>,
    ) -> Member {
        let operator = Actor::operator();
        let user = users::create_user(
            &s.app,
            &operator,
            NewUser {
                name: name.into(),
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
        Member {
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

    pub async fn page(&self, req: reqwest::RequestBuilder) -> Page {
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

    pub async fn get(&self, path: &str) -> Page {
        self.page(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    /// Post a form with the session's CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", &self.csrf)];
        form.extend_from_slice(fields);
        self.page(self.client.post(format!("{}{path}", self.base)).form(&form))
            .await
    }
}
