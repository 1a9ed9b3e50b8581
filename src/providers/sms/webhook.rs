//! A generic provider of our own: a JSON POST, with `Authorization: Bearer <api key>` when a key
//! is configured. Any 2xx answer is success; its body is not read.
//!
//! ```json
//! {"id": "<notification id>", "to": "447700900123", "from": "GOVUK", "body": "…",
//!  "reference": "<notification id>"}
//! ```

use serde_json::json;

use super::{check_status, request_failed};
use crate::config::Secret;
use crate::providers::{OutgoingSms, SendError};

#[derive(Debug, Clone)]
pub struct Webhook {
    name: String,
    url: String,
    api_key: Secret,
}

impl Webhook {
    /// `name` prefixes error messages.
    pub fn new(name: impl Into<String>, url: impl Into<String>, api_key: Secret) -> Webhook {
        Webhook {
            name: name.into(),
            url: url.into(),
            api_key,
        }
    }

    pub async fn send(&self, client: &reqwest::Client, sms: &OutgoingSms) -> Result<(), SendError> {
        let id = sms.notification_id.to_string();
        let body = json!({
            "id": id,
            "to": sms.to,
            "from": sms.sender,
            "body": sms.body,
            "reference": id,
        });
        let mut request = client.post(&self.url).json(&body);
        if !self.api_key.is_empty() {
            request = request.bearer_auth(self.api_key.expose());
        }
        let response = request
            .send()
            .await
            .map_err(|e| request_failed(&self.name, e))?;
        check_status(&self.name, response.status())
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
            notification_id: Uuid::parse_str("9f1d2c3b-4a5e-4f60-8172-93a4b5c6d7e8").unwrap(),
            to: "447700900123".into(),
            sender: "GOVUK".into(),
            body: "Your appointment is tomorrow".into(),
            international: false,
        }
    }

    fn client() -> reqwest::Client {
        super::super::http_client(Duration::from_millis(300)).unwrap()
    }

    #[tokio::test]
    async fn sends_the_webhook_request_with_a_bearer_token() {
        let server = start(202, "", Duration::ZERO).await;
        let url = format!("{}/hooks/sms", server.url);
        Webhook::new("relay", &url, Secret::new("tok-123"))
            .send(&client(), &sms())
            .await
            .unwrap();
        let requests = server.requests();
        assert_eq!(requests.len(), 1);
        let r = &requests[0];
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/hooks/sms");
        assert_eq!(r.header("authorization"), Some("Bearer tok-123"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(
            r.json(),
            json!({
                "id": "9f1d2c3b-4a5e-4f60-8172-93a4b5c6d7e8",
                "to": "447700900123",
                "from": "GOVUK",
                "body": "Your appointment is tomorrow",
                "reference": "9f1d2c3b-4a5e-4f60-8172-93a4b5c6d7e8",
            })
        );
    }

    #[tokio::test]
    async fn no_authorization_header_without_a_key() {
        let server = start(200, "not json at all", Duration::ZERO).await;
        Webhook::new("relay", &server.url, Secret::default())
            .send(&client(), &sms())
            .await
            .unwrap();
        let requests = server.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].header("authorization"), None);
    }

    #[tokio::test]
    async fn classifies_errors() {
        let cases = [
            (
                500,
                SendError::Retryable("relay: HTTP 500 Internal Server Error".into()),
            ),
            (
                429,
                SendError::Retryable("relay: HTTP 429 Too Many Requests".into()),
            ),
            (
                408,
                SendError::Retryable("relay: HTTP 408 Request Timeout".into()),
            ),
            (
                400,
                SendError::Permanent("relay: HTTP 400 Bad Request".into()),
            ),
            (
                404,
                SendError::Permanent("relay: HTTP 404 Not Found".into()),
            ),
        ];
        for (status, expected) in cases {
            let server = start(status, "{}", Duration::ZERO).await;
            let err = Webhook::new("relay", &server.url, Secret::new("tok-123"))
                .send(&client(), &sms())
                .await
                .unwrap_err();
            assert_eq!(err, expected);
        }
        let err = Webhook::new("relay", refused_url().await, Secret::new("tok-123"))
            .send(&client(), &sms())
            .await
            .unwrap_err();
        assert_eq!(err, SendError::Retryable("relay: could not connect".into()));
        let slow = start(200, "{}", Duration::from_secs(3)).await;
        let err = Webhook::new("relay", &slow.url, Secret::new("tok-123"))
            .send(&client(), &sms())
            .await
            .unwrap_err();
        assert_eq!(err, SendError::Retryable("relay: timed out".into()));
    }
}
