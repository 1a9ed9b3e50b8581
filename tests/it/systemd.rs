//! End to end: the real binary under systemd's readiness protocol. The test owns the unix
//! datagram socket it passes as `$NOTIFY_SOCKET`, reads what `notify serve` sends (READY=1 only
//! once `/_status` answers, STATUS= lines, WATCHDOG=1 pings when `$WATCHDOG_USEC` is set,
//! STOPPING=1 on SIGTERM), and checks `packaging/notify.service` with `systemd-analyze verify`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Upper bound of every wait below (they return as soon as what they wait for arrives).
const PATIENCE: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET /_status`: (status code, body).
fn get_status(port: u16) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("the listener is up");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /_status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let code = raw.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map_or("", |x| x.1).to_string();
    (code, body)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The socket systemd would own, and every line received on it.
struct Manager {
    socket: UnixDatagram,
    lines: Vec<String>,
    /// Lines before this one were looked at by an earlier wait.
    cursor: usize,
}

impl Manager {
    fn bind(path: &Path) -> Manager {
        let socket = UnixDatagram::bind(path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Manager {
            socket,
            lines: Vec::new(),
            cursor: 0,
        }
    }

    /// Receives until a line equal to `wanted` comes after the last one waited for; returns
    /// the lines between them.
    fn wait_for(&mut self, wanted: &str) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let start = self.cursor;
            if let Some(at) = self.lines[start..].iter().position(|l| l == wanted) {
                self.cursor = start + at + 1;
                return self.lines[start..start + at].to_vec();
            }
            assert!(
                Instant::now() < deadline,
                "no {wanted} from notify; got {:?}",
                self.lines
            );
            self.receive();
        }
    }

    /// One datagram (several `KEY=VALUE` lines), if one comes within the read timeout.
    fn receive(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        match self.socket.recv(&mut buf) {
            Ok(n) => {
                let text = String::from_utf8_lossy(&buf[..n]);
                self.lines
                    .extend(text.lines().filter(|l| !l.is_empty()).map(str::to_owned));
                true
            }
            Err(_) => false,
        }
    }
}

fn start(data: &Path, socket: &Path, log: &Path, port: u16, watchdog_usec: Option<u64>) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_notify"));
    cmd.arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("NOTIFY_SOCKET", socket)
        .env("NOTIFY_LOG__LEVEL", "warn")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    if let Some(usec) = watchdog_usec {
        cmd.env("WATCHDOG_USEC", usec.to_string());
    }
    Server(cmd.spawn().expect("the notify binary starts"))
}

fn sigterm(server: &Server) {
    let status = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_exit(server: &mut Server) -> std::process::ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "notify did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ready_after_status_answers_watchdog_pings_and_stopping_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("notify.sock");
    let mut manager = Manager::bind(&socket);
    let port = free_port();
    // 400 ms: pings every 200 ms.
    let log = dir.path().join("stderr.log");
    let mut server = start(&dir.path().join("data"), &socket, &log, port, Some(400_000));

    let before_ready = manager.wait_for("READY=1");
    assert!(
        before_ready
            .iter()
            .any(|l| l == "STATUS=opening the data directory"),
        "{before_ready:?}"
    );
    assert!(!before_ready.iter().any(|l| l == "STOPPING=1"));
    // Ready means answering: /_status says ok at once, with no retry.
    let (code, body) = get_status(port);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    manager.wait_for(&format!("STATUS=serving on 127.0.0.1:{port}"));

    // The watchdog is pinged, again and again.
    manager.wait_for("WATCHDOG=1");
    manager.wait_for("WATCHDOG=1");

    sigterm(&server);
    manager.wait_for("STOPPING=1");
    let status = wait_exit(&mut server);
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "notify exited with {status}: {stderr}");
    // Every task let go of the app, so the store was closed, not left for the next start.
    assert!(!stderr.contains("still hold the app"), "{stderr}");
    assert_eq!(
        manager.lines.iter().filter(|l| *l == "READY=1").count(),
        1,
        "{:?}",
        manager.lines
    );
}

#[test]
fn no_watchdog_pings_unless_systemd_asks() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("notify.sock");
    let mut manager = Manager::bind(&socket);
    let port = free_port();
    let log = dir.path().join("stderr.log");
    let mut server = start(&dir.path().join("data"), &socket, &log, port, None);

    manager.wait_for("READY=1");
    assert_eq!(get_status(port).0, 200);
    sigterm(&server);
    manager.wait_for("STOPPING=1");
    assert!(wait_exit(&mut server).success());
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(!stderr.contains("still hold the app"), "{stderr}");
    // Everything it sent is queued on the socket now that it has exited.
    while manager.receive() {}
    assert!(
        !manager.lines.iter().any(|l| l == "WATCHDOG=1"),
        "{:?}",
        manager.lines
    );
}

/// `systemd-analyze verify` on the unit, with `ExecStart=` pointed at the binary under test
/// (verify checks that the program exists). Debian's `systemd` package has it; `.ci/deps`
/// installs it.
#[test]
fn unit_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/notify.service"),
    )
    .unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/notify "));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.service");
    std::fs::write(
        &path,
        unit.replace("/usr/bin/notify", env!("CARGO_BIN_EXE_notify")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .expect("systemd-analyze runs (Debian package `systemd`; .ci/deps installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    assert!(
        stderr.trim().is_empty(),
        "systemd-analyze verify warns: {stderr}"
    );
}
