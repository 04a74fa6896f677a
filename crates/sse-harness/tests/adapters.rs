//! The adapters of `adapters/` end to end: each is set up from its registry at its pinned
//! version, started, and run through a few cases over the test-service protocol, with verdicts
//! that show both sides: a case the library gets right passes, and a case it gets wrong fails
//! on the requirement `docs/findings.md` names for it.
//!
//! `scripts/test` sets `SSE_REQUIRE_ADAPTERS=1` in CI, so an adapter that cannot be set up
//! (no Node.js, no Python, no registry) fails the test; run alone without them, it skips.

use std::sync::Arc;

use sse_harness::judge::Outcome;
use sse_harness::run::{Transport, adapters_dir, execute};
use sse_harness::service::Service;
use sse_harness::{Catalogue, Client};

fn adapter(name: &str) -> Option<Arc<dyn Client>> {
    match Service::adapter(&adapters_dir().join(name)) {
        Ok(s) => Some(Arc::new(s)),
        Err(why) if std::env::var_os("SSE_REQUIRE_ADAPTERS").is_some() => {
            panic!("SSE_REQUIRE_ADAPTERS is set but {name} cannot run: {why}")
        }
        Err(why) => {
            eprintln!("skipped {name}: {why}");
            None
        }
    }
}

/// Runs `case` on `client`; asserts the outcome and, for a failure, the requirement it names.
fn expect(catalogue: &Catalogue, client: &Arc<dyn Client>, case: &str, outcome: Outcome, id: &str) {
    let c = catalogue.case(case).expect("case exists");
    let result = execute(catalogue, client.clone(), c, Transport::Loopback);
    let v = &result.verdict;
    assert_eq!(v.outcome, outcome, "{case}: {}", v.summary());
    if outcome == Outcome::Fail {
        assert!(
            v.findings
                .iter()
                .any(|f| f.outcome == Outcome::Fail && f.requirements.iter().any(|r| r == id)),
            "{case}: no failure names {id}: {}",
            v.summary()
        );
    }
}

/// Sets up and starts adapter `name`, checks the library version it reports, and runs a case
/// it gets right (pass) and one it gets wrong (a fail naming `broken`).
fn through_adapter(name: &str, version: &str, right: &str, wrong: &str, broken: &str) {
    let Some(client) = adapter(name) else {
        return;
    };
    assert_eq!(client.identity().name, name);
    assert_eq!(client.identity().version, version);
    let catalogue = Catalogue::load_default().unwrap_or_else(|e| panic!("{e}"));
    expect(&catalogue, &client, right, Outcome::Pass, "");
    expect(&catalogue, &client, wrong, Outcome::Fail, broken);
}

#[test]
fn npm_eventsource_through_its_adapter() {
    // Its parser drops an id-only block (findings: npm eventsource, DISPATCH-ID-WITHOUT-DATA).
    through_adapter(
        "node-eventsource",
        "4.1.1",
        "announce-open-dispatch",
        "id-only-block-sets-the-header",
        "DISPATCH-ID-WITHOUT-DATA",
    );
}

#[test]
fn httpx_sse_through_its_adapter() {
    // A stream parser (no reconnection: those cases are unsupported for it) that never checks
    // the status (findings: httpx-sse, row 2).
    through_adapter(
        "python-httpx-sse",
        "0.4.3",
        "announce-open-dispatch",
        "status-404-fails",
        "CONN-STATUS-NON-200",
    );
}
