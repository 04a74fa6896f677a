//! `cargo test` for implementations: one test per case, implementation and transport, named
//! `IMPLEMENTATION::TRANSPORT::CASE`, so `cargo test -- CASE`, `--list`, `--exact` and IDE
//! runners work on cases that are data. This is the public API for Rust clients: add
//! `sse-harness` as a dev-dependency, implement [`Client`], and call [`Suite::main`] from a test
//! target with `harness = false`:
//!
//! ```no_run
//! # use sse_harness::ModelClient;
//! use sse_harness::{mimic::Suite, run::Transport};
//!
//! fn main() {
//!     Suite::load()
//!         .expect("the case catalogue")
//!         .client(ModelClient::default(), &[Transport::Simulated, Transport::Loopback])
//!         .main();
//! }
//! ```
//!
//! A test passes on `pass`, `informational` and `non-strict` (allowed behaviour; the verdict is
//! printed), fails on `fail` with the divergence and both traces, and is reported as ignored
//! when the implementation lacks a capability the case needs. Set `SSE_STRICT=1` to fail on
//! `non-strict` too.

use std::sync::Arc;

use libtest_mimic::{Arguments, Completion, Failed, Trial};

use crate::catalogue::Catalogue;
use crate::client::Client;
use crate::judge::Outcome;
use crate::run::{CaseResult, Transport, check_capabilities, execute};

/// Cases × implementations × transports, as tests.
pub struct Suite {
    catalogue: Arc<Catalogue>,
    trials: Vec<Trial>,
    require_pass: bool,
}

impl Suite {
    /// The catalogue of the workspace this crate was built in.
    pub fn load() -> Result<Self, crate::LoadError> {
        Ok(Suite::with(Catalogue::load_default()?))
    }

    /// A given catalogue.
    pub fn with(catalogue: Catalogue) -> Self {
        Suite {
            catalogue: Arc::new(catalogue),
            trials: Vec::new(),
            require_pass: false,
        }
    }

    /// The catalogue in use.
    pub fn catalogue(&self) -> &Arc<Catalogue> {
        &self.catalogue
    }

    /// Makes every verdict but `pass` fail the tests added after it (the model's own tests:
    /// the spec model must pass every case outright). On loopback an informational finding is
    /// let through: real schedulers can delay a timer past the tolerance, and only timing
    /// findings are informational.
    pub fn require_pass(mut self) -> Self {
        self.require_pass = true;
        self
    }

    /// Adds one test per case for `client` on each transport.
    pub fn client(mut self, client: impl Client, transports: &[Transport]) -> Self {
        let client: Arc<dyn Client> = Arc::new(client);
        let name = client.identity().name;
        for &transport in transports {
            for case in &self.catalogue.cases {
                let test = format!("{name}::{}::{}", transport.name(), case.id);
                let unsupported =
                    check_capabilities(client.as_ref(), case, transport == Transport::Simulated)
                        .err()
                        .map(|e| e.to_string());
                let catalogue = self.catalogue.clone();
                let client = client.clone();
                let id = case.id.clone();
                let require_pass = self.require_pass;
                self.trials.push(Trial::ignorable_test(test, move || {
                    if let Some(why) = unsupported {
                        return Ok(Completion::ignored_with(why));
                    }
                    let case = catalogue
                        .case(&id)
                        .ok_or_else(|| Failed::from(format!("no case {id}")))?;
                    let result = execute(&catalogue, client, case, transport);
                    let allowed = match transport {
                        Transport::Simulated => Outcome::Pass,
                        Transport::Loopback => Outcome::Informational,
                    };
                    if require_pass && result.verdict.outcome.worst(allowed) != allowed {
                        return Err(Failed::from(explain(&result)));
                    }
                    conclude(&result)
                }));
            }
        }
        self
    }

    /// Adds a test of your own.
    pub fn trial(mut self, trial: Trial) -> Self {
        self.trials.push(trial);
        self
    }

    /// Runs the tests the command line selects and exits with libtest's status. Without
    /// `--test-threads`, runs 8 at once: loopback runs mostly wait on real time.
    pub fn main(self) -> ! {
        let mut args = Arguments::from_args();
        if args.test_threads.is_none() {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            args.test_threads = Some(cores.max(8));
        }
        libtest_mimic::run(&args, self.trials).exit()
    }
}

/// The test outcome of a judged case.
fn conclude(result: &CaseResult) -> Result<Completion, Failed> {
    let strict = std::env::var_os("SSE_STRICT").is_some_and(|v| v == "1");
    match result.verdict.outcome {
        Outcome::Pass => Ok(Completion::Completed),
        Outcome::Informational => Ok(Completion::Completed),
        Outcome::NonStrict if !strict => Ok(Completion::Completed),
        Outcome::Unsupported => Ok(Completion::ignored_with(result.verdict.summary())),
        Outcome::NonStrict | Outcome::Fail => Err(Failed::from(explain(result))),
    }
}

/// A verdict with its findings and the expected and observed traces, for a person.
pub fn explain(result: &CaseResult) -> String {
    let v = &result.verdict;
    format!(
        "{} on {}: {} (checks {})\n{}",
        crate::escape::terminal(&result.case),
        result.transport.name(),
        v.outcome,
        v.requirements.join(" "),
        crate::report::explain(
            &v.findings,
            v.divergence.as_ref(),
            result.expected.lines(),
            result.observed.iter().map(|e| e.text.as_str()),
        )
    )
}
