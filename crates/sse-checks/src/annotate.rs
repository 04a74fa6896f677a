//! A stream's lines as `ssec explain` shows them: each line, what it did by which rule, and
//! where the browsers and libraries measured here do otherwise (docs/findings.md). `ssec
//! explain` prints every line; the server checks show the lines around the bytes that failed.

use std::fmt::Write as _;

use sse_model::explain::{Step, explain_each};
use sse_model::trace::quote;
use sse_model::{Effect, Limits};

/// Where implementations measured here do otherwise at this line (docs/findings.md).
pub fn elsewhere(step: &Step) -> Vec<&'static str> {
    let mut notes = Vec::new();
    match step.effect {
        Effect::IdWithNul => notes.push(
            "Firefox ESR 140 ignores this id but keeps its field name: the next line's name gets \"id\" in front, so its field is lost",
        ),
        Effect::NothingToDispatch if step.rules.contains(&"DISPATCH-ID-WITHOUT-DATA") => notes.push(
            "Firefox ESR 140 and npm eventsource 4.1.1 lose this id: their next reconnection sends no Last-Event-ID",
        ),
        Effect::NothingToDispatch => notes.push(
            "@microsoft/fetch-event-source 2.0.1 dispatches a message with empty data here",
        ),
        Effect::Retry(ms) if ms < 500 => {
            notes.push("Firefox ESR 140 waits at least 500 ms however small the retry");
        }
        Effect::Retry(_) => notes.push(
            "launchdarkly-eventsource 1.7.4 (Python) never applies retry: it keeps its own delay",
        ),
        Effect::RetryIgnored if step.value.is_empty() => notes.push(
            "Chromium 148 resets the reconnection time to its 3 s default; Firefox ESR 140 takes it as 0 (then 500 ms)",
        ),
        Effect::Id if step.value.chars().any(|c| u32::from(c) > 0xFF) => notes.push(
            "npm eventsource 4.1.1 and undici 7.30.2 send Last-Event-ID without UTF-8 encoding: with this id their reconnections fail before reaching the server",
        ),
        Effect::Id
        | Effect::RetryIgnored
        | Effect::Dispatched
        | Effect::Comment
        | Effect::Data
        | Effect::Event
        | Effect::UnknownField => {}
    }
    notes
}

/// The line as a person reads it: `name: "value"`, `:"comment"` or `(blank line)`.
pub fn line_text(step: &Step) -> String {
    match (&step.name, step.effect) {
        (None, Effect::Comment) => format!(":{}", quote(&step.value)),
        (None, _) => "(blank line)".to_owned(),
        // A field name is the server's bytes too: control characters shown as escapes.
        (Some(name), _) => format!(
            "{}: {}",
            sse_judge::escape::terminal(name),
            quote(&step.value)
        ),
    }
}

/// One step as `ssec explain` prints it: the numbered line, what it did and by which rules, and
/// a `!` line for each implementation that does otherwise.
pub fn step_text(step: &Step) -> String {
    let mut s = format!("{:>5}  {}\n", step.number, line_text(step));
    let _ = writeln!(s, "       {}  [{}]", step.note, step.rules.join(" "));
    for note in elsewhere(step) {
        let _ = writeln!(s, "       ! {note}");
    }
    s
}

/// The 1-based number of the line `offset` falls in, counting line ends as the parser does
/// (CR, LF or CRLF; a leading BOM belongs to no line).
pub fn line_of(body: &[u8], offset: usize) -> usize {
    let mut line = 1;
    let mut i = if body.starts_with("\u{feff}".as_bytes()) {
        3
    } else {
        0
    };
    while i < offset.min(body.len()) {
        match body[i] {
            // A CRLF is one line end, counted once the offset is past both bytes.
            b'\r' if body.get(i + 1) == Some(&b'\n') => {
                if i + 1 < offset {
                    line += 1;
                }
                i += 2;
                continue;
            }
            b'\r' | b'\n' => line += 1,
            _ => {}
        }
        i += 1;
    }
    line
}

/// The lines of `body` from `context` before to `context` after the one holding byte `offset`,
/// explained; a last line that never ended has no explanation and is said to be discarded.
pub fn around(body: &[u8], offset: usize, context: usize) -> String {
    let line = line_of(body, offset);
    let mut s = String::new();
    // Only the lines shown are kept: a large body costs its own size, not its steps.
    let mut lines = 0;
    let explained = explain_each(body, Limits::default(), |step| {
        lines += 1;
        if step.number + context >= line && step.number <= line + context {
            s.push_str(&step_text(step));
        }
    });
    if line > lines {
        let _ = writeln!(
            s,
            "{line:>5}  (the last line, with no line end: a client discards it)  [PARSE-EOF-DISCARD]"
        );
    }
    if let Some(data) = explained
        .discarded_data
        .as_ref()
        .filter(|_| line + context >= lines)
    {
        let _ = writeln!(
            s,
            "  end  data {} was never followed by a blank line: a client discards it  [PARSE-EOF-DISCARD]",
            quote(data)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_fall_in_the_lines_the_parser_counts() {
        let body = b"\xEF\xBB\xBFa\r\nb\rc\n\nd";
        assert_eq!(line_of(body, 3), 1);
        assert_eq!(line_of(body, 4), 1, "the CR of a CRLF ends line 1");
        assert_eq!(line_of(body, 5), 1, "and so does its LF");
        assert_eq!(line_of(body, 6), 2);
        assert_eq!(line_of(body, 8), 3);
        assert_eq!(line_of(body, 10), 4);
        assert_eq!(line_of(body, 11), 5);
    }

    #[test]
    fn the_lines_around_a_fault_are_explained() {
        let text = around(b"id: 1\ndata: a\xFF\n\ndata: b", 13, 1);
        assert!(text.contains("    1  id: \"1\""), "{text}");
        assert!(text.contains("    2  data: \"a\\u{fffd}\""), "{text}");
        assert!(text.contains("    3  (blank line)"), "{text}");
        assert!(!text.contains("    4"), "{text}");
        let text = around(b"data: a\n\ndata: b", 9, 0);
        assert!(text.contains("(the last line, with no line end"), "{text}");
        let text = around(b"data: a\n\ndata: b\n", 9, 0);
        assert!(
            text.contains("  end  data \"b\" was never followed"),
            "{text}"
        );
    }
}
