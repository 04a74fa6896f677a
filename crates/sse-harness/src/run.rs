//! Runs one case on one implementation and collects what happened: the client's observations
//! (stamped by the harness) and the requests as the server received them. In the simulator the
//! case's world runs in simulated time; on loopback (see [`crate::loopback`]) a real server on
//! 127.0.0.1 plays the case in real time.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sse_server::ReceivedRequest;

use crate::case::Case;
use crate::client::{
    Capability, Client, ClientError, Command, Net, Observed, Observer, OpenRequest, Seen, Settings,
};

/// What a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// The client's observations and the harness's commands, in order.
    pub observed: Vec<Observed>,
    /// The requests the server received, in order.
    pub requests: Vec<ReceivedRequest>,
    /// How long the run took in real time.
    #[serde(with = "crate::millis")]
    pub wall: Duration,
    /// The reference server's topics at the end (for properties over published events).
    #[serde(skip)]
    pub topics: Option<Arc<sse_server::TopicStore>>,
}

/// Why a case did not run to the end (not: the client misbehaved; that is a verdict).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The implementation lacks what the case needs.
    #[error("needs {}", .0.iter().map(|c| c.name()).collect::<Vec<_>>().join(", "))]
    Unsupported(Vec<Capability>),
    /// The client failed to open or to take a command.
    #[error("client: {0}")]
    Client(#[from] ClientError),
    /// The simulation failed.
    #[error(transparent)]
    Sim(#[from] sse_sim::SimError),
    /// The loopback case server failed.
    #[error("loopback: {0}")]
    Loopback(String),
}

/// The capabilities a case needs from a client.
pub fn needs(case: &Case) -> Vec<Capability> {
    let c = &case.client;
    let mut out = Vec::new();
    if c.close_at_ms.is_some() {
        out.push(Capability::Close);
    }
    if c.ua_abort_at_ms.is_some() {
        out.push(Capability::UserAgentAbort);
    }
    if c.last_event_id.is_some() {
        out.push(Capability::InitialLastEventId);
    }
    if c.origin.is_some() || c.with_credentials.is_some() {
        out.push(Capability::Cors);
    }
    if c.max_line.is_some() || c.max_event.is_some() {
        out.push(Capability::Limits);
    }
    out
}

/// The commands of a case, in time order.
pub fn commands(case: &Case) -> Vec<(Duration, Command)> {
    let mut out = Vec::new();
    if let Some(ms) = case.client.close_at_ms {
        out.push((Duration::from_millis(ms), Command::Close));
    }
    if let Some(ms) = case.client.ua_abort_at_ms {
        out.push((Duration::from_millis(ms), Command::UserAgentAbort));
    }
    out.sort_by_key(|(at, _)| *at);
    out
}

/// The open request of a case against a server at `base` (scheme, host and port).
pub fn open_request(case: &Case, base: &str, net: Net) -> Result<OpenRequest, RunError> {
    let url = url::Url::parse(&format!("{base}{}", case.client_path()))
        .map_err(|e| RunError::Loopback(format!("bad URL: {e}")))?;
    let c = &case.client;
    Ok(OpenRequest {
        url,
        last_event_id: c.last_event_id.clone(),
        with_credentials: c.with_credentials.unwrap_or(false),
        page_origin: c.origin.clone(),
        settings: Settings {
            initial_reconnection_time: c.reconnection_ms.map(Duration::from_millis),
            backoff: c.backoff.map(|b| {
                (
                    Duration::from_millis(b.base_ms),
                    Duration::from_millis(b.max_ms),
                )
            }),
            max_line: c.max_line,
            max_event: c.max_event,
            accept_encoding: c.accept_encoding.clone(),
        },
        net,
    })
}

/// Refuses a case whose needs the client does not declare.
pub fn check_capabilities(
    client: &dyn Client,
    case: &Case,
    simulated: bool,
) -> Result<(), RunError> {
    let has = client.capabilities();
    let mut missing: Vec<Capability> = needs(case)
        .into_iter()
        .filter(|c| !has.contains(c))
        .collect();
    if simulated && !has.contains(&Capability::Simulated) {
        missing.push(Capability::Simulated);
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(RunError::Unsupported(missing))
    }
}

/// Opens the stream, gives the commands on time, and keeps the session until `until` resolves.
async fn drive(
    client: Arc<dyn Client>,
    request: OpenRequest,
    observer: Observer,
    commands: Vec<(Duration, Command)>,
    start: tokio::time::Instant,
) -> Result<Box<dyn crate::client::Session>, RunError> {
    let mut session = client.open(request, observer.clone()).await?;
    for (at, command) in commands {
        tokio::time::sleep_until(start + at).await;
        observer.report(Seen::Command { command });
        session.command(command).await?;
    }
    Ok(session)
}

/// Runs a case in the simulator with `seed`, for the case's duration plus `extra` simulated time
/// (slower implementations than the model get room to finish).
pub fn simulated(
    client: Arc<dyn Client>,
    case: &Case,
    seed: u64,
    extra: Duration,
) -> Result<Run, RunError> {
    check_capabilities(client.as_ref(), case, true)?;
    let wall = std::time::Instant::now();
    let observer = Observer::new(Arc::new(sse_sim::now));
    let request = open_request(case, sse_sim::CLIENT_BASE_URL, Net::simulated())?;
    let commands = commands(case);
    let failure: Arc<std::sync::Mutex<Option<RunError>>> = Arc::default();
    let host = {
        let observer = observer.clone();
        let failure = failure.clone();
        async move {
            let start = tokio::time::Instant::now();
            match drive(client, request, observer, commands, start).await {
                Ok(session) => {
                    // Keep the session until the simulation ends.
                    std::future::pending::<()>().await;
                    drop(session);
                }
                Err(e) => {
                    if let Ok(mut f) = failure.lock() {
                        *f = Some(e);
                    }
                }
            }
            Ok(())
        }
    };
    let mut world = case.world(seed);
    world.duration += extra;
    let outcome = sse_sim::run(&world, host)?;
    if let Some(e) = failure.lock().ok().and_then(|mut f| f.take()) {
        return Err(e);
    }
    Ok(Run {
        observed: observer.snapshot(),
        requests: outcome.requests,
        wall: wall.elapsed(),
        topics: Some(outcome.topics),
    })
}

/// The model's golden trace of a case: the model in the simulator for exactly the case's
/// duration, its own trace (requests as it sent them) with the requests that never reached the
/// server marked. `fixtures/snapshots/cases/` holds these, reviewed.
pub fn golden_trace(case: &Case, seed: u64) -> Result<sse_model::Trace, RunError> {
    let trace = Arc::new(std::sync::Mutex::new(sse_model::Trace::new()));
    let client = Arc::new(crate::ModelClient::recording(trace.clone()));
    let run = simulated(client, case, seed, Duration::ZERO)?;
    let mut trace = trace
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    crate::expect::mark_unreceived(&mut trace, &run.requests);
    Ok(trace)
}

/// Where a case runs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// In the simulator, in simulated time, with the case's seed.
    Simulated,
    /// Over loopback sockets, in real time.
    Loopback,
}

impl Transport {
    /// The short name in test names and reports.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Simulated => "sim",
            Transport::Loopback => "loopback",
        }
    }

    /// Its timing tolerances.
    pub fn timing(self) -> crate::judge::Timing {
        match self {
            Transport::Simulated => crate::judge::Timing::SIMULATED,
            Transport::Loopback => crate::judge::Timing::LOOPBACK,
        }
    }
}

/// Simulated time given past a case's duration, so an implementation slower than the model is
/// judged on what it did rather than cut off.
pub const SIMULATED_EXTRA: Duration = Duration::from_secs(15);

/// One case on one implementation and transport, judged.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The case id.
    pub case: String,
    /// Where it ran.
    pub transport: Transport,
    /// The verdict.
    pub verdict: crate::judge::Verdict,
    /// The golden trace.
    pub expected: String,
    /// What was observed, as trace lines.
    pub observed: Vec<crate::judge::TraceEntry>,
    /// The raw run, when it ran.
    pub run: Option<Run>,
}

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
            .map(crate::judge::observed_trace)
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
    };
    let expectation = match crate::expect::Expectation::of(case) {
        Ok(e) => e,
        Err(e) => return result(broken(e.to_string()), None),
    };
    let capabilities = client.capabilities();
    let outcome = match transport {
        Transport::Simulated => simulated(client, case, case.seed, SIMULATED_EXTRA)
            .map(|run| (run, sse_sim::CLIENT_BASE_URL.to_owned())),
        Transport::Loopback => crate::loopback::run(client, case, &expectation),
    };
    match outcome {
        Ok((run, origin)) => {
            let cx = Context {
                catalogue,
                capabilities: &capabilities,
                timing: transport.timing(),
                stream_origin: &origin,
            };
            let verdict = crate::judge::judge(case, &expectation, &run, cx);
            result(verdict, Some(run))
        }
        Err(RunError::Unsupported(missing)) => result(
            Verdict::unsupported(
                case,
                format!(
                    "needs {}",
                    missing
                        .iter()
                        .map(|c| c.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            None,
        ),
        Err(e) => result(broken(e.to_string()), None),
    }
}
