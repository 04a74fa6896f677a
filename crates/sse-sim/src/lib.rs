//! Deterministic network simulator for Server-Sent Events on turmoil: the model's `EventSource`
//! talks through a fault-injecting proxy to the reference server (or a scripted one), all in
//! simulated time, so reconnection and resume behaviour is checked without a real clock and any
//! run is reproduced by its seed.
//!
//! Partitions are modelled as turmoil `hold`/`release` (TCP keeps the connection and delivers
//! late; nothing is silently lost, as TCP retransmission guarantees), and lost connections as the
//! proxy cutting them; turmoil's `partition` would drop segments without breaking the stream,
//! which TCP never does.

pub mod case;
pub mod chaos;
mod client;
mod net;
mod proxy;
pub mod world;

pub use case::{Case, CaseError, Fault, load, load_dir};
pub use world::{Outcome, SimError, run};
