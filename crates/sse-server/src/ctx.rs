//! The state every request of one server shares.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::requests::RequestLog;
use crate::topics::TopicStore;

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
