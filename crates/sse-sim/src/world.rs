//! Builds the turmoil world for a case (hosts `server`, `proxy`, `client`, and `publisher` when
//! the case publishes), runs it in simulated time, applies the time-scheduled faults between
//! steps (server crash and restart, partition and repair), and returns the client's trace.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sse_model::Trace;
use sse_server::{Config, Server, TopicStore};
use tokio_util::sync::CancellationToken;

use crate::case::{Case, Fault, Publisher};
use crate::{client, proxy};

/// What went wrong running a case (not: the client misbehaved; that shows in the trace).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A host failed (a bug in the simulator or the server, never expected).
    #[error("simulation of {case} with seed {seed} failed: {reason}")]
    Host {
        /// The case id.
        case: String,
        /// The seed.
        seed: u64,
        /// What turmoil reported.
        reason: String,
    },
}

/// The reference server as a turmoil listener.
struct SimListener(turmoil::net::TcpListener);

impl sse_server::Listener for SimListener {
    type Io = turmoil::net::TcpStream;
    async fn accept(&mut self) -> std::io::Result<(Self::Io, SocketAddr)> {
        self.0.accept().await
    }
}

/// The server configuration a case asks for: the reference server's defaults, except where the
/// case says otherwise; scripted cases are served from the case file's directory.
fn server_config(case: &Case) -> Config {
    let mut config = Config {
        cases_dir: case.path.parent().map(std::path::Path::to_path_buf),
        ..Config::default()
    };
    if let Some(r) = &case.server.reference {
        if let Some(ms) = r.retry_ms {
            config.retry = (ms > 0).then_some(ms);
        }
        if let Some(ms) = r.keep_alive_ms {
            config.keep_alive = (ms > 0).then(|| Duration::from_millis(ms));
        }
        config.padding = r.padding.unwrap_or(config.padding);
        config.compression = r.compression.unwrap_or(config.compression);
        config.flush_each_event = r.flush_each_event.unwrap_or(config.flush_each_event);
        config.demo_interval = r
            .demo_interval_ms
            .map_or(config.demo_interval, Duration::from_millis);
        config.topic_log = r.topic_log.unwrap_or(config.topic_log);
        if let Some(origins) = &r.allowed_origins {
            config.allowed_origins.clone_from(origins);
        }
    }
    config
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
            _ => {}
        }
    }
    out.sort_by_key(|(at, _)| *at);
    out
}

/// The client's trace and what the world looked like at the end.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// What the client observably did.
    pub trace: Trace,
    /// Every request the client made, with all its headers.
    pub requests: Vec<sse_model::Request>,
    /// The reference server's topic store (for properties over published events).
    pub topics: Arc<TopicStore>,
}

/// Runs a case with a seed.
pub fn run(case: &Case, seed: u64) -> Result<Outcome, SimError> {
    let fail = |reason: String| SimError::Host {
        case: case.id.clone(),
        seed,
        reason,
    };
    let mut sim = turmoil::Builder::new()
        .simulation_duration(case.duration() + Duration::from_secs(10))
        .min_message_latency(Duration::ZERO)
        .max_message_latency(Duration::ZERO)
        .rng_seed(seed)
        .build();

    let config = server_config(case);
    let durable = case
        .server
        .reference
        .as_ref()
        .and_then(|r| r.durable_topics)
        .unwrap_or(true);
    let topics = Arc::new(TopicStore::new(config.topic_log, config.topic_channel));
    let store = topics.clone();
    sim.host("server", move || {
        let config = config.clone();
        let topics = if durable {
            store.clone()
        } else {
            Arc::new(TopicStore::new(config.topic_log, config.topic_channel))
        };
        async move {
            let listener = SimListener(turmoil::net::TcpListener::bind("0.0.0.0:80").await?);
            Server::with_topics(config, topics)
                .serve(listener, CancellationToken::new(), Duration::from_secs(1))
                .await;
            Ok(())
        }
    });

    let faults = Arc::new(case.faults.clone());
    sim.host("proxy", move || proxy::run(faults.clone(), "server:80"));

    if let Some(publisher) = case.publisher.clone() {
        sim.host("publisher", move || publish(publisher.clone()));
    }

    let recording = Arc::new(Mutex::new(client::Recording::default()));
    let url = format!("http://proxy{}", case.client_path());
    sim.client(
        "client",
        client::run(url, case.client.clone(), recording.clone()),
    );

    for f in &case.faults {
        if let Fault::Latency { ms, jitter_ms } = *f {
            sim.set_link_latency("client", "proxy", Duration::from_millis(ms));
            if jitter_ms > 0 {
                sim.set_link_max_message_latency(
                    "client",
                    "proxy",
                    Duration::from_millis(ms + jitter_ms),
                );
            }
        }
    }

    let mut pending = schedule(&case.faults).into_iter().peekable();
    while sim.elapsed() < case.duration() {
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
    let recording = std::mem::take(&mut *recording.lock().map_err(|e| fail(e.to_string()))?);
    Ok(Outcome {
        trace: recording.trace,
        requests: recording.requests,
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

async fn post(topic: &str, data: &str) -> Result<(), Box<dyn std::error::Error>> {
    use http_body_util::Full;
    let mut sender = crate::net::connect_http1("server", 80).await?;
    let req = http::Request::post(format!("/topics/{topic}"))
        .header("host", "server")
        .body(Full::new(bytes::Bytes::from(data.to_owned())))?;
    let response = tokio::time::timeout(Duration::from_secs(2), sender.send_request(req)).await??;
    if response.status() == 201 {
        Ok(())
    } else {
        Err(format!("status {}", response.status()).into())
    }
}
