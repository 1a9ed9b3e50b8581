//! Firetext's request format: a form POST with the API key in the body. Success is a 2xx answer
//! with JSON `{"code": 0, …}`; any other code is a failure worth retrying.
//!
//! Fields: `apiKey`, `from` (the sender), `to` (without a leading `+`), `message`, `reference`
//! (the notification id).

use super::{json_answer, request_failed};
use crate::config::Secret;
use crate::providers::{OutgoingSms, SendError};

/// Longest provider description carried into an error message.
const MAX_DESCRIPTION: usize = 200;

#[derive(Debug, Clone)]
pub struct Firetext {
    name: String,
    url: String,
    api_key: Secret,
}

impl Firetext {
    /// `name` prefixes error messages.
    pub fn new(name: impl Into<String>, url: impl Into<String>, api_key: Secret) -> Firetext {
        Firetext {
            name: name.into(),
            url: url.into(),
            api_key,
        }
    }

    pub async fn send(&self, client: &reqwest::Client, sms: &OutgoingSms) -> Result<(), SendError> {
        let reference = sms.notification_id.to_string();
        let form = [
            ("apiKey", self.api_key.expose()),
            ("from", sms.sender.as_str()),
            ("to", sms.to.trim_start_matches('+')),
            ("message", sms.body.as_str()),
            ("reference", reference.as_str()),
        ];
        let response = client
            .post(&self.url)
            .form(&form)
            .send()
            .await
            .map_err(|e| request_failed(&self.name, e))?;
        let answer = json_answer(&self.name, response).await?;
        let code = match answer.get("code") {
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            Some(serde_json::Value::String(s)) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        match code {
            Some(0) => Ok(()),
            Some(code) => {
                let description: String = answer
                    .get("description")
                    .and_then(|d| d.as_str())
                    .unwrap_or("no description")
                    .chars()
                    .take(MAX_DESCRIPTION)
                    .collect();
                Err(SendError::Retryable(format!(
                    "{}: code {code}: {description}",
                    self.name
                )))
            }
            None => Err(SendError::Retryable(format!(
                "{}: the answer has no code",
                self.name
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use uuid::Uuid;

    use super::*;
    use crate::providers::sms::test_server::{refused_url, start};

    fn sms(to: &str) -> OutgoingSms {
        OutgoingSms {
            notification_id: Uuid::parse_str("0b6c1e52-7a4f-4d1e-8a3b-2c9d8e7f6a50").unwrap(),
            to: to.into(),
            sender: "07700900555".into(),
            body: "Hello & welcome = café".into(),
            international: false,
        }
    }

    fn client() -> reqwest::Client {
        super::super::http_client(Duration::from_millis(300)).unwrap()
    }

    fn firetext(url: &str) -> Firetext {
        Firetext::new("firetext", url, Secret::new("ft-secret-key"))
    }

    #[tokio::test]
    async fn sends_the_firetext_form() {
        let server = start(
            200,
            r#"{"code":0,"description":"SMS successfully queued"}"#,
            Duration::ZERO,
        )
        .await;
        let url = format!("{}/api/sendsms/json", server.url);
        firetext(&url)
            .send(&client(), &sms("+447700900123"))
            .await
            .unwrap();
        let requests = server.requests();
        assert_eq!(requests.len(), 1);
        let r = &requests[0];
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/api/sendsms/json");
        assert_eq!(
            r.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(r.header("authorization"), None);
        let form = r.form();
        let field = |k: &str| {
            form.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(field("apiKey"), Some("ft-secret-key"));
        assert_eq!(field("from"), Some("07700900555"));
        assert_eq!(field("to"), Some("447700900123"));
        assert_eq!(field("message"), Some("Hello & welcome = café"));
        assert_eq!(
            field("reference"),
            Some("0b6c1e52-7a4f-4d1e-8a3b-2c9d8e7f6a50")
        );
        assert_eq!(form.len(), 5);
    }

    #[tokio::test]
    async fn a_non_zero_code_is_retryable_with_its_description() {
        let server = start(
            200,
            r#"{"code":1,"description":"Incorrect API key"}"#,
            Duration::ZERO,
        )
        .await;
        let err = firetext(&server.url)
            .send(&client(), &sms("447700900123"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            SendError::Retryable("firetext: code 1: Incorrect API key".into())
        );
        assert!(!err.to_string().contains("ft-secret-key"));
    }

    #[tokio::test]
    async fn answers_without_a_code_are_retryable() {
        for answer in ["not json", r#"{"description":"?"}"#] {
            let server = start(200, answer, Duration::ZERO).await;
            let err = firetext(&server.url)
                .send(&client(), &sms("447700900123"))
                .await
                .unwrap_err();
            assert!(matches!(err, SendError::Retryable(_)), "{answer}: {err:?}");
        }
    }

    #[tokio::test]
    async fn classifies_http_and_connection_errors() {
        let server = start(500, r#"{"code":99}"#, Duration::ZERO).await;
        let err = firetext(&server.url)
            .send(&client(), &sms("447700900123"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            SendError::Retryable("firetext: HTTP 500 Internal Server Error".into())
        );

        let server = start(429, "{}", Duration::ZERO).await;
        let err = firetext(&server.url)
            .send(&client(), &sms("447700900123"))
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Retryable(_)), "{err:?}");

        let server = start(400, "{}", Duration::ZERO).await;
        let err = firetext(&server.url)
            .send(&client(), &sms("447700900123"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            SendError::Permanent("firetext: HTTP 400 Bad Request".into())
        );

        let err = firetext(&refused_url().await)
            .send(&client(), &sms("447700900123"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            SendError::Retryable("firetext: could not connect".into())
        );

        let slow = start(200, r#"{"code":0}"#, Duration::from_secs(3)).await;
        let err = firetext(&slow.url)
            .send(&client(), &sms("447700900123"))
            .await
            .unwrap_err();
        assert_eq!(err, SendError::Retryable("firetext: timed out".into()));
    }
}
