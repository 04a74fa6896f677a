//! Writing the event-stream format (`#parsing-an-event-stream`): events, comments, retry lines.
//! Every function here produces text that `sse-model` parses back to exactly what went in.

use bytes::{BufMut, Bytes, BytesMut};

/// One event to send.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutEvent {
    /// The `id` field; `None` sends no id line (the client keeps its last event ID).
    pub id: Option<String>,
    /// The `event` field; `None` means `message`.
    pub event: Option<String>,
    /// The data; line breaks (CRLF, CR or LF) become separate `data` lines.
    pub data: String,
}

/// Encodes one event, ending with its blank line.
///
/// CR and LF inside `id` or `event` would end the field early and NULL makes clients drop the
/// id, so those characters are replaced by a space: the server never emits a malformed field.
pub fn event(e: &OutEvent) -> Bytes {
    let mut out = BytesMut::with_capacity(e.data.len() + 32);
    if let Some(id) = &e.id {
        field(&mut out, "id", &single_line(id, true));
    }
    if let Some(name) = &e.event {
        field(&mut out, "event", &single_line(name, false));
    }
    for line in split_lines(&e.data) {
        field(&mut out, "data", line);
    }
    out.put_u8(b'\n');
    out.freeze()
}

/// A comment line (`:` + text); line breaks in `text` become separate comment lines.
pub fn comment(text: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(text.len() + 3);
    for line in split_lines(text) {
        out.put_u8(b':');
        if !line.is_empty() {
            out.put_u8(b' ');
            out.put_slice(line.as_bytes());
        }
        out.put_u8(b'\n');
    }
    out.freeze()
}

/// A `retry` line with no empty line after it: it takes effect when read, and it must not
/// dispatch. An empty line before the first `id` of a new connection would set the client's last
/// event ID to the new stream's empty buffer (`DISPATCH-ID-BUFFER-PER-STREAM`), so a reconnection
/// before the next event could not resume (`SERVER-SAFE-PREAMBLE`). The line joins the first
/// event's block, which it does not change.
pub fn retry(millis: u64) -> Bytes {
    Bytes::from(format!("retry: {millis}\n"))
}

/// The longest padding comment sent (64 KiB): past what any buffering middlebox holds back,
/// and small enough that no configuration can make a stream's first write exhaust memory.
pub const MAX_PADDING: usize = 64 * 1024;

/// A comment of exactly `len` bytes (2 to [`MAX_PADDING`]), for middleboxes that hold the first
/// bytes back.
pub fn padding(len: usize) -> Bytes {
    let len = len.clamp(2, MAX_PADDING);
    let mut out = BytesMut::with_capacity(len);
    out.put_u8(b':');
    out.put_bytes(b' ', len - 2);
    out.put_u8(b'\n');
    out.freeze()
}

fn field(out: &mut BytesMut, name: &str, value: &str) {
    out.put_slice(name.as_bytes());
    out.put_u8(b':');
    // A value starting with a space would lose it to the one-space rule: always write one.
    out.put_u8(b' ');
    out.put_slice(value.as_bytes());
    out.put_u8(b'\n');
}

fn single_line(value: &str, no_nul: bool) -> String {
    value
        .chars()
        .map(|c| match c {
            '\r' | '\n' => ' ',
            '\0' if no_nul => ' ',
            c => c,
        })
        .collect()
}

/// Splits at CRLF, CR or LF, as the parser will.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            Some(i) => {
                let skip = if current[i..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[i + skip..]);
                Some(&current[..i])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use sse_model::{Item, Limits, parse_stream};

    #[rstest]
    #[case::plain(Some("1"), None, "hello")]
    #[case::multiline(Some("2"), Some("add"), "a\nb\r\nc\rd")]
    #[case::empty(None, None, "")]
    #[case::leading_space(Some(" 3"), Some(" x"), "  two spaces")]
    #[case::trailing_newline(None, None, "a\n")]
    #[case::colon(None, None, ": not a comment")]
    fn round_trips(#[case] id: Option<&str>, #[case] name: Option<&str>, #[case] data: &str) {
        let e = OutEvent {
            id: id.map(str::to_owned),
            event: name.map(str::to_owned),
            data: data.to_owned(),
        };
        let items = parse_stream(&event(&e), Limits::default()).expect("within limits");
        let [Item::Event(got)] = items.as_slice() else {
            panic!("{items:?}")
        };
        let expected_data = data.replace("\r\n", "\n").replace('\r', "\n");
        assert_eq!(got.data, expected_data);
        assert_eq!(got.event_type, name.unwrap_or("message"));
        assert_eq!(got.last_event_id, id.unwrap_or(""));
    }

    #[test]
    fn fields_never_break() {
        let e = OutEvent {
            id: Some("a\nb\0c".into()),
            event: Some("x\ry".into()),
            data: "d".into(),
        };
        assert_eq!(&event(&e)[..], b"id: a b c\nevent: x y\ndata: d\n\n");
    }

    #[test]
    fn comments_padding_retry() {
        assert_eq!(&comment("keep-alive")[..], b": keep-alive\n");
        assert_eq!(&comment("")[..], b":\n");
        assert_eq!(&comment("a\nb")[..], b": a\n: b\n");
        assert_eq!(padding(2048).len(), 2048);
        // Any size is capped, never an allocation failure or a capacity overflow.
        assert_eq!(padding(usize::MAX).len(), MAX_PADDING);
        assert_eq!(padding(1_000_000_000_000).len(), MAX_PADDING);
        assert_eq!(
            parse_stream(&padding(5), Limits::default()).expect("ok"),
            [Item::Comment("   ".into())]
        );
        assert_eq!(&retry(1500)[..], b"retry: 1500\n");
    }
}
