//! The real `notify` binary, run as an operator runs it: the CLI on a data directory, and
//! `notify serve` as a child process that a test can `kill -9` (dropping the handle does).

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `notify --data-dir <dir> <args>`, its output captured.
pub fn run(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_notify"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("NOTIFY_LOG__LEVEL", "warn")
        .output()
        .expect("the notify binary runs")
}

/// Like [`run`], but the command must succeed; its trimmed stdout.
pub fn run_ok(data_dir: &Path, args: &[&str]) -> String {
    let out = run(data_dir, args);
    assert!(
        out.status.success(),
        "notify {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `notify serve` as a child process; dropped, it is killed with SIGKILL (no shutdown at all).
pub struct Served(Child);

impl Served {
    /// Starts the server on `port` and waits until `/_status` answers.
    pub async fn start(data_dir: &Path, port: u16) -> Served {
        Served::start_with(data_dir, port, &[]).await
    }

    /// Like [`Served::start`], with settings given as `NOTIFY_…` environment variables.
    pub async fn start_with(data_dir: &Path, port: u16, env: &[(&str, &str)]) -> Served {
        // The test's own HTTP client needs rustls' provider.
        notify::app::install_tls_provider();
        let child = Command::new(env!("CARGO_BIN_EXE_notify"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("NOTIFY_LOG__LEVEL", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the notify binary starts");
        let served = Served(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = format!("http://127.0.0.1:{port}/_status");
        while !reqwest::get(&url)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "the server did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        served
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
