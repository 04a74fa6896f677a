//! Checks a server's side against the event-stream grammar (`#parsing-an-event-stream`) and the
//! MIME registration: what is wrong with the bytes and headers a server sent (the server checks of the harness build on it).

use memchr::memchr2_iter;

use crate::eventsource::Response;
use crate::mime;
use crate::parser::{Line, split_field};

/// How bad a finding is: a broken `must`, or advice not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Against a `should` or authoring advice: clients cope, but something is likely wrong.
    Warning,
    /// Against a `must`: some conforming client will misread or reject this.
    Violation,
}

/// One thing a checked stream or response does wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The requirement broken (an id of `spec/requirements.toml`).
    pub requirement: &'static str,
    /// How bad it is.
    pub severity: Severity,
    /// Byte offset in the stream where it happens, if it is about the body.
    pub offset: Option<usize>,
    /// What is wrong, for a person.
    pub message: String,
}

/// At most this many findings of one requirement are listed; the rest are counted in the last.
const MAX_PER_REQUIREMENT: usize = 8;

/// Checks a complete body against the grammar: UTF-8, BOM placement, final line end, final blank line.
pub fn check_stream(bytes: &[u8]) -> Vec<Finding> {
    let mut findings = Vec::new();
    check_utf8(bytes, &mut findings);
    check_bom(bytes, &mut findings);
    check_ending(bytes, &mut findings);
    findings
}

/// Checks response headers: the MIME type, and the no-cache advice.
pub fn check_headers(response: &Response) -> Vec<Finding> {
    let mut findings = Vec::new();
    match mime::content_type_essence(response.header_values("content-type")) {
        Some(essence) if essence == "text/event-stream" => {}
        Some(essence) => findings.push(Finding {
            requirement: "STREAM-MIME",
            severity: Severity::Violation,
            offset: None,
            message: format!(
                "Content-Type is {essence}, not text/event-stream: clients fail the connection"
            ),
        }),
        None => findings.push(Finding {
            requirement: "STREAM-MIME",
            severity: Severity::Violation,
            offset: None,
            message: "no parsable Content-Type: clients fail the connection".to_owned(),
        }),
    }
    let no_cache = response.header_values("cache-control").any(|v| {
        v.split(',')
            .map(|d| d.trim().to_ascii_lowercase())
            .any(|d| d == "no-cache" || d == "no-store")
    });
    if !no_cache {
        findings.push(Finding {
            requirement: "SERVER-NO-CACHE",
            severity: Severity::Warning,
            offset: None,
            message: "no Cache-Control: no-cache or no-store: an intermediary may cache the stream"
                .to_owned(),
        });
    }
    findings
}

fn push_capped(findings: &mut Vec<Finding>, count: usize, finding: Finding) {
    if count < MAX_PER_REQUIREMENT {
        findings.push(finding);
    }
}

fn summarize_extra(findings: &mut Vec<Finding>, requirement: &'static str, count: usize) {
    if count > MAX_PER_REQUIREMENT {
        findings.push(Finding {
            requirement,
            severity: Severity::Violation,
            offset: None,
            message: format!("{} more like these", count - MAX_PER_REQUIREMENT),
        });
    }
}

fn check_utf8(bytes: &[u8], findings: &mut Vec<Finding>) {
    let mut offset = 0;
    let mut count = 0;
    for chunk in bytes.utf8_chunks() {
        offset += chunk.valid().len();
        let invalid = chunk.invalid();
        if !invalid.is_empty() {
            push_capped(
                findings,
                count,
                Finding {
                    requirement: "STREAM-UTF8",
                    severity: Severity::Violation,
                    offset: Some(offset),
                    message: format!("invalid UTF-8 {invalid:02X?}: clients will show U+FFFD"),
                },
            );
            count += 1;
            offset += invalid.len();
        }
    }
    summarize_extra(findings, "STREAM-UTF8", count);
}

fn check_bom(bytes: &[u8], findings: &mut Vec<Finding>) {
    const BOM: &[u8] = "\u{feff}".as_bytes();
    let body = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let skipped = bytes.len() - body.len();
    let mut count = 0;
    for (i, window) in body.windows(BOM.len()).enumerate() {
        if window == BOM {
            push_capped(
                findings,
                count,
                Finding {
                    requirement: "STREAM-BOM-ONCE",
                    severity: Severity::Warning,
                    offset: Some(skipped + i),
                    message: "U+FEFF after the start of the stream is not stripped: it becomes part of a field name or value".to_owned(),
                },
            );
            count += 1;
        }
    }
}

fn check_ending(bytes: &[u8], findings: &mut Vec<Finding>) {
    // Walk the lines to know whether the stream ends with field lines and no empty line. The
    // optional leading BOM belongs to no line: a stream of only a BOM is a valid empty stream.
    let mut line_start = if bytes.starts_with("\u{feff}".as_bytes()) {
        3
    } else {
        0
    };
    let mut fields_pending = None;
    let mut after_cr = false;
    for end in memchr2_iter(b'\n', b'\r', bytes) {
        if after_cr && bytes[end] == b'\n' && end == line_start {
            line_start = end + 1;
            after_cr = false;
            continue;
        }
        match split_field(&String::from_utf8_lossy(&bytes[line_start..end])) {
            Line::Empty => fields_pending = None,
            Line::Comment(_) => {}
            Line::Field { .. } => {
                fields_pending.get_or_insert(line_start);
            }
        }
        after_cr = bytes[end] == b'\r';
        line_start = end + 1;
    }
    if line_start < bytes.len() {
        if let Line::Field { .. } = split_field(&String::from_utf8_lossy(&bytes[line_start..])) {
            fields_pending.get_or_insert(line_start);
        }
        findings.push(Finding {
            requirement: "STREAM-FINAL-EOL",
            severity: Severity::Violation,
            offset: Some(line_start),
            message:
                "the stream ends inside a line (no CR or LF after it): clients discard that line"
                    .to_owned(),
        });
    }
    if let Some(offset) = fields_pending {
        findings.push(Finding {
            requirement: "STREAM-EVENT-TERMINATED",
            severity: Severity::Violation,
            offset: Some(offset),
            message: "the stream ends with field lines but no empty line after them: clients never dispatch that event".to_owned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn ids(findings: &[Finding]) -> Vec<(&'static str, Option<usize>)> {
        findings.iter().map(|f| (f.requirement, f.offset)).collect()
    }

    // spec: STREAM-UTF8 STREAM-FINAL-EOL STREAM-EVENT-TERMINATED STREAM-BOM-ONCE
    #[rstest]
    #[case::clean(b"data: a\n\n", &[])]
    #[case::clean_crlf(b"data: a\r\n\r\n: bye\r\n", &[])]
    #[case::bad_utf8(b"data: a\xFF\n\n", &[("STREAM-UTF8", Some(7))])]
    #[case::unterminated_event(b"data: a\n\nid: 1\ndata: b\n", &[("STREAM-EVENT-TERMINATED", Some(9))])]
    #[case::both(b"data: b\ndata", &[("STREAM-FINAL-EOL", Some(8)), ("STREAM-EVENT-TERMINATED", Some(0))])]
    #[case::unterminated_field(b"data: a\n\ndata: b", &[("STREAM-FINAL-EOL", Some(9)), ("STREAM-EVENT-TERMINATED", Some(9))])]
    #[case::unterminated_comment(b":x", &[("STREAM-FINAL-EOL", Some(0))])]
    #[case::bom_only(b"\xEF\xBB\xBF", &[])]
    #[case::trailing_comment_is_fine(b"data: a\n\n:ping\n", &[])]
    #[case::second_bom(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\n", &[("STREAM-BOM-ONCE", Some(3))])]
    #[case::cr_then_lf_in_next_line(b"data: a\r\r\n", &[])]
    fn stream(#[case] bytes: &[u8], #[case] expected: &[(&str, Option<usize>)]) {
        assert_eq!(ids(&check_stream(bytes)), expected);
    }

    // spec: STREAM-MIME SERVER-NO-CACHE
    #[rstest]
    #[case::good(&[("Content-Type", "text/event-stream; charset=utf-8"), ("Cache-Control", "no-cache")], &[])]
    #[case::wrong_type(&[("Content-Type", "text/plain"), ("Cache-Control", "no-store")], &[("STREAM-MIME", None)])]
    #[case::missing(&[("Cache-Control", "private, no-cache")], &[("STREAM-MIME", None)])]
    #[case::cacheable(&[("Content-Type", "text/event-stream")], &[("SERVER-NO-CACHE", None)])]
    fn response_headers(
        #[case] headers: &[(&str, &str)],
        #[case] expected: &[(&str, Option<usize>)],
    ) {
        assert_eq!(ids(&check_headers(&Response::new(200, headers))), expected);
    }

    #[test]
    fn findings_are_capped() {
        let bytes = [b'\xFF'; 20];
        let f = check_stream(&bytes);
        let utf8: Vec<_> = f
            .iter()
            .filter(|f| f.requirement == "STREAM-UTF8")
            .collect();
        assert_eq!(utf8.len(), MAX_PER_REQUIREMENT + 1);
        assert_eq!(utf8[MAX_PER_REQUIREMENT].message, "12 more like these");
    }
}
