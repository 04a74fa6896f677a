//! The browser runner on real browsers (Debian's Chromium and Firefox ESR): a few cases whose
//! verdict does not depend on what the browser gets wrong, so each shows one part of the runner
//! working. The page loads from the case server and reports open, messages and errors with
//! readyState; `close()` reaches it; a page on another origin meets CORS, the Origin header is
//! the page's (or `null` after a tainting redirect), and events report their final origin.
//!
//! `scripts/test` installs both browsers and sets `SSE_REQUIRE_BROWSER=1`, so in CI a missing
//! browser fails the test. Run alone without a browser, it says it skipped.

use std::sync::Arc;

use sse_harness::browser::{Browser, Kind};
use sse_harness::judge::Outcome;
use sse_harness::run::{Transport, execute};
use sse_harness::{Catalogue, Client};

/// One browser test at a time: a few browsers at once on a small machine delay a page's events
/// past the times the timed cases (close-while-open) hold them to.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn browser(kind: Kind) -> Option<Browser> {
    match Browser::find(kind) {
        Ok(b) => Some(b),
        Err(why) if std::env::var_os("SSE_REQUIRE_BROWSER").is_some() => {
            panic!("SSE_REQUIRE_BROWSER is set but {why}")
        }
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

/// Runs `cases` on the browser and asserts each passes.
fn passes(kind: Kind, cases: &[&str]) {
    let _alone = one_at_a_time();
    let Some(browser) = browser(kind) else { return };
    assert_eq!(browser.identity().name, kind.name());
    let catalogue = Catalogue::load_default().unwrap_or_else(|e| panic!("{e}"));
    let client: Arc<dyn Client> = Arc::new(browser);
    for id in cases {
        let case = catalogue.case(id).expect("case exists");
        let result = execute(&catalogue, client.clone(), case, Transport::Loopback);
        assert_eq!(
            result.verdict.outcome,
            Outcome::Pass,
            "{}: {id}: {}",
            kind.name(),
            result.verdict.summary()
        );
    }
}

#[test]
fn chromium_runs_cases_through_its_own_eventsource() {
    passes(
        Kind::Chromium,
        &[
            // open, messages, lastEventId, a reconnection with Last-Event-ID
            "last-event-id-persists-across-connections",
            // close() from the harness, at a time
            "close-while-open",
            // a page on {page-origin}, a redirect across origins, Origin: null, event origins
            "cors-redirect-taints-origin-null",
            // the CORS check failing: error with readyState CLOSED
            "cors-redirect-response-needs-allow-origin",
            // the user agent aborting (window.stop()) while the response is pending
            "user-agent-abort-while-pending-fails",
        ],
    );
}

#[test]
fn firefox_runs_cases_through_its_own_eventsource() {
    passes(
        Kind::Firefox,
        &[
            // open, messages of several types, in order
            "announce-open-dispatch",
            // close() from the harness reaches the page; nothing follows
            "close-while-open",
            // a page on {page-origin}: the CORS check failing is an error with readyState CLOSED
            "cors-redirect-response-needs-allow-origin",
        ],
    );
}

/// Six EventSources opened by the case's own page take the six connections Chromium allows an
/// origin over HTTP/1.1: the seventh is held back, the user agent's choice (informational). A
/// page that did not open the companions would pass.
#[test]
fn chromium_holds_back_a_seventh_stream_to_one_origin() {
    let _alone = one_at_a_time();
    let Some(browser) = browser(Kind::Chromium) else {
        return;
    };
    let catalogue = Catalogue::load_default().unwrap_or_else(|e| panic!("{e}"));
    let case = catalogue
        .case("seven-streams-one-origin")
        .expect("case exists");
    let result = execute(&catalogue, Arc::new(browser), case, Transport::Loopback);
    assert_eq!(
        result.verdict.outcome,
        Outcome::Informational,
        "{}",
        result.verdict.summary()
    );
    assert!(
        result
            .verdict
            .findings
            .iter()
            .all(|f| f.requirements == ["IMPL-CONNECTIONS-PER-ORIGIN"]),
        "{:#?}",
        result.verdict.findings
    );
}

/// Stream cases run one after another in a browser kept running (one per worker), each page
/// navigating to the next case's: judged like any other case, without a browser start each.
fn stream_cases_share_a_browser(kind: Kind) {
    let _alone = one_at_a_time();
    let Some(browser) = browser(kind) else { return };
    let catalogue = Catalogue::load_default().unwrap_or_else(|e| panic!("{e}"));
    let target = sse_harness::run::Target {
        client: Arc::new(browser.clone()),
        transport: Transport::Loopback,
    };
    let cases: Vec<&sse_harness::Case> = catalogue
        .cases
        .iter()
        .filter(|c| c.id.starts_with("stream/wpt-field-") && !c.id.contains("null"))
        .collect();
    assert!(cases.len() >= 12, "{} cases", cases.len());
    let report = sse_harness::run::run_cases(
        &catalogue,
        &target,
        &cases,
        sse_harness::evidence::Evidence::Abridged,
        &|_| {},
    );
    for c in &report.cases {
        assert_eq!(
            c.verdict,
            Outcome::Pass,
            "{}: {}: {}",
            kind.name(),
            c.case,
            c.detail
        );
    }
    let launched = browser.launches();
    assert!(
        launched <= target.concurrency(),
        "{} browsers started for {} stream cases",
        launched,
        cases.len()
    );
}

#[test]
fn chromium_runs_stream_cases_in_a_kept_browser() {
    stream_cases_share_a_browser(Kind::Chromium);
}

#[test]
fn firefox_runs_stream_cases_in_a_kept_browser() {
    stream_cases_share_a_browser(Kind::Firefox);
}
