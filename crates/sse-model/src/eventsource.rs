//! The `EventSource` processing model (`#the-eventsource-interface`, `#sse-processing-model`):
//! readyState, announce / reestablish / fail the connection, close(), the reconnection request.
//!
//! Sans-IO in the style of quinn-proto: time is an argument, inputs are `handle_*` calls, outputs
//! are pulled with [`EventSource::poll`]. The standard's "queue a task" steps become entries of an
//! internal task queue that run when polled, so a `close()` between two polls cancels the tasks
//! still queued, exactly as a task that finds readyState CLOSED does nothing.

use std::collections::VecDeque;
use std::time::Duration;

use url::Url;

use crate::dispatch::{Event, Sink};
use crate::mime;
pub use crate::page::ReadyState;
use crate::page::{MessageEvent, PageEvent};
use crate::parser::{Limits, ParseError, Parser};
use crate::reconnect::{Backoff, DEFAULT_RECONNECTION_TIME, reconnect_delay};

/// How an `EventSource` is set up: the user agent's choices the standard leaves open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The reconnection time before any `retry` field (`IMPL-RECONNECT-INITIAL`).
    pub initial_reconnection_time: Duration,
    /// Extra waiting after failed attempts (`IMPL-RECONNECT-BACKOFF`).
    pub backoff: Backoff,
    /// Parser memory bounds (`IMPL-LIMITS`); breaking one is treated as a network error.
    pub limits: Limits,
    /// The `withCredentials` constructor option (`CTOR-WITH-CREDENTIALS`).
    pub with_credentials: bool,
    /// Redirects Fetch follows before it gives a network error (Fetch uses 20).
    pub max_redirects: u32,
    /// The origin (ASCII serialization) of the page that creates the `EventSource`; `None` means
    /// the origin of the constructor's URL, so CORS applies only once a redirect leaves it
    /// (`REQ-CORS`, `REQ-CORS-REDIRECT`).
    pub document_origin: Option<String>,
    /// Last event ID string to start with, as a client that persists it might (`IMPL-LAST-EVENT-ID-INITIAL`).
    pub initial_last_event_id: String,
    /// How to read the points where the standard's text allows more than one reading.
    pub readings: Readings,
    /// Request options beyond the standard that some client libraries offer.
    pub extensions: Extensions,
}

/// What some client libraries let their user ask beyond the standard's `EventSource`
/// (LaunchDarkly's optional features: `EXT-*` requirements). All off by default; with all off,
/// the model is the standard's `EventSource`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Extensions {
    /// Headers (lower-case names) added to every request, after the standard's.
    pub headers: Vec<(String, String)>,
    /// The method instead of `GET` (`POST`, `REPORT`), on every request.
    pub method: Option<String>,
    /// The request body, sent again with every request.
    pub body: Option<String>,
    /// A connection that receives no bytes for this long is lost, as on a network error.
    pub read_timeout: Option<Duration>,
}

/// The model's reading of each point where the standard's text is ambiguous (each is an
/// `ambiguity` note in `spec/requirements.toml`). The default is the literal text; the others
/// are what browsers and web-platform-tests do, so the harness can accept either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Readings {
    /// A new stream's last event ID buffer starts with the last event ID string instead of
    /// empty, so an event without `id` on a reconnected stream keeps the old id
    /// (`DISPATCH-ID-BUFFER-PER-STREAM`; web-platform-tests `format-field-id-2`).
    pub keep_last_event_id: bool,
    /// A reconnection fetches the URL the last redirect led to instead of the constructor's
    /// (`CONN-REDIRECT-RECONNECT-URL`: Fetch appends redirects to the request's URL list).
    pub reconnect_to_redirect_target: bool,
    /// A CORS failure reestablishes the connection, as the text's default for a network error
    /// does, instead of failing it (`CONN-FUTILE`: a client may fail a connection it knows
    /// retrying cannot fix; browsers and web-platform-tests fail it).
    pub cors_failure_reestablishes: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            initial_reconnection_time: DEFAULT_RECONNECTION_TIME,
            backoff: Backoff::None,
            limits: Limits::default(),
            with_credentials: false,
            max_redirects: 20,
            document_origin: None,
            initial_last_event_id: String::new(),
            readings: Readings::default(),
            extensions: Extensions::default(),
        }
    }
}

/// A request the driver must send: `GET` unless an extension says otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, or the method of [`Extensions::method`].
    pub method: String,
    /// Absolute URL.
    pub url: Url,
    /// Header names (lower case) and values, in the order a user agent would add them, then
    /// those of [`Extensions::headers`].
    pub headers: Vec<(String, String)>,
    /// How many of `headers`, at the end, come from [`Extensions::headers`].
    pub extension_headers: usize,
    /// The body of [`Extensions::body`].
    pub body: Option<String>,
    /// Whether credentials (cookies) go with the request (`withCredentials`).
    pub credentials: bool,
}

impl Request {
    /// The headers of [`Extensions::headers`].
    pub fn extension_headers(&self) -> &[(String, String)] {
        &self.headers[self.headers.len().saturating_sub(self.extension_headers)..]
    }

    /// The first value of a header, by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The status and headers of a response, as the driver received them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Header names (any case) and values (decoded by the driver, lossily if need be).
    pub headers: Vec<(String, String)>,
}

impl Response {
    /// A response with a status and headers given as pairs of string slices.
    pub fn new(status: u16, headers: &[(&str, &str)]) -> Self {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    /// All values of a header, by case-insensitive name.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a fetch ended without a usable response or body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkError {
    /// The fetch was aborted (by the user agent, not by close()): the connection fails.
    Aborted,
    /// Any other network error (refused, reset, timed out, TLS, …): the connection is reestablished.
    Failed,
}

/// What the model asks of its driver: network I/O. Timers are not among them: the driver asks
/// [`EventSource::poll_timeout`] after polling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Io {
    /// Send this request; any earlier fetch is over.
    Fetch(Request),
    /// Abort the fetch in flight (close(), or a parser limit broken).
    Abort,
}

/// What the model produces, in order: I/O for the driver, or an event for the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// The driver's business.
    Io(Io),
    /// The page's business.
    Event(PageEvent),
}

/// The standard's queued tasks, plus driver actions kept in the same order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Task {
    /// Not a task: I/O for the driver, which does not depend on readyState.
    Io(Io),
    /// Announce the connection: OPEN and `open`, unless CLOSED.
    Announce,
    /// Dispatch a message event, unless CLOSED.
    Dispatch(MessageEvent),
    /// Reestablish, first task: CONNECTING and `error`, unless CLOSED.
    ReestablishError,
    /// Reestablish, last task: fetch again, only if still CONNECTING.
    Reconnect,
    /// Fail the connection: CLOSED and `error`, unless already CLOSED.
    Fail,
}

/// Where the fetch of this `EventSource` stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fetch {
    /// No fetch in flight and no timer (before start, after close or fail).
    Idle,
    /// Request sent, waiting for the response; `redirects` followed so far.
    AwaitingResponse { redirects: u32 },
    /// Response accepted; body bytes are being interpreted.
    Streaming,
    /// Waiting for the reconnection timer.
    Waiting { at: Duration },
}

/// A spec-exact `EventSource`, without I/O.
#[derive(Debug, Clone)]
pub struct EventSource {
    config: Config,
    url: Url,
    /// The URL of the current fetch: `url`, or where redirects led.
    current_url: Url,
    /// Where the announced connection's redirects led (its final URL).
    final_url: Url,
    /// The serialized origin of the announced stream's final URL (events' `origin`).
    origin: String,
    ready_state: ReadyState,
    reconnection_time: Duration,
    parser: Parser,
    fetch: Fetch,
    tasks: VecDeque<Task>,
    /// Attempts in a row that ended before being announced (drives [`Backoff`]).
    failed_attempts: u32,
    /// Whether the current attempt has been announced.
    announced: bool,
    /// Fetch's response tainting of the current fetch is "cors": some hop went to an origin
    /// other than the page's. It stays so for the rest of the fetch, redirects included.
    cors: bool,
    /// Fetch's redirect-taint of the current fetch is not "same-origin": a redirect left an
    /// origin other than the page's for yet another one, so the request's origin is `null`.
    origin_tainted: bool,
    /// While streaming with [`Extensions::read_timeout`]: when the connection is lost unless
    /// more bytes come first.
    read_deadline: Option<Duration>,
}

/// The URL given to the constructor did not parse (`CTOR-URL-PARSE`: SyntaxError).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SyntaxError: {url:?} is not a valid URL: {reason}")]
pub struct InvalidUrl {
    /// The string given.
    pub url: String,
    /// What the URL parser said.
    pub reason: url::ParseError,
}

impl EventSource {
    /// The constructor: parses the URL and queues the first request.
    ///
    /// `base` resolves a relative `url`, as the relevant settings object's base URL would.
    pub fn new(url: &str, base: Option<&Url>, config: Config) -> Result<Self, InvalidUrl> {
        let url = Url::options()
            .base_url(base)
            .parse(url)
            .map_err(|reason| InvalidUrl {
                url: url.to_owned(),
                reason,
            })?;
        let mut parser = Parser::new(config.limits);
        parser.set_last_event_id(&config.initial_last_event_id);
        let mut es = EventSource {
            reconnection_time: config.initial_reconnection_time,
            current_url: url.clone(),
            final_url: url.clone(),
            origin: String::new(),
            url,
            ready_state: ReadyState::Connecting,
            parser,
            fetch: Fetch::Idle,
            tasks: VecDeque::new(),
            failed_attempts: 0,
            announced: false,
            cors: false,
            origin_tainted: false,
            read_deadline: None,
            config,
        };
        if matches!(es.url.scheme(), "http" | "https") {
            let request = es.start_fetch();
            es.tasks.push_back(Task::Io(Io::Fetch(request)));
        } else {
            // Fetch answers any other scheme (ftp:, about:, mailto:, javascript:) with a network
            // error that no retry can fix: the connection fails without a request (CONN-FUTILE).
            es.fail();
        }
        Ok(es)
    }

    /// The `url` attribute: the URL given to the constructor, resolved.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The `withCredentials` attribute.
    pub fn with_credentials(&self) -> bool {
        self.config.with_credentials
    }

    /// The `readyState` attribute as the page would read it now.
    pub fn ready_state(&self) -> ReadyState {
        self.ready_state
    }

    /// The reconnection time: initial value, or the last valid `retry` field.
    pub fn reconnection_time(&self) -> Duration {
        self.reconnection_time
    }

    /// The last event ID string, which a reconnection sends as `Last-Event-ID`.
    pub fn last_event_id(&self) -> &str {
        self.parser.last_event_id()
    }

    /// When [`EventSource::handle_timeout`] is next due: a reconnection waiting, or a read
    /// timeout ([`Extensions::read_timeout`]) running.
    pub fn poll_timeout(&self) -> Option<Duration> {
        match self.fetch {
            Fetch::Waiting { at } => Some(at),
            Fetch::Streaming => self.read_deadline,
            _ => None,
        }
    }

    /// The next output, running queued tasks against the current readyState. After the last,
    /// [`EventSource::poll_timeout`] tells when to call [`EventSource::handle_timeout`].
    pub fn poll(&mut self) -> Option<Output> {
        while let Some(task) = self.tasks.pop_front() {
            if let Some(action) = self.run(task) {
                return Some(action);
            }
        }
        None
    }

    fn run(&mut self, task: Task) -> Option<Output> {
        let event = match task {
            Task::Io(io) => return Some(Output::Io(io)),
            Task::Announce => {
                if self.ready_state == ReadyState::Closed {
                    return None;
                }
                self.ready_state = ReadyState::Open;
                PageEvent::Open
            }
            Task::Dispatch(event) => {
                if self.ready_state == ReadyState::Closed {
                    return None;
                }
                PageEvent::Message(event)
            }
            Task::ReestablishError => {
                if self.ready_state == ReadyState::Closed {
                    return None;
                }
                self.ready_state = ReadyState::Connecting;
                PageEvent::error(ReadyState::Connecting)
            }
            Task::Reconnect => {
                if self.ready_state != ReadyState::Connecting {
                    return None;
                }
                return Some(Output::Io(Io::Fetch(self.start_fetch())));
            }
            Task::Fail => {
                if self.ready_state == ReadyState::Closed {
                    return None;
                }
                self.ready_state = ReadyState::Closed;
                PageEvent::error(ReadyState::Closed)
            }
        };
        Some(Output::Event(event))
    }

    /// The response (status and headers) of the current fetch arrived.
    pub fn handle_response(&mut self, now: Duration, response: &Response) {
        let Fetch::AwaitingResponse { redirects } = self.fetch else {
            return;
        };
        // Fetch checks CORS before it looks at redirects: a redirect response of a CORS fetch
        // must allow the origin too (`REQ-CORS-REDIRECT`).
        if !self.cors_allows(response) {
            // A CORS failure is a network error. Retrying cannot fix it, so by default we fail
            // (`REQ-CORS`, `CONN-FUTILE`); the text's default reading reestablishes.
            if self.config.readings.cors_failure_reestablishes {
                self.reestablish(now);
            } else {
                self.fail();
            }
            return;
        }
        if is_redirect(response.status) {
            if let Some(location) = response.header_values("location").next() {
                self.follow_redirect(now, location, redirects);
                return;
            }
        }
        if response.status != 200 || !mime::is_event_stream(response.header_values("content-type"))
        {
            self.fail();
            return;
        }
        self.fetch = Fetch::Streaming;
        self.origin = self.current_url.origin().ascii_serialization();
        self.final_url = self.current_url.clone();
        self.parser.reset_stream();
        if self.config.readings.keep_last_event_id {
            let kept = self.parser.last_event_id().to_owned();
            self.parser.set_last_event_id(&kept);
        }
        self.announced = true;
        self.failed_attempts = 0;
        self.tasks.push_back(Task::Announce);
        if let Some(limit) = self.config.extensions.read_timeout {
            let at = now.saturating_add(limit);
            self.read_deadline = Some(at);
        }
    }

    /// Body bytes of the current (announced) response arrived.
    pub fn handle_body(&mut self, now: Duration, chunk: &[u8]) {
        if self.fetch != Fetch::Streaming {
            return;
        }
        if let (Some(limit), false) = (self.config.extensions.read_timeout, chunk.is_empty()) {
            self.read_deadline = Some(now.saturating_add(limit));
        }
        let mut sink = TaskSink {
            tasks: &mut self.tasks,
            reconnection_time: &mut self.reconnection_time,
            origin: &self.origin,
        };
        if let Err(ParseError::LineTooLong { .. } | ParseError::EventTooLarge { .. }) =
            self.parser.feed(chunk, &mut sink)
        {
            // Our limit, not the standard's: treat it as the network error it would cause.
            self.tasks.push_back(Task::Io(Io::Abort));
            self.reestablish(now);
        }
    }

    /// The body of the current response ended cleanly.
    pub fn handle_end_of_body(&mut self, now: Duration) {
        if self.fetch != Fetch::Streaming {
            return;
        }
        // Whatever follows the last empty line is discarded (`PARSE-EOF-DISCARD`).
        self.parser.reset_stream();
        self.reestablish(now);
    }

    /// The current fetch failed, before or after its response arrived.
    pub fn handle_network_error(&mut self, now: Duration, error: NetworkError) {
        if !matches!(
            self.fetch,
            Fetch::AwaitingResponse { .. } | Fetch::Streaming
        ) {
            return;
        }
        self.parser.reset_stream();
        match error {
            NetworkError::Aborted => self.fail(),
            NetworkError::Failed => self.reestablish(now),
        }
    }

    /// Time passed: if the reconnection timer is due, the reconnection task is queued; if the
    /// read timeout ran out, the connection is lost (abort, reestablish), and if bytes came in
    /// the meantime, the timer is set again for the new deadline.
    pub fn handle_timeout(&mut self, now: Duration) {
        match (self.fetch, self.read_deadline) {
            (Fetch::Waiting { at }, _) if now >= at => {
                self.fetch = Fetch::Idle;
                self.tasks.push_back(Task::Reconnect);
            }
            (Fetch::Streaming, Some(at)) if now >= at => {
                self.read_deadline = None;
                self.parser.reset_stream();
                self.tasks.push_back(Task::Io(Io::Abort));
                self.reestablish(now);
            }
            // Nothing is due: no timer of ours runs, the reconnection timer is not yet up, or
            // bytes came in and moved the read deadline (poll_timeout() tells the new one).
            (Fetch::Idle | Fetch::AwaitingResponse { .. } | Fetch::Waiting { .. }, _)
            | (Fetch::Streaming, _) => {}
        }
    }

    /// The `close()` method: abort the fetch, CLOSED, no event.
    pub fn close(&mut self) {
        if matches!(
            self.fetch,
            Fetch::AwaitingResponse { .. } | Fetch::Streaming
        ) {
            self.tasks.push_front(Task::Io(Io::Abort));
        }
        self.fetch = Fetch::Idle;
        self.read_deadline = None;
        self.ready_state = ReadyState::Closed;
        self.parser.reset_stream();
    }

    /// Starts a fetch of the `EventSource`'s request; the caller hands the request to the driver.
    fn start_fetch(&mut self) -> Request {
        self.current_url = if self.config.readings.reconnect_to_redirect_target {
            self.final_url.clone()
        } else {
            self.url.clone()
        };
        self.fetch = Fetch::AwaitingResponse { redirects: 0 };
        self.announced = false;
        self.cors = false;
        self.origin_tainted = false;
        self.request(self.current_url.clone())
    }

    /// The page's origin, serialized: Fetch's request origin.
    fn page_origin(&self) -> String {
        self.config
            .document_origin
            .clone()
            .unwrap_or_else(|| self.url.origin().ascii_serialization())
    }

    /// The request for one hop of the current fetch; a hop to another origin than the page's
    /// makes the rest of the fetch a CORS one.
    fn request(&mut self, url: Url) -> Request {
        if url.origin().ascii_serialization() != self.page_origin() {
            self.cors = true;
        }
        let mut headers = vec![("accept".to_owned(), "text/event-stream".to_owned())];
        // Cache mode "no-store": Fetch adds these two when the request has neither.
        headers.push(("cache-control".to_owned(), "no-cache".to_owned()));
        headers.push(("pragma".to_owned(), "no-cache".to_owned()));
        let last_event_id = self.parser.last_event_id();
        if !last_event_id.is_empty() {
            headers.push(("last-event-id".to_owned(), last_event_id.to_owned()));
        }
        if let Some(origin) = self.cors_origin() {
            headers.push(("origin".to_owned(), origin));
        }
        let extension_headers = self.config.extensions.headers.len();
        headers.extend(self.config.extensions.headers.iter().cloned());
        Request {
            method: self
                .config
                .extensions
                .method
                .clone()
                .unwrap_or_else(|| "GET".to_owned()),
            url,
            headers,
            extension_headers,
            body: self.config.extensions.body.clone(),
            credentials: self.config.with_credentials,
        }
    }

    /// The `Origin` a hop of a CORS fetch carries (the page's, or `null` once a redirect tainted
    /// it); `None` while the fetch is not a CORS one (a same-origin GET has no `Origin`).
    fn cors_origin(&self) -> Option<String> {
        if !self.cors {
            None
        } else if self.origin_tainted {
            Some("null".to_owned())
        } else {
            Some(self.page_origin())
        }
    }

    /// Fetch's CORS check on a response of a CORS fetch.
    fn cors_allows(&self, response: &Response) -> bool {
        let Some(origin) = self.cors_origin() else {
            return true;
        };
        let mut allow_origin = response.header_values("access-control-allow-origin");
        let (Some(allowed), None) = (allow_origin.next(), allow_origin.next()) else {
            return false;
        };
        if !self.config.with_credentials {
            return allowed == "*" || allowed == origin;
        }
        allowed == origin
            && response
                .header_values("access-control-allow-credentials")
                .next()
                == Some("true")
    }

    fn follow_redirect(&mut self, now: Duration, location: &str, redirects: u32) {
        let target = self.current_url.join(location);
        match target {
            Ok(target)
                if redirects < self.config.max_redirects
                    && matches!(target.scheme(), "http" | "https")
                    && !self.credentials_refused(&target) =>
            {
                // Leaving an origin other than the page's for yet another one taints the
                // request's origin: it is `null` from here on.
                let page = self.page_origin();
                let from = self.current_url.origin().ascii_serialization();
                if from != target.origin().ascii_serialization() && from != page {
                    self.origin_tainted = true;
                }
                self.current_url = target.clone();
                self.fetch = Fetch::AwaitingResponse {
                    redirects: redirects + 1,
                };
                let request = self.request(target);
                self.tasks.push_back(Task::Io(Io::Fetch(request)));
            }
            // Too many redirects, a bad Location, a non-HTTP(S) target or credentials in a CORS
            // redirect: a network error.
            _ => self.reestablish(now),
        }
    }

    /// Fetch refuses to follow a redirect to a URL with credentials in it when the fetch is a
    /// CORS one or the URL is on another origin than the page's.
    fn credentials_refused(&self, target: &Url) -> bool {
        let credentials = !target.username().is_empty() || target.password().is_some();
        credentials && (self.cors || target.origin().ascii_serialization() != self.page_origin())
    }

    fn reestablish(&mut self, now: Duration) {
        self.read_deadline = None;
        if !self.announced {
            self.failed_attempts = self.failed_attempts.saturating_add(1);
        }
        let delay = reconnect_delay(
            self.reconnection_time,
            self.config.backoff,
            self.failed_attempts,
        );
        let at = now.saturating_add(delay);
        self.fetch = Fetch::Waiting { at };
        self.tasks.push_back(Task::ReestablishError);
    }

    fn fail(&mut self) {
        self.read_deadline = None;
        self.fetch = Fetch::Idle;
        self.tasks.push_back(Task::Fail);
    }
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Turns parser output into queued tasks and reconnection-time changes.
struct TaskSink<'a> {
    tasks: &'a mut VecDeque<Task>,
    reconnection_time: &'a mut Duration,
    origin: &'a str,
}

impl Sink for TaskSink<'_> {
    fn event(&mut self, event: &Event<'_>) {
        self.tasks.push_back(Task::Dispatch(MessageEvent {
            event_type: event.event_type.to_owned(),
            data: event.data.to_owned(),
            last_event_id: event.last_event_id.to_owned(),
            origin: Some(self.origin.to_owned()),
        }));
    }

    fn retry(&mut self, millis: u64) {
        *self.reconnection_time = Duration::from_millis(millis);
    }
}
