//! Expected verdicts, so a CI can adopt the suite while known failures remain: a TOML file of
//! verdicts per column (case or check id to verdict, with an optional reason and link). A run
//! agrees with it when every verdict is one the file expects; a case it does not list is
//! expected to pass. What is worse than expected is a regression, what is better an improvement
//! (update the file: `--write-expectations`).
//!
//! ```toml
//! [columns.eventsource-client-loopback]
//! "status-404-on-reconnect-fails" = "fail"
//! "retry-leading-zero-is-decimal" = { verdict = ["pass", "fail"], reason = "randomised backoff" }
//! "stream/utf8-*" = "fail"       # a glob (`*`, `?`) covers the cases no exact key names
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sse_case::LoadError;
use sse_judge::judge::Outcome;

use crate::RunReport;

/// The expected verdicts of every column a file names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    /// Column id to case (or server check) id to what it is expected to get.
    #[serde(default)]
    pub columns: BTreeMap<String, BTreeMap<String, Expected>>,
}

/// What one case is expected to get.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Expected {
    /// One verdict, or any of several (a verdict that varies run to run).
    Verdicts(Verdicts),
    /// The same with why, and where it is tracked.
    Noted {
        /// The verdict or verdicts.
        verdict: Verdicts,
        /// Why it is expected.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// Where it is tracked (an issue).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link: Option<String>,
    },
}

/// One verdict or several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Verdicts {
    /// One.
    One(Outcome),
    /// Any of these.
    Any(Vec<Outcome>),
}

impl Expected {
    /// The verdicts it accepts.
    pub fn verdicts(&self) -> Vec<Outcome> {
        let v = match self {
            Expected::Verdicts(v) | Expected::Noted { verdict: v, .. } => v,
        };
        match v {
            Verdicts::One(o) => vec![*o],
            Verdicts::Any(all) => all.clone(),
        }
    }

    /// Why, when the file says.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Expected::Noted { reason, link, .. } => reason.as_deref().or(link.as_deref()),
            Expected::Verdicts(_) => None,
        }
    }
}

/// Why an expectations file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ExpectationsError {
    /// It could not be read, or is not an expectations file (TOML's message names the line).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// It could not be written.
    #[error("{path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// How grave a verdict is, for telling worse from better (`unsupported` is better than any
/// finding: nothing was judged).
fn rank(o: Outcome) -> u8 {
    match o {
        Outcome::Pass => 0,
        Outcome::Unsupported => 1,
        Outcome::Informational => 2,
        Outcome::NonStrict => 3,
        Outcome::Fail => 4,
    }
}

/// A verdict other than the file expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The column.
    pub column: String,
    /// The case or check.
    pub case: String,
    /// What the file expects.
    pub expected: Vec<Outcome>,
    /// What the run got.
    pub got: Outcome,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let expected: Vec<&str> = self.expected.iter().map(|o| o.name()).collect();
        write!(
            f,
            "{} {}: expected {}, got {}",
            self.column,
            self.case,
            expected.join(" or "),
            self.got
        )
    }
}

/// How a run compares with its expectations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Worse than expected.
    pub regressions: Vec<Change>,
    /// Better than expected (the file should be updated).
    pub improvements: Vec<Change>,
    /// Verdicts other than pass that the file expects.
    pub known: usize,
}

impl Comparison {
    /// Whether every verdict is one the file expects.
    pub fn agrees(&self) -> bool {
        self.regressions.is_empty() && self.improvements.is_empty()
    }

    /// What a person reads: the regressions, then apart the improvements, one escaped line
    /// each; or that every verdict is as expected.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        for (what, changes) in [
            ("regressions, worse than expected", &self.regressions),
            (
                "improvements, better than expected (update the expectations file)",
                &self.improvements,
            ),
        ] {
            if !changes.is_empty() {
                let _ = writeln!(s, "{what} ({}):", changes.len());
                for c in changes {
                    let _ = writeln!(s, "  {}", sse_judge::escape::terminal(&c.to_string()));
                }
            }
        }
        if self.agrees() {
            let _ = writeln!(
                s,
                "every verdict is as expected ({} known non-passing)",
                self.known
            );
        }
        s
    }
}

impl Expectations {
    /// Reads a file.
    pub fn load(path: &Path) -> Result<Self, ExpectationsError> {
        let text = sse_case::read(path)?;
        toml::from_str(&text).map_err(|e| {
            ExpectationsError::Load(LoadError::Invalid {
                path: path.to_owned(),
                reason: e.to_string(),
            })
        })
    }

    /// The verdicts of a run, as expectations: every verdict but pass, per column. Reasons and
    /// links of `previous` are kept where the verdict is still expected.
    pub fn of(report: &RunReport, previous: Option<&Expectations>) -> Self {
        let mut columns: BTreeMap<String, BTreeMap<String, Expected>> = BTreeMap::new();
        // Globs are the file author's: they are kept, and cover what they accept.
        let globs: Expectations = Expectations {
            columns: previous
                .map(|p| {
                    p.columns
                        .iter()
                        .map(|(c, entries)| {
                            let kept = entries
                                .iter()
                                .filter(|(key, _)| is_glob(key))
                                .map(|(k, e)| (k.clone(), e.clone()))
                                .collect();
                            (c.clone(), kept)
                        })
                        .collect()
                })
                .unwrap_or_default(),
        };
        for (column, entries) in &globs.columns {
            if !entries.is_empty() {
                columns.insert(column.clone(), entries.clone());
            }
        }
        for (column, case, got) in verdicts(report) {
            if got == Outcome::Pass || globs.expected(column, case).contains(&got) {
                continue;
            }
            let kept = previous
                .and_then(|p| p.columns.get(column))
                .and_then(|c| c.get(case))
                .filter(|e| e.verdicts().contains(&got))
                .cloned();
            columns.entry(column.to_owned()).or_default().insert(
                case.to_owned(),
                kept.unwrap_or(Expected::Verdicts(Verdicts::One(got))),
            );
        }
        Expectations { columns }
    }

    /// Writes the file, with a header saying what it is.
    pub fn write(&self, path: &Path) -> Result<(), ExpectationsError> {
        let body = toml::to_string(self).map_err(|e| ExpectationsError::Write {
            path: path.to_owned(),
            source: std::io::Error::other(e),
        })?;
        let text = format!(
            "# Verdicts this project expects from the SSE conformance suite (ssec run --expectations).\n\
             # Per column, case id to verdict: \"fail\", [\"pass\", \"fail\"], or\n\
             # {{ verdict = \"fail\", reason = \"...\", link = \"...\" }}. A case not listed is expected to pass.\n\n{body}"
        );
        std::fs::write(path, text).map_err(|source| ExpectationsError::Write {
            path: path.to_owned(),
            source,
        })
    }

    /// The entry for a case of a column: its own key, else the first glob key (`*`, `?`) that
    /// matches it, in key order.
    pub fn entry(&self, column: &str, case: &str) -> Option<&Expected> {
        let entries = self.columns.get(column)?;
        entries.get(case).or_else(|| {
            entries
                .iter()
                .find(|(key, _)| is_glob(key) && sse_case::select::glob(key, case))
                .map(|(_, e)| e)
        })
    }

    /// What a case of a column is expected to get (pass when the file does not say).
    pub fn expected(&self, column: &str, case: &str) -> Vec<Outcome> {
        self.entry(column, case)
            .map_or_else(|| vec![Outcome::Pass], Expected::verdicts)
    }

    /// The run held against the file. Columns and cases the run did not have are not judged
    /// (a run of one shard, or of some columns).
    pub fn compare(&self, report: &RunReport) -> Comparison {
        let mut out = Comparison::default();
        for (column, case, got) in verdicts(report) {
            let expected = self.expected(column, case);
            if expected.contains(&got) {
                if got != Outcome::Pass {
                    out.known += 1;
                }
                continue;
            }
            let change = Change {
                column: column.to_owned(),
                case: case.to_owned(),
                expected: expected.clone(),
                got,
            };
            if expected.iter().all(|e| rank(got) > rank(*e)) {
                out.regressions.push(change);
            } else {
                out.improvements.push(change);
            }
        }
        out
    }
}

/// Whether a key is a glob rather than a case id (case ids have no `*` or `?`).
fn is_glob(key: &str) -> bool {
    key.contains(['*', '?'])
}

/// Every (column, case or check, verdict) of a run; a column that could not run has none.
fn verdicts(report: &RunReport) -> impl Iterator<Item = (&str, &str, Outcome)> {
    let clients = report.implementations.iter().flat_map(|i| {
        i.cases
            .iter()
            .map(move |c| (i.id.as_str(), c.case.as_str(), c.verdict))
    });
    let servers = report.servers.iter().flat_map(|s| {
        s.checks
            .iter()
            .map(move |c| (s.id.as_str(), c.check.as_str(), c.outcome))
    });
    clients.chain(servers)
}

impl RunReport {
    /// Marks every verdict the file expects other than pass as known, with the file's reason,
    /// so the report shows known failures apart from new ones.
    pub fn mark_expected(&mut self, expectations: &Expectations) {
        self.expectations = true;
        for imp in &mut self.implementations {
            for c in &mut imp.cases {
                let Some(e) = expectations
                    .columns
                    .get(&imp.id)
                    .and_then(|m| m.get(&c.case))
                else {
                    continue;
                };
                if c.verdict != Outcome::Pass && e.verdicts().contains(&c.verdict) {
                    c.known = Some(e.reason().unwrap_or("expected").to_owned());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sse_case::client::Identity;
    use sse_case::origins::Transport;
    use sse_judge::judged::CaseReport;

    use super::*;
    use crate::ImplementationReport;

    fn case(id: &str, verdict: Outcome) -> CaseReport {
        CaseReport {
            case: id.into(),
            about: String::new(),
            requirements: Vec::new(),
            verdict,
            detail: String::new(),
            findings: Vec::new(),
            divergence: None,
            expected: Vec::new(),
            observed: Vec::new(),
            wall_ms: 0,
            readings: Vec::new(),
            known: None,
        }
    }

    fn report(cases: Vec<CaseReport>) -> RunReport {
        let catalogue = sse_case::Catalogue::load_default().expect("catalogue");
        let column = ImplementationReport::new(
            &Identity::new("lib", "1"),
            Transport::Loopback,
            Vec::new(),
            cases,
            Duration::ZERO,
        );
        RunReport::new(&catalogue, vec![column])
    }

    #[test]
    fn worse_is_a_regression_better_an_improvement_and_unlisted_means_pass() {
        let file: Expectations = toml::from_str(
            "[columns.lib-loopback]\na = \"fail\"\nb = [\"pass\", \"fail\"]\nc = { verdict = \"non-strict\", reason = \"r\" }\n",
        )
        .expect("parses");
        let run = report(vec![
            case("a", Outcome::Pass),
            case("b", Outcome::Fail),
            case("c", Outcome::Fail),
            case("d", Outcome::Informational),
            case("e", Outcome::Pass),
        ]);
        let got = file.compare(&run);
        let names = |v: &[Change]| v.iter().map(|c| c.case.clone()).collect::<Vec<_>>();
        assert_eq!(names(&got.regressions), ["c", "d"]);
        assert_eq!(names(&got.improvements), ["a"]);
        assert_eq!(got.known, 1);
        assert!(!got.agrees());
        // Written back, the verdicts agree with themselves, and a kept reason stays.
        let written = Expectations::of(&run, Some(&file));
        assert!(written.compare(&run).agrees());
        assert_eq!(
            written.columns["lib-loopback"]["b"],
            file.columns["lib-loopback"]["b"]
        );
        assert!(!written.columns["lib-loopback"].contains_key("a"));
    }

    #[test]
    fn a_glob_covers_what_no_exact_key_names_and_is_kept_when_written_back() {
        let file: Expectations = toml::from_str(
            "[columns.lib-loopback]\n\"s*\" = [\"pass\", \"fail\"]\nsame = \"non-strict\"\n",
        )
        .expect("parses");
        let run = report(vec![
            case("same", Outcome::NonStrict),
            case("s1", Outcome::Fail),
            case("s2", Outcome::Pass),
            case("t", Outcome::Fail),
        ]);
        let got = file.compare(&run);
        assert!(got.improvements.is_empty());
        assert_eq!(got.regressions.len(), 1, "{:?}", got.regressions);
        assert_eq!(got.regressions[0].case, "t");
        let written = Expectations::of(&run, Some(&file));
        let column = &written.columns["lib-loopback"];
        assert!(
            column.contains_key("s*") && !column.contains_key("s1"),
            "{column:?}"
        );
        assert!(written.compare(&run).agrees());
    }

    #[test]
    fn the_report_marks_known_failures_apart_from_new_ones() {
        let file: Expectations = toml::from_str(
            "[columns.lib-loopback]\nold = { verdict = \"fail\", reason = \"tracked in #7\" }\n",
        )
        .expect("parses");
        let mut run = report(vec![
            case("old", Outcome::Fail),
            case("fresh", Outcome::Fail),
        ]);
        run.mark_expected(&file);
        assert_eq!(
            run.implementations[0].cases[0].known.as_deref(),
            Some("tracked in #7")
        );
        assert_eq!(run.implementations[0].cases[1].known, None);
        let html = crate::html::render(&run);
        assert!(
            html.contains("title=\"tracked in #7\">known</span>"),
            "known marked"
        );
        assert!(html.contains(">new</span>"), "new marked");
    }
}
