//! What any implementation is judged against, derived from a case and its golden trace: the
//! page observations in order, the requests the server must receive (path, Last-Event-ID,
//! Accept), and for each reconnection the wait it must respect, with where that wait comes from
//! (a `retry` field, or the user agent's own initial reconnection time, which is
//! implementation-defined). Times in the golden trace are the model's; they are used as rules
//! (at least this long), never as exact values.

use std::time::Duration;

use serde::Serialize;
use sse_case::reading::Reading;
use sse_model::{
    Backoff, DEFAULT_RECONNECTION_TIME, Item, Limits, Observation, PageEvent, ReadyState, Trace,
    TraceLine,
};

use sse_case::case::Case;
use sse_case::client::Command;

/// A page step with the time the model took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectedStep {
    /// The model's time (a reference, not a rule).
    #[serde(with = "sse_case::millis")]
    pub at: Duration,
    /// Which line of the golden trace it is.
    pub line: usize,
    /// Another failed attempt while the server cannot be reached (an `error` after an attempt
    /// that never arrived, right after an `error`): how many such attempts a client makes
    /// depends on its own timing, so any number matches, none included.
    pub repeatable: bool,
    /// An `error` (CONNECTING) ending an attempt that never opened: a network error before any
    /// response, after which the standard lets a client that knows retrying to be futile fail
    /// the connection instead (CONN-FUTILE).
    pub after_network_error: bool,
    /// What. A message's origin is `None` for `{origin}` (the stream stayed on the first
    /// origin); `{origin}` and `{other-origin}` stand for the run's origins.
    #[serde(flatten)]
    pub step: PageEvent,
}

/// Why a request is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RequestKind {
    /// The constructor's request.
    First,
    /// Following a redirect, at once.
    Redirect,
    /// Reestablishing the connection after the `error` at page step `after_error`.
    Reconnect(Wait),
}

/// Where a reconnection's minimum wait comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// A `retry` field set the reconnection time: every client must wait at least that long.
    Retry,
    /// No `retry` was seen: the reconnection time is the client's own initial value.
    Initial,
}

/// The wait rule of one reconnection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Wait {
    /// Index of the page step (an `error`) the wait starts at.
    pub after_error: usize,
    /// The reconnection time in effect: the least a client may wait.
    #[serde(with = "sse_case::millis")]
    pub min: Duration,
    /// Where `min` comes from.
    pub basis: Basis,
    /// Whether the attempt before it failed (never opened): extra waiting, such as backoff, is
    /// then what the standard suggests.
    pub after_failure: bool,
}

/// A request the server must receive, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectedRequest {
    /// The model's time.
    #[serde(with = "sse_case::millis")]
    pub at: Duration,
    /// Which line of the golden trace it is.
    pub line: usize,
    /// `GET`, or an extension's method.
    pub method: String,
    /// Path and query on the case server (a full URL when the model went to another origin).
    pub target: String,
    /// Extension headers it must carry, with their values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// The extension body it must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The `Last-Event-ID` it carries, or `None` for no header.
    pub last_event_id: Option<String>,
    /// The `Accept` it carries.
    pub accept: Option<String>,
    /// The `Origin` a browser-like client (one with the `cors` capability) must send, or `None`
    /// for none; `{origin}` and `{other-origin}` stand for the run's origins.
    pub origin: Option<String>,
    /// How many page steps come before it: requests are matched to received ones between the
    /// same page observations.
    pub after_page: usize,
    /// Whether the model's request reached the server; one that did not (a refused connection,
    /// an attempt abandoned in flight) may or may not arrive from another implementation.
    pub received: bool,
    /// Why it is made.
    #[serde(flatten)]
    pub kind: RequestKind,
}

/// Everything a run is judged against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expectation {
    /// The page's observations, in order.
    pub page: Vec<ExpectedStep>,
    /// The requests, in order.
    pub requests: Vec<ExpectedRequest>,
    /// The commands the harness gives, at their times.
    pub commands: Vec<(u64, Command)>,
    /// Whether the page closes the EventSource itself (in a message handler).
    pub closes_itself: bool,
    /// How long nothing more may happen after the last expected step (the rest of the case's
    /// run after its last golden line).
    #[serde(with = "sse_case::millis")]
    pub settle: Duration,
    /// The golden trace it comes from.
    #[serde(serialize_with = "trace_text")]
    pub golden: Trace,
}

fn trace_text<S: serde::Serializer>(trace: &Trace, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&trace.to_string())
}

/// A case without a golden trace cannot be judged yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "case {0} has no golden trace yet: run `INSTA_UPDATE=always cargo test -p sse-harness --test catalogue -- model-sim::{0}` and review fixtures/snapshots/cases/{0}.snap"
)]
pub struct NoGolden(pub String);

impl Expectation {
    /// Derives the expectation of a case from its golden trace.
    pub fn of(case: &Case) -> Result<Self, NoGolden> {
        let golden = case
            .golden
            .clone()
            .ok_or_else(|| NoGolden(case.id.clone()))?;
        Ok(derive(case, golden))
    }

    /// Every acceptable expectation of a case: the literal reading's first, then one per
    /// reading of an ambiguous text that changes what the case shows.
    pub fn readings(case: &Case) -> Result<Vec<(Vec<Reading>, Self)>, NoGolden> {
        let mut all = vec![(Vec::new(), Expectation::of(case)?)];
        for (readings, golden) in &case.alternatives {
            all.push((readings.clone(), derive(case, golden.clone())));
        }
        Ok(all)
    }
}

impl Expectation {
    /// Whether the case ends with the client stopped for good (it gave up, or the page closed
    /// it): nothing may follow, however late.
    pub fn ends_for_good(&self) -> bool {
        self.closes_itself
            || self
                .commands
                .iter()
                .any(|(_, c)| matches!(c, Command::Close | Command::UserAgentAbort))
            || matches!(
                self.page.last().map(|s| &s.step),
                Some(PageEvent::Error {
                    ready_state: Some(ReadyState::Closed),
                    ..
                })
            )
    }

    /// Whether the case ends waiting to reconnect: what follows is the next attempt, which the
    /// case's run was too short to show.
    pub fn ends_reconnecting(&self) -> bool {
        !self.ends_for_good()
            && matches!(
                self.page.last().map(|s| &s.step),
                Some(PageEvent::Error {
                    ready_state: Some(ReadyState::Connecting),
                    ..
                })
            )
    }
}

/// The reconnection time the model starts with in this case.
fn initial_reconnection_time(case: &Case) -> Duration {
    case.client
        .reconnection_ms
        .map_or(DEFAULT_RECONNECTION_TIME, Duration::from_millis)
}

/// Whether any stream served to the first `served` requests can have set the reconnection time
/// (a 200 whose body has a valid `retry` field; other bodies are never parsed).
fn retry_served(case: &Case, served: usize) -> bool {
    if let Some(r) = &case.server.reference {
        return r.retry_ms != Some(0);
    }
    case.server.responses.iter().take(served).any(|r| {
        r.status == 200
            && sse_model::parse_stream(&r.body_bytes(), Limits::UNBOUNDED)
                .is_ok_and(|items| items.iter().any(|i| matches!(i, Item::Retry(_))))
    })
}

fn derive(case: &Case, golden: Trace) -> Expectation {
    let mut d = Deriver::new(case);
    for (line, l) in golden.lines.iter().enumerate() {
        match &l.what {
            Observation::Request { .. } => {
                d.request(line, l);
                continue;
            }
            Observation::Page(PageEvent::Open) => d.open(line, l.at),
            Observation::Page(message @ PageEvent::Message(_)) => d.page.push(ExpectedStep {
                at: l.at,
                line,
                repeatable: false,
                after_network_error: false,
                step: message.clone(),
            }),
            Observation::Page(PageEvent::Error { ready_state, .. }) => {
                d.error(line, l.at, ready_state.unwrap_or(ReadyState::Connecting));
                continue;
            }
            // The page's command and the model's own abort: not what a client reports.
            Observation::Closed | Observation::Abort => {}
        }
        d.last_step_was_error = false;
        d.previous_was_request = false;
    }
    let last = golden.lines.last().map_or(Duration::ZERO, |l| l.at);
    let commands = sse_case::schedule::commands(case)
        .into_iter()
        .map(|(at, c)| (u64::try_from(at.as_millis()).unwrap_or(u64::MAX), c))
        .collect();
    Expectation {
        page: d.page,
        requests: d.requests,
        commands,
        closes_itself: case.client.close_on_message.is_some(),
        settle: case.duration().saturating_sub(last),
        golden,
    }
}

/// What [`derive`] keeps while it reads a golden trace line by line.
struct Deriver<'a> {
    case: &'a Case,
    backoff: Backoff,
    initial: Duration,
    page: Vec<ExpectedStep>,
    requests: Vec<ExpectedRequest>,
    previous_was_request: bool,
    /// The error a reconnection waits from, and whether the attempt before it opened.
    pending_error: Option<(usize, Duration)>,
    opened_this_attempt: bool,
    ever_opened: bool,
    failed_in_a_row: u32,
    /// Whether the last request reached the server, and whether the last page step is an error.
    last_request_received: bool,
    last_step_was_error: bool,
}

impl<'a> Deriver<'a> {
    fn new(case: &'a Case) -> Self {
        let backoff = case
            .client
            .backoff
            .map_or(Backoff::None, |b| Backoff::Exponential {
                base: Duration::from_millis(b.base_ms),
                max: Duration::from_millis(b.max_ms),
            });
        Deriver {
            case,
            backoff,
            initial: initial_reconnection_time(case),
            page: Vec::new(),
            requests: Vec::new(),
            previous_was_request: false,
            pending_error: None,
            opened_this_attempt: false,
            ever_opened: false,
            failed_in_a_row: 0,
            last_request_received: true,
            last_step_was_error: false,
        }
    }

    /// What kind of request one at `at` is: the first, a redirect, or a reconnection with the
    /// wait it must respect.
    fn kind(&mut self, at: Duration) -> RequestKind {
        if self.requests.is_empty() {
            return RequestKind::First;
        }
        if self.previous_was_request {
            return RequestKind::Redirect;
        }
        let Some((after_error, error_at)) = self.pending_error.take() else {
            return RequestKind::Redirect;
        };
        let waited = at.saturating_sub(error_at);
        let extra = self.backoff.extra(self.failed_in_a_row);
        let min = waited.saturating_sub(extra);
        let basis = if self.ever_opened && retry_served(self.case, self.requests.len()) {
            Basis::Retry
        } else {
            Basis::Initial
        };
        RequestKind::Reconnect(Wait {
            after_error,
            min: if basis == Basis::Initial {
                self.initial.min(min)
            } else {
                min
            },
            basis,
            after_failure: !self.opened_this_attempt,
        })
    }

    fn request(&mut self, line: usize, l: &TraceLine) {
        let Observation::Request {
            method,
            target,
            accept,
            last_event_id,
            origin,
            headers,
            body,
            received,
        } = &l.what
        else {
            return;
        };
        let kind = self.kind(l.at);
        if !matches!(kind, RequestKind::Redirect) {
            self.opened_this_attempt = false;
        }
        self.last_request_received = *received;
        self.requests.push(ExpectedRequest {
            at: l.at,
            line,
            method: method.clone(),
            target: target.clone(),
            headers: headers.clone(),
            body: body.clone(),
            last_event_id: last_event_id.clone(),
            accept: accept.clone(),
            origin: origin.clone(),
            after_page: self.page.len(),
            received: *received,
            kind,
        });
        self.previous_was_request = true;
    }

    fn open(&mut self, line: usize, at: Duration) {
        self.opened_this_attempt = true;
        self.ever_opened = true;
        self.failed_in_a_row = 0;
        self.page.push(ExpectedStep {
            at,
            line,
            repeatable: false,
            after_network_error: false,
            step: PageEvent::Open,
        });
    }

    fn error(&mut self, line: usize, at: Duration, state: ReadyState) {
        let repeatable = state == ReadyState::Connecting
            && self.last_step_was_error
            && !self.last_request_received
            && !self.opened_this_attempt;
        if state == ReadyState::Connecting {
            if !self.opened_this_attempt {
                self.failed_in_a_row = self.failed_in_a_row.saturating_add(1);
            }
            self.pending_error = Some((self.page.len(), at));
        }
        self.page.push(ExpectedStep {
            at,
            line,
            repeatable,
            after_network_error: state == ReadyState::Connecting && !self.opened_this_attempt,
            step: PageEvent::error(state),
        });
        self.last_step_was_error = true;
        self.previous_was_request = false;
    }
}

/// Marks the requests of a model's own trace that never reached the server, given the server's
/// log of the same run: each request either arrived (the next logged request, with the same
/// target and Last-Event-ID, before the model's next request) or died on the way.
pub fn mark_unreceived(trace: &mut Trace, log: &[sse_case::request::ReceivedRequest]) {
    let sent: Vec<usize> = trace
        .lines
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(l.what, Observation::Request { .. }))
        .map(|(i, _)| i)
        .collect();
    let mut next = 0;
    for (k, &i) in sent.iter().enumerate() {
        let before = sent.get(k + 1).map(|&n| trace.lines[n].at);
        let line = &mut trace.lines[i];
        let Observation::Request {
            target,
            last_event_id,
            received,
            ..
        } = &mut line.what
        else {
            continue;
        };
        let arrived = log.get(next).is_some_and(|r| {
            request_target(&r.target) == request_target(target)
                && r.header("last-event-id") == last_event_id.as_deref()
                && before.is_none_or(|b| r.at <= b)
        });
        *received = arrived;
        if arrived {
            next += 1;
        }
    }
}

/// The path and query of a trace target (which is a full URL, or `{other-origin}` and a path,
/// for another origin).
pub(crate) fn request_target(target: &str) -> &str {
    if let Some(path) = target.strip_prefix(sse_case::script::OTHER_ORIGIN) {
        return if path.is_empty() { "/" } else { path };
    }
    match target.find("://") {
        Some(scheme_end) => {
            let rest = &target[scheme_end + 3..];
            rest.find('/').map_or("/", |p| &rest[p..])
        }
        None => target,
    }
}
