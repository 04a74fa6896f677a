//! Verdicts: what an implementation observably did, held against a case's expectation. The
//! page's observations must match in order; the requests must arrive as expected (checked on
//! what the server received); each reconnection must respect its wait rule; nothing more may
//! happen for as long as the case waited after its last step. Every non-pass finding names its
//! requirement ids, and their level in the catalogue decides how grave it is: a `must` broken
//! fails, a `should` is non-strict, an implementation-defined difference is informational.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sse_case::request::ReceivedRequest;
use sse_model::trace::{quote, time, token};
use sse_model::{MessageEvent, Observation, PageEvent, ReadyState, TraceLine};

use crate::expect::{Basis, Expectation, ExpectedRequest, RequestKind};
use crate::run::Run;
use sse_case::case::{Case, ExtraWait};
use sse_case::catalogue::Catalogue;
use sse_case::client::{Capabilities, Capability, Command};
use sse_case::observed::{Observed, Seen};
use sse_case::spec::Level;

/// How a case went for an implementation.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Everything the case checks held.
    #[default]
    Pass,
    /// An implementation-defined behaviour differs from the model's choice.
    Informational,
    /// A `should` was broken, or an allowed behaviour differs from the plain reading.
    NonStrict,
    /// A `must` was broken.
    Fail,
    /// The implementation cannot run the case (a capability it lacks).
    Unsupported,
}

impl Outcome {
    /// The kebab-case name reports use.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Informational => "informational",
            Outcome::NonStrict => "non-strict",
            Outcome::Fail => "fail",
            Outcome::Unsupported => "unsupported",
        }
    }

    /// The outcome of breaking a requirement of this level.
    pub fn of_level(level: Level) -> Outcome {
        match level {
            // An extension's cases run only on clients that declared it: they promised it.
            Level::Must | Level::Extension => Outcome::Fail,
            Level::Should => Outcome::NonStrict,
            Level::ImplDefined | Level::Authoring => Outcome::Informational,
        }
    }

    /// The gravest outcome breaking a requirement of this level can have: a `must` (or an
    /// extension the client declared) can fail; a `should` or an allowed behaviour is at most
    /// non-strict; an implementation-defined choice or a server's authoring rule at most
    /// non-strict.
    pub fn ceiling(level: Level) -> Outcome {
        match level {
            Level::Must | Level::Extension => Outcome::Fail,
            Level::Should | Level::ImplDefined | Level::Authoring => Outcome::NonStrict,
        }
    }

    /// How grave, for picking the worst (unsupported ranks below pass: the case did not run).
    pub(crate) fn gravity(self) -> u8 {
        match self {
            Outcome::Unsupported => 0,
            Outcome::Pass => 1,
            Outcome::Informational => 2,
            Outcome::NonStrict => 3,
            Outcome::Fail => 4,
        }
    }

    /// The graver of two outcomes.
    pub fn worst(self, other: Outcome) -> Outcome {
        if other.gravity() > self.gravity() {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One thing that did not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// How grave.
    pub outcome: Outcome,
    /// The requirements it concerns.
    pub requirements: Vec<String>,
    /// When, in the observed run (a server check's findings have no time).
    #[serde(
        default,
        with = "sse_case::millis::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub at: Option<Duration>,
    /// What happened, for a person.
    pub message: String,
}

/// The first point where the observations left the expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Divergence {
    /// The golden trace's line (0-based) that was expected, if any.
    pub expected_line: Option<usize>,
    /// The observed trace's line (0-based) that was seen instead, if any.
    pub observed_line: Option<usize>,
    /// The expected line's text.
    pub expected: String,
    /// The observed line's text, or what was missing.
    pub observed: String,
}

/// The verdict on one case for one implementation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The worst finding, or pass.
    pub outcome: Outcome,
    /// The requirement ids the case checks.
    pub requirements: Vec<String>,
    /// Everything that did not hold, in the order found.
    pub findings: Vec<Finding>,
    /// Where the observations first left the expectation.
    pub divergence: Option<Divergence>,
    /// The readings of ambiguous texts the run was judged by (none: the literal text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readings: Vec<sse_case::reading::Reading>,
}

impl Verdict {
    /// A case the implementation could not run.
    pub fn unsupported(case: &Case, why: String) -> Verdict {
        Verdict {
            outcome: Outcome::Unsupported,
            requirements: case.checks.clone(),
            findings: vec![Finding {
                outcome: Outcome::Unsupported,
                requirements: case.checks.clone(),
                at: None,
                message: why,
            }],
            divergence: None,
            readings: Vec::new(),
        }
    }

    /// A one-line summary: the outcome and the first of its gravest findings.
    pub fn summary(&self) -> String {
        let worst = self
            .findings
            .iter()
            .find(|f| f.outcome == self.outcome)
            .or(self.findings.first());
        let by = if self.readings.is_empty() {
            String::new()
        } else {
            format!(
                " (by the reading {} of {})",
                sse_case::reading::Reading::names(&self.readings),
                self.readings
                    .iter()
                    .map(|r| r.requirement())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        match worst {
            Some(f) => format!("{}{by}: {}", self.outcome, f.message),
            None => format!("{}{by}", self.outcome),
        }
    }
}

/// Timing tolerances of a transport: measurement noise, never a license to reconnect early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Timing {
    /// How much earlier than the reconnection time a request may be observed (clock skew
    /// between the page's report and the server's log).
    #[serde(with = "sse_case::millis")]
    pub early: Duration,
    /// How much later than the reconnection time counts as on time (connection set-up,
    /// scheduling), plus `late_percent` of the reconnection time.
    #[serde(with = "sse_case::millis")]
    pub late: Duration,
    /// See `late`.
    pub late_percent: u32,
    /// Past this many times the reconnection time (and at least 10 s), a reconnection hung.
    pub hang_factor: u32,
}

impl Timing {
    /// The tolerances of a transport.
    pub fn of(transport: sse_case::origins::Transport) -> Timing {
        match transport {
            sse_case::origins::Transport::Simulated => Timing::SIMULATED,
            sse_case::origins::Transport::Loopback => Timing::LOOPBACK,
        }
    }

    /// In the simulator, time is exact: a few milliseconds of connection set-up.
    pub const SIMULATED: Timing = Timing {
        early: Duration::from_millis(1),
        late: Duration::from_millis(10),
        late_percent: 0,
        hang_factor: 4,
    };

    /// On loopback, real schedulers and report latency.
    pub const LOOPBACK: Timing = Timing {
        early: Duration::from_millis(40),
        late: Duration::from_millis(150),
        late_percent: 20,
        hang_factor: 4,
    };

    fn late_bound(&self, min: Duration, latency: Duration) -> Duration {
        min + self.late + latency + min * self.late_percent / 100
    }

    /// The longest a reconnection may take before it counts as never made.
    pub fn hang_bound(&self, min: Duration) -> Duration {
        (min * self.hang_factor).max(min + Duration::from_secs(10))
    }
}

/// What the judge needs besides the case and the run.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Levels of requirements.
    pub catalogue: &'a Catalogue,
    /// What the implementation declared.
    pub capabilities: &'a Capabilities,
    /// The transport's tolerances.
    pub timing: Timing,
    /// The origins of the case server as the client reached them.
    pub origins: &'a sse_case::origins::Origins,
}

/// One line of an observed run, merged from the page's reports and the server's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEntry {
    /// When.
    #[serde(with = "sse_case::millis")]
    pub at: Duration,
    /// The line, in the trace format.
    pub text: String,
    /// Where it came from.
    pub source: Source,
}

/// Where an observed trace line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", content = "index", rename_all = "kebab-case")]
pub enum Source {
    /// The client's n-th report (page observations and commands).
    Client(usize),
    /// The server's n-th logged request.
    Server(usize),
}

/// The observed run as trace lines, in time order (requests from the server's log).
pub fn observed_trace(run: &Run) -> Vec<TraceEntry> {
    observed_trace_showing(run, &[])
}

/// [`observed_trace`], request lines showing the values of these headers (a case's extension
/// headers) as golden traces do.
pub fn observed_trace_showing(run: &Run, headers: &[String]) -> Vec<TraceEntry> {
    let mut out: Vec<TraceEntry> = run
        .requests
        .iter()
        .enumerate()
        .map(|(i, r)| TraceEntry {
            at: r.at,
            text: request_line(r, headers),
            source: Source::Server(i),
        })
        .chain(run.observed.iter().enumerate().map(|(i, o)| TraceEntry {
            at: o.at,
            text: seen_line(o),
            source: Source::Client(i),
        }))
        .collect();
    out.sort_by_key(|e| e.at);
    out
}

/// A received request as a trace line, showing the values of `headers` where it has them.
fn request_line(r: &ReceivedRequest, headers: &[String]) -> String {
    TraceLine {
        at: r.at,
        what: Observation::Request {
            method: r.method.clone(),
            target: r.target.clone(),
            accept: r.header("accept").map(str::to_owned),
            last_event_id: r.header("last-event-id").map(str::to_owned),
            origin: r.header("origin").map(str::to_owned),
            headers: headers
                .iter()
                .filter_map(|n| r.header(n).map(|v| (n.clone(), v.to_owned())))
                .collect(),
            body: r.body.clone(),
            received: true,
        },
    }
    .to_string()
}

/// The names of a case's extension headers, as request lines show them.
pub fn extension_header_names(case: &Case) -> Vec<String> {
    case.client
        .extensions()
        .headers
        .into_iter()
        .map(|(n, _)| n)
        .collect()
}

fn seen_line(o: &Observed) -> String {
    let what = match &o.what {
        Seen::Page(PageEvent::Message(m)) => {
            // Written as TraceLine writes it, without copying the data first (it may be 30 MB).
            let (event_type, id, data) = (
                token(&m.event_type),
                token(&m.last_event_id),
                quote(&m.data),
            );
            let mut line = String::with_capacity(data.len() + event_type.len() + id.len() + 40);
            let _ = std::fmt::Write::write_fmt(
                &mut line,
                format_args!(
                    "{} message  type={event_type}  id={id}  data={data}",
                    time(o.at)
                ),
            );
            return line;
        }
        Seen::Page(event) => Observation::Page(event.clone()),
        Seen::Command {
            command: Command::Close,
            ..
        } => Observation::Closed,
        Seen::Command { command, .. } => {
            return format!("{} command  {}", time(o.at), token(command.name()));
        }
        Seen::Comment { text } => return format!("{} comment  {}", time(o.at), quote(text)),
    };
    TraceLine { at: o.at, what }.to_string()
}

/// How the page's observations line up with the expected steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageMatch {
    /// For each expected page step, the index (in the page observations) of the observation it
    /// matched: for a repeatable failed attempt, the last of the errors it stands for.
    pub observed_of: Vec<Option<usize>>,
    /// How many page observations the expected steps account for.
    pub consumed: usize,
    /// The expected step (index into `Expectation::page`) where the observations left the
    /// expectation: `Some((step, Some(observation)))` for a mismatch, `(step, None)` when the
    /// observations ran out.
    pub diverged: Option<(usize, Option<usize>)>,
    /// The expected step (a reconnection after a network error) where the client failed the
    /// connection instead, as the standard lets it when it knows retrying to be futile: the
    /// expectation ends there.
    pub gave_up: Option<usize>,
    /// `open`s the client fired where another step was due (announcing a response it then
    /// failed, or announcing twice): each is a finding of its own, and the steps after it are
    /// still judged. (observation index, the expected step it came before)
    pub extra_opens: Vec<(usize, usize)>,
}

impl PageMatch {
    /// Whether every expected step was seen.
    pub fn complete(&self) -> bool {
        self.diverged.is_none()
    }

    /// Whether the observations contradict the expectation (not merely fall short of it).
    pub fn contradicted(&self, observations: usize) -> bool {
        matches!(self.diverged, Some((_, Some(_)))) || observations > self.consumed
    }
}

/// Lines up page observations with a case's expected steps: in order, a failed attempt while
/// the server cannot be reached matching any number of such errors.
pub fn match_page(
    expectation: &Expectation,
    page: &[&PageEvent],
    caps: &Capabilities,
) -> PageMatch {
    let mut observed_of = vec![None; expectation.page.len()];
    let mut extra_opens = Vec::new();
    let mut o = 0;
    for (index, expected) in expectation.page.iter().enumerate() {
        if expected.step == PageEvent::Open && !caps.contains(&Capability::OpenEvent) {
            continue;
        }
        // An `open` before a failure, or a second one before a message: announcing wrongly is
        // one finding, and the page is judged on past it. (Before a reestablishing `error`, an
        // `open` means the error never fired: that is the divergence.)
        let skips_open = !expected.repeatable
            && matches!(
                expected.step,
                PageEvent::Message(_)
                    | PageEvent::Error {
                        ready_state: Some(ReadyState::Closed),
                        ..
                    }
            );
        while skips_open && page.get(o) == Some(&&PageEvent::Open) {
            extra_opens.push((o, index));
            o += 1;
        }
        // A stream parser reads one response: how it reports the end of the body (or that it
        // does not) is its own business.
        let last = index + 1 == expectation.page.len();
        if last
            && caps.contains(&Capability::StreamParser)
            && expected.step == PageEvent::error(ReadyState::Connecting)
        {
            if page
                .get(o)
                .is_some_and(|s| matches!(s, PageEvent::Error { .. }))
            {
                observed_of[index] = Some(o);
                o += 1;
            }
            continue;
        }
        if expected.repeatable {
            let start = o;
            while page.get(o).is_some_and(|seen| is_retrying(seen)) {
                o += 1;
            }
            observed_of[index] = if o > start {
                Some(o - 1)
            } else {
                o.checked_sub(1)
            };
            continue;
        }
        match page.get(o) {
            None => {
                return PageMatch {
                    observed_of,
                    consumed: o,
                    diverged: Some((index, None)),
                    gave_up: None,
                    extra_opens,
                };
            }
            Some(seen) if expected.after_network_error && gives_up(seen, caps) => {
                observed_of[index] = Some(o);
                return PageMatch {
                    observed_of,
                    consumed: o + 1,
                    diverged: None,
                    gave_up: Some(index),
                    extra_opens,
                };
            }
            Some(seen) if !step_matches(&expected.step, seen, caps) => {
                return PageMatch {
                    observed_of,
                    consumed: o,
                    diverged: Some((index, Some(o))),
                    gave_up: None,
                    extra_opens,
                };
            }
            Some(_) => {
                observed_of[index] = Some(o);
                o += 1;
            }
        }
    }
    PageMatch {
        observed_of,
        consumed: o,
        diverged: None,
        gave_up: None,
        extra_opens,
    }
}

/// An `error` after which the client says it will not try again.
fn gives_up(seen: &PageEvent, caps: &Capabilities) -> bool {
    caps.contains(&Capability::ReadyState)
        && matches!(
            seen,
            PageEvent::Error {
                ready_state: Some(ReadyState::Closed),
                ..
            }
        )
}

/// An `error` after which the client goes on trying.
fn is_retrying(seen: &PageEvent) -> bool {
    matches!(
        seen,
        PageEvent::Error {
            ready_state: None | Some(ReadyState::Connecting),
            ..
        }
    )
}

/// The page observations of a run, in order.
pub fn page_observations(observed: &[Observed]) -> Vec<&PageEvent> {
    observed.iter().filter_map(|o| o.what.page()).collect()
}

/// Page observations the judge compares, with their index among all observations.
fn page_of(observed: &[Observed]) -> Vec<(usize, &Observed)> {
    observed
        .iter()
        .enumerate()
        .filter(|(_, o)| o.what.page().is_some())
        .collect()
}

fn step_matches(step: &PageEvent, seen: &PageEvent, caps: &Capabilities) -> bool {
    match (step, seen) {
        (PageEvent::Open, PageEvent::Open) => true,
        (PageEvent::Message(want), PageEvent::Message(got)) => {
            want.event_type == got.event_type
                && want.data == got.data
                && want.last_event_id == got.last_event_id
        }
        (
            PageEvent::Error { ready_state, .. },
            PageEvent::Error {
                ready_state: seen, ..
            },
        ) => !caps.contains(&Capability::ReadyState) || seen.is_none() || seen == ready_state,
        (PageEvent::Open | PageEvent::Message(_) | PageEvent::Error { .. }, _) => false,
    }
}

struct Judging<'a> {
    cx: Context<'a>,
    case: &'a Case,
    /// The case's extension headers, shown on request lines.
    shown: Vec<String>,
    findings: Vec<Finding>,
    divergence: Option<(usize, Divergence)>,
    /// Which rule a divergence breaks.
    blame: crate::blame::Blamer<'a>,
}

impl Judging<'_> {
    /// Records a finding, no graver than the gravest requirement it names allows (a `may` or
    /// an implementation-defined choice is never a failure).
    fn find(
        &mut self,
        outcome: Outcome,
        requirements: &[&str],
        at: Option<Duration>,
        message: String,
    ) {
        // A case about an implementation-defined choice: a divergence blamed only on the rules
        // the choice shows as is that choice.
        let choice = self
            .case
            .expect
            .choice
            .as_ref()
            .filter(|c| {
                !requirements.is_empty()
                    && requirements
                        .iter()
                        .all(|id| c.shows_as.iter().any(|s| s == id))
            })
            .map(|c| [c.requirement.as_str()]);
        let requirements = choice.as_ref().map_or(requirements, |c| c.as_slice());
        let ceiling = if choice.is_some() {
            Outcome::Informational
        } else {
            requirements
                .iter()
                .map(|id| Outcome::ceiling(self.cx.catalogue.level(id)))
                .fold(Outcome::Informational, Outcome::worst)
        };
        let outcome = if outcome.gravity() > ceiling.gravity() && outcome != Outcome::Unsupported {
            ceiling
        } else {
            outcome
        };
        self.findings.push(Finding {
            outcome,
            requirements: requirements.iter().map(|s| (*s).to_owned()).collect(),
            at,
            message,
        });
    }

    fn level_of(&self, id: &str) -> Outcome {
        Outcome::of_level(self.cx.catalogue.level(id))
    }

    /// Records a divergence that breaks exactly `ids`, at their level; the earliest golden
    /// line's divergence is the one shown.
    fn diverge_as(
        &mut self,
        key: usize,
        d: Divergence,
        at: Option<Duration>,
        message: String,
        ids: &[&str],
    ) {
        let outcome = ids
            .iter()
            .map(|id| self.level_of(id))
            .fold(Outcome::Informational, Outcome::worst);
        self.find(outcome, ids, at, message);
        if self.divergence.as_ref().is_none_or(|(k, _)| key < *k) {
            self.divergence = Some((key, d));
        }
    }
}

/// Judges a run against a case's expectation: the page's order, the events' origins, the
/// requests (each in its place, to the right target, with the right Last-Event-ID, after the
/// right wait), attempts during outages, nothing extra afterwards; in that order.
pub fn judge(case: &Case, expectation: &Expectation, run: &Run, cx: Context<'_>) -> Verdict {
    let mut j = Judging {
        cx,
        case,
        shown: extension_header_names(case),
        findings: Vec::new(),
        divergence: None,
        blame: crate::blame::Blamer::new(case, expectation),
    };
    let s = Scene::new(case, expectation, run, cx, &j.shown);
    let page_divergence = page_divergence(&s, &mut j);
    extra_opens(&s, &mut j);
    gave_up(&s, &mut j);
    if cx.capabilities.contains(&Capability::Origin) {
        event_origins(&s, &mut j);
    }
    let requests = requests(&s, &mut j);
    outage_attempts(&mut j, expectation, &s.matched, &s.page, run);
    let mut next = requests.next;
    skip_preflights(&mut j, &run.requests, &mut next);
    // Nothing more within the case's quiet time after its last step; after a client gave up
    // or was closed, nothing more at all; after a last `error` (CONNECTING), the next attempt
    // is expected, however soon.
    let for_good = expectation.ends_for_good() || s.matched.gave_up.is_some();
    let commands_end = expectation
        .commands
        .iter()
        .map(|(ms, _)| Duration::from_millis(*ms))
        .max()
        .unwrap_or_default();
    let window_end = if for_good {
        Duration::MAX
    } else {
        requests.last_matched_at.max(commands_end) + expectation.settle
    };
    if !expectation.ends_reconnecting() || s.matched.gave_up.is_some() {
        if j.divergence.is_none() {
            extra_request(&s, &mut j, next, window_end);
        }
        if s.matched.diverged.is_none() {
            extra_page(&s, &mut j, window_end);
        }
    }
    if let (Some(_), Some(finding), Some(deviated)) = (
        &case.publisher,
        page_divergence,
        requests.timing_deviated_at,
    ) {
        live_data_leniency(&mut j, finding, deviated);
    }
    let outcome = j
        .findings
        .iter()
        .map(|f| f.outcome)
        .fold(Outcome::Pass, Outcome::worst);
    Verdict {
        outcome,
        requirements: case.checks.clone(),
        findings: j.findings,
        divergence: j.divergence.map(|(_, d)| d),
        readings: Vec::new(),
    }
}

/// A run lined up with the expectation it is judged against: what every rule reads.
struct Scene<'a> {
    case: &'a Case,
    expectation: &'a Expectation,
    run: &'a Run,
    timing: Timing,
    /// Requests and observations merged, for the line numbers of divergences.
    trace: Vec<TraceEntry>,
    /// The page observations, with their index among all observations.
    page: Vec<(usize, &'a Observed)>,
    /// How the page observations line up with the expected steps.
    matched: PageMatch,
    /// The latest time a matched page step was observed.
    last_matched_at: Duration,
}

impl<'a> Scene<'a> {
    fn new(
        case: &'a Case,
        expectation: &'a Expectation,
        run: &'a Run,
        cx: Context<'_>,
        shown: &[String],
    ) -> Self {
        let page = page_of(&run.observed);
        let seen: Vec<&PageEvent> = page.iter().filter_map(|(_, o)| o.what.page()).collect();
        let matched = match_page(expectation, &seen, cx.capabilities);
        let mut scene = Scene {
            case,
            expectation,
            run,
            timing: cx.timing,
            trace: observed_trace_showing(run, shown),
            page,
            matched,
            last_matched_at: Duration::ZERO,
        };
        scene.last_matched_at = (0..expectation.page.len())
            .filter_map(|step| scene.observed_at(step))
            .max()
            .unwrap_or_default();
        scene
    }

    fn line_of(&self, source: Source) -> Option<usize> {
        self.trace.iter().position(|e| e.source == source)
    }

    fn golden_text(&self, line: usize) -> String {
        self.expectation
            .golden
            .lines
            .get(line)
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    /// When the observation that matched expected page step `step` was made.
    fn observed_at(&self, step: usize) -> Option<Duration> {
        self.matched
            .observed_of
            .get(step)
            .copied()
            .flatten()
            .and_then(|o| self.page.get(o))
            .map(|(_, o)| o.at)
    }

    /// Where among the page observations a request expected after `after_page` steps belongs
    /// (`None` past where the page diverged or the client gave up).
    fn observed_position(&self, after_page: usize) -> Option<usize> {
        if after_page == 0 {
            return Some(0);
        }
        let m = &self.matched;
        (0..after_page)
            .rev()
            .find_map(|step| m.observed_of.get(step).copied().flatten())
            .map(|o| o + 1)
            .or(Some(0))
            .filter(|_| {
                let end = m.diverged.map(|(step, _)| step).or(m.gave_up);
                end.is_none_or(|step| after_page <= step)
            })
    }

    /// Between which page observations a received request falls: observations in the same
    /// instant (or within the transport's tolerance) may fall on either side.
    fn span_of_received(&self, r: &ReceivedRequest) -> (usize, usize) {
        let early = self.timing.early;
        let lo = self
            .page
            .iter()
            .filter(|(_, o)| o.at + early < r.at)
            .count();
        let hi = self
            .page
            .iter()
            .filter(|(_, o)| o.at <= r.at + early)
            .count();
        (lo, hi)
    }

    /// Whether a received request is the expected one, in its place.
    fn fits(&self, e: &ExpectedRequest, r: &ReceivedRequest) -> bool {
        let (lo, hi) = self.span_of_received(r);
        self.observed_position(e.after_page)
            .is_some_and(|pos| lo <= pos && pos <= hi)
            && r.target == crate::expect::request_target(&e.target)
            && r.header("last-event-id") == e.last_event_id.as_deref()
    }

    /// A divergence at golden line `line` from what a request showed.
    fn at_request(
        &self,
        line: usize,
        ri: usize,
        r: &ReceivedRequest,
        shown: &[String],
    ) -> Divergence {
        Divergence {
            expected_line: Some(line),
            observed_line: self.line_of(Source::Server(ri)),
            expected: self.golden_text(line),
            observed: request_line(r, shown),
        }
    }
}

/// The page's observations leave the expected order: the rule whose step the observation
/// contradicts. Returns the finding's index and when, for [`live_data_leniency`].
fn page_divergence(s: &Scene<'_>, j: &mut Judging<'_>) -> Option<(usize, Option<Duration>)> {
    let (step, observation) = s.matched.diverged?;
    let expected = &s.expectation.page[step];
    let observed = observation.and_then(|o| s.page.get(o));
    let at = observed.map(|(_, o)| o.at);
    let expected_text = s.golden_text(expected.line);
    let (observed_line, shown, message) = match observed {
        Some((oi, o)) => {
            // Abridged (evidence::LINE_BYTES): a 30 MB event is not copied into messages.
            let shown = crate::evidence::abridge(&seen_line(o)).into_owned();
            let message = format!(
                "expected `{}`, observed `{}`",
                expected_text.trim(),
                shown.trim()
            );
            (s.line_of(Source::Client(*oi)), shown, message)
        }
        None => (
            None,
            "(nothing)".to_owned(),
            format!(
                "expected `{}`, but the client reported nothing more",
                expected_text.trim()
            ),
        ),
    };
    // A missing or unexpected `open` is announcing's; a message, the lines it came from; an
    // error, why the connection had to be reestablished or failed.
    let seen = observed.and_then(|(_, o)| o.what.page());
    let next = observation
        .and_then(|o| s.page.get(o + 1))
        .and_then(|(_, o)| o.what.page());
    let ids = j.blame.page(step, seen, next);
    let finding = j.findings.len();
    let divergence = Divergence {
        expected_line: Some(expected.line),
        observed_line,
        expected: expected_text,
        observed: shown,
    };
    let when = at.or(Some(s.last_matched_at));
    j.diverge_as(expected.line, divergence, when, message, &ids);
    Some((finding, at))
}

/// An `open` where another step was due: announcing is its own rule; the rest is judged on.
fn extra_opens(s: &Scene<'_>, j: &mut Judging<'_>) {
    for &(o, before) in &s.matched.extra_opens {
        let expected = &s.expectation.page[before];
        let Some((oi, seen)) = s.page.get(o) else {
            continue;
        };
        j.diverge_as(
            expected.line,
            Divergence {
                expected_line: Some(expected.line),
                observed_line: s.line_of(Source::Client(*oi)),
                expected: s.golden_text(expected.line),
                observed: seen_line(seen),
            },
            Some(seen.at),
            format!(
                "fired `open` where `{}` was due: it announced a connection it must not",
                s.golden_text(expected.line).trim()
            ),
            &["CONN-ANNOUNCE"],
        );
    }
}

/// A client that failed the connection after a network error instead of reconnecting.
fn gave_up(s: &Scene<'_>, j: &mut Judging<'_>) {
    let Some(step) = s.matched.gave_up else {
        return;
    };
    let expected = &s.expectation.page[step];
    j.find(
        Outcome::NonStrict,
        &["CONN-NETWORK-ERROR", "CONN-FUTILE"],
        s.observed_at(step),
        format!(
            "gave up (error, CLOSED) where the model reconnects (`{}`): the standard lets a client that knows retrying to be futile fail the connection",
            s.golden_text(expected.line).trim()
        ),
    );
}

/// Event origins, where the client reports them: the origin the stream was finally fetched
/// from (`{origin}` unless the golden trace says otherwise).
fn event_origins(s: &Scene<'_>, j: &mut Judging<'_>) {
    for (step, observed) in s.matched.observed_of.iter().enumerate() {
        let (Some(o), PageEvent::Message(MessageEvent { origin: want, .. })) =
            (observed, &s.expectation.page[step].step)
        else {
            continue;
        };
        let Seen::Page(PageEvent::Message(MessageEvent {
            origin: Some(origin),
            ..
        })) = &s.page[*o].1.what
        else {
            continue;
        };
        let want =
            j.cx.origins
                .resolve(want.as_deref().unwrap_or(sse_case::origins::ORIGIN));
        if *origin != want {
            j.find(
                j.level_of("DISPATCH-ORIGIN"),
                &["DISPATCH-ORIGIN"],
                Some(s.page[*o].1.at),
                format!("event origin is {origin:?}, the stream's final origin is {want:?}"),
            );
            break;
        }
    }
}

/// What judging the requests leaves for the rules after it.
struct Requests {
    /// The next received request not yet accounted for.
    next: usize,
    /// The latest time a matched step (page or request) was observed.
    last_matched_at: Duration,
    /// When the client first reconnected at another time than the model (beyond tolerance).
    timing_deviated_at: Option<Duration>,
}

/// The requests, as the server received them, each between the same page observations as
/// expected, to the expected target, with the expected Last-Event-ID, after the expected wait.
fn requests(s: &Scene<'_>, j: &mut Judging<'_>) -> Requests {
    let mut out = Requests {
        next: 0,
        last_matched_at: s.last_matched_at,
        timing_deviated_at: None,
    };
    for (k, e) in s.expectation.requests.iter().enumerate() {
        let Some(pos) = s.observed_position(e.after_page) else {
            break;
        };
        extra_before(s, j, e, pos, &mut out.next);
        let candidate = s
            .run
            .requests
            .get(out.next)
            .filter(|r| s.span_of_received(r).0 <= pos);
        let Some(r) = candidate else {
            if e.received {
                missing_request(s, j, e);
                break;
            }
            continue;
        };
        let ri = out.next;
        let leid = r.header("last-event-id");
        let same_target = r.target == crate::expect::request_target(&e.target);
        let later = s.expectation.requests[k + 1..].iter().find(|l| l.received);
        if !e.received
            && (!same_target
                || leid != e.last_event_id.as_deref()
                || later.is_some_and(|l| s.fits(l, r)))
        {
            // The model's attempt died on the way; this is another request (the next one that
            // must arrive, when it fits).
            continue;
        }
        out.next += 1;
        if wrong_request(s, j, e, ri) {
            break;
        }
        request_rules(j, r, ri, e);
        out.last_matched_at = out.last_matched_at.max(r.at);
        if let RequestKind::Reconnect(wait) = &e.kind {
            if let Some(error_at) = s.observed_at(wait.after_error) {
                let waited = r.at.saturating_sub(error_at);
                judge_wait(j, wait, waited, r.at);
                let golden_wait = s
                    .expectation
                    .page
                    .get(wait.after_error)
                    .map_or(wait.min, |step| e.at.saturating_sub(step.at));
                if waited.abs_diff(golden_wait) > s.timing.late {
                    out.timing_deviated_at.get_or_insert(r.at);
                }
            }
        }
    }
    out
}

/// Requests that came before expected request `e`'s place (`pos`) are extra.
fn extra_before(
    s: &Scene<'_>,
    j: &mut Judging<'_>,
    e: &ExpectedRequest,
    pos: usize,
    next: &mut usize,
) {
    skip_preflights(j, &s.run.requests, next);
    while let Some(r) = s
        .run
        .requests
        .get(*next)
        .filter(|r| s.span_of_received(r).1 < pos)
    {
        let ids = j.blame.extra_request(e.after_page.checked_sub(1));
        j.diverge_as(
            e.line,
            s.at_request(e.line, *next, r, &j.shown),
            Some(r.at),
            format!("unexpected request {} for {}", *next + 1, r.target),
            &ids,
        );
        *next += 1;
        skip_preflights(j, &s.run.requests, next);
    }
}

/// An expected request that never arrived.
fn missing_request(s: &Scene<'_>, j: &mut Judging<'_>, e: &ExpectedRequest) {
    let ids = j.blame.missing_request(&e.kind);
    j.diverge_as(
        e.line,
        Divergence {
            expected_line: Some(e.line),
            observed_line: None,
            expected: s.golden_text(e.line),
            observed: "(no request)".into(),
        },
        None,
        format!(
            "expected `{}`, but no such request arrived",
            s.golden_text(e.line).trim()
        ),
        &ids,
    );
}

/// Request `ri`, in expected request `e`'s place, to another target or with another
/// Last-Event-ID: a divergence (returns whether it was one).
fn wrong_request(s: &Scene<'_>, j: &mut Judging<'_>, e: &ExpectedRequest, ri: usize) -> bool {
    let r = &s.run.requests[ri];
    let leid = r.header("last-event-id").map(str::to_owned);
    if r.target != crate::expect::request_target(&e.target) {
        let ids = j.blame.wrong_target(&e.kind);
        j.diverge_as(
            e.line,
            s.at_request(e.line, ri, r, &j.shown),
            Some(r.at),
            format!("requested {}, expected {}", r.target, e.target),
            &ids,
        );
        return true;
    }
    if leid == e.last_event_id {
        return false;
    }
    let id = if e.last_event_id.is_some() {
        "REQ-LAST-EVENT-ID"
    } else {
        "REQ-LAST-EVENT-ID-ABSENT"
    };
    // After a stream case's body ended: the id of the event it left unterminated.
    let discarded = s.case.stream.as_ref().is_some_and(|stream| {
        stream
            .lines
            .last()
            .is_some_and(|l| leid.as_deref().unwrap_or("") == l.buffers.id_buffer)
    });
    let ids: Vec<&str> = if discarded {
        vec![id, "PARSE-EOF-DISCARD"]
    } else {
        j.blame.last_event_id(&e.kind, leid.as_deref(), id)
    };
    let show = |v: &Option<String>| {
        v.as_deref().map_or_else(
            || "no Last-Event-ID".into(),
            |v| format!("Last-Event-ID {}", quote(v)),
        )
    };
    j.diverge_as(
        e.line,
        s.at_request(e.line, ri, r, &j.shown),
        Some(r.at),
        format!(
            "request {} carried {}, expected {}",
            ri + 1,
            show(&leid),
            show(&e.last_event_id)
        ),
        &ids,
    );
    true
}

/// A request after the last expected one, within the case's window.
fn extra_request(s: &Scene<'_>, j: &mut Judging<'_>, next: usize, window_end: Duration) {
    let Some(extra) = s.run.requests.get(next).filter(|r| r.at <= window_end) else {
        return;
    };
    let ids = j
        .blame
        .extra_request(s.expectation.page.len().checked_sub(1));
    j.diverge_as(
        s.expectation.golden.lines.len(),
        Divergence {
            expected_line: None,
            observed_line: s.line_of(Source::Server(next)),
            expected: "(no more requests)".into(),
            observed: request_line(extra, &j.shown),
        },
        Some(extra.at),
        format!("unexpected request {} for {}", next + 1, extra.target),
        &ids,
    );
}

/// A page observation after the last expected one, within the case's window.
///
/// A client in another process takes `close` later than the harness gives it (a browser page
/// polls for it): messages it dispatched between then and when it took it came while it was
/// open, and how many depends only on that delay. Only a client that stamps its own close is
/// taken at its word; a stamp given when the runner heard back would also cover messages a
/// library dispatched after its own close. Before and after are the page's own order
/// (observations keep it, whatever their stamps).
fn extra_page(s: &Scene<'_>, j: &mut Judging<'_>, window_end: Duration) {
    let close_given = s
        .expectation
        .commands
        .iter()
        .find(|(_, c)| *c == Command::Close)
        .map(|(ms, _)| Duration::from_millis(*ms));
    let close_taken = s.run.observed.iter().position(|o| {
        matches!(
            o.what,
            Seen::Command {
                command: Command::Close,
                own_clock: true,
            }
        )
    });
    let before_close = |i: usize, o: &Observed| {
        matches!(o.what, Seen::Page(PageEvent::Message(_)))
            && close_given
                .zip(close_taken)
                .is_some_and(|(given, taken)| o.at >= given && i < taken)
    };
    let Some(((oi, extra), event)) = s
        .page
        .iter()
        .skip(s.matched.consumed)
        .find(|(i, o)| !before_close(*i, o))
        .filter(|(_, o)| o.at <= window_end)
        .and_then(|p| Some((p, p.1.what.page()?)))
    else {
        return;
    };
    let after = s.expectation.page.last().map_or(0, |step| step.line + 1);
    let ids = j.blame.extra_page(event);
    j.diverge_as(
        after,
        Divergence {
            expected_line: None,
            observed_line: s.line_of(Source::Client(*oi)),
            expected: "(nothing more)".into(),
            observed: seen_line(extra),
        },
        Some(extra.at),
        format!(
            "unexpected `{}` after the last expected observation",
            seen_line(extra).trim()
        ),
        &ids,
    );
}

/// Live data depends on when the client came back: after a reconnection at another time than
/// the model's (`deviated`), a different sequence of live events is not the client's fault.
fn live_data_leniency(
    j: &mut Judging<'_>,
    (finding, at): (usize, Option<Duration>),
    deviated: Duration,
) {
    if at.is_some_and(|at| at < deviated) {
        return;
    }
    if let Some(f) = j.findings.get_mut(finding) {
        if f.outcome == Outcome::Fail || f.outcome == Outcome::NonStrict {
            f.outcome = Outcome::Informational;
            f.message = format!(
                "{} (the client reconnected at {} instead of the model's time; the live events it then gets depend on that)",
                f.message,
                time(deviated)
            );
        }
    }
}

/// Judges a run against every acceptable expectation of its case (the literal reading's
/// first, then the other readings of ambiguous texts) and keeps the kindest verdict (the
/// literal reading's on a tie): a client that follows any reading the text allows is not
/// failed for it.
pub fn judge_readings(
    case: &Case,
    expectations: &[(Vec<sse_case::reading::Reading>, Expectation)],
    run: &Run,
    cx: Context<'_>,
) -> Verdict {
    /// Lighter first, then followed further, then fewer grave findings, then fewer findings.
    type Rank = (u8, std::cmp::Reverse<usize>, usize, usize);
    let mut best: Option<(Verdict, Rank)> = None;
    let page = page_observations(&run.observed);
    // Kinder: a lighter verdict; between readings the client breaks alike, the one it follows
    // further (its divergence is the one that explains the run), else fewer findings as grave
    // as the verdict, else fewer findings.
    for (readings, expectation) in expectations {
        let mut verdict = judge(case, expectation, run, cx);
        verdict.readings.clone_from(readings);
        let matched = match_page(expectation, &page, cx.capabilities);
        let followed = matched.observed_of.iter().flatten().count();
        let rank = (
            verdict.outcome.gravity(),
            std::cmp::Reverse(followed),
            verdict
                .findings
                .iter()
                .filter(|f| f.outcome == verdict.outcome)
                .count(),
            verdict.findings.len(),
        );
        // Another reading only counts when it is strictly kinder: ties keep the literal one.
        if best.as_ref().is_none_or(|(_, b)| rank < *b) {
            best = Some((verdict, rank));
        }
    }
    let best = best.map(|(v, _)| v);
    best.unwrap_or_else(|| Verdict {
        outcome: Outcome::Fail,
        requirements: case.checks.clone(),
        findings: Vec::new(),
        divergence: None,
        readings: Vec::new(),
    })
}

/// Attempts while the server cannot be reached never become requests; the case server logs
/// their connections, and each must keep the wait rule of the reconnection it stands for, and
/// come at all: a client that stops trying after a network error is caught here.
fn outage_attempts(
    j: &mut Judging<'_>,
    expectation: &Expectation,
    matched: &PageMatch,
    page: &[(usize, &Observed)],
    run: &Run,
) {
    let timing = j.cx.timing;
    let mut start = 0;
    for (index, step) in expectation.page.iter().enumerate() {
        let Some(last) = matched.observed_of.get(index).copied().flatten() else {
            continue;
        };
        // The observed errors this expected error stands for.
        let first = if step.repeatable { start } else { last };
        start = last + 1;
        if !matches!(
            step.step,
            PageEvent::Error {
                ready_state: Some(ReadyState::Connecting),
                ..
            }
        ) || matched.gave_up == Some(index)
        {
            continue;
        }
        let Some(wait) = expectation.requests.iter().find_map(|r| match &r.kind {
            RequestKind::Reconnect(w) if w.after_error == index && !r.received => Some(w),
            _ => None,
        }) else {
            continue;
        };
        for (_, error) in page.get(first..=last).unwrap_or_default() {
            // The attempt after the one this error ended: the first connection after the
            // last one made before the error was reported.
            let cause = run.connections.iter().rposition(|c| *c <= error.at);
            let attempt = match cause {
                Some(i) => run.connections.get(i + 1),
                None => run
                    .connections
                    .iter()
                    .find(|c| **c + timing.early >= error.at),
            };
            match attempt {
                Some(at)
                    if wait.basis == Basis::Retry && *at + timing.early < error.at + wait.min =>
                {
                    j.find(
                        j.level_of("RECONNECT-WAIT"),
                        &["RECONNECT-WAIT", "FIELD-RETRY"],
                        Some(*at),
                        format!(
                            "tried again {} ms after the error while the server was unreachable; the reconnection time was {} ms",
                            at.saturating_sub(error.at).as_millis(),
                            wait.min.as_millis()
                        ),
                    );
                    return;
                }
                Some(at)
                    if wait.basis == Basis::Initial
                        && (*at + timing.early < error.at + wait.min
                            || (!wait.after_failure
                                && *at
                                    > error.at + timing.late_bound(wait.min, Duration::ZERO))) =>
                {
                    j.find(
                        Outcome::Informational,
                        &["RECONNECT-TIME-INITIAL"],
                        Some(*at),
                        format!(
                            "tried again {} ms after the error while the server was unreachable; the model's initial reconnection time here is {} ms (the client's own choice)",
                            at.saturating_sub(error.at).as_millis(),
                            wait.min.as_millis()
                        ),
                    );
                    return;
                }
                None if run.ended >= error.at + timing.hang_bound(wait.min) => {
                    j.find(
                        j.level_of("CONN-NETWORK-ERROR"),
                        &["CONN-NETWORK-ERROR"],
                        Some(error.at),
                        format!(
                            "never tried again after the network error at {} (the run went on until {})",
                            time(error.at),
                            time(run.ended)
                        ),
                    );
                    return;
                }
                _ => {}
            }
        }
    }
}

/// The wait rule of one reconnection: `waited` is from the page's `error` to the server
/// receiving the new request.
fn judge_wait(j: &mut Judging<'_>, wait: &crate::expect::Wait, waited: Duration, at: Duration) {
    let timing = j.cx.timing;
    let latency = latency_allowance(j.case);
    let ms = |d: Duration| d.as_millis();
    match wait.basis {
        Basis::Retry => {
            if waited + timing.early < wait.min {
                j.find(
                    j.level_of("RECONNECT-WAIT"),
                    &["RECONNECT-WAIT", "FIELD-RETRY"],
                    Some(at),
                    format!(
                        "reconnected {} ms after the error; the reconnection time was {} ms",
                        ms(waited),
                        ms(wait.min)
                    ),
                );
            } else if waited > timing.hang_bound(wait.min) {
                // After failed attempts long backoff is what the standard suggests; after a
                // healthy connection it is a reconnection that came too late to count.
                let ids: Vec<&str> = if wait.after_failure {
                    vec!["RECONNECT-EXTRA-WAIT"]
                } else {
                    j.blame.late_reconnection(wait.after_error)
                };
                let outcome = if wait.after_failure {
                    Outcome::NonStrict
                } else {
                    ids.iter()
                        .map(|id| j.level_of(id))
                        .fold(Outcome::Informational, Outcome::worst)
                };
                j.find(
                    outcome,
                    &ids,
                    Some(at),
                    format!(
                        "reconnected only {} ms after the error; the reconnection time was {} ms",
                        ms(waited),
                        ms(wait.min)
                    ),
                );
            } else if waited > timing.late_bound(wait.min, latency) {
                let (outcome, ids): (Outcome, &[&str]) = if wait.after_failure {
                    (
                        Outcome::Informational,
                        &["RECONNECT-EXTRA-WAIT", "IMPL-RECONNECT-BACKOFF"],
                    )
                } else if j.case.expect.extra_wait == Some(ExtraWait::Pass) {
                    (Outcome::Pass, &[])
                } else {
                    (Outcome::NonStrict, &["RECONNECT-EXTRA-WAIT"])
                };
                if outcome != Outcome::Pass {
                    j.find(
                        outcome,
                        ids,
                        Some(at),
                        format!(
                            "waited {} ms to reconnect; the reconnection time was {} ms",
                            ms(waited),
                            ms(wait.min)
                        ),
                    );
                }
            }
        }
        Basis::Initial => {
            // After failed attempts a longer wait is backoff, as much the client's choice as
            // its initial reconnection time: only a shorter one says something.
            let differs = waited + timing.early < wait.min
                || (!wait.after_failure && waited > timing.late_bound(wait.min, latency));
            if differs {
                j.find(
                    Outcome::Informational,
                    &["RECONNECT-TIME-INITIAL"],
                    Some(at),
                    format!(
                        "waited {} ms before any retry field; the model's initial reconnection time here is {} ms (the client's own choice)",
                        ms(waited),
                        ms(wait.min)
                    ),
                );
            }
        }
    }
}

/// Rules every request must keep, whatever the case: each finding names its own requirement.
/// CORS preflights (`OPTIONS`) are not stream requests: they are set aside, each noted. The
/// standard's text has an `EventSource` never preflight; web-platform-tests expect one before a
/// cross-origin request whose `Last-Event-ID` is not CORS-safelisted (an open proposal to Fetch):
/// neither reading fails (`REQ-LAST-EVENT-ID-PREFLIGHT`).
fn skip_preflights(j: &mut Judging<'_>, requests: &[ReceivedRequest], next: &mut usize) {
    while let Some(r) = requests.get(*next).filter(|r| r.method == "OPTIONS") {
        j.find(
            Outcome::Informational,
            &["REQ-LAST-EVENT-ID-PREFLIGHT"],
            Some(r.at),
            format!(
                "CORS preflight OPTIONS {} (Access-Control-Request-Headers {:?}) before the next \
                 request: web-platform-tests' reading; the standard's text sends none",
                r.target,
                r.header("access-control-request-headers").unwrap_or("")
            ),
        );
        *next += 1;
    }
}

fn request_rules(
    j: &mut Judging<'_>,
    r: &ReceivedRequest,
    i: usize,
    expected: &crate::expect::ExpectedRequest,
) {
    let n = i + 1;
    // Request headers every request must carry are judged in the cases about them (a client
    // that never sends one fails those, not every case it runs).
    let checks = |id: &str| j.case.checks.iter().any(|c| c == id);
    match r.header("accept") {
        Some("text/event-stream") => {}
        _ if !checks("REQ-ACCEPT") => {}
        other => j.find(
            j.level_of("REQ-ACCEPT"),
            &["REQ-ACCEPT"],
            Some(r.at),
            format!("request {n} has Accept {other:?}, not text/event-stream"),
        ),
    }
    let no_cache = r
        .headers
        .iter()
        .filter(|(name, _)| name == "cache-control")
        .any(|(_, v)| {
            v.split(',')
                .any(|d| d.trim().eq_ignore_ascii_case("no-cache"))
        });
    if !no_cache && checks("REQ-NO-CACHE") {
        j.find(
            j.level_of("REQ-NO-CACHE"),
            &["REQ-NO-CACHE"],
            Some(r.at),
            format!("request {n} has no Cache-Control: no-cache"),
        );
    }
    // The method: GET, unless the case asks for an extension's (then it, and its body, again
    // on every request).
    if r.method != expected.method {
        let id = if expected.method == "GET" {
            "RECONNECT-SAME-REQUEST"
        } else {
            "EXT-METHOD-BODY"
        };
        j.find(
            j.level_of(id),
            &[id],
            Some(r.at),
            format!("request {n} uses {}, not {}", r.method, expected.method),
        );
    }
    if expected.body.is_some() && r.body != expected.body {
        j.find(
            j.level_of("EXT-METHOD-BODY"),
            &["EXT-METHOD-BODY"],
            Some(r.at),
            format!(
                "request {n} carried the body {:?}, expected {:?}",
                r.body.as_deref().unwrap_or(""),
                expected.body.as_deref().unwrap_or("")
            ),
        );
    }
    for (name, value) in &expected.headers {
        if r.header(name) != Some(value.as_str()) {
            j.find(
                j.level_of("EXT-HEADERS"),
                &["EXT-HEADERS"],
                Some(r.at),
                format!(
                    "request {n} carried {name}: {:?}, expected {value:?}",
                    r.header(name).unwrap_or("(none)")
                ),
            );
        }
    }
    // The Origin a browser sends: none on a same-origin request, the page's on a CORS one, and
    // `null` once a redirect tainted it.
    if j.cx.capabilities.contains(&Capability::Cors) {
        let want = expected.origin.as_deref().map(|o| j.cx.origins.resolve(o));
        if r.header("origin") != want.as_deref() {
            let id = if want.as_deref() == Some("null") {
                "REQ-CORS-REDIRECT"
            } else {
                "REQ-CORS"
            };
            let show = |v: Option<&str>| v.map_or_else(|| "none".to_owned(), |v| format!("{v:?}"));
            // An Origin where Fetch adds none (a same-origin GET) harms nothing a server can
            // tell: the text does not call for it, but the case does not hinge on it.
            let outcome = if want.is_none() {
                Outcome::NonStrict
            } else {
                j.level_of(id)
            };
            j.find(
                outcome,
                &[id],
                Some(r.at),
                format!(
                    "request {n} has Origin {}, expected {}",
                    show(r.header("origin")),
                    show(want.as_deref())
                ),
            );
        }
    }
}

/// Extra transit time a case's latency faults add to each reconnection (a few round trips).
fn latency_allowance(case: &Case) -> Duration {
    case.faults
        .iter()
        .map(|f| match f {
            sse_case::fault::Fault::Latency { ms, jitter_ms } => {
                Duration::from_millis(ms.saturating_add(*jitter_ms).saturating_mul(4))
            }
            _ => Duration::ZERO,
        })
        .sum()
}
