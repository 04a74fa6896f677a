//! Counters the server keeps about itself, served at `GET /stats` and read by tests and benchmarks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::Serialize;

/// Live counters (all monotonic except `open_streams`).
#[derive(Debug, Default)]
pub struct Metrics {
    open_streams: AtomicUsize,
    open_compressed: AtomicUsize,
    open_connections: AtomicUsize,
    streams: AtomicU64,
    connections: AtomicU64,
    rejected_busy: AtomicU64,
    slow_disconnects: AtomicU64,
    shed_bodies: AtomicU64,
    shed_silent: AtomicU64,
    bytes_sent: AtomicU64,
    published: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Event-stream responses being served now.
    pub open_streams: usize,
    /// Of those, the ones being compressed.
    pub open_compressed: usize,
    /// Connections open now.
    pub open_connections: usize,
    /// Event-stream responses started since the server started.
    pub streams: u64,
    /// Connections accepted.
    pub connections: u64,
    /// Requests answered 503 because `max_streams` streams or `max_connections` connections were open.
    pub rejected_busy: u64,
    /// Streams cut because the client read too slowly.
    pub slow_disconnects: u64,
    /// Requests reading their bodies now.
    pub reading_bodies: usize,
    /// Requests given up on while their bodies trickled in, because the server ran out of file
    /// descriptors.
    pub shed_bodies: u64,
    /// Connections closed before sending a request, because the server ran out of file
    /// descriptors.
    pub shed_silent: u64,
    /// Body bytes produced for event streams (after compression).
    pub bytes_sent: u64,
    /// Events published to topics.
    pub published: u64,
}

impl Metrics {
    /// Current values (`reading_bodies` is filled in by the server, which tracks them).
    pub fn snapshot(&self) -> Stats {
        Stats {
            open_streams: self.open_streams.load(Ordering::Relaxed),
            open_compressed: self.open_compressed.load(Ordering::Relaxed),
            open_connections: self.open_connections.load(Ordering::Relaxed),
            streams: self.streams.load(Ordering::Relaxed),
            connections: self.connections.load(Ordering::Relaxed),
            rejected_busy: self.rejected_busy.load(Ordering::Relaxed),
            slow_disconnects: self.slow_disconnects.load(Ordering::Relaxed),
            reading_bodies: 0,
            shed_bodies: self.shed_bodies.load(Ordering::Relaxed),
            shed_silent: self.shed_silent.load(Ordering::Relaxed),
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            published: self.published.load(Ordering::Relaxed),
        }
    }

    /// Opens a stream slot if fewer than `max` are open; the guard frees it when dropped.
    pub(crate) fn try_open_stream(self: &Arc<Self>, max: usize) -> Option<StreamGuard> {
        let opened = self
            .open_streams
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok();
        if !opened {
            self.rejected();
            return None;
        }
        self.streams.fetch_add(1, Ordering::Relaxed);
        Some(StreamGuard {
            metrics: self.clone(),
            compressed: false,
        })
    }

    /// Counts a new connection; says whether it is within `max` (an excess connection is still
    /// served, but only with 503s, and the guard must be held for as long as it is open).
    pub(crate) fn open_connection(self: &Arc<Self>, max: usize) -> (ConnectionGuard, bool) {
        self.connections.fetch_add(1, Ordering::Relaxed);
        let before = self.open_connections.fetch_add(1, Ordering::AcqRel);
        (ConnectionGuard(self.clone()), before < max)
    }

    pub(crate) fn rejected(&self) {
        self.rejected_busy.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn slow_disconnect(&self) {
        self.slow_disconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn shed_bodies(&self, n: usize) {
        self.shed_bodies.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn shed_silent(&self, n: usize) {
        self.shed_silent.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn add_bytes(&self, n: usize) {
        self.bytes_sent.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn published(&self) {
        self.published.fetch_add(1, Ordering::Relaxed);
    }
}

/// Holds one of the `max_streams` slots (and, when compressing, one of the
/// `max_compressed_streams` slots) for as long as a stream body lives.
#[derive(Debug)]
pub(crate) struct StreamGuard {
    metrics: Arc<Metrics>,
    compressed: bool,
}

impl StreamGuard {
    /// Takes a compressed-stream slot if fewer than `max` are open; without one the stream is
    /// served uncompressed (a compressor's state is many times a plain stream's memory).
    pub(crate) fn try_compress(&mut self, max: usize) -> bool {
        if !self.compressed {
            self.compressed = self
                .metrics
                .open_compressed
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < max).then_some(n + 1)
                })
                .is_ok();
        }
        self.compressed
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.metrics.open_streams.fetch_sub(1, Ordering::AcqRel);
        if self.compressed {
            self.metrics.open_compressed.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Holds one open connection in the count.
#[derive(Debug)]
pub(crate) struct ConnectionGuard(Arc<Metrics>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::AcqRel);
    }
}
