//! `ssec sim`: one case in the simulator with the model, its trace on standard output.

use std::path::Path;
use std::process::ExitCode;

pub(crate) fn run(path: &Path, seed: Option<u64>, names: &[String]) -> ExitCode {
    let mut readings = Vec::new();
    for name in names {
        match sse_harness::reading::Reading::ALL
            .into_iter()
            .find(|r| r.name() == name)
        {
            Some(r) => readings.push(r),
            None => {
                eprintln!(
                    "ssec sim: no reading {name:?}; known are {}",
                    sse_harness::reading::Reading::ALL
                        .map(|r| r.name())
                        .join(", ")
                );
                return ExitCode::from(2);
            }
        }
    }
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
    match sse_harness::run::golden_trace(&case, seed, &readings) {
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
