//! Real servers for end-to-end tests, started on 127.0.0.1 from a temp dir and stopped on drop:
//! clamd (Debian's clamav-daemon, with the test signatures in `fixtures/clamav/`) and moto's S3
//! server (PyPI `moto[server]`, installed into `tests/clients/.venv` by
//! `tests/clients/setup.sh`). `.ci/run` installs both; a missing one fails the test with how to
//! get it, never skips it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn wait_until(what: &str, log: &Path, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let tail = std::fs::read_to_string(log).unwrap_or_default();
    panic!("{what} did not start within 60 s; its log:\n{tail}");
}

/// A clamd on a loopback port with the project's test signature database.
pub struct Clamd {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Clamd {
    pub fn binary() -> PathBuf {
        std::env::var_os("NOTIFY_TEST_CLAMD")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/sbin/clamd"))
    }

    pub fn start() -> Clamd {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let mut clamd = Clamd {
            port,
            dir,
            child: None,
        };
        clamd.run();
        clamd
    }

    fn run(&mut self) {
        let bin = Self::binary();
        assert!(
            bin.exists(),
            "clamd not found at {} — install Debian's clamav-daemon (.ci/run does) or set \
             NOTIFY_TEST_CLAMD",
            bin.display()
        );
        let d = self.dir.path();
        let db = d.join("db");
        std::fs::create_dir_all(&db).unwrap();
        for f in std::fs::read_dir(repo_root().join("fixtures/clamav")).unwrap() {
            let f = f.unwrap().path();
            if matches!(f.extension().and_then(|e| e.to_str()), Some("ndb" | "hdb")) {
                std::fs::copy(&f, db.join(f.file_name().unwrap())).unwrap();
            }
        }
        let log = d.join("clamd.log");
        let conf = d.join("clamd.conf");
        std::fs::write(
            &conf,
            format!(
                "DatabaseDirectory {db}\nTCPSocket {port}\nTCPAddr 127.0.0.1\nForeground yes\n\
                 LogFile {log}\nPidFile {pid}\nTemporaryDirectory {tmp}\nStreamMaxLength 25M\n",
                db = db.display(),
                port = self.port,
                log = log.display(),
                pid = d.join("clamd.pid").display(),
                tmp = d.display(),
            ),
        )
        .unwrap();
        let child = Command::new(&bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        self.child = Some(child);
        let port = self.port;
        wait_until("clamd", &log, || ping(port));
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stop it (the port stays reserved for [`Clamd::restart`]).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }
}

impl Drop for Clamd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"zPING\0").is_err() {
        return false;
    }
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    reply.starts_with(b"PONG")
}

/// moto's S3 server with one bucket.
pub struct S3Server {
    pub port: u16,
    pub bucket: String,
    dir: tempfile::TempDir,
    child: Child,
}

impl S3Server {
    pub fn binary() -> PathBuf {
        std::env::var_os("NOTIFY_TEST_MOTO_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("tests/clients/.venv/bin/moto_server"))
    }

    pub fn start(bucket: &str) -> S3Server {
        let bin = Self::binary();
        assert!(
            bin.exists(),
            "moto_server not found at {} — run `bash tests/clients/setup.sh` (installs moto[server] \
             into tests/clients/.venv) or set NOTIFY_TEST_MOTO_SERVER",
            bin.display()
        );
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("moto.log");
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.path().join("moto.err")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let server = S3Server {
            port,
            bucket: bucket.to_string(),
            dir,
            child,
        };
        wait_until("moto_server", &server.dir.path().join("moto.err"), || {
            http(port, "GET", "/").is_some()
        });
        let status = http(port, "PUT", &format!("/{bucket}")).expect("moto answers");
        assert!(status < 300, "cannot create bucket {bucket}: HTTP {status}");
        server
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Point `config` at this bucket.
    pub fn configure(&self, config: &mut notify::config::Config) {
        config.blobs.kind = notify::config::BlobsKind::S3;
        let s3 = &mut config.blobs.s3;
        s3.bucket = self.bucket.clone();
        s3.region = "eu-west-2".into();
        s3.endpoint = self.endpoint();
        s3.access_key_id = "testing".into();
        s3.secret_access_key = "testing".into();
        s3.path_style = true;
        s3.allow_http = true;
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bare HTTP/1.0 request; the status code, or None when nothing answers.
fn http(port: u16, method: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
