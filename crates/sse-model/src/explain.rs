//! The spec simulator for one stream: what each line of a body does to a client's buffers, by
//! which rule (a requirement id of `spec/requirements.toml`), and what gets dispatched, as the
//! parser itself applies it (the parser reports every line to its [`Sink`]; nothing here
//! re-implements the rules). What `ssec explain` prints and a bug report quotes.

use crate::dispatch::{Effect, Event, LineNote, OwnedEvent, Sink};
use crate::parser::{Limits, ParseError, Parser};

/// One line of the stream and what it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The line's number in the stream (1-based, counting every line end: LF, CR or CRLF).
    pub number: usize,
    /// Where its bytes are in the body, its line end (LF, CR or CRLF) included and, for the
    /// first line, a leading BOM too: what a report marks and a blame reads the line's shape from.
    pub bytes: std::ops::Range<usize>,
    /// The field's name (`None`: a blank line or a comment).
    pub name: Option<String>,
    /// The field's value (after the one leading space a colon may have), or a comment's text.
    pub value: String,
    /// What it did.
    pub effect: Effect,
    /// The requirements that decided it.
    pub rules: Vec<&'static str>,
    /// What it did, for a person.
    pub note: String,
    /// The event it dispatched.
    pub event: Option<OwnedEvent>,
    /// The buffers after it.
    pub buffers: Buffers,
}

/// A client's buffers between lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Buffers {
    /// The data buffer (each value followed by LF).
    pub data: String,
    /// The event type buffer.
    pub event_type: String,
    /// The last event ID buffer.
    pub id_buffer: String,
    /// The last event ID string: what `lastEventId` shows and a reconnection sends.
    pub last_event_id: String,
}

/// A whole stream, explained.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Explanation {
    /// Every line, in order.
    pub steps: Vec<Step>,
    /// Data still in the buffer when the stream ended: never dispatched (`PARSE-EOF-DISCARD`).
    pub discarded_data: Option<String>,
    /// The stream ended inside a line: that line is discarded (`PARSE-EOF-DISCARD`).
    pub unterminated_line: bool,
    /// A parser limit the stream broke (a client treats it as a network error).
    pub error: Option<ParseError>,
    /// The last event ID when the body ended (what a reconnection sends).
    pub last_event_id: String,
}

/// Explains a complete body (one response that then ends).
pub fn explain(bytes: &[u8], limits: Limits) -> Explanation {
    let mut steps = Vec::new();
    let mut explanation = explain_each(bytes, limits, |step| steps.push(step.clone()));
    explanation.steps = steps;
    explanation
}

/// The same, handing each line's step to `each` as it is explained instead of keeping them:
/// the returned explanation has no steps, and memory stays that of the body and the client's
/// buffers however many lines there are (`ssec explain --json` on a flood of tiny events).
pub fn explain_each(bytes: &[u8], limits: Limits, each: impl FnMut(&Step)) -> Explanation {
    let mut parser = Parser::new(limits);
    let mut recorder = Recorder {
        each,
        number: 0,
        piece: 0..0,
        buffers: Buffers::default(),
        id_moved: false,
        dispatched: None,
    };
    // Fed a line at a time (each piece ends at a CR, an LF or a CRLF), so every note knows its
    // bytes; any chunking parses the same (PARSE-CHUNKING), so this is what the whole body means.
    let mut start = 0;
    let mut fed = Ok(());
    let ends = memchr::memchr2_iter(b'\n', b'\r', bytes).map(|i| i + 1);
    for mut end in ends.chain(std::iter::once(bytes.len())) {
        if end <= start && end != 0 {
            continue;
        }
        // The LF of a CRLF belongs to the CR's line.
        if bytes[..end].ends_with(b"\r") && bytes.get(end) == Some(&b'\n') {
            end += 1;
        }
        recorder.piece = start..end;
        fed = parser.feed(&bytes[start..end], &mut recorder);
        if fed.is_err() {
            break;
        }
        start = end;
    }
    let data = &recorder.buffers.data;
    let explanation = Explanation {
        discarded_data: data
            .strip_suffix('\n')
            .map(str::to_owned)
            .filter(|_| !data.is_empty()),
        unterminated_line: fed.is_ok()
            && !bytes.is_empty()
            && !bytes.ends_with(b"\n")
            && !bytes.ends_with(b"\r")
            && bytes != "\u{feff}".as_bytes(),
        error: fed.err(),
        steps: Vec::new(),
        last_event_id: std::mem::take(&mut recorder.buffers.last_event_id),
    };
    let _ = parser.finish(&mut Vec::<crate::Item>::new());
    explanation
}

/// Turns the parser's notes into steps, one at a time.
struct Recorder<F> {
    each: F,
    /// Lines so far.
    number: usize,
    /// The bytes being fed.
    piece: std::ops::Range<usize>,
    /// The buffers after the last line, updated in place.
    buffers: Buffers,
    /// An `id` line came since the last blank line: the last event ID may change there.
    id_moved: bool,
    dispatched: Option<OwnedEvent>,
}

/// Sets `buffer` to `now`, reusing its allocation.
fn set(buffer: &mut String, now: &str) {
    buffer.clear();
    buffer.push_str(now);
}

impl<F: FnMut(&Step)> Sink for Recorder<F> {
    fn event(&mut self, event: &Event<'_>) {
        self.dispatched = Some(event.into());
    }

    fn line(&mut self, n: &LineNote<'_>) {
        let event = self.dispatched.take();
        let (rules, note) = rules_and_note(n, &self.buffers, event.as_ref());
        // Each buffer changes only on the lines that change it, so no line compares or copies a
        // buffer it leaves alone (a long one stays cheap however many lines follow), and a data
        // line appends only its own bytes.
        match n.effect {
            Effect::Data => {
                let kept = self.buffers.data.len();
                match n.data.get(kept..) {
                    Some(tail) if n.data.len() > kept => self.buffers.data.push_str(tail),
                    _ => set(&mut self.buffers.data, n.data),
                }
            }
            Effect::Event => set(&mut self.buffers.event_type, n.event_type),
            Effect::Id => {
                set(&mut self.buffers.id_buffer, n.id_buffer);
                self.id_moved = true;
            }
            Effect::Dispatched | Effect::NothingToDispatch => {
                set(&mut self.buffers.data, n.data);
                set(&mut self.buffers.event_type, n.event_type);
                if self.id_moved || self.buffers.last_event_id.len() != n.last_event_id.len() {
                    set(&mut self.buffers.last_event_id, n.last_event_id);
                    self.id_moved = false;
                }
            }
            // These change no buffer.
            Effect::Comment
            | Effect::IdWithNul
            | Effect::Retry(_)
            | Effect::RetryIgnored
            | Effect::UnknownField => {}
        }
        debug_assert_eq!(
            (
                self.buffers.data.len(),
                self.buffers.event_type.len(),
                self.buffers.id_buffer.len(),
                self.buffers.last_event_id.len()
            ),
            (
                n.data.len(),
                n.event_type.len(),
                n.id_buffer.len(),
                n.last_event_id.len()
            ),
            "a buffer changed on a line that does not change it"
        );
        self.number += 1;
        let step = Step {
            number: self.number,
            bytes: self.piece.clone(),
            name: n.name.map(str::to_owned),
            value: n.value.to_owned(),
            effect: n.effect,
            rules,
            note,
            event,
            buffers: std::mem::take(&mut self.buffers),
        };
        (self.each)(&step);
        self.buffers = step.buffers;
    }
}

fn rules_and_note(
    n: &LineNote<'_>,
    before: &Buffers,
    event: Option<&OwnedEvent>,
) -> (Vec<&'static str>, String) {
    use crate::trace::{quote, token};
    let id_moved = before.last_event_id != n.last_event_id;
    match n.effect {
        Effect::Dispatched => {
            let mut rules = vec!["PARSE-EMPTY-LINE-DISPATCH", "DISPATCH-TRAILING-LF"];
            if before.event_type.is_empty() {
                rules.push("DISPATCH-DEFAULT-TYPE");
            }
            rules.push("DISPATCH-RESET-BUFFERS");
            let note = match event {
                Some(e) => format!(
                    "dispatch: message type={} lastEventId={} data={}",
                    token(&e.event_type),
                    token(&e.last_event_id),
                    quote(&e.data)
                ),
                None => "dispatch".to_owned(),
            };
            (rules, note)
        }
        Effect::NothingToDispatch if id_moved => (
            vec!["DISPATCH-EMPTY-DATA", "DISPATCH-ID-WITHOUT-DATA"],
            format!(
                "no data: nothing dispatched, but the last event ID becomes {}",
                token(n.last_event_id)
            ),
        ),
        Effect::NothingToDispatch => (
            vec!["DISPATCH-EMPTY-DATA"],
            "no data: nothing dispatched; the event type buffer is emptied".to_owned(),
        ),
        Effect::Comment => (
            vec!["PARSE-COMMENT"],
            "comment: ignored by clients (keeps a connection alive)".to_owned(),
        ),
        Effect::Data => (
            vec!["FIELD-DATA"],
            format!("data buffer += {} and LF", quote(n.value)),
        ),
        Effect::Event if n.value.is_empty() => (
            vec!["FIELD-EVENT-EMPTY"],
            "event type buffer emptied: the event will be `message`".to_owned(),
        ),
        Effect::Event => (
            vec!["FIELD-EVENT"],
            format!("event type buffer = {}", quote(n.value)),
        ),
        Effect::Id if n.value.is_empty() => (
            vec!["FIELD-ID-EMPTY-RESETS"],
            "last event ID buffer emptied: after dispatch, reconnections send no Last-Event-ID"
                .to_owned(),
        ),
        Effect::Id => (
            vec!["FIELD-ID"],
            format!(
                "last event ID buffer = {} (the last event ID once dispatched)",
                quote(n.value)
            ),
        ),
        Effect::IdWithNul => (
            vec!["FIELD-ID-NULL"],
            "id holds U+0000: the whole field is ignored".to_owned(),
        ),
        Effect::Retry(ms) => (
            vec!["FIELD-RETRY", "FIELD-RETRY-IMMEDIATE"],
            format!("reconnection time = {ms} ms, from now on (dispatched or not)"),
        ),
        Effect::RetryIgnored if n.value.is_empty() => (
            vec!["FIELD-RETRY-EMPTY"],
            "empty retry: ignored (the text leaves this open)".to_owned(),
        ),
        Effect::RetryIgnored if n.value.bytes().all(|b| b.is_ascii_digit()) => (
            vec!["FIELD-RETRY-OVERFLOW"],
            "retry too large for a 64-bit integer: ignored".to_owned(),
        ),
        Effect::RetryIgnored => (
            vec!["FIELD-RETRY-INVALID"],
            format!("retry {} is not only ASCII digits: ignored", quote(n.value)),
        ),
        Effect::UnknownField => {
            let name = n.name.unwrap_or_default();
            let known = ["data", "event", "id", "retry"];
            if known.iter().any(|k| k.eq_ignore_ascii_case(name)) {
                (
                    vec!["FIELD-NAME-CASE", "FIELD-UNKNOWN"],
                    format!(
                        "field {} is not {} (names are case-sensitive): ignored",
                        quote(name),
                        name.to_ascii_lowercase()
                    ),
                )
            } else {
                (
                    vec!["FIELD-UNKNOWN"],
                    format!("unknown field {}: ignored", quote(name)),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effects(e: &Explanation) -> Vec<(Effect, Vec<&'static str>)> {
        e.steps
            .iter()
            .map(|s| (s.effect, s.rules.clone()))
            .collect()
    }

    #[test]
    fn every_line_is_explained_by_its_rule() {
        let e = explain(
            b"\xEF\xBB\xBFid: 1\r\ndata: a\rdata:b\n\n: ping\nid\nretry: 1x\nretry: 250\nDATA: c\n\nevent:\nid: 2\0\n\ndata: tail",
            Limits::default(),
        );
        let got = effects(&e);
        assert_eq!(
            got,
            vec![
                (Effect::Id, vec!["FIELD-ID"]),
                (Effect::Data, vec!["FIELD-DATA"]),
                (Effect::Data, vec!["FIELD-DATA"]),
                (
                    Effect::Dispatched,
                    vec![
                        "PARSE-EMPTY-LINE-DISPATCH",
                        "DISPATCH-TRAILING-LF",
                        "DISPATCH-DEFAULT-TYPE",
                        "DISPATCH-RESET-BUFFERS"
                    ]
                ),
                (Effect::Comment, vec!["PARSE-COMMENT"]),
                (Effect::Id, vec!["FIELD-ID-EMPTY-RESETS"]),
                (Effect::RetryIgnored, vec!["FIELD-RETRY-INVALID"]),
                (
                    Effect::Retry(250),
                    vec!["FIELD-RETRY", "FIELD-RETRY-IMMEDIATE"]
                ),
                (
                    Effect::UnknownField,
                    vec!["FIELD-NAME-CASE", "FIELD-UNKNOWN"]
                ),
                (
                    Effect::NothingToDispatch,
                    vec!["DISPATCH-EMPTY-DATA", "DISPATCH-ID-WITHOUT-DATA"]
                ),
                (Effect::Event, vec!["FIELD-EVENT-EMPTY"]),
                (Effect::IdWithNul, vec!["FIELD-ID-NULL"]),
                (Effect::NothingToDispatch, vec!["DISPATCH-EMPTY-DATA"]),
            ]
        );
        let first = e.steps[3].event.as_ref().expect("dispatched");
        assert_eq!(
            (first.data.as_str(), first.last_event_id.as_str()),
            ("a\nb", "1")
        );
        assert_eq!(
            e.steps[9].buffers.last_event_id, "",
            "the empty id took effect"
        );
        assert_eq!(e.discarded_data, None, "the last line never ended");
        assert!(e.unterminated_line);
        assert_eq!(e.error, None);
    }

    #[test]
    fn every_line_knows_its_bytes_line_end_included() {
        let body = b"\xEF\xBB\xBFid: 1\r\ndata: a\rdata:b\n\n\r\n:c\rdata: tail";
        let e = explain(body, Limits::default());
        let spans: Vec<&[u8]> = e.steps.iter().map(|s| &body[s.bytes.clone()]).collect();
        assert_eq!(
            spans,
            [
                &b"\xEF\xBB\xBFid: 1\r\n"[..],
                b"data: a\r",
                b"data:b\n",
                b"\n",
                b"\r\n",
                b":c\r",
            ]
        );
        // Split anywhere, the spans are the same: they come from the parser's own line ends.
        assert_eq!(e.steps.len(), 6);
    }

    #[test]
    fn data_left_at_the_end_is_discarded() {
        let e = explain(b"data: a\n\ndata: b\n", Limits::default());
        assert_eq!(e.discarded_data.as_deref(), Some("b"));
        assert!(!e.unterminated_line);
    }

    #[test]
    fn a_broken_limit_is_reported_not_a_panic() {
        let limits = Limits {
            max_line_len: 8,
            ..Limits::default()
        };
        let e = explain(b"data: far too long for the limit\n\n", limits);
        assert!(
            matches!(e.error, Some(ParseError::LineTooLong { .. })),
            "{e:?}"
        );
    }

    #[test]
    fn explaining_agrees_with_parsing_on_every_fixture_stream() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/streams");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("fixtures/streams") {
            let path = entry.expect("entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("sse") {
                continue;
            }
            let bytes = std::fs::read(&path).expect("read");
            let Ok(items) = crate::parse_stream(&bytes, Limits::default()) else {
                continue;
            };
            let parsed: Vec<OwnedEvent> = items
                .into_iter()
                .filter_map(|i| match i {
                    crate::Item::Event(e) => Some(e),
                    _ => None,
                })
                .collect();
            let explained: Vec<OwnedEvent> = explain(&bytes, Limits::default())
                .steps
                .into_iter()
                .filter_map(|s| s.event)
                .collect();
            assert_eq!(parsed, explained, "{}", path.display());
            seen += 1;
        }
        assert!(seen > 50, "only {seen} fixture streams");
    }

    #[test]
    fn explaining_agrees_with_parsing() {
        // What the explanation dispatches is exactly what the parser dispatches.
        let stream = b"id: 7\nevent: x\ndata: 1\n\ndata: 2\r\n\r\n:c\nid: \n\ndata: 3\n\n";
        let parsed: Vec<OwnedEvent> = crate::parse_stream(stream, Limits::default())
            .expect("parses")
            .into_iter()
            .filter_map(|i| match i {
                crate::Item::Event(e) => Some(e),
                _ => None,
            })
            .collect();
        let explained: Vec<OwnedEvent> = explain(stream, Limits::default())
            .steps
            .into_iter()
            .filter_map(|s| s.event)
            .collect();
        assert_eq!(parsed, explained);
    }
}
