//! What the out-of-process runners share (a browser page, a test service): observations that
//! arrive numbered over HTTP, possibly out of order, stamped with the other process's clock; a
//! small HTTP server to take them; and a small HTTP client to give orders.
//!
//! Loopback only: both ends are on this machine, so the other process's wall clock is ours.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;

use crate::client::{Observer, ReadyState};
pub(crate) use sse_http::call::call;
pub(crate) use sse_http::process::{
    block_on, free_port, kill_group, log_tail, run_logged, spawn_logged,
};

/// Bytes of out-of-order items an [`InOrder`] holds at most while a lower number is missing
/// (and all of them together hold no more than [`crate::client::MAX_HELD_BYTES`] with the
/// observers).
pub(crate) const MAX_WAITING_BYTES: usize = 32 << 20;

/// Out-of-order items an [`InOrder`] holds at most.
pub(crate) const MAX_WAITING: usize = 10_000;

/// What an item costs to hold, about: the text it carries.
pub(crate) trait Weight {
    /// Bytes of text.
    fn weight(&self) -> usize;
}

/// Puts numbered items back in order: each is released once every lower number has been.
/// Items waiting for a lower number are bounded ([`MAX_WAITING`], [`MAX_WAITING_BYTES`]): a
/// sender that never sends the missing one cannot make the harness hold without limit.
#[derive(Debug)]
pub(crate) struct InOrder<T> {
    next: u64,
    waiting: BTreeMap<u64, T>,
    waiting_bytes: usize,
    /// Its column's budget, shared with the observers.
    budget: crate::client::Budget,
}

/// An item an [`InOrder`] could not hold.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{why} while report {missing} never came")]
pub(crate) struct Overflow {
    /// The number still missing.
    pub(crate) missing: u64,
    /// Which limit it broke.
    why: String,
}

impl<T: Weight> InOrder<T> {
    /// Expects `first` next; what waits is held against `budget` too.
    pub(crate) fn new(first: u64, budget: crate::client::Budget) -> Self {
        InOrder {
            next: first,
            waiting: BTreeMap::new(),
            waiting_bytes: 0,
            budget,
        }
    }

    /// Takes item `seq`; returns the items now in order (none while a lower one is missing).
    /// A number already released or waiting is a repeat and is dropped; an item that would have to wait
    /// past the limits is refused.
    pub(crate) fn take(&mut self, seq: u64, item: T) -> Result<Vec<T>, Overflow> {
        if seq < self.next || self.waiting.contains_key(&seq) {
            return Ok(Vec::new());
        }
        if seq > self.next {
            let weight = item.weight();
            let bytes = self.waiting_bytes.saturating_add(weight);
            let why = if self.waiting.len() >= MAX_WAITING || bytes > MAX_WAITING_BYTES {
                format!(
                    "it sent more than {MAX_WAITING} out-of-order reports or {} MiB of them",
                    MAX_WAITING_BYTES >> 20
                )
            } else if !self.budget.hold(weight) {
                format!(
                    "the cases of this column running at once hold more than {} MiB of reports",
                    crate::client::MAX_HELD_BYTES >> 20
                )
            } else {
                self.waiting_bytes = bytes;
                self.waiting.insert(seq, item);
                return Ok(Vec::new());
            };
            return Err(Overflow {
                missing: self.next,
                why,
            });
        }
        self.next += 1;
        let mut ready = vec![item];
        while let Some(item) = self.waiting.remove(&self.next) {
            let weight = item.weight();
            self.waiting_bytes -= weight;
            self.budget.release(weight);
            self.next += 1;
            ready.push(item);
        }
        Ok(ready)
    }
}

impl<T> Drop for InOrder<T> {
    fn drop(&mut self) {
        self.budget.release(self.waiting_bytes);
    }
}

/// Converts the other process's timestamps to the observer's time, never going backwards (its
/// order stands even where the conversion jitters).
#[derive(Debug, Default)]
pub(crate) struct Stamper {
    last_at: Duration,
}

impl Stamper {
    /// When something happened that the other process saw at `unix_ms` (milliseconds since the
    /// Unix epoch), or, without a timestamp, now.
    pub(crate) fn stamp(&mut self, observer: &Observer, unix_ms: Option<f64>) -> Duration {
        let now = observer.now();
        let at = match unix_ms {
            Some(t) if t.is_finite() => {
                let now_ms = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64() * 1e3);
                let ago = Duration::try_from_secs_f64(((now_ms - t) / 1e3).max(0.0))
                    .unwrap_or(Duration::MAX);
                now.saturating_sub(ago)
            }
            _ => now,
        };
        self.last_at = at.max(self.last_at);
        self.last_at
    }
}

/// EventSource's readyState numbers.
pub(crate) fn ready_state(n: u8) -> Option<ReadyState> {
    match n {
        0 => Some(ReadyState::Connecting),
        1 => Some(ReadyState::Open),
        2 => Some(ReadyState::Closed),
        _ => None,
    }
}

/// How long an accept loop waits after a failed accept (most often: out of file descriptors)
/// before it tries again, instead of spinning on the error.
pub(crate) const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Connections a callback server holds at once; past it new ones are closed at once (a report
/// or callback is retried by nobody, but no sender needs more than a few at a time).
const MAX_CALLBACK_CONNECTIONS: usize = 256;

/// Time a callback connection has to send its request headers.
const CALLBACK_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves HTTP/1.1 on `listener` with `handle`, one task per connection, until dropped.
pub(crate) async fn serve<F, Fut>(listener: tokio::net::TcpListener, handle: F)
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    serve_accepted(|| listener.accept(), handle).await;
}

/// The loop of [`serve`], over any accept: a failed accept waits [`ACCEPT_BACKOFF`], at most
/// [`MAX_CALLBACK_CONNECTIONS`] are served at once, and each must send its headers within
/// [`CALLBACK_HEADER_TIMEOUT`].
async fn serve_accepted<A, AFut, F, Fut>(mut accept: A, handle: F)
where
    A: FnMut() -> AFut,
    AFut: Future<Output = std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)>>,
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CALLBACK_CONNECTIONS));
    loop {
        let tcp = match accept().await {
            Ok((tcp, _)) => tcp,
            Err(_) => {
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req| {
                let handle = handle.clone();
                async move { Ok::<_, Infallible>(handle(req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(CALLBACK_HEADER_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                .await;
        });
    }
}

/// A response with `status` and a text body.
pub(crate) fn reply(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_owned())));
    *r.status_mut() = status;
    r
}

/// KiB of request bodies (callbacks, page reports) the process reads at once, at most: a
/// larger body waits for others to be read, so eight services sending 32 MiB at once cost one
/// at a time, not eight.
const MAX_READING_KIB: usize = 32 << 10;

/// Time a callback or report body has to arrive whole (32 MiB takes well under a second on
/// loopback).
const BODY_READ_LIMIT: Duration = Duration::from_secs(10);

/// What the bodies being read now hold of [`MAX_READING_KIB`].
static READING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_READING_KIB);

/// Its share of the reading budget, held until what was read has been taken (kept or
/// refused): a parsed 30 MB callback waiting for its case counts as much as one being read.
pub(crate) type Reading = tokio::sync::SemaphorePermit<'static>;

/// A request's body as JSON, at most `limit` bytes, with its share of the reading budget.
pub(crate) async fn read_json<T: serde::de::DeserializeOwned>(
    req: Request<Incoming>,
    limit: usize,
) -> Result<(T, Reading), String> {
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(limit)
        .min(limit);
    let kib = declared.div_ceil(1024).clamp(1, MAX_READING_KIB);
    let reading = READING
        .acquire_many(u32::try_from(kib).unwrap_or(u32::MAX))
        .await
        .map_err(|e| e.to_string())?;
    // Read into one buffer of the declared size as the frames come (no second copy), then
    // parsed in place.
    let mut body = Limited::new(req.into_body(), limit);
    let mut bytes = Vec::with_capacity(declared);
    // A body that stalls would hold its share of the reading budget: it has a time limit.
    let read = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("unreadable body: {e}"))?;
            if let Ok(data) = frame.into_data() {
                bytes.extend_from_slice(&data);
            }
        }
        Ok::<(), String>(())
    };
    tokio::time::timeout(BODY_READ_LIMIT, read)
        .await
        .map_err(|_| format!("the body did not arrive within {BODY_READ_LIMIT:?}"))??;
    let parsed = serde_json::from_slice(&bytes).map_err(|e| format!("bad JSON: {e}"))?;
    Ok((parsed, reading))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_out_in_order_once() {
        let mut order = InOrder::new(1, crate::client::Budget::default());
        assert!(order.take(3, "c").expect("held").is_empty());
        assert!(order.take(2, "b").expect("held").is_empty());
        assert_eq!(order.take(1, "a").expect("held"), ["a", "b", "c"]);
        assert!(
            order.take(2, "again").expect("held").is_empty(),
            "a repeat is dropped"
        );
        assert_eq!(order.take(4, "d").expect("held"), ["d"]);
    }

    impl Weight for &str {
        fn weight(&self) -> usize {
            self.len()
        }
    }

    impl Weight for String {
        fn weight(&self) -> usize {
            self.len()
        }
    }

    #[test]
    fn items_waiting_for_one_that_never_comes_are_bounded() {
        let mut order = InOrder::new(1, crate::client::Budget::default());
        let big = "x".repeat(30 << 20);
        assert!(order.take(2, big.clone()).expect("held").is_empty());
        let refused = order.take(3, big.clone()).expect_err("past the limit");
        assert_eq!(refused.missing, 1);
        assert!(refused.to_string().contains("out-of-order"), "{refused}");
        assert!(order.waiting_bytes <= MAX_WAITING_BYTES);
        let mut many = InOrder::new(1, crate::client::Budget::default());
        for n in 2..=u64::try_from(MAX_WAITING).expect("held") + 1 {
            assert!(many.take(n, String::new()).expect("held").is_empty());
        }
        assert!(many.take(u64::MAX, String::new()).is_err());
        // The missing one releases everything held.
        let released = many.take(1, "first".into()).expect("held");
        assert_eq!(released.len(), MAX_WAITING + 1);
        assert_eq!(many.waiting_bytes, 0);
    }

    #[test]
    fn a_failing_accept_is_retried_after_a_pause_not_in_a_spin() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = calls.clone();
        let server = runtime.spawn(serve_accepted(
            move || {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                std::future::ready(Err(std::io::Error::from_raw_os_error(24)))
            },
            |_req| async { reply(StatusCode::OK, "") },
        ));
        std::thread::sleep(Duration::from_millis(500));
        server.abort();
        let n = calls.load(std::sync::atomic::Ordering::Relaxed);
        // One try per 50 ms: about 10 in half a second (a spin makes millions).
        assert!((2..=20).contains(&n), "{n} accepts in 500 ms");
    }

    #[test]
    fn stamps_never_go_backwards() {
        let observer = Observer::with_epoch(crate::client::Epoch::new());
        let mut stamper = Stamper::default();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs_f64()
            * 1e3;
        let a = stamper.stamp(&observer, Some(now + 5_000.0));
        let b = stamper.stamp(&observer, Some(now - 5_000.0));
        assert!(b >= a, "{b:?} < {a:?}");
        assert!(stamper.stamp(&observer, None) >= b);
        assert!(stamper.stamp(&observer, Some(f64::NAN)) >= b);
    }
}
