//! The loopback runner: a case server on 127.0.0.1 that plays any case in real time (scripts,
//! redirects, 204s and the reference server's own streams), with the case's faults applied by
//! the same relay the simulator's proxy uses (cut at byte N or time T, stall, buffer, idle
//! timeout, latency, partition) and server crashes and restarts; and the driver that opens the
//! client against it, gives the case's commands on time and decides when the run is over.
//!
//! Each run gets its own server on its own port, so concurrent runs never share state; the
//! server logs every request as it arrived. Real time is short: a run ends once every expected
//! observation has been seen and a quiet period has passed ([`settle`]), or when the client
//! stops making progress.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sse_server::{ReceivedRequest, RequestLog, Server, TopicStore};
use sse_sim::Fault;
use sse_sim::relay::{relay, resolve};
use tokio::io::DuplexStream;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::case::Case;
use crate::client::{Client, Clock, Epoch, Net, Observer};
use crate::expect::Expectation;
use sse_case::origins::Origins;
use sse_case::reading::Reading;

/// Every acceptable expectation of a case (see [`Expectation::readings`]).
type Expectations = [(Vec<Reading>, Expectation)];
use crate::open::{RunError, check_capabilities, open_request};
use sse_case::schedule::commands;
use sse_judge::run::Run;

/// The longest a loopback run may take, whatever the client does.
pub const MAX_RUN: Duration = Duration::from_secs(60);

pub use crate::open::OPEN_TIMEOUT;

/// How long a loopback run watches after a client gave up or was closed: longer than the
/// initial reconnection time of browsers (3 s in Chromium, 5 s in Firefox), so a wrongful
/// reconnection is caught.
pub const SETTLE_FOR_GOOD: Duration = Duration::from_secs(6);

/// The quiet period after the last expected observation: the case's own (the rest of its run),
/// shortened on loopback to keep real time short, except where the case ends with the client
/// stopped for good (a wrongful reconnection must still be caught, see [`SETTLE_FOR_GOOD`]) or
/// a time-based fault has yet to act (an idle timeout the case shows does not fire).
pub fn settle(case: &Case, expectation: &Expectation) -> Duration {
    // A stream case is about messages: a wrongful reconnection is other cases' business.
    if case.stream.is_some() {
        return crate::stream_case::SETTLE;
    }
    let cap = if expectation.ends_for_good() {
        SETTLE_FOR_GOOD
    } else {
        Duration::from_millis(300)
    };
    let last = expectation
        .golden
        .lines
        .last()
        .map_or(Duration::ZERO, |l| l.at);
    let margin = Duration::from_millis(200);
    let fault_due = case
        .faults
        .iter()
        .filter_map(|f| match *f {
            Fault::IdleTimeout { ms } => Some(last + Duration::from_millis(ms)),
            Fault::Drop { at_ms, .. } => at_ms.map(Duration::from_millis),
            Fault::Partition { repair_at_ms, .. } => Some(Duration::from_millis(repair_at_ms)),
            Fault::ServerCrash {
                at_ms,
                restart_at_ms,
            } => Some(Duration::from_millis(restart_at_ms.unwrap_or(at_ms))),
            Fault::Buffer { .. } | Fault::Stall { .. } | Fault::Latency { .. } => None,
        })
        .max()
        .map_or(Duration::ZERO, |due| (due + margin).saturating_sub(last));
    expectation.settle.min(cap.max(fault_due))
}

/// How long a run may go without any new observation or request before it is over: long
/// enough for the slowest reconnection the case allows (for a stream case without one, twice its
/// whole delivery and a second).
fn idle_limit(case: &Case, expectation: &Expectation) -> Duration {
    use crate::expect::{Basis, RequestKind};
    let reconnects = expectation
        .requests
        .iter()
        .any(|r| matches!(r.kind, RequestKind::Reconnect(_)));
    if case.stream.is_some() && !reconnects {
        // Twice the nominal delivery: on a busy machine 1 ms pauses take longer.
        return case.duration() * 2 + Duration::from_secs(1);
    }
    let timing = crate::judge::Timing::LOOPBACK;
    expectation
        .requests
        .iter()
        .filter_map(|r| match &r.kind {
            RequestKind::Reconnect(w) if w.basis == Basis::Retry => Some(timing.hang_bound(w.min)),
            // The client's own initial reconnection time: browsers use a few seconds.
            RequestKind::Reconnect(_) => Some(Duration::from_secs(10)),
            RequestKind::First | RequestKind::Redirect => None,
        })
        .max()
        .unwrap_or(Duration::from_secs(3))
        .clamp(Duration::from_secs(3), Duration::from_secs(30))
        .max(
            case.expect
                .patience_ms
                .map_or(Duration::ZERO, Duration::from_millis),
        )
}

/// Runs a case over loopback; returns the run and the origins the client reached.
pub fn run(
    client: Arc<dyn Client>,
    case: &Case,
    expectations: &Expectations,
) -> Result<(Run, Origins), RunError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RunError::start("a runtime"))?;
    runtime.block_on(run_async(client, case, expectations))
}

/// The same, on the caller's runtime.
pub async fn run_async(
    client: Arc<dyn Client>,
    case: &Case,
    expectations: &Expectations,
) -> Result<(Run, Origins), RunError> {
    check_capabilities(client.as_ref(), case, false)?;
    let wall = std::time::Instant::now();
    let epoch = Epoch::new();
    let clock: Clock = epoch.clock();
    let mut server = CaseServer::start(case, clock.clone(), epoch.clone())
        .await
        .map_err(RunError::start("the case server"))?;
    let origins = Origins {
        stream: format!("http://{}", server.addr),
        other: format!("http://{}", server.other_addr),
        page: format!("http://{}", server.page_addr),
    };
    // What this run's client reports is held against its column's budget: a column whose
    // client floods cannot take what another column's cases need.
    let column = sse_case::origins::Transport::Loopback.column_id(&client.identity().name);
    let observer =
        Observer::with_epoch_in(epoch.clone(), crate::client::Budget::of_column(&column));
    let request = open_request(case, &origins, Net::loopback())?;
    let outcome = drive(
        client,
        request,
        observer.clone(),
        case,
        expectations,
        &mut server,
        &epoch,
    )
    .await;
    let requests = server.requests();
    let connections = server.connections();
    let ended = clock();
    server.stop().await;
    outcome?;
    let (observed, held) = observer.take();
    Ok((
        Run {
            overrun: observer.overran(),
            observed,
            held: Arc::new(held),
            requests,
            connections,
            ended,
            wall: wall.elapsed(),
        },
        origins,
    ))
}

async fn drive(
    client: Arc<dyn Client>,
    request: crate::client::OpenRequest,
    observer: Observer,
    case: &Case,
    expectations: &Expectations,
    server: &mut CaseServer,
    epoch: &Epoch,
) -> Result<(), RunError> {
    let caps = client.capabilities();
    let opening = crate::open::open_with_companions(client.as_ref(), request, observer.clone());
    let mut session = tokio::time::timeout(OPEN_TIMEOUT, opening)
        .await
        .map_err(|_| RunError::OpenTimeout(OPEN_TIMEOUT))??;
    // The case's timeline runs from the client's start (a browser restarts the epoch once its
    // page has loaded): time-scheduled faults and commands count from there.
    server.arm(case, epoch);
    let mut pending = commands(case).into_iter().peekable();
    let settle = expectations
        .iter()
        .map(|(_, e)| settle(case, e))
        .max()
        .unwrap_or_default();
    let idle = expectations
        .iter()
        .map(|(_, e)| idle_limit(case, e))
        .max()
        .unwrap_or(Duration::from_secs(3));
    // A stream case is not over before its whole body has gone out (twice its nominal delivery,
    // for a busy machine): a client's wrong message can come from its last bytes.
    let delivered = case.stream.as_ref().map_or(Duration::ZERO, |s| {
        crate::stream_case::PAUSE * u32::try_from(s.writes.len()).unwrap_or(u32::MAX) * 2
    });
    let mut last_change = Instant::now();
    let mut seen = (0, 0);
    let mut complete_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        // Commands count from the case's first request, as faults do (the epoch starts again
        // there): a client that is slow to connect is closed or aborted where the model was, not
        // before it asked for anything. One that never connects gets them a little late.
        let start = if *server.begun.borrow() {
            epoch.get()
        } else {
            epoch.get() + UNBEGUN_GRACE
        };
        if let Some((_, command)) = pending.next_if(|(at, _)| start + *at <= now) {
            crate::open::give(session.as_mut(), &observer, command).await?;
            last_change = Instant::now();
            complete_at = None;
            continue;
        }
        let requests = server.requests().len();
        // Matched in place: a client's large events are not copied every tick.
        let (pages, decided, done) = observer.inspect(|observed| {
            let page_obs = crate::judge::page_observations(observed);
            let matches: Vec<_> = expectations
                .iter()
                .map(|(_, e)| (e, crate::judge::match_page(e, &page_obs, &caps)))
                .collect();
            let decided = matches.iter().all(|(_, m)| m.contradicted(page_obs.len()));
            // Complete under some reading: every page step seen and every request that must
            // arrive.
            let done = matches.iter().any(|(e, m)| {
                m.complete() && requests >= e.requests.iter().filter(|r| r.received).count()
            });
            (page_obs.len(), decided, done)
        });
        if (pages, requests) != seen {
            seen = (pages, requests);
            last_change = now;
            if decided {
                // The verdict is decided; a little more shows what came next (a browser's
                // reconnection comes at least 500 ms later).
                tokio::time::sleep(Duration::from_millis(1000)).await;
                break;
            }
        }
        if pending.peek().is_none() && done {
            let since = *complete_at.get_or_insert(now);
            if now >= since + settle && now >= epoch.get() + delivered + settle {
                break;
            }
        } else if now >= last_change + idle {
            break;
        }
        if now >= start + MAX_RUN || observer.overran().is_some() {
            break;
        }
        let next_command = pending.peek().map(|(at, _)| start + *at);
        let tick = now + Duration::from_millis(20);
        let wake = next_command.map_or(tick, |c| c.min(tick));
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            () = observer.changed() => {}
        }
    }
    drop(session);
    Ok(())
}

/// Whether a request is for a scripted case other than `script_id`'s (the browser's page is
/// every run's).
fn foreign(script_id: &str, target: &str) -> bool {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    path.strip_prefix("/cases/")
        .is_some_and(|id| id != script_id && id != crate::browser::PAGE_SCRIPT)
}

/// One run's server: a listener on 127.0.0.1 whose connections go through the fault relay to
/// the reference server (which plays the case's script or its own streams).
struct CaseServer {
    addr: SocketAddr,
    /// The case's script id: requests for another are not this run's.
    script_id: String,
    /// The server's second origin's address.
    other_addr: SocketAddr,
    /// The page origin's address.
    page_addr: SocketAddr,
    /// Becomes true at the case's first request.
    begun: tokio::sync::watch::Receiver<bool>,
    /// Opened once the client is ready: until then its connections wait, so a client that
    /// registers its listeners after it opens (a test service's `listen`) misses nothing.
    ready: Arc<tokio::sync::watch::Sender<bool>>,
    /// The server's configuration (for restarts).
    config: sse_server::Config,
    /// The topic store that survives restarts.
    durable: Arc<TopicStore>,
    log: Arc<RequestLog>,
    connections: Arc<Mutex<Vec<Duration>>>,
    host: Arc<Mutex<Host>>,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// The server as it is now: up (with the channel new connections go to) or crashed.
struct Host {
    connections: Option<mpsc::Sender<(DuplexStream, SocketAddr)>>,
    /// Cancelled when this incarnation crashes: every relay to it is cut.
    alive: CancellationToken,
    serving: Option<tokio::task::JoinHandle<()>>,
    /// Its topic store (for the publisher).
    topics: Arc<TopicStore>,
}

/// The reference server's accept loop fed from a channel instead of a socket.
struct ChannelListener(mpsc::Receiver<(DuplexStream, SocketAddr)>);

impl sse_server::Listener for ChannelListener {
    type Io = DuplexStream;
    async fn accept(&mut self) -> std::io::Result<(Self::Io, SocketAddr)> {
        match self.0.recv().await {
            Some(pair) => Ok(pair),
            None => std::future::pending().await,
        }
    }
}

fn boot(config: &sse_server::Config, topics: Arc<TopicStore>, log: &Arc<RequestLog>) -> Host {
    let (tx, rx) = mpsc::channel(64);
    let server = Server::with_topics(config.clone(), topics.clone());
    server.with_request_log(log.clone());
    let alive = CancellationToken::new();
    let serving = tokio::spawn({
        let alive = alive.clone();
        async move {
            server
                .serve(ChannelListener(rx), alive, Duration::from_millis(200))
                .await;
        }
    });
    Host {
        connections: Some(tx),
        alive,
        serving: Some(serving),
        topics,
    }
}

/// How long past its time a command waits for the case's first request before it is given
/// anyway (a client that never connects is still closed, aborted or restarted).
const UNBEGUN_GRACE: Duration = Duration::from_secs(2);

/// Waits for the case's first request, then until `after` past the epoch (which starts again
/// there).
async fn sleep_since(
    begun: &mut tokio::sync::watch::Receiver<bool>,
    epoch: &Epoch,
    after: Duration,
) {
    let _ = begun.wait_for(|b| *b).await;
    loop {
        let due = epoch.get() + after;
        if Instant::now() >= due {
            return;
        }
        tokio::time::sleep_until(due).await;
    }
}

/// The server host dies: every connection to it is cut and new ones are refused.
fn crash(host: &Mutex<Host>) {
    let mut h = host.lock().unwrap_or_else(PoisonError::into_inner);
    h.connections = None;
    h.alive.cancel();
    if let Some(task) = h.serving.take() {
        task.abort();
    }
}

/// The page a browser runs the case in: served on every origin of the case server by a server
/// of its own, which never crashes and whose requests are not the case's.
fn page_server(
    stop: CancellationToken,
) -> (
    tokio::task::JoinHandle<()>,
    mpsc::Sender<(DuplexStream, SocketAddr)>,
) {
    let (page_host, page_connections) = mpsc::channel(16);
    let server = Server::new(sse_server::Config {
        scripts: Arc::new(
            [(
                crate::browser::PAGE_SCRIPT.to_owned(),
                crate::browser::page_script(),
            )]
            .into(),
        ),
        ..sse_server::Config::default()
    });
    let task = tokio::spawn(async move {
        server
            .serve(
                ChannelListener(page_connections),
                stop,
                Duration::from_millis(200),
            )
            .await;
    });
    (task, page_host)
}

/// What every connection a run's server accepts shares.
#[derive(Clone)]
struct Accepted {
    host: Arc<Mutex<Host>>,
    stop: CancellationToken,
    /// When each of the case's connections came.
    connections: Arc<Mutex<Vec<Duration>>>,
    clock: Clock,
    epoch: Epoch,
    faults: Arc<Vec<Fault>>,
    /// The browser page's server.
    page_host: mpsc::Sender<(DuplexStream, SocketAddr)>,
    /// The case's connections so far.
    count: Arc<Mutex<u32>>,
    started: Arc<tokio::sync::watch::Sender<bool>>,
    ready: Arc<tokio::sync::watch::Sender<bool>>,
}

/// Accepts on the case's three origins until the run stops.
async fn accept_loop(listeners: [TcpListener; 3], shared: Accepted) {
    let [listener, other, page] = listeners;
    loop {
        let accepted = tokio::select! {
            () = shared.stop.cancelled() => break,
            accepted = listener.accept() => accepted,
            accepted = other.accept() => accepted,
            accepted = page.accept() => accepted,
        };
        let Ok((tcp, peer)) = accepted else {
            // Out of descriptors, most often: wait instead of spinning.
            tokio::time::sleep(crate::remote::ACCEPT_BACKOFF).await;
            continue;
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(shared.clone().connection(tcp, peer));
    }
}

impl Accepted {
    /// A connection is the case's from its first bytes (a browser may open one early and speak
    /// later). One loading a browser's page is not: no count, no log, no faults, and the page's
    /// own server.
    async fn connection(self, tcp: tokio::net::TcpStream, peer: SocketAddr) {
        let mut ready = self.ready.subscribe();
        let loads_page = tokio::select! {
            page = crate::browser::loads_page(&tcp) => page,
            () = self.stop.cancelled() => return,
        };
        let (conn_faults, sender, alive) = match loads_page {
            // Closed without a word.
            None => return,
            Some(true) => (
                sse_sim::relay::ConnFaults::default(),
                Some(self.page_host.clone()),
                CancellationToken::new(),
            ),
            Some(false) => {
                // The case's connection waits until the client is ready.
                tokio::select! {
                    _ = ready.wait_for(|r| *r) => {}
                    () = self.stop.cancelled() => return,
                }
                let n = self.count_connection();
                let h = self.host.lock().unwrap_or_else(PoisonError::into_inner);
                (
                    resolve(&self.faults, n),
                    h.connections.clone(),
                    h.alive.clone(),
                )
            }
        };
        // A crashed server refuses: the connection closes at once.
        let Some(sender) = sender else { return };
        let (near, far) = tokio::io::duplex(64 * 1024);
        if sender.send((far, peer)).await.is_err() {
            return;
        }
        let epoch = self.epoch.get();
        tokio::select! {
            () = relay(tcp, near, conn_faults, epoch) => {}
            () = alive.cancelled() => {}
            () = self.stop.cancelled() => {}
        }
    }

    /// Counts one of the case's connections and logs when it came; returns its number. The
    /// case's time counts from its first request, as the golden trace's does: however long a
    /// client took to start, faults and commands meet it where the model was.
    fn count_connection(&self) -> u32 {
        let mut n = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        *n += 1;
        if *n == 1 {
            self.epoch.restart();
            self.started.send_replace(true);
        }
        let mut log = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if log.len() < sse_server::requests::MAX_LOGGED {
            log.push((self.clock)());
        }
        *n
    }
}

impl CaseServer {
    async fn start(case: &Case, clock: Clock, epoch: Epoch) -> std::io::Result<Self> {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        // The second origin and the page's: other ports, relayed to the same server with the
        // same faults.
        let other = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let other_addr = other.local_addr()?;
        let page = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let page_addr = page.local_addr()?;
        let config = sse_server::Config {
            other_origin: Some(format!("http://{other_addr}")),
            page_origin: Some(format!("http://{page_addr}")),
            origin: Some(format!("http://{addr}")),
            ..crate::case_server::server_config(case)
        };
        let log = Arc::new(RequestLog::new(clock.clone()));
        let durable = Arc::new(TopicStore::for_config(&config));
        let host = Arc::new(Mutex::new(boot(&config, durable.clone(), &log)));
        // A server that is down from the start refuses the very first connection.
        if case
            .faults
            .iter()
            .any(|f| matches!(f, Fault::ServerCrash { at_ms: 0, .. }))
        {
            crash(&host);
        }
        let stop = CancellationToken::new();
        let ready = Arc::new(tokio::sync::watch::channel(false).0);
        // Whether the case's first request has come (its time starts there).
        let (started, begun) = tokio::sync::watch::channel(false);
        let connections = Arc::new(Mutex::new(Vec::new()));
        let (page_server, page_host) = page_server(stop.clone());
        let shared = Accepted {
            host: host.clone(),
            stop: stop.clone(),
            connections: connections.clone(),
            clock,
            epoch,
            faults: Arc::new(case.faults.clone()),
            page_host,
            count: Arc::new(Mutex::new(0)),
            started: Arc::new(started),
            ready: ready.clone(),
        };
        let accepting = tokio::spawn(accept_loop([listener, other, page], shared));
        let tasks = vec![page_server, accepting];

        Ok(CaseServer {
            addr,
            script_id: case.script_id(),
            other_addr,
            page_addr,
            begun,
            ready,
            config,
            durable,
            log,
            connections,
            host,
            stop,
            tasks,
        })
    }

    /// Lets the client's connections through, and starts the case's time-scheduled faults and
    /// its publisher, counting from `epoch` (the client's start).
    fn arm(&mut self, case: &Case, epoch: &Epoch) {
        self.ready.send_replace(true);
        for fault in &case.faults {
            match *fault {
                Fault::ServerCrash {
                    at_ms,
                    restart_at_ms,
                } => {
                    let host = self.host.clone();
                    let config = self.config.clone();
                    let log = self.log.clone();
                    let durable_store = self.durable.clone();
                    let keep_topics = case.durable_topics();
                    let epoch = epoch.clone();
                    let mut begun = self.begun.clone();
                    self.tasks.push(tokio::spawn(async move {
                        sleep_since(&mut begun, &epoch, Duration::from_millis(at_ms)).await;
                        crash(&host);
                        if let Some(r) = restart_at_ms {
                            sleep_since(&mut begun, &epoch, Duration::from_millis(r)).await;
                            let topics = if keep_topics {
                                durable_store
                            } else {
                                Arc::new(TopicStore::for_config(&config))
                            };
                            let fresh = boot(&config, topics, &log);
                            *host.lock().unwrap_or_else(PoisonError::into_inner) = fresh;
                        }
                    }));
                }
                // The relay's, per connection.
                Fault::Drop { .. }
                | Fault::Buffer { .. }
                | Fault::Stall { .. }
                | Fault::IdleTimeout { .. }
                | Fault::Latency { .. }
                | Fault::Partition { .. } => {}
            }
        }

        if let Some(p) = case.publisher.clone() {
            let host = self.host.clone();
            let epoch = epoch.clone();
            let mut begun = self.begun.clone();
            self.tasks.push(tokio::spawn(async move {
                sleep_since(&mut begun, &epoch, Duration::from_millis(p.start_ms)).await;
                for i in 1..=p.count {
                    // Like the simulator's publisher: it retries while the server is down.
                    loop {
                        let topics = {
                            let h = host.lock().unwrap_or_else(PoisonError::into_inner);
                            h.connections.as_ref().map(|_| h.topics.clone())
                        };
                        if let Some(topics) = topics {
                            if topics.publish(&p.topic, None, format!("e{i}")).is_ok() {
                                break;
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    tokio::time::sleep(Duration::from_millis(p.every_ms)).await;
                }
            }));
        }
    }

    fn connections(&self) -> Vec<Duration> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// What the server received, without a browser's page loads, and without requests for
    /// another case's script: a client of a run that has ended can reach a port this run reuses.
    fn requests(&self) -> Vec<ReceivedRequest> {
        self.log
            .snapshot()
            .into_iter()
            .filter(|r| {
                !crate::browser::is_page_target(&r.target)
                    && !self.foreign(&r.target)
                    && !sse_case::schedule::is_companion(&r.target)
            })
            .collect()
    }

    fn foreign(&self, target: &str) -> bool {
        foreign(&self.script_id, target)
    }

    async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            task.abort();
            let _ = task.await;
        }
        let serving = {
            let mut h = self.host.lock().unwrap_or_else(PoisonError::into_inner);
            h.connections = None;
            h.alive.cancel();
            h.serving.take()
        };
        if let Some(task) = serving {
            let _ = tokio::time::timeout(Duration::from_millis(500), task).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_for_another_case_is_not_this_run_s() {
        assert!(!foreign(
            "status-204-fails",
            "/cases/status-204-fails?run=x"
        ));
        assert!(!foreign(
            "status-204-fails",
            "/cases/harness-browser-page#{}"
        ));
        assert!(!foreign("status-204-fails", "/sse/1?limit=3"));
        assert!(foreign(
            "content-type-params",
            "/cases/stream.utf8-lone-continuation.bytes"
        ));
        assert!(foreign("stream.a.whole", "/cases/stream.a.bytes"));
    }
}
