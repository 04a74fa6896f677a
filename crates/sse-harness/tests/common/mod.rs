//! What the judge's tests share: the catalogue, the model's run of a case in the simulator, and
//! the verdict on a run (every capability declared, the simulator's tolerances).

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sse_harness::client::{Capabilities, Capability};
use sse_harness::judge::{Context, Timing, Verdict, judge};
use sse_harness::run::{Origins, Run, simulated};
use sse_harness::{Catalogue, Expectation, ModelClient};

pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| Catalogue::load_default().unwrap_or_else(|e| panic!("{e}")))
}

/// The model's run of a case in the simulator, for its duration.
pub fn model_run(case: &str) -> Run {
    let case = catalogue().case(case).expect("case exists");
    simulated(
        Arc::new(ModelClient::default()),
        case,
        case.seed,
        Duration::ZERO,
    )
    .expect("runs")
}

/// The verdict on a run of a case by a client with these capabilities.
pub fn verdict_with(case: &str, run: &Run, caps: &Capabilities) -> Verdict {
    let case = catalogue().case(case).expect("case exists");
    let expectation = Expectation::of(case).expect("golden trace");
    judge(
        case,
        &expectation,
        run,
        Context {
            catalogue: catalogue(),
            capabilities: caps,
            timing: Timing::SIMULATED,
            origins: &Origins::simulated(),
        },
    )
}

/// The verdict on a run of a case by a client that declares every capability.
pub fn verdict(case: &str, run: &Run) -> Verdict {
    verdict_with(case, run, &Capability::everything())
}
