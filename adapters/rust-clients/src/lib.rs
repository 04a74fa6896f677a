//! Rust SSE client libraries nobody here wrote, as implementations under test through the
//! harness's public [`Client`] trait: LaunchDarkly's `eventsource-client` 0.18.0 (loopback and
//! simulator) and `reqwest-eventsource` 0.6.0 (loopback: reqwest has no pluggable connector).
//!
//! `cargo xtask report --impl all` and `ssec run --impl NAME` run them as columns of the
//! report; `cargo run -p sse-rust-clients --example eventsource_client` runs one as a
//! `cargo test`-style suite (the harness's `mimic` API). Their failures are findings about the
//! libraries (`docs/findings.md`), never cases to change.

pub mod eventsource_client;
pub mod reqwest_eventsource;

use std::sync::Arc;

use sse_harness::Client;
use sse_harness::run::{Target, Transport};

pub use eventsource_client::EventsourceClient;
pub use reqwest_eventsource::ReqwestEventsource;

/// The `--impl` names this crate knows, each a client on a transport.
pub const KNOWN: [&str; 3] = [
    "eventsource-client-loopback",
    "eventsource-client-sim",
    "reqwest-eventsource-loopback",
];

/// The target an `--impl` name stands for; `None` for a name this crate does not know.
pub fn parse(spec: &str) -> Option<Target> {
    let (client, transport): (Arc<dyn Client>, Transport) = match spec {
        "eventsource-client" | "eventsource-client-loopback" => {
            (Arc::new(EventsourceClient), Transport::Loopback)
        }
        "eventsource-client-sim" => (Arc::new(EventsourceClient), Transport::Simulated),
        "reqwest-eventsource" | "reqwest-eventsource-loopback" => {
            (Arc::new(ReqwestEventsource), Transport::Loopback)
        }
        _ => return None,
    };
    Some(Target { client, transport })
}

/// This crate's clients, for `sse_harness::run::resolve`.
pub const LINKED: sse_harness::run::Linked = sse_harness::run::Linked {
    names: &KNOWN,
    parse,
};

/// Runs `client` as the harness's `cargo test`-style suite on `transports` (arguments as
/// libtest's: a filter, `--list`), or, with `SSE_REPORT=DIR`, writes its conformance report
/// (HTML, JSON, JUnit, Markdown) into `DIR`.
pub fn main(client: impl Client, transports: &[Transport]) {
    if let Some(dir) = std::env::var_os("SSE_REPORT") {
        let catalogue = sse_harness::Catalogue::load_default().unwrap_or_else(|e| panic!("{e}"));
        let client: Arc<dyn Client> = Arc::new(client);
        let targets: Vec<_> = transports
            .iter()
            .map(|&transport| Target {
                client: client.clone(),
                transport,
            })
            .collect();
        let report = sse_harness::run::conformance(
            &catalogue,
            &targets,
            &sse_harness::run::Selection::default(),
            sse_harness::evidence::Evidence::Abridged,
            &|_, _| {},
        );
        let dir = std::path::PathBuf::from(dir);
        report.write(&dir).unwrap_or_else(|e| panic!("{e}"));
        println!("wrote {}", dir.join("index.html").display());
        return;
    }
    let suite = sse_harness::mimic::Suite::load().unwrap_or_else(|e| panic!("{e}"));
    suite.client(client, transports).main();
}
