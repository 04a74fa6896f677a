//! The harness's own costs (`cargo bench -p sse-harness --bench harness`), each against a named
//! peer measured in the same run; writes `target/harness-bench.json`:
//! - judging: deriving the expectation, judging a run and building its observed trace, per case,
//!   against the model's simulated run of the same case (what the harness wraps);
//! - the loopback catalogue: its wall time with 8 cases at once, against the real time its cases
//!   span one after the other (the sum of their durations) and against its own runs' wall time
//!   added up (the same runs one at a time).

// The bench's own helpers need no docs.
#![allow(missing_docs)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sse_harness::judge::{Context, Timing, judge, observed_trace};
use sse_harness::run::{Selection, Target, Transport, run_cases, simulated};
use sse_harness::{Capability, Catalogue, Expectation, ModelClient};

fn main() {
    // `cargo test` runs benches without `--bench`: do nothing there.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let catalogue = Catalogue::load(&root).expect("case catalogue");
    let cases = &catalogue.cases;
    let caps = Capability::everything();

    // The model's simulated runs, once each (the peer of the judging cost).
    let started = Instant::now();
    let runs: Vec<_> = cases
        .iter()
        .map(|c| {
            simulated(Arc::new(ModelClient::default()), c, c.seed, Duration::ZERO)
                .expect("case runs")
        })
        .collect();
    let simulate = started.elapsed();

    // Judging the same runs: fastest of 20 passes.
    let judging = (0..20)
        .map(|_| {
            let t = Instant::now();
            for (case, run) in cases.iter().zip(&runs) {
                let expectation = Expectation::of(case).expect("golden trace");
                let cx = Context {
                    catalogue: &catalogue,
                    capabilities: &caps,
                    timing: Timing::SIMULATED,
                    origins: &sse_harness::run::Origins::simulated(),
                };
                let verdict = judge(case, &expectation, run, cx);
                assert!(verdict.findings.is_empty(), "{}: {verdict:?}", case.id);
                std::hint::black_box(observed_trace(run));
            }
            t.elapsed()
        })
        .min()
        .unwrap_or_default();

    // The loopback catalogue, as `cargo xtask report` runs it.
    let target = Target::parse("model-loopback").expect("model-loopback");
    let selected = Selection::default().apply(&catalogue);
    let started = Instant::now();
    let column = run_cases(
        &catalogue,
        &target,
        &selected,
        sse_harness::evidence::Evidence::Abridged,
        &|_| {},
    );
    let loopback = started.elapsed();
    assert_eq!(column.transport, Transport::Loopback);
    let passed = column
        .cases
        .iter()
        .filter(|c| c.verdict == sse_harness::Outcome::Pass)
        .count();
    let serial: Duration = column
        .cases
        .iter()
        .map(|c| Duration::from_millis(c.wall_ms))
        .sum();
    let spanned: Duration = cases.iter().map(sse_harness::Case::duration).sum();

    let n = cases.len() as f64;
    println!(
        "judging: {:.1} us per case; the model's simulated run: {:.2} ms per case ({:.1}% of it)",
        judging.as_secs_f64() * 1e6 / n,
        simulate.as_secs_f64() * 1e3 / n,
        100.0 * judging.as_secs_f64() / simulate.as_secs_f64()
    );
    println!(
        "loopback catalogue: {:.1} s wall, {passed}/{} pass, {:.1} s of runs one at a time, {:.1} s of case durations",
        loopback.as_secs_f64(),
        cases.len(),
        serial.as_secs_f64(),
        spanned.as_secs_f64()
    );
    let json = serde_json::json!({
        "cases": cases.len(),
        "judge_secs": judging.as_secs_f64(),
        "simulate_secs": simulate.as_secs_f64(),
        "loopback_wall_secs": loopback.as_secs_f64(),
        "loopback_concurrency": target.concurrency(),
        "loopback_passed": passed,
        "loopback_serial_secs": serial.as_secs_f64(),
        "case_durations_secs": spanned.as_secs_f64(),
    });
    let path = root.join("target/harness-bench.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json).expect("json"))
        .expect("write results");
    println!("wrote {}", path.display());
}
