//! The log of requests as this server received them: what a conformance verdict on a client's
//! requests is judged on (the headers that arrived, not the ones the client meant to send).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The time source of a log: real time on loopback, simulated time in the simulator.
pub type Clock = Arc<dyn Fn() -> Duration + Send + Sync>;

pub use sse_case::request::ReceivedRequest;

/// Requests kept at most: a client in a reconnect loop cannot grow the log without bound.
pub const MAX_LOGGED: usize = 100_000;

/// Every request a server received, with times; share it with [`crate::Server::with_request_log`].
pub struct RequestLog {
    clock: Clock,
    entries: Mutex<Vec<ReceivedRequest>>,
}

impl std::fmt::Debug for RequestLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestLog")
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}

impl RequestLog {
    /// An empty log timed by `clock`.
    pub fn new(clock: Clock) -> Self {
        RequestLog {
            clock,
            entries: Mutex::new(Vec::new()),
        }
    }

    /// Records a request now (past [`MAX_LOGGED`] entries, later requests are not kept).
    pub fn record<B>(&self, req: &http::Request<B>) {
        self.push(req, None);
    }

    /// Records a request that carried a body.
    pub fn record_with_body<B>(&self, req: &http::Request<B>, body: &[u8]) {
        self.push(req, Some(String::from_utf8_lossy(body).into_owned()));
    }

    fn push<B>(&self, req: &http::Request<B>, body: Option<String>) {
        let entry = ReceivedRequest {
            at: (self.clock)(),
            method: req.method().as_str().to_owned(),
            target: req
                .uri()
                .path_and_query()
                .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned()),
            headers: req
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body,
        };
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() < MAX_LOGGED {
            entries.push(entry);
        }
    }

    /// Every request so far, in arrival order.
    pub fn snapshot(&self) -> Vec<ReceivedRequest> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many requests are logged.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether nothing arrived yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
