//! A minimal axum `Sse` server, written the way axum's documentation shows, with nothing the
//! suite's checks would reward added: what a Rust developer ships on a first try. Two kinds of
//! stream:
//! - `GET /sse/{n}`: the seed article's demo stream `n`, one event per interval, `id: <k>` and
//!   a number seeded from `n` and `k`; a reconnection with `Last-Event-ID: k` continues at
//!   `k + 1` with the same numbers;
//! - `GET /topics/{name}`: only what `POST /topics/{name}` publishes (the body is the data).
//!
//! axum's `KeepAlive::default()` sends a comment every 15 s. With `compressed`, tower-http's
//! `CompressionLayer` (gzip, br) compresses event streams too, which its default predicate
//! does not: the set-up whose events a compressor without a flush holds back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use tokio::sync::broadcast;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::BroadcastStream;
use tokio_util::sync::CancellationToken;

/// What differs between the set-ups this server is run in.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Compress every response, event streams included (tower-http, gzip and br).
    pub compressed: bool,
    /// Start every topic stream with a `retry` field, so a compressor has written something
    /// before the first event (the load bench compares like with like).
    pub opening_retry: bool,
    /// Time between the demo stream's events.
    pub interval: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            compressed: false,
            opening_retry: false,
            interval: Duration::from_secs(1),
        }
    }
}

type Topics = Arc<Mutex<HashMap<String, (u64, broadcast::Sender<(u64, Arc<str>)>)>>>;

#[derive(Clone)]
struct Shared {
    topics: Topics,
    options: Options,
}

fn sender(topics: &Topics, name: &str) -> broadcast::Sender<(u64, Arc<str>)> {
    let mut t = topics.lock().unwrap_or_else(PoisonError::into_inner);
    t.entry(name.to_owned())
        .or_insert_with(|| (0, broadcast::channel(1024).0))
        .1
        .clone()
}

async fn subscribe(
    State(shared): State<Shared>,
    Path(name): Path<String>,
) -> Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>> {
    let rx = sender(&shared.topics, &name).subscribe();
    let opening = shared
        .options
        .opening_retry
        .then(|| Ok(Event::default().retry(Duration::from_secs(1))));
    let events = BroadcastStream::new(rx)
        .filter_map(|m| m.ok())
        .map(|(id, data)| Ok(Event::default().id(id.to_string()).data(&*data)));
    Sse::new(tokio_stream::iter(opening).chain(events)).keep_alive(KeepAlive::default())
}

async fn publish(State(shared): State<Shared>, Path(name): Path<String>, body: String) -> String {
    let tx = sender(&shared.topics, &name);
    let id = {
        let mut t = shared.topics.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = t.entry(name).or_insert_with(|| (0, tx.clone()));
        entry.0 += 1;
        entry.0
    };
    let _ = tx.send((id, Arc::from(body)));
    format!("{{\"id\":{id}}}")
}

/// The demo stream's number for event `id` of stream `stream`: the same on every connection,
/// so a resumed stream can be compared with an unbroken one.
fn value(stream: u64, id: u64) -> u64 {
    let mut x = stream.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ id;
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (x ^ (x >> 31)) % 1_000_000
}

async fn demo(
    State(shared): State<Shared>,
    Path(stream): Path<u64>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>> {
    // Resume after the last id the client saw; anything unreadable starts over.
    let last: u64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let ticks =
        tokio_stream::wrappers::IntervalStream::new(tokio::time::interval(shared.options.interval));
    let mut id = last;
    let events = ticks.map(move |_| {
        id += 1;
        Ok(Event::default()
            .id(id.to_string())
            .data(value(stream, id).to_string()))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// Serves on `listener` until `stop` is cancelled.
pub async fn serve(listener: tokio::net::TcpListener, stop: CancellationToken, options: Options) {
    let shared = Shared {
        topics: Arc::default(),
        options,
    };
    let app = Router::new()
        .route(
            "/topics/{name}",
            axum::routing::get(subscribe).post(publish),
        )
        .route("/sse/{stream}", axum::routing::get(demo))
        .with_state(shared);
    let app = if options.compressed {
        // The default predicate leaves `text/event-stream` alone; a user who wants their
        // streams compressed replaces it, as here.
        let always =
            |_: http::StatusCode, _: http::Version, _: &http::HeaderMap, _: &http::Extensions| true;
        app.layer(
            tower_http::compression::CompressionLayer::new()
                .gzip(true)
                .br(true)
                .compress_when(always),
        )
    } else {
        app
    };
    let _ = axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await;
}

#[cfg(test)]
mod tests {
    use super::value;

    #[test]
    fn demo_numbers_depend_on_stream_and_id_only() {
        assert_eq!(value(1, 5), value(1, 5));
        assert_ne!(value(1, 5), value(2, 5));
        assert_ne!(value(1, 5), value(1, 6));
    }
}
