//! How the CLI on this machine reaches its own server (`notify healthcheck`, and the commands
//! that hand their work to a running server): the listen address, over HTTPS when the server
//! serves it.
//!
//! The certificate is usually issued for a public name, not for 127.0.0.1, so instead of the
//! usual name check the client accepts exactly the certificate in `server.tls.cert_file` (and
//! checks the handshake's signature with its key): the file the server itself serves.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::config::Config;

/// The base URL of the configured listener, as seen from this machine.
pub fn base_url(config: &Config) -> String {
    let mut addr = config.server.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    let scheme = if config.server.tls.enabled() {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{addr}")
}

/// An HTTP client for [`base_url`]: plain, or trusting exactly the configured certificate.
pub fn client(config: &Config, timeout_secs: u64) -> Result<reqwest::Client, String> {
    let mut builder =
        reqwest::Client::builder().timeout(std::time::Duration::from_secs(timeout_secs));
    if config.server.tls.enabled() {
        let path = &config.server.tls.cert_file;
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let pinned = CertificateDer::pem_slice_iter(&pem)
            .next()
            .ok_or_else(|| format!("{}: no PEM certificate in it", path.display()))?
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedCertificate { pinned, provider }))
            .with_no_client_auth();
        builder = builder.use_preconfigured_tls(tls);
    }
    builder
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))
}

/// Accepts one certificate, whatever name it was asked for by.
#[derive(Debug)]
struct PinnedCertificate {
    pinned: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.pinned.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the server's certificate is not the one in server.tls.cert_file".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
