//! The one interface every implementation under test is driven through: [`Client`] opens a
//! stream and reports what a page (or a library's user) would observe; [`Session`] takes the
//! commands a case gives (close, restart, a user-agent abort). Transport and process management
//! stay outside: a client that connects through the given [`Net`] can run in the simulator as
//! well as on loopback; one that brings its own network stack (a browser, another process) runs
//! on loopback only.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::BoxFuture;
pub use sse_case::client::{Capabilities, Capability, Command, Identity, Settings, profile};
pub use sse_case::observed::{
    Budget, Held, MAX_HELD_BYTES, MAX_OBSERVATIONS, MAX_OBSERVED_BYTES, Observed, Seen,
};
pub use sse_model::{MessageEvent, PageEvent, ReadyState};
use url::Url;

/// Everything needed to open one stream.
#[derive(Clone)]
pub struct OpenRequest {
    /// The stream's URL.
    pub url: Url,
    /// A Last-Event-ID to start with ([`Capability::InitialLastEventId`]).
    pub last_event_id: Option<String>,
    /// The `withCredentials` option.
    pub with_credentials: bool,
    /// The origin of the page that creates the EventSource; CORS applies when the stream's
    /// origin differs ([`Capability::Cors`]). `None`: the case server's own origin.
    pub page_origin: Option<String>,
    /// The case server's own origin (`{origin}`), where a page that is same-origin with the
    /// case lives (even when the stream's URL is not HTTP at all).
    pub server_origin: String,
    /// User-agent choices a configurable client applies.
    pub settings: Settings,
    /// How to reach the server, for clients with [`Capability::Simulated`].
    pub net: Net,
    /// The event types the case's golden traces dispatch besides `message`: a client that can
    /// only listen for types it names in advance (a browser page) listens for these.
    pub event_types: Vec<String>,
    /// Request options beyond the standard (headers, method and body, read timeout) for a
    /// client with the matching capabilities; all off in cases about the standard.
    pub extensions: sse_model::Extensions,
    /// Whether the case needs a client with nothing kept from earlier cases (it sends
    /// credentials or sets cookies, which are per host, whatever the port); otherwise a browser
    /// may run it in a page it keeps running (see [`crate::Case::needs_fresh_client`]).
    pub fresh: bool,
    /// The page calls close() in the handler of this message (1-based:
    /// [`Capability::CloseInHandler`]).
    pub close_on_message: Option<u32>,
    /// Other streams to the same origin, opened first and kept open to the end, as one page
    /// would (their events are not reported): see [`Client::opens_companions`].
    pub companions: Vec<Url>,
}

impl fmt::Debug for OpenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenRequest")
            .field("url", &self.url.as_str())
            .field("last_event_id", &self.last_event_id)
            .field("with_credentials", &self.with_credentials)
            .field("page_origin", &self.page_origin)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Why a client could not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// It does not support this (a capability it did not declare).
    #[error("not supported: {0}")]
    Unsupported(String),
    /// It failed for another reason (a crashed process, a protocol error).
    #[error("{0}")]
    Failed(String),
}

/// One running stream of a client.
pub trait Session: Send {
    /// Carries out a command.
    fn command(&mut self, command: Command) -> BoxFuture<'_, Result<TakenAt, ClientError>>;
}

/// When a client took a command, if it timed that itself on the observer's clock (a browser
/// page stamps it with the clock it stamps everything it saw with, so the order stands); `None`
/// is stamped when the command returns.
pub type TakenAt = Option<Duration>;

/// An implementation under test. Implement this for a client library to run the whole case
/// catalogue against it (see the `mimic` module for `cargo test` integration).
pub trait Client: Send + Sync + 'static {
    /// Name and version, for reports.
    fn identity(&self) -> Identity;

    /// What it can do and report.
    fn capabilities(&self) -> Capabilities;

    /// How many cases it may run at once before its own timing suffers (a browser is heavy);
    /// `None` leaves it to the transport.
    fn concurrency(&self) -> Option<usize> {
        None
    }

    /// The run is over: let go of whatever was kept between cases (a browser kept running for
    /// the next stream case). Called after a column's last case.
    fn finish(&self) {}

    /// What went wrong outside any verdict since last asked (an exchange with another process
    /// not answered in time), for the run's output and the report; asked after `finish`.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }

    /// Whether `open` opens the request's [`OpenRequest::companions`] itself, beside the
    /// case's stream in one page (a browser, whose connection limit per origin is the page's);
    /// otherwise the harness opens each with a session of its own, before the case's.
    fn opens_companions(&self) -> bool {
        false
    }

    /// Opens a stream; everything observable is reported to `observer` as it happens (the
    /// harness stamps the time). The session ends when it is dropped.
    fn open(
        &self,
        request: OpenRequest,
        observer: Observer,
    ) -> BoxFuture<'static, Result<Box<dyn Session>, ClientError>>;
}

pub use sse_http::net::{Conn, Io, Net, loopback_ip};

/// The clock observations are stamped with.
pub type Clock = Arc<dyn Fn() -> Duration + Send + Sync>;

/// The instant a loopback run's time counts from. It starts when the run does and starts again
/// when the client says its stream is about to begin ([`Observer::begin`]), so a client that
/// must load first (a browser) meets the case's timeline from its EventSource on.
#[derive(Debug, Clone)]
pub struct Epoch(Arc<Mutex<tokio::time::Instant>>);

impl Epoch {
    /// An epoch starting now.
    pub fn new() -> Self {
        Epoch(Arc::new(Mutex::new(tokio::time::Instant::now())))
    }

    /// The instant time counts from.
    pub fn get(&self) -> tokio::time::Instant {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A clock reading time since the epoch (zero before it).
    pub fn clock(&self) -> Clock {
        let epoch = self.clone();
        Arc::new(move || tokio::time::Instant::now().saturating_duration_since(epoch.get()))
    }

    /// Starts the epoch again now.
    pub fn restart(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = tokio::time::Instant::now();
    }
}

impl Default for Epoch {
    fn default() -> Self {
        Epoch::new()
    }
}

struct ObserverInner {
    clock: Clock,
    /// Restarted by [`Observer::begin`], where the runner keeps one.
    epoch: Option<Epoch>,
    seen: Mutex<Kept>,
    changed: tokio::sync::Notify,
    /// What its column's running cases hold together.
    budget: Budget,
}

impl Drop for ObserverInner {
    fn drop(&mut self) {
        let kept = self.seen.get_mut().unwrap_or_else(PoisonError::into_inner);
        self.budget.release(kept.bytes);
    }
}

/// What an observer holds, how many bytes of text that is, and why it stopped keeping more.
#[derive(Default)]
struct Kept {
    seen: Vec<Observed>,
    bytes: usize,
    overrun: Option<String>,
}

impl Kept {
    /// Whether `what` fits within the limits; the first that does not sets why.
    fn admit(&mut self, what: &Seen, budget: &Budget) -> bool {
        let bytes = self.bytes.saturating_add(what.text_len());
        if self.seen.len() >= MAX_OBSERVATIONS {
            self.overrun.get_or_insert_with(|| {
                format!("the client reported more than {MAX_OBSERVATIONS} observations")
            });
            false
        } else if bytes > MAX_OBSERVED_BYTES {
            self.overrun.get_or_insert_with(|| {
                format!(
                    "the client reported more than {} MiB of event data and text",
                    MAX_OBSERVED_BYTES >> 20
                )
            });
            false
        } else if !budget.hold(what.text_len()) {
            self.overrun.get_or_insert_with(|| {
                format!(
                    "the cases of this column running at once hold more than {} MiB of what their client reported (this one {} MiB)",
                    MAX_HELD_BYTES >> 20,
                    self.bytes >> 20
                )
            });
            false
        } else {
            self.bytes = bytes;
            true
        }
    }
}

/// Where a client reports what it observes. Cheap to clone; the harness stamps each report with
/// its clock as it arrives.
#[derive(Clone)]
pub struct Observer(Arc<ObserverInner>);

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observer")
            .field("seen", &self.len())
            .finish()
    }
}

impl Observer {
    /// An observer stamping with `clock`.
    pub fn new(clock: Clock) -> Self {
        Observer(Arc::new(ObserverInner {
            clock,
            epoch: None,
            seen: Mutex::new(Kept::default()),
            changed: tokio::sync::Notify::new(),
            budget: Budget::default(),
        }))
    }

    /// An observer stamping with time since `epoch`, which [`Observer::begin`] restarts.
    pub fn with_epoch(epoch: Epoch) -> Self {
        Observer::with_epoch_in(epoch, Budget::default())
    }

    /// The same, holding what it keeps against `budget` (its column's).
    pub fn with_epoch_in(epoch: Epoch, budget: Budget) -> Self {
        Observer(Arc::new(ObserverInner {
            clock: epoch.clock(),
            epoch: Some(epoch),
            seen: Mutex::new(Kept::default()),
            changed: tokio::sync::Notify::new(),
            budget,
        }))
    }

    /// The budget what it keeps is held against.
    pub fn budget(&self) -> Budget {
        self.0.budget.clone()
    }

    /// The client is about to start its stream (construct its EventSource): the case's clock
    /// starts again now. A client that opens at once need not call it; one that must load first
    /// calls it once, before its first request.
    pub fn begin(&self) {
        if let Some(epoch) = &self.0.epoch {
            epoch.restart();
        }
    }

    /// Records an observation the client stamped itself, `at` by this observer's clock (a client
    /// in another process reports with its own timestamps); kept in time order.
    pub fn report_at(&self, at: Duration, what: Seen) {
        let mut kept = self.0.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.admit(&what, &self.0.budget) {
            let i = kept.seen.partition_point(|o| o.at <= at);
            kept.seen.insert(i, Observed { at, what });
        }
        drop(kept);
        self.0.changed.notify_waiters();
    }

    /// Records an observation now (past [`MAX_OBSERVATIONS`] or [`MAX_OBSERVED_BYTES`], later
    /// ones are dropped and the run is [overrun](Observer::overran)).
    pub fn report(&self, what: Seen) {
        let at = (self.0.clock)();
        let mut kept = self.0.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.admit(&what, &self.0.budget) {
            kept.seen.push(Observed { at, what });
        }
        drop(kept);
        self.0.changed.notify_waiters();
    }

    /// Reports `open`.
    pub fn open(&self) {
        self.report(Seen::OPEN);
    }

    /// Reports a message event, as a page sees it: an empty type is `message`.
    pub fn message(&self, event_type: &str, data: &str, last_event_id: &str) {
        self.report(Seen::message(
            event_type.to_owned(),
            data.to_owned(),
            last_event_id.to_owned(),
        ));
    }

    /// Reports `error`, with readyState right after when the client knows it.
    pub fn error(&self, ready_state: Option<ReadyState>, message: &str) {
        self.report(Seen::error(
            ready_state,
            (!message.is_empty()).then(|| message.to_owned()),
        ));
    }

    /// The client made the harness hold more than it allows (`why`, the first such reason is
    /// kept): the run ends, and the case fails saying so.
    pub fn overrun(&self, why: String) {
        let mut kept = self.0.seen.lock().unwrap_or_else(PoisonError::into_inner);
        kept.overrun.get_or_insert(why);
        drop(kept);
        self.0.changed.notify_waiters();
    }

    /// Why the harness stopped keeping what the client reported, if it did.
    pub fn overran(&self) -> Option<String> {
        let kept = self.0.seen.lock().unwrap_or_else(PoisonError::into_inner);
        kept.overrun.clone()
    }

    /// The time now, by the observer's clock.
    pub fn now(&self) -> Duration {
        (self.0.clock)()
    }

    /// Reads everything so far in place, without copying it (the observer waits meanwhile).
    pub fn inspect<R>(&self, f: impl FnOnce(&[Observed]) -> R) -> R {
        let kept = self.0.seen.lock().unwrap_or_else(PoisonError::into_inner);
        f(&kept.seen)
    }

    /// Everything so far, moved out: for a runner whose run has ended (nothing is copied). The
    /// bytes stay counted against the process's budget until the returned [`Held`] is dropped
    /// (with the run, once it is judged and reported).
    pub fn take(&self) -> (Vec<Observed>, Held) {
        let mut kept = self.0.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let held = Held::new(self.0.budget.clone(), std::mem::take(&mut kept.bytes));
        (std::mem::take(&mut kept.seen), held)
    }

    /// Everything so far.
    pub fn snapshot(&self) -> Vec<Observed> {
        self.since(0)
    }

    /// The observations from the `from`-th on (a runner keeps up without copying it all).
    pub fn since(&self, from: usize) -> Vec<Observed> {
        let kept = self.0.seen.lock().unwrap_or_else(PoisonError::into_inner);
        kept.seen
            .get(from..)
            .map(<[Observed]>::to_vec)
            .unwrap_or_default()
    }

    /// How many observations so far.
    pub fn len(&self) -> usize {
        self.0
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .seen
            .len()
    }

    /// Whether nothing was observed yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Resolves at the next report.
    pub async fn changed(&self) {
        self.0.changed.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::{Budget, Epoch, MessageEvent, Observer, PageEvent, Seen};

    fn message(bytes: usize) -> Seen {
        Seen::Page(PageEvent::Message(MessageEvent {
            event_type: "message".into(),
            data: "x".repeat(bytes),
            last_event_id: String::new(),
            origin: None,
        }))
    }

    /// Cases of one column share a budget; another column's cases are not charged for it.
    #[test]
    fn a_column_that_floods_uses_its_own_budget_only() {
        let flooding = Budget::of_column("test-flooding-column");
        let a = Observer::with_epoch_in(Epoch::new(), flooding.clone());
        let b = Observer::with_epoch_in(Epoch::new(), flooding);
        a.report(message(30 << 20));
        assert_eq!(a.overran(), None);
        b.report(message(20 << 20));
        assert!(
            b.overran().is_some_and(|why| why.contains("this column")),
            "{:?}",
            b.overran()
        );
        let other = Observer::with_epoch_in(Epoch::new(), Budget::of_column("test-other-column"));
        other.report(message(20 << 20));
        assert_eq!(other.overran(), None, "another column is not charged");
        // What a run held is given back with it.
        let (_, held) = a.take();
        drop((a, held));
        let c = Observer::with_epoch_in(Epoch::new(), Budget::of_column("test-flooding-column"));
        c.report(message(20 << 20));
        assert_eq!(c.overran(), None);
    }
}
