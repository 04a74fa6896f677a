//! What the loopback benches share: the server child processes (ours and the axum peer), their
//! RSS, heap and descriptor counts, and raw HTTP/1.1 clients.

// Each bench uses part of this module.
#![allow(dead_code)]

use std::alloc::System;
use std::io::{BufRead, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as TokioBufReader};
use tokio::net::TcpStream;

#[global_allocator]
static GLOBAL: &stats_alloc::StatsAlloc<System> = &stats_alloc::INSTRUMENTED_SYSTEM;

/// The servers a child process can run (`--serve NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    /// The reference server set up for throughput: no `retry`, no compression.
    Ours,
    /// The reference server as shipped (`Config::default()`): compression on, every cap at its
    /// default.
    OursDefault,
    /// A minimal axum `Sse` server with the same topic endpoints.
    Axum,
    /// The same axum server behind tower-http's `CompressionLayer` (gzip and br), told to
    /// compress event streams too (its default predicate skips `text/event-stream`).
    AxumCompressed,
}

impl Peer {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Peer::Ours => "ours",
            Peer::OursDefault => "ours-default",
            Peer::Axum => "axum",
            Peer::AxumCompressed => "axum-compressed",
        }
    }

    fn from_name(name: &str) -> Option<Peer> {
        [
            Peer::Ours,
            Peer::OursDefault,
            Peer::Axum,
            Peer::AxumCompressed,
        ]
        .into_iter()
        .find(|p| p.name() == name)
    }
}

/// Runs the server a child was asked for when this binary was started with `--serve NAME`;
/// returns false otherwise, so `main` goes on to measure.
pub(crate) fn serve_if_asked() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let Some(i) = args.iter().position(|a| a == "--serve") else {
        return false;
    };
    let name = args.get(i + 1).map_or("", String::as_str);
    let Some(peer) = Peer::from_name(name) else {
        eprintln!("unknown server {name:?}");
        std::process::exit(2);
    };
    serve(peer);
    true
}

/// The runtime of a bench and of each server child: one worker thread, so the two servers are
/// compared on equal footing.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Writes a bench's results to `target/NAME` for `cargo xtask bench`.
pub(crate) fn write_results(name: &str, json: &serde_json::Value) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target")
        .join(name);
    std::fs::write(&path, serde_json::to_string_pretty(json).expect("json"))
        .expect("write results");
    println!("wrote {}", path.display());
}

/// `cargo test` runs benches without `--bench`: they do nothing there.
pub(crate) fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// A server child process; `heap()` asks it for its live heap bytes.
pub(crate) struct ServerProcess {
    child: Child,
    pub(crate) addr: SocketAddr,
    replies: BufReader<std::process::ChildStdout>,
}

impl ServerProcess {
    pub(crate) fn spawn(peer: Peer) -> Self {
        Self::spawn_with_fd_limit(peer, None)
    }

    /// Starts the child with a soft limit on open file descriptors (through `sh`'s `ulimit`),
    /// to see what running out of them does.
    pub(crate) fn spawn_with_fd_limit(peer: Peer, fds: Option<u32>) -> Self {
        let exe = std::env::current_exe().expect("own path");
        let mut command = match fds {
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -Sn {n} && exec \"$0\" \"$@\""))
                    .arg(exe);
                c
            }
            None => Command::new(exe),
        };
        let mut child = command
            .args(["--serve", peer.name()])
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

    pub(crate) fn rss(&self) -> u64 {
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

    /// Open file descriptors of the server process.
    pub(crate) fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map_or(0, |d| d.filter(Result::is_ok).count())
    }

    pub(crate) fn heap(&mut self) -> u64 {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(b"heap\n").expect("ask heap");
        stdin.flush().expect("flush");
        let mut line = String::new();
        self.replies.read_line(&mut line).expect("heap line");
        line.trim().parse().expect("heap bytes")
    }

    /// (RSS, live heap) in bytes.
    pub(crate) fn snapshot(&mut self) -> (u64, u64) {
        (self.rss(), self.heap())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens an event stream with extra request header lines (each ending in CRLF) and reads up to
/// the end of the response headers, which it returns lower-cased.
pub(crate) async fn open_stream_with(
    addr: SocketAddr,
    path: &str,
    extra: &str,
) -> (TokioBufReader<TcpStream>, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(
            format!(
                "GET {path} HTTP/1.1\r\nhost: {addr}\r\naccept: text/event-stream\r\n{extra}\r\n"
            )
            .as_bytes(),
        )
        .await
        .expect("request");
    let mut reader = TokioBufReader::new(stream);
    let mut head = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await.expect("header line");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line.to_ascii_lowercase());
    }
    (reader, head)
}

/// Opens an event stream and reads up to the end of the response headers.
pub(crate) async fn open_stream(addr: SocketAddr, path: &str) -> TokioBufReader<TcpStream> {
    open_stream_with(addr, path, "").await.0
}

/// POSTs one event on a kept-alive connection (opened on first use); returns the status.
pub(crate) async fn publish(
    addr: SocketAddr,
    conn: &mut Option<TokioBufReader<TcpStream>>,
    topic: &str,
    data: &str,
) -> u16 {
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
    c.read_line(&mut line).await.expect("status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
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
    status
}

/// Runs a server in this process until stdin closes; it prints its address first.
fn serve(peer: Peer) {
    runtime().block_on(async {
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
        let config = match peer {
            Peer::Axum | Peer::AxumCompressed => {
                // Compressed, it starts each stream with a `retry` as ours as shipped does, so a
                // compressor has written something.
                let compressed = peer == Peer::AxumCompressed;
                let options = sse_axum_server::Options {
                    compressed,
                    opening_retry: compressed,
                    ..sse_axum_server::Options::default()
                };
                return sse_axum_server::serve(listener, stop, options).await;
            }
            Peer::Ours => sse_server::Config {
                retry: None,
                compression: false,
                ..sse_server::Config::default()
            },
            Peer::OursDefault => sse_server::Config::default(),
        };
        sse_server::Server::new(config)
            .serve(listener, stop, Duration::from_secs(1))
            .await;
    });
}
