//! Traces: what a client observably did, one line per observation, as snapshots and reports show it.
//! The format is the one in the design document (time, request, open, message, error, closed).

use std::fmt;
use std::time::Duration;

use url::{Position, Url};

use crate::eventsource::{Action, ReadyState, Request};

/// One observable thing a client did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// A request was sent.
    Request {
        /// Path and query when same-origin with the first request, else the full URL.
        target: String,
        /// The `Accept` header, if sent.
        accept: Option<String>,
        /// The `Last-Event-ID` header, if sent.
        last_event_id: Option<String>,
    },
    /// `open` fired.
    Open,
    /// A message event fired.
    Message {
        /// Event type.
        event_type: String,
        /// `lastEventId`.
        id: String,
        /// `data`.
        data: String,
    },
    /// `error` fired, leaving readyState as given.
    Error(ReadyState),
    /// The page called close().
    Closed,
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

    /// Records an [`Action`] of the model if it is observable (requests and events; not timers
    /// or aborts, which are the driver's business).
    pub fn record(&mut self, at: Duration, action: &Action) {
        let what = match action {
            Action::Fetch(request) => self.request(request),
            Action::Open => Observation::Open,
            Action::Message(m) => Observation::Message {
                event_type: m.event_type.clone(),
                id: m.last_event_id.clone(),
                data: m.data.clone(),
            },
            Action::Error(state) => Observation::Error(*state),
            Action::Abort | Action::SetTimer(_) => return,
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
            target,
            accept: request.header("accept").map(str::to_owned),
            last_event_id: request.header("last-event-id").map(str::to_owned),
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
        let secs = self.at.as_secs();
        let millis = self.at.subsec_millis();
        write!(f, "{secs}.{millis:03} ")?;
        match &self.what {
            Observation::Request {
                target,
                accept,
                last_event_id,
            } => write!(
                f,
                "request  GET {}  accept={}  last-event-id={}",
                token(target),
                optional(accept.as_deref()),
                optional(last_event_id.as_deref())
            ),
            Observation::Open => f.write_str("open"),
            Observation::Message {
                event_type,
                id,
                data,
            } => write!(
                f,
                "message  type={}  id={}  data={}",
                token(event_type),
                token(id),
                quote(data)
            ),
            Observation::Error(state) => write!(f, "error    state={}", state.name()),
            Observation::Closed => f.write_str("closed"),
        }
    }
}

/// A value printed bare when that is unambiguous, else quoted with escapes.
pub fn token(s: &str) -> String {
    let bare = !s.is_empty()
        && s != "-"
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'='));
    if bare { s.to_owned() } else { quote(s) }
}

/// A string in double quotes with every invisible or ambiguous character escaped, so that a
/// snapshot shows U+FFFD, a BOM or a NUL as what it is.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            ' ' => out.push(' '),
            c if c.is_control()
                || c.is_whitespace()
                || matches!(c, '\u{fffd}' | '\u{feff}' | '\u{200b}'..='\u{200f}') =>
            {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn optional(s: Option<&str>) -> String {
    s.map_or_else(|| "-".to_owned(), token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_format_matches_design() {
        let mut t = Trace::new();
        t.push(
            Duration::ZERO,
            Observation::Request {
                target: "/stream".into(),
                accept: Some("text/event-stream".into()),
                last_event_id: None,
            },
        );
        t.push(Duration::from_millis(12), Observation::Open);
        t.push(
            Duration::from_millis(15),
            Observation::Message {
                event_type: "join".into(),
                id: "2".into(),
                data: "a\nb".into(),
            },
        );
        t.push(
            Duration::from_millis(1015),
            Observation::Error(ReadyState::Connecting),
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
}
