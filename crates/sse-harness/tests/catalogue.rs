//! The case catalogue as tests (`harness = false`, see `sse_harness::mimic`): for every case,
//! the model in the simulator against its golden trace (`golden::CASE`: the insta snapshot in
//! `fixtures/snapshots/cases/`, and a second run with the same seed that must match byte for
//! byte), and the model judged like any implementation in the simulator and over loopback
//! (`model::sim::CASE`, `model::loopback::CASE`). `cargo test -p sse-harness -- --list` lists
//! them; `cargo test -p sse-harness -- CASE` runs one case everywhere.

use libtest_mimic::{Failed, Trial};
use sse_harness::expect::Reading;
use sse_harness::mimic::Suite;
use sse_harness::run::{Transport, golden_trace};
use sse_harness::{Case, ModelClient};

/// The model's own trace of a case in the simulator (its requests as it meant to send them),
/// under the literal text or another reading of an ambiguous one.
fn golden_run(case: &Case, readings: &[Reading]) -> Result<String, Failed> {
    golden_trace(case, case.seed, readings)
        .map(|t| t.to_string())
        .map_err(|e| Failed::from(e.to_string()))
}

fn golden(case: Case, snapshots: std::path::PathBuf) -> Trial {
    Trial::test(format!("golden::{}", case.id), move || {
        let first = golden_run(&case, &[])?;
        let second = golden_run(&case, &[])?;
        if first != second {
            let diff = similar::TextDiff::from_lines(&first, &second)
                .unified_diff()
                .header("first run", "second run")
                .to_string();
            return Err(format!(
                "{} (seed {}) is not deterministic:\n{diff}",
                case.id, case.seed
            )
            .into());
        }
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(snapshots.clone());
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.set_description(format!(
            "{}\nchecks: {}\nseed: {}",
            case.about,
            case.checks.join(" "),
            case.seed
        ));
        settings.bind(|| insta::assert_snapshot!(case.id.as_str(), first.clone()));
        // Other readings of ambiguous texts (and their combinations): a golden trace of their
        // own wherever they show something no earlier one does.
        let mut shown = vec![first];
        for readings in Reading::combinations() {
            let name = format!("{}@{}", case.id, Reading::names(&readings));
            let alternative = golden_run(&case, &readings)?;
            if shown.contains(&alternative) {
                if snapshots.join(format!("{name}.snap")).exists() {
                    return Err(format!(
                        "{name}.snap is stale: the case shows nothing new under {}; delete it",
                        Reading::names(&readings)
                    )
                    .into());
                }
                continue;
            }
            let mut settings = settings.clone();
            settings.set_description(format!(
                "{}\nchecks: {}\nseed: {}\nreadings: {} (ambiguous: {}; a client following them passes)",
                case.about,
                case.checks.join(" "),
                case.seed,
                Reading::names(&readings),
                readings
                    .iter()
                    .map(|r| r.requirement())
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
            settings.bind(|| insta::assert_snapshot!(name.as_str(), alternative.clone()));
            shown.push(alternative);
        }
        Ok(())
    })
}

// Every judged trial also holds each request the server received to the rules every request
// must keep (judge::request_rules), whatever its case checks:
// spec: REQ-NO-CACHE REQ-ACCEPT RECONNECT-SAME-REQUEST
fn main() {
    let suite = Suite::load().unwrap_or_else(|e| panic!("{e}"));
    let catalogue = suite.catalogue().clone();
    assert!(
        catalogue.cases.len() >= 60,
        "expected 60 or more cases, found {}",
        catalogue.cases.len()
    );
    let snapshots = catalogue.root.join("fixtures/snapshots/cases");
    // The spec model must pass every case outright: not even an informational finding.
    let mut suite = suite.require_pass().client(
        ModelClient::default(),
        &[Transport::Simulated, Transport::Loopback],
    );
    for case in &catalogue.cases {
        suite = suite.trial(golden(case.clone(), snapshots.clone()));
    }
    suite.main();
}
