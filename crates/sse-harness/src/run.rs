//! Runs one case on one implementation and collects what happened: the client's observations
//! (stamped by the harness) and the requests as the server received them, in the simulator
//! ([`crate::simulated`]) or on loopback ([`crate::loopback`]); then judges it. Also the
//! implementations a run can name, and running the cases of a catalogue on them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::case::Case;
use crate::client::{Client, ClientError};

pub use crate::open::{RunError, check_capabilities, open_request};
pub use crate::simulated::{SIMULATED_EXTRA, golden_trace, simulated, simulated_with_topics};
pub use sse_judge::run::Run;

pub use sse_case::origins::{ORIGIN, Origins, Transport};
pub use sse_case::schedule::{commands, companion_path, is_companion, needs, reconnects};
pub use sse_case::select::{Selection, Shard, glob};

pub use sse_judge::judged::CaseResult;

/// Runs and judges a case. Never panics on what the client does: a client that cannot run the
/// case gets `unsupported`, a run that breaks gets `fail` with the reason.
pub fn execute(
    catalogue: &crate::Catalogue,
    client: Arc<dyn Client>,
    case: &Case,
    transport: Transport,
) -> CaseResult {
    use crate::judge::{Context, Finding, Outcome, Verdict};
    let expected = case
        .golden
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let result = |verdict: Verdict, run: Option<Run>| {
        let observed = run
            .as_ref()
            .map(|r| {
                crate::judge::observed_trace_showing(r, &crate::judge::extension_header_names(case))
            })
            .unwrap_or_default();
        CaseResult {
            case: case.id.clone(),
            transport,
            verdict,
            expected: expected.clone(),
            observed,
            run,
        }
    };
    let broken = |why: String| Verdict {
        outcome: Outcome::Fail,
        requirements: case.checks.clone(),
        findings: vec![Finding {
            outcome: Outcome::Fail,
            requirements: case.checks.clone(),
            at: None,
            message: why,
        }],
        divergence: None,
        readings: Vec::new(),
    };
    let expectations = match crate::expect::Expectation::readings(case) {
        Ok(e) => e,
        Err(e) => return result(broken(e.to_string()), None),
    };
    let capabilities = client.capabilities();
    let outcome = {
        let case = case.clone();
        let expectations = expectations.clone();
        guarded(WATCHDOG, move || match transport {
            Transport::Simulated => simulated(client, &case, case.seed, SIMULATED_EXTRA)
                .map(|run| (run, Origins::simulated())),
            Transport::Loopback => crate::loopback::run(client, &case, &expectations),
        })
    };
    match outcome {
        Ok((run, origins)) => {
            let cx = Context {
                catalogue,
                capabilities: &capabilities,
                timing: crate::judge::Timing::of(transport),
                origins: &origins,
            };
            let verdict = match &run.overrun {
                Some(why) => broken(format!(
                    "the case was stopped: {why} (the harness's limit for one case)"
                )),
                None => crate::judge::judge_readings(case, &expectations, &run, cx),
            };
            result(verdict, Some(run))
        }
        Err(e @ (RunError::Unsupported(_) | RunError::Client(ClientError::Unsupported(_)))) => {
            result(Verdict::unsupported(case, e.to_string()), None)
        }
        Err(e) => result(broken(e.to_string()), None),
    }
}

/// The longest one case may take in real time, whatever the client does (a loopback run is
/// capped well below it; a client that blocks its thread is not).
pub const WATCHDOG: Duration = Duration::from_secs(120);

/// Runs `f` on a thread of its own: a panic becomes a client failure, and a run that does not
/// finish within `limit` is abandoned (its thread is left behind) instead of hanging the
/// suite.
fn guarded<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> Result<T, RunError> + Send + 'static,
) -> Result<T, RunError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("sse-harness-run".into())
        .spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(outcome);
        });
    if let Err(e) = spawned {
        return Err(RunError::Start {
            what: "a thread",
            source: e,
        });
    }
    match rx.recv_timeout(limit) {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(panic)) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            Err(RunError::Client(ClientError::Failed(format!(
                "the run panicked: {why}"
            ))))
        }
        Err(_) => Err(RunError::Client(ClientError::Failed(format!(
            "the run did not finish within {limit:?}: the client blocked its thread"
        )))),
    }
}

/// An implementation on a transport: one column of a report.
#[derive(Clone)]
pub struct Target {
    /// The client.
    pub client: Arc<dyn Client>,
    /// Where it runs.
    pub transport: Transport,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.id())
    }
}

impl Target {
    /// Column id: `NAME-TRANSPORT`.
    pub fn id(&self) -> String {
        self.transport.column_id(&self.client.identity().name)
    }

    /// Parses an `--impl` value: `model-sim`, `model-loopback`, `chromium`, `firefox`,
    /// `service=URL` (a running test service) or `adapter:NAME` (one of `adapters/`, set up and
    /// started here). An error says why it cannot run here (a browser or toolchain missing).
    pub fn parse(spec: &str) -> Result<Target, String> {
        let loopback = |client: crate::service::Service| Target {
            client: Arc::new(client),
            transport: Transport::Loopback,
        };
        if let Some(url) = spec.strip_prefix("service=") {
            return crate::service::Service::connect(url).map(loopback);
        }
        if let Some(name) = spec.strip_prefix("adapter:") {
            let dir = adapters_dir().join(name);
            if !dir.is_dir() {
                let known: Vec<String> = crate::service::adapters(&adapters_dir())
                    .into_iter()
                    .map(|(n, _)| n)
                    .collect();
                return Err(format!(
                    "no adapter {name:?} in {}: known are {}",
                    adapters_dir().display(),
                    known.join(", ")
                ));
            }
            return crate::service::Service::adapter(&dir).map(loopback);
        }
        let browser = |kind| {
            crate::browser::Browser::find(kind).map(|b| Target {
                client: Arc::new(b),
                transport: Transport::Loopback,
            })
        };
        match spec {
            "chromium" => browser(crate::browser::Kind::Chromium),
            "firefox" => browser(crate::browser::Kind::Firefox),
            "model-sim" => Ok(Target {
                client: Arc::new(crate::ModelClient::default()),
                transport: Transport::Simulated,
            }),
            "model-loopback" => Ok(Target {
                client: Arc::new(crate::ModelClient::default()),
                transport: Transport::Loopback,
            }),
            other => Err(format!(
                "unknown implementation {other:?}: known are {}, service=URL and adapter:NAME",
                Target::KNOWN.join(", ")
            )),
        }
    }

    /// Every `--impl` value [`Target::parse`] knows.
    pub const KNOWN: [&'static str; 4] = ["model-sim", "model-loopback", "chromium", "firefox"];

    /// The implementations built into the harness (the model, simulated and over loopback): the
    /// README's main job.
    pub fn builtin() -> Vec<Target> {
        ["model-sim", "model-loopback"]
            .iter()
            .filter_map(|s| Target::parse(s).ok())
            .collect()
    }

    /// Every implementation this build knows, the adapters of `adapters/` included: those that
    /// can run here, and for the others (a browser or toolchain that is not installed) the
    /// reason.
    pub fn all() -> (Vec<Target>, Vec<Unavailable>) {
        let mut ready = Vec::new();
        let mut unavailable = Vec::new();
        let adapters = crate::service::adapters(&adapters_dir())
            .into_iter()
            .map(|(name, _)| format!("adapter:{name}"));
        for spec in Target::KNOWN
            .iter()
            .map(|s| (*s).to_owned())
            .chain(adapters)
        {
            match Target::parse(&spec) {
                Ok(t) => ready.push(t),
                Err(reason) => unavailable.push(Unavailable {
                    name: spec.trim_start_matches("adapter:").to_owned(),
                    transport: Transport::Loopback,
                    reason,
                }),
            }
        }
        (ready, unavailable)
    }

    /// How many cases run at once: simulations use the CPU, loopback runs mostly wait.
    pub fn concurrency(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let transport = match self.transport {
            Transport::Simulated => cores,
            Transport::Loopback => cores.max(8),
        };
        self.client
            .concurrency()
            .map_or(transport, |n| n.clamp(1, transport))
    }
}

/// Clients a program links in beyond the harness's own (`sse-rust-clients`): their `--impl`
/// names, and how to make a target of one.
#[derive(Clone, Copy)]
pub struct Linked {
    /// The names `all` takes.
    pub names: &'static [&'static str],
    /// The target a name stands for; `None` for a name it does not know.
    pub parse: fn(&str) -> Option<Target>,
}

impl Linked {
    /// No linked clients.
    pub const NONE: Linked = Linked {
        names: &[],
        parse: |_| None,
    };
}

/// The targets of `--impl` values (`all` is every implementation known here, the linked ones
/// included), with the implementations `all` found unable to run here and why. An unknown
/// value, or one named explicitly that cannot run, is an error.
pub fn resolve(
    specs: &[String],
    linked: Linked,
) -> Result<(Vec<Target>, Vec<Unavailable>), String> {
    let mut targets: Vec<(&str, Target)> = Vec::new();
    let mut unavailable = Vec::new();
    for spec in specs {
        if spec == "all" {
            let (ready, missing) = Target::all();
            targets.extend(ready.into_iter().map(|t| (spec.as_str(), t)));
            targets.extend(
                linked
                    .names
                    .iter()
                    .filter_map(|n| (linked.parse)(n))
                    .map(|t| (spec.as_str(), t)),
            );
            unavailable.extend(missing);
        } else if let Some(t) = (linked.parse)(spec) {
            targets.push((spec, t));
        } else {
            targets.push((spec, Target::parse(spec)?));
        }
    }
    // Two columns with one name would mix in every report: refused, naming both.
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (spec, target) in &targets {
        if let Some(first) = seen.insert(target.id(), spec) {
            return Err(format!(
                "--impl {first} and --impl {spec} would both be the column {} (a test service names itself in its status; give one another name)",
                crate::escape::terminal(&target.id())
            ));
        }
    }
    Ok((targets.into_iter().map(|(_, t)| t).collect(), unavailable))
}

/// Where the adapters are: `SSE_ADAPTERS`, or the workspace's `adapters/`.
pub fn adapters_dir() -> std::path::PathBuf {
    std::env::var_os("SSE_ADAPTERS").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../adapters"),
        std::path::PathBuf::from,
    )
}

pub use sse_judge::judged::Unavailable;

/// Runs `cases` on `target`, `target.concurrency()` at a time, calling `progress` after each;
/// returns the judged cases in the order given, their evidence kept as `evidence` says.
pub fn run_cases(
    catalogue: &crate::Catalogue,
    target: &Target,
    cases: &[&Case],
    evidence: crate::evidence::Evidence,
    progress: &(dyn Fn(&CaseResult) + Sync),
) -> crate::report::ImplementationReport {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let started = std::time::Instant::now();
    let next = AtomicUsize::new(0);
    // Bytes of observed lines the column's reports keep so far.
    let spent = AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<Option<crate::report::CaseReport>>> =
        std::sync::Mutex::new(vec![None; cases.len()]);
    std::thread::scope(|scope| {
        for _ in 0..target.concurrency().min(cases.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    let t = std::time::Instant::now();
                    let result = execute(catalogue, target.client.clone(), case, target.transport);
                    progress(&result);
                    let mut report = crate::report::CaseReport::new(catalogue, result, t.elapsed());
                    if evidence == crate::evidence::Evidence::Abridged {
                        use crate::evidence::{CASE_BYTES, COLUMN_BYTES, TIGHT_CASE_BYTES};
                        let budget = if spent.load(Ordering::Relaxed) < COLUMN_BYTES {
                            CASE_BYTES
                        } else {
                            TIGHT_CASE_BYTES
                        };
                        spent.fetch_add(report.abridge_within(budget), Ordering::Relaxed);
                    }
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(report);
                    }
                }
            });
        }
    });
    let mut cases: Vec<crate::report::CaseReport> = results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect();
    sse_judge::judged::mark_chunking(&mut cases);
    target.client.finish();
    let mut column = crate::report::ImplementationReport::new(
        &target.client.identity(),
        target.transport,
        target.client.capabilities().into_iter().collect(),
        cases,
        started.elapsed(),
    );
    column.warnings = target.client.warnings();
    column
}

/// Runs the selected cases on every target and gathers the report: what `cargo xtask report`,
/// `ssec report` and `ssec run` share. `progress` hears of every judged case.
///
/// Columns run in two lanes side by side, each one column at a time: the clients that limit
/// their own concurrency (browsers, heavy on a small machine) in one, the rest in the other.
/// A loopback run is mostly waiting, so the lanes cost each other little time and no verdict;
/// two browsers at once would.
pub fn conformance(
    catalogue: &crate::Catalogue,
    targets: &[Target],
    selection: &Selection,
    evidence: crate::evidence::Evidence,
    progress: &(dyn Fn(&Target, &CaseResult) + Sync),
) -> crate::report::RunReport {
    let cases = selection.apply(catalogue);
    let heavy = |t: &Target| t.client.concurrency().is_some();
    let lane = |heavy_lane: bool| -> Vec<(usize, crate::report::ImplementationReport)> {
        targets
            .iter()
            .enumerate()
            .filter(|(_, t)| heavy(t) == heavy_lane)
            .map(|(i, t)| {
                (
                    i,
                    run_cases(catalogue, t, &cases, evidence, &|r| progress(t, r)),
                )
            })
            .collect()
    };
    let mut columns: Vec<(usize, crate::report::ImplementationReport)> =
        std::thread::scope(|scope| {
            let browsers = scope.spawn(|| lane(true));
            let mut rest = lane(false);
            // A lane that panicked lost its columns: the others still make a report.
            rest.extend(browsers.join().unwrap_or_default());
            rest
        });
    columns.sort_by_key(|(i, _)| *i);
    crate::report::RunReport::new(catalogue, columns.into_iter().map(|(_, c)| c).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_columns_of_one_name_are_refused_naming_both() {
        let err = match resolve(&["model-sim".into(), "model-sim".into()], Linked::NONE) {
            Ok(_) => panic!("accepted"),
            Err(e) => e,
        };
        assert!(
            err.contains("--impl model-sim and --impl model-sim") && err.contains("model-sim"),
            "{err}"
        );
        assert!(resolve(&["model-sim".into(), "model-loopback".into()], Linked::NONE).is_ok());
    }

    #[test]
    fn globs() {
        for (p, t, m) in [
            ("*", "anything", true),
            ("status-*", "status-204-fails", true),
            ("status-*-fails", "status-204-fails", true),
            ("status-?04-fails", "status-204-fails", true),
            ("status-*", "retry-zero", false),
            ("retry", "retry-zero", false),
            ("*zero", "retry-zero", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
        ] {
            assert_eq!(glob(p, t), m, "{p} {t}");
        }
    }

    #[test]
    fn targets_parse_and_unknown_ones_are_explained() {
        assert_eq!(
            Target::parse("model-sim").map(|t| t.id()),
            Ok("model-sim".into())
        );
        let err = Target::parse("netscape").expect_err("unknown");
        assert!(err.contains("model-loopback"), "{err}");
    }
}
