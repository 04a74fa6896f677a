//! The chaos property over 1,000 seeded fault schedules (see `sse_sim::chaos`): every event the
//! server accepted reaches the model client exactly once, in order. A schedule that breaks it is
//! saved to `target/chaos/chaos-SEED.toml` (never into the catalogue, where it would change the
//! next run) and the test fails naming it.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use sse_harness::chaos;

const SCHEDULES: u64 = 1_000;

#[test]
fn every_accepted_event_arrives_exactly_once_in_order() {
    let started = Instant::now();
    let events = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4) as u64;
    let violations: Vec<chaos::Violation> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let events = &events;
                scope.spawn(move || {
                    let mut bad = Vec::new();
                    for seed in (t..SCHEDULES).step_by(threads as usize) {
                        match chaos::check(&chaos::schedule(seed)) {
                            Ok(n) => {
                                events.fetch_add(n, Ordering::Relaxed);
                            }
                            Err(v) => bad.push(v),
                        }
                    }
                    bad
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("chaos thread"))
            .collect()
    });
    eprintln!(
        "chaos: {SCHEDULES} schedules, {} events checked exactly-once, {} violations, in {:.2?}",
        events.load(Ordering::Relaxed),
        violations.len(),
        started.elapsed()
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/chaos");
    let mut report = Vec::new();
    for v in &violations {
        let saved = chaos::save(&chaos::schedule(v.seed), &dir)
            .map_or_else(|e| format!("(not saved: {e})"), |p| p.display().to_string());
        report.push(format!(
            "seed {} -> {saved}\n  accepted: {:?}\n  received: {:?}",
            v.seed, v.accepted, v.received
        ));
    }
    assert!(
        violations.is_empty(),
        "exactly-once delivery broken:\n{}",
        report.join("\n")
    );
}
