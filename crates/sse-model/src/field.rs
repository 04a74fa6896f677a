//! A line of the stream as the interpretation rules see it (empty, a comment, or a field split
//! at its first colon), and the limits a stream can break while its lines are read.

use memchr::memchr;

/// A stream broke one of the parser's `Limits`; the parser refuses further input until reset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A line grew past `max_line_len` before its end-of-line arrived.
    #[error("line longer than the limit of {limit} bytes (IMPL-LIMITS)")]
    LineTooLong {
        /// The configured limit.
        limit: usize,
    },
    /// An event's data buffer grew past `max_event_data` before the event was dispatched.
    #[error("event data larger than the limit of {limit} bytes (IMPL-LIMITS)")]
    EventTooLarge {
        /// The configured limit.
        limit: usize,
    },
}

/// One line of the stream, classified by the interpretation rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// An empty line: dispatch the event.
    Empty,
    /// A line starting with a colon: a comment, ignored by clients (the text after the colon).
    Comment(&'a str),
    /// A field: the name before the first colon, the value after it minus one leading space.
    Field {
        /// Field name, compared case-sensitively.
        name: &'a str,
        /// Field value (empty when the line had no colon).
        value: &'a str,
    },
}

/// Classifies a line and splits a field at its first colon, removing one leading space.
pub fn split_field(line: &str) -> Line<'_> {
    let bytes = line.as_bytes();
    // The common field names need no search for their colon.
    let colon = if bytes.starts_with(b"data:") {
        Some(4)
    } else if bytes.starts_with(b"id:") {
        Some(2)
    } else if bytes.starts_with(b"event:") {
        Some(5)
    } else {
        memchr(b':', bytes)
    };
    match colon {
        _ if line.is_empty() => Line::Empty,
        Some(0) => Line::Comment(&line[1..]),
        // The colon is ASCII, so both sides of it are character boundaries.
        Some(colon) => {
            let value = &line[colon + 1..];
            Line::Field {
                name: &line[..colon],
                value: value.strip_prefix(' ').unwrap_or(value),
            }
        }
        None => Line::Field {
            name: line,
            value: "",
        },
    }
}
