//! Deterministic network simulator for Server-Sent Events on turmoil: a client (any future run
//! on the `client` host) talks through a fault-injecting proxy to the reference server (serving
//! scripts or its own streams), all in simulated time, so reconnection and resume behaviour is
//! checked without a real clock and any run is reproduced by its seed.
//!
//! Partitions are modelled as turmoil `hold`/`release` (TCP keeps the connection and delivers
//! late; nothing is silently lost, as TCP retransmission guarantees), and lost connections as the
//! proxy cutting them; turmoil's `partition` would drop segments without breaking the stream,
//! which TCP never does.
//!
//! The conformance harness (`sse-harness`) builds a [`World`] from a case and runs a client in
//! it; this crate knows nothing of cases or expectations.

pub use sse_case::fault;
mod net;
mod proxy;
pub mod relay;
pub mod world;

pub use fault::{Fault, Publisher};
pub use net::sleep_until;
pub use world::{
    CLIENT_BASE_URL, OTHER_BASE_URL, Outcome, PAGE_BASE_URL, SimError, World, now, run,
};
