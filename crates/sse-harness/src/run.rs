//! Runs one case on one implementation and collects what happened: the client's observations
//! (stamped by the harness) and the requests as the server received them. In the simulator the
//! case's world runs in simulated time; on loopback (see [`crate::loopback`]) a real server on
//! 127.0.0.1 plays the case in real time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sse_server::ReceivedRequest;

use crate::case::Case;
use crate::client::{
    Capability, Client, ClientError, Command, Net, Observed, Observer, OpenRequest, Seen, Session,
    Settings, TakenAt,
};

/// What a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// The client's observations and the harness's commands, in order.
    pub observed: Vec<Observed>,
    /// The requests the server received, in order.
    pub requests: Vec<ReceivedRequest>,
    /// When each connection to the case server arrived, taken or refused (a server that is
    /// down refuses attempts that never become requests).
    #[serde(skip)]
    pub connections: Vec<Duration>,
    /// When the run ended, on its clock.
    #[serde(with = "crate::millis")]
    pub ended: Duration,
    /// How long the run took in real time.
    #[serde(with = "crate::millis")]
    pub wall: Duration,
    /// The reference server's topics at the end (for properties over published events).
    #[serde(skip)]
    pub topics: Option<Arc<sse_server::TopicStore>>,
    /// Why the harness stopped keeping what the client reported (a limit of
    /// [`crate::client::Observer`] or of a runner), if it did: the case fails saying so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrun: Option<String>,
    /// The process budget the observations hold until the run is dropped.
    #[serde(skip)]
    pub held: Arc<crate::client::Held>,
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
    if c.close_on_message.is_some() {
        out.push(Capability::CloseInHandler);
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
    if c.headers.is_some() {
        out.push(Capability::Headers);
    }
    match c.method.as_deref() {
        Some("POST") => out.push(Capability::Post),
        Some("REPORT") => out.push(Capability::Report),
        _ => {}
    }
    if c.read_timeout_ms.is_some() {
        out.push(Capability::ReadTimeout);
    }
    if c.restart_at_ms.is_some() {
        out.push(Capability::Restart);
    }
    if reconnects(case) {
        out.push(Capability::Reconnect);
    }
    out
}

/// Whether a case's golden trace (under any reading) has a reconnection: a request after an
/// `error`.
pub fn reconnects(case: &Case) -> bool {
    case.golden
        .iter()
        .chain(case.alternatives.iter().map(|(_, t)| t))
        .any(|t| {
            let mut errored = false;
            t.lines.iter().any(|l| match &l.what {
                sse_model::Observation::Error(_) => {
                    errored = true;
                    false
                }
                sse_model::Observation::Request { .. } => errored,
                _ => false,
            })
        })
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
    if let Some(ms) = case.client.restart_at_ms {
        out.push((Duration::from_millis(ms), Command::Restart));
    }
    out.sort_by_key(|(at, _)| *at);
    out
}

/// The open request of a case against a server at `base` (scheme, host and port).
pub fn open_request(case: &Case, origins: &Origins, net: Net) -> Result<OpenRequest, RunError> {
    let bad = |e: url::ParseError| RunError::Loopback(format!("bad URL: {e}"));
    let mut url =
        url::Url::parse(&format!("{}{}", origins.stream, case.client_path())).map_err(bad)?;
    if let Some(given) = &case.client.url {
        url = url::Url::options()
            .base_url(Some(&url))
            .parse(given)
            .map_err(bad)?;
    }
    let c = &case.client;
    Ok(OpenRequest {
        url,
        last_event_id: c.last_event_id.clone(),
        with_credentials: c.with_credentials.unwrap_or(false),
        page_origin: c.origin.as_ref().map(|o| origins.resolve(o)),
        server_origin: origins.stream.clone(),
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
        event_types: event_types(case),
        fresh: case.needs_fresh_client(),
        close_on_message: c.close_on_message,
        extensions: c.extensions(),
        companions: (0..c.companions.unwrap_or(0))
            .map(|i| url::Url::parse(&format!("{}{}", origins.stream, companion_path(i))))
            .collect::<Result<_, _>>()
            .map_err(bad)?,
    })
}

/// The path of a case's `i`th companion stream: a demo stream of the reference server (an event
/// every half second keeps it busy), marked so the request logs leave it out: it is the case's
/// background, not what is judged.
fn companion_path(i: u8) -> String {
    format!("/sse/{i}?companion&interval_ms=500")
}

/// Whether a request is for a companion stream (see [`crate::case::ClientSpec::companions`]).
pub fn is_companion(target: &str) -> bool {
    target.starts_with("/sse/")
        && target
            .split_once('?')
            .is_some_and(|(_, query)| query.split('&').any(|p| p == "companion"))
}

/// Opens the case's stream, its companions first: the client opens them itself when it can (a
/// browser's page), else the harness opens each as a session of its own. The companions live
/// as long as the returned session.
pub(crate) async fn open_with_companions(
    client: &dyn Client,
    mut request: OpenRequest,
    observer: Observer,
) -> Result<Box<dyn Session>, ClientError> {
    if request.companions.is_empty() || client.opens_companions() {
        return client.open(request, observer).await;
    }
    let mut companions = Vec::new();
    for url in std::mem::take(&mut request.companions) {
        let companion = OpenRequest {
            url,
            last_event_id: None,
            with_credentials: false,
            page_origin: request.page_origin.clone(),
            server_origin: request.server_origin.clone(),
            settings: request.settings.clone(),
            net: request.net.clone(),
            event_types: Vec::new(),
            extensions: sse_model::Extensions::default(),
            fresh: request.fresh,
            close_on_message: None,
            companions: Vec::new(),
        };
        let unheard = Observer::new(Arc::new(|| Duration::ZERO));
        companions.push(client.open(companion, unheard).await?);
    }
    let main = client.open(request, observer).await?;
    Ok(Box::new(WithCompanions {
        main,
        _companions: companions,
    }))
}

/// The case's session, with the companion sessions it keeps open.
struct WithCompanions {
    main: Box<dyn Session>,
    /// Kept open, and dropped after `main` (fields drop in order).
    _companions: Vec<Box<dyn Session>>,
}

impl Session for WithCompanions {
    fn command(
        &mut self,
        command: Command,
    ) -> futures::future::BoxFuture<'_, Result<TakenAt, ClientError>> {
        self.main.command(command)
    }
}

/// The event types other than `message` that the case's golden traces dispatch, sorted.
fn event_types(case: &Case) -> Vec<String> {
    let traces = case
        .golden
        .iter()
        .chain(case.alternatives.iter().map(|(_, t)| t));
    let mut types: Vec<String> = traces
        .flat_map(|t| &t.lines)
        .filter_map(|l| match &l.what {
            sse_model::Observation::Message { event_type, .. } if event_type != "message" => {
                Some(event_type.clone())
            }
            _ => None,
        })
        .collect();
    types.sort();
    types.dedup();
    types
}

/// Refuses a case whose needs the client does not declare.
pub fn check_capabilities(
    client: &dyn Client,
    case: &Case,
    simulated: bool,
) -> Result<(), RunError> {
    let mut has = client.capabilities();
    // Every client reconnects but a stream parser.
    if !has.contains(&Capability::StreamParser) {
        has.insert(Capability::Reconnect);
    }
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
    let mut session = open_with_companions(client.as_ref(), request, observer.clone()).await?;
    for (at, command) in commands {
        tokio::time::sleep_until(start + at).await;
        observer.report(Seen::Command {
            command,
            own_clock: false,
        });
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
    let mut world = case.world(seed);
    world.duration += extra;
    let outcome = sse_sim::run(&world, host)?;
    if let Some(e) = failure.lock().ok().and_then(|mut f| f.take()) {
        return Err(e);
    }
    Ok(Run {
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
        topics: Some(outcome.topics),
    })
}

/// The model's golden trace of a case: the model in the simulator for exactly the case's
/// duration, its own trace (requests as it sent them) with the requests that never reached the
/// server marked. `fixtures/snapshots/cases/` holds these, reviewed.
pub fn golden_trace(
    case: &Case,
    seed: u64,
    readings: &[crate::expect::Reading],
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
    use sse_model::trace::Observation;
    for line in &mut trace.lines {
        match &mut line.what {
            Observation::Request { target, origin, .. } => {
                *target = origins.name(target);
                if let Some(o) = origin {
                    *o = origins.name(o);
                }
            }
            Observation::Message {
                origin: Some(o), ..
            } => *o = origins.name(o),
            Observation::Message { origin: None, .. }
            | Observation::Open
            | Observation::Error(_)
            | Observation::Closed
            | Observation::Abort => {}
        }
    }
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

    /// The id of the report column an implementation named `name` makes on this transport.
    pub fn column_id(self, name: &str) -> String {
        format!("{name}-{}", self.name())
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
                timing: transport.timing(),
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

/// The three origins at which a run's client reaches the case server: the one its stream starts
/// at, the second one cases redirect to, and the one its page comes from when the case puts the
/// page on another origin (`{origin}`, `{other-origin}` and `{page-origin}` in case files and
/// golden traces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origins {
    /// `{origin}`, e.g. `http://127.0.0.1:PORT`.
    pub stream: String,
    /// `{other-origin}`.
    pub other: String,
    /// `{page-origin}`.
    pub page: String,
}

impl Origins {
    /// The simulator's, which are fixed.
    pub fn simulated() -> Self {
        Origins {
            stream: sse_sim::CLIENT_BASE_URL.to_owned(),
            other: sse_sim::OTHER_BASE_URL.to_owned(),
            page: sse_sim::PAGE_BASE_URL.to_owned(),
        }
    }

    /// `(name, origin)` pairs, the longest origin first (one may be a prefix of another).
    fn named(&self) -> Vec<(&'static str, &str)> {
        let mut named = vec![
            (sse_server::cases::OTHER_ORIGIN, self.other.as_str()),
            (sse_server::cases::PAGE_ORIGIN, self.page.as_str()),
            (ORIGIN, self.stream.as_str()),
        ];
        named.sort_by_key(|(_, origin)| std::cmp::Reverse(origin.len()));
        named
    }

    /// `text` with `{origin}`, `{other-origin}` and `{page-origin}` replaced by these origins.
    pub fn resolve(&self, text: &str) -> String {
        self.named()
            .into_iter()
            .fold(text.to_owned(), |t, (name, origin)| t.replace(name, origin))
    }

    /// `text` with these origins replaced by their names (the inverse of [`Origins::resolve`]).
    pub fn name(&self, text: &str) -> String {
        self.named()
            .into_iter()
            .fold(text.to_owned(), |t, (name, origin)| t.replace(origin, name))
    }
}

/// What case files and golden traces write for the origin a run's stream starts at.
pub const ORIGIN: &str = "{origin}";

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
        return Err(RunError::Loopback(format!("cannot start a thread: {e}")));
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

/// An implementation that cannot run on this machine, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Unavailable {
    /// Its name (its column id without the transport).
    pub name: String,
    /// Where it would have run.
    pub transport: Transport,
    /// What is missing.
    pub reason: String,
}

impl Unavailable {
    /// Its column id.
    pub fn id(&self) -> String {
        self.transport.column_id(&self.name)
    }

    /// `ID: unavailable: REASON`, escaped for a terminal (a service names itself).
    pub fn line(&self) -> String {
        crate::escape::terminal(&format!("{}: unavailable: {}", self.id(), self.reason))
    }
}

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
    crate::stream_case::mark_chunking(&mut cases);
    target.client.finish();
    crate::report::ImplementationReport::new(
        &target.client.identity(),
        target.transport,
        target.client.capabilities().into_iter().collect(),
        cases,
        started.elapsed(),
    )
}

/// Which cases a run takes: all, or those whose id matches a glob (`*`, `?`) and that check a
/// requirement.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Case id globs; a case matching any is taken (none: every case).
    pub cases: Vec<String>,
    /// Requirement ids; a case checking any is taken (none: every case).
    pub requirements: Vec<String>,
}

impl Selection {
    /// The selected cases of a catalogue, in catalogue order.
    pub fn apply<'a>(&self, catalogue: &'a crate::Catalogue) -> Vec<&'a Case> {
        catalogue
            .cases
            .iter()
            .filter(|c| self.cases.is_empty() || self.cases.iter().any(|g| glob(g, &c.id)))
            .filter(|c| {
                self.requirements.is_empty()
                    || self.requirements.iter().any(|r| c.checks.contains(r))
            })
            .collect()
    }
}

/// Whether `text` matches `pattern`, where `*` is any run of characters and `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Classic two-pointer match with backtracking to the last star.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
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
