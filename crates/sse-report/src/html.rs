//! `index.html`: the requirement-by-implementation matrix as one self-contained page (inline CSS,
//! a few optional lines of JS, nothing fetched): a summary per implementation, one coloured cell
//! per requirement and implementation, what each implementation gets wrong, behind every
//! non-pass cell the list of its cases, and for every case that did not pass, once per column,
//! its detail: a timeline and the expected and observed traces side by side (for a stream case,
//! the stream's bytes with their line ends, BOMs, NULs and bad bytes marked, and the expected and
//! observed messages side by side). A passing case shows nothing (its traces are in
//! report.json), and a stream's bytes are written once whatever the columns that failed it.
//! Cells and cases open through a fragment link and CSS `:target`, so no script is needed.

use std::fmt::Write as _;

use sse_model::trace::time;

use super::{CaseReport, Cell, ImplementationReport, RequirementInfo, RunReport, xml as escape};
use sse_judge::judge::{Divergence, Finding, Outcome, Source};

mod stream;
mod timeline;

/// Lines shown (and drawn) per trace: the rest is only counted, so a runaway client cannot
/// bloat the page.
pub const MAX_TRACE_LINES: usize = 400;

/// The summary's verdict columns, in reading order.
const VERDICTS: [Outcome; 5] = [
    Outcome::Pass,
    Outcome::Fail,
    Outcome::NonStrict,
    Outcome::Informational,
    Outcome::Unsupported,
];

/// The verdicts "what X gets wrong" lists, gravest first.
const PROBLEMS: [Outcome; 4] = [
    Outcome::Fail,
    Outcome::NonStrict,
    Outcome::Informational,
    Outcome::Unsupported,
];

/// The report as one HTML page: deterministic for a given report, every text escaped.
pub fn render(report: &RunReport) -> String {
    let grid = Grid::new(report);
    let mut out = String::with_capacity(256 * 1024);
    page_head(&mut out, report);
    if !report.implementations.is_empty() {
        summary(&mut out, report);
        matrix(&mut out, report, &grid);
        problems(&mut out, report);
    }
    servers(&mut out, report);
    panels(&mut out, report, &grid);
    case_panels(&mut out, report);
    stream_panels(&mut out, report);
    out.push_str(PAGE_END);
    out
}

/// Every matrix cell, computed once: `cells[requirement][implementation]`, in report order.
struct Grid {
    cells: Vec<Vec<Cell>>,
    shown: Vec<Vec<Shown>>,
}

impl Grid {
    fn new(report: &RunReport) -> Self {
        let cells: Vec<Vec<Cell>> = report
            .requirements
            .iter()
            .map(|r| {
                report
                    .implementations
                    .iter()
                    .map(|i| report.cell(&r.id, i))
                    .collect()
            })
            .collect();
        let shown = report
            .requirements
            .iter()
            .zip(&cells)
            .map(|(r, row)| row.iter().map(|c| Shown::of(c, r)).collect())
            .collect();
        Grid { cells, shown }
    }
}

/// What a matrix cell shows: an outcome, a gap in the catalogue, or nothing run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    Outcome(Outcome),
    /// No case checks the requirement.
    Gap,
    /// The requirement binds servers or streams, not clients, and no case judged it here.
    NotApplicable,
    /// Cases check it, but none ran for this implementation.
    NotRun,
}

impl Shown {
    fn of(cell: &Cell, requirement: &RequirementInfo) -> Shown {
        match cell.outcome {
            Some(o) => Shown::Outcome(o),
            None if !requirement.binds_client() => Shown::NotApplicable,
            None if requirement.cases.is_empty() => Shown::Gap,
            None => Shown::NotRun,
        }
    }

    /// The `data-outcome` value, also the CSS class suffix.
    fn name(self) -> &'static str {
        match self {
            Shown::Outcome(o) => o.name(),
            Shown::Gap => "gap",
            Shown::NotApplicable => "n-a",
            Shown::NotRun => "none",
        }
    }

    /// The cell's visible text.
    fn label(self) -> &'static str {
        match self {
            Shown::Outcome(Outcome::Fail) => "FAIL",
            Shown::Outcome(Outcome::Informational) => "info",
            Shown::Outcome(Outcome::Unsupported) => "unsupp.",
            Shown::Outcome(o) => o.name(),
            Shown::Gap => "gap",
            Shown::NotApplicable => "n/a",
            Shown::NotRun => "–",
        }
    }

    /// Whether the cell has non-pass cases to open.
    fn opens(self) -> bool {
        matches!(self, Shown::Outcome(o) if o != Outcome::Pass)
    }

    /// Whether a row of such cells holds nothing to look at.
    fn clean(self) -> bool {
        matches!(
            self,
            Shown::Outcome(Outcome::Pass) | Shown::NotRun | Shown::NotApplicable
        )
    }
}

/// A fragment id: letters, digits and `-` kept, anything else as `_HEX_`, parts joined by `.`,
/// so any ids give a unique anchor that needs no escaping.
fn anchor(kind: &str, parts: &[&str]) -> String {
    let mut s = String::from(kind);
    for part in parts {
        s.push('.');
        for c in part.chars() {
            if c.is_ascii_alphanumeric() || c == '-' {
                s.push(c);
            } else {
                let _ = write!(s, "_{:x}_", u32::from(c));
            }
        }
    }
    s
}

fn row_anchor(requirement: &str) -> String {
    anchor("r", &[requirement])
}

fn impl_anchor(imp: &ImplementationReport) -> String {
    anchor("i", &[&imp.id])
}

fn panel_anchor(imp: &ImplementationReport, requirement: &str) -> String {
    anchor("d", &[&imp.id, requirement])
}

fn case_anchor(imp: &ImplementationReport, case: &str) -> String {
    anchor("c", &[&imp.id, case])
}

fn stream_anchor(case: &str) -> String {
    anchor("s", &[case])
}

/// A coloured verdict label.
fn badge(o: Outcome) -> String {
    format!("<span class=\"badge o-{0}\">{0}</span>", o.name())
}

/// A case's verdict label; judged against expectations, a non-pass verdict is also marked
/// known (with the file's reason) or new.
fn case_badge(report: &RunReport, c: &CaseReport) -> String {
    let mark = match &c.known {
        Some(why) => format!(
            " <span class=\"chip known\" title=\"{}\">known</span>",
            escape(why)
        ),
        None if report.expectations && c.verdict != Outcome::Pass => {
            " <span class=\"chip new\" title=\"not in the expectations file\">new</span>".into()
        }
        None => String::new(),
    };
    badge(c.verdict) + &mark
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn page_head(out: &mut String, report: &RunReport) {
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>SSE conformance report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <header class=\"top\">\n<h1>SSE conformance report</h1>\n\
         <p class=\"meta\">Generated <time>{}</time> by sse-harness {} · {} cases · {} requirements · \
         {} implementation columns</p>\n</header>\n",
        escape(&report.generated),
        escape(&report.suite.version),
        report.suite.cases,
        report.suite.requirements,
        report.implementations.len()
    );
}

fn summary(out: &mut String, report: &RunReport) {
    out.push_str(
        "<section id=\"implementations\">\n<h2>Implementations</h2>\n<table class=\"totals\">\n\
         <thead><tr><th>column</th><th>name</th><th>version</th><th>transport</th><th>profile</th>",
    );
    for o in VERDICTS {
        let _ = write!(out, "<th>{}</th>", o.name());
    }
    out.push_str("<th>time</th></tr></thead>\n<tbody>\n");
    for imp in &report.implementations {
        summary_row(out, imp);
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

fn summary_row(out: &mut String, imp: &ImplementationReport) {
    let _ = write!(
        out,
        "<tr><th scope=\"row\"><a href=\"#{}\">{}</a></th><td>{}</td><td>{}</td><td>{}</td>\
         <td title=\"{}\">{}</td>",
        impl_anchor(imp),
        escape(&imp.id),
        escape(&imp.name),
        escape(&imp.version),
        imp.transport.name(),
        if imp.profile == "stream-parser" {
            "a parser over one response: cases that reconnect are unsupported, the end of the body is not judged"
        } else {
            "the whole EventSource client"
        },
        escape(&imp.profile)
    );
    if let Some(why) = &imp.unavailable {
        let _ = writeln!(
            out,
            "<td colspan=\"{}\" class=\"unavailable\">unavailable: {}</td></tr>",
            VERDICTS.len() + 1,
            escape(why)
        );
        return;
    }
    for o in VERDICTS {
        let n = imp.totals.get(&o).copied().unwrap_or(0);
        let class = if n > 0 { o.name() } else { "zero" };
        let _ = write!(out, "<td class=\"num o-{class}\">{n}</td>");
    }
    let _ = writeln!(out, "<td class=\"num\">{}</td></tr>", seconds(imp.wall_ms));
}

fn matrix(out: &mut String, report: &RunReport, grid: &Grid) {
    out.push_str("<section id=\"matrix\">\n<h2>Requirements × implementations</h2>\n");
    out.push_str(MATRIX_LEGEND);
    out.push_str(
        "<input type=\"checkbox\" id=\"only-issues\"><label for=\"only-issues\"> show only \
         requirements with something to look at</label>\n<div class=\"matrix-wrap\">\n\
         <table class=\"matrix\">\n<thead><tr><th>requirement</th><th>level</th><th>summary</th>",
    );
    for imp in &report.implementations {
        let _ = write!(
            out,
            "<th class=\"impl\"><a href=\"#{}\">{}</a></th>",
            impl_anchor(imp),
            escape(&imp.id)
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for r in 0..report.requirements.len() {
        matrix_row(out, report, grid, r);
    }
    out.push_str("</tbody>\n</table>\n</div>\n</section>\n");
}

fn matrix_row(out: &mut String, report: &RunReport, grid: &Grid, r: usize) {
    let req = &report.requirements[r];
    let clean = grid.shown[r].iter().all(|s| s.clean());
    let class = if clean { " class=\"clean\"" } else { "" };
    let _ = write!(out, "<tr id=\"{}\"{class}>", row_anchor(&req.id));
    requirement_head(out, req);
    for (i, imp) in report.implementations.iter().enumerate() {
        matrix_cell(out, req, imp, &grid.cells[r][i], grid.shown[r][i]);
    }
    out.push_str("</tr>\n");
}

/// The requirement's id (a link to the standard), level and summary.
fn requirement_head(out: &mut String, req: &RequirementInfo) {
    let summary = escape(&req.summary);
    let id = escape(&req.id);
    let linked = if req.url.starts_with("https://") || req.url.starts_with("http://") {
        format!(
            "<a href=\"{}\" title=\"{summary}\">{id}</a>",
            escape(&req.url)
        )
    } else {
        id
    };
    let _ = write!(
        out,
        "<th scope=\"row\">{linked}{}</th><td class=\"level level-{1}\">{1}</td>\
         <td class=\"summary\" title=\"{summary}\">{summary}</td>",
        ambiguity_marker(req),
        req.level.as_str()
    );
}

fn ambiguity_marker(req: &RequirementInfo) -> String {
    req.ambiguity.as_deref().map_or_else(String::new, |note| {
        format!(
            " <span class=\"amb\" title=\"ambiguous: {}\">?</span>",
            escape(note)
        )
    })
}

fn matrix_cell(
    out: &mut String,
    req: &RequirementInfo,
    imp: &ImplementationReport,
    cell: &Cell,
    shown: Shown,
) {
    let passed = cell
        .cases
        .iter()
        .filter(|(_, o)| *o == Outcome::Pass)
        .count();
    let total = cell.cases.len();
    let (count, title) = match shown {
        Shown::Gap => (String::new(), "no case checks this requirement".to_owned()),
        Shown::NotApplicable => (
            String::new(),
            "binds servers or streams: not judged on a client".to_owned(),
        ),
        Shown::NotRun => (String::new(), "not run".to_owned()),
        Shown::Outcome(_) => (
            format!(" <small>{passed}/{total}</small>"),
            format!("{passed} of {total} cases pass"),
        ),
    };
    let _ = write!(
        out,
        "<td class=\"cell o-{0}\" data-requirement=\"{1}\" data-implementation=\"{2}\" \
         data-outcome=\"{0}\" title=\"{1} on {2}: {title}\">",
        shown.name(),
        escape(&req.id),
        escape(&imp.id)
    );
    if shown.opens() {
        let _ = write!(
            out,
            "<a href=\"#{}\">{}{count}</a>",
            panel_anchor(imp, &req.id),
            shown.label()
        );
    } else {
        let _ = write!(out, "{}{count}", shown.label());
    }
    out.push_str("</td>");
}

fn problems(out: &mut String, report: &RunReport) {
    out.push_str("<section id=\"problems\">\n<h2>What each implementation gets wrong</h2>\n");
    for (i, imp) in report.implementations.iter().enumerate() {
        implementation_problems(out, report, i, imp);
    }
    out.push_str("</section>\n");
}

fn implementation_problems(
    out: &mut String,
    report: &RunReport,
    i: usize,
    imp: &ImplementationReport,
) {
    let _ = writeln!(
        out,
        "<section class=\"impl\" id=\"{}\">\n<h3>{} <small>{} {} · {}</small></h3>",
        impl_anchor(imp),
        escape(&imp.id),
        escape(&imp.name),
        escape(&imp.version),
        imp.transport.name()
    );
    if !imp.warnings.is_empty() {
        out.push_str("<ul class=\"warnings\">\n");
        for w in &imp.warnings {
            let _ = writeln!(out, "<li>warning: {}</li>", escape(w));
        }
        out.push_str("</ul>\n");
    }
    let bad: Vec<&CaseReport> = PROBLEMS
        .iter()
        .flat_map(|o| imp.cases.iter().filter(move |c| c.verdict == *o))
        .collect();
    if let Some(why) = &imp.unavailable {
        let _ = writeln!(
            out,
            "<p class=\"unavailable\">unavailable: {}</p>",
            escape(why)
        );
    } else if bad.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"all-pass\">All {} cases passed.</p>",
            imp.cases.len()
        );
    } else {
        out.push_str("<table class=\"problems\">\n<tbody>\n");
        for case in bad {
            problem_row(out, report, i, case);
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out.push_str("</section>\n");
}

/// One non-pass case: its id opens its detail.
fn problem_row(out: &mut String, report: &RunReport, i: usize, case: &CaseReport) {
    let imp = &report.implementations[i];
    let id = format!(
        "<a href=\"#{}\">{}</a>",
        case_anchor(imp, &case.case),
        escape(&case.case)
    );
    let _ = writeln!(
        out,
        "<tr><td class=\"case-id\">{id}</td><td>{}</td><td>{}</td></tr>",
        case_badge(report, case),
        escape(&case.detail)
    );
}

/// The server set-ups: totals, their matrix over the requirements that bind servers (each cell
/// titled with its checks), and every check with what was measured and found.
fn servers(out: &mut String, report: &RunReport) {
    if report.servers.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"servers\">\n<h2>Servers and proxies</h2>\n<table class=\"totals\">\n\
         <thead><tr><th>set-up</th><th>version</th><th>what it is</th>",
    );
    for o in VERDICTS {
        let _ = write!(out, "<th>{}</th>", o.name());
    }
    out.push_str("<th>time</th></tr></thead>\n<tbody>\n");
    for s in &report.servers {
        let _ = write!(
            out,
            "<tr><th scope=\"row\"><a href=\"#server-{0}\">{0}</a></th><td>{1}</td><td>{2}</td>",
            escape(&s.id),
            escape(&s.version),
            escape(&s.about)
        );
        if let Some(why) = &s.unavailable {
            let _ = writeln!(
                out,
                "<td colspan=\"{}\" class=\"unavailable\">unavailable: {}</td></tr>",
                VERDICTS.len() + 1,
                escape(why)
            );
            continue;
        }
        for o in VERDICTS {
            let n = s.totals.get(&o).copied().unwrap_or(0);
            let class = if n > 0 { o.name() } else { "zero" };
            let _ = write!(out, "<td class=\"num o-{class}\">{n}</td>");
        }
        let _ = writeln!(out, "<td class=\"num\">{}</td></tr>", seconds(s.wall_ms));
    }
    out.push_str(
        "</tbody>\n</table>\n<div class=\"matrix-wrap\">\n<table class=\"matrix\">\n\
         <thead><tr><th>requirement</th><th>level</th><th>summary</th>",
    );
    for s in &report.servers {
        let _ = write!(
            out,
            "<th class=\"impl\"><a href=\"#server-{0}\">{0}</a></th>",
            escape(&s.id)
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for req in report.server_requirements() {
        out.push_str("<tr>");
        requirement_head(out, req);
        for s in &report.servers {
            let cell = report.server_cell(&req.id, s);
            let (class, label) = match cell.outcome {
                Some(o) => (o.name(), o.name()),
                None if s.unavailable.is_some() => ("none", "not run"),
                None if req.server_checks.is_empty() => ("gap", "no check"),
                None => ("none", "-"),
            };
            let checks: Vec<String> = cell
                .cases
                .iter()
                .map(|(c, o)| format!("{c}: {}", o.name()))
                .collect();
            let _ = write!(
                out,
                "<td class=\"cell o-{class}\" title=\"{}\"><a href=\"#server-{}\">{label}</a></td>",
                escape(&checks.join("; ")),
                escape(&s.id)
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
    for s in &report.servers {
        let _ = writeln!(
            out,
            "<section class=\"impl\" id=\"server-{0}\">\n<h3>{0} <small>{1} · {2}</small></h3>",
            escape(&s.id),
            escape(&s.version),
            escape(&s.url)
        );
        if let Some(why) = &s.unavailable {
            let _ = writeln!(
                out,
                "<p class=\"unavailable\">unavailable: {}</p>",
                escape(why)
            );
        } else {
            out.push_str("<table class=\"problems\">\n<tbody>\n");
            for c in &s.checks {
                let _ = writeln!(
                    out,
                    "<tr><td class=\"case-id\">{}</td><td>{}</td><td><pre>{}</pre></td></tr>",
                    escape(&c.check),
                    badge(c.outcome),
                    // The verdict and id are in the row already: the text from its second line.
                    escape(
                        super::ServerReport::check_text(c)
                            .split_once('\n')
                            .map_or("", |(_, rest)| rest)
                            .trim_end()
                    )
                );
            }
            out.push_str("</tbody>\n</table>\n");
        }
        out.push_str("</section>\n");
    }
    out.push_str("</section>\n");
}

fn panels(out: &mut String, report: &RunReport, grid: &Grid) {
    out.push_str("<div id=\"panels\">\n");
    for (r, req) in report.requirements.iter().enumerate() {
        for (i, imp) in report.implementations.iter().enumerate() {
            if grid.shown[r][i].opens() {
                panel(out, report, req, imp, &grid.cells[r][i]);
            }
        }
    }
    out.push_str("</div>\n");
}

/// The detail of one non-pass cell: every case behind it that did not pass.
fn panel(
    out: &mut String,
    report: &RunReport,
    req: &RequirementInfo,
    imp: &ImplementationReport,
    cell: &Cell,
) {
    let outcome = cell.outcome.unwrap_or_default();
    let _ = writeln!(
        out,
        "<section class=\"panel\" id=\"{}\">\n<header><a class=\"close\" href=\"#{}\" \
         title=\"back to the matrix (Esc)\">× close</a>\n<h2>{} <span class=\"on\">on</span> {} {}</h2>\n\
         <p class=\"req-summary\">{} · {}</p>",
        panel_anchor(imp, &req.id),
        row_anchor(&req.id),
        escape(&req.id),
        escape(&imp.id),
        badge(outcome),
        req.level.as_str(),
        escape(&req.summary)
    );
    if let Some(note) = &req.ambiguity {
        let _ = writeln!(
            out,
            "<p class=\"ambiguity\"><span class=\"amb\">?</span> {}</p>",
            escape(note)
        );
    }
    out.push_str("</header>\n");
    for (id, _) in cell.cases.iter().filter(|(_, o)| *o != Outcome::Pass) {
        if let Some(case) = imp.cases.iter().find(|c| &c.case == id) {
            let _ = writeln!(
                out,
                "<article class=\"case\">\n<h3><a href=\"#{}\">{}</a> {} <small>{} ms</small></h3>\n\
                 <p class=\"about\">{}</p>",
                case_anchor(imp, &case.case),
                escape(&case.case),
                case_badge(report, case),
                case.wall_ms,
                escape(&case.about)
            );
            findings(out, &case.findings);
            out.push_str("</article>\n");
        }
    }
    out.push_str("</section>\n");
}

/// The detail of every case that did not pass, once per column.
fn case_panels(out: &mut String, report: &RunReport) {
    out.push_str("<div id=\"cases\">\n");
    for imp in &report.implementations {
        for case in imp.cases.iter().filter(|c| c.verdict != Outcome::Pass) {
            case_panel(out, report, imp, case);
        }
    }
    out.push_str("</div>\n");
}

fn case_panel(out: &mut String, report: &RunReport, imp: &ImplementationReport, c: &CaseReport) {
    let _ = writeln!(
        out,
        "<section class=\"panel case\" id=\"{}\">\n<header><a class=\"close\" href=\"#{}\" \
         title=\"back to what {} gets wrong (Esc)\">× close</a>\n<h2>{} <span class=\"on\">on</span> {} {} \
         <small>{} ms</small></h2>\n<p class=\"req-summary\">{}</p>\n</header>",
        case_anchor(imp, &c.case),
        impl_anchor(imp),
        escape(&imp.id),
        escape(&c.case),
        escape(&imp.id),
        case_badge(report, c),
        c.wall_ms,
        escape(&c.about)
    );
    findings(out, &c.findings);
    if let Some(d) = &c.divergence {
        divergence(out, d);
    }
    let stream = report.streams.iter().find(|s| s.case == c.case);
    if let Some(stream) = stream {
        stream::brief(out, stream, &stream_anchor(&stream.case));
        stream::messages(out, c);
    }
    if c.expected.is_empty() && c.observed.is_empty() {
        out.push_str("<p class=\"none\">No trace.</p>\n");
    } else {
        if stream.is_none() {
            out.push_str(&timeline::legend());
            timeline::draw(out, c);
        }
        traces(out, c);
    }
    out.push_str("</section>\n");
}

/// Each stream some column did not pass, its bytes and expected messages, once.
fn stream_panels(out: &mut String, report: &RunReport) {
    out.push_str("<div id=\"streams\">\n");
    for stream in &report.streams {
        let expected = report
            .implementations
            .iter()
            .flat_map(|i| &i.cases)
            .find(|c| c.case == stream.case);
        let _ = writeln!(
            out,
            "<section class=\"panel\" id=\"{}\">\n<header><a class=\"close\" href=\"#problems\" \
             title=\"back (Esc)\">× close</a>\n<h2>{}</h2>\n<p class=\"req-summary\">{}</p>\n</header>",
            stream_anchor(&stream.case),
            escape(&stream.case),
            escape(expected.map_or("", |c| c.about.as_str()))
        );
        stream::full(out, stream);
        if let Some(c) = expected {
            stream::expected(out, c);
        }
        out.push_str("</section>\n");
    }
    out.push_str("</div>\n");
}

fn findings(out: &mut String, findings: &[Finding]) {
    if findings.is_empty() {
        return;
    }
    out.push_str("<ul class=\"findings\">\n");
    for f in findings {
        let at = f.at.map_or_else(String::new, |at| {
            format!(" <span class=\"at\">at {} s</span>", time(at))
        });
        let requirements: Vec<String> = f
            .requirements
            .iter()
            .map(|r| format!("<a href=\"#{}\">{}</a>", row_anchor(r), escape(r)))
            .collect();
        let _ = writeln!(
            out,
            "<li>{}{at} {} <span class=\"reqs\">{}</span></li>",
            badge(f.outcome),
            escape(&f.message),
            requirements.join(" ")
        );
    }
    out.push_str("</ul>\n");
}

fn divergence(out: &mut String, d: &Divergence) {
    let line =
        |l: Option<usize>| l.map_or_else(|| "nothing".to_owned(), |l| format!("line {}", l + 1));
    let _ = writeln!(
        out,
        "<p class=\"divergence\">First divergence: expected {} <code>{}</code>, observed {} <code>{}</code></p>",
        line(d.expected_line),
        escape(&d.expected),
        line(d.observed_line),
        escape(&d.observed)
    );
}

/// The golden and the observed trace side by side, divergent lines highlighted.
fn traces(out: &mut String, c: &CaseReport) {
    let d = c.divergence.as_ref();
    let expected: Vec<(&str, String)> = c
        .expected
        .iter()
        .map(|l| (l.as_str(), String::new()))
        .collect();
    let observed: Vec<(&str, String)> = c
        .observed
        .iter()
        .map(|e| (e.text.as_str(), source_note(e.source)))
        .collect();
    out.push_str("<div class=\"traces\">\n");
    trace_column(
        out,
        "expected",
        "expected (golden)",
        &expected,
        d.and_then(|d| d.expected_line),
    );
    trace_column(
        out,
        "observed",
        "observed",
        &observed,
        d.and_then(|d| d.observed_line),
    );
    out.push_str("</div>\n");
}

fn source_note(source: Source) -> String {
    match source {
        Source::Client(i) => format!("client report {i}"),
        Source::Server(i) => format!("server log, request {i}"),
    }
}

/// One trace: lines (text, tooltip), the first [`MAX_TRACE_LINES`] of them.
fn trace_column(
    out: &mut String,
    class: &str,
    heading: &str,
    lines: &[(&str, String)],
    highlight: Option<usize>,
) {
    let _ = write!(
        out,
        "<div class=\"trace {class}\">\n<h4>{heading} <small>{} lines</small></h4>\n<ol>",
        lines.len()
    );
    for (n, (text, note)) in lines.iter().take(MAX_TRACE_LINES).enumerate() {
        let class = if Some(n) == highlight {
            " class=\"div\""
        } else {
            ""
        };
        let title = if note.is_empty() {
            String::new()
        } else {
            format!(" title=\"{}\"", escape(note))
        };
        let _ = write!(out, "<li{class}{title}>{}</li>", escape(text));
    }
    out.push_str("</ol>\n");
    if lines.is_empty() {
        out.push_str("<p class=\"none\">(nothing)</p>\n");
    }
    if lines.len() > MAX_TRACE_LINES {
        let _ = writeln!(
            out,
            "<p class=\"cut\">… {} more lines not shown (the first {MAX_TRACE_LINES} are).</p>",
            lines.len() - MAX_TRACE_LINES
        );
    }
    if let Some(h) = highlight.filter(|h| *h >= MAX_TRACE_LINES) {
        let _ = writeln!(
            out,
            "<p class=\"cut\">The divergent line {} is past the cut.</p>",
            h + 1
        );
    }
    out.push_str("</div>\n");
}

/// What the matrix colours mean.
const MATRIX_LEGEND: &str = "<ul class=\"legend\">\
<li><span class=\"chip o-pass\">pass</span> every case checking it passed</li>\
<li><span class=\"chip o-fail\">FAIL</span> a <em>must</em> (or a declared extension) broken</li>\
<li><span class=\"chip o-non-strict\">non-strict</span> a <em>should</em> broken, an allowed reading differs, or an implementation-defined or authoring row departs from the text (those are never FAIL)</li>\
<li><span class=\"chip o-informational\">info</span> an implementation-defined choice differs from the model's</li>\
<li><span class=\"chip o-unsupported\">unsupp.</span> lacks a capability the cases need</li>\
<li><span class=\"chip o-gap\">gap</span> no case checks the requirement</li>\
<li><span class=\"chip o-n-a\">n/a</span> binds servers or streams, not clients</li>\
<li><span class=\"chip o-none\">–</span> not run</li>\
<li><span class=\"amb\">?</span> the standard is ambiguous here (hover for our reading)</li>\
<li><small>n/m</small>: cases behind the cell that passed / all of them; click a coloured cell for its cases</li>\
</ul>\n";

/// The optional script (Escape closes an open panel) and the end of the page.
const PAGE_END: &str = "<script>\n\
document.addEventListener(\"keydown\", function (e) {\n\
  var close = document.querySelector(\".panel:target .close\");\n\
  if (e.key === \"Escape\" && close) { close.click(); }\n\
});\n\
</script>\n</body>\n</html>\n";

/// The page's only style sheet.
const STYLE: &str = include_str!("html/style.css");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_keep_only_safe_characters() {
        assert_eq!(anchor("d", &["model-sim", "A.B"]), "d.model-sim.A_2e_B");
        assert_eq!(anchor("r", &["x y\"<"]), "r.x_20_y_22__3c_");
        assert_ne!(anchor("d", &["a.b", "c"]), anchor("d", &["a", "b.c"]));
    }

    #[test]
    fn cells_without_outcome_are_not_applicable_gaps_or_not_run() {
        let mut req = RequirementInfo {
            id: "R".into(),
            level: sse_case::spec::Level::Must,
            summary: String::new(),
            url: String::new(),
            binds: vec!["server".into()],
            ambiguity: None,
            cases: Vec::new(),
            server_checks: Vec::new(),
        };
        let empty = Cell {
            outcome: None,
            cases: Vec::new(),
        };
        assert_eq!(Shown::of(&empty, &req).name(), "n-a");
        req.binds.push("client".into());
        assert_eq!(Shown::of(&empty, &req).name(), "gap");
        req.cases.push("some-case".into());
        assert_eq!(Shown::of(&empty, &req).name(), "none");
        let failed = Cell {
            outcome: Some(Outcome::Fail),
            cases: vec![("some-case".into(), Outcome::Fail)],
        };
        assert!(Shown::of(&failed, &req).opens());
    }
}
