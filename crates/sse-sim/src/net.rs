//! Small pieces every host of the simulated world shares: its clock, and the server's sleep
//! that may have no deadline (re-exported).

pub use sse_server::stream::sleep_until;

use std::time::Duration;

/// Simulated time since the start of the run, for logs kept by any host.
pub fn now() -> Duration {
    turmoil::sim_elapsed().unwrap_or_default()
}
