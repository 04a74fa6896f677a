//! What one run of a case produced, as the judge reads it: the client's observations, the
//! requests the case server received, and when the run ended.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sse_case::observed::{Held, Observed};
use sse_case::request::ReceivedRequest;

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
    #[serde(with = "sse_case::millis")]
    pub ended: Duration,
    /// How long the run took in real time.
    #[serde(with = "sse_case::millis")]
    pub wall: Duration,
    /// Why the harness stopped keeping what the client reported (a limit of
    /// the harness's observer or of a runner), if it did: the case fails saying so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrun: Option<String>,
    /// The process budget the observations hold until the run is dropped.
    #[serde(skip)]
    pub held: Arc<Held>,
}
