//! The smallest client under test: `cargo test -p sse-minimal-client` runs the catalogue on it
//! in the simulator. It is a stream parser (one response, no reconnection), so the cases about
//! reconnecting are ignored as unsupported; every other case judges it.

use sse_harness::prelude::*;

/// A client that reads one response with `sse_model`'s parser and reports each message.
#[derive(Clone)]
struct OneResponse;

impl TaskClient for OneResponse {
    fn identity(&self) -> Identity {
        Identity::new("one-response", "0.1.0")
    }

    fn capabilities(&self) -> Capabilities {
        [Capability::StreamParser, Capability::Simulated].into()
    }

    async fn run(self, request: OpenRequest, observer: Observer) {
        let mut body = match get(&request).await {
            Ok(got) if got.is_event_stream() => got.body,
            _ => return observer.error(None, "no event stream"),
        };
        let mut parser = sse_model::Parser::default();
        while let Some(Ok(bytes)) = body.next().await {
            let mut items = Vec::new();
            let _ = parser.feed(&bytes, &mut items);
            for item in items {
                if let sse_model::Item::Event(e) = item {
                    observer.message(&e.event_type, &e.data, &e.last_event_id);
                }
            }
        }
    }
}

fn main() {
    let suite = Suite::load().expect("the catalogue");
    suite.client(OneResponse, &[Transport::Simulated]).main();
}
