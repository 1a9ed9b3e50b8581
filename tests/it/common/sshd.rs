//! A real OpenSSH server (Debian's openssh-server) as an ordinary child process on 127.0.0.1,
//! for the SFTP client's end-to-end tests. It runs as the current user with its own host key and
//! a client key pair in a temp dir, keys only. As root (CI) it logs in as root, which
//! `PermitRootLogin prohibit-password` allows for keys, and needs `/run/sshd`, which it creates.
//! A missing sshd fails the test with the package to install, never skips it.
#![allow(dead_code)]

use std::io::Read;
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::servers::free_port;

const SSHD: &str = "/usr/sbin/sshd";
const SSH_KEYGEN: &str = "/usr/bin/ssh-keygen";
const PRIVSEP_DIR: &str = "/run/sshd";

pub struct Sshd {
    pub port: u16,
    pub user: String,
    /// The client's private key, whose public half is the only authorized key.
    pub client_key: PathBuf,
    /// The server's public host key as one OpenSSH line, for pinning.
    pub host_key_line: String,
    /// The remote tree: the settings' upload and response dirs are absolute paths under it.
    pub root: PathBuf,
    root_user: bool,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Sshd {
    pub fn start() -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} not found — install Debian's openssh-server (.ci/run does)"
        );
        assert!(
            Path::new(SSH_KEYGEN).exists(),
            "{SSH_KEYGEN} not found — install Debian's openssh-client (.ci/run does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let root_user = std::fs::metadata(d).unwrap().uid() == 0;
        if root_user {
            // A root sshd insists on its compiled-in privilege separation directory, which the
            // Debian service unit normally creates (the path cannot be configured).
            std::fs::create_dir_all(PRIVSEP_DIR).unwrap();
            std::fs::set_permissions(PRIVSEP_DIR, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        let host_key_line = std::fs::read_to_string(d.join("host_key.pub"))
            .unwrap()
            .trim()
            .to_string();
        let root = d.join("tree");
        std::fs::create_dir_all(&root).unwrap();
        let mut sshd = Sshd {
            port: free_port(),
            user: current_user(),
            client_key: d.join("client_key"),
            host_key_line,
            root,
            root_user,
            dir,
            child: None,
        };
        sshd.write_config();
        sshd.run();
        sshd
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("sshd_config")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("sshd.log")
    }

    fn write_config(&self) {
        let d = self.dir.path();
        let base = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {pid}\n\
             AuthorizedKeysFile {authorized}\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM {pam}\nStrictModes no\n\
             PermitRootLogin prohibit-password\nAllowUsers {user}\nLogLevel VERBOSE\n\
             Subsystem sftp internal-sftp\n",
            port = self.port,
            host_key = d.join("host_key").display(),
            pid = d.join("sshd.pid").display(),
            authorized = d.join("authorized_keys").display(),
            user = self.user,
            // Without PAM, sshd refuses a user whose password is locked (as `useradd` leaves
            // it, common for container users); with PAM, a non-root sshd lets keys in regardless
            // and its session modules only fail soft (verified as `nobody`). Root keeps the plain
            // setup: PAM sessions as root in a container are a known failure (pam_loginuid).
            pam = if self.root_user { "no" } else { "yes" },
        );
        // OpenSSH >= 9.8 penalises clients that disconnect before authenticating (the readiness
        // probe, the wrong-host-key test) by refusing their address for a while; older versions
        // reject the option, so it is only added where `sshd -t` accepts it.
        let with_penalties_off = format!("{base}PerSourcePenalties no\n");
        std::fs::write(self.config_path(), &with_penalties_off).unwrap();
        let accepted = Command::new(SSHD)
            .arg("-t")
            .arg("-f")
            .arg(self.config_path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !accepted {
            std::fs::write(self.config_path(), &base).unwrap();
        }
    }

    fn run(&mut self) {
        let log = self.log_path();
        let _ = std::fs::remove_file(&log);
        // sshd re-executes itself, so it insists on an absolute path.
        let child = Command::new(SSHD)
            .arg("-D")
            .arg("-f")
            .arg(self.config_path())
            .arg("-E")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {SSHD}: {e}"));
        self.child = Some(child);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if banner(self.port) {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "sshd exited with {status} before listening; its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "sshd did not answer with an SSH banner on 127.0.0.1:{} within 30 s; its log:\n{}",
            self.port,
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Kill it; the port, keys and tree stay for [`Sshd::restart`].
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stop and start again on the same port with the same keys.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// The sshd log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Client settings for this server: key login, pinned host key, and `<root>/upload` and
    /// `<root>/responses` (both created) as the remote directories.
    pub fn settings(&self) -> notify::letters::sftp::SftpSettings {
        let upload = self.root.join("upload");
        let responses = self.root.join("responses");
        std::fs::create_dir_all(&upload).unwrap();
        std::fs::create_dir_all(&responses).unwrap();
        notify::letters::sftp::SftpSettings {
            host: "127.0.0.1".into(),
            port: self.port,
            username: self.user.clone(),
            private_key_file: Some(self.client_key.clone()),
            password: None,
            host_key: self.host_key_line.clone(),
            upload_dir: upload.display().to_string(),
            response_dir: responses.display().to_string(),
            timeout: Duration::from_secs(5),
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn keygen(path: &Path) {
    let out = Command::new(SSH_KEYGEN)
        .args(["-t", "ed25519", "-N", "", "-q", "-f"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {SSH_KEYGEN}: {e}"));
    assert!(
        out.status.success(),
        "ssh-keygen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The login name sshd will accept: its own user's.
fn current_user() -> String {
    let run = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|n| !n.is_empty())
    };
    run("id", &["-un"])
        .or_else(|| std::env::var("USER").ok().filter(|n| !n.is_empty()))
        .or_else(|| run("whoami", &[]))
        .expect("cannot tell the current user name (id -un, $USER, whoami)")
}

/// True once something on the port speaks SSH.
fn banner(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && &buf == b"SSH-2.0"
}
