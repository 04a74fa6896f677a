//! LaunchDarkly's `eventsource-client` (crates.io, 0.18.0): over loopback with its own hyper
//! transport, and in the simulator (simulated time, deterministic network) through its pluggable
//! `HttpTransport`, implemented here over the harness's `Net`.
//!
//! How its API maps onto what the harness observes:
//! - `SSE::Connected` is `open`; `SSE::Event` is a message (its `id` is the sticky last event
//!   ID, which is what `lastEventId` means); `SSE::Comment` a comment;
//! - an `Err` item is `error`; readyState after it is CLOSED when the stream ends right after
//!   (the library gave up) and CONNECTING when it goes on (it will reconnect);
//! - dropping the stream is `close()`; `ClientBuilder::last_event_id` is the initial ID;
//! - everything else is the library's defaults (reconnect after 1 s, doubling up to 60 s, with
//!   jitter; no retry when the very first connection fails).

use bytes::Bytes;
use eventsource_client::{Client as _, ClientBuilder, SSE};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::TokioIo;
use launchdarkly_sdk_transport::{ByteStream, HttpTransport, ResponseFuture, TransportError};
use sse_harness::client::ReadyState;
use sse_harness::{
    Capabilities, Capability, Client, ClientError, Identity, Net, Observer, OpenRequest, Seen,
    Session,
};

/// `eventsource-client` as an implementation under test.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventsourceClient;

impl Client for EventsourceClient {
    fn identity(&self) -> Identity {
        Identity {
            name: "eventsource-client".into(),
            version: "0.18.0".into(),
        }
    }

    fn capabilities(&self) -> Capabilities {
        [
            Capability::OpenEvent,
            Capability::ReadyState,
            Capability::Close,
            Capability::InitialLastEventId,
            Capability::Simulated,
            Capability::Headers,
            Capability::Post,
            Capability::Report,
            Capability::ReadTimeout,
        ]
        .into_iter()
        .collect()
    }

    fn open(
        &self,
        request: OpenRequest,
        observer: Observer,
    ) -> BoxFuture<'static, Result<Box<dyn Session>, ClientError>> {
        Box::pin(async move {
            let failed = |e: eventsource_client::Error| ClientError::Failed(e.to_string());
            let mut builder = ClientBuilder::for_url(request.url.as_str()).map_err(failed)?;
            if let Some(id) = request.last_event_id {
                builder = builder.last_event_id(id);
            }
            let ext = &request.extensions;
            for (name, value) in &ext.headers {
                builder = builder.header(name, value).map_err(failed)?;
            }
            if let Some(method) = &ext.method {
                builder = builder.method(method.clone());
            }
            if let Some(body) = &ext.body {
                builder = builder.body(body.clone());
            }
            let stream = if request.net.is_simulated() {
                builder
                    .build_with_transport(NetTransport {
                        net: request.net,
                        read_timeout: ext.read_timeout,
                    })
                    .stream()
            } else {
                let mut transport = launchdarkly_sdk_transport::HyperTransport::builder();
                if let Some(limit) = ext.read_timeout {
                    transport = transport.read_timeout(limit);
                }
                let transport = transport
                    .build_http()
                    .map_err(|e| ClientError::Failed(e.to_string()))?;
                builder.build_with_transport(transport).stream()
            };
            let task = tokio::spawn(watch(stream, observer));
            Ok(Box::new(sse_harness::task::Running::new(task)) as Box<dyn Session>)
        })
    }
}

/// Reports what the library's stream yields, as its user sees it.
async fn watch(
    mut stream: futures::stream::BoxStream<'static, eventsource_client::Result<SSE>>,
    observer: Observer,
) {
    let mut next = stream.next().await;
    loop {
        let Some(item) = next.take() else {
            // Ended without an error: the user sees nothing more.
            return;
        };
        match item {
            Ok(SSE::Connected(_)) => observer.open(),
            Ok(SSE::Event(e)) => observer.report(Seen::message(
                e.event_type,
                e.data,
                e.id.unwrap_or_default(),
            )),
            Ok(SSE::Comment(text)) => observer.report(Seen::Comment { text }),
            Err(e) => {
                // Whether the library goes on after this error decides readyState.
                let after = stream.next().now_or_never();
                let gave_up = matches!(after, Some(None));
                let ready_state = if gave_up {
                    ReadyState::Closed
                } else {
                    ReadyState::Connecting
                };
                observer.error(Some(ready_state), &e.to_string());
                if let Some(item) = after {
                    next = item;
                    continue;
                }
            }
        }
        next = stream.next().await;
    }
}

/// The library's `HttpTransport` over the harness's network: one HTTP/1.1 request per
/// connection, so the library runs in the simulator; with the read timeout its own hyper
/// transport would apply.
#[derive(Clone)]
struct NetTransport {
    net: Net,
    read_timeout: Option<std::time::Duration>,
}

impl HttpTransport for NetTransport {
    fn request(&self, request: http::Request<Option<Bytes>>) -> ResponseFuture {
        let (net, read_timeout) = (self.net.clone(), self.read_timeout);
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let _ = tx.send(send(net, request, read_timeout).await);
        });
        Box::pin(async move {
            rx.await
                .map_err(|_| TransportError::new(std::io::Error::other("request task ended")))?
        })
    }
}

fn transport_error(e: impl std::error::Error + Send + Sync + 'static) -> TransportError {
    TransportError::new(e)
}

async fn send(
    net: Net,
    request: http::Request<Option<Bytes>>,
    read_timeout: Option<std::time::Duration>,
) -> Result<http::Response<ByteStream>, TransportError> {
    let uri = request.uri().clone();
    let host = uri.host().unwrap_or("localhost").to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let io = net.connect(&host, port).await.map_err(transport_error)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(transport_error)?;
    tokio::spawn(conn);
    let (parts, body) = request.into_parts();
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut builder = http::Request::builder()
        .method(parts.method)
        .uri(target)
        .header(
            "host",
            uri.authority().map_or(host.as_str(), |a| a.as_str()),
        );
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let body = match body {
        Some(bytes) => Full::new(bytes).map_err(|never| match never {}).boxed(),
        None => Empty::new().map_err(|never| match never {}).boxed(),
    };
    let request = builder.body(body).map_err(transport_error)?;
    let response = sender
        .send_request(request)
        .await
        .map_err(transport_error)?;
    let (parts, mut incoming) = response.into_parts();
    let (chunks, rx) = tokio::sync::mpsc::channel::<Result<Bytes, TransportError>>(16);
    tokio::spawn(async move {
        loop {
            let frame = match read_timeout {
                Some(limit) => match tokio::time::timeout(limit, incoming.frame()).await {
                    Ok(frame) => frame,
                    Err(_) => {
                        let timed_out =
                            std::io::Error::new(std::io::ErrorKind::TimedOut, "read timeout");
                        let _ = chunks.send(Err(transport_error(timed_out))).await;
                        return;
                    }
                },
                None => incoming.frame().await,
            };
            let Some(frame) = frame else { return };
            let item = match frame {
                Ok(frame) => match frame.into_data() {
                    Ok(data) => Ok(data),
                    Err(_) => continue,
                },
                Err(e) => Err(transport_error(e)),
            };
            let last = item.is_err();
            if chunks.send(item).await.is_err() || last {
                return;
            }
        }
    });
    let stream: ByteStream = Box::pin(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    Ok(http::Response::from_parts(parts, stream))
}
