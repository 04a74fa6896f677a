//! The one error of the suite's HTTP client side, for every exchange it makes.

use std::time::Duration;

/// Why an exchange with a server gave nothing to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Not an `http://` URL with a host.
    #[error("{0:?} is not an http:// URL")]
    BadUrl(String),
    /// Connecting failed (a non-loopback host is refused here too).
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The server did not answer in time.
    #[error("no response from {url} within {limit:?}")]
    Timeout {
        /// The URL.
        url: String,
        /// The limit.
        limit: Duration,
    },
    /// The answer was not HTTP the client could read.
    #[error("{0}")]
    Http(String),
}
