//! What a server check found: the verdict, the findings naming their requirements, and the bytes
//! the verdict is about.

use serde::{Deserialize, Serialize};
use sse_case::server_check::ServerCheck;

use crate::judge::{Finding, Outcome};

/// What a check found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's id.
    pub check: String,
    /// The requirements it checks.
    pub requirements: Vec<String>,
    /// The verdict.
    pub outcome: Outcome,
    /// Every finding, each naming its requirements.
    pub findings: Vec<Finding>,
    /// The bytes the verdict is about (the body read, or the part around the fault), at most
    /// the first [`crate::evidence::LINE_BYTES`] of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Vec<u8>>,
    /// How many bytes the evidence had before it was abridged, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_total: Option<usize>,
    /// What was measured, whatever the verdict (a delivery delay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<String>,
    /// The lines around the offending bytes as `ssec explain` shows them: what each did to a
    /// client, by which rule, and where measured clients do otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation: Option<String>,
}

impl CheckResult {
    /// One measurement of a proxy (`ssec check-proxy`): what was measured, whatever the
    /// verdict, and a finding saying so when it is not a pass.
    pub fn measurement(
        check: &str,
        requirements: &[&str],
        outcome: Outcome,
        measured: String,
    ) -> Self {
        let requirements: Vec<String> = requirements.iter().map(|r| (*r).to_owned()).collect();
        let findings = if outcome == Outcome::Pass {
            Vec::new()
        } else {
            vec![Finding {
                outcome,
                requirements: requirements.clone(),
                at: None,
                message: measured.clone(),
            }]
        };
        CheckResult {
            check: check.to_owned(),
            requirements,
            outcome,
            findings,
            evidence: None,
            evidence_total: None,
            measured: Some(measured),
            annotation: None,
        }
    }

    /// A check not yet run: it passes until a finding says otherwise.
    pub fn new(check: &ServerCheck) -> Self {
        CheckResult {
            check: check.id.clone(),
            requirements: check.checks.clone(),
            outcome: Outcome::Pass,
            findings: Vec::new(),
            evidence: None,
            evidence_total: None,
            measured: None,
            annotation: None,
        }
    }

    /// Keeps `bytes` as the evidence, abridged to [`crate::evidence::LINE_BYTES`].
    pub fn keep_evidence(&mut self, bytes: &[u8]) {
        let kept = bytes.len().min(crate::evidence::LINE_BYTES);
        self.evidence = Some(bytes[..kept].to_vec());
        self.evidence_total = (kept < bytes.len()).then_some(bytes.len());
    }

    /// The evidence as a quoted string, with its full length when it was abridged.
    pub fn evidence_text(&self) -> Option<String> {
        let bytes = self.evidence.as_ref()?;
        let total = self
            .evidence_total
            .map(|n| format!("… [{n} bytes in all]"))
            .unwrap_or_default();
        Some(format!("{}{total}", show_bytes(bytes)))
    }

    /// Records a finding; one that names no requirement (no stream at all) counts against
    /// every requirement the check checks.
    pub fn find(&mut self, outcome: Outcome, requirements: &[&str], message: String) {
        self.outcome = self.outcome.worst(outcome);
        let requirements = if requirements.is_empty() {
            self.requirements.clone()
        } else {
            requirements.iter().map(|s| (*s).to_owned()).collect()
        };
        self.findings.push(Finding {
            outcome,
            requirements,
            at: None,
            message,
        });
    }

    /// One line: the verdict and its first finding.
    pub fn summary(&self) -> String {
        match self.findings.first() {
            Some(f) => format!("{}: {}", self.outcome.name(), f.message),
            None => self.outcome.name().to_owned(),
        }
    }
}

/// Bytes as a quoted string: text escaped as the trace format does, and bytes that are not
/// UTF-8 shown as `\xNN`, so the offending bytes themselves are visible.
pub fn show_bytes(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in bytes.utf8_chunks() {
        let text = sse_model::trace::quote(chunk.valid());
        out.push_str(&text[1..text.len() - 1]);
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out.push('"');
    out
}
