//! Email through an SMTP relay (lettre over tokio, rustls with ring).
//!
//! One [`SmtpProvider`] per process, built at start-up from `[smtp]`: a pooled transport that
//! speaks plain SMTP, STARTTLS (required) or implicit TLS, optionally trusting one extra CA
//! certificate (a relay's self-signed certificate) and authenticating when a username is set.
//!
//! Each email goes out as `multipart/alternative` (text and HTML, UTF-8) with a
//! `Message-ID` of `<{notification id}@{sending domain}>`, and RFC 8058 one-click unsubscribe
//! headers when the notification has an unsubscribe URL. The provider's reference is the id in
//! an Amazon SES style `250 Ok <id>` reply, else the Message-ID.
//!
//! Failures: a malformed address or a 5xx rejection of the message is permanent; anything else
//! (connection, TLS, timeout, 4xx, the relay refusing our credentials) is worth retrying.
//! Error messages never carry the password, and the recipient address is masked in them.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::authentication::DEFAULT_MECHANISMS;
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{EmailAccepted, OutgoingEmail, SendError};
use crate::config::{SmtpConfig, SmtpTls};

/// An SMTP relay, with a pool of connections to it.
pub struct SmtpProvider {
    relay: Relay,
}

/// How connections are made. lettre's own pooled transport does not set `TCP_NODELAY`, and it
/// writes a message's body and its closing `.` in two writes: Nagle's algorithm then holds the
/// `.` until the relay acknowledges the body, which a relay delays (40 ms on Linux) because it
/// has nothing to answer yet — capping each connection at ~25 emails/s. So plain and STARTTLS
/// connections are made here, on a socket with `TCP_NODELAY`, and pooled here; implicit TLS
/// (rare) keeps lettre's transport.
enum Relay {
    NoDelay(Box<NoDelayPool>),
    Lettre(AsyncSmtpTransport<Tokio1Executor>),
}

/// Why a relay call failed.
enum RelayError {
    Smtp(lettre::transport::smtp::Error),
    Timeout,
    Connect(std::io::Error),
}

/// At most `slots` connections in use, idle ones kept for reuse (checked with `NOOP` first).
struct NoDelayPool {
    host: String,
    port: u16,
    starttls: Option<TlsParameters>,
    credentials: Option<Credentials>,
    timeout: Duration,
    hello: ClientId,
    slots: tokio::sync::Semaphore,
    idle: std::sync::Mutex<Vec<AsyncSmtpConnection>>,
}

impl NoDelayPool {
    async fn connect(&self) -> Result<AsyncSmtpConnection, RelayError> {
        let tcp = tokio::time::timeout(
            self.timeout,
            tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| RelayError::Timeout)?
        .map_err(RelayError::Connect)?;
        tcp.set_nodelay(true).map_err(RelayError::Connect)?;
        let setup = async {
            let mut conn =
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await?;
            if let Some(tls) = &self.starttls {
                conn.starttls(tls.clone(), &self.hello).await?;
            }
            if let Some(credentials) = &self.credentials {
                conn.auth(DEFAULT_MECHANISMS, credentials).await?;
            }
            Ok::<_, lettre::transport::smtp::Error>(conn)
        };
        tokio::time::timeout(self.timeout, setup)
            .await
            .map_err(|_| RelayError::Timeout)?
            .map_err(RelayError::Smtp)
    }

    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    async fn send(&self, envelope: &Envelope, raw: &[u8]) -> Result<Response, RelayError> {
        let _slot = self.slots.acquire().await;
        let mut conn = loop {
            match self.take_idle() {
                Some(mut conn) => {
                    if conn.test_connected().await {
                        break conn;
                    }
                    conn.abort().await;
                }
                None => break self.connect().await?,
            }
        };
        match tokio::time::timeout(self.timeout, conn.send(envelope, raw)).await {
            Ok(Ok(response)) => {
                self.idle
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(conn);
                Ok(response)
            }
            Ok(Err(e)) => {
                // The relay refused this message; the connection is fine unless it broke.
                if conn.has_broken() {
                    conn.abort().await;
                } else {
                    self.idle
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(conn);
                }
                Err(RelayError::Smtp(e))
            }
            Err(_) => {
                conn.abort().await;
                Err(RelayError::Timeout)
            }
        }
    }
}

impl SmtpProvider {
    /// Err = a clear message for the operator (e.g. unreadable ca_file).
    ///
    /// Must be called inside a tokio runtime (the connection pool starts its idle reaper).
    pub fn new(config: &SmtpConfig) -> Result<SmtpProvider, String> {
        let host = config.host.trim();
        if host.is_empty() {
            return Err("host is empty".into());
        }
        if config.port == 0 {
            return Err("port must not be 0".into());
        }
        let timeout = Duration::from_secs(config.timeout_seconds.max(1));
        let credentials = (!config.username.is_empty()).then(|| {
            Credentials::new(config.username.clone(), config.password.expose().to_owned())
        });
        let starttls = match config.tls {
            SmtpTls::None => None,
            SmtpTls::Starttls => Some(tls_parameters(host, config)?),
            SmtpTls::Implicit => {
                return Ok(SmtpProvider {
                    relay: Relay::Lettre(lettre_transport(host, config)?),
                });
            }
        };
        Ok(SmtpProvider {
            relay: Relay::NoDelay(Box::new(NoDelayPool {
                host: host.to_string(),
                port: config.port,
                starttls,
                credentials,
                timeout,
                hello: ClientId::default(),
                slots: tokio::sync::Semaphore::new(config.pool_size.max(1) as usize),
                idle: std::sync::Mutex::new(Vec::new()),
            })),
        })
    }

    pub async fn send(&self, email: &OutgoingEmail) -> Result<EmailAccepted, SendError> {
        let (message, message_id) = build_message(email)?;
        let sent = match &self.relay {
            Relay::NoDelay(pool) => pool.send(message.envelope(), &message.formatted()).await,
            Relay::Lettre(transport) => transport.send(message).await.map_err(RelayError::Smtp),
        };
        match sent {
            Ok(response) => {
                let reference = reference_from_reply(response.first_line())
                    .unwrap_or_else(|| message_id.clone());
                tracing::debug!(
                    notification_id = %email.notification_id,
                    reference = %reference,
                    "smtp relay accepted the email"
                );
                Ok(EmailAccepted {
                    reference: Some(reference),
                })
            }
            Err(RelayError::Timeout) => Err(SendError::Retryable(
                "smtp: the relay did not answer in time".into(),
            )),
            Err(RelayError::Connect(e)) => Err(SendError::Retryable(format!(
                "smtp: cannot connect to the relay: {e}"
            ))),
            Err(RelayError::Smtp(err)) => {
                let text = mask_recipient(&err.to_string(), &email.to);
                let permanent = err.is_permanent()
                    && !err
                        .status()
                        .is_some_and(|code| is_configuration_code(&code.to_string()));
                if permanent {
                    Err(SendError::Permanent(format!(
                        "smtp relay rejected the email: {text}"
                    )))
                } else {
                    Err(SendError::Retryable(format!("smtp: {text}")))
                }
            }
        }
    }
}

/// lettre's pooled transport, for implicit TLS.
fn lettre_transport(
    host: &str,
    config: &SmtpConfig,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let tls = Tls::Wrapper(tls_parameters(host, config)?);
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(config.port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(config.timeout_seconds.max(1))))
        .pool_config(PoolConfig::new().max_size(config.pool_size.max(1)));
    if !config.username.is_empty() {
        builder = builder.credentials(Credentials::new(
            config.username.clone(),
            config.password.expose().to_owned(),
        ));
    }
    Ok(builder.build())
}

/// TLS towards `host`, trusting the system store plus `ca_file` when set.
fn tls_parameters(host: &str, config: &SmtpConfig) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(host.to_owned());
    if !config.ca_file.as_os_str().is_empty() {
        let path = config.ca_file.display();
        let pem = std::fs::read(&config.ca_file)
            .map_err(|e| format!("cannot read ca_file {path}: {e}"))?;
        if !pem
            .windows(b"-----BEGIN CERTIFICATE-----".len())
            .any(|w| w == b"-----BEGIN CERTIFICATE-----")
        {
            return Err(format!(
                "ca_file {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
            ));
        }
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| format!("ca_file {path} is not a valid PEM certificate: {e}"))?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build()
        .map_err(|e| format!("cannot set up TLS for {host}: {e}"))
}

/// 5xx replies that say the relay refuses *us* (authentication, STARTTLS required), not the
/// message: every email would fail the same way until the operator fixes the configuration, so
/// they are retried rather than failing each notification for good.
fn is_configuration_code(code: &str) -> bool {
    matches!(code, "530" | "534" | "535" | "538")
}

/// The message as it goes on the wire, and its Message-ID without angle brackets.
fn build_message(email: &OutgoingEmail) -> Result<(Message, String), SendError> {
    let from_address: Address = email.from_address.parse().map_err(|e| {
        SendError::Permanent(format!(
            "invalid sender address {:?}: {e}",
            email.from_address
        ))
    })?;
    let to: Address = email
        .to
        .trim()
        .parse()
        .map_err(|e| SendError::Permanent(format!("invalid recipient address: {e}")))?;
    let message_id = format!("{}@{}", email.notification_id, from_address.domain());
    let mut builder = Message::builder()
        .from(Mailbox::new(Some(email.from_name.clone()), from_address))
        .to(Mailbox::new(None, to))
        .subject(email.subject.clone())
        .message_id(Some(format!("<{message_id}>")))
        .date_now();
    if let Some(reply_to) = email.reply_to.as_deref() {
        let reply_to: Address = reply_to
            .trim()
            .parse()
            .map_err(|e| SendError::Permanent(format!("invalid reply-to address: {e}")))?;
        builder = builder.reply_to(Mailbox::new(None, reply_to));
    }
    if let Some(url) = email.unsubscribe_url.as_deref() {
        if url.is_empty()
            || !url
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
        {
            return Err(SendError::Permanent(
                "unsubscribe url is not a printable ASCII URL".into(),
            ));
        }
        builder = builder
            .header(ListUnsubscribe(url.to_owned()))
            .header(ListUnsubscribePost);
    }
    let message = builder
        .multipart(MultiPart::alternative_plain_html(
            email.text_body.clone(),
            email.html_body.clone(),
        ))
        .map_err(|e| SendError::Permanent(format!("cannot build the email: {e}")))?;
    Ok((message, message_id))
}

/// The id in an Amazon SES style reply (`250 Ok <id>`, possibly after an enhanced status code).
fn reference_from_reply(first_line: Option<&str>) -> Option<String> {
    let mut words = first_line?.split_whitespace().peekable();
    if words.peek().is_some_and(|w| is_enhanced_status_code(w)) {
        words.next();
    }
    let ok = words.next()?;
    let id = words.next()?;
    let id_like = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '@'))
        && id.chars().any(|c| c.is_ascii_digit());
    (ok.eq_ignore_ascii_case("ok") && id_like && words.next().is_none()).then(|| id.to_owned())
}

/// `2.0.0`-style codes (RFC 3463).
fn is_enhanced_status_code(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Replaces the recipient address in a relay's reply text (it is personal data).
fn mask_recipient(text: &str, to: &str) -> String {
    let to = to.trim();
    if to.is_empty() {
        return text.to_owned();
    }
    let lower_text = text.to_ascii_lowercase();
    let lower_to = to.to_ascii_lowercase();
    if lower_text.len() != text.len() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    while let Some(found) = lower_text[rest..].find(&lower_to) {
        let start = rest + found;
        out.push_str(&text[rest..start]);
        out.push_str("[recipient]");
        rest = start + lower_to.len();
    }
    out.push_str(&text[rest..]);
    out
}

/// `List-Unsubscribe: <url>` (RFC 2369).
#[derive(Debug, Clone, PartialEq)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let s = s.trim();
        match s.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
            Some(url) => Ok(ListUnsubscribe(url.to_owned())),
            None => Err("List-Unsubscribe is not <url>".into()),
        }
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
#[derive(Debug, Clone, PartialEq)]
struct ListUnsubscribePost;

const ONE_CLICK: &str = "List-Unsubscribe=One-Click";

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        if s.trim() == ONE_CLICK {
            Ok(ListUnsubscribePost)
        } else {
            Err("List-Unsubscribe-Post is not List-Unsubscribe=One-Click".into())
        }
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), ONE_CLICK.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use uuid::Uuid;

    fn email() -> OutgoingEmail {
        OutgoingEmail {
            notification_id: Uuid::parse_str("6f1c2c8e-7d0a-4c1e-9a55-0a3f8b1d2e4f").unwrap(),
            from_name: "Client Tests".into(),
            from_address: "client.tests@notify.localhost".into(),
            to: "Someone@Example.com".into(),
            reply_to: None,
            subject: "Hi Bob".into(),
            text_body: "Dear Bob".into(),
            html_body: "<p>Dear Bob</p>".into(),
            unsubscribe_url: None,
        }
    }

    fn formatted(email: &OutgoingEmail) -> String {
        let (message, _) = build_message(email).expect("builds");
        String::from_utf8(message.formatted()).expect("utf-8")
    }

    /// The header block (before the first blank line), unfolded.
    fn headers(text: &str) -> String {
        let head = text.split("\r\n\r\n").next().unwrap();
        head.replace("\r\n ", " ").replace("\r\n\t", " ")
    }

    #[test]
    fn message_has_the_headers_and_both_parts() {
        let e = email();
        let text = formatted(&e);
        let head = headers(&text);
        assert!(
            head.contains("From: \"Client Tests\" <client.tests@notify.localhost>\r\n"),
            "{head}"
        );
        assert!(head.contains("To: Someone@Example.com\r\n"), "{head}");
        assert!(head.contains("Subject: Hi Bob\r\n"), "{head}");
        assert!(
            head.contains(
                "Message-ID: <6f1c2c8e-7d0a-4c1e-9a55-0a3f8b1d2e4f@notify.localhost>\r\n"
            ),
            "{head}"
        );
        assert!(head.contains("\r\nDate: "), "{head}");
        assert!(head.contains("MIME-Version: 1.0\r\n"), "{head}");
        assert!(
            head.contains("Content-Type: multipart/alternative;"),
            "{head}"
        );
        assert!(!head.contains("Reply-To"), "{head}");
        assert!(!head.contains("List-Unsubscribe"), "{head}");
        assert!(
            text.contains("Content-Type: text/plain; charset=utf-8\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Content-Type: text/html; charset=utf-8\r\n"),
            "{text}"
        );
        assert!(text.contains("Dear Bob"), "{text}");
        assert!(text.contains("<p>Dear Bob</p>"), "{text}");
        let plain = text.find("text/plain").unwrap();
        let html = text.find("text/html").unwrap();
        assert!(
            plain < html,
            "plain text comes first, the preferred part last"
        );
    }

    #[test]
    fn message_id_is_returned_without_brackets() {
        let (_, id) = build_message(&email()).unwrap();
        assert_eq!(id, "6f1c2c8e-7d0a-4c1e-9a55-0a3f8b1d2e4f@notify.localhost");
    }

    #[test]
    fn unsubscribe_headers_when_there_is_a_url() {
        let mut e = email();
        e.unsubscribe_url = Some("https://example.gov.uk/unsubscribe?user=1&list=2".into());
        let (message, _) = build_message(&e).unwrap();
        assert_eq!(
            message.headers().get_raw("List-Unsubscribe"),
            Some("<https://example.gov.uk/unsubscribe?user=1&list=2>")
        );
        assert_eq!(
            message.headers().get_raw("List-Unsubscribe-Post"),
            Some("List-Unsubscribe=One-Click")
        );
        let head = headers(&String::from_utf8(message.formatted()).unwrap());
        assert!(
            head.contains(
                "List-Unsubscribe: <https://example.gov.uk/unsubscribe?user=1&list=2>\r\n"
            ),
            "{head}"
        );
        assert!(
            head.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"),
            "{head}"
        );
    }

    #[test]
    fn unsubscribe_url_with_control_characters_is_refused() {
        let mut e = email();
        e.unsubscribe_url = Some("https://example.gov.uk/x\r\nBcc: a@b.c".into());
        assert!(matches!(build_message(&e), Err(SendError::Permanent(_))));
    }

    #[test]
    fn reply_to_and_non_ascii_names_and_bodies() {
        let mut e = email();
        e.from_name = "Cyngor Sir Ynys Môn, \"Tâl\"".into();
        e.reply_to = Some("help@example.gov.uk".into());
        e.subject = "Eich cais — ✓".into();
        e.text_body = "Diolch, Siân".into();
        e.html_body = "<p>Diolch, Siân</p>".into();
        let (message, _) = build_message(&e).unwrap();
        let text = String::from_utf8(message.formatted()).unwrap();
        let head = headers(&text);
        assert!(head.contains("Reply-To: help@example.gov.uk\r\n"), "{head}");
        assert!(
            head.contains("Subject: Eich cais =?utf-8?"),
            "non-ASCII subject is encoded: {head}"
        );
        let from = head.lines().find(|l| l.starts_with("From: ")).unwrap();
        assert!(from.contains("=?utf-8?"), "{from}");
        assert!(from.ends_with("<client.tests@notify.localhost>"), "{from}");
        assert!(text.is_ascii(), "the wire format is 7-bit clean");
    }

    #[test]
    fn invalid_addresses_are_permanent_and_do_not_echo_the_recipient() {
        let mut e = email();
        e.to = "not an address".into();
        match build_message(&e) {
            Err(SendError::Permanent(m)) => assert!(!m.contains("not an address"), "{m}"),
            other => panic!("{other:?}"),
        }
        let mut e = email();
        e.from_address = "no-at-sign".into();
        assert!(matches!(build_message(&e), Err(SendError::Permanent(_))));
        let mut e = email();
        e.reply_to = Some("@@".into());
        assert!(matches!(build_message(&e), Err(SendError::Permanent(_))));
    }

    #[test]
    fn reference_from_ses_style_replies() {
        let ses = "0100018d2c3b4a5e-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d-000000";
        assert_eq!(
            reference_from_reply(Some(&format!("Ok {ses}"))),
            Some(ses.to_owned())
        );
        assert_eq!(
            reference_from_reply(Some(&format!("2.0.0 Ok {ses}"))),
            Some(ses.to_owned())
        );
        assert_eq!(reference_from_reply(Some("OK")), None);
        assert_eq!(reference_from_reply(Some("Ok")), None);
        assert_eq!(
            reference_from_reply(Some("2.0.0 Ok: queued as 4F3A2B1C0D")),
            None
        );
        assert_eq!(reference_from_reply(Some("Ok queued")), None);
        assert_eq!(reference_from_reply(Some("Ok 123 more words")), None);
        assert_eq!(reference_from_reply(Some("")), None);
        assert_eq!(reference_from_reply(None), None);
    }

    #[test]
    fn recipient_is_masked_in_relay_errors() {
        assert_eq!(
            mask_recipient(
                "permanent error (550): 5.1.1 <someone@example.com>: Recipient address rejected",
                "Someone@Example.com"
            ),
            "permanent error (550): 5.1.1 <[recipient]>: Recipient address rejected"
        );
        assert_eq!(mask_recipient("network error", "a@b.c"), "network error");
    }

    #[test]
    fn configuration_rejections_are_not_permanent() {
        assert!(is_configuration_code("535"));
        assert!(is_configuration_code("530"));
        assert!(!is_configuration_code("550"));
        assert!(!is_configuration_code("554"));
    }

    fn config() -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: 2525,
            ..SmtpConfig::default()
        }
    }

    #[tokio::test]
    async fn new_reports_an_unreadable_ca_file() {
        let mut c = config();
        c.ca_file = "/nonexistent/ca.pem".into();
        let err = SmtpProvider::new(&c).err().expect("fails");
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
        let dir = std::env::temp_dir().join(format!("notify-smtp-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        c.ca_file = junk;
        let err = SmtpProvider::new(&c).err().expect("fails");
        assert!(err.contains("no PEM certificate"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn new_builds_every_tls_mode_and_keeps_the_password_out_of_errors() {
        for tls in [SmtpTls::None, SmtpTls::Starttls, SmtpTls::Implicit] {
            let mut c = config();
            c.tls = tls;
            c.username = "user".into();
            c.password = Secret::new("hunter2");
            assert!(SmtpProvider::new(&c).is_ok(), "{tls:?}");
        }
        let mut c = config();
        c.host = String::new();
        c.password = Secret::new("hunter2");
        let err = SmtpProvider::new(&c).err().unwrap();
        assert!(!err.contains("hunter2"), "{err}");
    }

    /// A scripted relay on 127.0.0.1 (no TLS) answering RCPT with `rcpt_reply` and the end of
    /// DATA with `data_reply`; returns its port.
    async fn scripted_relay(rcpt_reply: &'static str, data_reply: &'static str) -> u16 {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 relay ESMTP\r\n").await.unwrap();
                    let mut in_data = false;
                    while let Ok(Some(line)) = lines.next_line().await {
                        let reply: &str = if in_data {
                            if line != "." {
                                continue;
                            }
                            in_data = false;
                            data_reply
                        } else {
                            let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                            match verb.as_str() {
                                "EHLO" => "250-relay\r\n250 8BITMIME",
                                "MAIL" => "250 2.1.0 Ok",
                                "RCPT" => rcpt_reply,
                                "DATA" => {
                                    in_data = true;
                                    "354 End data with <CR><LF>.<CR><LF>"
                                }
                                "QUIT" => {
                                    let _ = write.write_all(b"221 Bye\r\n").await;
                                    return;
                                }
                                _ => "250 Ok",
                            }
                        };
                        let reply = format!("{reply}\r\n");
                        if write.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        port
    }

    async fn send_to_relay(port: u16) -> Result<EmailAccepted, SendError> {
        let mut c = config();
        c.port = port;
        c.tls = SmtpTls::None;
        c.timeout_seconds = 5;
        SmtpProvider::new(&c).unwrap().send(&email()).await
    }

    #[tokio::test]
    async fn relay_replies_map_to_reference_and_error_kinds() {
        let ses = "0100018d2c3b4a5e-1a2b3c4d-000000";
        let port = scripted_relay("250 Ok", "250 Ok 0100018d2c3b4a5e-1a2b3c4d-000000").await;
        assert_eq!(
            send_to_relay(port).await,
            Ok(EmailAccepted {
                reference: Some(ses.into())
            })
        );

        let port = scripted_relay("250 Ok", "250 2.0.0 Ok: queued as 4F3A2B1C0D").await;
        assert_eq!(
            send_to_relay(port).await,
            Ok(EmailAccepted {
                reference: Some("6f1c2c8e-7d0a-4c1e-9a55-0a3f8b1d2e4f@notify.localhost".into())
            })
        );

        let port = scripted_relay(
            "550 5.1.1 <someone@example.com>: Recipient address rejected",
            "250 Ok",
        )
        .await;
        match send_to_relay(port).await {
            Err(SendError::Permanent(m)) => {
                assert!(m.contains("550"), "{m}");
                assert!(
                    !m.to_ascii_lowercase().contains("someone@example.com"),
                    "{m}"
                );
            }
            other => panic!("{other:?}"),
        }

        let port = scripted_relay("250 Ok", "451 4.3.0 Try again later").await;
        assert!(matches!(
            send_to_relay(port).await,
            Err(SendError::Retryable(_))
        ));

        let port = scripted_relay("454 4.7.0 Throttling failure", "250 Ok").await;
        assert!(matches!(
            send_to_relay(port).await,
            Err(SendError::Retryable(_))
        ));
    }

    #[tokio::test]
    async fn connection_refused_is_retryable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let mut c = config();
        c.port = port;
        c.tls = SmtpTls::None;
        c.timeout_seconds = 2;
        let provider = SmtpProvider::new(&c).unwrap();
        match provider.send(&email()).await {
            Err(SendError::Retryable(m)) => assert!(!m.contains("Example.com"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
