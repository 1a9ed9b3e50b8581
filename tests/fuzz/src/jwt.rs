//! The v2 `Authorization` header: [`notify::api::auth::authenticate`] against a real store
//! holding one service with a live key, as every v2 route calls it.
//!
//! Input: one byte, then
//! - `t`: a JSON header and JSON claims on two lines, which the target signs with the service's
//!   real key (HS256 over whatever the header says), so the checks after the signature are
//!   reached; `@iss@` becomes the service id and `@now@` the clock's time, in seconds;
//! - anything else: the header value as a client sends it.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use notify::api::auth::{VerifiedTokens, authenticate};
use notify::app::App;
use notify::config::Config;
use notify::domain::accounts::Actor;
use notify::domain::{api_keys, services};
use storage::{ManualClock, SharedClock};

/// An appliance with one service and one live key, on a fixed clock.
pub struct Fixture {
    /// Always there until the fixture drops (and shuts it down).
    app: Option<Arc<App>>,
    service_id: String,
    secret: String,
    _dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let clock = ManualClock::new(crate::now());
        let app = App::open(Config::for_tests(dir.path()), clock as SharedClock)
            .expect("the appliance opens");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let (service_id, key) = runtime.block_on(async {
            let service = services::create_service(
                &app,
                &Actor::operator(),
                services::NewService {
                    name: "Fuzz".into(),
                    restricted: false,
                },
            )
            .await
            .expect("a service");
            let key = api_keys::create_api_key(
                &app,
                &Actor::operator(),
                service.id,
                api_keys::NewApiKey {
                    name: "fuzz".into(),
                    key_type: "normal".into(),
                },
            )
            .await
            .expect("a key");
            (service.id.to_string(), key.key)
        });
        // `{name}-{service id}-{secret}`: the secret is the last 36 characters.
        let secret = key[key.len() - 36..].to_string();
        Fixture {
            app: Some(app),
            service_id,
            secret,
            _dir: dir,
        }
    }

    pub fn run(&self, data: &[u8]) {
        let Some((&mode, rest)) = data.split_first() else {
            return;
        };
        let header = match mode {
            b't' => self.signed(rest),
            _ => match std::str::from_utf8(rest) {
                Ok(text) => text.to_string(),
                Err(_) => return,
            },
        };
        // A fresh memory of verified tokens each time, so an input does the same whatever ran
        // before it; the second call takes the path a verified token takes on its next request.
        let tokens = VerifiedTokens::default();
        let app = self.app.as_ref().expect("open until dropped");
        for _ in 0..2 {
            match authenticate(Some(&header), app, &tokens) {
                Ok(_) => {}
                Err(e) => {
                    let _ = e.into_v2_response();
                    return;
                }
            }
        }
    }

    /// `Bearer <header>.<claims>.<signature>`, signed with the key's secret.
    fn signed(&self, rest: &[u8]) -> String {
        let text = String::from_utf8_lossy(rest)
            .replace("@iss@", &self.service_id)
            .replace("@now@", &crate::now().timestamp().to_string());
        let (header, claims) = text.split_once('\n').unwrap_or(("", &text));
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(self.secret.as_bytes())
            .expect("HMAC takes any key length");
        mac.update(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("Bearer {signing_input}.{signature}")
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Fixture::new()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // The indexer stops and the store closes before the directory goes.
        if let Some(app) = self.app.take() {
            app.shutdown();
        }
    }
}
