//! The store's snapshot as a stream of bytes: taken in this process ([`dump`]), or handed out
//! by the server a part at a time through its internal API ([`Sessions`]).
//!
//! Why parts: warp answers with whole bodies only, and a dump can be gigabytes. A client starts
//! a snapshot (`POST /backup/snapshot`), then asks for parts 0, 1, 2, ... in order
//! (`GET /backup/snapshot/{id}/{n}`), each a few MiB; the dump thread runs at most a few MiB
//! ahead of the client. A snapshot nobody asks a part of for a minute is dropped (which ends
//! its read transaction).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use storage::Store;
use storage::snapshot::DumpHeader;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::BackupError;

/// A dump's bytes, in order; an error ends it.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, BackupError>> + Send>>;

/// A snapshot being dumped.
pub struct Dump {
    pub header: DumpHeader,
    pub stream: ByteStream,
}

/// Bytes the dump thread hands over at a time.
const PIECE: usize = 1 << 20;
/// Pieces the dump thread may run ahead of its reader.
const AHEAD: usize = 8;
/// Bytes of one part served through the internal API.
pub const PART_BYTES: usize = 8 << 20;
/// A snapshot session nobody reads from for this long is dropped.
const IDLE: Duration = Duration::from_secs(60);

/// Begin a snapshot of `store` now and dump it on its own thread, at background CPU priority,
/// so the API's threads go first. The stream yields the dump; dropping it stops the dump and
/// ends the snapshot's read transaction.
pub fn dump(store: &Store) -> Result<Dump, BackupError> {
    let snapshot = store.snapshot()?;
    let header = snapshot.header().clone();
    let (tx, rx) = mpsc::channel::<Result<Bytes, BackupError>>(AHEAD);
    std::thread::Builder::new()
        .name("notify-snapshot".into())
        .spawn(move || {
            storage::index::lower_cpu_priority();
            let mut out = ChannelWriter {
                tx: tx.clone(),
                buf: BytesMut::with_capacity(PIECE),
            };
            let written = snapshot
                .write_to(&mut out)
                .map_err(BackupError::from)
                .and_then(|summary| {
                    out.send_buffered()?;
                    Ok(summary)
                });
            match written {
                Ok(summary) => tracing::debug!(rows = summary.rows, "snapshot dumped"),
                // The reader is gone (a cancelled backup): nothing to tell anyone.
                Err(_) if tx.is_closed() => {}
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                }
            }
        })?;
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok(Dump {
        header,
        stream: Box::pin(stream),
    })
}

/// `Write` into the channel a piece at a time; fails once the reader is gone.
struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, BackupError>>,
    buf: BytesMut,
}

impl ChannelWriter {
    fn send_buffered(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = self.buf.split().freeze();
        self.tx
            .blocking_send(Ok(piece))
            .map_err(|_| std::io::Error::other("the snapshot's reader went away"))
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= PIECE {
            self.send_buffered()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One part of a snapshot served through the internal API.
pub struct Part {
    pub bytes: Bytes,
    /// The dump ends with this part.
    pub last: bool,
}

/// The snapshots the server is handing out, by id.
#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<Uuid, Session>>,
}

struct Session {
    /// Taken while a part is being read.
    stream: Option<ByteStream>,
    next_part: u64,
    last_used: Instant,
}

impl Sessions {
    /// Begin a snapshot of `store` and keep it for [`Sessions::part`].
    pub fn start(self: &Arc<Self>, store: &Store) -> Result<(Uuid, DumpHeader), BackupError> {
        let Dump { header, stream } = dump(store)?;
        let id = Uuid::now_v7();
        self.lock().insert(
            id,
            Session {
                stream: Some(stream),
                next_part: 0,
                last_used: Instant::now(),
            },
        );
        tracing::info!(snapshot = %id, committed_seq = header.committed_seq, "snapshot started for a backup");
        // Drop it once nobody has asked for a part for a while.
        let sessions = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(IDLE / 4).await;
                let Some(sessions) = sessions.upgrade() else {
                    return;
                };
                let mut open = sessions.lock();
                match open.get(&id) {
                    None => return,
                    Some(s) if s.stream.is_some() && s.last_used.elapsed() > IDLE => {
                        open.remove(&id);
                        tracing::warn!(snapshot = %id, "snapshot dropped: nobody read it for a minute");
                        return;
                    }
                    Some(_) => {}
                }
            }
        });
        Ok((id, header))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Session>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Part `n` of snapshot `id`: parts are read once each, in order.
    pub async fn part(&self, id: Uuid, n: u64) -> Result<Part, BackupError> {
        let mut stream = {
            let mut open = self.lock();
            let session = open.get_mut(&id).ok_or_else(|| {
                BackupError::Refused(format!(
                    "there is no snapshot {id} (finished, or dropped after a minute unread)"
                ))
            })?;
            if session.next_part != n {
                return Err(BackupError::Refused(format!(
                    "snapshot {id}: part {n} asked for, part {} is next",
                    session.next_part
                )));
            }
            session.stream.take().ok_or_else(|| {
                BackupError::Refused(format!("snapshot {id}: a part is being read already"))
            })?
        };
        let mut bytes = BytesMut::new();
        let mut last = false;
        while bytes.len() < PART_BYTES {
            match futures_util::StreamExt::next(&mut stream).await {
                Some(Ok(piece)) => bytes.extend_from_slice(&piece),
                Some(Err(e)) => {
                    self.lock().remove(&id);
                    return Err(e);
                }
                None => {
                    last = true;
                    break;
                }
            }
        }
        let mut open = self.lock();
        if last {
            open.remove(&id);
            tracing::info!(snapshot = %id, parts = n + 1, "snapshot handed out");
        } else if let Some(session) = open.get_mut(&id) {
            session.stream = Some(stream);
            session.next_part = n + 1;
            session.last_used = Instant::now();
        }
        Ok(Part {
            bytes: bytes.freeze(),
            last,
        })
    }
}
