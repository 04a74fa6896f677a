//! The body of every event-stream response: a source of events wrapped with what every stream
//! gets (padding, initial `retry`, keep-alive comments when idle, compression flushed per event,
//! clean end on shutdown), pulled by hyper so a slow client never makes the server buffer.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::StreamBody;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Frame;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::compress::{Coding, Encoder};
use crate::encode;
use crate::metrics::{Metrics, StreamGuard};

/// The response body type of the whole server.
pub type Body = UnsyncBoxBody<Bytes, io::Error>;

/// What a source yields next.
#[derive(Debug)]
pub(crate) enum Item {
    /// Complete events (or comments) to send.
    Data(Bytes),
    /// The stream is over: finish the body cleanly (the client will reconnect).
    End,
    /// Cut the connection without a clean end (a reset, for fault scripts and slow clients).
    Abort(&'static str),
}

/// A producer of events for one response. `next` must be cancel-safe: the driver drops it when
/// a keep-alive is due or the server shuts down, and calls it again later.
pub(crate) trait Source: Send + 'static {
    fn next(&mut self) -> impl Future<Output = Item> + Send;
}

/// How one stream is framed.
#[derive(Debug, Clone)]
pub(crate) struct Framing {
    /// Initial padding comment size in bytes (0: none).
    pub(crate) padding: usize,
    /// Initial `retry` in milliseconds.
    pub(crate) retry: Option<u64>,
    /// Send a comment after this long without output.
    pub(crate) keep_alive: Option<Duration>,
    /// Content coding.
    pub(crate) coding: Coding,
    /// Flush the compressor after each event (off only to show the delay it causes).
    pub(crate) flush_each_event: bool,
}

struct Driver<S> {
    source: S,
    framing: Framing,
    encoder: Option<Encoder>,
    preamble: Option<Bytes>,
    shutdown: CancellationToken,
    metrics: Arc<Metrics>,
    _guard: StreamGuard,
    done: bool,
    last_output: Instant,
}

/// Builds the response body for a source.
pub(crate) fn body<S: Source>(
    source: S,
    framing: Framing,
    shutdown: CancellationToken,
    metrics: Arc<Metrics>,
    guard: StreamGuard,
) -> Body {
    let mut preamble = BytesMut::new();
    if framing.padding > 0 {
        preamble.extend_from_slice(&encode::padding(framing.padding));
    }
    if let Some(millis) = framing.retry {
        preamble.extend_from_slice(&encode::retry(millis));
    }
    let driver = Driver {
        encoder: Some(Encoder::new(framing.coding)),
        source,
        framing,
        preamble: (!preamble.is_empty()).then(|| preamble.freeze()),
        shutdown,
        metrics,
        _guard: guard,
        done: false,
        last_output: Instant::now(),
    };
    let frames = futures::stream::unfold(driver, |mut d| async move {
        let out = d.next_output().await?;
        Some((out.map(Frame::data), d))
    });
    UnsyncBoxBody::new(StreamBody::new(frames))
}

impl<S: Source> Driver<S> {
    /// The next non-empty piece of output, or `None` when the body is complete.
    async fn next_output(&mut self) -> Option<io::Result<Bytes>> {
        loop {
            if self.done {
                return None;
            }
            let item = match self.preamble.take() {
                Some(bytes) => Item::Data(bytes),
                None => self.next_item().await,
            };
            // Restart the keep-alive clock on every item, even one a compressor without
            // per-event flush swallows: otherwise a due keep-alive would repeat at once.
            self.last_output = Instant::now();
            let out = match item {
                Item::Data(bytes) => {
                    let encoder = self.encoder.as_mut()?;
                    encoder.encode(&bytes, self.framing.flush_each_event)
                }
                Item::End => {
                    self.done = true;
                    match self.encoder.take() {
                        Some(encoder) => encoder.finish(),
                        None => return None,
                    }
                }
                Item::Abort(reason) => {
                    self.done = true;
                    // Yield once so hyper flushes what was already sent before it tears the
                    // connection down: "send these bytes, then cut" must deliver the bytes.
                    tokio::task::yield_now().await;
                    return Some(Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        reason,
                    )));
                }
            };
            match out {
                Ok(bytes) if bytes.is_empty() => continue,
                Ok(bytes) => {
                    self.metrics.add_bytes(bytes.len());
                    return Some(Ok(bytes));
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }

    async fn next_item(&mut self) -> Item {
        let keep_alive_at = self.framing.keep_alive.map(|d| self.last_output + d);
        tokio::select! {
            biased;
            () = self.shutdown.cancelled() => Item::End,
            item = self.source.next() => item,
            () = sleep_until(keep_alive_at) => Item::Data(encode::comment("keep-alive")),
        }
    }
}

/// Sleeps until `at`; with no deadline, forever (a `select!` branch that never fires).
pub async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
