//! SFTP client for the letter printer (DVLA): upload print zips, collect response files.
//!
//! Every public call opens its own SSH connection and SFTP session and closes it at the end. A
//! print run makes only a handful of calls, so the handshake cost is irrelevant, and there is no
//! cached connection that could have gone stale when the printer's server restarted.
//!
//! The server's host key is pinned in the settings: anything else is refused before we
//! authenticate, so credentials never reach an impostor.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::{Disconnect, client};
use russh_sftp::client::SftpSession;
use russh_sftp::client::error::Error as SftpProtoError;
use russh_sftp::protocol::{OpenFlags, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Local read size for uploads: several SFTP write packets per read, so the pipelined writes stay
/// busy while memory stays bounded whatever the zip's size.
const UPLOAD_CHUNK: usize = 256 * 1024;

/// The subfolder of the response directory processed files are moved to.
const PROCESSED_DIR: &str = "processed";

#[derive(Clone)]
pub struct SftpSettings {
    pub host: String,
    pub port: u16,
    pub username: String,
    /// OpenSSH private key (unencrypted; ed25519, ECDSA or RSA). Tried before the password.
    pub private_key_file: Option<PathBuf>,
    pub password: Option<String>,
    /// The server's host key, pinned: one OpenSSH public key line, e.g.
    /// "ssh-ed25519 AAAA... comment".
    pub host_key: String,
    /// Remote directory zips go to, e.g. "notify".
    pub upload_dir: String,
    /// Remote directory the printer writes response files to.
    pub response_dir: String,
    /// Limit for each step (connecting, one request, one chunk of an upload), not for a whole
    /// upload, whose length depends on the file's size.
    pub timeout: Duration,
}

/// By hand, so the password never reaches a log line.
impl std::fmt::Debug for SftpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SftpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("private_key_file", &self.private_key_file)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("host_key", &self.host_key)
            .field("upload_dir", &self.upload_dir)
            .field("response_dir", &self.response_dir)
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SftpError {
    #[error("SFTP settings: {0}")]
    Config(String),
    #[error("invalid SFTP file name {0:?}: it must be a plain file name")]
    InvalidName(String),
    #[error("cannot connect to SFTP server {addr}: {source}")]
    Connect { addr: String, source: russh::Error },
    #[error(
        "SFTP server {addr} presented host key {presented}, but the pinned key is {expected}; \
         refusing to connect"
    )]
    HostKeyMismatch {
        addr: String,
        expected: String,
        presented: String,
    },
    #[error("SFTP server {addr} rejected the login of {user:?} ({detail})")]
    Auth {
        addr: String,
        user: String,
        detail: String,
    },
    #[error("SFTP server {addr}: {op} timed out after {after:?}")]
    Timeout {
        addr: String,
        op: String,
        after: Duration,
    },
    #[error("SFTP server {addr}: {op} {path}: {source}")]
    Remote {
        addr: String,
        op: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error(
        "SFTP server {addr}: {path} has {remote} bytes after the upload, but the local file has \
         {local}"
    )]
    SizeMismatch {
        addr: String,
        path: String,
        local: u64,
        remote: u64,
    },
    #[error("local file {path}: {source}")]
    Local {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub struct SftpPrinter {
    settings: SftpSettings,
}

impl SftpPrinter {
    pub fn new(settings: SftpSettings) -> Self {
        SftpPrinter { settings }
    }

    fn addr(&self) -> String {
        format!("{}:{}", self.settings.host, self.settings.port)
    }

    /// Upload a local file as `<upload_dir>/<remote_name>`: streamed (never the whole file in
    /// memory — zips can be hundreds of MB), written to `<remote_name>.tmp` then renamed into
    /// place, then the remote size is checked against the local size. If the remote file already
    /// exists with the same size, nothing is sent (idempotent re-runs); a different size is
    /// overwritten. Returns the remote size.
    pub async fn upload(&self, local: &Path, remote_name: &str) -> Result<u64, SftpError> {
        check_name(remote_name)?;
        let local_err = |source| SftpError::Local {
            path: local.to_path_buf(),
            source,
        };
        let mut file = tokio::fs::File::open(local).await.map_err(local_err)?;
        let local_size = file.metadata().await.map_err(local_err)?.len();

        let conn = self.connect().await?;
        let target = join(&self.settings.upload_dir, remote_name);
        let result = async {
            if conn.size(&target).await? == Some(local_size) {
                tracing::info!(file = %target, size = local_size, "already uploaded");
                return Ok(local_size);
            }
            let tmp = format!("{target}.tmp");
            let sent = conn.send(&mut file, local, &tmp).await?;
            // Checked before the rename so that a short file never appears under the final name.
            let tmp_size = conn.size(&tmp).await?.unwrap_or(0);
            if sent != local_size || tmp_size != local_size {
                let _ = conn
                    .step("remove", &tmp, conn.sftp.remove_file(tmp.as_str()))
                    .await;
                return Err(conn.size_mismatch(tmp, local_size, tmp_size.min(sent)));
            }
            conn.replace(&tmp, &target).await?;
            let remote_size = conn.size(&target).await?.unwrap_or(0);
            if remote_size != local_size {
                return Err(conn.size_mismatch(target, local_size, remote_size));
            }
            tracing::info!(file = %target, size = remote_size, "uploaded to the printer");
            Ok(remote_size)
        }
        .await;
        conn.close().await;
        result
    }

    /// Size of `<upload_dir>/<name>`, None if absent.
    pub async fn remote_size(&self, name: &str) -> Result<Option<u64>, SftpError> {
        check_name(name)?;
        let conn = self.connect().await?;
        let result = conn.size(&join(&self.settings.upload_dir, name)).await;
        conn.close().await;
        result
    }

    /// File names in response_dir (plain files only), sorted.
    pub async fn list_responses(&self) -> Result<Vec<String>, SftpError> {
        let conn = self.connect().await?;
        let dir = &self.settings.response_dir;
        let result = conn
            .step("list", dir, conn.sftp.read_dir(dir.as_str()))
            .await
            .map(|entries| {
                let mut names: Vec<String> = entries
                    .filter(|e| e.file_type().is_file())
                    .map(|e| e.file_name())
                    .collect();
                names.sort();
                names
            });
        conn.close().await;
        result
    }

    pub async fn read_response(&self, name: &str) -> Result<Vec<u8>, SftpError> {
        check_name(name)?;
        let conn = self.connect().await?;
        let path = join(&self.settings.response_dir, name);
        let result = conn
            .step("read", &path, conn.sftp.read(path.as_str()))
            .await;
        conn.close().await;
        result
    }

    /// Move a processed response file to `<response_dir>/processed/<name>` (create the folder if
    /// needed). An earlier archived file of the same name is replaced.
    pub async fn archive_response(&self, name: &str) -> Result<(), SftpError> {
        check_name(name)?;
        let conn = self.connect().await?;
        let from = join(&self.settings.response_dir, name);
        let dir = join(&self.settings.response_dir, PROCESSED_DIR);
        let to = join(&dir, name);
        let result = async {
            if !conn
                .step("stat", &dir, conn.sftp.try_exists(dir.as_str()))
                .await?
            {
                conn.step("mkdir", &dir, conn.sftp.create_dir(dir.as_str()))
                    .await?;
            }
            conn.replace(&from, &to).await
        }
        .await;
        conn.close().await;
        result
    }

    /// TCP connect, key exchange with the pinned host key, login, SFTP subsystem: all within one
    /// timeout, so a black-holed server fails as fast as a refused one.
    async fn connect(&self) -> Result<Conn, SftpError> {
        let s = &self.settings;
        let addr = self.addr();
        let expected = PublicKey::from_openssh(s.host_key.trim()).map_err(|e| {
            SftpError::Config(format!(
                "the pinned host key for {addr} is not an OpenSSH public key line: {e}"
            ))
        })?;
        let key = match &s.private_key_file {
            Some(path) => Some(russh::keys::load_secret_key(path, None).map_err(|e| {
                SftpError::Config(format!(
                    "cannot load the SSH private key {} (it must be an unencrypted OpenSSH \
                     key): {e}",
                    path.display()
                ))
            })?),
            None => None,
        };
        if key.is_none() && s.password.is_none() {
            return Err(SftpError::Config(format!(
                "no private key file or password for {addr}"
            )));
        }
        let work = async {
            let config = Arc::new(client::Config {
                nodelay: true,
                ..Default::default()
            });
            let handler = PinnedHostKey {
                expected: expected.clone(),
            };
            let mut handle = client::connect(config, (s.host.as_str(), s.port), handler)
                .await
                .map_err(|e| match e {
                    HandshakeError::Ssh(source) => SftpError::Connect {
                        addr: addr.clone(),
                        source,
                    },
                    HandshakeError::HostKey { presented } => SftpError::HostKeyMismatch {
                        addr: addr.clone(),
                        expected: expected.fingerprint(HashAlg::Sha256).to_string(),
                        presented,
                    },
                })?;
            let connect_err = |source| SftpError::Connect {
                addr: addr.clone(),
                source,
            };
            let mut tried = Vec::new();
            let mut ok = false;
            if let Some(key) = key {
                let hash = if key.algorithm().is_rsa() {
                    handle
                        .best_supported_rsa_hash()
                        .await
                        .map_err(connect_err)?
                        .flatten()
                } else {
                    None
                };
                tried.push(format!("key {}", key.fingerprint(HashAlg::Sha256)));
                ok = handle
                    .authenticate_publickey(
                        s.username.as_str(),
                        PrivateKeyWithHashAlg::new(Arc::new(key), hash),
                    )
                    .await
                    .map_err(connect_err)?
                    .success();
            }
            if let (false, Some(password)) = (ok, &s.password) {
                tried.push("password".to_string());
                ok = handle
                    .authenticate_password(s.username.as_str(), password.as_str())
                    .await
                    .map_err(connect_err)?
                    .success();
            }
            if !ok {
                return Err(SftpError::Auth {
                    addr: addr.clone(),
                    user: s.username.clone(),
                    detail: format!("tried {}", tried.join(", then ")),
                });
            }
            let channel = handle.channel_open_session().await.map_err(connect_err)?;
            channel
                .request_subsystem(true, "sftp")
                .await
                .map_err(connect_err)?;
            let sftp = SftpSession::new_with_config(
                channel.into_stream(),
                russh_sftp::client::Config {
                    request_timeout_secs: s.timeout.as_secs_f64().ceil().max(1.0) as u64,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| SftpError::Remote {
                addr: addr.clone(),
                op: "start the sftp subsystem",
                path: String::new(),
                source: e.into(),
            })?;
            Ok(Conn {
                handle,
                sftp,
                addr: addr.clone(),
                timeout: s.timeout,
            })
        };
        tokio::time::timeout(s.timeout, work)
            .await
            .map_err(|_| SftpError::Timeout {
                addr: addr.clone(),
                op: "connecting".into(),
                after: s.timeout,
            })?
    }
}

/// One open SSH connection with its SFTP session; the handle must outlive the session.
struct Conn {
    handle: client::Handle<PinnedHostKey>,
    sftp: SftpSession,
    addr: String,
    timeout: Duration,
}

impl Conn {
    async fn step<T>(
        &self,
        op: &'static str,
        path: &str,
        fut: impl Future<Output = Result<T, SftpProtoError>>,
    ) -> Result<T, SftpError> {
        self.io_step(op, path, async { fut.await.map_err(to_io) })
            .await
    }

    async fn io_step<T>(
        &self,
        op: &'static str,
        path: &str,
        fut: impl Future<Output = std::io::Result<T>>,
    ) -> Result<T, SftpError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(source)) => Err(SftpError::Remote {
                addr: self.addr.clone(),
                op,
                path: path.to_string(),
                source,
            }),
            Err(_) => Err(SftpError::Timeout {
                addr: self.addr.clone(),
                op: format!("{op} {path}"),
                after: self.timeout,
            }),
        }
    }

    /// Stream `file` into a newly created (or truncated) remote `path`; returns the bytes sent.
    async fn send(
        &self,
        file: &mut tokio::fs::File,
        local: &Path,
        path: &str,
    ) -> Result<u64, SftpError> {
        let flags = OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE;
        let mut remote = self
            .step("create", path, self.sftp.open_with_flags(path, flags))
            .await?;
        let mut buf = vec![0u8; UPLOAD_CHUNK];
        let mut sent = 0u64;
        loop {
            let n = file
                .read(&mut buf)
                .await
                .map_err(|source| SftpError::Local {
                    path: local.to_path_buf(),
                    source,
                })?;
            if n == 0 {
                break;
            }
            self.io_step("write", path, remote.write_all(&buf[..n]))
                .await?;
            sent += n as u64;
        }
        // Waits for every pipelined write to be acknowledged.
        self.io_step("close", path, remote.shutdown()).await?;
        Ok(sent)
    }

    /// Rename `from` to `to`, replacing `to`: SFTP v3 rename (OpenSSH's included) refuses to
    /// overwrite, so an existing `to` is removed first.
    async fn replace(&self, from: &str, to: &str) -> Result<(), SftpError> {
        if self.size(to).await?.is_some() {
            self.step("remove", to, self.sftp.remove_file(to)).await?;
        }
        self.step("rename", from, self.sftp.rename(from, to)).await
    }

    fn size_mismatch(&self, path: String, local: u64, remote: u64) -> SftpError {
        SftpError::SizeMismatch {
            addr: self.addr.clone(),
            path,
            local,
            remote,
        }
    }

    async fn size(&self, path: &str) -> Result<Option<u64>, SftpError> {
        let stat = async {
            match self.sftp.metadata(path).await {
                Ok(m) => Ok(Some(m.len())),
                Err(SftpProtoError::Status(s)) if s.status_code == StatusCode::NoSuchFile => {
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        };
        self.step("stat", path, stat).await
    }

    /// Best effort: the server drops the session anyway when the connection goes.
    async fn close(self) {
        let _ = tokio::time::timeout(self.timeout, async {
            let _ = self.sftp.close().await;
            let _ = self
                .handle
                .disconnect(Disconnect::ByApplication, "", "en")
                .await;
        })
        .await;
    }
}

/// The server's status as an `io::Error` whose kind callers can branch on (`NotFound`,
/// `PermissionDenied`), without the crate's "code: message" doubling OpenSSH's messages.
fn to_io(e: SftpProtoError) -> std::io::Error {
    use std::io::ErrorKind;
    let SftpProtoError::Status(status) = e else {
        return e.into();
    };
    let kind = match status.status_code {
        StatusCode::NoSuchFile => ErrorKind::NotFound,
        StatusCode::PermissionDenied => ErrorKind::PermissionDenied,
        _ => ErrorKind::Other,
    };
    let code = status.status_code.to_string();
    let message = status.error_message.trim();
    if message.is_empty() || message.eq_ignore_ascii_case(&code) {
        std::io::Error::new(kind, code)
    } else {
        std::io::Error::new(kind, format!("{code}: {message}"))
    }
}

/// Accepts exactly the pinned key (or a certificate for it); anything else fails the handshake.
struct PinnedHostKey {
    expected: PublicKey,
}

#[derive(Debug)]
enum HandshakeError {
    Ssh(russh::Error),
    /// The fingerprint of the key the server presented.
    HostKey {
        presented: String,
    },
}

impl From<russh::Error> for HandshakeError {
    fn from(e: russh::Error) -> Self {
        HandshakeError::Ssh(e)
    }
}

impl client::Handler for PinnedHostKey {
    type Error = HandshakeError;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let presented = match server_public_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.key_data(),
            PublicKeyOrCertificate::Certificate(cert) => cert.public_key(),
        };
        if presented == self.expected.key_data() {
            Ok(true)
        } else {
            Err(HandshakeError::HostKey {
                presented: presented.fingerprint(HashAlg::Sha256).to_string(),
            })
        }
    }
}

/// Names come from our own file naming or from the server's directory listing; refusing paths
/// keeps a hostile listing from steering reads or renames outside the configured directories.
fn check_name(name: &str) -> Result<(), SftpError> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(SftpError::InvalidName(name.to_string()));
    }
    Ok(())
}

fn join(dir: &str, name: &str) -> String {
    match dir.trim_end_matches('/') {
        "" if dir.starts_with('/') => format!("/{name}"),
        "" => name.to_string(),
        dir => format!("{dir}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn require_send<T: Send + 'static>(_: T) {}

    /// Callers spawn these (the scheduler's print run), so they must stay `Send`.
    #[allow(dead_code)]
    fn futures_are_send(p: Arc<SftpPrinter>) {
        let q = p.clone();
        require_send(async move { q.upload(Path::new("x"), "y").await });
        let q = p.clone();
        require_send(async move { q.remote_size("y").await });
        let q = p.clone();
        require_send(async move { q.list_responses().await });
        let q = p.clone();
        require_send(async move { q.read_response("y").await });
        require_send(async move { p.archive_response("y").await });
    }

    #[test]
    fn names_must_be_plain() {
        for bad in ["", ".", "..", "a/b", "../x", "/etc/passwd"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name("NOTIFY.20260101.zip").is_ok());
    }

    #[test]
    fn join_handles_trailing_slash_and_empty_dir() {
        assert_eq!(join("notify/", "a.zip"), "notify/a.zip");
        assert_eq!(join("/abs/dir", "a.zip"), "/abs/dir/a.zip");
        assert_eq!(join("", "a.zip"), "a.zip");
        assert_eq!(join("/", "a.zip"), "/a.zip");
    }
}
