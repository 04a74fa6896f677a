//! The concurrency, stalled-client and zstd delivery checks against deliberately broken loopback
//! servers, so each can be seen to fail, and against the reference server, which passes them: a
//! server that serves one connection at a time, an HTTP/2 server that allows 10 concurrent
//! streams, a server whose broadcast writes to each subscriber in turn (one client that stops
//! reading holds up publishing for everyone), and one that compresses with zstd and never
//! flushes.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::StreamBody;
use hyper::body::Frame;
use sse_checks::server_check::{self, CheckResult, Declaration, Server, ServerCheck};
use sse_judge::judge::Outcome;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use url::Url;

fn check(id: &str) -> ServerCheck {
    let catalogue = sse_case::Catalogue::load_default().unwrap_or_else(|e| panic!("{e}"));
    server_check::load_default(&catalogue)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id}"))
}

fn server(url: &str, publish: Option<&str>, declares: &[Declaration]) -> Server {
    Server {
        url: Url::parse(url).expect("url"),
        declares: declares.iter().copied().collect::<BTreeSet<_>>(),
        max_bytes: 1 << 20,
        seconds: None,
        publish: publish.map(|p| Url::parse(p).expect("url")),
        live: None,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn says(r: &CheckResult, text: &str) -> bool {
    r.findings.iter().any(|f| f.message.contains(text))
}

/// Reads a request head (and a body of `content-length` bytes): the method and the body.
async fn read_request(tcp: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if tcp.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    tcp.read_exact(&mut body).await.ok()?;
    Some((text.split(' ').next()?.to_uppercase(), body))
}

const STREAM_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\r\n";

/// A server that serves one connection at a time: a stream that never ends holds the next.
async fn one_at_a_time() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            if read_request(&mut tcp).await.is_some() {
                let _ = tcp.write_all(STREAM_HEAD).await;
                let _ = tcp.write_all(b"data: hello\n\n").await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        }
    });
    format!("http://{addr}/stream")
}

// spec: SERVER-CONNECTION-LIMIT
#[test]
fn a_server_that_serves_one_connection_at_a_time_fails_the_http1_check() {
    let rt = runtime();
    let url = rt.block_on(one_at_a_time());
    let r = rt.block_on(server_check::run(
        &check("concurrent-streams-http1"),
        &server(&url, None, &[]),
    ));
    assert_eq!(r.outcome, Outcome::Fail, "{r:#?}");
    assert!(says(&r, "99 of 100 streams over HTTP/1.1"), "{r:#?}");
    assert_eq!(r.findings[0].requirements, ["SERVER-CONNECTION-LIMIT"]);
    // A server that answers nobody (a proxy holding every response) says nothing about how
    // many it serves at once: informational, the delivery checks tell what is wrong.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/stream", silent.local_addr().expect("addr"));
    let r = rt.block_on(server_check::run(
        &check("concurrent-streams-http1"),
        &server(&url, None, &[]),
    ));
    assert_eq!(r.outcome, Outcome::Informational, "{r:#?}");
    assert!(says(&r, "not even the first"), "{r:#?}");
}

/// An HTTP/2 (h2c) server that allows 10 concurrent streams, each an endless event stream.
async fn h2_ten_streams() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    let (tx, rx) = tokio::sync::mpsc::channel::<
                        Result<Frame<Bytes>, std::convert::Infallible>,
                    >(4);
                    tokio::spawn(async move {
                        let _ = tx.send(Ok(Frame::data(Bytes::from("data: hi\n\n")))).await;
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    });
                    let body = StreamBody::new(tokio_stream_of(rx));
                    Ok::<_, std::convert::Infallible>(
                        hyper::Response::builder()
                            .header("content-type", "text/event-stream")
                            .body(body)
                            .expect("response"),
                    )
                });
                let _ =
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .max_concurrent_streams(10)
                        .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                        .await;
            });
        }
    });
    format!("http://{addr}/stream")
}

/// A receiver as a stream of frames.
fn tokio_stream_of<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

// spec: SERVER-CONNECTION-LIMIT
#[test]
fn an_http2_server_allowing_ten_streams_fails_and_one_without_http2_is_unsupported() {
    let rt = runtime();
    let url = rt.block_on(h2_ten_streams());
    let r = rt.block_on(server_check::run(
        &check("concurrent-streams-http2"),
        &server(&url, None, &[Declaration::Http2]),
    ));
    assert_eq!(r.outcome, Outcome::Fail, "{r:#?}");
    assert!(
        says(
            &r,
            "90 of 100 streams on one HTTP/2 connection got no response"
        ),
        "{r:#?}"
    );
    let r = rt.block_on(server_check::run(
        &check("concurrent-streams-http2"),
        &server(&url, None, &[]),
    ));
    assert_eq!(r.outcome, Outcome::Unsupported, "{r:#?}");
}

/// A server whose publish (a POST of a JSON string) writes the event to each open stream in
/// turn and answers only when all writes are done. A GET opens a stream: `head`, then what
/// `open` gives, whose state `encode` turns each event into the bytes sent.
async fn publishing_server<S: Send + 'static>(
    head: &'static [u8],
    open: fn() -> (S, Vec<u8>),
    encode: fn(&mut S, &[u8]) -> Vec<u8>,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let streams: Arc<Mutex<Vec<(TcpStream, S)>>> = Arc::default();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let streams = streams.clone();
            tokio::spawn(async move {
                let Some((method, body)) = read_request(&mut tcp).await else {
                    return;
                };
                if method == "GET" {
                    let (state, first) = open();
                    if tcp.write_all(head).await.is_ok() && tcp.write_all(&first).await.is_ok() {
                        streams.lock().await.push((tcp, state));
                    }
                    return;
                }
                let data: String = serde_json::from_slice(&body).unwrap_or_default();
                let event = format!("data: {data}\n\n");
                let mut all = streams.lock().await;
                let mut kept = Vec::new();
                for (mut tcp, mut state) in all.drain(..) {
                    let bytes = encode(&mut state, event.as_bytes());
                    if tcp.write_all(&bytes).await.is_ok() {
                        kept.push((tcp, state));
                    }
                }
                *all = kept;
                drop(all);
                let _ = tcp
                    .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    format!("http://{addr}/live")
}

/// Plain streams: one subscriber that stops reading holds up publishing for everyone.
async fn naive_broadcast() -> String {
    publishing_server(STREAM_HEAD, || ((), Vec::new()), |(), event| event.to_vec()).await
}

// spec: SERVER-ISOLATES-CLIENTS
#[test]
fn a_broadcast_that_waits_for_each_subscriber_fails_the_stalled_clients_check() {
    let rt = runtime();
    let url = rt.block_on(naive_broadcast());
    let r = rt.block_on(server_check::run(
        &check("stalled-clients"),
        &server(&url, Some(&url), &[Declaration::Publish]),
    ));
    assert_eq!(r.outcome, Outcome::Fail, "{r:#?}");
    assert!(says(&r, "clients not reading: publishing failed"), "{r:#?}");
    assert_eq!(r.findings[0].requirements, ["SERVER-ISOLATES-CLIENTS"]);
}

/// A server that compresses its streams with zstd and never flushes the compressor: what it
/// publishes stays inside the encoder (a zstd frame header is all a client gets).
async fn zstd_without_flush() -> String {
    use std::io::Write as _;
    type Zstd = zstd::stream::write::Encoder<'static, Vec<u8>>;
    fn unflushed(encoder: &mut Zstd, bytes: &[u8]) -> Vec<u8> {
        let _ = encoder.write_all(bytes);
        std::mem::take(encoder.get_mut())
    }
    publishing_server(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-encoding: zstd\r\n\r\n",
        || {
            let mut encoder = Zstd::new(Vec::new(), 3).expect("encoder");
            let first = unflushed(&mut encoder, b"retry: 1000\n\n");
            (encoder, first)
        },
        unflushed,
    )
    .await
}

// spec: SERVER-NO-BUFFERING
#[test]
fn a_zstd_compressor_without_a_flush_fails_the_zstd_delivery_check() {
    let rt = runtime();
    let url = rt.block_on(zstd_without_flush());
    let r = rt.block_on(server_check::run(
        &check("delivery-prompt-zstd"),
        &server(&url, Some(&url), &[Declaration::Publish]),
    ));
    assert_eq!(r.outcome, Outcome::Fail, "{r:#?}");
    assert!(says(&r, "Content-Encoding zstd"), "{r:#?}");
}

// spec: SERVER-CONNECTION-LIMIT SERVER-ISOLATES-CLIENTS
#[test]
fn the_reference_server_passes_the_concurrency_and_stalled_client_checks() {
    let rt = runtime();
    let (url, stop) = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = tokio_util::sync::CancellationToken::new();
        let server = sse_server::Server::new(sse_server::Config::default());
        tokio::spawn({
            let stop = stop.clone();
            async move {
                server
                    .serve(listener, stop, Duration::from_millis(100))
                    .await
            }
        });
        (format!("http://{addr}/topics/checks"), stop)
    });
    let s = server(
        &url,
        Some(&url),
        &[Declaration::Publish, Declaration::Http2],
    );
    for id in [
        "concurrent-streams-http1",
        "concurrent-streams-http2",
        "stalled-clients",
    ] {
        let r = rt.block_on(server_check::run(&check(id), &s));
        assert_eq!(r.outcome, Outcome::Pass, "{id}: {r:#?}");
        assert!(r.measured.is_some(), "{id}");
    }
    stop.cancel();
}

/// A server that answers every GET with a flood of comments (never the published event) and
/// the head check's path with a redirect to a good stream.
async fn flooding_and_redirecting() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if tcp.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                if head.starts_with("POST") {
                    let _ = tcp
                        .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                        .await;
                } else if head.starts_with("GET /moved") {
                    let _ = tcp
                        .write_all(
                            b"HTTP/1.1 302 Found\r\nlocation: /good\r\ncontent-length: 0\r\n\r\n",
                        )
                        .await;
                } else if head.starts_with("GET /good") {
                    let _ = tcp.write_all(STREAM_HEAD).await;
                    let _ = tcp.write_all(b"retry: 1000\n\ndata: ok\n\n").await;
                    tokio::time::sleep(Duration::from_secs(30)).await;
                } else {
                    let _ = tcp.write_all(STREAM_HEAD).await;
                    let line = format!(": {}\n", "x".repeat(1000));
                    while tcp.write_all(line.as_bytes()).await.is_ok() {}
                }
            });
        }
    });
    format!("http://{addr}/flood")
}

/// What stopped the reading is what the message says: the size cap, not a buffer; the
/// evidence is abridged with its length stated; a redirect is followed as EventSource follows it.
#[test]
fn check_server_messages_name_what_stopped_the_reading() {
    let rt = runtime();
    let url = rt.block_on(flooding_and_redirecting());
    let capped = Server {
        max_bytes: 64 * 1024,
        ..server(&url, Some(&url), &[Declaration::Publish])
    };
    let r = rt.block_on(server_check::run(&check("delivery-prompt"), &capped));
    assert_eq!(r.outcome, Outcome::Fail, "{r:#?}");
    assert!(says(&r, "read up to the size cap"), "{r:#?}");
    assert!(!says(&r, "held back by a buffer"), "{r:#?}");
    assert_eq!(r.evidence.as_ref().map(Vec::len), Some(4096));
    assert_eq!(r.evidence_total, Some(64 * 1024));
    assert!(
        r.evidence_text()
            .is_some_and(|t| t.ends_with("… [65536 bytes in all]")),
        "{:?}",
        r.evidence_text()
    );

    let live = Server {
        live: Some(Url::parse(&url).expect("url")),
        ..capped
    };
    let r = rt.block_on(server_check::run(
        &check("keep-alive-against-idle-timeouts"),
        &live,
    ));
    assert!(
        says(&r, "raise --max-bytes") && !says(&r, "raise --seconds"),
        "{r:#?}"
    );

    let moved = url.replace("/flood", "/moved");
    let r = rt.block_on(server_check::run(
        &check("head-is-an-event-stream"),
        &server(&moved, None, &[]),
    ));
    assert_ne!(r.outcome, Outcome::Fail, "{r:#?}");
    assert!(says(&r, "answered 302: followed"), "{r:#?}");
}
