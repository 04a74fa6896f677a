//! Server checks as data (`fixtures/server-checks/*.toml`): what a server at a URL gets wrong
//! about the streams it serves. Each check names the requirements it checks and a probe (how to
//! look: the response head, the body's format, a resume with `Last-Event-ID`, the 204 that ends
//! a finished stream); the probes are here, the checks and what they mean are data.
//!
//! A server declares what it supports (`--resume`, `--end-with-204`); a check that needs what
//! the server did not declare is `unsupported`, never a fail. Every read goes through
//! [`sse_http::fetch`]: loopback only, with time limits and a size cap, so a hostile server cannot
//! hang or flood the checker.
//!
//! ```toml
//! checks = ["SERVER-RESUME"]
//! about = "A reconnection with Last-Event-ID continues right after that event."
//! probe = "resume"          # head | format | resume | end-with-204
//! needs = ["resume"]        # what the server must declare for the check to run
//! seconds = 3               # how long to read each stream (streams rarely end)
//! ```

use std::collections::BTreeSet;
use std::time::Duration;

use sse_model::explain::{Explanation, explain};
use sse_model::lint::{self, Severity};
use sse_model::{Effect, Limits, OwnedEvent, Response};
use url::Url;

use sse_http::fetch::{Ended, FetchLimits, Fetched, read_stream};
use sse_judge::judge::Outcome;

pub use sse_case::server_check::{Declaration, Probe, ServerCheck, load, load_default};

/// The server under test.
#[derive(Debug, Clone)]
pub struct Server {
    /// The stream's URL (loopback).
    pub url: Url,
    /// What it declares.
    pub declares: BTreeSet<Declaration>,
    /// Most bytes to read from one response.
    pub max_bytes: usize,
    /// When set, every stream is read this long instead of the check's own time.
    pub seconds: Option<f64>,
    /// The endpoint that publishes an event ([`Declaration::Publish`]).
    pub publish: Option<Url>,
    /// A stream that is quiet unless something is published to it, when it is not `url`: the
    /// delivery and keep-alive probes read it (a demo stream that sends every second has
    /// nothing to keep alive).
    pub live: Option<Url>,
}

impl Server {
    /// The stream the delivery and keep-alive probes read.
    pub fn live_url(&self) -> &Url {
        self.live.as_ref().unwrap_or(&self.url)
    }
}

pub use sse_judge::checked::{CheckResult, show_bytes};

/// Runs one check against the server.
pub async fn run(check: &ServerCheck, server: &Server) -> CheckResult {
    let mut result = CheckResult::new(check);
    if let Some(missing) = check.needs.iter().find(|d| !server.declares.contains(d)) {
        result.find(
            Outcome::Unsupported,
            &check.checks.iter().map(String::as_str).collect::<Vec<_>>(),
            format!("needs {} (the server did not declare it)", missing.flag()),
        );
        result.outcome = Outcome::Unsupported;
        return result;
    }
    let limits = FetchLimits {
        total: Duration::from_secs_f64(server.seconds.unwrap_or(check.seconds)),
        max_bytes: server.max_bytes,
        ..FetchLimits::default()
    };
    match check.probe {
        Probe::Delivery => {
            delivery(check, server, limits, &mut result).await;
            return result;
        }
        Probe::Concurrent => {
            concurrent(check, server, limits, &mut result).await;
            return result;
        }
        Probe::StalledClients => {
            stalled_clients(check, server, limits, &mut result).await;
            return result;
        }
        // These read one stream, below.
        Probe::Head | Probe::Format | Probe::Resume | Probe::EndWith204 | Probe::KeepAlive => {}
    }
    let stream = if check.probe == Probe::KeepAlive {
        server.live_url()
    } else {
        &server.url
    };
    let first = match read_stream(stream, None, limits).await {
        Ok(f) => f,
        Err(e) => {
            no_stream(&mut result, &e);
            return result;
        }
    };
    if first.status != 200 && check.probe != Probe::Head {
        result.find(
            Outcome::Fail,
            &[],
            format!("the stream's URL answered {}, not 200", first.status),
        );
        return result;
    }
    match check.probe {
        Probe::Head => head(&first, &mut result),
        Probe::Format => format(&first, &mut result),
        Probe::Resume => resume(&first, server, limits, &mut result).await,
        Probe::EndWith204 => end_with_204(&first, server, limits, &mut result).await,
        Probe::KeepAlive => keep_alive(check, &first, server.live.is_some(), &mut result),
        Probe::Delivery | Probe::Concurrent | Probe::StalledClients => {}
    }
    result
}

/// Runs every check against the server: the long reads (keep-alive's 20 s) alongside the
/// short ones, one after another, so a set-up takes little more than its longest check; the
/// delivery checks, which publish to the quiet stream, once the long reads are over. Results
/// come in the checks' order.
pub async fn run_all(checks: &[ServerCheck], server: &Server) -> Vec<CheckResult> {
    let long = |c: &ServerCheck| server.seconds.unwrap_or(c.seconds) > 5.0;
    let publishes = |c: &ServerCheck| {
        matches!(
            c.probe,
            Probe::Delivery | Probe::Concurrent | Probe::StalledClients
        )
    };
    let background = futures::future::join_all(
        checks
            .iter()
            .filter(|c| long(c) && !publishes(c))
            .map(|c| run(c, server)),
    );
    let in_turn = |pick: &'static dyn Fn(bool, bool) -> bool| {
        let picked: Vec<&ServerCheck> = checks
            .iter()
            .filter(|c| pick(long(c), publishes(c)))
            .collect();
        async move {
            let mut out = Vec::new();
            for c in picked {
                out.push(run(c, server).await);
            }
            out
        }
    };
    let (mut results, short) =
        futures::future::join(background, in_turn(&|long, publishes| !long && !publishes)).await;
    results.extend(short);
    results.extend(in_turn(&|_, publishes| publishes).await);
    results.sort_by_key(|r| checks.iter().position(|c| c.id == r.check));
    results
}

fn response_of(f: &Fetched) -> Response {
    let headers: Vec<(&str, &str)> = f
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    Response::new(f.status, &headers)
}

fn outcome_of(severity: Severity) -> Outcome {
    match severity {
        Severity::Violation => Outcome::Fail,
        Severity::Warning => Outcome::NonStrict,
    }
}

fn head(f: &Fetched, result: &mut CheckResult) {
    if let Some((status, from)) = f.redirects.last() {
        result.find(
            Outcome::Informational,
            &[],
            format!(
                "{from} answered {status}: followed, as every EventSource follows redirects ({} in all); the checks read the stream where it led",
                f.redirects.len()
            ),
        );
    }
    if f.status != 200 {
        result.find(
            Outcome::Fail,
            &["STREAM-MIME"],
            format!(
                "answered {}, not 200: every client fails the connection",
                f.status
            ),
        );
    }
    for finding in lint::check_headers(&response_of(f)) {
        result.find(
            outcome_of(finding.severity),
            &[finding.requirement],
            finding.message,
        );
    }
}

/// Whether reading stopped before the server ended the body.
fn cut(f: &Fetched) -> bool {
    matches!(f.ended, Ended::TimeUp(_) | Ended::SizeCap(_))
}

fn format(f: &Fetched, result: &mut CheckResult) {
    if f.body.is_empty() {
        result.find(
            Outcome::Informational,
            &["STREAM-UTF8"],
            "no body bytes arrived: nothing to check".into(),
        );
        return;
    }
    let mut worst_offset = None;
    for finding in lint::check_stream(&f.body) {
        // A stream we stopped reading did not end where we stopped.
        if cut(f)
            && matches!(
                finding.requirement,
                "STREAM-FINAL-EOL" | "STREAM-EVENT-TERMINATED"
            )
        {
            continue;
        }
        if worst_offset.is_none() {
            worst_offset = finding.offset;
        }
        let at = finding
            .offset
            .map(|o| format!(" (byte {o})"))
            .unwrap_or_default();
        result.find(
            outcome_of(finding.severity),
            &[finding.requirement],
            format!("{}{at}", finding.message),
        );
    }
    if let Some(at) = worst_offset {
        let start = at.saturating_sub(40);
        let end = (at + 40).min(f.body.len());
        result.keep_evidence(&f.body[start..end]);
        result.annotation = Some(crate::annotate::around(&f.body, at, 1));
    }
}

/// The events a body dispatched.
fn events(e: &Explanation) -> Vec<OwnedEvent> {
    e.steps.iter().filter_map(|s| s.event.clone()).collect()
}

async fn resume(first: &Fetched, server: &Server, limits: FetchLimits, result: &mut CheckResult) {
    let unbroken = events(&explain(&first.body, Limits::default()));
    let Some(pos) = unbroken.iter().position(|e| !e.last_event_id.is_empty()) else {
        result.find(
            Outcome::Informational,
            &["SERVER-RESUME"],
            format!(
                "no event with an id in {} events read: nothing to resume from",
                unbroken.len()
            ),
        );
        return;
    };
    let from = &unbroken[pos];
    let expected: Vec<&OwnedEvent> = unbroken[pos + 1..].iter().collect();
    let second = match read_stream(&server.url, Some(&from.last_event_id), limits).await {
        Ok(f) => f,
        Err(e) => {
            result.find(
                Outcome::Fail,
                &["SERVER-RESUME"],
                format!("the reconnection failed: {e}"),
            );
            return;
        }
    };
    if second.status == 204 {
        result.find(
            Outcome::Informational,
            &["SERVER-RESUME"],
            format!(
                "the reconnection after id {} was answered 204: the stream is over",
                from.last_event_id
            ),
        );
        return;
    }
    let explained = explain(&second.body, Limits::default());
    let resumed = events(&explained);
    result.keep_evidence(&second.body);
    // Safe preamble: no blank line before the first id, which would empty a literal client's
    // last event ID (SERVER-SAFE-PREAMBLE).
    let first_id = explained
        .steps
        .iter()
        .position(|s| s.effect == Effect::Id)
        .unwrap_or(explained.steps.len());
    if let Some(blank) = explained.steps[..first_id]
        .iter()
        .find(|s| matches!(s.effect, Effect::Dispatched | Effect::NothingToDispatch))
    {
        result.find(
            Outcome::NonStrict,
            &["SERVER-SAFE-PREAMBLE"],
            format!(
                "the resumed stream has a blank line (line {}) before its first id: a client that starts each stream's id buffer empty loses its last event ID there",
                blank.number
            ),
        );
    }
    let Some(next) = resumed.first() else {
        result.find(
            Outcome::Informational,
            &["SERVER-RESUME"],
            format!(
                "the reconnection after id {} dispatched no event within the time read",
                from.last_event_id
            ),
        );
        return;
    };
    // What a client made of the resumed stream's opening, up to its first event.
    let first_event = explained
        .steps
        .iter()
        .find(|s| s.event.is_some())
        .map_or(1, |s| s.number);
    let annotation = crate::annotate::around(&second.body, 0, first_event);
    let same = |a: &OwnedEvent, b: &OwnedEvent| {
        a.last_event_id == b.last_event_id && a.data == b.data && a.event_type == b.event_type
    };
    if unbroken[..=pos].iter().any(|e| same(e, next)) {
        result.annotation = Some(annotation);
        result.find(
            Outcome::Fail,
            &["SERVER-RESUME"],
            format!(
                "after Last-Event-ID {}, the stream starts again at event id={} data={:?}: a duplicate",
                from.last_event_id, next.last_event_id, next.data
            ),
        );
    } else if let Some(want) = expected.first() {
        if !same(want, next) {
            result.annotation = Some(annotation);
            result.find(
                Outcome::Fail,
                &["SERVER-RESUME"],
                format!(
                    "after Last-Event-ID {}, the next event should be id={} data={:?}; the stream sent id={} data={:?}",
                    from.last_event_id, want.last_event_id, want.data, next.last_event_id, next.data
                ),
            );
        }
    }
}

async fn end_with_204(
    first: &Fetched,
    server: &Server,
    limits: FetchLimits,
    result: &mut CheckResult,
) {
    if first.ended != Ended::Complete {
        result.find(
            Outcome::Informational,
            &["SERVER-204-STOP"],
            "the stream did not end within the time read: nothing to stop".into(),
        );
        return;
    }
    let last = events(&explain(&first.body, Limits::default()))
        .last()
        .map(|e| e.last_event_id.clone())
        .unwrap_or_default();
    let id = (!last.is_empty()).then_some(last.as_str());
    match read_stream(&server.url, id, limits).await {
        Ok(again) if again.status == 204 => {}
        Ok(again) => {
            result.keep_evidence(&again.body);
            result.find(
                Outcome::Fail,
                &["SERVER-204-STOP"],
                format!(
                    "the stream ended, but the reconnection{} was answered {}, not 204: clients reconnect again and again",
                    id.map(|i| format!(" with Last-Event-ID {i}")).unwrap_or_default(),
                    again.status
                ),
            );
        }
        Err(e) => result.find(
            Outcome::Fail,
            &["SERVER-204-STOP"],
            format!("the reconnection failed: {e}"),
        ),
    }
}

/// The longest silence on the stream, against the check's limit. Common idle timeouts: nginx
/// `proxy_read_timeout` 60 s, HAProxy `timeout server` often 30 s, cloud load balancers 60 s.
fn keep_alive(check: &ServerCheck, f: &Fetched, live: bool, result: &mut CheckResult) {
    let ids: Vec<&str> = check.checks.iter().map(String::as_str).collect();
    if live && matches!(f.ended, Ended::Complete | Ended::Broken(_)) {
        // A stream declared to stay open (`--live`) that ended while quiet was cut: by an idle
        // timeout in between, or by the server itself.
        let last = f.arrivals.last().map_or(Duration::ZERO, |(at, _)| *at);
        let ended = f.started.elapsed();
        result.measured = Some(format!(
            "the quiet stream ended after {:.1} s, {:.1} s after its last bytes",
            ended.as_secs_f64(),
            ended.saturating_sub(last).as_secs_f64()
        ));
        result.find(
            Outcome::NonStrict,
            &ids,
            "the stream declared to stay open ended while quiet: an idle timeout on the way (or the server) cut it; send a comment line more often than the shortest idle timeout".into(),
        );
        return;
    }
    if f.ended == Ended::Complete {
        result.find(
            Outcome::Informational,
            &ids,
            "the stream ended while it was read: nothing to keep alive".into(),
        );
        return;
    }
    let read_for = f.started.elapsed();
    let mut times: Vec<Duration> = vec![Duration::ZERO];
    times.extend(f.arrivals.iter().map(|(at, _)| *at));
    times.push(read_for);
    let longest = times
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]))
        .max()
        .unwrap_or_default();
    let limit = Duration::from_millis(check.max_gap_ms);
    result.measured = Some(format!(
        "the longest silence in {:.1} s was {:.1} s",
        read_for.as_secs_f64(),
        longest.as_secs_f64()
    ));
    if longest > limit {
        result.find(
            Outcome::NonStrict,
            &ids,
            format!(
                "{:.1} s without a byte (more than {:.1} s): a proxy with an idle timeout (HAProxy's is often 30 s, nginx's 60 s) cuts such a stream; send a comment line regularly",
                longest.as_secs_f64(),
                limit.as_secs_f64()
            ),
        );
    } else if read_for < limit {
        // Say what stopped the reading: only a time limit is raised with --seconds.
        let stopped = match &f.ended {
            Ended::SizeCap(cap) => {
                format!("the size cap ({cap} bytes) stopped it: raise --max-bytes")
            }
            Ended::Broken(e) => format!("the stream broke: {e}"),
            Ended::Complete => "the server ended the body".to_owned(),
            Ended::TimeUp(_) => "raise --seconds".to_owned(),
        };
        result.find(
            Outcome::Informational,
            &ids,
            format!(
                "read only {:.1} s, less than the {:.1} s limit: no conclusion ({stopped})",
                read_for.as_secs_f64(),
                limit.as_secs_f64()
            ),
        );
    }
}

/// Opens the stream, publishes an event with a fresh token while it is open, and measures when
/// the token arrives.
async fn delivery(
    check: &ServerCheck,
    server: &Server,
    limits: FetchLimits,
    result: &mut CheckResult,
) {
    let Some(publish) = &server.publish else {
        return;
    };
    let token = fresh_token("check");
    let url = server.live_url().clone();
    let coding = check.accept_encoding.clone();
    let reader = tokio::spawn(async move {
        sse_http::fetch::read_stream_encoded(&url, None, coding.as_deref(), limits).await
    });
    // Let the stream open before publishing (the connection and the response head).
    tokio::time::sleep(limits.total.mul_f64(0.2).min(Duration::from_millis(500))).await;
    let published_at = tokio::time::Instant::now();
    let posted = publish_text(publish, &token).await;
    let fetched = match reader.await {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => {
            no_stream(result, &e);
            return;
        }
        Err(e) => {
            result.find(Outcome::Fail, &[], format!("the reader failed: {e}"));
            return;
        }
    };
    if let Err(why) = posted {
        result.find(Outcome::Fail, &[], why);
        return;
    }
    let ids: Vec<&str> = check.checks.iter().map(String::as_str).collect();
    let coding = fetched.coding();
    match fetched.arrival_of_text(&token) {
        Some(arrived) => {
            let delay = arrived.saturating_duration_since(published_at);
            result.measured = Some(format!(
                "the published event arrived {} ms after it was published ({coding})",
                delay.as_millis()
            ));
            if delay > Duration::from_millis(check.within_ms) {
                result.find(
                    Outcome::Fail,
                    &ids,
                    format!(
                        "the published event arrived {} ms after it was published, later than {} ms: something holds events back ({coding})",
                        delay.as_millis(),
                        check.within_ms
                    ),
                );
            }
        }
        None => {
            result.keep_evidence(&fetched.body);
            let bytes = fetched.body.len();
            // Why reading stopped says what kept the event away.
            let why = match &fetched.ended {
                Ended::TimeUp(_) => format!(
                    "did not arrive within {:.1} s ({bytes} bytes read, {coding}): held back by a buffer or a compressor without a flush",
                    limits
                        .total
                        .saturating_sub(published_at.duration_since(fetched.started))
                        .as_secs_f64(),
                ),
                Ended::SizeCap(cap) => format!(
                    "was not among the first {cap} bytes of the body ({coding}): the stream was read up to the size cap (--max-bytes) first"
                ),
                Ended::Broken(e) => {
                    format!("did not arrive: the stream broke after {bytes} bytes ({coding}): {e}")
                }
                Ended::Complete => format!(
                    "did not arrive: the server ended the body after {bytes} bytes ({coding})"
                ),
            };
            result.find(Outcome::Fail, &ids, format!("the published event {why}"));
        }
    }
}

/// A token no stream carries yet, to find a published event by.
fn fresh_token(kind: &str) -> String {
    format!(
        "ssec-{kind}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    )
}

/// Publishes `text` as an event's data (a POST of a JSON string); an error says why not.
async fn publish_text(publish: &Url, text: &str) -> Result<(), String> {
    match sse_http::call::call(
        http::Method::POST,
        publish,
        Some(&serde_json::Value::String(text.to_owned())),
        Duration::from_secs(5),
    )
    .await
    {
        Ok(a) if a.status.is_success() => Ok(()),
        Ok(a) => Err(format!("publishing answered {}, not 2xx", a.status)),
        Err(e) => Err(format!("publishing failed: {e}")),
    }
}

/// A stream's response head comes at once; one that waits longer waited for others to close.
const OPENS_AT_ONCE: Duration = Duration::from_secs(1);

/// How many streams of a concurrent probe got what.
#[derive(Default)]
struct Tally {
    no_response: Vec<String>,
    /// Every stream without a response timed out (none was refused or broken).
    all_timeouts: bool,
    not_ok: usize,
    missed: usize,
    late: usize,
    slowest: Duration,
}

/// Opens `check.streams` streams at once (a connection each, or one HTTP/2 connection for all);
/// with a publish endpoint, publishes one event once they are open and times its arrival on
/// each; without one, each must answer 200 and dispatch an event.
async fn concurrent(
    check: &ServerCheck,
    server: &Server,
    limits: FetchLimits,
    result: &mut CheckResult,
) {
    let ids: Vec<&str> = check.checks.iter().map(String::as_str).collect();
    let url = if server.publish.is_some() {
        server.live_url().clone()
    } else {
        server.url.clone()
    };
    let how = if check.http2 {
        "on one HTTP/2 connection".to_owned()
    } else {
        format!("over HTTP/1.1 ({} connections)", check.streams)
    };
    let h2 = if check.http2 {
        match sse_http::fetch::H2Connection::connect(&url, limits).await {
            Ok(c) => Some(c),
            Err(e) => {
                result.find(Outcome::Fail, &ids, format!("no HTTP/2 connection: {e}"));
                return;
            }
        }
    } else {
        None
    };
    let readers: Vec<_> = (0..check.streams)
        .map(|_| {
            let (url, h2) = (url.clone(), h2.clone());
            tokio::spawn(async move {
                match h2 {
                    Some(c) => c.read_stream(&url, None, limits).await,
                    None => read_stream(&url, None, limits).await,
                }
            })
        })
        .collect();
    let token = fresh_token("concurrent");
    let mut published_at = None;
    if let Some(publish) = &server.publish {
        // Let every stream open first (heads come within the connect limit, usually at once).
        tokio::time::sleep(limits.total.mul_f64(0.4)).await;
        published_at = Some(tokio::time::Instant::now());
        if let Err(why) = publish_text(publish, &token).await {
            result.find(Outcome::Fail, &ids, why);
        }
    }
    let mut t = Tally {
        all_timeouts: true,
        ..Tally::default()
    };
    for reader in readers {
        let fetched = match reader.await {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => {
                t.all_timeouts &= matches!(e, sse_http::fetch::FetchError::Timeout { .. });
                t.no_response.push(e.to_string());
                continue;
            }
            Err(e) => {
                t.all_timeouts = false;
                t.no_response.push(e.to_string());
                continue;
            }
        };
        if fetched.head_after > OPENS_AT_ONCE {
            t.no_response.push(format!(
                "one answered only after {} ms",
                fetched.head_after.as_millis()
            ));
            continue;
        }
        if fetched.status != 200 {
            t.not_ok += 1;
            continue;
        }
        match published_at {
            Some(at) => match fetched.arrival_of_text(&token) {
                Some(arrived) => {
                    let delay = arrived.saturating_duration_since(at);
                    t.slowest = t.slowest.max(delay);
                    if delay > Duration::from_millis(check.within_ms) {
                        t.late += 1;
                    }
                }
                None => t.missed += 1,
            },
            None => {
                if events(&explain(&fetched.body, Limits::default())).is_empty() {
                    t.missed += 1;
                }
            }
        }
    }
    concurrent_verdict(check, &how, published_at.is_some(), &t, result);
}

fn concurrent_verdict(
    check: &ServerCheck,
    how: &str,
    published: bool,
    t: &Tally,
    result: &mut CheckResult,
) {
    let ids: Vec<&str> = check.checks.iter().map(String::as_str).collect();
    let n = check.streams;
    let ok = n - t.no_response.len() - t.not_ok;
    result.measured = Some(if published {
        format!(
            "{n} streams {how}: {ok} answered 200; the published event reached {} of them, the last {} ms after it was published",
            ok - t.missed,
            t.slowest.as_millis()
        )
    } else {
        format!(
            "{n} streams {how}: {ok} answered 200, {} dispatched an event",
            ok - t.missed
        )
    });
    if t.no_response.len() == n && t.all_timeouts {
        // Not even one stream: what holds them is not their number (the delivery checks say
        // what it is).
        result.find(
            Outcome::Informational,
            &ids,
            format!(
                "no stream {how} was answered within {} s, not even the first ({}): nothing to tell about how many the server serves at once",
                OPENS_AT_ONCE.as_secs(),
                t.no_response[0]
            ),
        );
        return;
    }
    if let Some(first) = t.no_response.first() {
        result.find(
            Outcome::Fail,
            &ids,
            format!(
                "{} of {n} streams {how} got no response within {} s ({first}): the server serves fewer at once, and pages with several EventSources, or several tabs, starve",
                t.no_response.len(),
                OPENS_AT_ONCE.as_secs()
            ),
        );
    }
    if t.not_ok > 0 {
        result.find(
            Outcome::Fail,
            &ids,
            format!(
                "{} of {n} streams {how} were answered with a status other than 200",
                t.not_ok
            ),
        );
    }
    if t.missed > 0 {
        result.find(
            Outcome::Fail,
            &ids,
            format!(
                "{} of {ok} open streams {how} never got {}",
                t.missed,
                if published {
                    "the published event"
                } else {
                    "an event"
                }
            ),
        );
    }
    if t.late > 0 {
        result.find(
            Outcome::Fail,
            &ids,
            format!(
                "{} of {ok} streams {how} got the published event later than {} ms (the slowest after {} ms)",
                t.late,
                check.within_ms,
                t.slowest.as_millis()
            ),
        );
    }
}

/// Opens a stream by hand: the request sent, nothing read (with a small receive buffer when
/// `small`, so the server's writes soon block).
async fn raw_stream(
    addr: std::net::SocketAddr,
    request: &str,
    small: bool,
) -> std::io::Result<tokio::net::TcpStream> {
    use tokio::io::AsyncWriteExt as _;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }?;
    if small {
        socket.set_recv_buffer_size(4096)?;
    }
    let mut tcp = socket.connect(addr).await?;
    tcp.write_all(request.as_bytes()).await?;
    Ok(tcp)
}

/// Why a check stopped before the end: the one finding that says so.
struct Stop(Outcome, String);

impl Stop {
    fn fail(why: String) -> Self {
        Stop(Outcome::Fail, why)
    }
}

/// Stalls some clients (they send the request and never read, with a small receive buffer),
/// resets others after the response head, publishes a flood meanwhile, and measures what the
/// clients that do read get.
async fn stalled_clients(
    check: &ServerCheck,
    server: &Server,
    limits: FetchLimits,
    result: &mut CheckResult,
) {
    let ids: Vec<&str> = check.checks.iter().map(String::as_str).collect();
    let Some(publish) = &server.publish else {
        return;
    };
    match stall_and_flood(check, server, publish, limits).await {
        Ok(stalled) => judge_stalled(check, &stalled, &ids, result),
        Err(Stop(outcome, why)) => result.find(outcome, &ids, why),
    }
}

/// What [`stalled_clients`] measured.
struct Stalled {
    /// Flood events the reading client got.
    received: usize,
    /// How long it read: to its time limit, or to its last bytes.
    read_for: Duration,
    /// How long publishing the flood took, and its slowest POST.
    flooded_in: Duration,
    slowest_post: Duration,
    /// How long after it was published a client that came after the flood got an event.
    fresh_delay: Option<Duration>,
}

async fn stall_and_flood(
    check: &ServerCheck,
    server: &Server,
    publish: &Url,
    limits: FetchLimits,
) -> Result<Stalled, Stop> {
    let url = server.live_url().clone();
    let addr = loopback_addr(&url).map_err(Stop::fail)?;
    let flood = check.events * (check.event_bytes + 64);
    let reading = FetchLimits {
        max_bytes: server.max_bytes.max(flood * 2),
        ..limits
    };
    let reader_stops = tokio::time::Instant::now() + reading.total;
    let mut healthy = AbortOnDrop(Some({
        let url = url.clone();
        tokio::spawn(async move { read_stream(&url, None, reading).await })
    }));
    // The reading client first: on a server that serves few connections it must not lose its
    // place to the clients that stall.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stalled = stall_and_reset(check, addr, &url).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let flood_token = fresh_token("flood");
    let (flooded_in, slowest_post) = publish_flood(check, publish, &flood_token).await?;
    if tokio::time::Instant::now() + Duration::from_millis(check.within_ms) > reader_stops {
        return Err(Stop(
            Outcome::Informational,
            format!(
                "publishing {} events took {} ms, too long for the reading client's {:.1} s: nothing to tell (raise the check's seconds)",
                check.events,
                flooded_in.as_millis(),
                limits.total.as_secs_f64()
            ),
        ));
    }
    let fresh_delay = fresh_client(publish, &url, limits).await?;
    drop(stalled);
    let marker = format!("{flood_token}-");
    match healthy.join().await {
        Ok(Ok(f)) => Ok(Stalled {
            received: f
                .body
                .windows(marker.len())
                .filter(|w| *w == marker.as_bytes())
                .count(),
            read_for: match f.ended {
                Ended::TimeUp(limit) => limit,
                _ => f.arrivals.last().map_or(Duration::ZERO, |(at, _)| *at),
            },
            flooded_in,
            slowest_post,
            fresh_delay,
        }),
        // Not even a client alone was answered: what holds it is not the other clients.
        Ok(Err(e)) => Err(Stop(
            Outcome::Informational,
            format!(
                "the reading client got no stream ({e}): nothing to tell about stalled clients"
            ),
        )),
        Err(e) => Err(Stop::fail(format!("the reader failed: {e}"))),
    }
}

/// Opens the streams that never read, and resets others after their response head, as
/// clients that vanished do (no orderly close).
async fn stall_and_reset(
    check: &ServerCheck,
    addr: std::net::SocketAddr,
    url: &Url,
) -> Result<Vec<tokio::net::TcpStream>, Stop> {
    use tokio::io::AsyncReadExt as _;
    let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
    let authority = &url[url::Position::BeforeHost..url::Position::AfterPort];
    let request = format!(
        "GET {target} HTTP/1.1\r\nhost: {authority}\r\naccept: text/event-stream\r\ncache-control: no-cache\r\n\r\n"
    );
    let mut stalled = Vec::new();
    for _ in 0..check.stalled {
        let tcp = raw_stream(addr, &request, true)
            .await
            .map_err(|e| Stop::fail(format!("cannot open a stream: {e}")))?;
        stalled.push(tcp);
    }
    for _ in 0..check.dropped {
        if let Ok(mut tcp) = raw_stream(addr, &request, false).await {
            let mut head = [0u8; 512];
            let _ = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut head)).await;
            let _ = tcp.set_zero_linger();
            drop(tcp);
        }
    }
    Ok(stalled)
}

/// Publishes the flood; returns how long it took and the slowest POST.
async fn publish_flood(
    check: &ServerCheck,
    publish: &Url,
    flood_token: &str,
) -> Result<(Duration, Duration), Stop> {
    let filler = "x".repeat(check.event_bytes.saturating_sub(flood_token.len() + 8));
    let started = tokio::time::Instant::now();
    let mut slowest_post = Duration::ZERO;
    for i in 0..check.events {
        let posted_at = tokio::time::Instant::now();
        publish_text(publish, &format!("{flood_token}-{i:05}-{filler}"))
            .await
            .map_err(|why| {
                Stop::fail(format!(
                    "publishing event {} of {} with {} clients not reading: {why}",
                    i + 1,
                    check.events,
                    check.stalled
                ))
            })?;
        slowest_post = slowest_post.max(posted_at.elapsed());
    }
    Ok((started.elapsed(), slowest_post))
}

/// A new client, after the flood: how long after it was published it got an event (`None`:
/// never).
async fn fresh_client(
    publish: &Url,
    url: &Url,
    limits: FetchLimits,
) -> Result<Option<Duration>, Stop> {
    let token = fresh_token("after");
    let mut fresh = AbortOnDrop(Some({
        let url = url.clone();
        let limits = FetchLimits {
            total: Duration::from_secs(2),
            ..limits
        };
        tokio::spawn(async move { read_stream(&url, None, limits).await })
    }));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let published_at = tokio::time::Instant::now();
    publish_text(publish, &token)
        .await
        .map_err(|why| Stop::fail(format!("after the flood: {why}")))?;
    Ok(match fresh.join().await {
        Ok(Ok(f)) => f
            .arrival_of_text(&token)
            .map(|a| a.saturating_duration_since(published_at)),
        _ => None,
    })
}

/// Every flood event to the client that kept reading, and a prompt event to the new one.
fn judge_stalled(check: &ServerCheck, m: &Stalled, ids: &[&str], result: &mut CheckResult) {
    let received = m.received;
    result.measured = Some(format!(
        "{} events of {} bytes published in {} ms (the slowest POST {} ms) with {} clients not reading and {} reset; a reading client got {received} of them; a new client got an event {}",
        check.events,
        check.event_bytes,
        m.flooded_in.as_millis(),
        m.slowest_post.as_millis(),
        check.stalled,
        check.dropped,
        m.fresh_delay.map_or_else(
            || "never".to_owned(),
            |d| format!("{} ms after it was published", d.as_millis())
        )
    ));
    if received < check.events {
        result.find(
            Outcome::Fail,
            ids,
            format!(
                "a client that kept reading got {received} of the {} events published while others stalled (read for {:.1} s)",
                check.events,
                m.read_for.as_secs_f64()
            ),
        );
    }
    match m.fresh_delay {
        Some(d) if d <= Duration::from_millis(check.within_ms) => {}
        Some(d) => result.find(
            Outcome::Fail,
            ids,
            format!(
                "after the stalled clients, a new client got a published event {} ms after it was published (more than {} ms)",
                d.as_millis(),
                check.within_ms
            ),
        ),
        None => result.find(
            Outcome::Fail,
            ids,
            "after the stalled clients, a new client never got the published event".into(),
        ),
    }
}

/// A spawned read that is stopped if the check returns before it has waited for it.
struct AbortOnDrop<T>(Option<tokio::task::JoinHandle<T>>);

impl<T> AbortOnDrop<T> {
    /// Waits for the read's result.
    async fn join(&mut self) -> Result<T, tokio::task::JoinError> {
        match self.0.take() {
            Some(handle) => handle.await,
            None => std::future::pending().await,
        }
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            handle.abort();
        }
    }
}

/// The loopback address a URL's host names (no resolver is asked).
fn loopback_addr(url: &Url) -> Result<std::net::SocketAddr, String> {
    let ip = sse_http::net::loopback_ip(url.host_str().unwrap_or_default())
        .map_err(|e| e.to_string())?;
    Ok((ip, url.port_or_known_default().unwrap_or(80)).into())
}

/// A stream that could not be read at all.
fn no_stream(result: &mut CheckResult, e: &sse_http::fetch::FetchError) {
    let hint = if matches!(e, sse_http::fetch::FetchError::Timeout { .. }) {
        ": a stream's response head comes at once; something (a buffering proxy) may be holding the whole response back"
    } else {
        ""
    };
    result.find(Outcome::Fail, &[], format!("no stream: {e}{hint}"));
}
