//! `notify load`: a load generator for the accept path. It behaves like the official clients —
//! a fresh HS256 token per request, JSON bodies — holds N keep-alive HTTP/1.1 connections, and
//! prints requests/s and latency percentiles. Meant for loopback benchmarks, not for other hosts.
//!
//! It speaks HTTP/1.1 straight over TCP (one request in flight per connection, responses read by
//! their Content-Length) rather than through a general client: on a 2-core machine the generator
//! shares the CPU with the server, and every microsecond it spends is one the server loses.
//! With `--server-pid` it also reports the server's CPU time per accepted notification (from
//! `/proc/PID/stat`), which is the figure that does not depend on the generator.
//!
//! `https://` URLs go over TLS (rustls, the same HTTP/1.1 bytes inside), trusting the CA
//! certificates in `--tls-ca` (a test CA, or the server's self-signed certificate).

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// Base URL of the server (`http://` or `https://`).
    #[arg(long, default_value = "http://127.0.0.1:6011")]
    pub url: String,
    /// PEM file of the CA certificate(s) to trust for an `https://` URL.
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<std::path::PathBuf>,
    /// API key (`{name}-{service_id}-{secret}`).
    #[arg(long, env = "NOTIFY_LOAD_API_KEY")]
    pub key: String,
    /// Template to send with.
    #[arg(long)]
    pub template: uuid::Uuid,
    /// `email` or `sms`.
    #[arg(long = "type", default_value = "email")]
    pub notification_type: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Seconds to run (after a one-second warm-up).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Target rate in requests/s over all connections (0: as fast as the server answers).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// The server's process id, to report its CPU time per accepted notification.
    #[arg(long)]
    pub server_pid: Option<u32>,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub accepted: usize,
    pub errors: u64,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    /// Server CPU (user + system) per accepted notification, when its pid was given.
    pub server_cpu_us: Option<f64>,
    /// This generator's own CPU per request.
    pub own_cpu_us: Option<f64>,
}

impl LoadReport {
    pub fn rate(&self) -> f64 {
        self.accepted as f64 / self.seconds
    }
}

/// Signs tokens the way the clients do (`{"typ":"JWT","alg":"HS256"}`, `iss`, `iat`), a fresh
/// one per request. The header never changes, so its base64 is made once.
struct Signer {
    header_b64: String,
    service: String,
    key: jsonwebtoken::EncodingKey,
}

impl Signer {
    fn token(&self) -> String {
        let claims = format!(
            r#"{{"iss":"{}","iat":{}}}"#,
            self.service,
            chrono::Utc::now().timestamp()
        );
        let claims_b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims);
        let message = format!("{}.{}", self.header_b64, claims_b64);
        let signature = jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &self.key,
            jsonwebtoken::Algorithm::HS256,
        )
        .expect("HS256 signing cannot fail");
        format!("{message}.{signature}")
    }
}

pub async fn run(args: LoadArgs) -> Result<(), String> {
    let report = measure(&args).await?;
    use std::io::Write as _;
    let cpu = |v: Option<f64>| {
        v.map(|us| format!("{us:.0}µs"))
            .unwrap_or_else(|| "-".into())
    };
    let _ = writeln!(
        std::io::stdout().lock(),
        "type={} connections={} accepted={} errors={} seconds={:.1} rate={:.0}/s p50={:.2}ms p90={:.2}ms p99={:.2}ms server_cpu_per_accept={} load_cpu_per_request={}",
        args.notification_type,
        args.connections,
        report.accepted,
        report.errors,
        report.seconds,
        report.rate(),
        report.p50_ms,
        report.p90_ms,
        report.p99_ms,
        cpu(report.server_cpu_us),
        cpu(report.own_cpu_us),
    );
    Ok(())
}

/// Run the load described by `args` and measure it.
pub async fn measure(args: &LoadArgs) -> Result<LoadReport, String> {
    if args.key.len() < 74 {
        return Err("the API key is too short to hold a service id and a secret".into());
    }
    let secret = &args.key[args.key.len() - 36..];
    let service = args.key[args.key.len() - 73..args.key.len() - 37].to_string();
    let (path, body) = match args.notification_type.as_str() {
        "email" => (
            "v2/notifications/email",
            json!({"email_address": "load@example.com", "template_id": args.template, "personalisation": {"name": "Load"}}),
        ),
        "sms" => (
            "v2/notifications/sms",
            json!({"phone_number": "07700900123", "template_id": args.template, "personalisation": {"name": "Load"}}),
        ),
        other => return Err(format!("--type {other}: use email or sms")),
    };
    let (addr, host, base_path, tls) = parse_url(&args.url)?;
    let tls = match tls {
        true => Some(tls_connector(args.tls_ca.as_deref())?),
        false => None,
    };
    let body = body.to_string();
    let head = Arc::new(format!(
        "POST {base_path}{path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nauthorization: Bearer ",
        body.len()
    ));
    let body = Arc::new(body);
    let signer = Arc::new(Signer {
        header_b64: base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(r#"{"typ":"JWT","alg":"HS256"}"#),
        service,
        key: jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    });
    // With a target rate, each connection sends on its own steady schedule.
    let interval = (args.rate > 0)
        .then(|| Duration::from_secs_f64(args.connections as f64 / args.rate as f64));
    let recording = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..args.connections {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut stream: Box<dyn Stream> = match &tls {
            None => Box::new(tcp),
            Some(connector) => {
                let name = server_name(&host)?;
                Box::new(
                    connector
                        .connect(name, tcp)
                        .await
                        .map_err(|e| format!("TLS handshake with {addr}: {e}"))?,
                )
            }
        };
        let (head, body, signer) = (head.clone(), body.clone(), signer.clone());
        let (recording, stop, errors) = (recording.clone(), stop.clone(), errors.clone());
        let first_due =
            interval.map(|iv| Instant::now() + iv.mul_f64(i as f64 / args.connections as f64));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut request = Vec::with_capacity(1024);
            let mut response = Vec::with_capacity(4096);
            let mut due = first_due;
            while !stop.load(Ordering::Relaxed) {
                if let (Some(at), Some(iv)) = (due, interval) {
                    tokio::time::sleep_until(at.into()).await;
                    due = Some(at + iv);
                }
                request.clear();
                request.extend_from_slice(head.as_bytes());
                request.extend_from_slice(signer.token().as_bytes());
                request.extend_from_slice(b"\r\n\r\n");
                request.extend_from_slice(body.as_bytes());
                let started = Instant::now();
                let status = match exchange(&mut stream, &request, &mut response).await {
                    Ok(status) => status,
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                };
                if recording.load(Ordering::Relaxed) {
                    if status == 201 {
                        latencies.push(started.elapsed().as_micros() as u64);
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let server_before = args.server_pid.and_then(cpu_ticks);
    let own_before = cpu_ticks(std::process::id());
    recording.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    recording.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let server_after = args.server_pid.and_then(cpu_ticks);
    let own_after = cpu_ticks(std::process::id());
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())?);
    }
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        all[((all.len() as f64 * p) as usize).min(all.len() - 1)] as f64 / 1000.0
    };
    let per = |before: Option<u64>, after: Option<u64>| match (before, after) {
        (Some(b), Some(a)) if !all.is_empty() => {
            Some((a - b) as f64 * 1e6 / USER_HZ / all.len() as f64)
        }
        _ => None,
    };
    Ok(LoadReport {
        accepted: all.len(),
        errors: errors.load(Ordering::Relaxed),
        seconds: elapsed,
        p50_ms: pct(0.50),
        p90_ms: pct(0.90),
        p99_ms: pct(0.99),
        server_cpu_us: per(server_before, server_after),
        own_cpu_us: per(own_before, own_after),
    })
}

/// `/proc` reports CPU time in USER_HZ ticks, which Linux fixes at 100 for user space.
const USER_HZ: f64 = 100.0;

/// User + system CPU ticks of a process, all its threads (dead ones included).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it are plain.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A connection to the server, plain or TLS.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for T {}

/// A TLS client trusting the CA certificates in `ca` (HTTP/1.1 by ALPN).
fn tls_connector(ca: Option<&std::path::Path>) -> Result<tokio_rustls::TlsConnector, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let ca = ca.ok_or("an https:// URL needs --tls-ca FILE (the CA certificate to trust)")?;
    let pem = std::fs::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("{}: {e}", ca.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("{}: {e}", ca.display()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// The name the certificate is checked against: the URL's host without its port.
fn server_name(host: &str) -> Result<rustls_pki_types::ServerName<'static>, String> {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    rustls_pki_types::ServerName::try_from(name.to_string())
        .map_err(|e| format!("{host}: not a server name: {e}"))
}

/// `http(s)://host:port/prefix` → the socket address, the Host header, the path prefix, and
/// whether it is TLS.
fn parse_url(url: &str) -> Result<(SocketAddr, String, String, bool), String> {
    let (rest, tls, default_port) = match url.strip_prefix("https://") {
        Some(rest) => (rest, true, 443),
        None => (
            url.strip_prefix("http://")
                .ok_or_else(|| format!("{url}: use an http:// or https:// URL"))?,
            false,
            80,
        ),
    };
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let with_port = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:{default_port}")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| format!("{url}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url}: no address"))?;
    let prefix = if path.ends_with('/') {
        path.to_string()
    } else {
        format!("{path}/")
    };
    Ok((addr, host.to_string(), prefix, tls))
}

/// Send one request and read its whole response; the response's status code.
async fn exchange(
    stream: &mut (impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + ?Sized),
    request: &[u8],
    buf: &mut Vec<u8>,
) -> std::io::Result<u16> {
    stream.write_all(request).await?;
    stream.flush().await?;
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Response::new(&mut headers);
        let Ok(httparse::Status::Complete(head_len)) = parsed.parse(buf) else {
            continue;
        };
        let length = parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| {
                std::str::from_utf8(h.value)
                    .ok()?
                    .trim()
                    .parse::<usize>()
                    .ok()
            })
            .ok_or_else(|| std::io::Error::other("response without content-length"))?;
        if buf.len() >= head_len + length {
            return Ok(parsed.code.unwrap_or(0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_address_host_and_prefix() {
        let (addr, host, prefix, tls) = parse_url("http://127.0.0.1:6011").unwrap();
        assert_eq!(addr.port(), 6011);
        assert_eq!(host, "127.0.0.1:6011");
        assert_eq!(prefix, "/");
        assert!(!tls);
        let (_, _, prefix, _) = parse_url("http://127.0.0.1:8/notify").unwrap();
        assert_eq!(prefix, "/notify/");
        let (addr, _, _, tls) = parse_url("https://127.0.0.1").unwrap();
        assert_eq!(addr.port(), 443);
        assert!(tls);
        assert!(parse_url("ftp://example.com").is_err());
        assert!(server_name("127.0.0.1:6011").is_ok());
        assert!(server_name("localhost").is_ok());
    }

    #[test]
    fn tokens_verify_with_the_key_secret() {
        let signer = Signer {
            header_b64: base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(r#"{"typ":"JWT","alg":"HS256"}"#),
            service: "d5e4b158-d52c-43fe-8557-456b748751a5".into(),
            key: jsonwebtoken::EncodingKey::from_secret(b"secret"),
        };
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let decoded = jsonwebtoken::decode::<serde_json::Value>(
            &signer.token(),
            &jsonwebtoken::DecodingKey::from_secret(b"secret"),
            &validation,
        )
        .unwrap();
        assert_eq!(
            decoded.claims["iss"],
            "d5e4b158-d52c-43fe-8557-456b748751a5"
        );
        assert!(decoded.claims["iat"].as_i64().unwrap() > 1_700_000_000);
    }

    #[test]
    fn cpu_ticks_reads_this_process() {
        assert!(cpu_ticks(std::process::id()).is_some());
        assert!(cpu_ticks(u32::MAX).is_none());
    }
}
