//! Text messages through HTTP providers (workers.md §7.1, §7.2).
//!
//! - [`mmg`], [`firetext`]: the request formats of GOV.UK Notify's two UK providers;
//! - [`webhook`]: a generic JSON POST with a bearer token;
//! - [`switching`]: the weighted choice of provider and the rules that move traffic.
//!
//! Each provider has its own HTTP client with its configured timeout. A failed send counts against
//! the provider that was chosen, which may move traffic away from it. Nothing here logs a
//! recipient, a message body or an API key: the notification id is enough to find a message.

pub mod firetext;
pub mod mmg;
pub mod switching;
pub mod webhook;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use reqwest::StatusCode;

use super::{OutgoingSms, SendError};
use crate::config::{SmsApiKind, SmsProviderConfig, SmsSwitchingConfig};

/// One provider's share of traffic, for status pages and the test sender.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProviderShare {
    pub name: String,
    /// Current share, 0–100.
    pub priority: u32,
    /// The configured priority the share drifts back to.
    pub resting_point: u32,
    pub supports_international: bool,
    /// False when a person switched it off.
    pub active: bool,
}

/// The request format of one provider.
#[derive(Debug)]
enum Api {
    Mmg(mmg::Mmg),
    Firetext(firetext::Firetext),
    Webhook(webhook::Webhook),
}

impl Api {
    async fn send(&self, client: &reqwest::Client, sms: &OutgoingSms) -> Result<(), SendError> {
        match self {
            Api::Mmg(a) => a.send(client, sms).await,
            Api::Firetext(a) => a.send(client, sms).await,
            Api::Webhook(a) => a.send(client, sms).await,
        }
    }
}

#[derive(Debug)]
struct Provider {
    name: String,
    client: reqwest::Client,
    api: Api,
}

/// The configured SMS providers and the switchboard that shares traffic between them.
#[derive(Debug)]
pub struct SmsProviders {
    /// In configuration order, the same order as in the switchboard.
    providers: Vec<Provider>,
    board: Mutex<switching::Switchboard>,
}

/// reqwest is built with `rustls-no-provider`: building a client panics unless a process-wide
/// crypto provider is installed. Install ring's when none is (a no-op when one already is).
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err only when another thread installed one in between, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// The HTTP client of one provider. Redirects are not followed: a provider answers, it does not
/// send the message (and its credentials) elsewhere.
fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    ensure_crypto_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))
}

impl SmsProviders {
    /// One shared HTTP client per provider, with its timeout. Err = a message for the operator.
    pub fn new(
        configs: &[SmsProviderConfig],
        switching: &SmsSwitchingConfig,
    ) -> Result<SmsProviders, String> {
        if configs.is_empty() {
            return Err("no SMS providers are configured".into());
        }
        let mut providers = Vec::with_capacity(configs.len());
        for c in configs {
            if c.name.trim().is_empty() {
                return Err("every SMS provider needs a name".into());
            }
            if providers.iter().any(|p: &Provider| p.name == c.name) {
                return Err(format!("{}: the name is used twice", c.name));
            }
            if c.priority > 100 {
                return Err(format!(
                    "{}: priority must be 0 to 100 (got {})",
                    c.name, c.priority
                ));
            }
            if c.timeout_seconds == 0 {
                return Err(format!("{}: timeout_seconds must be at least 1", c.name));
            }
            let url = reqwest::Url::parse(&c.url)
                .map_err(|e| format!("{}: url is not a valid URL: {e}", c.name))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(format!("{}: url must be http or https", c.name));
            }
            let client = http_client(Duration::from_secs(c.timeout_seconds))
                .map_err(|e| format!("{}: {e}", c.name))?;
            let (name, url, key) = (c.name.clone(), c.url.clone(), c.api_key.clone());
            let api = match c.kind {
                SmsApiKind::Mmg => Api::Mmg(mmg::Mmg::new(name, url, key)),
                SmsApiKind::Firetext => Api::Firetext(firetext::Firetext::new(name, url, key)),
                SmsApiKind::Webhook => Api::Webhook(webhook::Webhook::new(name, url, key)),
            };
            providers.push(Provider {
                name: c.name.clone(),
                client,
                api,
            });
        }
        let board = switching::Switchboard::new(
            configs
                .iter()
                .map(|c| (c.name.clone(), c.priority, c.supports_international)),
            switching,
        );
        Ok(SmsProviders {
            providers,
            board: Mutex::new(board),
        })
    }

    fn board(&self) -> MutexGuard<'_, switching::Switchboard> {
        // The switchboard is consistent after every call; a panic elsewhere does not spoil it.
        self.board.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Choose a provider (weighted by current priority; international messages only among the
    /// providers that support them), send, and count a failure against the chosen provider.
    /// `Ok(provider name)`; `Err((provider name, or "" when none may take it, error))`.
    pub async fn send(
        &self,
        sms: &OutgoingSms,
        now_ms: i64,
    ) -> Result<String, (String, SendError)> {
        let chosen = {
            let mut rng = rand::rng();
            self.board().choose(sms.international, &mut rng)
        };
        let Some(index) = chosen else {
            let reason = if sms.international {
                "No SMS provider supports international numbers"
            } else {
                "No SMS provider is available"
            };
            return Err((String::new(), SendError::Permanent(reason.into())));
        };
        let provider = &self.providers[index];
        match provider.api.send(&provider.client, sms).await {
            Ok(()) => {
                tracing::debug!(
                    provider = %provider.name,
                    notification_id = %sms.notification_id,
                    "SMS handed to provider"
                );
                Ok(provider.name.clone())
            }
            Err(e) => {
                tracing::warn!(
                    provider = %provider.name,
                    notification_id = %sms.notification_id,
                    error = %e,
                    "SMS provider send failed"
                );
                self.board().record_error(index, now_ms);
                Err((provider.name.clone(), e))
            }
        }
    }

    /// Periodic drift towards the resting points; call it every minute or so. The switchboard
    /// decides whether a drift is due and whether things have been quiet for long enough.
    pub fn drift(&self, now_ms: i64) {
        self.board().drift(now_ms);
    }

    /// Every provider's current share, in configuration order.
    pub fn shares(&self) -> Vec<ProviderShare> {
        self.board().shares()
    }

    /// Changes of shares since the last call, for saving (see [`switching::ShareChange`]).
    pub fn take_changes(&self) -> Vec<switching::ShareChange> {
        self.board().take_changes()
    }

    /// Put back a saved share; false when no configured provider has that name.
    pub fn restore(&self, name: &str, priority: u32, active: bool) -> bool {
        let mut board = self.board();
        match board.index_of(name) {
            Some(i) => {
                board.restore(i, priority, active);
                true
            }
            None => false,
        }
    }

    /// A person's change to one provider. `Err` when no provider has that name; `Ok(false)`
    /// when nothing changed.
    pub fn set_share(
        &self,
        name: &str,
        priority: Option<u32>,
        active: Option<bool>,
        reason: &str,
        by: Option<uuid::Uuid>,
        now_ms: i64,
    ) -> Result<bool, String> {
        let mut board = self.board();
        let index = board
            .index_of(name)
            .ok_or_else(|| format!("no SMS provider is called {name}"))?;
        Ok(board.set(index, priority, active, reason, by, now_ms))
    }

    /// Slow delivery, per provider in configuration order (see
    /// [`switching::Switchboard::record_slow`]). True when traffic moved.
    pub fn record_slow(&self, slow: &[bool], now_ms: i64) -> bool {
        self.board().record_slow(slow, now_ms)
    }
}

// ---------------------------------------------------------------------------
// Shared by the request formats
// ---------------------------------------------------------------------------

/// A request that got no HTTP answer: always worth retrying. The URL is left out of the message
/// (it may carry credentials).
fn request_failed(provider: &str, e: reqwest::Error) -> SendError {
    let what = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        format!("request failed: {}", e.without_url())
    };
    SendError::Retryable(format!("{provider}: {what}"))
}

/// Classify an HTTP status: 2xx is fine; 408, 429 and 5xx are worth retrying; other 4xx are
/// permanent; anything else (1xx, 3xx) is unexpected and retried.
fn check_status(provider: &str, status: StatusCode) -> Result<(), SendError> {
    if status.is_success() {
        return Ok(());
    }
    let message = format!("{provider}: HTTP {status}");
    if status.is_client_error()
        && status != StatusCode::REQUEST_TIMEOUT
        && status != StatusCode::TOO_MANY_REQUESTS
    {
        Err(SendError::Permanent(message))
    } else {
        Err(SendError::Retryable(message))
    }
}

/// The status must be a success and the body JSON; returns the body.
async fn json_answer(
    provider: &str,
    response: reqwest::Response,
) -> Result<serde_json::Value, SendError> {
    check_status(provider, response.status())?;
    let body = response
        .bytes()
        .await
        .map_err(|e| request_failed(provider, e))?;
    serde_json::from_slice(&body)
        .map_err(|_| SendError::Retryable(format!("{provider}: the answer is not JSON")))
}

#[cfg(test)]
pub(crate) mod test_server {
    //! A real HTTP server on 127.0.0.1 that records what it is sent and answers as told.

    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use warp::Filter;
    use warp::http::{HeaderMap, Method, StatusCode};

    #[derive(Debug, Clone)]
    pub struct Recorded {
        pub method: Method,
        pub path: String,
        pub headers: HeaderMap,
        pub body: Vec<u8>,
    }

    impl Recorded {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).and_then(|v| v.to_str().ok())
        }

        pub fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).expect("a JSON body")
        }

        pub fn form(&self) -> Vec<(String, String)> {
            form_urlencoded::parse(&self.body).into_owned().collect()
        }
    }

    pub struct TestServer {
        pub url: String,
        requests: Arc<Mutex<Vec<Recorded>>>,
    }

    impl TestServer {
        pub fn requests(&self) -> Vec<Recorded> {
            self.requests.lock().unwrap().clone()
        }
    }

    /// Answers every request with `status` and `answer` (as JSON) after `delay`.
    pub async fn start(status: u16, answer: &'static str, delay: Duration) -> TestServer {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let rec = requests.clone();
        let status = StatusCode::from_u16(status).unwrap();
        let route = warp::method()
            .and(warp::path::full())
            .and(warp::header::headers_cloned())
            .and(warp::body::bytes())
            .then(
                move |method: Method,
                      path: warp::path::FullPath,
                      headers: HeaderMap,
                      body: bytes::Bytes| {
                    rec.lock().unwrap().push(Recorded {
                        method,
                        path: path.as_str().to_string(),
                        headers,
                        body: body.to_vec(),
                    });
                    async move {
                        tokio::time::sleep(delay).await;
                        warp::reply::with_status(
                            warp::reply::with_header(answer, "content-type", "application/json"),
                            status,
                        )
                    }
                },
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(warp::serve(route).incoming(listener).run());
        TestServer {
            url: format!("http://{addr}"),
            requests,
        }
    }

    /// A URL nothing listens on.
    pub async fn refused_url() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        format!("http://{addr}/send")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use uuid::Uuid;

    use super::test_server::{refused_url, start};
    use super::*;
    use crate::config::Secret;

    fn provider(
        name: &str,
        kind: SmsApiKind,
        url: &str,
        priority: u32,
        intl: bool,
    ) -> SmsProviderConfig {
        SmsProviderConfig {
            name: name.into(),
            kind,
            url: url.into(),
            api_key: Secret::new("key"),
            priority,
            supports_international: intl,
            timeout_seconds: 2,
        }
    }

    fn switching(threshold: u32) -> SmsSwitchingConfig {
        SmsSwitchingConfig {
            error_threshold: threshold,
            ..SmsSwitchingConfig::default()
        }
    }

    fn sms(international: bool) -> OutgoingSms {
        OutgoingSms {
            notification_id: Uuid::new_v4(),
            to: if international {
                "33612345678"
            } else {
                "447700900123"
            }
            .into(),
            sender: "GOVUK".into(),
            body: "hello".into(),
            international,
        }
    }

    #[tokio::test]
    async fn international_messages_go_only_to_providers_that_support_them() {
        let uk = start(200, "{}", Duration::ZERO).await;
        let world = start(200, r#"{"code":0}"#, Duration::ZERO).await;
        let providers = SmsProviders::new(
            &[
                provider("mmg", SmsApiKind::Mmg, &uk.url, 99, false),
                provider("firetext", SmsApiKind::Firetext, &world.url, 1, true),
            ],
            &switching(50),
        )
        .unwrap();
        for _ in 0..10 {
            assert_eq!(
                providers.send(&sms(true), 0).await,
                Ok("firetext".to_string())
            );
        }
        assert_eq!(uk.requests().len(), 0);
        assert_eq!(world.requests().len(), 10);
    }

    #[tokio::test]
    async fn international_without_a_supporting_provider_is_permanent() {
        let uk = start(200, "{}", Duration::ZERO).await;
        let providers = SmsProviders::new(
            &[provider("mmg", SmsApiKind::Mmg, &uk.url, 100, false)],
            &switching(50),
        )
        .unwrap();
        assert_eq!(
            providers.send(&sms(true), 0).await,
            Err((
                String::new(),
                SendError::Permanent("No SMS provider supports international numbers".into())
            ))
        );
        assert!(uk.requests().is_empty());
    }

    #[tokio::test]
    async fn a_provider_at_zero_gets_nothing_while_another_has_a_share() {
        let main = start(200, "", Duration::ZERO).await;
        let standby = start(200, "", Duration::ZERO).await;
        let providers = SmsProviders::new(
            &[
                provider("standby", SmsApiKind::Webhook, &standby.url, 0, false),
                provider("main", SmsApiKind::Webhook, &main.url, 100, false),
            ],
            &switching(50),
        )
        .unwrap();
        for _ in 0..20 {
            assert_eq!(providers.send(&sms(false), 0).await, Ok("main".to_string()));
        }
        assert_eq!(standby.requests().len(), 0);
        assert_eq!(main.requests().len(), 20);
    }

    #[tokio::test]
    async fn more_failures_than_the_threshold_move_traffic() {
        let failing = start(500, "{}", Duration::ZERO).await;
        let spare = start(200, "", Duration::ZERO).await;
        let providers = SmsProviders::new(
            &[
                provider("failing", SmsApiKind::Webhook, &failing.url, 100, false),
                provider("spare", SmsApiKind::Webhook, &spare.url, 0, false),
            ],
            &switching(3),
        )
        .unwrap();
        let now = 1_700_000_000_000;
        for i in 0..3 {
            let (name, err) = providers.send(&sms(false), now + i).await.unwrap_err();
            assert_eq!(name, "failing");
            assert!(matches!(err, SendError::Retryable(_)), "{err:?}");
        }
        let shares = providers.shares();
        assert_eq!((shares[0].priority, shares[1].priority), (100, 0));
        providers.send(&sms(false), now + 3).await.unwrap_err();
        let shares = providers.shares();
        assert_eq!(
            shares,
            vec![
                ProviderShare {
                    name: "failing".into(),
                    priority: 90,
                    resting_point: 100,
                    supports_international: false,
                    active: true,
                },
                ProviderShare {
                    name: "spare".into(),
                    priority: 10,
                    resting_point: 0,
                    supports_international: false,
                    active: true,
                },
            ]
        );
        assert_eq!(failing.requests().len(), 4);
        // Drift after a quiet spell brings it back.
        providers.drift(now + 16 * 60_000);
        assert_eq!(providers.shares()[0].priority, 100);
        assert_eq!(providers.shares()[1].priority, 0);
    }

    #[tokio::test]
    async fn a_connection_failure_is_retryable_and_names_the_provider() {
        let providers = SmsProviders::new(
            &[provider(
                "mmg",
                SmsApiKind::Mmg,
                &refused_url().await,
                100,
                true,
            )],
            &switching(50),
        )
        .unwrap();
        assert_eq!(
            providers.send(&sms(false), 0).await,
            Err((
                "mmg".to_string(),
                SendError::Retryable("mmg: could not connect".into())
            ))
        );
    }

    #[test]
    fn new_rejects_bad_configuration() {
        let ok = provider("a", SmsApiKind::Webhook, "http://127.0.0.1:9/x", 50, false);
        let rules = switching(50);
        assert!(
            SmsProviders::new(&[], &rules)
                .unwrap_err()
                .contains("no SMS providers")
        );
        let dup = SmsProviders::new(&[ok.clone(), ok.clone()], &rules).unwrap_err();
        assert!(dup.contains("twice"), "{dup}");
        let high = SmsProviderConfig {
            priority: 101,
            ..ok.clone()
        };
        assert!(
            SmsProviders::new(&[high], &rules)
                .unwrap_err()
                .contains("priority")
        );
        let zero = SmsProviderConfig {
            timeout_seconds: 0,
            ..ok.clone()
        };
        assert!(
            SmsProviders::new(&[zero], &rules)
                .unwrap_err()
                .contains("timeout_seconds")
        );
        let bad = SmsProviderConfig {
            url: "not a url".into(),
            ..ok.clone()
        };
        assert!(
            SmsProviders::new(&[bad], &rules)
                .unwrap_err()
                .contains("url")
        );
        let ftp = SmsProviderConfig {
            url: "ftp://example.com/".into(),
            ..ok.clone()
        };
        assert!(
            SmsProviders::new(&[ftp], &rules)
                .unwrap_err()
                .contains("http")
        );
        let built = SmsProviders::new(&[ok], &rules).unwrap();
        assert_eq!(built.shares().len(), 1);
        assert_eq!(built.shares()[0].resting_point, 50);
    }

    #[test]
    fn check_status_classes() {
        let class = |code: u16| match check_status("p", StatusCode::from_u16(code).unwrap()) {
            Ok(()) => "ok",
            Err(SendError::Retryable(_)) => "retry",
            Err(SendError::Permanent(_)) => "permanent",
        };
        assert_eq!(class(200), "ok");
        assert_eq!(class(204), "ok");
        assert_eq!(class(301), "retry");
        assert_eq!(class(400), "permanent");
        assert_eq!(class(403), "permanent");
        assert_eq!(class(408), "retry");
        assert_eq!(class(422), "permanent");
        assert_eq!(class(429), "retry");
        assert_eq!(class(500), "retry");
        assert_eq!(class(504), "retry");
    }
}
