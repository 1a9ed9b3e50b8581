//! Certificates for HTTPS tests: a CA made for the test (rcgen, ring) and server certificates
//! for 127.0.0.1 and localhost it signs, written to files a server can be pointed at.
#![allow(dead_code)]

use std::path::PathBuf;

/// A certificate authority made for the test, and server certificates it signs.
pub struct TestCa {
    pub pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "notify test CA");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// (certificate PEM, key PEM) for 127.0.0.1 and localhost, named `cn`.
    pub fn server_cert(&self, cn: &str) -> (String, String) {
        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// Certificate files on disk for a server, and the CA that signed them.
pub struct TlsFiles {
    pub ca: TestCa,
    dir: tempfile::TempDir,
}

impl TlsFiles {
    pub fn new() -> TlsFiles {
        let files = TlsFiles {
            ca: TestCa::new(),
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::write(files.ca_file(), &files.ca.pem).unwrap();
        files.install("first");
        files
    }

    pub fn cert_file(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    pub fn key_file(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Write a new certificate and key named `cn` (each file replaced whole, by rename).
    pub fn install(&self, cn: &str) -> String {
        let (cert, key) = self.ca.server_cert(cn);
        for (path, text) in [(self.key_file(), &key), (self.cert_file(), &cert)] {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, text).unwrap();
            std::fs::rename(&tmp, &path).unwrap();
        }
        cert
    }

    pub fn configure(&self, config: &mut notify::config::Config) {
        config.server.tls.cert_file = self.cert_file();
        config.server.tls.key_file = self.key_file();
        config.server.tls.reload_check_secs = 1;
    }
}
