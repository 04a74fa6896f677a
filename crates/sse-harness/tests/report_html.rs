//! The HTML report on a synthetic run (the real catalogue's requirements and cases; made-up
//! verdicts and traces with hostile strings in them): rendered, checked in Rust for escaping,
//! nesting and determinism, written to `target/report-test/index.html`, then opened in headless
//! Chromium (Debian's package, driven by playwright-core): per implementation, the matrix shows
//! as many cells of each outcome as `RunReport::cell` gives; opening a fail cell shows both
//! traces and a timeline; screenshots land next to the page.
//!
//! `scripts/test` installs Chromium and playwright-core and sets `SSE_REQUIRE_BROWSER=1`, so in
//! CI a missing browser fails the test. Run alone without them, the browser part says it skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::Deserialize;
use sse_harness::judge::{Divergence, Finding, Outcome, Source, TraceEntry};
use sse_harness::report::{CaseReport, ImplementationReport, RunReport, html};
use sse_harness::run::Transport;
use sse_harness::{Capability, Case, Catalogue, Identity};
use sse_model::TraceLine;
use sse_model::trace::quote;

/// Text that breaks a page if it is not escaped.
const HOSTILE: &str = "</script><b>x";
/// The column the browser opens a fail cell of.
const FAULTY: &str = "faulty-loopback";

/// Counts of `data-outcome` values per implementation column.
type Counts = BTreeMap<String, BTreeMap<String, usize>>;

fn case<'a>(catalogue: &'a Catalogue, id: &str) -> &'a Case {
    catalogue
        .case(id)
        .unwrap_or_else(|| panic!("no case {id} in the catalogue"))
}

fn golden(case: &Case) -> Vec<String> {
    case.golden
        .as_ref()
        .map(|t| t.to_string().lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// An observed line; requests come from the server's log, the rest from the client.
fn entry(at_ms: u64, text: String, index: usize) -> TraceEntry {
    let source = if text.contains(" request ") {
        Source::Server(index)
    } else {
        Source::Client(index)
    };
    TraceEntry {
        at: Duration::from_millis(at_ms),
        text,
        source,
    }
}

/// Observed entries for trace-format lines, each at the time it states.
fn observed(lines: &[String]) -> Vec<TraceEntry> {
    lines
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let at = text.parse::<TraceLine>().expect("a trace line").at;
            entry(u64::try_from(at.as_millis()).expect("ms"), text.clone(), i)
        })
        .collect()
}

fn finding(outcome: Outcome, requirements: &[&str], at_ms: Option<u64>, message: &str) -> Finding {
    Finding {
        outcome,
        requirements: requirements.iter().map(|r| (*r).to_owned()).collect(),
        at: at_ms.map(Duration::from_millis),
        message: message.to_owned(),
    }
}

fn case_report(
    case: &Case,
    verdict: Outcome,
    findings: Vec<Finding>,
    divergence: Option<Divergence>,
    observed: Vec<TraceEntry>,
) -> CaseReport {
    let detail = match findings.first() {
        Some(f) => format!("{verdict}: {}", f.message),
        None => verdict.to_string(),
    };
    CaseReport {
        case: case.id.clone(),
        about: case.about.clone(),
        requirements: case.checks.clone(),
        verdict,
        detail,
        findings,
        divergence,
        expected: golden(case),
        observed,
        wall_ms: 42,
        readings: Vec::new(),
        known: None,
    }
}

fn passing(case: &Case) -> CaseReport {
    case_report(
        case,
        Outcome::Pass,
        Vec::new(),
        None,
        observed(&golden(case)),
    )
}

/// Resumes too early, without Last-Event-ID, with a command, a hostile comment and a hostile
/// message in between.
fn early_resume(catalogue: &Catalogue) -> CaseReport {
    let case = case(catalogue, "demo-resumes-after-server-restart");
    let expected = golden(case);
    let mut seen = observed(&expected[..6]);
    let path = "/sse/1  accept=text/event-stream  last-event-id=-";
    for (at, text) in [
        (300, format!("0.300 request  GET {path}  not-received")),
        (321, "0.321 error    state=CONNECTING".to_owned()),
        (400, "0.400 command  restart".to_owned()),
        (
            450,
            format!("0.450 comment  {HOSTILE} \"quoted\" nul:\0 bell:\u{7}"),
        ),
        (500, format!("0.500 request  GET {path}")),
        (503, "0.503 open".to_owned()),
        (
            503,
            format!(
                "0.503 message  type=message  id=1  data={}",
                quote(&format!("{HOSTILE} \"q\" \0"))
            ),
        ),
    ] {
        let n = seen.len();
        seen.push(entry(at, text, n));
    }
    let divergence = Divergence {
        expected_line: Some(6),
        observed_line: Some(6),
        expected: expected[6].clone(),
        observed: seen[6].text.clone(),
    };
    let findings = vec![
        finding(
            Outcome::Fail,
            &["LAST-EVENT-ID-PERSISTS"],
            Some(300),
            &format!("the reconnection sent no Last-Event-ID (it saw {HOSTILE})"),
        ),
        finding(
            Outcome::Fail,
            &["RECONNECT-WAIT"],
            Some(300),
            "reconnected 50 ms after the error; the reconnection time is 200 ms",
        ),
    ];
    case_report(case, Outcome::Fail, findings, Some(divergence), seen)
}

/// Keeps reconnecting after a text/html response instead of failing the connection.
fn no_fail(catalogue: &Catalogue) -> CaseReport {
    let case = case(catalogue, "content-type-changes-on-reconnect");
    let expected = golden(case);
    let mut lines = expected[..5].to_vec();
    let path = "/cases/content-type-changes-on-reconnect  accept=text/event-stream";
    lines.extend([
        "0.306 error    state=CONNECTING".to_owned(),
        format!("0.606 request  GET {path}  last-event-id=1"),
        "0.609 error    state=CONNECTING".to_owned(),
    ]);
    let seen = observed(&lines);
    let divergence = Divergence {
        expected_line: Some(5),
        observed_line: Some(5),
        expected: expected[5].clone(),
        observed: lines[5].clone(),
    };
    let findings = vec![finding(
        Outcome::Fail,
        &["FAIL-NO-RECONNECT"],
        Some(306),
        "reconnected after a response with Content-Type text/html",
    )];
    case_report(case, Outcome::Fail, findings, Some(divergence), seen)
}

/// Keeps going long after the case ended: more lines than the page shows.
fn chatty(catalogue: &Catalogue) -> CaseReport {
    let case = case(catalogue, "retry-persists-across-connections");
    let mut lines = golden(case);
    let golden_len = lines.len();
    for n in 0..500u64 {
        let ms = 500 + n * 10;
        lines.push(format!(
            "{}.{:03} message  type=message  id={n}  data=\"extra\"",
            ms / 1000,
            ms % 1000
        ));
    }
    let seen = observed(&lines);
    let divergence = Divergence {
        expected_line: None,
        observed_line: Some(golden_len + 440),
        expected: "nothing more".to_owned(),
        observed: lines[golden_len + 440].clone(),
    };
    let findings = vec![finding(
        Outcome::NonStrict,
        &["RECONNECT-TIME-PERSISTS"],
        None,
        "500 events after the stream ended",
    )];
    case_report(case, Outcome::NonStrict, findings, Some(divergence), seen)
}

/// Waits 5 s instead of the model's 3 s: the implementation's choice.
fn slow_start(catalogue: &Catalogue) -> CaseReport {
    let case = case(catalogue, "initial-reconnection-time");
    let lines: Vec<String> = golden(case)
        .into_iter()
        .map(|l| {
            l.replacen("3.003 ", "5.003 ", 1)
                .replacen("3.006 ", "5.006 ", 1)
        })
        .collect();
    let findings = vec![finding(
        Outcome::Informational,
        &["IMPL-RECONNECT-INITIAL"],
        Some(5003),
        "initial reconnection time 5000 ms (the model's: 3000 ms)",
    )];
    case_report(
        case,
        Outcome::Informational,
        findings,
        None,
        observed(&lines),
    )
}

fn cannot_close(catalogue: &Catalogue) -> CaseReport {
    let case = case(catalogue, "close-while-waiting");
    let findings = vec![finding(
        Outcome::Unsupported,
        &case.checks.iter().map(String::as_str).collect::<Vec<_>>(),
        None,
        "cannot be closed by its user (capability close)",
    )];
    case_report(case, Outcome::Unsupported, findings, None, Vec::new())
}

/// A stream case whose NULs the client dropped.
fn drops_nul(catalogue: &Catalogue) -> CaseReport {
    let case = case(catalogue, "stream/nul-in-data@splits");
    let lines: Vec<String> = golden(case)
        .into_iter()
        .map(|l| l.replace("\\0", ""))
        .collect();
    let seen = observed(&lines);
    let expected = golden(case);
    let divergence = Divergence {
        expected_line: Some(2),
        observed_line: Some(2),
        expected: expected[2].clone(),
        observed: lines[2].clone(),
    };
    let findings = vec![finding(
        Outcome::Fail,
        &["PARSE-NUL"],
        Some(3),
        &format!("expected `{}`, observed `{}`", expected[2], lines[2]),
    )];
    case_report(case, Outcome::Fail, findings, Some(divergence), seen)
}

fn identity(name: &str, version: &str) -> Identity {
    Identity {
        name: name.to_owned(),
        version: version.to_owned(),
    }
}

/// The model passing everything, a faulty client with one case of each verdict (and some cases
/// not run), and a column that could not run.
fn synthetic_report(catalogue: &Catalogue) -> RunReport {
    let model = ImplementationReport::new(
        &identity("model", "0.1.0"),
        Transport::Simulated,
        Capability::everything().into_iter().collect(),
        catalogue.cases.iter().map(passing).collect(),
        Duration::from_millis(2345),
    );
    let special = [
        early_resume(catalogue),
        no_fail(catalogue),
        chatty(catalogue),
        slow_start(catalogue),
        cannot_close(catalogue),
        drops_nul(catalogue),
    ];
    let mut cases: Vec<CaseReport> = catalogue
        .cases
        .iter()
        .filter(|c| !special.iter().any(|s| s.case == c.id))
        .take(12)
        .map(passing)
        .collect();
    cases.extend(special);
    let faulty = ImplementationReport::new(
        &identity("faulty", &format!("1.0 \"beta\" {HOSTILE}")),
        Transport::Loopback,
        vec![Capability::OpenEvent, Capability::ReadyState],
        cases,
        Duration::from_millis(8765),
    );
    let ghost = ImplementationReport::unavailable(
        &identity("ghost", "?"),
        Transport::Loopback,
        format!("no browser at /nowhere ({HOSTILE})"),
    );
    RunReport::new(catalogue, vec![model, faulty, ghost])
}

/// What `RunReport::cell` says each matrix cell shows, counted per implementation.
fn expected_counts(report: &RunReport) -> Counts {
    let mut counts = Counts::new();
    for imp in &report.implementations {
        let per = counts.entry(imp.id.clone()).or_default();
        for req in &report.requirements {
            let name = match report.cell(&req.id, imp).outcome {
                Some(o) => o.name(),
                None if !req.binds_client() => "n-a",
                None if req.cases.is_empty() => "gap",
                None => "none",
            };
            *per.entry(name.to_owned()).or_default() += 1;
        }
    }
    counts
}

/// Every tag closed in order (text and attributes hold no raw `<` or `>` once escaped).
fn assert_nested(page: &str) {
    const VOID: [&str; 4] = ["meta", "input", "br", "img"];
    let mut open: Vec<&str> = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("an unclosed tag") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') || tag.ends_with('/') {
            continue;
        }
        let name = tag.split(|c: char| c.is_whitespace()).next().unwrap_or("");
        if let Some(closing) = name.strip_prefix('/') {
            let top = open.pop();
            assert_eq!(top, Some(closing), "</{closing}> closes {top:?}");
        } else if !VOID.contains(&name) {
            open.push(name);
        }
    }
    assert!(open.is_empty(), "never closed: {open:?}");
}

#[derive(Debug, Deserialize)]
struct Seen {
    counts: Counts,
    #[serde(rename = "panelsShownBefore")]
    panels_shown_before: usize,
    opened: Opened,
    #[serde(rename = "boldElements")]
    bold_elements: usize,
    #[serde(rename = "hostileShown")]
    hostile_shown: bool,
}

#[derive(Debug, Deserialize)]
struct Opened {
    requirement: String,
    /// Cases the cell's panel lists.
    listed: usize,
    visible: bool,
    expected: usize,
    observed: usize,
    svgs: usize,
    /// A stream case's messages side by side, and its bytes.
    messages: usize,
    bytes: usize,
    highlighted: usize,
}

#[test]
fn report_page_shows_the_matrix_and_opens_failures() {
    let catalogue = Catalogue::load_default().unwrap_or_else(|e| panic!("{e}"));
    let report = synthetic_report(&catalogue);
    let page = html::render(&report);

    assert!(page.starts_with("<!doctype html>"));
    assert_eq!(page, html::render(&report), "rendering is deterministic");
    assert!(
        !page.contains(HOSTILE) && !page.contains("<b>"),
        "raw hostile text"
    );
    assert!(
        !page.contains('\0') && !page.contains('\u{7}'),
        "raw control characters"
    );
    assert!(page.contains("&lt;/script&gt;&lt;b&gt;x"));
    assert_eq!(
        page.matches("<script").count(),
        1,
        "only the page's own script"
    );
    for fetch in [" src=", "<link", "@import", "url("] {
        assert!(!page.contains(fetch), "the page fetches nothing: {fetch}");
    }
    assert!(page.contains("more lines not shown"));
    // The stream case: its bytes with the NULs marked, once, and the messages side by side.
    assert_eq!(
        page.matches("<section class=\"panel\" id=\"s.").count(),
        1,
        "each failed stream is written once"
    );
    assert!(page.contains("<span class=\"m nul\""), "NULs are marked");
    assert!(
        page.contains("<span class=\"m eol\""),
        "line ends are marked"
    );
    assert!(page.contains("<table class=\"messages\">"));
    assert!(
        page.contains("<tr class=\"div\">"),
        "the first difference is marked"
    );
    // A passing case shows nothing: the model passes all, so none of its cases has a detail.
    assert!(
        !page.contains("id=\"c.model-sim."),
        "a passing case has no detail"
    );
    assert!(page.contains("past the cut"));
    assert_nested(&page);

    let dir = repository().join("target/report-test");
    std::fs::create_dir_all(&dir).expect("create target/report-test");
    let index = dir.join("index.html");
    std::fs::write(&index, &page).expect("write index.html");

    let expected = expected_counts(&report);
    assert!(expected[FAULTY].contains_key("fail"), "{expected:?}");
    let Some(seen) = browser(&index, &dir) else {
        return;
    };
    assert_eq!(
        seen.counts, expected,
        "cells per outcome and implementation"
    );
    assert_eq!(
        seen.panels_shown_before, 0,
        "panels stay closed until a cell opens one"
    );
    let o = &seen.opened;
    assert!(o.listed >= 1, "the fail cell lists its cases: {o:?}");
    assert!(o.visible, "the listed case opened its detail: {o:?}");
    assert!(
        o.expected >= 1 && o.expected == o.observed,
        "both traces: {o:?}"
    );
    // A timeline, or for a stream case its bytes and messages side by side.
    assert!(
        o.svgs >= o.expected || (o.messages >= 1 && o.bytes >= 1),
        "a timeline per case: {o:?}"
    );
    assert!(
        o.highlighted >= 2,
        "the divergent lines are highlighted: {o:?}"
    );
    assert!(
        report.requirements.iter().any(|r| r.id == o.requirement),
        "{o:?}"
    );
    assert_eq!(seen.bold_elements, 0, "hostile markup stayed text");
    assert!(seen.hostile_shown, "hostile text is shown as text");
}

/// Chromium and the installed playwright-core, or why they are missing.
fn tools() -> Result<(PathBuf, PathBuf), String> {
    let chromium = std::env::var_os("SSE_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if !chromium.exists() {
        return Err(format!("no Chromium at {}", chromium.display()));
    }
    let dir = std::env::var_os("SSE_BROWSER_TOOLS")
        .map_or_else(|| repository().join("target/browser-node"), PathBuf::from);
    if !dir.join("node_modules/playwright-core").exists() {
        return Err(format!("no playwright-core in {}", dir.display()));
    }
    Ok((chromium, dir))
}

/// What the page shows in Chromium, or `None` when the browser is missing (and not required).
fn browser(index: &Path, out: &Path) -> Option<Seen> {
    let (chromium, dir) = match tools() {
        Ok(t) => t,
        Err(why) if std::env::var_os("SSE_REQUIRE_BROWSER").is_none() => {
            eprintln!("SKIPPED the browser part of report_html: {why} (scripts/setup installs it)");
            return None;
        }
        Err(why) => panic!("SSE_REQUIRE_BROWSER is set but {why}"),
    };
    // Run the script from the source tree's current version, next to its node_modules.
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/report_html/check.mjs");
    std::fs::copy(&script, dir.join("report-check.mjs")).expect("copy check.mjs");
    let output = Command::new("node")
        .current_dir(&dir)
        .arg("report-check.mjs")
        .arg(index)
        .arg(&chromium)
        .arg(out)
        .arg(FAULTY)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "browser check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_str(stdout.trim()).expect("JSON from check.mjs"))
}

/// A column name, version and finding that try to become Markdown or HTML markup.
const EVIL_NAME: &str = "evil`<img src=x onerror=alert(1)>`";
const EVIL_VERSION: &str =
    "1.0 ``` | <script>alert(1)</script> _em_ [l](javascript:alert(1))\n# pwned";

fn hostile_report(catalogue: &Catalogue) -> RunReport {
    let mut failing = no_fail(catalogue);
    failing.detail = format!("fail: {EVIL_VERSION} ![i](http://127.0.0.1/x.png) ~~s~~");
    failing.findings[0].message = failing.detail.clone();
    let evil = ImplementationReport::new(
        &identity(EVIL_NAME, EVIL_VERSION),
        Transport::Loopback,
        vec![Capability::OpenEvent, Capability::ReadyState],
        vec![failing, early_resume(catalogue), drops_nul(catalogue)],
        Duration::from_millis(10),
    );
    let ghost = ImplementationReport::unavailable(
        &identity("ghost\u{1b}[2J", "?"),
        Transport::Loopback,
        format!("gone\r\n{EVIL_VERSION}"),
    );
    RunReport::new(catalogue, vec![evil, ghost])
}

/// summary.md, rendered as a code host renders it (CommonMark with tables and strikethrough),
/// holds no HTML, no link but the requirements' own, no image, no emphasis and no heading of its own:
/// what the implementation said is shown as text.
#[test]
fn summary_md_shows_hostile_text_as_text() {
    use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag};
    let catalogue = Catalogue::load_default().unwrap_or_else(|e| panic!("{e}"));
    let report = hostile_report(&catalogue);
    let md = report.markdown();
    let cited: Vec<&str> = report.requirements.iter().map(|r| r.url.as_str()).collect();
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut text = String::new();
    let mut headings = Vec::new();
    for event in Parser::new_ext(&md, options) {
        match event {
            Event::Html(h) | Event::InlineHtml(h) => panic!("raw HTML in summary.md: {h}"),
            Event::Start(Tag::Link { dest_url, .. }) => assert!(
                cited.contains(&dest_url.as_ref()),
                "a link to {dest_url}, which no requirement cites"
            ),
            Event::Start(Tag::Image { dest_url, .. }) => panic!("an image from {dest_url}"),
            Event::Start(tag @ (Tag::Emphasis | Tag::Strikethrough)) => {
                panic!("hostile text became {tag:?}")
            }
            Event::Start(Tag::Heading { level, .. }) => headings.push(level),
            Event::Text(t) | Event::Code(t) => text.push_str(&t),
            _ => {}
        }
    }
    assert_eq!(
        headings.iter().filter(|l| **l == HeadingLevel::H1).count(),
        1,
        "only the report's title is a top-level heading"
    );
    for shown in [
        "<img src=x onerror=alert(1)>",
        "<script>alert(1)</script>",
        "[l](javascript:alert(1))",
        "![i](http://127.0.0.1/x.png) ~~s~~",
    ] {
        assert!(text.contains(shown), "{shown:?} is not shown as text");
    }
}

/// junit.xml parses, and the hostile name and message come back exactly as written (less the
/// control characters XML cannot hold).
#[test]
fn junit_keeps_hostile_text_in_attributes_and_content() {
    let catalogue = Catalogue::load_default().unwrap_or_else(|e| panic!("{e}"));
    let report = hostile_report(&catalogue);
    let xml = report.junit();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("junit.xml: {e}"));
    let suite = doc
        .descendants()
        .find(|n| {
            n.has_tag_name("testsuite")
                && n.attribute("name") == Some(&report.implementations[0].id)
        })
        .expect("the hostile column's testsuite");
    let failure = suite
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .expect("a failure");
    assert!(
        failure
            .attribute("message")
            .is_some_and(|m| m.contains("<script>alert(1)</script>")),
        "{:?}",
        failure.attribute("message")
    );
    assert!(doc.descendants().all(|n| n.tag_name().name() != "script"));
}

/// The terminal lines of a hostile column move no cursor and forge no line.
#[test]
fn terminal_lines_show_control_characters_as_escapes() {
    let catalogue = Catalogue::load_default().unwrap_or_else(|e| panic!("{e}"));
    let report = hostile_report(&catalogue);
    for imp in &report.implementations {
        let line = imp.totals_line();
        assert!(!line.chars().any(char::is_control), "{line:?}");
        for c in &imp.cases {
            let text = sse_harness::report::explain(
                &c.findings,
                c.divergence.as_ref(),
                c.expected.iter().map(String::as_str),
                c.observed.iter().map(|e| e.text.as_str()),
            );
            assert!(
                !text.chars().any(|ch| ch.is_control() && ch != '\n'),
                "{text:?}"
            );
        }
    }
}

/// This repository (the report page's test writes under its `target/`).
fn repository() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
