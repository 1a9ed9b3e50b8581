//! Where the print run's zips go and where the printer's response files come from: a local
//! folder (an appliance whose printer collects from a share) or the printer's SFTP server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{Config, PrintTransportKind};
use crate::letters::sftp::{SftpError, SftpPrinter, SftpSettings};

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("print folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Sftp(#[from] SftpError),
    #[error("{name} arrived with {remote} bytes instead of {local}")]
    SizeMismatch {
        name: String,
        local: u64,
        remote: u64,
    },
}

/// The configured print transport.
pub enum PrintTransport {
    Folder {
        outgoing: PathBuf,
        responses: PathBuf,
    },
    Sftp(SftpPrinter),
}

fn folder_error(path: &Path) -> impl FnOnce(std::io::Error) -> TransportError + '_ {
    move |source| TransportError::Folder {
        path: path.display().to_string(),
        source,
    }
}

impl PrintTransport {
    pub fn from_config(config: &Config) -> PrintTransport {
        match config.print.transport {
            PrintTransportKind::Folder => PrintTransport::Folder {
                outgoing: config.print_folder(),
                responses: config.print_responses_folder(),
            },
            PrintTransportKind::Sftp => {
                let s = &config.print.sftp;
                PrintTransport::Sftp(SftpPrinter::new(SftpSettings {
                    host: s.host.clone(),
                    port: s.port,
                    username: s.username.clone(),
                    private_key_file: (!s.private_key_file.as_os_str().is_empty())
                        .then(|| s.private_key_file.clone()),
                    password: (!s.password.expose().is_empty())
                        .then(|| s.password.expose().to_string()),
                    host_key: s.host_key.clone(),
                    upload_dir: s.upload_dir.clone(),
                    response_dir: s.response_dir.clone(),
                    timeout: Duration::from_secs(s.timeout_seconds),
                }))
            }
        }
    }

    /// Hand over `local` as `name`. Done when the printer's side holds the whole file: the
    /// folder transport writes a temporary name and renames it (a collector never sees half a
    /// zip), SFTP does the same remotely and checks the size.
    pub async fn upload(&self, local: &Path, name: &str) -> Result<u64, TransportError> {
        match self {
            PrintTransport::Folder { outgoing, .. } => {
                tokio::fs::create_dir_all(outgoing)
                    .await
                    .map_err(folder_error(outgoing))?;
                let target = outgoing.join(name);
                let temporary = outgoing.join(format!("{name}.tmp"));
                let size = tokio::fs::copy(local, &temporary)
                    .await
                    .map_err(folder_error(&temporary))?;
                tokio::fs::rename(&temporary, &target)
                    .await
                    .map_err(folder_error(&target))?;
                let remote = tokio::fs::metadata(&target)
                    .await
                    .map_err(folder_error(&target))?
                    .len();
                if remote != size {
                    return Err(TransportError::SizeMismatch {
                        name: name.to_string(),
                        local: size,
                        remote,
                    });
                }
                Ok(size)
            }
            PrintTransport::Sftp(sftp) => Ok(sftp.upload(local, name).await?),
        }
    }

    /// Response files waiting on the printer's side, oldest name first.
    pub async fn list_responses(&self) -> Result<Vec<String>, TransportError> {
        match self {
            PrintTransport::Folder { responses, .. } => {
                let mut names = Vec::new();
                let mut dir = match tokio::fs::read_dir(responses).await {
                    Ok(d) => d,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
                    Err(e) => return Err(folder_error(responses)(e)),
                };
                while let Some(entry) = dir.next_entry().await.map_err(folder_error(responses))? {
                    let is_file = entry
                        .file_type()
                        .await
                        .map_err(folder_error(responses))?
                        .is_file();
                    if is_file {
                        names.push(entry.file_name().to_string_lossy().to_string());
                    }
                }
                names.sort();
                Ok(names)
            }
            PrintTransport::Sftp(sftp) => Ok(sftp.list_responses().await?),
        }
    }

    pub async fn read_response(&self, name: &str) -> Result<Vec<u8>, TransportError> {
        match self {
            PrintTransport::Folder { responses, .. } => {
                let path = responses.join(name);
                tokio::fs::read(&path).await.map_err(folder_error(&path))
            }
            PrintTransport::Sftp(sftp) => Ok(sftp.read_response(name).await?),
        }
    }

    /// Move a response file out of the way once it is applied (or refused), into `processed/`.
    pub async fn archive_response(&self, name: &str) -> Result<(), TransportError> {
        match self {
            PrintTransport::Folder { responses, .. } => {
                let done = responses.join("processed");
                tokio::fs::create_dir_all(&done)
                    .await
                    .map_err(folder_error(&done))?;
                let from = responses.join(name);
                tokio::fs::rename(&from, done.join(name))
                    .await
                    .map_err(folder_error(&from))
            }
            PrintTransport::Sftp(sftp) => Ok(sftp.archive_response(name).await?),
        }
    }
}
