//! A case judged for one implementation, as reports keep it: the verdict, its findings, both
//! traces, bounded as evidence; and what is judged across the cases of one column (a stream that
//! fails only in some deliveries is a chunking fault).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sse_case::Catalogue;
use sse_case::origins::Transport;

use crate::escape::terminal;
use crate::evidence::abridge;
use crate::judge::{Divergence, Finding, Outcome, TraceEntry, Verdict};
use crate::run::Run;

/// One case on one implementation and transport, judged.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The case id.
    pub case: String,
    /// Where it ran.
    pub transport: Transport,
    /// The verdict.
    pub verdict: Verdict,
    /// The golden trace.
    pub expected: String,
    /// What was observed, as trace lines.
    pub observed: Vec<TraceEntry>,
    /// The raw run, when it ran.
    pub run: Option<Run>,
}

/// One case for one implementation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseReport {
    /// The case id.
    pub case: String,
    /// What it shows.
    pub about: String,
    /// The requirement ids it checks.
    pub requirements: Vec<String>,
    /// The verdict.
    pub verdict: Outcome,
    /// One line: the verdict and its first finding.
    pub detail: String,
    /// Everything that did not hold.
    pub findings: Vec<Finding>,
    /// Where the observations first left the expectation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub divergence: Option<Divergence>,
    /// The golden trace, line by line.
    pub expected: Vec<String>,
    /// What was observed, line by line.
    pub observed: Vec<TraceEntry>,
    /// Real time the run took.
    pub wall_ms: u64,
    /// The readings of ambiguous texts the verdict was reached by (none: the literal text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readings: Vec<sse_case::reading::Reading>,
    /// A verdict other than pass that the run's expectations file expects: its reason, or
    /// `expected` (the report shows known failures apart from new ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known: Option<String>,
}

impl CaseReport {
    /// The report entry of a judged case, which it takes apart (a large observed trace is
    /// moved, not copied).
    pub fn new(catalogue: &Catalogue, result: CaseResult, wall: Duration) -> Self {
        let about = catalogue
            .case(&result.case)
            .map(|c| c.about.clone())
            .unwrap_or_default();
        let detail = result.verdict.summary();
        let verdict = result.verdict;
        CaseReport {
            case: result.case,
            about,
            requirements: verdict.requirements,
            verdict: verdict.outcome,
            detail,
            findings: verdict.findings,
            divergence: verdict.divergence,
            expected: result.expected.lines().map(str::to_owned).collect(),
            observed: result.observed,
            wall_ms: millis(wall),
            readings: verdict.readings,
            known: None,
        }
    }

    /// Bounds the evidence it carries (see [`crate::evidence`]): every line and message
    /// abridged, and of a long observed trace, the start and the lines around the first
    /// divergence, a line saying how many were left out where they were.
    pub fn abridge(&mut self) {
        self.abridge_within(crate::evidence::CASE_BYTES);
    }

    /// [`CaseReport::abridge`], keeping at most `budget` bytes of observed lines; returns how
    /// many it kept.
    pub fn abridge_within(&mut self, budget: usize) -> usize {
        use crate::evidence::{abridge_in_place, keep_lines};
        abridge_in_place(&mut self.detail);
        for f in &mut self.findings {
            abridge_in_place(&mut f.message);
        }
        if let Some(d) = &mut self.divergence {
            abridge_in_place(&mut d.expected);
            abridge_in_place(&mut d.observed);
        }
        for line in &mut self.expected {
            abridge_in_place(line);
        }
        for e in &mut self.observed {
            abridge_in_place(&mut e.text);
        }
        let sizes: Vec<usize> = self.observed.iter().map(|e| e.text.len()).collect();
        let focus = self.divergence.as_ref().and_then(|d| d.observed_line);
        let kept = keep_lines(&sizes, budget, focus);
        if kept.first() == Some(&(0..sizes.len())) {
            return sizes.iter().sum();
        }
        let mut all = std::mem::take(&mut self.observed).into_iter().enumerate();
        let mut next = 0;
        let mut focus_at = None;
        let cut = |from: usize, to: usize, after: Option<&TraceEntry>| TraceEntry {
            at: after.map_or(Duration::ZERO, |e| e.at),
            text: format!(
                "… {} observed lines left out here (a case's report keeps {} KiB of them; --full-evidence keeps all)",
                to - from,
                budget >> 10
            ),
            source: after.map_or(crate::judge::Source::Client(from), |e| e.source),
        };
        for range in kept {
            if range.start > next {
                let marker = cut(next, range.start, self.observed.last());
                self.observed.push(marker);
            }
            for (i, entry) in all.by_ref().skip(range.start - next).take(range.len()) {
                if Some(i) == focus {
                    focus_at = Some(self.observed.len());
                }
                self.observed.push(entry);
            }
            next = range.end;
        }
        if next < sizes.len() {
            let marker = cut(next, sizes.len(), self.observed.last());
            self.observed.push(marker);
        }
        if let Some(d) = &mut self.divergence {
            d.observed_line = focus_at;
        }
        self.observed.iter().map(|e| e.text.len()).sum()
    }
}

/// An implementation that cannot run on this machine, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unavailable {
    /// Its name (its column id without the transport).
    pub name: String,
    /// Where it would have run.
    pub transport: Transport,
    /// What is missing.
    pub reason: String,
}

impl Unavailable {
    /// Its column id.
    pub fn id(&self) -> String {
        self.transport.column_id(&self.name)
    }

    /// `ID: unavailable: REASON`, escaped for a terminal (a service names itself).
    pub fn line(&self) -> String {
        terminal(&format!("{}: unavailable: {}", self.id(), self.reason))
    }
}

/// Whole milliseconds, for reports.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One line for a judged case that did not pass: verdict, column, case, gravest finding.
pub fn verdict_line(column: &str, result: &CaseResult) -> String {
    crate::escape::terminal(&format!(
        "{:<13} {column} {}: {}",
        result.verdict.outcome.name(),
        result.case,
        abridge(&result.verdict.summary())
    ))
}

/// A case's findings and both traces as plain text for a terminal or a JUnit message, the first
/// divergence marked `>>`, each line abridged and escaped.
pub fn explain<'a>(
    findings: &[Finding],
    divergence: Option<&Divergence>,
    expected: impl Iterator<Item = &'a str>,
    observed: impl Iterator<Item = &'a str>,
) -> String {
    let mut s = String::new();
    for f in findings {
        let at =
            f.at.map(|t| format!(" at {}", sse_model::trace::time(t)))
                .unwrap_or_default();
        let _ = writeln!(
            s,
            "  {}{at}: {} [{}]",
            f.outcome,
            terminal(&abridge(&f.message)),
            terminal(&f.requirements.join(" "))
        );
    }
    let mark = |hit: bool| if hit { ">>" } else { "  " };
    let _ = writeln!(s, "expected (the model's golden trace):");
    for (i, line) in expected.enumerate() {
        let hit = divergence.is_some_and(|d| d.expected_line == Some(i));
        let _ = writeln!(s, "  {} {}", mark(hit), terminal(&abridge(line)));
    }
    let _ = writeln!(s, "observed:");
    for (i, line) in observed.enumerate() {
        let hit = divergence.is_some_and(|d| d.observed_line == Some(i));
        let _ = writeln!(s, "  {} {}", mark(hit), terminal(&abridge(line)));
    }
    s
}

/// A stream case that fails in one delivery while another delivery of the same stream does
/// better is a chunking fault as well: its gravest findings also name `PARSE-CHUNKING`.
pub fn mark_chunking(cases: &mut [CaseReport]) {
    let fixture_of = |id: &str| {
        id.strip_prefix("stream/")
            .and_then(|rest| rest.rsplit_once('@'))
            .map(|(name, delivery)| (name.to_owned(), delivery.to_owned()))
    };
    // The best verdict each stream got, and in which delivery.
    let mut best: BTreeMap<String, (Outcome, String)> = BTreeMap::new();
    for c in cases.iter() {
        let Some((name, delivery)) = fixture_of(&c.case) else {
            continue;
        };
        if c.verdict == Outcome::Unsupported {
            continue;
        }
        let entry = best.entry(name).or_insert((c.verdict, delivery.clone()));
        if entry.0.worst(c.verdict) == entry.0 && entry.0 != c.verdict {
            *entry = (c.verdict, delivery);
        }
    }
    for c in cases.iter_mut() {
        let Some((name, delivery)) = fixture_of(&c.case) else {
            continue;
        };
        let Some((better, by)) = best.get(&name) else {
            continue;
        };
        let graver = better.worst(c.verdict) == c.verdict && *better != c.verdict;
        if !graver || !matches!(c.verdict, Outcome::Fail | Outcome::NonStrict) {
            continue;
        }
        for f in c.findings.iter_mut().filter(|f| f.outcome == c.verdict) {
            if !f.requirements.iter().any(|r| r == "PARSE-CHUNKING") {
                f.requirements.push("PARSE-CHUNKING".to_owned());
                f.message = format!(
                    "{} (only delivered as {delivery}: delivered as {by} it is {better})",
                    f.message
                );
            }
        }
        if let Some(f) = c.findings.iter().find(|f| f.outcome == c.verdict) {
            c.detail = format!("{}: {}", c.verdict, f.message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // spec: PARSE-CHUNKING
    #[test]
    fn a_failure_only_some_deliveries_show_also_names_chunking() {
        let report = |case: &str, verdict: Outcome| CaseReport {
            case: case.into(),
            about: String::new(),
            requirements: Vec::new(),
            verdict,
            detail: String::new(),
            findings: vec![Finding {
                outcome: verdict,
                requirements: vec!["PARSE-EOL-CR".into()],
                at: None,
                message: "lost".into(),
            }],
            divergence: None,
            expected: Vec::new(),
            observed: Vec::new(),
            wall_ms: 0,
            readings: Vec::new(),
            known: None,
        };
        let mut cases = vec![
            report("stream/a@whole", Outcome::Pass),
            report("stream/a@bytes", Outcome::Fail),
            report("stream/b@whole", Outcome::Fail),
            report("stream/b@bytes", Outcome::Fail),
            report("other", Outcome::Fail),
        ];
        mark_chunking(&mut cases);
        let names = |i: usize| cases[i].findings[0].requirements.clone();
        assert_eq!(names(1), ["PARSE-EOL-CR", "PARSE-CHUNKING"]);
        assert!(
            cases[1].detail.contains("only delivered as bytes"),
            "{}",
            cases[1].detail
        );
        // Every delivery fails alike, or not a stream case: no chunking fault.
        assert_eq!(names(2), ["PARSE-EOL-CR"]);
        assert_eq!(names(3), ["PARSE-EOL-CR"]);
        assert_eq!(names(4), ["PARSE-EOL-CR"]);
    }
}
