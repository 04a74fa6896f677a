//! Servers and proxies in the report: one column per set-up (`servers/setups.toml`), its
//! server checks' verdicts, and their matrix over the requirements that bind servers, in the
//! same files as the client columns (JSON, JUnit, Markdown, HTML).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Cell, RequirementInfo, RunReport, md, md_code, millis};
use sse_case::server_check::Declaration;
use sse_case::setup::Setup;
use sse_judge::checked::CheckResult;
use sse_judge::judge::Outcome;

/// One server set-up: a column of the server matrix.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerReport {
    /// Column id (the set-up's).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its version, as its version command prints it.
    pub version: String,
    /// What it is and how it is configured.
    pub about: String,
    /// The stream most checks read.
    #[serde(default)]
    pub url: String,
    /// What it declared it supports.
    pub declares: Vec<Declaration>,
    /// Why it could not be checked here, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
    /// How many checks got each verdict.
    pub totals: BTreeMap<Outcome, usize>,
    /// Real time the set-up took, installation included.
    pub wall_ms: u64,
    /// One entry per check.
    pub checks: Vec<CheckResult>,
}

impl ServerReport {
    /// A checked set-up.
    pub fn new(
        setup: &Setup,
        version: String,
        url: String,
        checks: Vec<CheckResult>,
        wall: Duration,
    ) -> Self {
        let mut column = ServerReport::of_server(&setup.id, url, &setup.declares, checks, wall);
        column.name = setup.name.clone();
        column.version = version;
        column.about = setup.about.clone();
        column
    }

    /// A server checked at a URL (`ssec check-server --out`): named by its column id.
    pub fn of_server(
        id: &str,
        url: String,
        declares: &std::collections::BTreeSet<Declaration>,
        checks: Vec<CheckResult>,
        wall: Duration,
    ) -> Self {
        let mut totals = BTreeMap::new();
        for c in &checks {
            *totals.entry(c.outcome).or_insert(0) += 1;
        }
        ServerReport {
            id: id.to_owned(),
            name: id.to_owned(),
            version: "-".into(),
            about: format!("checked at {url}"),
            url,
            declares: declares.iter().copied().collect(),
            unavailable: None,
            totals,
            wall_ms: millis(wall),
            checks,
        }
    }

    /// A set-up that could not be installed or started here, and why.
    pub fn unavailable(setup: &Setup, why: String) -> Self {
        let mut column =
            ServerReport::new(setup, "-".into(), String::new(), Vec::new(), Duration::ZERO);
        column.unavailable = Some(why);
        column
    }

    /// One line: how many checks got each verdict, and the time it took.
    pub fn totals_line(&self) -> String {
        if let Some(why) = &self.unavailable {
            return super::terminal(&format!("{}: unavailable: {why}", self.id));
        }
        super::totals_line(
            &self.id,
            self.checks.len(),
            "checks",
            &self.totals,
            self.wall_ms,
        )
    }

    /// Whether any check failed.
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.outcome == Outcome::Fail)
    }

    /// One check's verdict, findings, measurement and bytes as plain text.
    pub fn check_text(c: &CheckResult) -> String {
        let mut s = format!(
            "{} {}  [{}]\n",
            c.outcome.name(),
            c.check,
            c.requirements.join(" ")
        );
        if let Some(m) = &c.measured {
            let _ = writeln!(s, "  {}", super::terminal(m));
        }
        for f in &c.findings {
            let _ = writeln!(
                s,
                "  {} {} [{}]",
                f.outcome.name(),
                super::terminal(&f.message),
                f.requirements.join(" ")
            );
        }
        if c.outcome != Outcome::Pass {
            if let Some(bytes) = c.evidence_text() {
                let _ = writeln!(s, "  bytes: {}", super::terminal(&bytes));
            }
            if let Some(lines) = &c.annotation {
                let _ = writeln!(
                    s,
                    "  as a client reads them:\n{}",
                    sse_judge::escape::terminal_lines(lines)
                );
            }
        }
        s
    }
}

/// Whether a server can break the requirement (a server column can show it).
pub(crate) fn binds_server(r: &RequirementInfo) -> bool {
    r.binds.iter().any(|b| b == "server" || b == "stream")
}

impl RunReport {
    /// The server matrix cell of a requirement and a set-up: the worst verdict among the checks
    /// that check it or whose findings name it, as [`RunReport::cell`] does for cases.
    pub fn server_cell(&self, requirement: &str, server: &ServerReport) -> Cell {
        // A server's checks grade its own rules (authoring rules are a server's musts).
        super::combine(requirement, None, &server.checks)
    }

    /// The requirements a server column shows, in catalogue order.
    pub(crate) fn server_requirements(&self) -> impl Iterator<Item = &RequirementInfo> {
        self.requirements.iter().filter(|r| binds_server(r))
    }

    /// JUnit test suites for the server columns (`server:ID`): a testcase per check.
    pub(crate) fn junit_servers(&self, s: &mut String) {
        for server in &self.servers {
            super::junit_suite(
                s,
                &format!("server:{}", server.id),
                &server.totals,
                server.wall_ms,
                server.unavailable.as_deref(),
                server.checks.iter().map(|c| super::JunitCase {
                    name: &c.check,
                    ms: None,
                    verdict: c.outcome,
                    detail: c.summary(),
                    text: ServerReport::check_text(c),
                }),
            );
        }
    }

    /// The Markdown section of the server columns: totals, the matrix, and every check that
    /// did not pass with what was measured.
    pub(crate) fn markdown_servers(&self, s: &mut String) {
        if self.servers.is_empty() {
            return;
        }
        let _ = writeln!(s, "\n## Servers and proxies\n");
        let _ = writeln!(
            s,
            "| set-up | version | what it is | pass | fail | non-strict | informational | unsupported | time |"
        );
        let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for server in &self.servers {
            if let Some(why) = &server.unavailable {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | unavailable: {} ||||||",
                    md(&server.id),
                    md(&server.version),
                    md(&server.about),
                    md(why)
                );
                continue;
            }
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                md(&server.id),
                md(&server.version),
                md(&server.about),
                super::totals_cells(&server.totals, server.wall_ms)
            );
        }
        let _ = writeln!(s, "\n### Requirements × set-ups\n");
        let mut header = String::from("| requirement | level |");
        let mut rule = String::from("| --- | --- |");
        for server in &self.servers {
            let _ = write!(header, " {} |", md(&server.id));
            rule.push_str(" --- |");
        }
        let _ = writeln!(s, "{header}\n{rule}");
        for r in self.server_requirements() {
            let mut row = format!("| [{}]({}) | {} |", r.id, r.url, r.level.as_str());
            for server in &self.servers {
                let text = match self.server_cell(&r.id, server).outcome {
                    None if server.unavailable.is_some() => "-".to_owned(),
                    None if r.server_checks.is_empty() => "no check".to_owned(),
                    None => "-".to_owned(),
                    Some(Outcome::Fail) => "**FAIL**".to_owned(),
                    Some(o) => o.name().to_owned(),
                };
                let _ = write!(row, " {text} |");
            }
            let _ = writeln!(s, "{row}");
        }
        let mut non_pass = String::new();
        for server in &self.servers {
            for c in server.checks.iter().filter(|c| c.outcome != Outcome::Pass) {
                let measured = c
                    .measured
                    .as_ref()
                    .map(|m| format!(" (measured: {})", md(m)))
                    .unwrap_or_default();
                let _ = writeln!(
                    non_pass,
                    "- **{}** {} {}: {}{measured}",
                    md(&server.id),
                    md_code(&c.check),
                    c.outcome.name(),
                    md(&c
                        .findings
                        .first()
                        .map(|f| f.message.clone())
                        .unwrap_or_default())
                );
            }
        }
        if !non_pass.is_empty() {
            let _ = writeln!(s, "\n### Checks that did not pass\n\n{non_pass}");
        }
    }
}
