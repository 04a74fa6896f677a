//! The server: configuration, the accept loop (generic over the transport), HTTP/1.1 and
//! HTTP/2 (prior knowledge) on the same port, connection-level protection, graceful shutdown.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio_util::sync::CancellationToken;

use crate::cases::Scripts;
use crate::listener::{Listener, StallGuard};
use crate::metrics::{Metrics, Stats};
use crate::requests::RequestLog;
use crate::routes;
use crate::topics::TopicStore;

/// Everything an operator can choose about the reference server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// A comment is sent after this long without output (`SERVER-KEEPALIVE`); `None` disables.
    pub keep_alive: Option<Duration>,
    /// The `retry` sent at the start of every stream, in milliseconds; `None` sends none.
    pub retry: Option<u64>,
    /// Size of an initial padding comment for buffering middleboxes (0: none; at most
    /// [`crate::encode::MAX_PADDING`]).
    pub padding: usize,
    /// Compress streams for clients that accept gzip, deflate or br.
    pub compression: bool,
    /// Flush the compressor after every event; turning it off shows the delay it prevents.
    pub flush_each_event: bool,
    /// Origins allowed to read streams cross-origin; `*` allows any origin without credentials;
    /// `{page-origin}` stands for [`Config::page_origin`].
    pub allowed_origins: Vec<String>,
    /// Event-stream responses served at once; more get 503 with `Retry-After`.
    pub max_streams: usize,
    /// Streams compressed at once; past it a stream is served uncompressed, so a crowd of
    /// clients asking for gzip or br cannot multiply the server's memory per stream.
    pub max_compressed_streams: usize,
    /// Connections open at once; requests on connections past it get 503 with `Retry-After`.
    pub max_connections: usize,
    /// The `Retry-After` of a 503.
    pub retry_after: Duration,
    /// A connection whose writes stay blocked this long is cut (the client stopped reading).
    pub slow_client_timeout: Duration,
    /// Events each topic keeps for resume.
    pub topic_log: usize,
    /// Bytes of events each topic keeps for resume, at most.
    pub topic_log_bytes: usize,
    /// Topics held at once; past it the idle topic touched longest ago is evicted (and if every
    /// topic has subscribers, a new one is refused with 503).
    pub max_topics: usize,
    /// Events a live subscriber may fall behind before it is cut as too slow.
    pub topic_channel: usize,
    /// Time between events of the `/sse/{n}` demo streams.
    pub demo_interval: Duration,
    /// Largest accepted `POST /topics/{name}` body.
    pub max_publish_bytes: usize,
    /// Time a client has to send its request headers.
    pub header_read_timeout: Duration,
    /// Time a client has to send a whole request body (publishing).
    pub body_read_timeout: Duration,
    /// Scripts served at `/cases/{id}`, parsed and checked by whoever registers them.
    pub scripts: Scripts,
    /// A second origin (`scheme://host:port`) at which clients also reach this server, so a case
    /// can redirect across origins: scripted header values name it as `{other-origin}`.
    pub other_origin: Option<String>,
    /// The origin at which clients reach this server first: scripted header values name it as
    /// `{origin}` (an absolute `Location` back to the same origin).
    pub origin: Option<String>,
    /// The origin at which clients reach this server to load the page a case's client runs in
    /// (a browser's): scripted header values and `allowed_origins` name it as `{page-origin}`.
    pub page_origin: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            keep_alive: Some(Duration::from_secs(15)),
            retry: Some(1000),
            padding: 0,
            compression: true,
            flush_each_event: true,
            allowed_origins: Vec::new(),
            max_streams: 100_000,
            max_compressed_streams: 1_000,
            max_connections: 50_000,
            retry_after: Duration::from_secs(5),
            slow_client_timeout: Duration::from_secs(30),
            topic_log: 10_000,
            topic_log_bytes: crate::topics::DEFAULT_MAX_LOG_BYTES,
            max_topics: crate::topics::DEFAULT_MAX_TOPICS,
            topic_channel: 1024,
            demo_interval: Duration::from_secs(1),
            max_publish_bytes: 64 * 1024,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            scripts: Scripts::default(),
            other_origin: None,
            origin: None,
            page_origin: None,
        }
    }
}

/// State shared by every request.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) config: Config,
    pub(crate) topics: Arc<TopicStore>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) cases: crate::cases::Cases,
    /// Where every request is recorded, when someone asked for it.
    pub(crate) request_log: std::sync::OnceLock<Arc<RequestLog>>,
    /// Requests reading their bodies, to shed when descriptors run out.
    pub(crate) body_waits: crate::shed::BodyWaits,
    /// Connections that have not sent a request yet, to shed first when descriptors run out.
    pub(crate) silent: Arc<crate::shed::BodyWaits>,
}

impl Ctx {
    pub(crate) fn stats(&self) -> crate::metrics::Stats {
        crate::metrics::Stats {
            reading_bodies: self.body_waits.len(),
            ..self.metrics.snapshot()
        }
    }
}

/// The reference server. Cheap to clone; clones share topics and counters.
#[derive(Debug, Clone)]
pub struct Server {
    ctx: Arc<Ctx>,
}

impl Server {
    /// A server with fresh, in-memory topics.
    pub fn new(config: Config) -> Self {
        let topics = Arc::new(TopicStore::for_config(&config));
        Server::with_topics(config, topics)
    }

    /// A server using an existing topic store: pass the same store to a restarted server to
    /// model durable topics.
    pub fn with_topics(config: Config, topics: Arc<TopicStore>) -> Self {
        let cases = crate::cases::Cases::new(config.scripts.clone());
        Server {
            ctx: Arc::new(Ctx {
                config,
                topics,
                metrics: Arc::new(Metrics::default()),
                shutdown: CancellationToken::new(),
                cases,
                request_log: std::sync::OnceLock::new(),
                body_waits: crate::shed::BodyWaits::default(),
                silent: Arc::default(),
            }),
        }
    }

    /// Records every request this server (and its clones) receives into `log`, from now on.
    /// A server has one log: a second call leaves the first in place and returns `false`.
    pub fn with_request_log(&self, log: Arc<RequestLog>) -> bool {
        self.ctx.request_log.set(log).is_ok()
    }

    /// The topic store, for publishing from the same process.
    pub fn topics(&self) -> &Arc<TopicStore> {
        &self.ctx.topics
    }

    /// The counters now.
    pub fn stats(&self) -> Stats {
        self.ctx.stats()
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.ctx.config
    }

    /// Serves connections from `listener` until `shutdown` is cancelled; then ends every stream
    /// cleanly, lets responses finish (at most `grace`), and returns.
    pub async fn serve<L: Listener>(
        &self,
        mut listener: L,
        shutdown: CancellationToken,
        grace: Duration,
    ) {
        let graceful = GracefulShutdown::new();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.ctx.config.header_read_timeout);
        builder.http2().timer(TokioTimer::new());
        loop {
            let (io, peer) = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors: free some by giving up on the connections
                        // that have sent nothing longest, then on the bodies that have trickled
                        // in longest, so new clients are served. Then (and for any other
                        // failure) back off instead of spinning.
                        if crate::shed::out_of_descriptors(&e) {
                            let silent = self
                                .ctx
                                .silent
                                .shed_oldest(crate::shed::SHED_PER_SHORTAGE);
                            self.ctx.metrics.shed_silent(silent);
                            let bodies = self
                                .ctx
                                .body_waits
                                .shed_oldest(crate::shed::SHED_PER_SHORTAGE - silent);
                            self.ctx.metrics.shed_bodies(bodies);
                        }
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let (guard, within_limit) = self
                .ctx
                .metrics
                .open_connection(self.ctx.config.max_connections);
            let ctx = self.ctx.clone();
            let (silent, shed) = ctx.silent.enter_key();
            let key = silent.key;
            let io = StallGuard::new(
                io,
                ctx.config.slow_client_timeout,
                ctx.config.header_read_timeout,
                ctx.metrics.clone(),
            );
            let service = service_fn(move |req| {
                let ctx = ctx.clone();
                async move {
                    ctx.silent.leave(key);
                    if within_limit {
                        Ok::<_, Infallible>(routes::handle(ctx, req).await)
                    } else {
                        ctx.metrics.rejected();
                        Ok(routes::busy(&ctx, true))
                    }
                }
            });
            let conn = builder
                .serve_connection(TokioIo::new(io), service)
                .into_owned();
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                let _guard = guard;
                let _silent = silent;
                tokio::select! {
                    ended = conn => if let Err(e) = ended {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    },
                    // Shed while it had sent nothing: dropping it closes the socket.
                    () = shed.cancelled() => {}
                }
            });
        }
        tracing::info!("shutting down: ending streams");
        self.ctx.shutdown.cancel();
        if tokio::time::timeout(grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not close within the grace period");
        }
    }
}
