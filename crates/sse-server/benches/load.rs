//! Loopback load benchmark of the reference server against a minimal axum `Sse` server doing
//! the same job, measured in the same run (`cargo bench -p sse-server --bench load`).
//!
//! 1. Memory per idle stream: RSS of the server process before and after 10,000 idle event
//!    streams, divided by the count; once as 10,000 HTTP/1.1 connections (raw TCP clients that
//!    read the headers and then wait), once as 100 HTTP/2 connections of 100 streams each. The
//!    server's live heap (counted by its allocator) is reported beside RSS.
//! 2. Broadcast throughput: 1,000 subscribers on one topic, a publisher POSTs 2,000 events of
//!    100 bytes over one keep-alive connection; events delivered per second, from the first
//!    publish until every subscriber has every event.
//!
//! Each server runs in a child process (this binary with `--serve ours|axum`), so its RSS is its
//! own. Results go to stdout and to `target/server-bench.json`. Everything is bounded by timeouts.

// The bench's own helpers need no docs.
#![allow(missing_docs)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use support::{Peer, ServerProcess, open_stream, publish};

const IDLE_STREAMS: usize = 10_000;
const H2_STREAMS_PER_CONNECTION: usize = 100;
const SUBSCRIBERS: usize = 1_000;
const EVENTS: usize = 2_000;
const EVENT_BYTES: usize = 100;
const DEADLINE: Duration = Duration::from_secs(120);

fn main() {
    if support::serve_if_asked() || !support::benchmarking() {
        return;
    }
    let runtime = support::runtime();
    let mut results = Vec::new();
    for peer in [Peer::Ours, Peer::Axum] {
        let r = runtime.block_on(measure(peer));
        println!(
            "{}: idle stream RSS {:.0} B (heap {:.0} B) on HTTP/1.1, {:.0} B (heap {:.0} B) on HTTP/2; {:.0} events/s to {SUBSCRIBERS} subscribers",
            peer.name(),
            r.h1.rss,
            r.h1.heap,
            r.h2.rss,
            r.h2.heap,
            r.events_per_sec
        );
        results.push(r);
    }
    let json = serde_json::json!({
        "idle_streams": IDLE_STREAMS,
        "h2_streams_per_connection": H2_STREAMS_PER_CONNECTION,
        "subscribers": SUBSCRIBERS,
        "events": EVENTS,
        "event_bytes": EVENT_BYTES,
        "results": results.iter().map(|r| serde_json::json!({
            "peer": r.peer,
            "h1_rss_per_stream": r.h1.rss,
            "h1_heap_per_stream": r.h1.heap,
            "h2_rss_per_stream": r.h2.rss,
            "h2_heap_per_stream": r.h2.heap,
            "events_per_sec": r.events_per_sec,
            "broadcast_secs": r.broadcast_secs,
        })).collect::<Vec<_>>(),
    });
    support::write_results("server-bench.json", &json);
}

/// Bytes per idle stream.
#[derive(Debug, Clone, Copy)]
struct PerStream {
    rss: f64,
    heap: f64,
}

struct Measured {
    peer: &'static str,
    h1: PerStream,
    h2: PerStream,
    events_per_sec: f64,
    broadcast_secs: f64,
}

fn per_stream(before: (u64, u64), after: (u64, u64)) -> PerStream {
    let n = IDLE_STREAMS as f64;
    PerStream {
        rss: after.0.saturating_sub(before.0) as f64 / n,
        heap: after.1.saturating_sub(before.1) as f64 / n,
    }
}

async fn measure(peer: Peer) -> Measured {
    let mut server = ServerProcess::spawn(peer);
    let addr = server.addr;
    let (h1, h2, (events_per_sec, broadcast_secs)) = tokio::time::timeout(DEADLINE, async {
        // Warm up: one stream and one publish, so lazy allocations are not counted per stream.
        let warm = open_stream(addr, "/topics/idle").await;
        publish(addr, &mut None, "warm", "x").await;
        tokio::time::sleep(Duration::from_millis(200)).await;

        let before = server.snapshot();
        let mut idle = Vec::with_capacity(IDLE_STREAMS);
        for _ in 0..IDLE_STREAMS / 500 {
            idle.extend(
                futures::future::join_all((0..500).map(|_| open_stream(addr, "/topics/idle")))
                    .await,
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let h1 = per_stream(before, server.snapshot());
        drop(idle);
        tokio::time::sleep(Duration::from_millis(500)).await;

        let before = server.snapshot();
        let mut h2 = Vec::new();
        for _ in 0..IDLE_STREAMS / H2_STREAMS_PER_CONNECTION {
            h2.push(open_h2_streams(addr, "/topics/idle2", H2_STREAMS_PER_CONNECTION).await);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let h2_result = per_stream(before, server.snapshot());
        drop(h2);
        drop(warm);
        tokio::time::sleep(Duration::from_millis(500)).await;

        (h1, h2_result, broadcast(addr).await)
    })
    .await
    .expect("benchmark finished within its deadline");
    Measured {
        peer: peer.name(),
        h1,
        h2,
        events_per_sec,
        broadcast_secs,
    }
}

/// One HTTP/2 connection with `n` open event streams (bodies kept, unread).
async fn open_h2_streams(
    addr: SocketAddr,
    path: &str,
    n: usize,
) -> Vec<hyper::Response<hyper::body::Incoming>> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .expect("h2 handshake");
    tokio::spawn(conn);
    let requests = (0..n).map(|_| {
        let mut sender = sender.clone();
        let req = hyper::Request::get(format!("http://{addr}{path}"))
            .header("accept", "text/event-stream")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .expect("request");
        async move { sender.send_request(req).await.expect("h2 stream") }
    });
    futures::future::join_all(requests).await
}

async fn broadcast(addr: SocketAddr) -> (f64, f64) {
    let delivered = Arc::new(AtomicU64::new(0));
    let mut subscribers = Vec::new();
    for _ in 0..SUBSCRIBERS / 250 {
        let opened =
            futures::future::join_all((0..250).map(|_| open_stream(addr, "/topics/fanout"))).await;
        subscribers.extend(opened);
    }
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel(SUBSCRIBERS);
    for mut sub in subscribers {
        let delivered = delivered.clone();
        let done_tx = done_tx.clone();
        tokio::spawn(async move {
            // Counts event terminators (LF LF), carrying the last byte across reads.
            let mut buf = vec![0u8; 64 * 1024];
            let mut prev = 0u8;
            let mut seen = 0usize;
            while seen < EVENTS {
                let n = match sub.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                for &b in &buf[..n] {
                    if b == b'\n' && prev == b'\n' {
                        seen += 1;
                    }
                    prev = b;
                }
            }
            delivered.fetch_add(seen as u64, Ordering::Relaxed);
            let _ = done_tx.send(()).await;
        });
    }
    drop(done_tx);
    let data = "x".repeat(EVENT_BYTES);
    let start = Instant::now();
    let mut conn = None;
    for _ in 0..EVENTS {
        publish(addr, &mut conn, "fanout", &data).await;
    }
    for _ in 0..SUBSCRIBERS {
        done_rx.recv().await.expect("subscriber finished");
    }
    let secs = start.elapsed().as_secs_f64();
    let total = delivered.load(Ordering::Relaxed);
    assert_eq!(
        total,
        (SUBSCRIBERS * EVENTS) as u64,
        "every subscriber got every event"
    );
    (total as f64 / secs, secs)
}
