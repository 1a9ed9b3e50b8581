//! MMG's request format: a JSON POST with `Authorization: Basic <api key>` (the key as configured,
//! already in whatever form MMG issued it). Success is a 2xx answer with a JSON body.
//!
//! ```json
//! {"reqType": "BULK", "MSISDN": "447700900123", "msg": "…", "sender": "GOVUK",
//!  "cid": "<notification id>", "multi": true}
//! ```

use serde_json::json;

use super::{json_answer, request_failed};
use crate::config::Secret;
use crate::providers::{OutgoingSms, SendError};

#[derive(Debug, Clone)]
pub struct Mmg {
    name: String,
    url: String,
    api_key: Secret,
}

impl Mmg {
    /// `name` prefixes error messages.
    pub fn new(name: impl Into<String>, url: impl Into<String>, api_key: Secret) -> Mmg {
        Mmg {
            name: name.into(),
            url: url.into(),
            api_key,
        }
    }

    pub async fn send(&self, client: &reqwest::Client, sms: &OutgoingSms) -> Result<(), SendError> {
        let body = json!({
            "reqType": "BULK",
            "MSISDN": sms.to,
            "msg": sms.body,
            "sender": sms.sender,
            "cid": sms.notification_id.to_string(),
            "multi": true,
        });
        let response = client
            .post(&self.url)
            .header(
                reqwest::header::AUTHORIZATION,
                format!("Basic {}", self.api_key.expose()),
            )
            .json(&body)
            .send()
            .await
            .map_err(|e| request_failed(&self.name, e))?;
        json_answer(&self.name, response).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use uuid::Uuid;

    use super::*;
    use crate::providers::sms::test_server::{refused_url, start};

    fn sms() -> OutgoingSms {
        OutgoingSms {
            notification_id: Uuid::parse_str("5d3b6f2e-1c2a-4e8b-9a61-7f0e3c2d1b00").unwrap(),
            to: "447700900123".into(),
            sender: "GOVUK".into(),
            body: "Your code is 123456".into(),
            international: false,
        }
    }

    fn client() -> reqwest::Client {
        super::super::http_client(Duration::from_millis(300)).unwrap()
    }

    fn mmg(url: &str) -> Mmg {
        Mmg::new("mmg", url, Secret::new("c2VjcmV0LWtleQ=="))
    }

    #[tokio::test]
    async fn sends_the_mmg_request() {
        let server = start(200, r#"{"Reference":"abc"}"#, Duration::ZERO).await;
        let url = format!("{}/API/json/api.php", server.url);
        mmg(&url).send(&client(), &sms()).await.unwrap();
        let requests = server.requests();
        assert_eq!(requests.len(), 1);
        let r = &requests[0];
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/API/json/api.php");
        assert_eq!(r.header("authorization"), Some("Basic c2VjcmV0LWtleQ=="));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(
            r.json(),
            json!({
                "reqType": "BULK",
                "MSISDN": "447700900123",
                "msg": "Your code is 123456",
                "sender": "GOVUK",
                "cid": "5d3b6f2e-1c2a-4e8b-9a61-7f0e3c2d1b00",
                "multi": true,
            })
        );
    }

    #[tokio::test]
    async fn classifies_http_errors() {
        for (status, retryable) in [
            (500, true),
            (503, true),
            (429, true),
            (408, true),
            (400, false),
            (401, false),
        ] {
            let server = start(status, r#"{"Error":"x"}"#, Duration::ZERO).await;
            let err = mmg(&server.url).send(&client(), &sms()).await.unwrap_err();
            match (&err, retryable) {
                (SendError::Retryable(m), true) | (SendError::Permanent(m), false) => {
                    assert!(m.starts_with("mmg: HTTP "), "{m}");
                    assert!(m.contains(&status.to_string()), "{m}");
                    assert!(!m.contains("c2VjcmV0"), "{m}");
                }
                _ => panic!("{status}: {err:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_success_without_json_is_retryable() {
        let server = start(200, "<html>oops</html>", Duration::ZERO).await;
        let err = mmg(&server.url).send(&client(), &sms()).await.unwrap_err();
        assert_eq!(
            err,
            SendError::Retryable("mmg: the answer is not JSON".into())
        );
    }

    #[tokio::test]
    async fn connection_refused_and_timeouts_are_retryable() {
        let err = mmg(&refused_url().await)
            .send(&client(), &sms())
            .await
            .unwrap_err();
        assert_eq!(err, SendError::Retryable("mmg: could not connect".into()));

        let slow = start(200, "{}", Duration::from_secs(3)).await;
        let started = std::time::Instant::now();
        let err = mmg(&slow.url).send(&client(), &sms()).await.unwrap_err();
        assert_eq!(err, SendError::Retryable("mmg: timed out".into()));
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
