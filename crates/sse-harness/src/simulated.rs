//! A case in the simulator: its world (the reference server or its script, behind the fault
//! proxy) in simulated time, the client on the client host; and the model's golden trace of a
//! case, which is such a run.

use std::sync::Arc;
use std::time::Duration;

use sse_case::Case;
use sse_case::origins::Origins;
use sse_case::schedule::{commands, is_companion};

use crate::client::{Client, Net, Observer};
use crate::open::{RunError, check_capabilities, drive, open_request};
use sse_judge::run::Run;

/// Simulated time given past a case's duration, so an implementation slower than the model is
/// judged on what it did rather than cut off.
pub const SIMULATED_EXTRA: Duration = Duration::from_secs(15);

/// Runs a case in the simulator with `seed`, for the case's duration plus `extra` simulated time
/// (slower implementations than the model get room to finish).
pub fn simulated(
    client: Arc<dyn Client>,
    case: &Case,
    seed: u64,
    extra: Duration,
) -> Result<Run, RunError> {
    simulated_with_topics(client, case, seed, extra).map(|(run, _)| run)
}

/// [`simulated`], also giving the reference server's topics at the end (for properties over
/// published events).
pub fn simulated_with_topics(
    client: Arc<dyn Client>,
    case: &Case,
    seed: u64,
    extra: Duration,
) -> Result<(Run, Arc<sse_server::TopicStore>), RunError> {
    check_capabilities(client.as_ref(), case, true)?;
    let wall = std::time::Instant::now();
    let observer = Observer::new(Arc::new(sse_sim::now));
    let request = open_request(case, &Origins::simulated(), Net::simulated())?;
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
    let mut world = crate::case_server::world(case, seed);
    world.duration += extra;
    let outcome = sse_sim::run(&world, host)?;
    if let Some(e) = failure.lock().ok().and_then(|mut f| f.take()) {
        return Err(e);
    }
    let run = Run {
        overrun: observer.overran(),
        observed: observer.snapshot(),
        held: Arc::default(),
        requests: outcome
            .requests
            .into_iter()
            .filter(|r| !is_companion(&r.target))
            .collect(),
        connections: outcome.connections,
        ended: world.duration,
        wall: wall.elapsed(),
    };
    Ok((run, outcome.topics))
}

/// The model's golden trace of a case: the model in the simulator for exactly the case's
/// duration, its own trace (requests as it sent them) with the requests that never reached the
/// server marked. `fixtures/snapshots/cases/` holds these, reviewed.
pub fn golden_trace(
    case: &Case,
    seed: u64,
    readings: &[sse_case::reading::Reading],
) -> Result<sse_model::Trace, RunError> {
    let trace = Arc::new(std::sync::Mutex::new(sse_model::Trace::new()));
    let mut model = crate::ModelClient::recording(trace.clone());
    for reading in readings {
        model = model.reading(*reading);
    }
    let client = Arc::new(model);
    let run = simulated(client, case, seed, Duration::ZERO)?;
    let mut trace = trace
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    crate::expect::mark_unreceived(&mut trace, &run.requests);
    name_origins(&mut trace, &Origins::simulated());
    Ok(trace)
}

/// Writes the run's origins in a trace by name (`{origin}`, `{other-origin}`), so a golden
/// trace holds for any transport.
fn name_origins(trace: &mut sse_model::Trace, origins: &Origins) {
    use sse_model::{MessageEvent, Observation, PageEvent};
    for line in &mut trace.lines {
        match &mut line.what {
            Observation::Request { target, origin, .. } => {
                *target = origins.name(target);
                if let Some(o) = origin {
                    *o = origins.name(o);
                }
            }
            Observation::Page(PageEvent::Message(MessageEvent {
                origin: Some(o), ..
            })) => *o = origins.name(o),
            Observation::Page(
                PageEvent::Message(MessageEvent { origin: None, .. })
                | PageEvent::Open
                | PageEvent::Error { .. },
            )
            | Observation::Closed
            | Observation::Abort => {}
        }
    }
}
