//! The hostile inputs that once hurt the reference server, rerun on loopback against the
//! reference server as shipped (`Config::default()`) and an axum peer, in the same run
//! (`cargo bench -p sse-server --bench hostile`; `cargo xtask bench --only hostile` also writes
//! BENCHMARKS.md).
//!
//! 1. Topic flood: 20,000 `POST /topics/tN` to distinct names over 50 kept-alive connections;
//!    the server's RSS and live heap before and after.
//! 2. Compressed idle streams: 1,000 streams asking for gzip, then 1,000 asking for br; RSS and
//!    live heap per stream while open, and the RSS still held a second after they closed. The
//!    peer is the axum server behind tower-http's `CompressionLayer`, told to compress event
//!    streams (its default predicate skips them).
//! 3. Slow bodies: with the server limited to 1,024 open descriptors, 1,100 POSTs send their
//!    headers and then one body byte every 3 s. The server's open descriptors and the time a
//!    fresh request takes to be answered, 4 s in and 14 s in (after the reference server's 10 s
//!    body timeout).
//! 4. Silent connections: with the server limited to 1,024 descriptors, 1,100 connections that
//!    send nothing; 4 s in, 12 fresh requests at once: how many are answered within 3 s.
//! 5. Subscriptions: 20,000 `GET /topics/anonN` to distinct names, 250 at a time, each closed
//!    once its headers arrive; the RSS and live heap growth after. Then 1,000 subscriptions to
//!    distinct topics held open: live heap per subscription.
//!
//! Each server runs in a child process; every phase is bounded by a deadline and stops itself.
//! Results go to stdout and to `target/hostile-bench.json`.

// The bench's own helpers need no docs.
#![allow(missing_docs)]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::{Peer, ServerProcess, open_stream_with, publish};

const TOPIC_REQUESTS: usize = 20_000;
const TOPIC_CONNECTIONS: usize = 50;
const TOPIC_BODY_BYTES: usize = 100;
/// As many as the reference server compresses at once by default, so every stream of both
/// servers is compressed and the rows compare like with like.
const COMPRESSED_STREAMS: usize = 1_000;
const SLOW_BODIES: usize = 1_100;
const FD_LIMIT: u32 = 1_024;
const SLOW_BYTE_EVERY: Duration = Duration::from_secs(3);
const PROBE_DURING: Duration = Duration::from_secs(4);
const PROBE_AFTER: Duration = Duration::from_secs(14);
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
const PHASE_DEADLINE: Duration = Duration::from_secs(120);
const MIB: f64 = 1024.0 * 1024.0;
const SILENT: usize = 1_100;
const SILENT_PROBES: usize = 12;
const SUBSCRIPTIONS: usize = 20_000;
const HELD_SUBSCRIPTIONS: usize = 1_000;

fn main() {
    if support::serve_if_asked() || !support::benchmarking() {
        return;
    }
    let runtime = support::runtime();
    let mut flood = Vec::new();
    for peer in [Peer::OursDefault, Peer::Axum] {
        let r = runtime.block_on(bounded(topic_flood(peer)));
        println!(
            "{}: {TOPIC_REQUESTS} topic POSTs grew RSS by {:.1} MiB (heap {:.1} MiB); statuses {}",
            peer.name(),
            r["rss_growth"].as_f64().unwrap_or(0.0) / MIB,
            r["heap_growth"].as_f64().unwrap_or(0.0) / MIB,
            r["statuses"]
        );
        flood.push(r);
    }
    let mut compressed = Vec::new();
    for encoding in ["gzip", "br"] {
        for peer in [Peer::OursDefault, Peer::AxumCompressed] {
            let r = runtime.block_on(bounded(compressed_streams(peer, encoding)));
            println!(
                "{}: {COMPRESSED_STREAMS} idle {encoding} streams ({} compressed): RSS {:.0} B \
                 (heap {:.0} B) per stream, {:.0} B per stream still held after closing",
                peer.name(),
                r["compressed"],
                r["rss_per_stream"].as_f64().unwrap_or(0.0),
                r["heap_per_stream"].as_f64().unwrap_or(0.0),
                r["retained_rss_per_stream"].as_f64().unwrap_or(0.0),
            );
            compressed.push(r);
        }
    }
    let mut slow = Vec::new();
    for peer in [Peer::OursDefault, Peer::Axum] {
        let r = runtime.block_on(bounded(slow_bodies(peer)));
        println!(
            "{}: {SLOW_BODIES} slow bodies: fds {} -> {} ({}s) -> {} ({}s); probe {} ms then {} ms; \
             {} slow requests answered",
            peer.name(),
            r["fds_before"],
            r["fds_during"],
            PROBE_DURING.as_secs(),
            r["fds_after"],
            PROBE_AFTER.as_secs(),
            r["probe_during_ms"],
            r["probe_after_ms"],
            r["slow_answered"],
        );
        slow.push(r);
    }
    let mut silent = Vec::new();
    for peer in [Peer::OursDefault, Peer::Axum] {
        let r = runtime.block_on(bounded(silent_connections(peer)));
        println!(
            "{}: {SILENT} silent connections: {} of {SILENT_PROBES} fresh requests answered",
            peer.name(),
            r["answered"],
        );
        silent.push(r);
    }
    let mut subscriptions = Vec::new();
    for peer in [Peer::OursDefault, Peer::Axum] {
        let r = runtime.block_on(bounded(subscription_churn(peer)));
        println!(
            "{}: {SUBSCRIPTIONS} subscriptions to distinct topics, closed: RSS grew {:.1} MiB \
             (heap {:.1} MiB); {HELD_SUBSCRIPTIONS} held: heap {:.0} B each",
            peer.name(),
            r["rss_growth"].as_f64().unwrap_or(0.0) / MIB,
            r["heap_growth"].as_f64().unwrap_or(0.0) / MIB,
            r["heap_per_held"].as_f64().unwrap_or(0.0),
        );
        subscriptions.push(r);
    }
    let json = json!({
        "silent": SILENT,
        "silent_probes": SILENT_PROBES,
        "silent_results": silent,
        "subscriptions": SUBSCRIPTIONS,
        "held_subscriptions": HELD_SUBSCRIPTIONS,
        "subscriptions_results": subscriptions,
        "topic_requests": TOPIC_REQUESTS,
        "topic_connections": TOPIC_CONNECTIONS,
        "topic_body_bytes": TOPIC_BODY_BYTES,
        "compressed_streams": COMPRESSED_STREAMS,
        "slow_bodies": SLOW_BODIES,
        "fd_limit": FD_LIMIT,
        "slow_byte_every_secs": SLOW_BYTE_EVERY.as_secs(),
        "probe_during_secs": PROBE_DURING.as_secs(),
        "probe_after_secs": PROBE_AFTER.as_secs(),
        "probe_timeout_secs": PROBE_TIMEOUT.as_secs(),
        "topic_flood": flood,
        "compressed": compressed,
        "slow_bodies_results": slow,
    });
    support::write_results("hostile-bench.json", &json);
}

async fn bounded<T>(phase: impl Future<Output = T>) -> T {
    tokio::time::timeout(PHASE_DEADLINE, phase)
        .await
        .expect("the phase finished within its deadline")
}

async fn topic_flood(peer: Peer) -> Value {
    let mut server = ServerProcess::spawn(peer);
    let addr = server.addr;
    publish(addr, &mut None, "warm", "x").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = server.snapshot();
    let start = Instant::now();
    let per_connection = TOPIC_REQUESTS / TOPIC_CONNECTIONS;
    let body = "x".repeat(TOPIC_BODY_BYTES);
    let tasks = (0..TOPIC_CONNECTIONS).map(|c| {
        let body = body.clone();
        tokio::spawn(async move {
            let mut conn = None;
            let mut statuses = Vec::with_capacity(per_connection);
            for i in 0..per_connection {
                statuses.push(publish(addr, &mut conn, &format!("t{c}-{i}"), &body).await);
            }
            statuses
        })
    });
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    for task in futures::future::join_all(tasks).await {
        for status in task.expect("publisher") {
            *statuses.entry(status.to_string()).or_default() += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = server.snapshot();
    json!({
        "peer": peer.name(),
        "statuses": statuses,
        "secs": secs,
        "rss_before": before.0,
        "rss_after": after.0,
        "rss_growth": after.0.saturating_sub(before.0),
        "heap_growth": after.1.saturating_sub(before.1),
    })
}

async fn subscription_churn(peer: Peer) -> Value {
    let mut server = ServerProcess::spawn(peer);
    let addr = server.addr;
    drop(open_stream_with(addr, "/topics/warm", "").await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server.snapshot();
    for batch in 0..SUBSCRIPTIONS / 250 {
        drop(open_distinct(addr, "anon", batch).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = server.snapshot();
    let mut held = Vec::with_capacity(HELD_SUBSCRIPTIONS);
    for batch in 0..HELD_SUBSCRIPTIONS / 250 {
        held.extend(open_distinct(addr, "held", batch).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let holding = server.snapshot();
    drop(held);
    json!({
        "peer": peer.name(),
        "rss_growth": after.0.saturating_sub(before.0),
        "heap_growth": after.1.saturating_sub(before.1),
        "heap_per_held": holding.1.saturating_sub(after.1) as f64 / HELD_SUBSCRIPTIONS as f64,
    })
}

/// 250 streams opened at once, each to a topic of its own (`/topics/{prefix}{batch}-{i}`).
async fn open_distinct(
    addr: SocketAddr,
    prefix: &str,
    batch: usize,
) -> Vec<(tokio::io::BufReader<TcpStream>, String)> {
    futures::future::join_all((0..250).map(|i| async move {
        open_stream_with(addr, &format!("/topics/{prefix}{batch}-{i}"), "").await
    }))
    .await
}

async fn compressed_streams(peer: Peer, encoding: &str) -> Value {
    let mut server = ServerProcess::spawn(peer);
    let addr = server.addr;
    let ask = format!("accept-encoding: {encoding}\r\n");
    let path = format!("/topics/idle-{encoding}");
    // Warm up the compressor code paths, then close, so every measured stream gets a slot.
    let warm = open_stream_with(addr, &path, &ask).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(warm);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server.snapshot();
    let mut open = Vec::with_capacity(COMPRESSED_STREAMS);
    let mut compressed = 0;
    for _ in 0..COMPRESSED_STREAMS / 250 {
        let batch =
            futures::future::join_all((0..250).map(|_| open_stream_with(addr, &path, &ask))).await;
        for (reader, head) in batch {
            if head.contains(&format!("content-encoding: {encoding}")) {
                compressed += 1;
            }
            open.push(reader);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = server.snapshot();
    drop(open);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = server.rss();
    let n = COMPRESSED_STREAMS as f64;
    json!({
        "peer": peer.name(),
        "encoding": encoding,
        "compressed": compressed,
        "rss_per_stream": during.0.saturating_sub(before.0) as f64 / n,
        "heap_per_stream": during.1.saturating_sub(before.1) as f64 / n,
        "retained_rss_per_stream": after.saturating_sub(before.0) as f64 / n,
    })
}

async fn slow_bodies(peer: Peer) -> Value {
    let server = ServerProcess::spawn_with_fd_limit(peer, Some(FD_LIMIT));
    let addr = server.addr;
    let fds_before = server.fds();
    let start = Instant::now();
    let slow: Vec<_> = (0..SLOW_BODIES)
        .map(|_| tokio::spawn(slow_body(addr)))
        .collect();
    tokio::time::sleep_until((start + PROBE_DURING).into()).await;
    let fds_during = server.fds();
    let probe_during = probe(addr).await;
    tokio::time::sleep_until((start + PROBE_AFTER).into()).await;
    let fds_after = server.fds();
    let probe_after = probe(addr).await;
    let mut answered = 0;
    for task in slow {
        if !task.is_finished() {
            task.abort();
        } else if task.await.unwrap_or(false) {
            answered += 1;
        }
    }
    json!({
        "peer": peer.name(),
        "fds_before": fds_before,
        "fds_during": fds_during,
        "fds_after": fds_after,
        "probe_during_ms": probe_during,
        "probe_after_ms": probe_after,
        "slow_answered": answered,
    })
}

async fn silent_connections(peer: Peer) -> Value {
    let server = ServerProcess::spawn_with_fd_limit(peer, Some(FD_LIMIT));
    let addr = server.addr;
    let start = Instant::now();
    let mut held = Vec::with_capacity(SILENT);
    for _ in 0..SILENT {
        if let Ok(Ok(c)) =
            tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await
        {
            held.push(c);
        }
    }
    tokio::time::sleep_until((start + PROBE_DURING).into()).await;
    let probes = futures::future::join_all((0..SILENT_PROBES).map(|_| probe(addr))).await;
    let answered = probes.iter().filter(|p| p.is_some()).count();
    drop(held);
    json!({
        "peer": peer.name(),
        "connected": SILENT,
        "answered": answered,
    })
}

/// A POST whose body trickles in one byte at a time; true once the server answered it.
async fn slow_body(addr: SocketAddr) -> bool {
    let Ok(Ok(mut stream)) =
        tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr)).await
    else {
        return false;
    };
    let head = format!("POST /topics/slow HTTP/1.1\r\nhost: {addr}\r\ncontent-length: 100\r\n\r\n");
    if stream.write_all(head.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = [0u8; 256];
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => return matches!(read, Ok(n) if n > 0),
            () = tokio::time::sleep(SLOW_BYTE_EVERY) => {
                if stream.write_all(b"x").await.is_err() {
                    return false;
                }
            }
        }
    }
}

/// Milliseconds a fresh connection's POST takes to be answered, or `None` if it is not answered
/// within the probe timeout.
async fn probe(addr: SocketAddr) -> Option<f64> {
    let start = Instant::now();
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        let req = format!(
            "POST /topics/probe HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: 1\r\n\r\nx"
        );
        stream.write_all(req.as_bytes()).await.ok()?;
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).await.ok()?;
        buf[..n].starts_with(b"HTTP/1.1 2").then_some(())
    };
    tokio::time::timeout(PROBE_TIMEOUT, exchange)
        .await
        .ok()
        .flatten()
        .map(|()| start.elapsed().as_secs_f64() * 1e3)
}
