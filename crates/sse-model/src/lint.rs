//! Checks a server's side against the event-stream grammar (`#parsing-an-event-stream`) and the
//! MIME registration: what is wrong with the bytes and headers a server sent. [`StreamLint`]
//! judges a body as it arrives (the server checks of the harness build on it).

use crate::dispatch::{Effect, Sink};
use crate::eventsource::Response;
use crate::mime;
use crate::parser::Parser;

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
    let mut lint = StreamLint::new();
    lint.feed(bytes);
    lint.finish()
}

/// The body checks of [`check_stream`] as the bytes arrive, so a stream that never ends is
/// judged on what it has sent so far: the byte rules (UTF-8, a BOM after the start, where lines
/// start) on the raw chunks, the line rules through the client's own [`Parser`] with a [`Sink`]
/// that sees each line's effect. Any chunking of a body gives the same findings.
#[derive(Debug)]
pub struct StreamLint {
    parser: Option<Parser>,
    lines: LineRules,
    /// Bytes seen so far.
    offset: usize,
    /// The stream's first bytes, until it is known whether they are a BOM.
    head: Vec<u8>,
    /// The end of an unfinished UTF-8 sequence, carried to the next chunk.
    utf8_carry: Vec<u8>,
    /// The last two bytes, for a BOM split across chunks.
    tail: Vec<u8>,
    counts: [usize; 2],
    findings: Vec<Finding>,
}

/// Where lines start (from the raw bytes) and which event is still open (from the parser).
#[derive(Debug, Default)]
struct LineRules {
    /// Starts of the lines that ended but the parser has not applied yet.
    starts: std::collections::VecDeque<usize>,
    /// Where the current line started.
    line_start: usize,
    /// The byte before was a CR (a following LF belongs to that line end).
    after_cr: bool,
    /// The first byte of the current line, if it has one.
    first: Option<u8>,
    /// Where the fields of an event not yet ended by a blank line start.
    pending: Option<usize>,
}

impl Sink for LineRules {
    fn event(&mut self, _event: &crate::dispatch::Event<'_>) {}

    fn line(&mut self, note: &crate::dispatch::LineNote<'_>) {
        let start = self.starts.pop_front().unwrap_or_default();
        match note.effect {
            Effect::Dispatched | Effect::NothingToDispatch => self.pending = None,
            Effect::Comment => {}
            _ => {
                self.pending.get_or_insert(start);
            }
        }
    }
}

const BOM: &[u8] = "\u{feff}".as_bytes();
const UTF8: usize = 0;
const BOM_ONCE: usize = 1;

impl Default for StreamLint {
    fn default() -> Self {
        StreamLint::new()
    }
}

impl StreamLint {
    /// A lint at the start of a stream.
    pub fn new() -> Self {
        StreamLint {
            parser: Some(Parser::new(crate::Limits::default())),
            lines: LineRules::default(),
            offset: 0,
            head: Vec::with_capacity(3),
            utf8_carry: Vec::new(),
            tail: Vec::new(),
            counts: [0; 2],
            findings: Vec::new(),
        }
    }

    /// Looks at the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.utf8(chunk, false);
        self.bom(chunk);
        self.split(chunk);
        if let Some(parser) = &mut self.parser {
            if let Err(e) = parser.feed(chunk, &mut self.lines) {
                // Past the parser's limits the line rules lose their place: they stop here.
                self.findings.push(Finding {
                    requirement: "IMPL-LIMITS",
                    severity: Severity::Warning,
                    offset: Some(self.offset + chunk.len()),
                    message: format!("{e}: a client with the model's limits fails the stream here"),
                });
                self.parser = None;
            }
        }
        self.offset += chunk.len();
    }

    /// What is wrong so far (not counting what only the end can tell).
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// Ends the body: adds what only its end can tell (a last line without a line end, an
    /// event without its blank line, a UTF-8 sequence cut short) and returns every finding.
    pub fn finish(mut self) -> Vec<Finding> {
        self.utf8(&[], true);
        let lines = &mut self.lines;
        if lines.line_start < self.offset {
            if lines.first != Some(b':') {
                lines.pending.get_or_insert(lines.line_start);
            }
            self.findings.push(Finding {
                requirement: "STREAM-FINAL-EOL",
                severity: Severity::Violation,
                offset: Some(lines.line_start),
                message:
                    "the stream ends inside a line (no CR or LF after it): clients discard that line"
                        .to_owned(),
            });
        }
        if let (Some(offset), Some(_)) = (lines.pending, &self.parser) {
            self.findings.push(Finding {
                requirement: "STREAM-EVENT-TERMINATED",
                severity: Severity::Violation,
                offset: Some(offset),
                message: "the stream ends with field lines but no empty line after them: clients never dispatch that event".to_owned(),
            });
        }
        summarize_extra(&mut self.findings, "STREAM-UTF8", self.counts[UTF8]);
        // The order `check_stream` always gave: UTF-8, BOM, then the ending.
        self.findings.sort_by_key(|f| match f.requirement {
            "STREAM-UTF8" => 0,
            "STREAM-BOM-ONCE" => 1,
            _ => 2,
        });
        self.findings
    }

    fn push(&mut self, rule: usize, finding: Finding) {
        if self.counts[rule] < MAX_PER_REQUIREMENT {
            self.findings.push(finding);
        }
        self.counts[rule] += 1;
    }

    /// Invalid UTF-8, with a sequence split across chunks judged once it is whole (or at the end).
    fn utf8(&mut self, chunk: &[u8], end: bool) {
        let start = self.offset - self.utf8_carry.len();
        let mut bytes = std::mem::take(&mut self.utf8_carry);
        bytes.extend_from_slice(chunk);
        let mut at = 0;
        loop {
            match std::str::from_utf8(&bytes[at..]) {
                Ok(_) => break,
                Err(e) => {
                    let bad_at = at + e.valid_up_to();
                    let len = match e.error_len() {
                        Some(len) => len,
                        None if !end => {
                            self.utf8_carry = bytes[bad_at..].to_vec();
                            break;
                        }
                        None => bytes.len() - bad_at,
                    };
                    let invalid = bytes[bad_at..bad_at + len].to_vec();
                    self.push(
                        UTF8,
                        Finding {
                            requirement: "STREAM-UTF8",
                            severity: Severity::Violation,
                            offset: Some(start + bad_at),
                            message: format!(
                                "invalid UTF-8 {invalid:02X?}: clients will show U+FFFD"
                            ),
                        },
                    );
                    at = bad_at + len;
                }
            }
        }
    }

    /// A U+FEFF anywhere but at the very start (which the parser strips).
    fn bom(&mut self, chunk: &[u8]) {
        let start = self.offset - self.tail.len();
        let mut bytes = std::mem::take(&mut self.tail);
        bytes.extend_from_slice(chunk);
        let found: Vec<usize> = bytes
            .windows(BOM.len())
            .enumerate()
            .filter(|(i, w)| *w == BOM && start + i > 0)
            .map(|(i, _)| start + i)
            .collect();
        for offset in found {
            self.push(
                BOM_ONCE,
                Finding {
                    requirement: "STREAM-BOM-ONCE",
                    severity: Severity::Warning,
                    offset: Some(offset),
                    message: "U+FEFF after the start of the stream is not stripped: it becomes part of a field name or value".to_owned(),
                },
            );
        }
        self.tail = bytes[bytes.len().saturating_sub(BOM.len() - 1)..].to_vec();
    }

    /// Where each line starts, as the parser splits them (CR, LF or CRLF; a leading BOM is not
    /// part of the first line).
    fn split(&mut self, chunk: &[u8]) {
        let lines = &mut self.lines;
        for (i, &b) in chunk.iter().enumerate() {
            let at = self.offset + i;
            if self.head.len() < BOM.len() {
                self.head.push(b);
                if self.head == BOM {
                    lines.line_start = BOM.len();
                    lines.first = None;
                    continue;
                }
            }
            if b == b'\n' && lines.after_cr && at == lines.line_start {
                // The LF of a CRLF.
                lines.line_start = at + 1;
                lines.after_cr = false;
                continue;
            }
            if b == b'\n' || b == b'\r' {
                lines.starts.push_back(lines.line_start);
                lines.line_start = at + 1;
                lines.after_cr = b == b'\r';
                lines.first = None;
            } else {
                lines.after_cr = false;
                if at == lines.line_start {
                    lines.first = Some(b);
                }
            }
        }
    }
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

    /// Bodies made of the pieces the rules care about: lines, every line end, BOMs, bytes that
    /// are not UTF-8 and halves of a sequence.
    fn bodies() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::strategy::Strategy as _;
        let pieces: Vec<&'static [u8]> = vec![
            b"data: a",
            b"\n",
            b"\r",
            b"\r\n",
            b"\xEF\xBB\xBF",
            b"\xFF",
            b"\xC3",
            b"\xA9",
            b":c",
            b"id: 1",
            b"x",
        ];
        proptest::collection::vec(proptest::sample::select(pieces), 0..24)
            .prop_map(|parts| parts.concat())
    }

    proptest::proptest! {
        // Any chunking of a body gives the findings of the whole: the byte rules carry what a
        // chunk ends inside (a UTF-8 sequence, a BOM, a CRLF) and the line rules stay in step
        // with the parser.
        #[test]
        fn any_chunking_gives_the_same_findings(
            body in bodies(),
            cuts in proptest::collection::vec(0usize..64, 0..6),
        ) {
            let whole = check_stream(&body);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(body.len())).collect();
            cuts.sort_unstable();
            let mut lint = StreamLint::new();
            let mut from = 0;
            for cut in cuts.into_iter().chain([body.len()]) {
                lint.feed(&body[from..cut]);
                from = cut;
            }
            proptest::prop_assert_eq!(lint.finish(), whole);
        }
    }

    #[test]
    fn a_stream_is_judged_before_it_ends() {
        let mut lint = StreamLint::new();
        lint.feed(b"data: a\xFF\n\n");
        assert_eq!(ids(lint.findings()), [("STREAM-UTF8", Some(7))]);
        lint.feed(b"data: b\n");
        assert_eq!(
            ids(&lint.finish()),
            [
                ("STREAM-UTF8", Some(7)),
                ("STREAM-EVENT-TERMINATED", Some(10))
            ]
        );
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
