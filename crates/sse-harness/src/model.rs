//! The model as an implementation under test: the sans-IO `EventSource` of `sse-model` driven by
//! real hyper HTTP/1.1 connections made through the harness's [`Net`], so the same driver runs
//! in simulated time (turmoil) and over loopback sockets (tokio). Requests, response heads,
//! body chunks, ends, errors and timers go in; the actions that come out are carried out here.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use sse_model::{
    Backoff, Config, EventSource, Io, Limits, NetworkError, Observation, Output, PageEvent,
    Request, Response, Trace,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

use sse_http::decode::Decoder;
use sse_http::fetch::FetchError;

use crate::client::{
    Capabilities, Capability, Client, ClientError, Command, Identity, Net, Observer, OpenRequest,
    Seen, Session, Settings, TakenAt,
};

/// The spec model, as a client under test. It can do everything the harness asks.
#[derive(Debug, Clone, Default)]
pub struct ModelClient {
    trace: Option<Arc<Mutex<Trace>>>,
    readings: sse_model::Readings,
}

impl ModelClient {
    /// A model that also writes its own trace (the requests it meant to send included) into
    /// `trace`: the golden traces of `fixtures/snapshots/cases/` are these.
    pub fn recording(trace: Arc<Mutex<Trace>>) -> Self {
        ModelClient {
            trace: Some(trace),
            readings: sse_model::Readings::default(),
        }
    }

    /// The same model following `reading` of an ambiguous text.
    pub fn reading(mut self, reading: sse_case::reading::Reading) -> Self {
        reading.apply(&mut self.readings);
        self
    }
}

impl Client for ModelClient {
    fn identity(&self) -> Identity {
        Identity {
            name: "model".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn capabilities(&self) -> Capabilities {
        // A page sees no comments: the model reports none.
        Capability::everything()
            .into_iter()
            .filter(|c| *c != Capability::Comments)
            .collect()
    }

    fn opens_companions(&self) -> bool {
        true
    }

    fn open(
        &self,
        request: OpenRequest,
        observer: Observer,
    ) -> BoxFuture<'static, Result<Box<dyn Session>, ClientError>> {
        let trace = self.trace.clone();
        let readings = self.readings;
        Box::pin(async move {
            let config = Config {
                readings,
                ..model_config(&request)
            };
            // The companions first, as a page would create them: nobody hears them, and the
            // model has no connection limit to make the case's stream wait.
            let mut companions = Vec::new();
            for url in &request.companions {
                let es = EventSource::new(url.as_str(), None, Config::default())
                    .map_err(|e| ClientError::Failed(e.to_string()))?;
                let driver = Driver {
                    es,
                    close_on_message: None,
                    net: request.net.clone(),
                    accept_encoding: None,
                    observer: Observer::new(Arc::new(|| Duration::ZERO)),
                    trace: None,
                    epoch: Instant::now(),
                };
                // Its command channel closes at once: it runs until the session drops it.
                companions.push(tokio::spawn(driver.run(mpsc::unbounded_channel().1)));
            }
            let es = EventSource::new(request.url.as_str(), None, config)
                .map_err(|e| ClientError::Failed(e.to_string()))?;
            let (commands, rx) = mpsc::unbounded_channel();
            let driver = Driver {
                es,
                close_on_message: request.close_on_message,
                net: request.net,
                accept_encoding: request.settings.accept_encoding,
                observer,
                trace,
                epoch: Instant::now(),
            };
            let task = tokio::spawn(driver.run(rx));
            Ok(Box::new(ModelSession {
                commands,
                task,
                companions,
            }) as Box<dyn Session>)
        })
    }
}

/// The model configuration an open request describes.
fn model_config(request: &OpenRequest) -> Config {
    let defaults = Config::default();
    let Settings {
        initial_reconnection_time,
        backoff,
        max_line,
        max_event,
        accept_encoding: _,
    } = &request.settings;
    Config {
        initial_reconnection_time: initial_reconnection_time
            .unwrap_or(defaults.initial_reconnection_time),
        backoff: backoff.map_or(Backoff::None, |(base, max)| Backoff::Exponential {
            base,
            max,
        }),
        limits: Limits {
            max_line_len: max_line.unwrap_or(defaults.limits.max_line_len),
            max_event_data: max_event.unwrap_or(defaults.limits.max_event_data),
        },
        initial_last_event_id: request.last_event_id.clone().unwrap_or_default(),
        document_origin: request.page_origin.clone(),
        with_credentials: request.with_credentials,
        extensions: request.extensions.clone(),
        ..defaults
    }
}

struct ModelSession {
    commands: mpsc::UnboundedSender<Command>,
    task: tokio::task::JoinHandle<()>,
    companions: Vec<tokio::task::JoinHandle<()>>,
}

impl Session for ModelSession {
    fn command(&mut self, command: Command) -> BoxFuture<'_, Result<TakenAt, ClientError>> {
        let sent = self
            .commands
            .send(command)
            .map(|()| None)
            .map_err(|_| ClientError::Failed("the model's driver has stopped".into()));
        Box::pin(async move { sent })
    }
}

impl Drop for ModelSession {
    fn drop(&mut self) {
        self.task.abort();
        for companion in &self.companions {
            companion.abort();
        }
    }
}

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

struct Driver {
    es: EventSource,
    /// The page closes in its Nth message's handler: counts down to it.
    close_on_message: Option<u32>,
    net: Net,
    accept_encoding: Option<String>,
    observer: Observer,
    trace: Option<Arc<Mutex<Trace>>>,
    epoch: Instant,
}

impl Driver {
    fn now(&self) -> Duration {
        Instant::now().duration_since(self.epoch)
    }

    fn record(&self, output: &Output) {
        if let Some(trace) = &self.trace {
            trace
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .record(self.now(), output);
        }
        // Requests are observed by the server, not reported by the client.
        if let Output::Event(event) = output {
            self.observer.report(Seen::Page(event.clone()));
        }
    }

    /// The page calls close().
    fn close(&mut self) {
        self.es.close();
        if let Some(trace) = &self.trace {
            trace
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(self.now(), Observation::Closed);
        }
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut fetch: Option<Fetch> = None;
        let mut commands_open = true;
        loop {
            while let Some(output) = self.es.poll() {
                self.record(&output);
                match output {
                    Output::Io(Io::Fetch(request)) => {
                        fetch = Some(start(
                            request,
                            self.net.clone(),
                            self.accept_encoding.clone(),
                        ));
                    }
                    Output::Io(Io::Abort) => fetch = None,
                    // The page's handler runs now, before the next queued task.
                    Output::Event(PageEvent::Message(_)) => {
                        if let Some(n) = self.close_on_message.as_mut() {
                            *n -= 1;
                            if *n == 0 {
                                self.close_on_message = None;
                                self.close();
                            }
                        }
                    }
                    Output::Event(PageEvent::Open | PageEvent::Error { .. }) => {}
                }
            }
            // The model's next deadline, whatever moved it (a reconnection, bytes that pushed
            // the read timeout back, a close that cleared it).
            let due = self.es.poll_timeout().map(|d| self.epoch + d);
            tokio::select! {
                biased;
                command = commands.recv(), if commands_open => match command {
                    Some(Command::Close) => self.close(),
                    // The user agent aborts the fetch; only a fetch in flight can be aborted.
                    Some(Command::UserAgentAbort) => {
                        if fetch.take().is_some() {
                            self.es.handle_network_error(self.now(), NetworkError::Aborted);
                        }
                    }
                    // A caller-triggered restart: the connection is lost, as on a network error.
                    Some(Command::Restart) => {
                        if fetch.take().is_some() {
                            self.es.handle_network_error(self.now(), NetworkError::Failed);
                        }
                    }
                    None => commands_open = false,
                },
                () = sse_sim::sleep_until(due) => {
                    self.es.handle_timeout(self.now());
                }
                event = next_event(&mut fetch) => {
                    let now = self.now();
                    match event {
                        FetchEvent::Response(response) => self.es.handle_response(now, &response),
                        FetchEvent::Body(bytes) => self.es.handle_body(now, &bytes),
                        FetchEvent::End => {
                            fetch = None;
                            self.es.handle_end_of_body(now);
                        }
                        FetchEvent::Error => {
                            fetch = None;
                            self.es.handle_network_error(now, NetworkError::Failed);
                        }
                    }
                }
            }
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

fn start(request: Request, net: Net, accept_encoding: Option<String>) -> Fetch {
    let (tx, events) = mpsc::channel(16);
    let task = tokio::spawn(async move {
        if fetch(request, net, accept_encoding, &tx).await.is_err() {
            let _ = tx.send(FetchEvent::Error).await;
        }
    });
    Fetch { events, task }
}

/// One fetch: connect, send, report the head, then every body chunk (decoded), then the end.
async fn fetch(
    request: Request,
    net: Net,
    accept_encoding: Option<String>,
    tx: &mpsc::Sender<FetchEvent>,
) -> Result<(), FetchError> {
    let mut headers: Vec<(&str, &str)> = request
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    if let Some(coding) = &accept_encoding {
        headers.push(("accept-encoding", coding.as_str()));
    }
    let req = sse_http::exchange::request_with(
        request.method.as_str(),
        &request.url,
        &headers,
        request.body.clone().map(Bytes::from),
    )?;
    let response = sse_http::exchange::send(&net, &request.url, req).await?;
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
    let mut decoder = Decoder::new(encoding.as_deref())
        .ok_or_else(|| FetchError::Http(format!("unknown content coding {encoding:?}")))?;
    let gone = |_| FetchError::Http("the client stopped listening".into());
    tx.send(FetchEvent::Response(head)).await.map_err(gone)?;
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| FetchError::Http(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let decoded = decoder
            .decode(&data)
            .ok_or_else(|| FetchError::Http("undecodable body".into()))?;
        if !decoded.is_empty() {
            tx.send(FetchEvent::Body(decoded)).await.map_err(gone)?;
        }
    }
    tx.send(FetchEvent::End).await.map_err(gone)
}
