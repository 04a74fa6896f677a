//! The `client` host: drives the model's `EventSource` through real hyper HTTP/1.1 connections
//! over `turmoil::net`, in simulated time, and records its trace. This is the thin I/O driver
//! around the sans-IO model: requests, response heads, body chunks, ends, errors and timers go
//! in; the actions that come out are carried out here.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use sse_model::{
    Action, Backoff, Config, EventSource, Limits, NetworkError, Observation, Request, Response,
    Trace,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::case::ClientSpec;
use crate::net::{connect_http1, sleep_until};

/// What a fetch reports to the driver.
#[derive(Debug)]
enum FetchEvent {
    Response(Response),
    Body(Bytes),
    End,
    Error,
}

/// A fetch in flight: its task and the channel it reports on. Dropping it aborts the fetch.
struct Fetch {
    events: mpsc::Receiver<FetchEvent>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fetch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The model configuration a case's client spec describes.
pub(crate) fn model_config(spec: &ClientSpec) -> Config {
    let defaults = Config::default();
    Config {
        initial_reconnection_time: spec
            .reconnection_ms
            .map_or(defaults.initial_reconnection_time, Duration::from_millis),
        backoff: spec
            .backoff
            .map_or(Backoff::None, |b| Backoff::Exponential {
                base: Duration::from_millis(b.base_ms),
                max: Duration::from_millis(b.max_ms),
            }),
        limits: Limits {
            max_line_len: spec.max_line.unwrap_or(defaults.limits.max_line_len),
            max_event_data: spec.max_event.unwrap_or(defaults.limits.max_event_data),
        },
        initial_last_event_id: spec.last_event_id.clone().unwrap_or_default(),
        document_origin: spec.origin.clone(),
        with_credentials: spec.with_credentials.unwrap_or(false),
        ..defaults
    }
}

/// What the client did: its trace, and every request in full (headers the trace leaves out).
#[derive(Debug, Default)]
pub(crate) struct Recording {
    pub(crate) trace: Trace,
    pub(crate) requests: Vec<Request>,
}

/// Runs the client until the simulation stops it, recording what it does.
pub(crate) async fn run(
    url: String,
    spec: ClientSpec,
    recording: Arc<Mutex<Recording>>,
) -> turmoil::Result {
    let epoch = Instant::now();
    let now = || Instant::now().duration_since(epoch);
    let record = |at: Duration, what: &Action| {
        if let Ok(mut r) = recording.lock() {
            r.trace.record(at, what);
            if let Action::Fetch(request) = what {
                r.requests.push(request.clone());
            }
        }
    };
    let mut es = EventSource::new(&url, None, model_config(&spec))?;
    let mut fetch: Option<Fetch> = None;
    let mut timer: Option<Duration> = None;
    let mut close_at = spec.close_at_ms.map(Duration::from_millis);
    let mut abort_at = spec.ua_abort_at_ms.map(Duration::from_millis);
    loop {
        while let Some(action) = es.poll() {
            let at = now();
            record(at, &action);
            match action {
                Action::Fetch(request) => {
                    fetch = Some(start(request, spec.accept_encoding.clone()))
                }
                Action::Abort => fetch = None,
                Action::SetTimer(deadline) => timer = Some(deadline),
                Action::Open | Action::Message(_) | Action::Error(_) => {}
            }
        }
        tokio::select! {
            biased;
            () = sleep_until(close_at.map(|d| epoch + d)) => {
                close_at = None;
                es.close();
                if let Ok(mut r) = recording.lock() {
                    r.trace.push(now(), Observation::Closed);
                }
            }
            () = sleep_until(abort_at.map(|d| epoch + d)) => {
                abort_at = None;
                // The user agent aborts the fetch; only a fetch in flight can be aborted.
                if fetch.take().is_some() {
                    es.handle_network_error(now(), NetworkError::Aborted);
                }
            }
            () = sleep_until(timer.map(|d| epoch + d)) => {
                timer = None;
                es.handle_timeout(now());
            }
            event = next_event(&mut fetch) => match event {
                FetchEvent::Response(response) => es.handle_response(now(), &response),
                FetchEvent::Body(bytes) => es.handle_body(now(), &bytes),
                FetchEvent::End => {
                    fetch = None;
                    es.handle_end_of_body(now());
                }
                FetchEvent::Error => {
                    fetch = None;
                    es.handle_network_error(now(), NetworkError::Failed);
                }
            },
        }
    }
}

async fn next_event(fetch: &mut Option<Fetch>) -> FetchEvent {
    match fetch {
        // A fetch whose task ended without a word failed.
        Some(f) => f.events.recv().await.unwrap_or(FetchEvent::Error),
        None => std::future::pending().await,
    }
}

fn start(request: Request, accept_encoding: Option<String>) -> Fetch {
    let (tx, events) = mpsc::channel(16);
    let task = tokio::spawn(async move {
        if fetch(request, accept_encoding, &tx).await.is_err() {
            let _ = tx.send(FetchEvent::Error).await;
        }
    });
    Fetch { events, task }
}

/// One fetch: connect, send, report the head, then every body chunk (decoded), then the end.
async fn fetch(
    request: Request,
    accept_encoding: Option<String>,
    tx: &mpsc::Sender<FetchEvent>,
) -> Result<(), ()> {
    let host = request.url.host_str().ok_or(())?.to_owned();
    let port = request.url.port_or_known_default().unwrap_or(80);
    let mut sender = connect_http1(&host, port).await.map_err(drop)?;
    let target = &request.url[url::Position::BeforePath..url::Position::AfterQuery];
    let authority = &request.url[url::Position::BeforeHost..url::Position::AfterPort];
    let mut builder = http::Request::get(target).header("host", authority);
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let Some(coding) = &accept_encoding {
        builder = builder.header("accept-encoding", coding.as_str());
    }
    let req = builder.body(Empty::<Bytes>::new()).map_err(drop)?;
    let response = sender.send_request(req).await.map_err(drop)?;
    let head = Response {
        status: response.status().as_u16(),
        headers: response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
    };
    let encoding = accept_encoding.as_ref().and_then(|_| {
        head.header_values("content-encoding")
            .next()
            .map(str::to_owned)
    });
    let mut decoder = Decoder::new(encoding.as_deref()).ok_or(())?;
    tx.send(FetchEvent::Response(head)).await.map_err(drop)?;
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(drop)?.into_data() else {
            continue;
        };
        let decoded = decoder.decode(&data).ok_or(())?;
        if !decoded.is_empty() {
            tx.send(FetchEvent::Body(decoded)).await.map_err(drop)?;
        }
    }
    tx.send(FetchEvent::End).await.map_err(drop)
}

/// Streaming content decoding, as a browser's network stack does before the EventSource sees bytes.
enum Decoder {
    Identity,
    Gzip(flate2::write::GzDecoder<Vec<u8>>),
    Deflate(flate2::write::ZlibDecoder<Vec<u8>>),
    Brotli(Box<brotli::DecompressorWriter<Vec<u8>>>),
}

impl Decoder {
    /// `None` for a coding the client does not know (a network error, as in browsers).
    fn new(encoding: Option<&str>) -> Option<Self> {
        Some(match encoding.map(str::to_ascii_lowercase).as_deref() {
            None | Some("identity") => Decoder::Identity,
            Some("gzip") => Decoder::Gzip(flate2::write::GzDecoder::new(Vec::new())),
            Some("deflate") => Decoder::Deflate(flate2::write::ZlibDecoder::new(Vec::new())),
            Some("br") => {
                Decoder::Brotli(Box::new(brotli::DecompressorWriter::new(Vec::new(), 4096)))
            }
            Some(_) => return None,
        })
    }

    /// Decodes a chunk; returns what is decodable so far, `None` on corrupt input.
    fn decode(&mut self, data: &[u8]) -> Option<Bytes> {
        fn take<W: Write>(
            w: &mut W,
            data: &[u8],
            inner: impl Fn(&mut W) -> &mut Vec<u8>,
        ) -> Option<Bytes> {
            w.write_all(data).ok()?;
            w.flush().ok()?;
            Some(Bytes::from(std::mem::take(inner(w))))
        }
        match self {
            Decoder::Identity => Some(Bytes::copy_from_slice(data)),
            Decoder::Gzip(d) => take(d, data, |d| d.get_mut()),
            Decoder::Deflate(d) => take(d, data, |d| d.get_mut()),
            Decoder::Brotli(d) => take(d.as_mut(), data, |d| d.get_mut()),
        }
    }
}
