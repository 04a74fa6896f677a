//! A stream case in the report: the stream's bytes as a person can read them (every CR, LF, BOM,
//! NUL, tab and byte that is not UTF-8 shown by a visible marker, where a write ended shown too),
//! and the expected and observed messages side by side with the first difference marked.

use std::fmt::Write as _;

use super::{MAX_TRACE_LINES, escape};
use crate::{CaseReport, StreamReport};
use sse_case::stream_case::Delivery;

/// Streams up to this many bytes are shown beside each failure; longer ones only once, in the
/// stream's own panel.
const INLINE_BYTES: usize = 512;

/// The most bytes a stream's panel shows.
const MAX_BYTES: usize = 64 * 1024;

/// How the stream was delivered, its bytes when they are short, and a link to the stream.
pub(super) fn brief(out: &mut String, stream: &StreamReport, anchor: &str) {
    let bytes = stream.bytes();
    let _ = writeln!(
        out,
        "<p class=\"stream-meta\">Delivered as <strong>{}</strong> ({}): {} bytes in {} writes. \
         <a href=\"#{anchor}\">The stream and its expected messages</a></p>",
        stream.delivery.name(),
        stream.delivery.describe(),
        bytes.len(),
        stream.write_ends.len()
    );
    if bytes.len() <= INLINE_BYTES {
        marked(out, &bytes, stream);
    }
}

/// The whole stream (up to [`MAX_BYTES`]).
pub(super) fn full(out: &mut String, stream: &StreamReport) {
    let bytes = stream.bytes();
    let _ = writeln!(
        out,
        "<p class=\"stream-meta\">{} bytes, delivered as <strong>{}</strong> ({}) in {} writes.</p>",
        bytes.len(),
        stream.delivery.name(),
        stream.delivery.describe(),
        stream.write_ends.len()
    );
    marked(out, &bytes[..bytes.len().min(MAX_BYTES)], stream);
    if bytes.len() > MAX_BYTES {
        let _ = writeln!(
            out,
            "<p class=\"cut\">… {} more bytes not shown (report.json has them all).</p>",
            bytes.len() - MAX_BYTES
        );
    }
}

/// The expected messages of a stream case.
pub(super) fn expected(out: &mut String, c: &CaseReport) {
    out.push_str("<h4>Expected messages</h4>\n<ol class=\"messages\">");
    for m in message_lines(c.expected.iter().map(String::as_str)).take(MAX_TRACE_LINES) {
        let _ = write!(out, "<li>{}</li>", escape(m));
    }
    out.push_str("</ol>\n");
}

/// The expected and the observed messages side by side, the first difference marked.
pub(super) fn messages(out: &mut String, c: &CaseReport) {
    let expected: Vec<&str> = message_lines(c.expected.iter().map(String::as_str)).collect();
    let observed: Vec<&str> = message_lines(c.observed.iter().map(|e| e.text.as_str())).collect();
    let rows = expected.len().max(observed.len());
    let first = (0..rows).find(|&i| expected.get(i) != observed.get(i));
    out.push_str(
        "<table class=\"messages\">\n<thead><tr><th>#</th><th>expected message</th>\
         <th>observed message</th></tr></thead>\n<tbody>\n",
    );
    for i in 0..rows.min(MAX_TRACE_LINES) {
        let class = if Some(i) == first {
            " class=\"div\""
        } else {
            ""
        };
        let cell = |m: Option<&&str>| m.map_or_else(|| "<em>(none)</em>".to_owned(), |m| escape(m));
        let _ = writeln!(
            out,
            "<tr{class}><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            cell(expected.get(i)),
            cell(observed.get(i))
        );
    }
    out.push_str("</tbody>\n</table>\n");
    if rows > MAX_TRACE_LINES {
        let _ = writeln!(
            out,
            "<p class=\"cut\">… {} more messages not shown.</p>",
            rows - MAX_TRACE_LINES
        );
    }
}

/// The message lines of a trace, without their times.
fn message_lines<'a>(lines: impl Iterator<Item = &'a str>) -> impl Iterator<Item = &'a str> {
    lines.filter_map(|l| {
        let mut words = l.splitn(2, ' ');
        let _time = words.next()?;
        let rest = words.next()?.trim_start();
        rest.starts_with("message ").then_some(rest)
    })
}

/// The bytes in a `<pre>`, every byte a person could not see marked, and the ends of writes
/// (for a delivery that splits at line ends) as thin bars.
fn marked(out: &mut String, bytes: &[u8], stream: &StreamReport) {
    let show_writes = stream.delivery == Delivery::Splits;
    let ends: std::collections::BTreeSet<usize> = stream
        .write_ends
        .iter()
        .copied()
        .filter(|e| show_writes && *e < bytes.len())
        .collect();
    out.push_str("<pre class=\"bytes\">");
    let mark = |out: &mut String, class: &str, text: &str, title: &str| {
        let _ = write!(
            out,
            "<span class=\"m {class}\" title=\"{title}\">{text}</span>"
        );
    };
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        let len = if rest.starts_with(b"\xEF\xBB\xBF") {
            let split = (i + 1..i + 3).any(|e| ends.contains(&e));
            let (class, title) = if split {
                (
                    "bom split",
                    "U+FEFF, the byte order mark (EF BB BF); a write ended inside it",
                )
            } else {
                ("bom", "U+FEFF, the byte order mark (EF BB BF)")
            };
            mark(out, class, "BOM", title);
            3
        } else {
            match rest[0] {
                b'\r' => {
                    mark(out, "eol", "CR", "carriage return (0D)");
                    1
                }
                b'\n' => {
                    mark(out, "eol", "LF", "line feed (0A)");
                    out.push('\n');
                    1
                }
                0 => {
                    mark(out, "nul", "NUL", "U+0000 (00)");
                    1
                }
                b'\t' => {
                    mark(out, "ctl", "TAB", "tab (09)");
                    1
                }
                b if b < 0x20 || b == 0x7F => {
                    mark(out, "ctl", &format!("{b:02X}"), "a control character");
                    1
                }
                _ => {
                    let valid = match std::str::from_utf8(rest) {
                        Ok(s) => s,
                        Err(e) => std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or(""),
                    };
                    match valid.chars().next() {
                        Some(c) => {
                            let n = c.len_utf8();
                            if (i + 1..i + n).any(|e| ends.contains(&e)) {
                                let _ = write!(
                                    out,
                                    "<span class=\"split\" title=\"a write ended inside this character\">{}</span>",
                                    escape(&c.to_string())
                                );
                            } else {
                                out.push_str(&escape(&c.to_string()));
                            }
                            n
                        }
                        None => {
                            mark(
                                out,
                                "bad",
                                &format!("{:02X}", rest[0]),
                                "a byte that is not UTF-8: decoded as U+FFFD",
                            );
                            1
                        }
                    }
                }
            }
        };
        i += len;
        if ends.contains(&i) {
            out.push_str("<span class=\"w\" title=\"a write ends here\"></span>");
        }
    }
    out.push_str("</pre>\n");
}
