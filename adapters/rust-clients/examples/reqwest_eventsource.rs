//! `reqwest-eventsource` through the whole case catalogue, one `cargo test`-style test per case,
//! over loopback.
//!
//! ```text
//! cargo run -p sse-rust-clients --example reqwest_eventsource
//! SSE_REPORT=target/conformance-reqwest-eventsource cargo run -p sse-rust-clients --example reqwest_eventsource
//! ```

use sse_harness::run::Transport;

fn main() {
    sse_rust_clients::main(sse_rust_clients::ReqwestEventsource, &[Transport::Loopback]);
}
