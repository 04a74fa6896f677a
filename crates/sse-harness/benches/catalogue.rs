//! Wall time of the whole case catalogue and of the chaos property in simulated time
//! (`cargo bench -p sse-harness --bench catalogue`), against the real time the same runs would
//! take on a network: the sum of their simulated durations. Writes `target/sim-bench.json`.

// The bench's own helpers need no docs.
#![allow(missing_docs)]

use std::path::Path;
use std::time::{Duration, Instant};

fn main() {
    // `cargo test` runs benches without `--bench`: do nothing there.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let catalogue = sse_harness::Catalogue::load(&root).expect("case catalogue");
    let cases = &catalogue.cases;
    let simulated: Duration = cases.iter().map(sse_harness::Case::duration).sum();

    // Warm up once, then time three passes over the catalogue; keep the fastest.
    let run_all = || {
        for case in cases {
            sse_harness::run::golden_trace(case, case.seed, &[]).expect("case runs");
        }
    };
    run_all();
    let catalogue = (0..3)
        .map(|_| {
            let t = Instant::now();
            run_all();
            t.elapsed()
        })
        .min()
        .unwrap_or_default();

    let schedules = 1_000u64;
    let chaos_started = Instant::now();
    let mut events = 0;
    for seed in 0..schedules {
        events +=
            sse_harness::chaos::check(&sse_harness::chaos::schedule(seed)).expect("property holds");
    }
    let chaos = chaos_started.elapsed();
    let chaos_simulated =
        Duration::from_millis(sse_harness::chaos::schedule(0).duration_ms) * schedules as u32;

    println!(
        "catalogue: {} cases, {:.1} s simulated in {:.3} s wall ({:.0}x real time)",
        cases.len(),
        simulated.as_secs_f64(),
        catalogue.as_secs_f64(),
        simulated.as_secs_f64() / catalogue.as_secs_f64()
    );
    println!(
        "chaos: {schedules} schedules, {events} events, {:.0} s simulated in {:.2} s wall, one thread ({:.0}x real time)",
        chaos_simulated.as_secs_f64(),
        chaos.as_secs_f64(),
        chaos_simulated.as_secs_f64() / chaos.as_secs_f64()
    );
    let json = serde_json::json!({
        "cases": cases.len(),
        "catalogue_simulated_secs": simulated.as_secs_f64(),
        "catalogue_wall_secs": catalogue.as_secs_f64(),
        "chaos_schedules": schedules,
        "chaos_events": events,
        "chaos_simulated_secs": chaos_simulated.as_secs_f64(),
        "chaos_wall_secs": chaos.as_secs_f64(),
    });
    let path = root.join("target/sim-bench.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json).expect("json"))
        .expect("write results");
    println!("wrote {}", path.display());
}
