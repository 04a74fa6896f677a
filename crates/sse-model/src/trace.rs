//! Traces: what a client observably did, one line per observation, as snapshots and reports show it.
//! The format is the one in the design document (time, request, open, message, error, closed).

use std::fmt;
use std::time::Duration;

use url::{Position, Url};

use crate::eventsource::{Io, Output, ReadyState, Request};
use crate::page::{MessageEvent, PageEvent};
pub use crate::quote::{RUN, quote, time, token};

/// One observable thing a client did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// A request was sent.
    Request {
        /// `GET`, or the method an extension asked for.
        method: String,
        /// Path and query when same-origin with the first request, else the full URL.
        target: String,
        /// The `Accept` header, if sent.
        accept: Option<String>,
        /// The `Last-Event-ID` header, if sent.
        last_event_id: Option<String>,
        /// The `Origin` header, if sent (a CORS request); printed only then.
        origin: Option<String>,
        /// Headers an extension added (`header:NAME=VALUE`, printed only when there are some).
        headers: Vec<(String, String)>,
        /// The body an extension asked for (`body=...`, printed only then).
        body: Option<String>,
        /// Whether the server received it (`false`: the attempt died on the way, refused by a
        /// server that is down or abandoned by the client before it was delivered; printed as
        /// `not-received`).
        received: bool,
    },
    /// The page observed an event (a message's origin is `None` when it is the origin of the
    /// trace's first request, and printed only otherwise).
    Page(PageEvent),
    /// The page called close().
    Closed,
    /// The client aborted its fetch in flight (after close(), or on a parser limit): the
    /// server sees the connection go away.
    Abort,
}

/// One trace line: when, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceLine {
    /// Time since the run started.
    pub at: Duration,
    /// What happened.
    pub what: Observation,
}

/// A whole trace; `Display` gives the snapshot text, one line per observation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trace {
    origin: Option<Url>,
    /// The lines, in order.
    pub lines: Vec<TraceLine>,
}

impl Trace {
    /// An empty trace.
    pub fn new() -> Self {
        Trace::default()
    }

    /// Records an observation.
    pub fn push(&mut self, at: Duration, what: Observation) {
        self.lines.push(TraceLine { at, what });
    }

    /// Records an [`Output`] of the model: requests, aborts and the page's events.
    pub fn record(&mut self, at: Duration, output: &Output) {
        let what = match output {
            Output::Io(Io::Fetch(request)) => self.request(request),
            Output::Io(Io::Abort) => Observation::Abort,
            Output::Event(PageEvent::Message(m)) => {
                let first = self
                    .origin
                    .as_ref()
                    .map(|u| u.origin().ascii_serialization());
                Observation::Page(PageEvent::Message(MessageEvent {
                    origin: m.origin.clone().filter(|o| first.as_ref() != Some(o)),
                    ..m.clone()
                }))
            }
            Output::Event(event) => Observation::Page(event.clone()),
        };
        self.push(at, what);
    }

    fn request(&mut self, request: &Request) -> Observation {
        let origin = self.origin.get_or_insert_with(|| request.url.clone());
        let target = if origin.origin() == request.url.origin() {
            request.url[Position::BeforePath..].to_owned()
        } else {
            request.url.to_string()
        };
        Observation::Request {
            method: request.method.clone(),
            target,
            accept: request.header("accept").map(str::to_owned),
            last_event_id: request.header("last-event-id").map(str::to_owned),
            origin: request.header("origin").map(str::to_owned),
            headers: request.extension_headers().to_vec(),
            body: request.body.clone(),
            received: true,
        }
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

impl fmt::Display for TraceLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", time(self.at))?;
        match &self.what {
            Observation::Request {
                method,
                target,
                accept,
                last_event_id,
                origin,
                headers,
                body,
                received,
            } => {
                write!(
                    f,
                    "request  {} {}  accept={}  last-event-id={}",
                    token(method),
                    token(target),
                    optional(accept.as_deref()),
                    optional(last_event_id.as_deref())
                )?;
                for (name, value) in headers {
                    write!(f, "  header:{}={}", token(name), token(value))?;
                }
                if let Some(body) = body {
                    write!(f, "  body={}", quote(body))?;
                }
                if let Some(origin) = origin {
                    write!(f, "  origin={}", token(origin))?;
                }
                if !received {
                    f.write_str("  not-received")?;
                }
                Ok(())
            }
            Observation::Page(PageEvent::Open) => f.write_str("open"),
            Observation::Page(PageEvent::Message(m)) => {
                write!(
                    f,
                    "message  type={}  id={}  data={}",
                    token(&m.event_type),
                    token(&m.last_event_id),
                    quote(&m.data)
                )?;
                match &m.origin {
                    Some(origin) => write!(f, "  origin={}", token(origin)),
                    None => Ok(()),
                }
            }
            Observation::Page(PageEvent::Error {
                ready_state: Some(state),
                ..
            }) => write!(f, "error    state={}", state.name()),
            Observation::Page(PageEvent::Error {
                ready_state: None, ..
            }) => f.write_str("error"),
            Observation::Closed => f.write_str("closed"),
            Observation::Abort => f.write_str("abort"),
        }
    }
}

/// The longest run [`unquote`] expands (a count beyond it is refused, not allocated).
const MAX_RUN: usize = 1 << 28;

fn optional(s: Option<&str>) -> String {
    s.map_or_else(|| "-".to_owned(), token)
}

/// A trace text that does not follow the format (`line` is 1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trace line {line}: {reason}")]
pub struct TraceParseError {
    /// Which line.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

impl std::str::FromStr for Trace {
    type Err = TraceParseError;

    /// Reads a trace back from its text (the inverse of `Display`), so a reviewed golden trace
    /// can be turned into an expectation and an external implementation can report a trace.
    /// Blank lines are skipped.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut trace = Trace::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let parsed = line
                .parse::<TraceLine>()
                .map_err(|e| TraceParseError { line: i + 1, ..e })?;
            trace.lines.push(parsed);
        }
        Ok(trace)
    }
}

impl std::str::FromStr for TraceLine {
    type Err = TraceParseError;

    /// Reads one line (as line 1 of a trace).
    fn from_str(line: &str) -> Result<Self, TraceParseError> {
        parse_line(line).map_err(|reason| TraceParseError { line: 1, reason })
    }
}

fn parse_line(line: &str) -> Result<TraceLine, String> {
    let mut s = Scanner(line);
    let at = parse_time(s.word().ok_or("no time")?)?;
    let kind = s.word().ok_or("no observation after the time")?;
    let what = match kind {
        "request" => {
            let method = s
                .word()
                .ok_or("a request line names its method")?
                .to_owned();
            let target = s.value()?;
            let accept = s.field("accept")?;
            let last_event_id = s.field("last-event-id")?;
            let mut headers = Vec::new();
            while let Some(name) = s.prefixed("header:") {
                let name = name.ok_or("a header has a name")?;
                let value = s.value()?.unwrap_or_default();
                headers.push((name, value));
            }
            let body = s.optional_field("body")?;
            let origin = s.optional_field("origin")?;
            let received = match s.word() {
                None => true,
                Some("not-received") => false,
                Some(other) => return Err(format!("unexpected text {other:?}")),
            };
            Observation::Request {
                method,
                target: target.ok_or("a request has a target")?,
                accept,
                last_event_id,
                origin,
                headers,
                body,
                received,
            }
        }
        "open" => Observation::Page(PageEvent::Open),
        "closed" => Observation::Closed,
        "abort" => Observation::Abort,
        "error" if s.0.trim().is_empty() => Observation::Page(PageEvent::Error {
            ready_state: None,
            message: None,
        }),
        "error" => match s.field("state")? {
            Some(state) => Observation::Page(PageEvent::error(
                [ReadyState::Connecting, ReadyState::Open, ReadyState::Closed]
                    .into_iter()
                    .find(|r| r.name() == state)
                    .ok_or_else(|| format!("unknown readyState {state:?}"))?,
            )),
            None => return Err("error state must be a readyState name".into()),
        },
        "message" => Observation::Page(PageEvent::Message(MessageEvent {
            event_type: s.field("type")?.ok_or("message type is required")?,
            last_event_id: s.field("id")?.ok_or("message id is required")?,
            data: s.field("data")?.ok_or("message data is required")?,
            origin: s.optional_field("origin")?,
        })),
        other => return Err(format!("unknown observation {other:?}")),
    };
    if !s.0.trim().is_empty() {
        return Err(format!("unexpected text {:?}", s.0.trim()));
    }
    Ok(TraceLine { at, what })
}

fn parse_time(word: &str) -> Result<Duration, String> {
    let (secs, millis) = word
        .split_once('.')
        .filter(|(_, m)| m.len() == 3)
        .ok_or_else(|| format!("time {word:?} is not seconds.millis"))?;
    let secs: u64 = secs
        .parse()
        .map_err(|_| format!("bad seconds in {word:?}"))?;
    let millis: u64 = millis
        .parse()
        .map_err(|_| format!("bad millis in {word:?}"))?;
    Ok(Duration::from_secs(secs) + Duration::from_millis(millis))
}

/// Reads a trace line left to right: bare words, `key=value` fields, quoted strings.
struct Scanner<'a>(&'a str);

impl<'a> Scanner<'a> {
    /// The next bare word.
    fn word(&mut self) -> Option<&'a str> {
        let rest = self.0.trim_start();
        if rest.is_empty() {
            return None;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        self.0 = &rest[end..];
        Some(&rest[..end])
    }

    /// `PREFIX NAME=` if the line goes on with `prefix`: the name (a token or quoted), leaving
    /// the value to read; `None` (nothing read) otherwise.
    fn prefixed(&mut self, prefix: &str) -> Option<Option<String>> {
        let rest = self.0.trim_start().strip_prefix(prefix)?;
        self.0 = rest;
        let name = if rest.starts_with('"') {
            self.value().ok().flatten()
        } else {
            let end = rest.find('=').unwrap_or(rest.len());
            self.0 = &rest[end..];
            Some(rest[..end].to_owned())
        };
        self.0 = self.0.strip_prefix('=').unwrap_or(self.0);
        Some(name)
    }

    /// `key=value` if the line goes on with `key=`, else `None` (nothing read).
    fn optional_field(&mut self, key: &str) -> Result<Option<String>, String> {
        let rest = self.0.trim_start();
        if rest.strip_prefix(key).is_some_and(|r| r.starts_with('=')) {
            self.field(key)
        } else {
            Ok(None)
        }
    }

    /// `key=value`, where `-` means absent.
    fn field(&mut self, key: &str) -> Result<Option<String>, String> {
        let rest = self.0.trim_start();
        let Some(value) = rest.strip_prefix(key).and_then(|r| r.strip_prefix('=')) else {
            return Err(format!("expected {key}=..."));
        };
        self.0 = value;
        self.value()
    }

    /// A bare token (`-` is `None`) or a quoted string.
    fn value(&mut self) -> Result<Option<String>, String> {
        let rest = self.0.trim_start();
        if let Some(quoted) = rest.strip_prefix('"') {
            let (text, used) = unquote(quoted)?;
            self.0 = &quoted[used..];
            return Ok(Some(text));
        }
        let word = self.word().ok_or("missing value")?;
        Ok((word != "-").then(|| word.to_owned()))
    }
}

/// Undoes [`quote`] on the text after the opening quote; returns the string and the bytes used,
/// closing quote included.
fn unquote(s: &str) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, i + 1)),
            '\\' => {
                let (_, e) = chars.next().ok_or("dangling backslash")?;
                match e {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    '0' => out.push('\0'),
                    // `c\*{N}`: the character before, N times in all.
                    '*' => {
                        let body = braced(&s[i + 2..], "\\* needs {count}")?;
                        let n = body
                            .parse::<usize>()
                            .ok()
                            .filter(|n| (1..=MAX_RUN).contains(n))
                            .ok_or_else(|| format!("bad run count \\*{{{body}}}"))?;
                        let c = out.pop().ok_or("\\* with no character before it")?;
                        out.extend(std::iter::repeat_n(c, n));
                        chars.nth(body.len() + 1);
                    }
                    'u' => {
                        let body = braced(&s[i + 2..], "\\u needs {hex}")?;
                        let c = u32::from_str_radix(body, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| format!("bad escape \\u{{{body}}}"))?;
                        out.push(c);
                        chars.nth(body.len() + 1);
                    }
                    other => return Err(format!("unknown escape \\{other}")),
                }
            }
            c => out.push(c),
        }
    }
    Err("unterminated quoted string".into())
}

/// What an escape's `{...}` holds (`rest` starts at the brace).
fn braced<'a>(rest: &'a str, missing: &str) -> Result<&'a str, String> {
    rest.strip_prefix('{')
        .and_then(|r| r.split_once('}'))
        .map(|(body, _)| body)
        .ok_or_else(|| missing.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_runs_are_written_once_with_their_count() {
        let big = format!("a{}b", "x".repeat(6_700_000));
        let quoted = quote(&big);
        assert_eq!(quoted, "\"ax\\*{6700000}b\"");
        assert_eq!(unquote(&quoted[1..]), Ok((big, quoted.len() - 1)));
        // Short runs stay as they are; an escaped character runs too.
        assert_eq!(
            quote(&"y".repeat(RUN - 1)),
            format!("\"{}\"", "y".repeat(RUN - 1))
        );
        assert_eq!(quote(&"\0".repeat(100)), "\"\\0\\*{100}\"");
        assert_eq!(
            unquote("\\0\\*{100}\"").map(|(s, _)| s),
            Ok("\0".repeat(100))
        );
        // A hostile count is refused, not allocated.
        assert!(unquote("x\\*{999999999999}\"").is_err());
        assert!(unquote("\\*{5}\"").is_err());
    }

    #[test]
    fn line_format_matches_design() {
        let mut t = Trace::new();
        t.push(
            Duration::ZERO,
            Observation::Request {
                method: "GET".into(),
                target: "/stream".into(),
                accept: Some("text/event-stream".into()),
                last_event_id: None,
                origin: None,
                headers: Vec::new(),
                body: None,
                received: true,
            },
        );
        t.push(
            Duration::from_millis(12),
            Observation::Page(PageEvent::Open),
        );
        t.push(
            Duration::from_millis(15),
            Observation::Page(PageEvent::Message(MessageEvent {
                event_type: "join".into(),
                last_event_id: "2".into(),
                data: "a\nb".into(),
                origin: None,
            })),
        );
        t.push(
            Duration::from_millis(1015),
            Observation::Page(PageEvent::error(ReadyState::Connecting)),
        );
        t.push(Duration::from_millis(61_000), Observation::Closed);
        assert_eq!(
            t.to_string(),
            "0.000 request  GET /stream  accept=text/event-stream  last-event-id=-\n\
             0.012 open\n\
             0.015 message  type=join  id=2  data=\"a\\nb\"\n\
             1.015 error    state=CONNECTING\n\
             61.000 closed\n"
        );
    }

    #[test]
    fn tokens_quote_what_is_ambiguous() {
        assert_eq!(token("abc"), "abc");
        assert_eq!(token(""), "\"\"");
        assert_eq!(token("-"), "\"-\"");
        assert_eq!(token("a b"), "\"a b\"");
        assert_eq!(token("é"), "\"é\"");
    }

    #[test]
    fn parses_what_it_prints() {
        let text = "0.000 request  GET /stream  accept=text/event-stream  last-event-id=-\n\
                    0.012 open\n\
                    0.015 message  type=join  id=\"\"  data=\"a\\nb \\\"q\\\" \\u{fffd}\\\\\"\n\
                    1.015 error    state=CONNECTING\n\
                    1.020 error\n\
                    1.021 abort\n\
                    2.000 request  GET \"http://other/x?a=b\"  accept=-  last-event-id=\"a b\"  not-received\n\
                    2.100 request  GET \"{other-origin}/x?a=b\"  accept=-  last-event-id=-  origin=null\n\
                    2.200 request  REPORT /s  accept=-  last-event-id=-  header:x-a=1  header:\"x b\"=\"v w\"  body=\"{}\"\n\
                    2.200 message  type=message  id=1  data=\"x\"  origin={other-origin}\n\
                    61.000 closed\n";
        let trace: Trace = text.parse().expect("parses");
        assert_eq!(trace.lines.len(), 11);
        assert_eq!(trace.to_string(), text);
        assert_eq!(
            trace.lines[2].what,
            Observation::Page(PageEvent::Message(MessageEvent {
                event_type: "join".into(),
                last_event_id: String::new(),
                data: "a\nb \"q\" \u{fffd}\\".into(),
                origin: None,
            }))
        );
    }

    /// Origins show where CORS is at work: the `Origin` a request carried, and an event's
    /// origin when a redirect took the stream elsewhere.
    #[test]
    fn origins_are_traced_where_cors_is_at_work() {
        let request = |url: &str, origin: Option<&str>| {
            Output::Io(Io::Fetch(Request {
                method: "GET".into(),
                url: url.parse().expect("url"),
                headers: origin
                    .map(|o| vec![("origin".to_owned(), o.to_owned())])
                    .unwrap_or_default(),
                extension_headers: 0,
                body: None,
                credentials: false,
            }))
        };
        let message = |origin: &str| {
            Output::Event(PageEvent::Message(MessageEvent {
                event_type: "message".into(),
                data: "d".into(),
                last_event_id: String::new(),
                origin: Some(origin.into()),
            }))
        };
        let mut t = Trace::new();
        t.record(Duration::ZERO, &request("http://a/s", None));
        t.record(Duration::ZERO, &message("http://a"));
        t.record(Duration::ZERO, &request("http://b:8/s", Some("http://a")));
        t.record(Duration::ZERO, &message("http://b:8"));
        assert_eq!(
            t.to_string(),
            "0.000 request  GET /s  accept=-  last-event-id=-\n\
             0.000 message  type=message  id=\"\"  data=\"d\"\n\
             0.000 request  GET http://b:8/s  accept=-  last-event-id=-  origin=http://a\n\
             0.000 message  type=message  id=\"\"  data=\"d\"  origin=http://b:8\n"
        );
        assert_eq!(
            t.to_string().parse::<Trace>().expect("parses").to_string(),
            t.to_string()
        );
    }

    #[test]
    fn bad_lines_are_explained() {
        for bad in [
            "x open",
            "0.1 open",
            "0.000 wave",
            "0.000 error    state=SLEEPING",
            "0.000 message  type=a  id=b",
            "0.000 message  type=a  id=b  data=\"open",
            "0.000 open extra",
        ] {
            let err = bad.parse::<Trace>().expect_err(bad);
            assert_eq!(err.line, 1, "{bad}: {err}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_message_round_trips(t in "\\PC*", id in "\\PC*", data in "(\\PC|[\\n\\r\\t\\x00])*") {
            let mut trace = Trace::new();
            let message = MessageEvent { event_type: t, last_event_id: id, data, origin: None };
            trace.push(Duration::from_millis(1234), Observation::Page(PageEvent::Message(message)));
            let text = trace.to_string();
            proptest::prop_assert_eq!(text.parse::<Trace>().expect("round trip"), trace);
        }
    }
}
