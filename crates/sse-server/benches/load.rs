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

use std::alloc::System;
use std::io::{BufRead, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as TokioBufReader};
use tokio::net::TcpStream;

#[global_allocator]
static GLOBAL: &stats_alloc::StatsAlloc<System> = &stats_alloc::INSTRUMENTED_SYSTEM;

const IDLE_STREAMS: usize = 10_000;
const H2_STREAMS_PER_CONNECTION: usize = 100;
const SUBSCRIBERS: usize = 1_000;
const EVENTS: usize = 2_000;
const EVENT_BYTES: usize = 100;
const DEADLINE: Duration = Duration::from_secs(120);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        serve(args.get(i + 1).map_or("ours", String::as_str));
        return;
    }
    // `cargo test` runs benches with no `--bench`: do nothing there.
    if !args.iter().any(|a| a == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let mut results = Vec::new();
    for peer in ["ours", "axum"] {
        let r = runtime.block_on(measure(peer));
        println!(
            "{peer}: idle stream RSS {:.0} B (heap {:.0} B) on HTTP/1.1, {:.0} B (heap {:.0} B) on HTTP/2; {:.0} events/s to {SUBSCRIBERS} subscribers",
            r.h1.rss, r.h1.heap, r.h2.rss, r.h2.heap, r.events_per_sec
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
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/server-bench.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json).expect("json"))
        .expect("write results");
    println!("wrote {}", path.display());
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

/// A server child process; `heap()` asks it for its live heap bytes.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    replies: BufReader<std::process::ChildStdout>,
}

impl ServerProcess {
    fn spawn(peer: &str) -> Self {
        let mut child = Command::new(std::env::current_exe().expect("own path"))
            .args(["--serve", peer])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn server");
        let mut replies = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        replies.read_line(&mut line).expect("address line");
        let addr = line.trim().parse().expect("server prints its address");
        ServerProcess {
            child,
            addr,
            replies,
        }
    }

    fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("proc status");
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS");
        kb * 1024
    }

    fn heap(&mut self) -> u64 {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(b"heap\n").expect("ask heap");
        stdin.flush().expect("flush");
        let mut line = String::new();
        self.replies.read_line(&mut line).expect("heap line");
        line.trim().parse().expect("heap bytes")
    }

    fn snapshot(&mut self) -> (u64, u64) {
        (self.rss(), self.heap())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn per_stream(before: (u64, u64), after: (u64, u64)) -> PerStream {
    let n = IDLE_STREAMS as f64;
    PerStream {
        rss: after.0.saturating_sub(before.0) as f64 / n,
        heap: after.1.saturating_sub(before.1) as f64 / n,
    }
}

async fn measure(peer: &'static str) -> Measured {
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
        peer,
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

/// Opens an event stream and reads up to the end of the response headers.
async fn open_stream(addr: SocketAddr, path: &str) -> TokioBufReader<TcpStream> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\naccept: text/event-stream\r\n\r\n")
                .as_bytes(),
        )
        .await
        .expect("request");
    let mut reader = TokioBufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await.expect("header line");
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    reader
}

/// POSTs one event on a kept-alive connection (opened on first use).
async fn publish(
    addr: SocketAddr,
    conn: &mut Option<TokioBufReader<TcpStream>>,
    topic: &str,
    data: &str,
) {
    if conn.is_none() {
        *conn = Some(TokioBufReader::new(
            TcpStream::connect(addr).await.expect("connect"),
        ));
    }
    let c = conn.as_mut().expect("connection");
    let req = format!(
        "POST /topics/{topic} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\n\r\n{data}",
        data.len()
    );
    c.get_mut()
        .write_all(req.as_bytes())
        .await
        .expect("publish");
    let mut line = String::new();
    let mut length = 0usize;
    loop {
        line.clear();
        c.read_line(&mut line).await.expect("response line");
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let mut body = vec![0u8; length];
    c.read_exact(&mut body).await.expect("response body");
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

/// Runs a server in this process until stdin closes.
fn serve(peer: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("{}", listener.local_addr().expect("addr"));
        let stop = tokio_util::sync::CancellationToken::new();
        let watcher = stop.clone();
        std::thread::spawn(move || {
            // One command per line: `heap` prints the live heap bytes; end of input stops.
            let mut line = String::new();
            while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                let stats = GLOBAL.stats();
                let live = stats
                    .bytes_allocated
                    .saturating_sub(stats.bytes_deallocated);
                println!("{live}");
                line.clear();
            }
            watcher.cancel();
        });
        match peer {
            "axum" => axum_peer::serve(listener, stop).await,
            _ => {
                let config = sse_server::Config {
                    retry: None,
                    compression: false,
                    ..sse_server::Config::default()
                };
                sse_server::Server::new(config)
                    .serve(listener, stop, Duration::from_secs(1))
                    .await;
            }
        }
    });
}

/// The peer: a minimal axum server with the same endpoints (subscribe and publish on a topic),
/// keep-alive on, one broadcast channel per topic of the same capacity, no replay.
mod axum_peer {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::extract::{Path, State};
    use axum::response::sse::{Event, KeepAlive, Sse};
    use futures::Stream;
    use tokio::sync::broadcast;
    use tokio_stream::StreamExt as _;
    use tokio_stream::wrappers::BroadcastStream;

    type Topics = Arc<Mutex<HashMap<String, (u64, broadcast::Sender<(u64, Arc<str>)>)>>>;

    fn sender(topics: &Topics, name: &str) -> broadcast::Sender<(u64, Arc<str>)> {
        let mut t = topics.lock().expect("lock");
        t.entry(name.to_owned())
            .or_insert_with(|| (0, broadcast::channel(1024).0))
            .1
            .clone()
    }

    async fn subscribe(
        State(topics): State<Topics>,
        Path(name): Path<String>,
    ) -> Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>> {
        let rx = sender(&topics, &name).subscribe();
        let events = BroadcastStream::new(rx)
            .filter_map(|m| m.ok())
            .map(|(id, data)| Ok(Event::default().id(id.to_string()).data(&*data)));
        Sse::new(events).keep_alive(KeepAlive::default())
    }

    async fn publish(
        State(topics): State<Topics>,
        Path(name): Path<String>,
        body: String,
    ) -> String {
        let tx = sender(&topics, &name);
        let id = {
            let mut t = topics.lock().expect("lock");
            let entry = t.get_mut(&name).expect("topic exists");
            entry.0 += 1;
            entry.0
        };
        let _ = tx.send((id, Arc::from(body)));
        format!("{{\"id\":{id}}}")
    }

    pub(super) async fn serve(
        listener: tokio::net::TcpListener,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let topics: Topics = Arc::default();
        let app = Router::new()
            .route(
                "/topics/{name}",
                axum::routing::get(subscribe).post(publish),
            )
            .with_state(topics);
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
    }
}
