//! The reference Server-Sent Events server: the well-behaved peer every case and every external
//! client runs against, and the example server authors copy. hyper 1 + tokio; HTTP/1.1 and
//! HTTP/2 cleartext (prior knowledge) on one port; the accept loop is generic over [`Listener`],
//! so the simulator hosts the same server on `turmoil::net`.
//!
//! # Endpoints
//!
//! | request | answer |
//! | --- | --- |
//! | `GET /` | a page with start/stop buttons for several EventSources on the demo streams |
//! | `GET /sse/{n}?interval_ms=&limit=` | demo stream `n`: ids 1, 2, 3, ... one per interval, data [`demo::value`]`(n, id)`; resumes after `Last-Event-ID` (or `?since=`); after `limit` events the body ends, and a resume at or past `limit` gets **204** |
//! | `GET /topics/{name}` | subscribe: events published from now on, or after `Last-Event-ID` (or `?since=`) from the replay log, exactly once, in order |
//! | `POST /topics/{name}?event=TYPE` | publish the body (UTF-8, at most `max_publish_bytes`) as an event; answers `201 {"id":N}` |
//! | `DELETE /topics/{name}` | close the topic: subscribers end after what they have; later subscriptions that have everything get **204** |
//! | `GET /cases/{id}?run=KEY` | play the script registered for case `id` (see [`cases`]) |
//! | `OPTIONS /cases/{id}` | a permissive CORS preflight that uses up no scripted response |
//! | `GET /stats` | the counters of [`Stats`] as JSON |
//! | `OPTIONS *` | CORS preflight |
//!
//! Every event stream is `200`, `Content-Type: text/event-stream`, `Cache-Control: no-cache`,
//! `X-Accel-Buffering: no`; it starts with the optional padding comment and `retry`, sends a
//! keep-alive comment after `keep_alive` without output, and is compressed (gzip, br or deflate,
//! by `Accept-Encoding`) with a flush after every event. gzip and deflate streams share one
//! compressor per thread and keep only the last [`compress::DICTIONARY_BYTES`] of their own
//! plaintext, so a compressed stream costs little more memory than a plain one.
//!
//! # Resume rules for topics
//!
//! Ids are decimal sequence numbers from 1. `Last-Event-ID: k` replays every logged event after
//! `k`. When that is impossible the first event is `event: reset` with `id` set to the newest id
//! and data `{"reason":R,"resume_from":ID}`, then live events follow; `R` is `history-gone` (the
//! events after `k` left the bounded log), `unknown-id` (`k` is newer than anything published) or
//! `malformed-last-event-id` (not a decimal `u64`, or not visible ASCII). A client must resync on
//! `reset`; nothing is ever lost silently. On a demo stream a malformed `Last-Event-ID` restarts
//! the stream at id 1.
//!
//! # Protection
//!
//! At most `max_streams` streams and `max_connections` connections at once (past either, requests
//! get 503 with `Retry-After`; note that an `EventSource` treats 503 as fatal, as it does every
//! non-200); a connection whose writes stay blocked for
//! `slow_client_timeout` is cut; a topic subscriber `topic_channel` events behind is cut; request
//! headers must arrive within `header_read_timeout`; publish bodies are bounded; when an accept
//! fails for want of file descriptors, the 16 connections that have sent nothing longest are
//! closed (then the 16 bodies that have trickled longest), so new clients get in. Every cut is
//! counted in [`Stats`]. Cancelling the shutdown token ends every stream cleanly (compression
//! trailers included) and waits for connections to close.

pub mod cases;
pub mod compress;
mod config;
mod ctx;
pub mod demo;
pub mod encode;
pub mod listener;
pub mod metrics;
mod page;
pub mod requests;
mod routes;
pub mod server;
mod shed;
pub mod stream;
pub mod topics;

/// The unit tests count heap bytes (what a topic subscription holds).
#[cfg(test)]
#[global_allocator]
static TEST_ALLOCATOR: &stats_alloc::StatsAlloc<std::alloc::System> =
    &stats_alloc::INSTRUMENTED_SYSTEM;

pub use cases::{Script, Scripts};
pub use listener::Listener;
pub use metrics::Stats;
pub use requests::{ReceivedRequest, RequestLog};
pub use server::{Config, Server};
pub use topics::TopicStore;
