//! Interpreting an event stream: fields into buffers, buffers into events
//! (HTML, "Interpreting an event stream", `#event-stream-interpretation`, and "dispatch the event").
//!
//! Lines arrive decoded (see the parser), so buffers are strings and dispatch copies nothing.

use crate::field::{Line, ParseError};

/// The event type used when no `event` field set one.
pub const DEFAULT_EVENT_TYPE: &str = "message";

/// A dispatched event, borrowed from the parser's buffers: copy what you keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// The event type: the `event` field, or `message`.
    pub event_type: &'a str,
    /// The data: every `data` value joined by LF, without the final LF.
    pub data: &'a str,
    /// The last event ID string after this dispatch (the MessageEvent's `lastEventId`).
    pub last_event_id: &'a str,
}

/// An owned [`Event`], for collections and traces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnedEvent {
    /// The event type: the `event` field, or `message`.
    pub event_type: String,
    /// The data: every `data` value joined by LF, without the final LF.
    pub data: String,
    /// The last event ID string after this dispatch.
    pub last_event_id: String,
}

impl From<&Event<'_>> for OwnedEvent {
    fn from(e: &Event<'_>) -> Self {
        OwnedEvent {
            event_type: e.event_type.to_owned(),
            data: e.data.to_owned(),
            last_event_id: e.last_event_id.to_owned(),
        }
    }
}

/// Receives what a stream means, in stream order: the callback interface of the parser.
pub trait Sink {
    /// An event was dispatched.
    fn event(&mut self, event: &Event<'_>);
    /// A `retry` field set the reconnection time (milliseconds).
    fn retry(&mut self, _millis: u64) {}
    /// A comment line (text after the colon); clients ignore these, tools show them.
    fn comment(&mut self, _text: &str) {}
    /// One line has been applied (after any `event`, `retry` or `comment` call it caused): what
    /// it did and the buffers after it, for tools that explain a stream (`ssec explain`).
    fn line(&mut self, _note: &LineNote<'_>) {}
}

/// What one line did to the buffers, by the rule that applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// A blank line dispatched an event.
    Dispatched,
    /// A blank line with an empty data buffer: nothing dispatched, the type buffer emptied.
    NothingToDispatch,
    /// A comment: nothing changes.
    Comment,
    /// `data`: value and LF appended to the data buffer.
    Data,
    /// `event`: the event type buffer replaced.
    Event,
    /// `id`: the last event ID buffer replaced.
    Id,
    /// `id` holding U+0000: ignored.
    IdWithNul,
    /// `retry` of digits: the reconnection time set.
    Retry(u64),
    /// `retry` that is not only digits (or does not fit): ignored.
    RetryIgnored,
    /// Any other field name: ignored.
    UnknownField,
}

/// A line as the parser applied it, with the buffers after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineNote<'a> {
    /// The field's name (`None`: a blank line or a comment).
    pub name: Option<&'a str>,
    /// The field's value, or the comment's text.
    pub value: &'a str,
    /// What it did.
    pub effect: Effect,
    /// The data buffer after it (each value followed by LF).
    pub data: &'a str,
    /// The event type buffer after it.
    pub event_type: &'a str,
    /// The last event ID buffer after it.
    pub id_buffer: &'a str,
    /// The last event ID string after it (what `lastEventId` and `Last-Event-ID` carry).
    pub last_event_id: &'a str,
}

/// One thing a stream said, owned: what [`Vec<Item>`]'s [`Sink`] collects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// An event was dispatched.
    Event(OwnedEvent),
    /// The reconnection time was set (milliseconds).
    Retry(u64),
    /// A comment line.
    Comment(String),
}

impl Sink for Vec<Item> {
    fn event(&mut self, event: &Event<'_>) {
        self.push(Item::Event(event.into()));
    }
    fn retry(&mut self, millis: u64) {
        self.push(Item::Retry(millis));
    }
    fn comment(&mut self, text: &str) {
        self.push(Item::Comment(text.to_owned()));
    }
}

/// The data, event type and last event ID buffers of one stream, plus the last event ID string.
#[derive(Debug, Clone)]
pub(crate) struct Dispatcher {
    max_event_data: usize,
    data: String,
    event_type: String,
    id_buffer: String,
    /// `last_event_id` may differ from `id_buffer`; refreshed on dispatch.
    id_changed: bool,
    last_event_id: String,
}

impl Dispatcher {
    pub(crate) fn new(max_event_data: usize) -> Self {
        Dispatcher {
            max_event_data,
            data: String::new(),
            event_type: String::new(),
            id_buffer: String::new(),
            id_changed: false,
            last_event_id: String::new(),
        }
    }

    pub(crate) fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    pub(crate) fn set_last_event_id(&mut self, id: &str) {
        self.last_event_id.clear();
        self.last_event_id.push_str(id);
        self.id_buffer.clear();
        self.id_buffer.push_str(id);
        self.id_changed = false;
    }

    /// A new stream starts with empty buffers (`DISPATCH-ID-BUFFER-PER-STREAM`).
    pub(crate) fn reset_stream(&mut self) {
        self.data.clear();
        self.event_type.clear();
        self.id_buffer.clear();
        self.id_changed = !self.last_event_id.is_empty();
    }

    /// Processes one line.
    pub(crate) fn line<S: Sink + ?Sized>(
        &mut self,
        line: Line<'_>,
        sink: &mut S,
    ) -> Result<(), ParseError> {
        let (name, value, effect) = match line {
            Line::Empty => (None, "", self.dispatch(sink)),
            Line::Comment(text) => {
                sink.comment(text);
                (None, text, Effect::Comment)
            }
            Line::Field { name, value } => {
                let effect = match name {
                    "data" => {
                        if self.data.len() + value.len() + 1 > self.max_event_data {
                            return Err(ParseError::EventTooLarge {
                                limit: self.max_event_data,
                            });
                        }
                        self.data.push_str(value);
                        self.data.push('\n');
                        Effect::Data
                    }
                    "event" => {
                        self.event_type.clear();
                        self.event_type.push_str(value);
                        Effect::Event
                    }
                    // An id containing NULL is ignored as a whole (`FIELD-ID-NULL`).
                    "id" if value.contains('\0') => Effect::IdWithNul,
                    "id" => {
                        self.id_buffer.clear();
                        self.id_buffer.push_str(value);
                        self.id_changed = true;
                        Effect::Id
                    }
                    "retry" => match parse_retry(value.as_bytes()) {
                        Some(millis) => {
                            sink.retry(millis);
                            Effect::Retry(millis)
                        }
                        None => Effect::RetryIgnored,
                    },
                    _ => Effect::UnknownField,
                };
                (Some(name), value, effect)
            }
        };
        sink.line(&LineNote {
            name,
            value,
            effect,
            data: &self.data,
            event_type: &self.event_type,
            id_buffer: &self.id_buffer,
            last_event_id: &self.last_event_id,
        });
        Ok(())
    }

    fn dispatch<S: Sink + ?Sized>(&mut self, sink: &mut S) -> Effect {
        if self.id_changed {
            self.id_changed = false;
            self.last_event_id.clone_from(&self.id_buffer);
        }
        if self.data.is_empty() {
            self.event_type.clear();
            return Effect::NothingToDispatch;
        }
        // The data buffer always ends with the LF of its last value.
        let data = self.data.strip_suffix('\n').unwrap_or(&self.data);
        let event_type = if self.event_type.is_empty() {
            DEFAULT_EVENT_TYPE
        } else {
            &self.event_type
        };
        sink.event(&Event {
            event_type,
            data,
            last_event_id: &self.last_event_id,
        });
        self.data.clear();
        self.event_type.clear();
        Effect::Dispatched
    }
}

/// A `retry` value counts only when it is one or more ASCII digits that fit in a `u64`.
///
/// The empty value and a value too large for `u64` are ignored: see the ambiguity notes of
/// `FIELD-RETRY-EMPTY` and `FIELD-RETRY-OVERFLOW` in `spec/requirements.toml`.
pub fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    value.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

impl std::fmt::Display for Item {
    /// The line a stream snapshot shows, in the trace's column style.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Item::Event(e) => write!(
                f,
                "message  type={}  id={}  data={}",
                crate::quote::token(&e.event_type),
                crate::quote::token(&e.last_event_id),
                crate::quote::quote(&e.data)
            ),
            Item::Retry(millis) => write!(f, "retry    {millis}"),
            Item::Comment(text) => write!(f, "comment  {}", crate::quote::quote(text)),
        }
    }
}
