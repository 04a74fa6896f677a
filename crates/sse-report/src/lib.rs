//! Conformance reports: a serde [`RunReport`] holding, for each implementation and case, the
//! requirement ids, the verdict, the expected and observed traces, the divergence and the
//! timings; and the files `cargo xtask report` writes from it: `report.json`, `junit.xml` (one
//! testcase per case and implementation), `summary.md` and `index.html` (see [`html`]).

pub mod expectations;
pub mod html;
pub mod merge;
pub mod servers;

pub use servers::ServerReport;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use sse_case::catalogue::Catalogue;
use sse_case::client::{Capability, Identity};
use sse_case::origins::Transport;
use sse_case::spec::Level;
pub(crate) use sse_judge::escape::{markdown as md, markdown_code as md_code, terminal, xml};
use sse_judge::judge::{Finding, Outcome};
pub use sse_judge::judged::{CaseReport, explain, verdict_line};

/// Everything a conformance run found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    /// When the report was made (UTC, RFC 3339).
    pub generated: String,
    /// The suite that made it.
    pub suite: SuiteInfo,
    /// The requirement catalogue, in order.
    pub requirements: Vec<RequirementInfo>,
    /// Each implementation on each transport: one column of the matrix.
    pub implementations: Vec<ImplementationReport>,
    /// Whether the verdicts were held against an expectations file (then every non-pass case
    /// is either known, with the file's reason, or new).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expectations: bool,
    /// Each server set-up: one column of the server matrix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<ServerReport>,
    /// The streams of the stream cases some column did not pass, once each: their bytes are
    /// shown beside the failures, whichever columns they come from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<StreamReport>,
}

/// A stream case's stream, as the report shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamReport {
    /// The stream case's id (`stream/NAME@DELIVERY`).
    pub case: String,
    /// The fixture's name.
    pub fixture: String,
    /// How it was written.
    pub delivery: sse_case::stream_case::Delivery,
    /// Its bytes, as hex (a stream need not be UTF-8).
    pub bytes_hex: String,
    /// Where each write ended (byte offsets).
    pub write_ends: Vec<usize>,
}

impl StreamReport {
    /// The report's record of a stream case.
    pub fn of(case: &sse_case::Case) -> Option<Self> {
        let s = case.stream.as_ref()?;
        Some(StreamReport {
            case: case.id.clone(),
            fixture: s.fixture.clone(),
            delivery: s.delivery,
            bytes_hex: s.bytes.iter().map(|b| format!("{b:02x}")).collect(),
            write_ends: s.writes.iter().map(|w| w.end).collect(),
        })
    }

    /// The bytes (`bytes_hex` decoded; what does not decode is left out).
    pub fn bytes(&self) -> Vec<u8> {
        self.bytes_hex
            .as_bytes()
            .chunks(2)
            .filter_map(|pair| {
                std::str::from_utf8(pair)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect()
    }
}

/// The suite's version and size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuiteInfo {
    /// Crate version.
    pub version: String,
    /// The content hash of the catalogue that judged (`ssec --version` prints the one compiled
    /// in).
    #[serde(default)]
    pub catalogue: String,
    /// Cases in the catalogue.
    pub cases: usize,
    /// Requirements in the catalogue.
    pub requirements: usize,
}

/// A requirement as reports show it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequirementInfo {
    /// Stable id.
    pub id: String,
    /// must, should, impl-defined or authoring.
    pub level: Level,
    /// Our summary.
    pub summary: String,
    /// The standard's text.
    pub url: String,
    /// Who can break it.
    pub binds: Vec<String>,
    /// Where the text is unclear, and what we decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ambiguity: Option<String>,
    /// The cases that check it.
    pub cases: Vec<String>,
    /// The server checks that check it (filled when the report has server columns).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_checks: Vec<String>,
}

impl RequirementInfo {
    /// Whether a client can break it (a client column can show it).
    pub fn binds_client(&self) -> bool {
        self.binds.iter().any(|b| b == "client")
    }
}

/// One implementation on one transport.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImplementationReport {
    /// Column id: `NAME-TRANSPORT` (`model-sim`).
    pub id: String,
    /// The implementation's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Where it ran.
    pub transport: Transport,
    /// What it declared it can do.
    pub capabilities: Vec<Capability>,
    /// What kind of client it was judged as: `eventsource` (the whole client) or
    /// `stream-parser` (one response, no reconnection: cases that reconnect are unsupported).
    #[serde(default = "eventsource_profile")]
    pub profile: String,
    /// Why it could not run at all, if it could not (a missing browser or toolchain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
    /// How many cases got each verdict.
    pub totals: BTreeMap<Outcome, usize>,
    /// Real time the whole column took.
    pub wall_ms: u64,
    /// One entry per case.
    pub cases: Vec<CaseReport>,
    /// What went wrong outside any verdict (an exchange with a test service not answered in
    /// time).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn eventsource_profile() -> String {
    "eventsource".to_owned()
}

/// One testcase of a JUnit suite.
struct JunitCase<'a> {
    name: &'a str,
    ms: Option<u64>,
    verdict: Outcome,
    /// One line: the verdict and its first finding.
    detail: String,
    /// Everything, for a verdict other than pass.
    text: String,
}

/// One JUnit testsuite: fail is a failure, unsupported is skipped, the rest pass with their
/// verdict in `system-out`; a column that could not run is one skipped testcase.
fn junit_suite<'a>(
    s: &mut String,
    name: &str,
    totals: &BTreeMap<Outcome, usize>,
    wall_ms: u64,
    unavailable: Option<&str>,
    cases: impl ExactSizeIterator<Item = JunitCase<'a>>,
) {
    let count = |o: Outcome| totals.get(&o).copied().unwrap_or(0);
    let _ = writeln!(
        s,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        xml(name),
        cases.len(),
        count(Outcome::Fail),
        count(Outcome::Unsupported),
        wall_ms as f64 / 1000.0
    );
    if let Some(why) = unavailable {
        let _ = writeln!(
            s,
            "    <testcase classname=\"{0}\" name=\"(not run)\"><skipped message=\"unavailable: {1}\"/></testcase>",
            xml(name),
            xml(why)
        );
    }
    for c in cases {
        let time =
            c.ms.map(|ms| format!(" time=\"{:.3}\"", ms as f64 / 1000.0))
                .unwrap_or_default();
        let _ = write!(
            s,
            "    <testcase classname=\"{}\" name=\"{}\"{time}>",
            xml(name),
            xml(c.name)
        );
        match c.verdict {
            Outcome::Fail => {
                let _ = write!(
                    s,
                    "<failure message=\"{}\" type=\"fail\">{}</failure>",
                    xml(&c.detail),
                    xml(&c.text)
                );
            }
            Outcome::Unsupported => {
                let _ = write!(s, "<skipped message=\"{}\"/>", xml(&c.detail));
            }
            Outcome::Pass => {}
            Outcome::Informational | Outcome::NonStrict => {
                let _ = write!(s, "<system-out>{}</system-out>", xml(&c.text));
            }
        }
        s.push_str("</testcase>\n");
    }
    s.push_str("  </testsuite>\n");
}

/// The verdicts in the order totals are shown.
const TOTALS: [Outcome; 5] = [
    Outcome::Pass,
    Outcome::Fail,
    Outcome::NonStrict,
    Outcome::Informational,
    Outcome::Unsupported,
];

/// `ID: N cases, N pass, N fail, ... (T s)`.
fn totals_line(
    id: &str,
    n: usize,
    unit: &str,
    totals: &BTreeMap<Outcome, usize>,
    ms: u64,
) -> String {
    let counts: Vec<String> = TOTALS
        .iter()
        .map(|o| format!("{} {}", totals.get(o).copied().unwrap_or(0), o.name()))
        .collect();
    format!(
        "{}: {n} {unit}, {} ({:.1} s)",
        sse_judge::escape::terminal(id),
        counts.join(", "),
        ms as f64 / 1000.0
    )
}

/// The totals as Markdown table cells, then the time.
fn totals_cells(totals: &BTreeMap<Outcome, usize>, ms: u64) -> String {
    let counts: Vec<String> = TOTALS
        .iter()
        .map(|o| totals.get(o).copied().unwrap_or(0).to_string())
        .collect();
    format!("{} | {:.1} s", counts.join(" | "), ms as f64 / 1000.0)
}

/// A run (a case, a server check) as a matrix cell sees it.
trait Judged {
    fn id(&self) -> &str;
    fn verdict(&self) -> Outcome;
    fn checks(&self) -> &[String];
    fn findings(&self) -> &[Finding];

    /// The worst of its findings that name the requirement.
    fn named(&self, requirement: &str) -> Option<Outcome> {
        self.findings()
            .iter()
            .filter(|f| f.requirements.iter().any(|r| r == requirement))
            .map(|f| f.outcome)
            .reduce(Outcome::worst)
    }
}

impl Judged for CaseReport {
    fn id(&self) -> &str {
        &self.case
    }
    fn verdict(&self) -> Outcome {
        self.verdict
    }
    fn checks(&self) -> &[String] {
        &self.requirements
    }
    fn findings(&self) -> &[Finding] {
        &self.findings
    }
}

impl Judged for sse_judge::checked::CheckResult {
    fn id(&self) -> &str {
        &self.check
    }
    fn verdict(&self) -> Outcome {
        self.outcome
    }
    fn checks(&self) -> &[String] {
        &self.requirements
    }
    fn findings(&self) -> &[Finding] {
        &self.findings
    }
}

/// A requirement's matrix cell from the runs of one column. A run that checks it counts as pass
/// for it unless a finding names it; a finding in any run counts for the requirements it
/// names, no graver than the requirement's level allows (a `should` or an
/// implementation-defined row is never FAIL, whatever a finding naming it with others says); an
/// unsupported run counts only where nothing else does.
fn combine<'a, J: Judged + 'a>(
    requirement: &str,
    level: Option<Level>,
    runs: impl IntoIterator<Item = &'a J>,
) -> Cell {
    let ceiling = level.map_or(Outcome::Fail, Outcome::ceiling);
    let cap = |o: Outcome| {
        if o == Outcome::Fail && ceiling != Outcome::Fail {
            ceiling
        } else {
            o
        }
    };
    let mut cases = Vec::new();
    let mut outcome: Option<Outcome> = None;
    for run in runs {
        let checks = run.checks().iter().any(|r| r == requirement);
        let (id, verdict, named) = (
            run.id().to_owned(),
            run.verdict(),
            run.named(requirement).map(cap),
        );
        let this = match (verdict, checks, named) {
            (Outcome::Unsupported, true, _) => Some(Outcome::Unsupported),
            (_, _, Some(o)) => Some(o),
            (_, true, None) => Some(Outcome::Pass),
            (_, false, None) => None,
        };
        if let Some(o) = this {
            cases.push((id, o));
            outcome = Some(match outcome {
                None | Some(Outcome::Unsupported) => o,
                Some(prev) if o == Outcome::Unsupported => prev,
                Some(prev) => prev.worst(o),
            });
        }
    }
    Cell { outcome, cases }
}

pub(crate) use sse_judge::judged::millis;

impl ImplementationReport {
    /// A column from judged cases.
    pub fn new(
        identity: &Identity,
        transport: Transport,
        capabilities: Vec<Capability>,
        cases: Vec<CaseReport>,
        wall: Duration,
    ) -> Self {
        let mut totals = BTreeMap::new();
        for c in &cases {
            *totals.entry(c.verdict).or_insert(0) += 1;
        }
        let profile = sse_case::client::profile(&capabilities.iter().copied().collect()).to_owned();
        ImplementationReport {
            id: transport.column_id(&identity.name),
            name: identity.name.clone(),
            version: identity.version.clone(),
            transport,
            profile,
            capabilities,
            unavailable: None,
            totals,
            wall_ms: millis(wall),
            cases,
            warnings: Vec::new(),
        }
    }

    /// A column that could not run, and why.
    pub fn unavailable(identity: &Identity, transport: Transport, why: String) -> Self {
        let mut column =
            ImplementationReport::new(identity, transport, Vec::new(), Vec::new(), Duration::ZERO);
        column.unavailable = Some(why);
        column
    }

    /// One line: how many cases got each verdict, and the time it took.
    pub fn totals_line(&self) -> String {
        if let Some(why) = &self.unavailable {
            return sse_judge::escape::terminal(&format!("{}: unavailable: {why}", self.id));
        }
        totals_line(
            &self.id,
            self.cases.len(),
            "cases",
            &self.totals,
            self.wall_ms,
        )
    }

    /// Its warnings, a line each for a terminal: `warning  COLUMN: WHAT`, escaped.
    pub fn warning_lines(&self) -> String {
        self.warnings
            .iter()
            .map(|w| terminal(&format!("warning  {}: {w}", self.id)) + "\n")
            .collect()
    }

    /// Whether any case failed.
    pub fn failed(&self) -> bool {
        self.cases.iter().any(|c| c.verdict == Outcome::Fail)
    }
}

/// What one requirement got from one implementation: the worst verdict among the cases that
/// check it (and the findings that name it), with those cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// The verdict, or `None` when no case checks the requirement (a gap).
    pub outcome: Option<Outcome>,
    /// The cases behind it, with their verdicts.
    pub cases: Vec<(String, Outcome)>,
}

impl RunReport {
    /// A report over the given columns.
    pub fn new(catalogue: &Catalogue, implementations: Vec<ImplementationReport>) -> Self {
        let requirements = catalogue
            .requirements
            .iter()
            .map(|r| RequirementInfo {
                id: r.id.clone(),
                level: r.level,
                summary: r.summary.clone(),
                url: r.url(),
                binds: r.binds.iter().map(|b| b.as_str().to_owned()).collect(),
                ambiguity: r.ambiguity.clone(),
                cases: catalogue
                    .cases
                    .iter()
                    .filter(|c| c.checks.contains(&r.id))
                    .map(|c| c.id.clone())
                    .collect(),
                server_checks: Vec::new(),
            })
            .collect();
        let failed_somewhere = |id: &str| {
            implementations.iter().any(|i| {
                i.cases
                    .iter()
                    .any(|c| c.case == id && c.verdict != Outcome::Pass)
            })
        };
        let streams = catalogue
            .cases
            .iter()
            .filter(|c| c.stream.is_some() && failed_somewhere(&c.id))
            .filter_map(StreamReport::of)
            .collect();
        RunReport {
            generated: now_rfc3339(),
            suite: SuiteInfo {
                version: env!("CARGO_PKG_VERSION").into(),
                catalogue: catalogue.hash().to_owned(),
                cases: catalogue.cases.len(),
                requirements: catalogue.requirements.len(),
            },
            requirements,
            implementations,
            expectations: false,
            servers: Vec::new(),
            streams,
        }
    }

    /// Adds the server columns, and which server checks check each requirement.
    pub fn add_servers(
        &mut self,
        checks: &[sse_case::server_check::ServerCheck],
        servers: Vec<ServerReport>,
    ) {
        for r in &mut self.requirements {
            r.server_checks = checks
                .iter()
                .filter(|c| c.checks.contains(&r.id))
                .map(|c| c.id.clone())
                .collect();
        }
        self.servers.extend(servers);
    }

    /// The matrix cell of a requirement and an implementation. A case that checks the
    /// requirement counts as pass for it unless a finding names it (a case that failed on the
    /// reconnection time does not fail the parsing rule it was about); a finding in any case
    /// counts for the requirements it names; an unsupported case counts as unsupported.
    pub fn cell(&self, requirement: &str, implementation: &ImplementationReport) -> Cell {
        // Client columns judge clients: what binds only servers or streams stays n/a.
        if self
            .requirements
            .iter()
            .any(|r| r.id == requirement && !r.binds_client())
        {
            return Cell {
                outcome: None,
                cases: Vec::new(),
            };
        }
        let level = self
            .requirements
            .iter()
            .find(|r| r.id == requirement)
            .map(|r| r.level);
        combine(requirement, level, &implementation.cases)
    }

    /// Adds a column without verdicts for each implementation that could not run here.
    pub fn add_unavailable(&mut self, missing: &[sse_judge::judged::Unavailable]) {
        for u in missing {
            let identity = Identity {
                name: u.name.clone(),
                version: "-".into(),
            };
            self.implementations.push(ImplementationReport::unavailable(
                &identity,
                u.transport,
                u.reason.clone(),
            ));
        }
    }

    /// Whether any implementation failed any case, or any server any check.
    pub fn failed(&self) -> bool {
        self.implementations
            .iter()
            .any(ImplementationReport::failed)
            || self.servers.iter().any(ServerReport::failed)
    }

    /// Writes `report.json`, `junit.xml`, `summary.md` and `index.html` into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("report.json"), json)?;
        std::fs::write(dir.join("junit.xml"), self.junit())?;
        std::fs::write(dir.join("summary.md"), self.markdown())?;
        std::fs::write(dir.join("index.html"), html::render(self))?;
        Ok(())
    }

    /// JUnit XML: a testsuite per implementation, a testcase per case. Fail is a failure,
    /// unsupported is skipped, the rest pass with their verdict in `system-out`.
    pub fn junit(&self) -> String {
        let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let failures: usize = self
            .implementations
            .iter()
            .map(|i| &i.totals)
            .chain(self.servers.iter().map(|s| &s.totals))
            .map(|t| t.get(&Outcome::Fail).copied().unwrap_or(0))
            .sum();
        let tests: usize = self
            .implementations
            .iter()
            .map(|i| i.cases.len())
            .sum::<usize>()
            + self.servers.iter().map(|s| s.checks.len()).sum::<usize>();
        let _ = writeln!(
            s,
            "<testsuites name=\"sse-conformance\" tests=\"{tests}\" failures=\"{failures}\">"
        );
        for imp in &self.implementations {
            junit_suite(
                &mut s,
                &imp.id,
                &imp.totals,
                imp.wall_ms,
                imp.unavailable.as_deref(),
                imp.cases.iter().map(|c| JunitCase {
                    name: &c.case,
                    ms: Some(c.wall_ms),
                    verdict: c.verdict,
                    detail: c.detail.clone(),
                    text: case_text(c),
                }),
            );
        }
        self.junit_servers(&mut s);
        s.push_str("</testsuites>\n");
        s
    }

    /// A Markdown summary: totals per implementation, the requirement matrix, and every
    /// non-pass case with its first finding.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# SSE conformance report\n");
        if self.implementations.is_empty() {
            let _ = writeln!(
                s,
                "Generated {} by sse-harness {}: server checks only, {} requirements.\n",
                self.generated, self.suite.version, self.suite.requirements
            );
        } else {
            let _ = writeln!(
                s,
                "Generated {} by sse-harness {}: {} cases, {} requirements.\n",
                self.generated, self.suite.version, self.suite.cases, self.suite.requirements
            );
        }
        if !self.implementations.is_empty() {
            self.markdown_clients(&mut s);
        }
        self.markdown_servers(&mut s);
        s
    }

    /// The Markdown sections of the client columns.
    fn markdown_clients(&self, s: &mut String) {
        let _ = writeln!(s, "## Implementations\n");
        let _ = writeln!(
            s,
            "| implementation | version | transport | profile | pass | fail | non-strict | informational | unsupported | time |"
        );
        let _ = writeln!(
            s,
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        );
        for imp in &self.implementations {
            if let Some(why) = &imp.unavailable {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | | unavailable: {} ||||||",
                    md(&imp.name),
                    md(&imp.version),
                    imp.transport.name(),
                    md(why)
                );
                continue;
            }
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                md(&imp.name),
                md(&imp.version),
                imp.transport.name(),
                imp.profile,
                totals_cells(&imp.totals, imp.wall_ms)
            );
        }
        let _ = writeln!(s, "\n## Requirements\n");
        let _ = writeln!(
            s,
            "**FAIL**: a `must` (or a declared extension) broken. non-strict: a `should` broken, \
             an allowed reading differs, or an implementation-defined or authoring row departs \
             from the text (those are never FAIL). informational: an implementation-defined \
             choice differs from the model's. unsupported: the client lacks what the cases need. \
             gap: no case checks it. n/a: it binds servers or streams.\n"
        );
        let mut header = String::from("| requirement | level |");
        let mut rule = String::from("| --- | --- |");
        for imp in &self.implementations {
            let _ = write!(header, " {} |", md(&imp.id));
            rule.push_str(" --- |");
        }
        let _ = writeln!(s, "{header}\n{rule}");
        for r in &self.requirements {
            let mut row = format!("| [{}]({}) | {} |", r.id, r.url, r.level.as_str());
            for imp in &self.implementations {
                let cell = self.cell(&r.id, imp);
                let text = match cell.outcome {
                    None if !r.binds_client() => "n/a".to_owned(),
                    None if r.cases.is_empty() => "no case".to_owned(),
                    None => "-".to_owned(),
                    Some(Outcome::Fail) => "**FAIL**".to_owned(),
                    Some(o) => o.name().to_owned(),
                };
                let _ = write!(row, " {text} |");
            }
            let _ = writeln!(s, "{row}");
        }
        let mut non_pass = String::new();
        for imp in &self.implementations {
            // A stream's deliveries that failed alike are one line.
            let mut shown: Vec<(String, Outcome)> = Vec::new();
            for c in imp.cases.iter().filter(|c| c.verdict != Outcome::Pass) {
                let Some((stream, _)) = c
                    .case
                    .rsplit_once('@')
                    .filter(|_| c.case.starts_with("stream/"))
                else {
                    let _ = writeln!(
                        non_pass,
                        "- **{}** {} {}: {}",
                        md(&imp.id),
                        md_code(&c.case),
                        c.verdict,
                        md(&c.detail)
                    );
                    continue;
                };
                if shown.contains(&(stream.to_owned(), c.verdict)) {
                    continue;
                }
                shown.push((stream.to_owned(), c.verdict));
                let deliveries: Vec<&str> = imp
                    .cases
                    .iter()
                    .filter(|o| o.verdict == c.verdict)
                    .filter_map(|o| o.case.strip_prefix(stream)?.strip_prefix('@'))
                    .collect();
                let _ = writeln!(
                    non_pass,
                    "- **{}** {} @{} {}: {}",
                    md(&imp.id),
                    md_code(stream),
                    md(&deliveries.join(", @")),
                    c.verdict,
                    md(&c.detail)
                );
            }
        }
        if !non_pass.is_empty() {
            let _ = writeln!(s, "\n## Cases that did not pass\n\n{non_pass}");
        }
    }
}

/// A case's verdict, findings and both traces as plain text.
fn case_text(c: &CaseReport) -> String {
    explain(
        &c.findings,
        c.divergence.as_ref(),
        c.expected.iter().map(String::as_str),
        c.observed.iter().map(|e| e.text.as_str()),
    )
}

/// The current time as RFC 3339 UTC, without a date crate.
fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sse_judge::judge::Finding;

    #[test]
    fn xml_escapes_and_drops_what_xml_cannot_hold() {
        assert_eq!(xml("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
        assert_eq!(xml("nul\0"), "nul\\u{0}");
    }

    fn case(
        name: &str,
        checks: &[&str],
        verdict: Outcome,
        findings: &[(Outcome, &[&str])],
    ) -> CaseReport {
        CaseReport {
            case: name.into(),
            about: String::new(),
            requirements: checks.iter().map(|s| (*s).to_owned()).collect(),
            verdict,
            detail: String::new(),
            findings: findings
                .iter()
                .map(|(o, ids)| Finding {
                    outcome: *o,
                    requirements: ids.iter().map(|s| (*s).to_owned()).collect(),
                    at: None,
                    message: String::new(),
                })
                .collect(),
            divergence: None,
            expected: Vec::new(),
            observed: Vec::new(),
            wall_ms: 0,
            readings: Vec::new(),
            known: None,
        }
    }

    #[test]
    fn a_case_fails_only_the_requirements_its_findings_name() {
        let catalogue = Catalogue::load_default().expect("catalogue");
        let identity = Identity {
            name: "x".into(),
            version: "1".into(),
        };
        let column = ImplementationReport::new(
            &identity,
            Transport::Loopback,
            Vec::new(),
            vec![
                case(
                    "a",
                    &["PARSE-EOF-DISCARD"],
                    Outcome::Fail,
                    &[(Outcome::Fail, &["RECONNECT-WAIT"])],
                ),
                case(
                    "b",
                    &["FIELD-RETRY"],
                    Outcome::Unsupported,
                    &[(Outcome::Unsupported, &["FIELD-RETRY"])],
                ),
                case(
                    "c",
                    &["FIELD-RETRY"],
                    Outcome::NonStrict,
                    &[(Outcome::NonStrict, &["FIELD-RETRY"])],
                ),
            ],
            Duration::ZERO,
        );
        let report = RunReport::new(&catalogue, vec![column]);
        let imp = &report.implementations[0];
        assert_eq!(
            report.cell("PARSE-EOF-DISCARD", imp).outcome,
            Some(Outcome::Pass)
        );
        assert_eq!(
            report.cell("RECONNECT-WAIT", imp).outcome,
            Some(Outcome::Fail)
        );
        // Unsupported gives way to a case that ran.
        assert_eq!(
            report.cell("FIELD-RETRY", imp).outcome,
            Some(Outcome::NonStrict)
        );
        assert_eq!(report.cell("CONN-ANNOUNCE", imp).outcome, None);
        assert!(report.failed());
        assert!(report.junit().contains("<failure"));
        assert!(report.markdown().contains("| [RECONNECT-WAIT]"));
    }

    #[test]
    fn dates_are_rfc3339() {
        let d = now_rfc3339();
        assert_eq!(d.len(), 20, "{d}");
        assert!(d.starts_with("20") && d.ends_with('Z'), "{d}");
    }
}
