//! Request bodies: a limit per kind of route, answered with 413 before anything is buffered
//! when the declared length is over it (and as soon as a chunked body passes it), and one
//! budget of memory for all bodies in flight.
//!
//! The budget is a semaphore of KiB. A request takes its share before its body is read: the
//! declared `Content-Length`, or for a body of unknown length (chunked) its route's whole
//! limit, handed back down to what was really read once the body ends. Each request takes its
//! share in one go, so requests queue (backpressure) rather than deadlock, and the share is
//! held until the handler has answered, since that is how long the bytes stay in memory.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::StreamExt;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use warp::Filter;

use super::routes::RouteClass;
use crate::config::BodyLimitsConfig;

/// The configured limits, in bytes, and the shared budget.
pub struct BodyLimits {
    v2: u64,
    internal: u64,
    sheet_upload: u64,
    receipts: u64,
    forms: u64,
    budget: Arc<Semaphore>,
    budget_kib: u64,
    /// How long a body may go without a byte arriving.
    pub read_timeout: Duration,
}

impl BodyLimits {
    pub fn new(config: &BodyLimitsConfig, read_timeout: Duration) -> BodyLimits {
        let budget_kib = config.in_flight_mib.saturating_mul(1024);
        BodyLimits {
            v2: config.v2_kib * 1024,
            internal: config.internal_kib * 1024,
            sheet_upload: config.sheet_upload_kib * 1024,
            receipts: config.receipts_kib * 1024,
            forms: config.forms_kib * 1024,
            budget: Arc::new(Semaphore::new(
                budget_kib.min(Semaphore::MAX_PERMITS as u64) as usize,
            )),
            budget_kib,
            read_timeout,
        }
    }

    /// The largest body a route of this class takes, in bytes.
    pub fn limit(&self, class: RouteClass) -> u64 {
        match class {
            RouteClass::V2 => self.v2,
            RouteClass::Page => self.forms,
            RouteClass::ServicePage => self.internal,
            RouteClass::Receipts => self.receipts,
            RouteClass::SheetUpload => self.sheet_upload,
            RouteClass::Internal => self.internal,
        }
    }

    /// KiB of the budget not taken right now.
    pub fn budget_available_kib(&self) -> usize {
        self.budget.available_permits()
    }

    /// Admit a body of `declared` bytes (`None`: unknown, e.g. chunked) for a route whose limit
    /// is `limit`: its share of the budget, waited for if need be.
    pub async fn admit(&self, declared: Option<u64>, limit: u64) -> Result<Admission, TooLarge> {
        let wanted = match declared {
            Some(n) if n > limit => return Err(TooLarge { limit }),
            Some(0) => return Ok(Admission::nothing(limit)),
            Some(n) => n,
            None => limit,
        };
        let kib = wanted
            .div_ceil(1024)
            .min(self.budget_kib)
            .min(u32::MAX as u64) as u32;
        // The semaphore is never closed, so acquiring only waits.
        let permit = self.budget.clone().acquire_many_owned(kib).await.ok();
        Ok(Admission {
            limit,
            held: Arc::new(Mutex::new(permit)),
            state: Arc::new(BodyState::default()),
        })
    }
}

/// The declared length was over the route's limit.
#[derive(Debug, Clone, Copy)]
pub struct TooLarge {
    pub limit: u64,
}

/// What happened to a body while it was read.
#[derive(Debug, Default)]
pub struct BodyState {
    too_large: AtomicBool,
    timed_out: AtomicBool,
}

impl BodyState {
    /// The body went past its limit while it was read.
    pub fn too_large(&self) -> bool {
        self.too_large.load(Ordering::Relaxed)
    }

    /// No byte of the body arrived for the read timeout.
    pub fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Relaxed)
    }
}

/// One request's share of the budget; dropping it gives the share back.
pub struct Admission {
    pub limit: u64,
    held: Arc<Mutex<Option<OwnedSemaphorePermit>>>,
    pub state: Arc<BodyState>,
}

impl Admission {
    fn nothing(limit: u64) -> Admission {
        Admission {
            limit,
            held: Arc::new(Mutex::new(None)),
            state: Arc::new(BodyState::default()),
        }
    }

    /// Wrap the connection's body so it is counted against this admission.
    pub fn body<B>(&self, inner: B, read_timeout: Duration) -> EdgeBody<B> {
        EdgeBody {
            inner,
            read: 0,
            limit: self.limit,
            held: self.held.clone(),
            state: self.state.clone(),
            read_timeout,
            idle: Mutex::new(None),
            done: false,
        }
    }
}

/// A request body counted against its limit, with a read timeout. Errors end it early:
/// the handler's body read fails and the edge answers 413 (or drops the request).
pub struct EdgeBody<B> {
    inner: B,
    read: u64,
    limit: u64,
    held: Arc<Mutex<Option<OwnedSemaphorePermit>>>,
    state: Arc<BodyState>,
    read_timeout: Duration,
    // In a mutex only so the body is `Sync` (warp asks for it); polling has `&mut self`.
    idle: Mutex<Option<Pin<Box<tokio::time::Sleep>>>>,
    done: bool,
}

/// Why a body stopped early.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the request body is larger than {0} bytes")]
    TooLarge(u64),
    #[error("no request body data arrived for {0:?}")]
    TimedOut(Duration),
    #[error("reading the request body: {0}")]
    Read(String),
}

impl<B> EdgeBody<B> {
    /// The body ended: give back the part of a chunked body's share it did not use.
    fn finish(&mut self) {
        self.done = true;
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(permit) = held.as_mut() {
            let used = self.read.div_ceil(1024) as usize;
            if permit.num_permits() > used {
                drop(permit.split(permit.num_permits() - used));
            }
        }
    }
}

impl<B> Body for EdgeBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                *this.idle.get_mut().unwrap_or_else(|p| p.into_inner()) = None;
                if let Some(data) = frame.data_ref() {
                    this.read += data.len() as u64;
                    if this.read > this.limit {
                        this.state.too_large.store(true, Ordering::Relaxed);
                        this.done = true;
                        return Poll::Ready(Some(Err(BodyError::TooLarge(this.limit))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.done = true;
                Poll::Ready(Some(Err(BodyError::Read(e.to_string()))))
            }
            Poll::Ready(None) => {
                this.finish();
                Poll::Ready(None)
            }
            Poll::Pending => {
                let timeout = this.read_timeout;
                let idle = this.idle.get_mut().unwrap_or_else(|p| p.into_inner());
                let sleep = idle.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if sleep.as_mut().poll(cx).is_ready() {
                    this.state.timed_out.store(true, Ordering::Relaxed);
                    this.done = true;
                    return Poll::Ready(Some(Err(BodyError::TimedOut(timeout))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The whole request body, for routes. Unlike warp's `content_length_limit` + `bytes`, it takes
/// chunked bodies too: the edge enforces the limits. A body that could not be read rejects with
/// [`BodyRejection`].
pub fn bytes() -> impl Filter<Extract = (Bytes,), Error = warp::Rejection> + Clone {
    warp::body::stream().and_then(collect)
}

/// One chunk is passed on as it is; several are joined.
async fn collect<S, B>(stream: S) -> Result<Bytes, warp::Rejection>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut stream = std::pin::pin!(stream);
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|_| warp::reject::custom(BodyRejection))?;
        let chunk = chunk.copy_to_bytes(chunk.remaining());
        match first.take() {
            None if rest.is_empty() => first = Some(chunk),
            earlier => {
                if let Some(f) = earlier {
                    rest.extend_from_slice(&f);
                }
                rest.extend_from_slice(&chunk);
            }
        }
    }
    Ok(first.unwrap_or_else(|| rest.freeze()))
}

/// The request body could not be read (too large, too slow, or the client went away).
#[derive(Debug)]
pub struct BodyRejection;

impl warp::reject::Reject for BodyRejection {}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn limits(in_flight_mib: u64) -> BodyLimits {
        BodyLimits::new(
            &BodyLimitsConfig {
                v2_kib: 4,
                in_flight_mib,
                ..BodyLimitsConfig::default()
            },
            Duration::from_secs(5),
        )
    }

    #[tokio::test]
    async fn declared_lengths_over_the_limit_are_refused_at_once() {
        let l = limits(128);
        let limit = l.limit(RouteClass::V2);
        assert_eq!(limit, 4096);
        assert!(l.admit(Some(4097), limit).await.is_err());
        let a = l.admit(Some(4096), limit).await.unwrap();
        assert_eq!(l.budget_available_kib(), 128 * 1024 - 4);
        drop(a);
        assert_eq!(l.budget_available_kib(), 128 * 1024);
    }

    #[tokio::test]
    async fn chunked_bodies_are_cut_at_the_limit_and_give_back_what_they_did_not_use() {
        let l = limits(128);
        let a = l.admit(None, 4096).await.unwrap();
        assert_eq!(l.budget_available_kib(), 128 * 1024 - 4);
        let small = a.body(
            http_body_util::Full::new(Bytes::from_static(b"{}")),
            Duration::from_secs(5),
        );
        let got = small.collect().await.unwrap().to_bytes();
        assert_eq!(&got[..], b"{}");
        assert_eq!(l.budget_available_kib(), 128 * 1024 - 1);
        drop(a);

        let a = l.admit(None, 4096).await.unwrap();
        let big = a.body(
            http_body_util::Full::new(Bytes::from(vec![b'x'; 5000])),
            Duration::from_secs(5),
        );
        assert!(matches!(
            big.collect().await,
            Err(BodyError::TooLarge(4096))
        ));
        assert!(a.state.too_large());
    }

    #[tokio::test]
    async fn the_budget_makes_requests_wait_instead_of_growing() {
        let l = Arc::new(limits(1));
        let first = l.admit(Some(1024 * 1024), 2 * 1024 * 1024).await.unwrap();
        let second = tokio::time::timeout(Duration::from_millis(100), l.admit(Some(10), 4096));
        assert!(
            second.await.is_err(),
            "the budget is taken: the second body waits"
        );
        drop(first);
        assert!(l.admit(Some(10), 4096).await.is_ok());
    }
}
