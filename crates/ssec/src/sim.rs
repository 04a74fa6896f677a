//! `ssec sim`: one case in the simulator with the model, its trace on standard output.

use std::path::Path;
use std::process::ExitCode;

pub(crate) fn run(path: &Path, seed: Option<u64>) -> ExitCode {
    let catalogue = match sse_harness::Catalogue::load_default() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ssec sim: {e}");
            return ExitCode::from(2);
        }
    };
    let case = match catalogue.load_case(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ssec sim: {e}");
            return ExitCode::from(2);
        }
    };
    let seed = seed.unwrap_or(case.seed);
    match sse_harness::run::golden_trace(&case, seed) {
        Ok(trace) => {
            print!("{trace}");
            eprintln!(
                "ssec sim: {} (seed {seed}, {} ms simulated)",
                case.id, case.duration_ms
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ssec sim: {e}");
            ExitCode::FAILURE
        }
    }
}
