//! The case catalogue as tests (`harness = false`, see `sse_harness::mimic`): for every case,
//! the model in the simulator against its golden trace (`golden::CASE`: the insta snapshot in
//! `fixtures/snapshots/cases/`, and a second run with the same seed that must match byte for
//! byte), and the model judged like any implementation in the simulator and over loopback
//! (`model::sim::CASE`, `model::loopback::CASE`). `cargo test -p sse-harness -- --list` lists
//! them; `cargo test -p sse-harness -- CASE` runs one case everywhere.

use libtest_mimic::{Failed, Trial};
use sse_harness::mimic::Suite;
use sse_harness::reading::Reading;
use sse_harness::run::{Transport, golden_trace};
use sse_harness::{Case, ModelClient};

/// The model's own trace of a case in the simulator (its requests as it meant to send them),
/// under the literal text or another reading of an ambiguous one.
fn golden_run(case: &Case, readings: &[Reading]) -> Result<String, Failed> {
    golden_trace(case, case.seed, readings)
        .map(|t| t.to_string())
        .map_err(|e| Failed::from(e.to_string()))
}

/// A stream case's golden trace is built from its fixture's reviewed snapshot, not from a
/// snapshot of its own: the model in the simulator must make exactly its observations (times are
/// the simulator's, a few milliseconds of latency later).
fn golden_stream(case: Case) -> Trial {
    Trial::test(format!("golden::{}", case.id), move || {
        let model = golden_trace(&case, case.seed, &[]).map_err(|e| Failed::from(e.to_string()))?;
        let golden = case
            .golden
            .clone()
            .ok_or_else(|| Failed::from("no golden trace"))?;
        let what = |t: &sse_model::Trace| -> Vec<sse_model::Observation> {
            t.lines.iter().map(|l| l.what.clone()).collect()
        };
        let (model_what, golden_what) = (what(&model), what(&golden));
        // A golden trace that ends with the reconnection leaves out its 204, which ends the
        // client for good: what follows the reconnection is other cases' business.
        let after_204 = [sse_model::Observation::Page(sse_model::PageEvent::error(
            sse_model::ReadyState::Closed,
        ))];
        let ends_reconnecting = matches!(
            golden_what.last(),
            Some(sse_model::Observation::Request { .. })
        );
        let same = model_what == golden_what
            || (ends_reconnecting
                && model_what.starts_with(&golden_what)
                && model_what[golden_what.len()..] == after_204);
        if !same {
            let diff = similar::TextDiff::from_lines(&golden.to_string(), &model.to_string())
                .unified_diff()
                .header("golden (from the fixture)", "the model in the simulator")
                .to_string();
            return Err(format!("{}: the model does otherwise:\n{diff}", case.id).into());
        }
        Ok(())
    })
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
/// Every snapshot under `fixtures/` names, as its `source`, a test file that exists (the one
/// that writes it), so a reviewer can find how it was made.
fn snapshot_sources(root: std::path::PathBuf) -> Trial {
    Trial::test("snapshots::name-existing-sources", move || {
        let mut stale = Vec::new();
        for dir in ["fixtures/snapshots/cases", "fixtures/streams/snapshots"] {
            let entries = std::fs::read_dir(root.join(dir)).map_err(|e| format!("{dir}: {e}"))?;
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_none_or(|e| e != "snap") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
                match text.lines().find_map(|l| l.strip_prefix("source: ")) {
                    Some(source) if root.join(source.trim()).is_file() => {}
                    other => stale.push(format!("{}: source {other:?}", path.display())),
                }
            }
        }
        if stale.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} snapshots name no existing source (regenerate them with INSTA_FORCE_UPDATE=1):\n{}",
                stale.len(),
                stale.join("\n")
            )
            .into())
        }
    })
}

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
    suite = suite.trial(snapshot_sources(catalogue.root.clone()));
    for case in &catalogue.cases {
        suite = suite.trial(match case.stream {
            Some(_) => golden_stream(case.clone()),
            None => golden(case.clone(), snapshots.clone()),
        });
    }
    suite.main();
}
