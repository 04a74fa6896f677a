//! The SSE conformance harness: it owns the case, judges implementations against it, and
//! reports. A case is data (a scripted or reference server, faults, what the client is asked to
//! do); its expectation comes from the reviewed golden trace; any implementation of [`Client`]
//! runs it in the simulator (simulated time, via `sse-sim`) or over loopback sockets, and
//! [`judge`] turns what it observably did into a verdict per requirement.

pub mod browser;
pub mod case_server;
pub mod chaos;
pub mod client;
pub mod loopback;
pub mod mimic;
pub mod model;
mod open;
mod remote;
pub mod run;
pub mod service;
pub mod service_check;
mod simulated;
pub mod task;

pub use sse_case::{LoadError, case, catalogue, reading, spec, stream_case};
pub use sse_http::fetch;
pub use sse_judge::{escape, evidence, expect, judge};
pub use sse_report as report;

pub use case::Case;
pub use catalogue::Catalogue;
pub use client::{
    Capabilities, Capability, Client, ClientError, Command, Identity, Net, Observed, Observer,
    OpenRequest, Seen, Session, Settings,
};
pub use expect::Expectation;
pub use judge::{Context, Outcome, Timing, Verdict};
pub use model::ModelClient;
pub use spec::{Level, Requirement};

/// What a client author needs, in one import: `use sse_harness::prelude::*;`.
pub mod prelude {
    pub use crate::client::{
        Capabilities, Capability, Client, ClientError, Command, Identity, MessageEvent, Observer,
        OpenRequest, PageEvent, ReadyState, Seen, Session, TakenAt,
    };
    pub use crate::mimic::Suite;
    pub use crate::run::Transport;
    pub use crate::task::{TaskClient, get};
    pub use futures::StreamExt as _;
}
