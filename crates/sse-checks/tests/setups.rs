//! Server set-ups (`servers/setups.toml`) as report columns: the reference server in process,
//! real proxies and the article's Python server started by their own scripts, set-ups that
//! cannot start becoming `unavailable` with their reason, and the server columns in every report
//! format.
//!
//! `scripts/test` sets `SSE_REQUIRE_PROXIES` (nginx must be installed) and
//! `SSE_REQUIRE_ADAPTERS` (Python with pip must install the Starlette server) in CI.

use std::path::{Path, PathBuf};

use sse_case::Catalogue;
use sse_checks::server_check::{self, ServerCheck};
use sse_checks::setups::check;
use sse_checks::setups::{self, Setup};
use sse_judge::judge::Outcome;
use sse_report::{RunReport, ServerReport};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn checks(ids: &[&str]) -> Vec<ServerCheck> {
    let catalogue = Catalogue::load_default().unwrap_or_else(|e| panic!("{e}"));
    let all = server_check::load_default(&catalogue).unwrap_or_else(|e| panic!("{e}"));
    let picked: Vec<ServerCheck> = all
        .into_iter()
        .filter(|c| ids.contains(&c.id.as_str()))
        .collect();
    assert_eq!(picked.len(), ids.len(), "every check exists");
    picked
}

fn setup(id: &str) -> Setup {
    setups::load_default(&root())
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("set-up {id}"))
}

fn verdict(column: &ServerReport, check: &str) -> Outcome {
    column
        .checks
        .iter()
        .find(|c| c.check == check)
        .map(|c| c.outcome)
        .unwrap_or_else(|| panic!("no {check} in {column:#?}"))
}

/// Whether a set-up's tool is here; where CI requires it (`var`), it must be.
fn available(column: &ServerReport, var: &str) -> bool {
    match &column.unavailable {
        None => true,
        Some(why) => {
            assert!(
                std::env::var_os(var).is_none(),
                "{var} is set but {} is unavailable: {why}",
                column.id
            );
            eprintln!("skipped: {}: {why}", column.id);
            false
        }
    }
}

const QUICK: &[&str] = &[
    "head-is-an-event-stream",
    "format-utf8-and-line-ends",
    "resume-after-last-event-id",
    "ended-stream-answers-204",
    "delivery-prompt-gzip",
];

// spec: SERVER-RESUME SERVER-204-STOP SERVER-NO-BUFFERING
#[test]
fn the_reference_set_up_passes_its_checks_and_fills_every_report_format() {
    let checks = checks(QUICK);
    let column = check(&root(), &setup("reference"), &checks);
    assert!(column.unavailable.is_none(), "{column:#?}");
    assert!(
        column.version.starts_with("sse-server "),
        "{}",
        column.version
    );
    for c in &column.checks {
        assert_eq!(c.outcome, Outcome::Pass, "{}", ServerReport::check_text(c));
    }
    let catalogue = Catalogue::load_default().unwrap_or_else(|e| panic!("{e}"));
    let mut report = RunReport::new(&catalogue, Vec::new());
    report.add_servers(&checks, vec![column]);
    let resume = report
        .requirements
        .iter()
        .find(|r| r.id == "SERVER-RESUME")
        .expect("requirement");
    assert_eq!(resume.server_checks, ["resume-after-last-event-id"]);
    let cell = report.server_cell("SERVER-RESUME", &report.servers[0]);
    assert_eq!(cell.outcome, Some(Outcome::Pass));
    let markdown = report.markdown();
    assert!(markdown.contains("## Servers and proxies"), "{markdown}");
    assert!(!markdown.contains("## Implementations"), "{markdown}");
    assert!(report.junit().contains("classname=\"server:reference\""));
    let html = sse_report::html::render(&report);
    assert!(html.contains("id=\"server-reference\""));
    let json = serde_json::to_string(&report).expect("json");
    let back: RunReport = serde_json::from_str(&json).expect("reads back");
    assert_eq!(back.servers[0].checks, report.servers[0].checks);
    assert!(!report.failed());
}

#[test]
fn a_set_up_that_cannot_install_or_start_is_unavailable_with_its_reason() {
    let checks = checks(&["head-is-an-event-stream"]);
    let mut broken = setup("reference");
    broken.id = "broken".into();
    broken.command = vec![
        "sh".into(),
        "-c".into(),
        "echo no such server >&2; exit 3".into(),
    ];
    let column = check(&root(), &broken, &checks);
    let why = column.unavailable.as_deref().expect("unavailable");
    assert!(
        why.contains("exited") && why.contains("no such server"),
        "{why}"
    );
    broken.command.clear();
    broken.setup = vec![
        "sh".into(),
        "-c".into(),
        "echo toolchain missing >&2; exit 1".into(),
    ];
    let column = check(&root(), &broken, &checks);
    let why = column.unavailable.as_deref().expect("unavailable");
    assert!(
        why.contains("set-up failed") && why.contains("toolchain missing"),
        "{why}"
    );
    // A column that could not run fails nothing.
    let catalogue = Catalogue::load_default().unwrap_or_else(|e| panic!("{e}"));
    let mut report = RunReport::new(&catalogue, Vec::new());
    report.add_servers(&checks, vec![column]);
    assert!(!report.failed());
    assert!(report.markdown().contains("unavailable: set-up failed"));
}

// spec: SERVER-NO-BUFFERING
#[test]
fn nginx_set_ups_buffering_on_fails_delivery_and_off_passes() {
    let checks = checks(&["delivery-prompt"]);
    let on = check(&root(), &setup("nginx-buffering-on"), &checks);
    if !available(&on, "SSE_REQUIRE_PROXIES") {
        return;
    }
    assert!(on.version.starts_with("nginx 1."), "{}", on.version);
    assert_eq!(verdict(&on, "delivery-prompt"), Outcome::Fail, "{on:#?}");
    let off = check(&root(), &setup("nginx-buffering-off"), &checks);
    assert_eq!(verdict(&off, "delivery-prompt"), Outcome::Pass, "{off:#?}");
}

// spec: SERVER-NO-BUFFERING
#[test]
fn caddy_compresses_a_padded_stream_without_a_flush_and_a_type_list_fixes_it() {
    let checks = checks(&["delivery-prompt-gzip", "delivery-prompt-zstd"]);
    let padded = check(&root(), &setup("caddy-padded"), &checks);
    if !available(&padded, "SSE_REQUIRE_PROXIES") {
        return;
    }
    for id in ["delivery-prompt-gzip", "delivery-prompt-zstd"] {
        assert_eq!(verdict(&padded, id), Outcome::Fail, "{padded:#?}");
    }
    let fixed = check(&root(), &setup("caddy-padded-sse-safe"), &checks);
    for id in ["delivery-prompt-gzip", "delivery-prompt-zstd"] {
        assert_eq!(verdict(&fixed, id), Outcome::Pass, "{fixed:#?}");
    }
}

// spec: SERVER-NO-CACHE SERVER-RESUME SERVER-NO-BUFFERING
#[test]
fn the_article_s_starlette_server_resumes_and_delivers_but_sends_no_cache_control() {
    let checks = checks(&[
        "head-is-an-event-stream",
        "resume-after-last-event-id",
        "delivery-prompt",
    ]);
    let column = check(&root(), &setup("starlette"), &checks);
    if !available(&column, "SSE_REQUIRE_ADAPTERS") {
        return;
    }
    assert!(
        column.version.starts_with("starlette "),
        "{}",
        column.version
    );
    assert_eq!(
        verdict(&column, "head-is-an-event-stream"),
        Outcome::NonStrict
    );
    assert_eq!(
        verdict(&column, "resume-after-last-event-id"),
        Outcome::Pass
    );
    assert_eq!(verdict(&column, "delivery-prompt"), Outcome::Pass);
}
