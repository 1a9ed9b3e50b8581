//! Connection hygiene: the header-read and idle timeouts, as Go's server has them.
//!
//! hyper's own header timeout starts as soon as it waits for a request, so on a keep-alive
//! connection it is also the idle limit. Here the two are apart: a connection with no request
//! in progress may sit idle for `idle_timeout`; once a client starts sending a request head it
//! has `header_read_timeout` to finish it. [`TrackedIo`] notes when bytes move, the edge's
//! service notes when requests start and end, and [`watchdog`] resolves when either limit is
//! passed, which closes the connection.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The HTTP/2 connection preface starts with this.
const H2_PREFACE_START: &[u8] = b"PRI * HTTP/2.0";

/// What one connection is doing, shared by its IO, its service and its watchdog.
pub struct ConnState {
    opened: Instant,
    /// Milliseconds since `opened` of the last byte read or written, or request end.
    last_activity_ms: AtomicU64,
    /// 1 + milliseconds since `opened` when the current request head started; 0 = none.
    head_started_ms: AtomicU64,
    in_flight: AtomicUsize,
    /// HTTP/2 has no request heads to time (frames of all kinds arrive between requests).
    http2: AtomicBool,
    first_read_seen: AtomicBool,
    /// Wakes the watchdog when a request head starts: its header deadline may come before the
    /// idle deadline it is sleeping towards.
    head_started: tokio::sync::Notify,
}

impl ConnState {
    pub fn new(http2: bool) -> ConnState {
        ConnState {
            opened: Instant::now(),
            last_activity_ms: AtomicU64::new(0),
            head_started_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            http2: AtomicBool::new(http2),
            first_read_seen: AtomicBool::new(false),
            head_started: tokio::sync::Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64
    }

    fn on_read(&self, bytes: &[u8]) {
        let now = self.now_ms();
        self.last_activity_ms.store(now, Ordering::Relaxed);
        if !self.first_read_seen.swap(true, Ordering::Relaxed) {
            let n = bytes.len().min(H2_PREFACE_START.len());
            if n > 0 && bytes[..n] == H2_PREFACE_START[..n] {
                self.http2.store(true, Ordering::Relaxed);
            }
        }
        if self.in_flight.load(Ordering::Relaxed) == 0 && !self.http2.load(Ordering::Relaxed) {
            let started = self.head_started_ms.compare_exchange(
                0,
                now + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            if started.is_ok() {
                // A stored permit if the watchdog is not waiting yet: no wake-up is lost.
                self.head_started.notify_one();
            }
        }
    }

    fn on_write(&self) {
        self.last_activity_ms
            .store(self.now_ms(), Ordering::Relaxed);
    }

    /// A request's head was read and its handling starts.
    pub fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.head_started_ms.store(0, Ordering::Relaxed);
    }

    /// A request was answered.
    pub fn request_finished(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.on_write();
    }
}

/// Why the watchdog closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// A request head took longer than the header-read timeout.
    HeaderRead,
    /// No request for the idle timeout.
    Idle,
}

/// Resolves when the connection has broken one of its time limits.
pub async fn watchdog(state: &ConnState, header_read: Duration, idle: Duration) -> Expired {
    let header_ms = header_read.as_millis() as u64;
    let idle_ms = idle.as_millis() as u64;
    loop {
        let now = state.now_ms();
        let next_check = if state.in_flight.load(Ordering::Relaxed) > 0 {
            // A request is being handled: handlers take as long as they take.
            now + idle_ms.min(header_ms)
        } else {
            match state.head_started_ms.load(Ordering::Relaxed) {
                0 => {
                    let deadline = state.last_activity_ms.load(Ordering::Relaxed) + idle_ms;
                    if now >= deadline {
                        return Expired::Idle;
                    }
                    deadline
                }
                started => {
                    let deadline = started - 1 + header_ms;
                    if now >= deadline {
                        return Expired::HeaderRead;
                    }
                    deadline
                }
            }
        };
        let until = state.opened + Duration::from_millis(next_check);
        tokio::select! {
            _ = tokio::time::sleep_until(until.into()) => {}
            _ = state.head_started.notified() => {}
        }
    }
}

/// A connection's byte stream, telling its [`ConnState`] when bytes move.
pub struct TrackedIo<T> {
    inner: T,
    state: std::sync::Arc<ConnState>,
}

impl<T> TrackedIo<T> {
    pub fn new(inner: T, state: std::sync::Arc<ConnState>) -> TrackedIo<T> {
        TrackedIo { inner, state }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TrackedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result
            && buf.filled().len() > before
        {
            this.state.on_read(&buf.filled()[before..]);
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TrackedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result
            && n > 0
        {
            this.state.on_write();
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = result
            && n > 0
        {
            this.state.on_write();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_started_head_must_finish_in_time_and_idle_connections_close() {
        let state = ConnState::new(false);
        state.on_read(b"GET / HTTP/1.1\r\nHost: x\r\n");
        let why = watchdog(&state, Duration::from_millis(20), Duration::from_secs(3600)).await;
        assert_eq!(why, Expired::HeaderRead);

        let state = ConnState::new(false);
        let why = watchdog(&state, Duration::from_secs(3600), Duration::from_millis(20)).await;
        assert_eq!(why, Expired::Idle);
    }

    /// The watchdog was already asleep towards the idle deadline when the head began (the
    /// client connected, then sent half a head): it must wake for the header deadline.
    #[tokio::test]
    async fn a_head_started_while_the_watchdog_sleeps_still_times_out() {
        let state = std::sync::Arc::new(ConnState::new(false));
        let s = state.clone();
        let dog = tokio::spawn(async move {
            watchdog(&s, Duration::from_millis(20), Duration::from_secs(3600)).await
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        state.on_read(b"POST /v2/notifications/sms HTTP/1.1\r\nContent-Ty");
        let why = tokio::time::timeout(Duration::from_secs(60), dog).await;
        assert_eq!(
            why.expect("closed by the header deadline, not the idle one")
                .unwrap(),
            Expired::HeaderRead
        );
    }

    #[tokio::test]
    async fn requests_in_progress_are_never_cut() {
        let state = std::sync::Arc::new(ConnState::new(false));
        state.on_read(b"POST / HTTP/1.1\r\n\r\n");
        state.request_started();
        let s = state.clone();
        let dog = tokio::spawn(async move {
            watchdog(&s, Duration::from_millis(10), Duration::from_millis(10)).await
        });
        // Several check periods pass while the request is handled.
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(!dog.is_finished());
        state.request_finished();
        assert_eq!(dog.await.unwrap(), Expired::Idle);
    }

    #[test]
    fn http2_connections_are_recognised_by_their_preface() {
        let state = ConnState::new(false);
        state.on_read(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        assert!(state.http2.load(Ordering::Relaxed));
        assert_eq!(state.head_started_ms.load(Ordering::Relaxed), 0);
    }
}
