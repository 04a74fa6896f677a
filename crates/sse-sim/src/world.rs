//! Builds the turmoil world (hosts `server`, `proxy` (on three ports, three origins), `client`, and
//! `publisher` when there is one), runs it in simulated time, applies the time-scheduled faults between steps (server
//! crash and restart, partition and repair), and returns what the server received.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sse_server::{Config, ReceivedRequest, RequestLog, Server, TopicStore};
use tokio_util::sync::CancellationToken;

use crate::fault::{Fault, Publisher};
pub use crate::net::now;
use crate::proxy;
pub use crate::proxy::{OTHER_PORT, PAGE_PORT};

/// Where the client host reaches the server: through the proxy, on port 80.
pub const CLIENT_BASE_URL: &str = sse_case::origins::SIMULATED_STREAM;

/// Where the client host reaches the server's second origin (same proxy, port [`OTHER_PORT`]):
/// the server's [`Config::other_origin`] in every world.
pub const OTHER_BASE_URL: &str = sse_case::origins::SIMULATED_OTHER;

/// The page's origin (same proxy, port [`PAGE_PORT`]): the server's [`Config::page_origin`] in
/// every world.
pub const PAGE_BASE_URL: &str = sse_case::origins::SIMULATED_PAGE;

/// The header the publisher marks its requests with, so the log shows only the client's.
const PUBLISHER_HEADER: &str = "x-sse-sim-publisher";

/// What went wrong running a world (not: the client misbehaved; that shows in what it observed).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A host failed (a bug in the simulator, the server or the client driver).
    #[error("simulation of {name} with seed {seed} failed: {reason}")]
    Host {
        /// The world's name (a case id).
        name: String,
        /// The seed.
        seed: u64,
        /// What turmoil reported.
        reason: String,
    },
}

/// Everything about a simulated run except the client.
#[derive(Debug, Clone)]
pub struct World {
    /// A name for errors (the case id).
    pub name: String,
    /// The reference server's configuration, scripts included.
    pub config: Config,
    /// Whether topics survive a server restart (a durable store) or start empty.
    pub durable_topics: bool,
    /// Faults, applied by the proxy or the world.
    pub faults: Vec<Fault>,
    /// An optional publisher to a topic.
    pub publisher: Option<Publisher>,
    /// Simulated run length.
    pub duration: Duration,
    /// turmoil's RNG seed (latency jitter, scheduling).
    pub seed: u64,
}

/// The reference server as a turmoil listener.
struct SimListener(turmoil::net::TcpListener);

impl sse_server::Listener for SimListener {
    type Io = turmoil::net::TcpStream;
    async fn accept(&mut self) -> std::io::Result<(Self::Io, SocketAddr)> {
        self.0.accept().await
    }
}

/// A time-scheduled action on the simulation itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheduled {
    Crash,
    Restart,
    Hold,
    Release,
}

fn schedule(faults: &[Fault]) -> Vec<(Duration, Scheduled)> {
    let mut out = Vec::new();
    for f in faults {
        match *f {
            Fault::ServerCrash {
                at_ms,
                restart_at_ms,
            } => {
                out.push((Duration::from_millis(at_ms), Scheduled::Crash));
                if let Some(r) = restart_at_ms {
                    out.push((Duration::from_millis(r), Scheduled::Restart));
                }
            }
            Fault::Partition {
                at_ms,
                repair_at_ms,
            } => {
                out.push((Duration::from_millis(at_ms), Scheduled::Hold));
                out.push((Duration::from_millis(repair_at_ms), Scheduled::Release));
            }
            // Applied when the world is built.
            Fault::Latency { .. } => {}
            // The proxy's, per connection.
            Fault::Drop { .. }
            | Fault::Buffer { .. }
            | Fault::Stall { .. }
            | Fault::IdleTimeout { .. } => {}
        }
    }
    out.sort_by_key(|(at, _)| *at);
    out
}

/// What the server saw, and its topics at the end.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Every request the client's connections delivered to the server, in simulated time.
    pub requests: Vec<ReceivedRequest>,
    /// When each client connection reached the proxy, in simulated time, whether or not the
    /// server was there to take it (attempts a crashed server refuses show only here).
    pub connections: Vec<Duration>,
    /// The reference server's topic store (for properties over published events).
    pub topics: Arc<TopicStore>,
}

/// Runs `client` on the `client` host of `world` until the world's duration has passed. The
/// client reaches the server at [`CLIENT_BASE_URL`] (through the proxy); it connects with
/// `turmoil::net::TcpStream` and keeps time with `tokio::time` (simulated here).
pub fn run<F>(world: &World, client: F) -> Result<Outcome, SimError>
where
    F: Future<Output = turmoil::Result> + 'static,
{
    let fail = |reason: String| SimError::Host {
        name: world.name.clone(),
        seed: world.seed,
        reason,
    };
    let mut sim = turmoil::Builder::new()
        .simulation_duration(world.duration + Duration::from_secs(10))
        .min_message_latency(Duration::ZERO)
        .max_message_latency(Duration::ZERO)
        .rng_seed(world.seed)
        .build();

    let config = Config {
        other_origin: Some(OTHER_BASE_URL.to_owned()),
        origin: Some(CLIENT_BASE_URL.to_owned()),
        page_origin: Some(PAGE_BASE_URL.to_owned()),
        ..world.config.clone()
    };
    let durable = world.durable_topics;
    let topics = Arc::new(TopicStore::for_config(&config));
    let log = Arc::new(RequestLog::new(Arc::new(now)));
    let store = topics.clone();
    let server_log = log.clone();
    sim.host("server", move || {
        let config = config.clone();
        let topics = if durable {
            store.clone()
        } else {
            Arc::new(TopicStore::for_config(&config))
        };
        let log = server_log.clone();
        async move {
            let listener = SimListener(turmoil::net::TcpListener::bind("0.0.0.0:80").await?);
            let server = Server::with_topics(config, topics);
            server.with_request_log(log);
            server
                .serve(listener, CancellationToken::new(), Duration::from_secs(1))
                .await;
            Ok(())
        }
    });

    let faults = Arc::new(world.faults.clone());
    let connections = Arc::new(Mutex::new(Vec::new()));
    let proxy_log = connections.clone();
    sim.host("proxy", move || {
        proxy::run(faults.clone(), "server:80", proxy_log.clone())
    });

    if let Some(publisher) = world.publisher.clone() {
        sim.host("publisher", move || publish(publisher.clone()));
    }

    sim.client("client", client);

    for f in &world.faults {
        if let Fault::Latency { ms, jitter_ms } = *f {
            sim.set_link_latency("client", "proxy", Duration::from_millis(ms));
            if jitter_ms > 0 {
                sim.set_link_max_message_latency(
                    "client",
                    "proxy",
                    Duration::from_millis(ms.saturating_add(jitter_ms)),
                );
            }
        }
    }

    let mut pending = schedule(&world.faults).into_iter().peekable();
    while sim.elapsed() < world.duration {
        while let Some((_, action)) = pending.next_if(|(at, _)| *at <= sim.elapsed()) {
            match action {
                Scheduled::Crash => sim.crash("server"),
                Scheduled::Restart => sim.bounce("server"),
                Scheduled::Hold => sim.hold("client", "proxy"),
                Scheduled::Release => sim.release("client", "proxy"),
            }
        }
        sim.step().map_err(|e| fail(e.to_string()))?;
    }
    let requests = log
        .snapshot()
        .into_iter()
        .filter(|r| r.header(PUBLISHER_HEADER).is_none())
        .collect();
    let connections =
        std::mem::take(&mut *connections.lock().unwrap_or_else(PoisonError::into_inner));
    Ok(Outcome {
        requests,
        connections,
        topics,
    })
}

/// The `publisher` host: POSTs `e1`, `e2`, ... to the topic on the server, retrying each event
/// until the server accepts it (it may be down).
async fn publish(p: Publisher) -> turmoil::Result {
    tokio::time::sleep(Duration::from_millis(p.start_ms)).await;
    for i in 1..=p.count {
        loop {
            if post(&p.topic, &format!("e{i}")).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(p.every_ms)).await;
    }
    std::future::pending::<()>().await;
    Ok(())
}

async fn post(topic: &str, data: &str) -> Result<(), sse_http::fetch::FetchError> {
    use sse_http::exchange::{request_with, send};
    let url = url::Url::parse(&format!("http://server/topics/{topic}"))
        .map_err(|e| sse_http::fetch::FetchError::BadUrl(e.to_string()))?;
    let req = request_with(
        "POST",
        &url,
        &[(PUBLISHER_HEADER, "1")],
        Some(bytes::Bytes::from(data.to_owned())),
    )?;
    let response = tokio::time::timeout(
        Duration::from_secs(2),
        send(&sse_http::net::Net::simulated(), &url, req),
    )
    .await
    .map_err(|_| sse_http::fetch::FetchError::Timeout {
        url: url.to_string(),
        limit: Duration::from_secs(2),
    })??;
    if response.status() == 201 {
        Ok(())
    } else {
        Err(sse_http::fetch::FetchError::Http(format!(
            "status {}",
            response.status()
        )))
    }
}
