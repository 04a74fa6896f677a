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

pub use crate::config::Config;
use crate::ctx::Ctx;
use crate::listener::{Listener, StallGuard};
use crate::metrics::{Metrics, Stats};
use crate::requests::RequestLog;
use crate::routes;
use crate::topics::TopicStore;

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
