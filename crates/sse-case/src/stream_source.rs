//! A stream fixture as a case's server delivers it: how its bytes are split into writes, and
//! what each of its lines does to a client by which rule, so a wrong message is blamed on the
//! rule whose step the observed messages contradict.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sse_model::explain::{Step as Line, explain};
use sse_model::{Effect, Limits, OwnedEvent};

/// The pause after each write of a delivery, so writes arrive as separate reads.
pub const PAUSE: Duration = Duration::from_millis(1);

/// The most writes one delivery makes; a longer stream is written in equal pieces instead.
pub const MAX_WRITES: usize = 512;

/// A line this long or longer counts as long (`PARSE-LONG-LINE`).
const LONG_LINE: usize = 1024;

/// How a stream's bytes are split into writes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    /// The whole body in one write.
    #[default]
    Whole,
    /// One byte per write (a stream over [`MAX_WRITES`] bytes: that many equal writes).
    Bytes,
    /// A write ends after every line end, between the CR and LF of a CRLF, inside a BOM and
    /// inside every multi-byte UTF-8 character.
    Splits,
}

impl Delivery {
    /// Every delivery, in the order cases run.
    pub const ALL: [Delivery; 3] = [Delivery::Whole, Delivery::Bytes, Delivery::Splits];

    /// Its name in case ids (`stream/NAME@bytes`).
    pub fn name(self) -> &'static str {
        match self {
            Delivery::Whole => "whole",
            Delivery::Bytes => "bytes",
            Delivery::Splits => "splits",
        }
    }

    /// What it does, for a person.
    pub fn describe(self) -> &'static str {
        match self {
            Delivery::Whole => "the whole body in one write",
            Delivery::Bytes => "one byte per write",
            Delivery::Splits => {
                "a write ending after every line end, between CR and LF, inside a BOM and inside every multi-byte character"
            }
        }
    }

    /// The writes of `bytes`, in order: ranges that cover every byte once.
    pub fn writes(self, bytes: &[u8]) -> Vec<Range<usize>> {
        let cuts: Vec<usize> = match self {
            Delivery::Whole => Vec::new(),
            Delivery::Bytes => {
                let size = bytes.len().div_ceil(MAX_WRITES).max(1);
                (1..bytes.len()).filter(|i| i % size == 0).collect()
            }
            Delivery::Splits => {
                let mut cuts: Vec<usize> = (1..bytes.len())
                    .filter(|&i| {
                        let before = bytes[i - 1];
                        // After a line end; a CR is cut even before its LF.
                        before == b'\n' || before == b'\r'
                            // Inside a multi-byte character (a BOM is one): after its lead byte.
                            || (before >= 0xC0 && bytes[i] & 0xC0 == 0x80)
                    })
                    .collect();
                if cuts.len() >= MAX_WRITES {
                    let keep = cuts.len().div_ceil(MAX_WRITES - 1);
                    cuts = cuts.into_iter().step_by(keep).collect();
                }
                cuts
            }
        };
        let mut writes = Vec::with_capacity(cuts.len() + 1);
        let mut start = 0;
        for cut in cuts.into_iter().chain(std::iter::once(bytes.len())) {
            if cut > start || writes.is_empty() {
                writes.push(start..cut);
                start = cut;
            }
        }
        writes
    }
}

/// A stream case's stream, and what the judge needs to blame the right rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSource {
    /// The fixture's name (`NAME` of `NAME.sse`).
    pub fixture: String,
    /// How its bytes are written.
    pub delivery: Delivery,
    /// The bytes.
    pub bytes: Arc<[u8]>,
    /// The writes, as ranges of `bytes`.
    pub writes: Vec<Range<usize>>,
    /// Whether the body ends after its last byte (a fixture about the end of the body).
    pub ends: bool,
    /// The requirement ids the fixture's manifest names.
    pub fixture_checks: Vec<String>,
    /// Every line, as the model applies it.
    pub lines: Vec<Line>,
    /// The expected messages, in order, with the index of the line that dispatched each.
    pub messages: Vec<(OwnedEvent, usize)>,
}

/// What a client showed where a message was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown<'a> {
    /// A message.
    Message(&'a OwnedEvent),
    /// An `error`.
    Error,
    /// Nothing more.
    Nothing,
}

/// Which part of a line a rule is about: what the line says, or where lines begin and end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Content,
    Structure,
}

/// A rule a line exercises: the requirement id, which part, and how unusual the shape is (1:
/// bytes clients often mishandle; 2 and 3: unusual shapes and fields; 4: what a field line does;
/// 5: what every stream has, a plain LF, one space, a dispatch, never named by itself). A blame names the most unusual rules in play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Feature {
    id: &'static str,
    part: Part,
    rank: u8,
    /// Whether a client that gives up on the line may do so for this (text that only looks
    /// like a BOM makes no client give up).
    on_error: bool,
}

impl StreamSource {
    /// The stream of `bytes` in `delivery`, explained, with the messages a client must dispatch
    /// and when (the time of the write that completes each).
    pub fn new(
        fixture: &str,
        bytes: Arc<[u8]>,
        delivery: Delivery,
        ends: bool,
        fixture_checks: Vec<String>,
    ) -> Result<(Self, Vec<(Duration, OwnedEvent)>), String> {
        let writes = delivery.writes(&bytes);
        let mut parser = sse_model::Parser::new(Limits::UNBOUNDED);
        let mut timed: Vec<(Duration, OwnedEvent)> = Vec::new();
        let mut items = Vec::new();
        for (i, w) in writes.iter().enumerate() {
            parser
                .feed(&bytes[w.clone()], &mut items)
                .map_err(|e| e.to_string())?;
            let at = PAUSE * u32::try_from(i).unwrap_or(u32::MAX);
            for item in items.drain(..) {
                if let sse_model::Item::Event(e) = item {
                    timed.push((at, e));
                }
            }
        }
        let explained = explain(&bytes, Limits::UNBOUNDED);
        let dispatches = explained
            .steps
            .iter()
            .enumerate()
            .filter(|(_, l)| l.event.is_some())
            .map(|(i, _)| i);
        let messages = timed
            .iter()
            .map(|(_, e)| e.clone())
            .zip(dispatches)
            .collect();
        let source = StreamSource {
            fixture: fixture.to_owned(),
            delivery,
            bytes,
            writes,
            ends,
            fixture_checks,
            lines: explained.steps,
            messages,
        };
        Ok((source, timed))
    }

    /// The body's bytes of a line.
    fn raw(&self, line: usize) -> &[u8] {
        self.lines
            .get(line)
            .and_then(|l| self.bytes.get(l.bytes.clone()))
            .unwrap_or_default()
    }

    /// How the line ends: `b"\n"`, `b"\r"`, `b"\r\n"` or nothing.
    fn line_end(&self, line: usize) -> &'static [u8] {
        let raw = self.raw(line);
        if raw.ends_with(b"\r\n") {
            b"\r\n"
        } else if raw.ends_with(b"\r") {
            b"\r"
        } else if raw.ends_with(b"\n") {
            b"\n"
        } else {
            b""
        }
    }

    /// Every rule a line exercises.
    fn features(&self, index: usize) -> Vec<Feature> {
        let Some(line) = self.lines.get(index) else {
            return Vec::new();
        };
        let feature = |id, part, rank| Feature {
            id,
            part,
            rank,
            on_error: true,
        };
        let mut out = Vec::new();
        let raw = self.raw(index);
        let end = self.line_end(index);
        let mut text = &raw[..raw.len() - end.len()];
        const BOM: &[u8] = b"\xEF\xBB\xBF";
        if line.bytes.start == 0 {
            if let Some(rest) = text.strip_prefix(BOM) {
                // A BOM problem can change a line's text or lose the line altogether.
                out.push(feature("PARSE-BOM", Part::Content, 1));
                out.push(feature("PARSE-BOM", Part::Structure, 1));
                text = rest;
                if rest.starts_with(BOM) {
                    out.push(feature("PARSE-BOM-SECOND", Part::Content, 1));
                }
            } else if text.starts_with("\u{EF}\u{BB}\u{BF}".as_bytes()) {
                // The BOM's bytes read as Latin-1, written as UTF-8: text, not a BOM.
                for part in [Part::Content, Part::Structure] {
                    out.push(Feature {
                        on_error: false,
                        ..feature("PARSE-BOM", part, 1)
                    });
                }
            }
        }
        if text.windows(3).any(|w| w == BOM) {
            out.push(feature("PARSE-BOM-LATER", Part::Content, 1));
        }
        // A NUL or an undecodable byte can also break a client's line splitting or its stream.
        for (found, id) in [
            (text.contains(&0), "PARSE-NUL"),
            (std::str::from_utf8(text).is_err(), "PARSE-UTF8-REPLACEMENT"),
        ] {
            if found {
                out.push(feature(id, Part::Content, 1));
                out.push(feature(id, Part::Structure, 1));
            }
        }
        if text.len() >= LONG_LINE {
            out.push(feature("PARSE-LONG-LINE", Part::Content, 2));
            out.push(feature("PARSE-LONG-LINE", Part::Structure, 2));
        }
        // A retry value's shape is the retry rule's business (a second space makes it invalid).
        let retry = matches!(line.effect, Effect::Retry(_) | Effect::RetryIgnored);
        if line.name.is_some() {
            match text.iter().position(|&b| b == b':') {
                None => out.push(feature("FIELD-NO-COLON", Part::Content, 2)),
                Some(colon) => {
                    if text[colon + 1..].contains(&b':') {
                        out.push(feature("FIELD-SPLIT-FIRST-COLON", Part::Content, 2));
                    }
                    // One space is the usual shape; more, or a tab, is what clients get wrong.
                    match text.get(colon + 1..colon + 3) {
                        _ if retry => {}
                        Some([b' ', b' ' | b'\t']) | Some([b'\t', _]) => {
                            out.push(feature("FIELD-LEADING-SPACE", Part::Content, 2));
                        }
                        _ if text.get(colon + 1) == Some(&b' ') => {
                            out.push(feature("FIELD-LEADING-SPACE", Part::Content, 5));
                        }
                        _ => {}
                    }
                }
            }
        }
        if line.effect == Effect::IdWithNul {
            // Where clients mishandle a NUL in an id, the lines around it go wrong too.
            out.push(feature("FIELD-ID-NULL", Part::Structure, 1));
        }
        for rule in &line.rules {
            let rank = match *rule {
                "FIELD-NAME-CASE" => 2,
                "FIELD-UNKNOWN"
                | "FIELD-ID-NULL"
                | "FIELD-EVENT-EMPTY"
                | "FIELD-ID-EMPTY-RESETS"
                | "FIELD-RETRY-INVALID"
                | "FIELD-RETRY-EMPTY"
                | "FIELD-RETRY-OVERFLOW" => 3,
                // What a blank line does is every event's: named only when nothing else is.
                id if id.starts_with("DISPATCH-") || id == "PARSE-EMPTY-LINE-DISPATCH" => 5,
                _ => 4,
            };
            out.push(feature(rule, Part::Content, rank));
        }
        match end {
            b"\r" => out.push(feature("PARSE-EOL-CR", Part::Structure, 2)),
            b"\r\n" => out.push(feature("PARSE-EOL-CRLF", Part::Structure, 3)),
            b"\n" => out.push(feature("PARSE-EOL-LF", Part::Structure, 5)),
            _ => {}
        }
        // A blank line that starts with a CR right after an LF: LF then CR are two line ends.
        let blank = line.name.is_none() && line.effect != Effect::Comment;
        if blank && end.starts_with(b"\r") && index > 0 && self.line_end(index - 1) == b"\n" {
            out.push(feature("PARSE-EOL-CR-LF-PAIR", Part::Structure, 2));
        }
        // A CR that ends a write with its LF in the next one.
        if end == b"\r\n" {
            let cr = line.bytes.end - 1;
            if self.writes.iter().any(|w| w.end == cr) {
                out.push(feature("PARSE-EOL-CR-SPLIT", Part::Structure, 2));
            }
        }
        out
    }

    /// The rules to blame among the lines' features of `part` (both, when `None`): those of the
    /// most unusual rank present, in line order; `fallback` when there are none.
    fn pick(
        &self,
        lines: impl IntoIterator<Item = usize>,
        part: Option<Part>,
        fallback: &[&'static str],
    ) -> Vec<&'static str> {
        self.pick_where(lines, |f| part.is_none_or(|p| f.part == p), fallback)
    }

    /// [`StreamSource::pick`] among the features `keep` takes.
    fn pick_where(
        &self,
        lines: impl IntoIterator<Item = usize>,
        keep: impl Fn(&Feature) -> bool,
        fallback: &[&'static str],
    ) -> Vec<&'static str> {
        // What every stream has (rank 5) says nothing about what broke: the fallback does.
        let features: Vec<Feature> = lines
            .into_iter()
            .flat_map(|i| self.features(i))
            .filter(|f| keep(f) && f.rank < 5)
            .collect();
        let Some(best) = features.iter().map(|f| f.rank).min() else {
            return fallback.to_vec();
        };
        let mut ids: Vec<&'static str> = Vec::new();
        for f in features.iter().filter(|f| f.rank == best) {
            if !ids.contains(&f.id) {
                ids.push(f.id);
            }
        }
        ids
    }

    /// The lines whose rules make message `k`: from after the previous dispatch to its own.
    fn range(&self, k: usize) -> Range<usize> {
        let start = k
            .checked_sub(1)
            .and_then(|p| self.messages.get(p))
            .map_or(0, |(_, d)| d + 1);
        let end = self
            .messages
            .get(k)
            .map_or(self.lines.len(), |(_, d)| d + 1);
        start..end.max(start)
    }

    /// The lines of message `k` and every later line that arrives in the same write as its
    /// dispatch: a client that fails on a byte of that write can lose the message.
    fn range_with_its_write(&self, k: usize) -> Range<usize> {
        let range = self.range(k);
        let dispatch_end = self
            .lines
            .get(range.end.saturating_sub(1))
            .map_or(0, |l| l.bytes.end);
        let write_end = self
            .writes
            .iter()
            .find(|w| w.start < dispatch_end && dispatch_end <= w.end)
            .map_or(dispatch_end, |w| w.end);
        let end = self
            .lines
            .iter()
            .position(|l| l.bytes.start >= write_end)
            .unwrap_or(self.lines.len());
        range.start..end.max(range.end)
    }

    /// The requirements a client broke when it showed `shown` where message `k` was expected
    /// (`next`: what it showed after that, if anything).
    pub fn blame(
        &self,
        k: usize,
        shown: Shown<'_>,
        next: Option<&OwnedEvent>,
    ) -> Vec<&'static str> {
        let Some((expected, _)) = self.messages.get(k) else {
            return self.blame_extra(shown);
        };
        let Shown::Message(observed) = shown else {
            return self.missing(k, shown);
        };
        // A later message (its id may be off too): this one was lost.
        if self.messages[k + 1..]
            .iter()
            .any(|(m, _)| m.event_type == observed.event_type && m.data == observed.data)
        {
            return self.missing(k, shown);
        }
        // An empty message where a blank line had nothing to dispatch.
        let empty_block = self.lines[self.range(k)]
            .iter()
            .any(|l| l.effect == Effect::NothingToDispatch);
        if observed.data.is_empty() && !expected.data.is_empty() && empty_block {
            return vec!["DISPATCH-EMPTY-DATA"];
        }
        if next == Some(expected) {
            return self.extra(k, observed);
        }
        let mut ids = Vec::new();
        let mut add = |more: Vec<&'static str>| {
            for id in more {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        };
        if observed.event_type != expected.event_type {
            add(self.type_blame(k, observed));
        }
        if observed.data != expected.data {
            add(self.data_blame(k, observed));
        }
        if observed.last_event_id != expected.last_event_id {
            add(self.id_blame(k, observed));
        }
        ids
    }

    /// A message the client showed after every expected one, or an `error` that broke off the
    /// stream after them.
    pub fn blame_extra(&self, shown: Shown<'_>) -> Vec<&'static str> {
        let after = self.messages.last().map_or(0, |(_, d)| d + 1);
        match shown {
            Shown::Message(_) if self.ends => vec!["PARSE-EOF-DISCARD"],
            Shown::Message(_) => self.extra_in(after..self.lines.len(), shown),
            // A line after the last message made it give up: what that line is.
            Shown::Error | Shown::Nothing => self.pick_where(
                after..self.lines.len(),
                |f| f.on_error,
                &["PARSE-EMPTY-LINE-DISPATCH"],
            ),
        }
    }

    /// Message `k` never came: nothing more (a dispatch the client missed: where lines begin
    /// and end), or an `error` (the client gave up on a line of its write: any of its rules).
    fn missing(&self, k: usize, shown: Shown<'_>) -> Vec<&'static str> {
        let lines = self.range_with_its_write(k);
        match shown {
            Shown::Error => self.pick_where(lines, |f| f.on_error, &["PARSE-EMPTY-LINE-DISPATCH"]),
            Shown::Message(_) | Shown::Nothing => {
                self.pick(lines, Some(Part::Structure), &["PARSE-EMPTY-LINE-DISPATCH"])
            }
        }
    }

    fn extra(&self, k: usize, observed: &OwnedEvent) -> Vec<&'static str> {
        self.extra_in(self.range(k), Shown::Message(observed))
    }

    fn extra_in(&self, lines: Range<usize>, shown: Shown<'_>) -> Vec<&'static str> {
        let empty_block = self.lines[lines.clone()]
            .iter()
            .any(|l| l.effect == Effect::NothingToDispatch);
        if empty_block && matches!(shown, Shown::Message(m) if m.data.is_empty()) {
            return vec!["DISPATCH-EMPTY-DATA"];
        }
        self.pick(lines, Some(Part::Structure), &["PARSE-EMPTY-LINE-DISPATCH"])
    }

    fn data_blame(&self, k: usize, observed: &OwnedEvent) -> Vec<&'static str> {
        let expected = &self.messages[k].0.data;
        if observed.data.strip_suffix('\n') == Some(expected.as_str()) {
            return vec!["DISPATCH-TRAILING-LF"];
        }
        let range = self.range(k);
        let data_lines: Vec<usize> = range
            .clone()
            .filter(|&i| self.lines[i].effect == Effect::Data)
            .collect();
        let want: Vec<&str> = expected.split('\n').collect();
        let got: Vec<&str> = observed.data.split('\n').collect();
        let first = want
            .iter()
            .zip(&got)
            .position(|(w, g)| w != g)
            .unwrap_or(want.len().min(got.len()));
        let line = data_lines.get(first).copied();
        if want.len() == got.len() {
            let (w, g) = (want[first], got[first]);
            let targeted = if w.replace('\0', "") == g.replace('\0', "") {
                Some("PARSE-NUL")
            } else if w.trim_start_matches([' ', '\t']) == g.trim_start_matches([' ', '\t']) {
                Some("FIELD-LEADING-SPACE")
            } else if w.replace('\u{FEFF}', "") == g {
                // A U+FEFF inside the stream dropped as if it were a leading BOM.
                Some("PARSE-BOM-LATER")
            } else if w.contains('\u{FFFD}') {
                Some("PARSE-UTF8-REPLACEMENT")
            } else if g.contains('\u{FFFD}') || !w.is_ascii() {
                // Valid text decoded wrong: a character split between reads, say.
                Some("PARSE-UTF8-DECODE")
            } else {
                None
            };
            if let Some(id) = targeted {
                return vec![id];
            }
            return self.pick(line, Some(Part::Content), &["FIELD-DATA"]);
        }
        if got.len() > want.len() && got.starts_with(&want) {
            // The event ran on into the next: its blank line was not seen as one.
            let dispatch = range.end.saturating_sub(1);
            return self.pick(
                dispatch.saturating_sub(1)..range.end,
                Some(Part::Structure),
                &["PARSE-EMPTY-LINE-DISPATCH"],
            );
        }
        if got.len() < want.len() && want.get(first).is_some_and(|w| w.is_empty()) {
            let mut ids = vec!["DISPATCH-DATA-EMPTY-LINE"];
            if line.is_some_and(|i| !self.raw(i).contains(&b':')) {
                ids.push("FIELD-NO-COLON");
            }
            return ids;
        }
        // A data line split in two or lost: its shape, or the line before it.
        let lines = line.map_or(range.clone(), |i| {
            i.saturating_sub(1).max(range.start)..i + 1
        });
        self.pick(lines, None, &["FIELD-DATA"])
    }

    fn type_blame(&self, k: usize, observed: &OwnedEvent) -> Vec<&'static str> {
        let range = self.range(k);
        // A line the client took for the event type that is not one.
        if let Some(i) = range.clone().find(|&i| {
            let l = &self.lines[i];
            l.effect != Effect::Event && l.name.is_some() && l.value == observed.event_type
        }) {
            return self.pick(Some(i), Some(Part::Content), &["FIELD-EVENT"]);
        }
        if let Some(i) = range
            .clone()
            .rev()
            .find(|&i| self.lines[i].effect == Effect::Event)
        {
            return self.pick(Some(i), Some(Part::Content), &["FIELD-EVENT"]);
        }
        if observed.event_type.is_empty() {
            return vec!["DISPATCH-DEFAULT-TYPE"];
        }
        // A type left over from an earlier event: cleared by its dispatch, or by a blank line
        // with nothing to dispatch.
        let earlier = (0..range.start).rev().find(|&i| {
            self.lines[i].effect == Effect::Event && self.lines[i].value == observed.event_type
        });
        match earlier {
            Some(e) => {
                let dispatched =
                    (e..range.start).any(|i| self.lines[i].effect == Effect::Dispatched);
                if dispatched {
                    vec!["DISPATCH-RESET-BUFFERS"]
                } else {
                    vec!["DISPATCH-EMPTY-DATA"]
                }
            }
            None => vec!["DISPATCH-DEFAULT-TYPE"],
        }
    }

    fn id_blame(&self, k: usize, observed: &OwnedEvent) -> Vec<&'static str> {
        let range = self.range(k);
        let upto = range.end;
        let seen = |i: usize| &self.lines[i];
        // An id with U+0000 the client took (or cut at the NUL: an empty cut is told apart by
        // the rules below).
        let got = observed.last_event_id.as_str();
        if let Some(i) = (0..upto).rev().find(|&i| {
            seen(i).effect == Effect::IdWithNul
                && (seen(i).value == got
                    || (!got.is_empty() && seen(i).value.split('\0').next() == Some(got)))
        }) {
            let mut ids = vec!["FIELD-ID-NULL"];
            ids.extend(
                self.pick(Some(i), Some(Part::Content), &[])
                    .into_iter()
                    .filter(|id| *id == "PARSE-NUL"),
            );
            return ids;
        }
        let Some(set) = (0..upto).rev().find(|&i| seen(i).effect == Effect::Id) else {
            return vec!["FIELD-ID"];
        };
        // An id-only block before the event: its blank line made the id the last event ID.
        if (set..upto).any(|i| seen(i).effect == Effect::NothingToDispatch) {
            return vec!["DISPATCH-ID-WITHOUT-DATA"];
        }
        if set < range.start {
            // The id came from an earlier block: kept across dispatches, or set by a block with no
            // data.
            let id_only = (set..range.start).all(|i| seen(i).effect != Effect::Dispatched);
            if id_only {
                return vec!["DISPATCH-ID-WITHOUT-DATA"];
            }
            if seen(set).value.is_empty() {
                return vec!["FIELD-ID-EMPTY-RESETS"];
            }
            return vec!["DISPATCH-LAST-EVENT-ID-STICKY"];
        }
        self.pick(Some(set), Some(Part::Content), &["FIELD-ID"])
    }

    /// Every rule the stream's lines exercise that a client's messages can show.
    pub(crate) fn exercised(&self) -> Vec<&'static str> {
        let mut ids: Vec<&'static str> = Vec::new();
        for i in 0..self.lines.len() {
            for f in self.features(i) {
                if !ids.contains(&f.id) {
                    ids.push(f.id);
                }
            }
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn event(event_type: &str, data: &str, id: &str) -> OwnedEvent {
        OwnedEvent {
            event_type: event_type.into(),
            data: data.into(),
            last_event_id: id.into(),
        }
    }

    fn source(bytes: &[u8], delivery: Delivery, ends: bool) -> StreamSource {
        StreamSource::new("t", bytes.into(), delivery, ends, Vec::new())
            .expect("parses")
            .0
    }

    #[test]
    fn deliveries_cover_every_byte_once() {
        let body = "\u{feff}data: é\r\nid: 1\r\rdata\n\n".as_bytes();
        for delivery in Delivery::ALL {
            let writes = delivery.writes(body);
            let joined: Vec<u8> = writes
                .iter()
                .flat_map(|w| body[w.clone()].to_vec())
                .collect();
            assert_eq!(joined, body, "{delivery:?}");
        }
        assert_eq!(
            Delivery::Whole.writes(body),
            vec![Range {
                start: 0,
                end: body.len()
            }]
        );
        assert_eq!(Delivery::Bytes.writes(body).len(), body.len());
        let splits: Vec<&[u8]> = Delivery::Splits
            .writes(body)
            .into_iter()
            .map(|w| &body[w])
            .collect();
        assert_eq!(
            splits,
            [
                &b"\xEF"[..],
                b"\xBB\xBFdata: \xC3",
                b"\xA9\r",
                b"\n",
                b"id: 1\r",
                b"\r",
                b"data\n",
                b"\n",
            ]
        );
        // A long stream is written in at most MAX_WRITES pieces.
        let long = vec![b'a'; 100_000];
        assert!(Delivery::Bytes.writes(&long).len() <= MAX_WRITES);
        let lines = b"data: a\n".repeat(2000);
        assert!(Delivery::Splits.writes(&lines).len() <= MAX_WRITES);
    }

    // The bugs a new user found in client libraries and browsers, each blamed on its own rule.
    // spec: PARSE-EOL-CR PARSE-BOM PARSE-EOL-CR-LF-PAIR PARSE-UTF8-REPLACEMENT PARSE-NUL PARSE-EOF-DISCARD DISPATCH-TRAILING-LF DISPATCH-RESET-BUFFERS DISPATCH-LAST-EVENT-ID-STICKY FIELD-LEADING-SPACE FIELD-RETRY-INVALID PARSE-BOM-LATER FIELD-ID-NULL
    #[rstest]
    // A lone CR held back at the end of a chunk: the event is never dispatched.
    #[case::lone_cr_held_back(b"data: a\r\r", false, 0, None, None, &["PARSE-EOL-CR"])]
    // The BOM's bytes read as Latin-1 (U+00EF U+00BB U+00BF) stripped as if a BOM: an extra event.
    #[case::latin1_bom_stripped("\u{EF}\u{BB}\u{BF}data: a\n\ndata: b\n\n".as_bytes(), false, 0, Some(("message", "a", "")), Some(("message", "b", "")), &["PARSE-BOM"])]
    // A leading BOM loses the first event.
    #[case::bom_loses_first(b"\xEF\xBB\xBFdata: a\n\ndata: b\n\n", false, 0, Some(("message", "b", "")), None, &["PARSE-BOM"])]
    // LF then CRLF, and CR then CRLF, are two line ends: the events merge when they are not.
    #[case::lf_crlf_merges(b"data: a\n\r\ndata: b\n\n", false, 0, Some(("message", "a\nb", "")), None, &["PARSE-EOL-CR-LF-PAIR"])]
    #[case::cr_crlf_merges(b"data: a\r\r\ndata: b\n\n", false, 0, Some(("message", "a\nb", "")), None, &["PARSE-EOL-CR"])]
    // Invalid UTF-8 kills the stream instead of becoming U+FFFD.
    #[case::invalid_utf8_errors(b"data: a\xFFb\n\n", false, 0, None, None, &["PARSE-UTF8-REPLACEMENT"])]
    #[case::invalid_utf8_later_write(b"data: a\n\ndata: \xFF\n\n", false, 0, None, None, &["PARSE-UTF8-REPLACEMENT"])]
    // U+0000 dropped from data (Firefox).
    #[case::nul_dropped(b"data: a\0b\n\n", false, 0, Some(("message", "ab", "")), None, &["PARSE-NUL"])]
    // A BOM then at once a line end loses the first event (Chromium).
    #[case::bom_then_lf(b"\xEF\xBB\xBF\ndata: a\n\n", false, 0, None, None, &["PARSE-BOM"])]
    // The unterminated last event dispatched when the body ends.
    #[case::eof_dispatched(b"data: a\n\ndata: b\n", true, 1, Some(("message", "b", "")), None, &["PARSE-EOF-DISCARD"])]
    #[case::trailing_lf_kept(b"data: a\n\n", false, 0, Some(("message", "a\n", "")), None, &["DISPATCH-TRAILING-LF"])]
    #[case::type_leaks(b"event: x\ndata: a\n\ndata: b\n\n", false, 1, Some(("x", "b", "")), None, &["DISPATCH-RESET-BUFFERS"])]
    #[case::id_not_sticky(b"id: 1\ndata: a\n\ndata: b\n\n", false, 1, Some(("message", "b", "")), None, &["DISPATCH-LAST-EVENT-ID-STICKY"])]
    #[case::every_space_stripped(b"data:  a\n\n", false, 0, Some(("message", "a", "")), None, &["FIELD-LEADING-SPACE"])]
    #[case::empty_event_dispatched(b": ping\n\n: ping\n\ndata: a\n\n", false, 0, Some(("message", "", "")), Some(("message", "", "")), &["DISPATCH-EMPTY-DATA"])]
    #[case::lost_with_its_id(b"event: e\nid: 1\ndata: a\n\ndata: b\n\n", false, 0, Some(("message", "b", "")), None, &["PARSE-EMPTY-LINE-DISPATCH"])]
    #[case::id_not_sticky_past_a_nul_id(b"id: 1\ndata: a\n\nid: \x002\ndata: b\n\n", false, 1, Some(("message", "b", "")), None, &["DISPATCH-LAST-EVENT-ID-STICKY"])]
    #[case::id_cut_at_nul(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n", false, 1, Some(("message", "b", "2")), None, &["FIELD-ID-NULL", "PARSE-NUL"])]
    #[case::bom_in_value_dropped("data: \u{feff}a\n\n".as_bytes(), false, 0, Some(("message", "a", "")), None, &["PARSE-BOM-LATER"])]
    #[case::gives_up_on_a_lone_unknown_field("\u{EF}\u{BB}\u{BF}data: a\n\ndata: b\n\n".as_bytes(), false, 0, None, None, &["FIELD-UNKNOWN"])]
    #[case::gives_up_on_a_retry_with_two_spaces(b"data: a\n\nretry:  5\n\n", false, 1, None, None, &["FIELD-RETRY-INVALID"])]
    #[case::id_only_block_lost(b"id: 5\n\ndata: a\n\n", false, 0, Some(("message", "a", "")), None, &["DISPATCH-ID-WITHOUT-DATA"])]
    #[case::id_with_nul_eats_next_line(b"id: 1\0\ndata: a\n\n", false, 0, None, None, &["PARSE-NUL", "FIELD-ID-NULL"])]
    #[case::id_with_nul_taken(b"id: 1\0\ndata: a\n\n", false, 0, Some(("message", "a", "1")), None, &["FIELD-ID-NULL", "PARSE-NUL"])]
    // An invalid retry after the last event makes the client give up (an error, no event).
    #[case::invalid_retry_errors(b"data: a\n\nretry: 1x\n", false, 1, None, None, &["FIELD-RETRY-INVALID"])]
    #[case::later_bom_errors(b"data: a\n\n\xEF\xBB\xBFdata: b\n\ndata: c\n\n", false, 1, None, None, &["PARSE-BOM-LATER"])]
    fn blame_names_the_rule_that_broke(
        #[case] bytes: &[u8],
        #[case] ends: bool,
        #[case] k: usize,
        #[case] observed: Option<(&str, &str, &str)>,
        #[case] next: Option<(&str, &str, &str)>,
        #[case] want: &[&str],
    ) {
        let s = source(bytes, Delivery::Whole, ends);
        let observed = observed.map(|(t, d, i)| event(t, d, i));
        let next = next.map(|(t, d, i)| event(t, d, i));
        let shown = observed.as_ref().map_or(Shown::Error, Shown::Message);
        let got = if k < s.messages.len() {
            s.blame(k, shown, next.as_ref())
        } else {
            s.blame_extra(shown)
        };
        assert_eq!(got, want);
    }

    #[test]
    fn a_cr_split_from_its_lf_is_seen_only_where_a_write_splits_it() {
        let body = b"data: a\r\n\r\n";
        let whole = source(body, Delivery::Whole, false);
        let split = source(body, Delivery::Splits, false);
        let has = |s: &StreamSource| {
            (0..s.lines.len())
                .flat_map(|i| s.features(i))
                .any(|f| f.id == "PARSE-EOL-CR-SPLIT")
        };
        assert!(!has(&whole));
        assert!(has(&split));
    }
}
