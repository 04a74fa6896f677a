//! The fault vocabulary of the simulator, as case files write it: what a proxy does to the
//! client's connections, what happens to the link and to the server host, and a publisher that
//! feeds a topic. The same faults run on loopback, where they make sense there (see
//! `sse_sim::relay`).

use serde::{Deserialize, Serialize};

/// A publisher posting `count` events to `topic`, one every `every_ms`, from `start_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Publisher {
    /// Topic name.
    pub topic: String,
    /// Interval between events.
    pub every_ms: u64,
    /// How many events (data `e1`, `e2`, ...).
    pub count: u64,
    /// When the first is published.
    #[serde(default)]
    pub start_ms: u64,
}

/// A fault. Proxy faults apply to the client's connections in the order they are made
/// (`connections`, 1-based; empty means every connection).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Fault {
    /// Cut the connection after this many response bytes, or at this time. The cut is a FIN
    /// without HTTP's final chunk, so the client sees a broken body: a network error, exactly
    /// as after a reset (an HTTP client cannot tell the two apart mid-body). A *clean* close is
    /// the server ending the response, which scripts express with `end = "close"` (and a reset
    /// from the server with `end = "abort"`).
    Drop {
        /// Response bytes to let through first.
        after_bytes: Option<u64>,
        /// Simulated time of the cut.
        at_ms: Option<u64>,
        /// Which connections.
        #[serde(default)]
        connections: Vec<u32>,
    },
    /// A middlebox that holds response bytes until it has `bytes` of them or the upstream
    /// closes, then passes everything through.
    Buffer {
        /// Bytes held back.
        bytes: usize,
        /// Which connections.
        #[serde(default)]
        connections: Vec<u32>,
    },
    /// A proxy that cuts a connection after `ms` with no bytes in either direction.
    IdleTimeout {
        /// Idle limit.
        ms: u64,
    },
    /// Stop forwarding response bytes after `after_bytes`, keeping the connection open.
    Stall {
        /// Response bytes let through.
        after_bytes: u64,
        /// Which connections.
        #[serde(default)]
        connections: Vec<u32>,
    },
    /// One-way latency on the client-proxy link, with optional jitter.
    Latency {
        /// Base latency.
        ms: u64,
        /// Extra random latency up to this much.
        #[serde(default)]
        jitter_ms: u64,
    },
    /// The client-proxy link holds every segment from `at_ms` to `repair_at_ms` (TCP keeps the
    /// connection; data arrives late, none is lost).
    Partition {
        /// Start.
        at_ms: u64,
        /// End.
        repair_at_ms: u64,
    },
    /// The server host crashes at `at_ms` (every connection to it breaks) and starts again at
    /// `restart_at_ms` (if given).
    ServerCrash {
        /// Crash time.
        at_ms: u64,
        /// Restart time.
        restart_at_ms: Option<u64>,
    },
}
