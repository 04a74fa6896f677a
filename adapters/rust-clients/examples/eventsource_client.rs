//! LaunchDarkly's `eventsource-client` through the whole case catalogue, one `cargo test`-style
//! test per case, over loopback and in the simulator.
//!
//! ```text
//! cargo run -p sse-rust-clients --example eventsource_client                 # every case, both transports
//! cargo run -p sse-rust-clients --example eventsource_client -- loopback::status-204-fails
//! SSE_REPORT=target/conformance-eventsource-client cargo run -p sse-rust-clients --example eventsource_client
//! ```

use sse_harness::run::Transport;

fn main() {
    sse_rust_clients::main(
        sse_rust_clients::EventsourceClient,
        &[Transport::Loopback, Transport::Simulated],
    );
}
