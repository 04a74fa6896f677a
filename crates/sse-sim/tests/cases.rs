//! Every case of `fixtures/cases/` in the simulator: its trace against its insta snapshot in
//! `fixtures/snapshots/cases/`, a second run with the same seed that must give the same trace
//! byte for byte, and the headers of every request it made. A failure prints the case, the seed
//! and the diff.

use std::path::{Path, PathBuf};
use std::time::Instant;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What every request of every case must carry, whatever the trace shows.
// spec: REQ-NO-CACHE REQ-ACCEPT RECONNECT-SAME-REQUEST
fn request_is_well_formed(r: &sse_model::Request) -> Result<(), String> {
    for (name, value) in [
        ("accept", "text/event-stream"),
        ("cache-control", "no-cache"),
        ("pragma", "no-cache"),
    ] {
        if r.header(name) != Some(value) {
            return Err(format!("lacks {name}: {value}"));
        }
    }
    Ok(())
}

#[test]
fn every_case_matches_its_snapshot_and_is_deterministic() {
    let cases = sse_sim::load_dir(&root().join("fixtures/cases")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        cases.len() >= 60,
        "expected 60 or more cases, found {}",
        cases.len()
    );
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut requests = 0;
    for case in &cases {
        let outcome = sse_sim::run(case, case.seed).unwrap_or_else(|e| panic!("{e}"));
        requests += outcome.requests.len();
        for r in &outcome.requests {
            if let Err(why) = request_is_well_formed(r) {
                failures.push(format!("{}: request to {} {why}", case.id, r.url));
            }
        }
        let first = outcome.trace.to_string();
        let second = sse_sim::run(case, case.seed)
            .unwrap_or_else(|e| panic!("{e}"))
            .trace
            .to_string();
        if first != second {
            let diff = similar::TextDiff::from_lines(&first, &second)
                .unified_diff()
                .header("first run", "second run")
                .to_string();
            failures.push(format!(
                "{} (seed {}) is not deterministic:\n{diff}",
                case.id, case.seed
            ));
            continue;
        }
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(root().join("fixtures/snapshots/cases"));
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.set_description(format!(
            "{}\nchecks: {}\nseed: {}",
            case.about,
            case.checks.join(" "),
            case.seed
        ));
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            settings.bind(|| insta::assert_snapshot!(case.id.as_str(), first));
        }));
        if result.is_err() {
            failures.push(format!(
                "{} (seed {}) does not match its snapshot (diff above)",
                case.id, case.seed
            ));
        }
    }
    eprintln!(
        "{} cases, each run twice, in {:.2?}; {requests} requests checked",
        cases.len(),
        started.elapsed()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
