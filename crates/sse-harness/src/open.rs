//! The beginning of every run, whatever its transport: the case's open request, the client's
//! capabilities checked against what the case needs, the stream opened with its companions, and
//! the case's commands given on time.

use std::sync::Arc;
use std::time::Duration;

use sse_case::Case;
use sse_case::origins::Origins;
use sse_case::schedule::{companion_path, needs};

use crate::client::{
    Capability, Client, ClientError, Command, Net, Observer, OpenRequest, Seen, Session, Settings,
    TakenAt,
};

/// How long to wait for a client to open (a process to start, a browser to load: a kept
/// browser's page that does not follow is given up after 15 s and a fresh one has 40 s), or to
/// take a command.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(60);

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
    /// The case's URL does not resolve against the server's.
    #[error("bad URL: {0}")]
    BadUrl(#[from] url::ParseError),
    /// This machine would not give the run what it needs (a thread, a runtime, a socket).
    #[error("cannot start {what}: {source}")]
    Start {
        /// What: "a thread", "the case server", ...
        what: &'static str,
        /// Why not.
        source: std::io::Error,
    },
    /// The client did not open its stream within [`OPEN_TIMEOUT`].
    #[error("the client did not open within {0:?}")]
    OpenTimeout(Duration),
    /// The client did not take a command within [`OPEN_TIMEOUT`].
    #[error("the client did not take {} in time", .0.name())]
    CommandTimeout(Command),
}

impl RunError {
    /// What `start` failed for `what`.
    pub(crate) fn start(what: &'static str) -> impl FnOnce(std::io::Error) -> RunError {
        move |source| RunError::Start { what, source }
    }
}

/// The open request of a case against a server at `base` (scheme, host and port).
pub fn open_request(case: &Case, origins: &Origins, net: Net) -> Result<OpenRequest, RunError> {
    let mut url = url::Url::parse(&format!("{}{}", origins.stream, case.client_path()))?;
    if let Some(given) = &case.client.url {
        url = url::Url::options().base_url(Some(&url)).parse(given)?;
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
            .collect::<Result<_, _>>()?,
    })
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
            sse_model::Observation::Page(sse_model::PageEvent::Message(m))
                if m.event_type != sse_model::DEFAULT_EVENT_TYPE =>
            {
                Some(m.event_type.clone())
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
pub(crate) async fn drive(
    client: Arc<dyn Client>,
    request: OpenRequest,
    observer: Observer,
    commands: Vec<(Duration, Command)>,
    start: tokio::time::Instant,
) -> Result<Box<dyn crate::client::Session>, RunError> {
    let mut session = open_with_companions(client.as_ref(), request, observer.clone()).await?;
    for (at, command) in commands {
        tokio::time::sleep_until(start + at).await;
        give(session.as_mut(), &observer, command).await?;
    }
    Ok(session)
}

/// Gives the client a command and records it, whatever the transport: stamped when the client
/// says it took effect (a browser page or a test service, in another process, takes it later
/// than the harness gives it), else when the client returned.
pub(crate) async fn give(
    session: &mut dyn Session,
    observer: &Observer,
    command: Command,
) -> Result<(), RunError> {
    let taken = tokio::time::timeout(OPEN_TIMEOUT, session.command(command))
        .await
        .map_err(|_| RunError::CommandTimeout(command))??;
    let what = Seen::Command {
        command,
        own_clock: taken.is_some(),
    };
    match taken {
        Some(at) => observer.report_at(at, what),
        None => observer.report(what),
    }
    Ok(())
}
