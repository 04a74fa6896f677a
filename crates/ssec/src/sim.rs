//! `ssec sim`: one case in the simulator, its trace on standard output.

use std::path::Path;
use std::process::ExitCode;

pub(crate) fn run(path: &Path, seed: Option<u64>) -> ExitCode {
    let case = match sse_sim::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ssec sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    let seed = seed.unwrap_or(case.seed);
    match sse_sim::run(&case, seed) {
        Ok(outcome) => {
            print!("{}", outcome.trace);
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
