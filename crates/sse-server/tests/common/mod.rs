//! Loopback test helpers: a server on 127.0.0.1, an HTTP/1.1 client, and an SSE reader built on
//! the model's parser. Waits are bounded by timeouts, never by sleeping.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use sse_model::{Item, Limits, Parser};
use sse_server::{Config, Server};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// A bound on how long any single wait in a test may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct Running {
    pub addr: SocketAddr,
    pub server: Server,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<()>,
}

pub async fn start(config: Config) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let server = Server::new(config);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn({
        let server = server.clone();
        let shutdown = shutdown.clone();
        async move {
            server
                .serve(listener, shutdown, Duration::from_secs(5))
                .await
        }
    });
    Running {
        addr,
        server,
        shutdown,
        task,
    }
}

/// Sends one request on a fresh HTTP/1.1 connection.
pub async fn send(addr: SocketAddr, req: Request<Full<Bytes>>) -> Response<Incoming> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    tokio::time::timeout(PATIENCE, sender.send_request(req))
        .await
        .expect("response in time")
        .expect("response")
}

pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response<Incoming> {
    let mut req = Request::get(path).header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(addr, req.body(Full::new(Bytes::new())).expect("request")).await
}

pub async fn post(addr: SocketAddr, path: &str, body: impl Into<Bytes>) -> Response<Incoming> {
    let req = Request::post(path)
        .header("host", addr.to_string())
        .body(Full::new(body.into()))
        .expect("request");
    send(addr, req).await
}

pub async fn body_text(resp: Response<Incoming>) -> String {
    let bytes = tokio::time::timeout(PATIENCE, resp.into_body().collect())
        .await
        .expect("body in time")
        .expect("body")
        .to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Reads an event stream body through the model's parser.
pub struct Reader {
    pub body: Incoming,
    pub parser: Parser,
    pub items: Vec<Item>,
    pub ended: bool,
}

impl Reader {
    pub fn new(resp: Response<Incoming>) -> Self {
        Reader {
            body: resp.into_body(),
            parser: Parser::new(Limits::default()),
            items: Vec::new(),
            ended: false,
        }
    }

    /// Reads until `n` events have arrived in total (or the body ends); returns all events.
    pub async fn events(&mut self, n: usize) -> Vec<sse_model::OwnedEvent> {
        while self.event_list().len() < n && !self.ended {
            self.next_frame().await;
        }
        self.event_list()
    }

    /// Reads until the body ends.
    pub async fn until_end(&mut self) -> Vec<sse_model::OwnedEvent> {
        while !self.ended {
            self.next_frame().await;
        }
        self.event_list()
    }

    pub async fn next_frame(&mut self) -> Option<Bytes> {
        match tokio::time::timeout(PATIENCE, self.body.frame())
            .await
            .expect("frame in time")
        {
            Some(Ok(frame)) => {
                let data = frame.into_data().ok()?;
                self.parser
                    .feed(&data, &mut self.items)
                    .expect("within limits");
                Some(data)
            }
            Some(Err(e)) => panic!("body error: {e}"),
            None => {
                self.ended = true;
                self.parser.finish(&mut self.items).expect("within limits");
                None
            }
        }
    }

    pub fn event_list(&self) -> Vec<sse_model::OwnedEvent> {
        self.items
            .iter()
            .filter_map(|i| {
                if let Item::Event(e) = i {
                    Some(e.clone())
                } else {
                    None
                }
            })
            .collect()
    }
}

pub fn empty_request(path: &str, addr: SocketAddr) -> Request<Empty<Bytes>> {
    Request::get(path)
        .header("host", addr.to_string())
        .body(Empty::new())
        .expect("request")
}
