//! The timeline of a case: an SVG of the expected and the observed trace on one time axis,
//! connections as bars, waits dashed, each line a mark; and the legend of its shapes.

use std::fmt::Write as _;
use std::time::Duration;

use sse_model::{Observation, PageEvent, ReadyState, TraceLine};

use super::{MAX_TRACE_LINES, escape};
use crate::CaseReport;
use sse_judge::judge::TraceEntry;

/// Width of the timeline's coordinate system.
const WIDTH: f64 = 1000.0;
/// Where time 0 sits (room for the lane names).
const LEFT: f64 = 76.0;
/// Width of the time axis.
const PLOT: f64 = WIDTH - LEFT - 16.0;
/// The lanes' centre lines and the axis.
const EXPECTED_Y: f64 = 24.0;
const OBSERVED_Y: f64 = 66.0;
const AXIS_Y: f64 = 92.0;
const HEIGHT: f64 = 112.0;
/// Tick steps in milliseconds; the first that gives at most eight intervals is used.
const STEPS: [u64; 24] = [
    1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1_000, 2_000, 2_500, 5_000, 10_000, 15_000,
    30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000,
];

/// What a trace line is, as the timeline draws it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Request {
        received: bool,
    },
    Open,
    Message,
    Error(Option<ReadyState>),
    Closed,
    Command,
    /// A line the trace format does not know (a comment, a future kind).
    Other,
}

impl Kind {
    /// The line's time (if it parses) and kind; lines that do not parse are classified by
    /// their second word (`request` with another method, `command`, `comment`).
    fn classify(text: &str) -> (Option<Duration>, Kind) {
        match text.parse::<TraceLine>() {
            Ok(line) => (Some(line.at), Kind::of(&line.what)),
            Err(_) => {
                let kind = match text.split_whitespace().nth(1) {
                    Some("request") => Kind::Request {
                        received: !text.trim_end().ends_with("not-received"),
                    },
                    Some("command") => Kind::Command,
                    _ => Kind::Other,
                };
                (None, kind)
            }
        }
    }

    fn of(what: &Observation) -> Kind {
        match what {
            Observation::Request { received, .. } => Kind::Request {
                received: *received,
            },
            Observation::Page(PageEvent::Open) => Kind::Open,
            Observation::Page(PageEvent::Message(_)) => Kind::Message,
            Observation::Page(PageEvent::Error { ready_state, .. }) => Kind::Error(*ready_state),
            Observation::Closed => Kind::Closed,
            Observation::Abort => Kind::Other,
        }
    }

    /// The shape at (x, y): the lanes' vocabulary, also drawn by the legend.
    fn shape(self, x: f64, y: f64) -> String {
        match self {
            Kind::Request { .. } => vertical("req", x, y, 9.0),
            Kind::Open => vertical("open", x, y, 11.0),
            Kind::Message => vertical("msg", x, y, 6.0),
            Kind::Error(Some(ReadyState::Connecting)) => {
                format!("<circle class=\"err-connecting\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4.5\"/>")
            }
            Kind::Error(Some(ReadyState::Closed)) => format!(
                "<path class=\"err-closed\" d=\"M{:.1} {:.1}L{:.1} {:.1}M{:.1} {:.1}L{:.1} {:.1}\"/>",
                x - 5.0,
                y - 5.0,
                x + 5.0,
                y + 5.0,
                x - 5.0,
                y + 5.0,
                x + 5.0,
                y - 5.0
            ),
            Kind::Error(_) => {
                format!("<circle class=\"err-other\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4.5\"/>")
            }
            Kind::Closed => format!(
                "<rect class=\"closed\" x=\"{:.1}\" y=\"{:.1}\" width=\"6\" height=\"18\"/>",
                x - 3.0,
                y - 9.0
            ),
            Kind::Command => format!(
                "<path class=\"command\" d=\"M{x:.1} {:.1}L{:.1} {y:.1}L{x:.1} {:.1}L{:.1} {y:.1}Z\"/>",
                y - 7.0,
                x + 6.0,
                y + 7.0,
                x - 6.0
            ),
            Kind::Other => format!(
                "<circle class=\"other\" cx=\"{x:.1}\" cy=\"{:.1}\" r=\"2.5\"/>",
                y + 11.0
            ),
        }
    }
}

fn vertical(class: &str, x: f64, y: f64, half: f64) -> String {
    format!(
        "<line class=\"{class}\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>",
        y - half,
        y + half
    )
}

/// A trace line placed on the timeline.
struct Mark<'a> {
    at: Duration,
    kind: Kind,
    /// Its index in the trace.
    line: usize,
    text: &'a str,
}

/// The golden trace's lines that parse (a golden line always should).
fn expected_marks(lines: &[String]) -> Vec<Mark<'_>> {
    lines
        .iter()
        .take(MAX_TRACE_LINES)
        .enumerate()
        .filter_map(|(line, text)| {
            let (at, kind) = Kind::classify(text);
            at.map(|at| Mark {
                at,
                kind,
                line,
                text,
            })
        })
        .collect()
}

/// Every observed line, at the time it was recorded.
fn observed_marks(entries: &[TraceEntry]) -> Vec<Mark<'_>> {
    entries
        .iter()
        .take(MAX_TRACE_LINES)
        .enumerate()
        .map(|(line, e)| Mark {
            at: e.at,
            kind: Kind::classify(&e.text).1,
            line,
            text: &e.text,
        })
        .collect()
}

/// The time axis: from 0 to `end_ms` (a tick past the last line), a tick every `step_ms`.
struct Axis {
    /// The time of the last line in either lane.
    last: Duration,
    end_ms: u64,
    step_ms: u64,
}

impl Axis {
    fn new(last: Duration) -> Axis {
        let last_ms = u64::try_from(last.as_millis()).unwrap_or(u64::MAX).max(1);
        let step_ms = STEPS
            .iter()
            .copied()
            .find(|s| last_ms / s < 8)
            .unwrap_or_else(|| last_ms.div_ceil(8));
        Axis {
            last,
            end_ms: (last_ms / step_ms + 1).saturating_mul(step_ms),
            step_ms,
        }
    }

    fn x(&self, at: Duration) -> f64 {
        LEFT + at.as_secs_f64() * 1000.0 / self.end_ms as f64 * PLOT
    }

    fn label(&self, ms: u64) -> String {
        let decimals = match self.step_ms {
            s if s % 1000 == 0 => 0,
            s if s % 100 == 0 => 1,
            s if s % 10 == 0 => 2,
            _ => 3,
        };
        format!("{:.*} s", decimals, ms as f64 / 1000.0)
    }

    fn draw(&self, out: &mut String) {
        let _ = write!(
            out,
            "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{AXIS_Y}\" x2=\"{:.1}\" y2=\"{AXIS_Y}\"/>",
            LEFT + PLOT
        );
        for ms in (0..=self.end_ms).step_by(usize::try_from(self.step_ms).unwrap_or(1)) {
            let x = self.x(Duration::from_millis(ms));
            let _ = write!(
                out,
                "<line class=\"grid\" x1=\"{x:.1}\" y1=\"6\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
                 <text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\">{}</text>",
                AXIS_Y + 4.0,
                AXIS_Y + 15.0,
                self.label(ms)
            );
        }
    }
}

/// The case's timeline: expected lane above, observed lane below, divergences ringed.
pub(super) fn draw(out: &mut String, c: &CaseReport) {
    let expected = expected_marks(&c.expected);
    let observed = observed_marks(&c.observed);
    let last = expected
        .iter()
        .chain(&observed)
        .map(|m| m.at)
        .max()
        .unwrap_or_default();
    let axis = Axis::new(last);
    let _ = write!(
        out,
        "<svg class=\"timeline\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-label=\"timeline: expected above, observed below\">"
    );
    axis.draw(out);
    let d = c.divergence.as_ref();
    lane(
        out,
        &axis,
        "expected",
        EXPECTED_Y,
        &expected,
        d.and_then(|d| d.expected_line),
    );
    lane(
        out,
        &axis,
        "observed",
        OBSERVED_Y,
        &observed,
        d.and_then(|d| d.observed_line),
    );
    out.push_str("</svg>\n");
}

fn lane(
    out: &mut String,
    axis: &Axis,
    name: &str,
    y: f64,
    marks: &[Mark<'_>],
    diverged: Option<usize>,
) {
    let _ = write!(
        out,
        "<g class=\"lane\"><text class=\"lane-name\" x=\"4\" y=\"{:.1}\">{name}</text>\
         <line class=\"base\" x1=\"{LEFT}\" y1=\"{y}\" x2=\"{:.1}\" y2=\"{y}\"/>",
        y + 4.0,
        LEFT + PLOT
    );
    for (from, to, received) in connections(marks, axis.last) {
        let (x1, x2) = (axis.x(from), axis.x(to));
        let class = if received { "conn" } else { "conn nr" };
        let _ = write!(
            out,
            "<rect class=\"{class}\" x=\"{x1:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"10\"/>",
            y - 5.0,
            (x2 - x1).max(2.0)
        );
    }
    for (from, to) in waits(marks) {
        let _ = write!(
            out,
            "<line class=\"wait\" x1=\"{:.1}\" y1=\"{y}\" x2=\"{:.1}\" y2=\"{y}\"/>",
            axis.x(from),
            axis.x(to)
        );
    }
    for m in marks {
        let _ = write!(
            out,
            "<g><title>{}</title>{}</g>",
            escape(m.text),
            m.kind.shape(axis.x(m.at), y)
        );
    }
    if let Some(m) = diverged.and_then(|l| marks.iter().find(|m| m.line == l)) {
        let _ = write!(
            out,
            "<circle class=\"ring\" cx=\"{:.1}\" cy=\"{y}\" r=\"10\"/>",
            axis.x(m.at)
        );
    }
    out.push_str("</g>");
}

/// Each request's connection: until the next error, close or request, else until `end` (the
/// timeline's last line: the connection was still open when the record stops).
fn connections(marks: &[Mark<'_>], end: Duration) -> Vec<(Duration, Duration, bool)> {
    marks
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let Kind::Request { received } = m.kind else {
                return None;
            };
            let stop = marks[i + 1..]
                .iter()
                .find(|n| matches!(n.kind, Kind::Error(_) | Kind::Closed | Kind::Request { .. }))
                .map_or(end, |n| n.at);
            Some((m.at, stop, received))
        })
        .collect()
}

/// Each wait to reconnect: from an error that left the source CONNECTING to the next request (or
/// the close() that cancelled it).
fn waits(marks: &[Mark<'_>]) -> Vec<(Duration, Duration)> {
    marks
        .iter()
        .enumerate()
        .filter(|(_, m)| m.kind == Kind::Error(Some(ReadyState::Connecting)))
        .filter_map(|(i, m)| {
            marks[i + 1..]
                .iter()
                .find(|n| matches!(n.kind, Kind::Request { .. } | Kind::Closed))
                .map(|n| (m.at, n.at))
        })
        .collect()
}

/// The timeline's shapes, each drawn by the code that draws the lanes.
pub(super) fn legend() -> String {
    let items: [(&str, String); 12] = [
        ("connection", legend_bar("conn")),
        ("attempt not received", legend_bar("conn nr")),
        (
            "wait to reconnect",
            "<line class=\"wait\" x1=\"2\" y1=\"11\" x2=\"30\" y2=\"11\"/>".to_owned(),
        ),
        (
            "request",
            Kind::Request { received: true }.shape(16.0, 11.0),
        ),
        ("open", Kind::Open.shape(16.0, 11.0)),
        ("message", Kind::Message.shape(16.0, 11.0)),
        (
            "error, CONNECTING",
            Kind::Error(Some(ReadyState::Connecting)).shape(16.0, 11.0),
        ),
        (
            "error, CLOSED",
            Kind::Error(Some(ReadyState::Closed)).shape(16.0, 11.0),
        ),
        ("error, no readyState", Kind::Error(None).shape(16.0, 11.0)),
        ("close()", Kind::Closed.shape(16.0, 11.0)),
        ("command", Kind::Command.shape(16.0, 11.0)),
        ("other line", Kind::Other.shape(16.0, 0.0)),
    ];
    let mut s = String::from("<ul class=\"tl-legend\">");
    for (label, shape) in items {
        let _ = write!(
            s,
            "<li><svg width=\"32\" height=\"22\" viewBox=\"0 0 32 22\">{shape}</svg>{label}</li>"
        );
    }
    s.push_str(
        "<li><svg width=\"32\" height=\"22\" viewBox=\"0 0 32 22\">\
         <circle class=\"ring\" cx=\"16\" cy=\"11\" r=\"9\"/></svg>first divergence</li></ul>\n",
    );
    s
}

fn legend_bar(class: &str) -> String {
    format!("<rect class=\"{class}\" x=\"2\" y=\"6\" width=\"28\" height=\"10\"/>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(lines: &[&'static str]) -> Vec<Mark<'static>> {
        lines
            .iter()
            .enumerate()
            .map(|(line, text)| {
                let (at, kind) = Kind::classify(text);
                Mark {
                    at: at.unwrap_or_default(),
                    kind,
                    line,
                    text,
                }
            })
            .collect()
    }

    #[test]
    fn lines_outside_the_format_are_still_classified() {
        assert_eq!(
            Kind::classify("0.400 command  restart"),
            (None, Kind::Command)
        );
        assert_eq!(Kind::classify("0.450 comment  \"x\""), (None, Kind::Other));
        assert_eq!(
            Kind::classify("0.300 request  POST /x  accept=-  last-event-id=-  not-received").1,
            Kind::Request { received: false }
        );
        assert_eq!(Kind::classify("garbage"), (None, Kind::Other));
    }

    #[test]
    fn connections_end_at_errors_and_waits_at_requests() {
        let m = marks(&[
            "0.000 request  GET /s  accept=-  last-event-id=-",
            "0.003 open",
            "0.250 error    state=CONNECTING",
            "0.450 request  GET /s  accept=-  last-event-id=-  not-received",
            "0.471 error    state=CONNECTING",
            "0.600 closed",
        ]);
        let ms = Duration::from_millis;
        assert_eq!(
            connections(&m, ms(900)),
            vec![(ms(0), ms(250), true), (ms(450), ms(471), false)]
        );
        assert_eq!(waits(&m), vec![(ms(250), ms(450)), (ms(471), ms(600))]);
    }

    #[test]
    fn the_axis_ends_a_tick_past_the_last_line() {
        let axis = Axis::new(Duration::from_millis(1995));
        assert_eq!((axis.step_ms, axis.end_ms), (250, 2000));
        assert_eq!(axis.label(1500), "1.50 s");
        let axis = Axis::new(Duration::ZERO);
        assert!(axis.end_ms > 0);
    }
}
