//! The simplest way to put a client under test: write its stream as one async task that
//! connects, reports what its user would see, and ends when it is dropped. The harness provides
//! the session: `close()` drops the task (how most libraries are closed), and a command the
//! client did not declare is refused as unsupported.
//!
//! The example below is `examples/minimal-client/tests/conformance.rs`, which `cargo test
//! -p sse-minimal-client` runs (396 cases pass, the 72 that need reconnection are ignored).
#![doc = concat!(
    "```no_run\n",
    include_str!("../../../examples/minimal-client/tests/conformance.rs"),
    "```"
)]

use std::future::Future;

use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use http_body_util::BodyExt as _;
use sse_case::client::{Capabilities, Command, Identity};
use sse_http::fetch::FetchError;

use crate::client::{Client, ClientError, Observer, OpenRequest, Session, TakenAt};

/// A client whose stream is one async task (see the module's example). Every `TaskClient` is a
/// [`Client`].
pub trait TaskClient: Clone + Send + Sync + 'static {
    /// Name and version, for reports.
    fn identity(&self) -> Identity;

    /// What it can do and report; [`Capability::Close`](sse_case::client::Capability::Close)
    /// is taken care of (dropping the task).
    fn capabilities(&self) -> Capabilities;

    /// Opens the stream of `request` and reports to `observer` what a user would see, until
    /// the stream ends for good or the task is dropped. Runs on a clone of the client.
    fn run(
        self,
        request: OpenRequest,
        observer: Observer,
    ) -> impl Future<Output = ()> + Send + 'static;
}

impl<C: TaskClient> Client for C {
    fn identity(&self) -> Identity {
        TaskClient::identity(self)
    }

    fn capabilities(&self) -> Capabilities {
        let mut has = TaskClient::capabilities(self);
        has.insert(sse_case::client::Capability::Close);
        has
    }

    fn open(
        &self,
        request: OpenRequest,
        observer: Observer,
    ) -> BoxFuture<'static, Result<Box<dyn Session>, ClientError>> {
        let running = tokio::spawn(self.clone().run(request, observer));
        Box::pin(async move { Ok(Box::new(Running(running)) as Box<dyn Session>) })
    }
}

/// The session of a stream read by a task of its own, which the harness provides a
/// [`TaskClient`] and any [`Client`] may return: `close()` drops the task (how most libraries
/// are closed); any other command is refused as unsupported.
pub struct Running(tokio::task::JoinHandle<()>);

impl Running {
    /// The session of the stream `task` reads.
    pub fn new(task: tokio::task::JoinHandle<()>) -> Self {
        Running(task)
    }
}

impl Session for Running {
    fn command(&mut self, command: Command) -> BoxFuture<'_, Result<TakenAt, ClientError>> {
        let result = match command {
            Command::Close => {
                self.0.abort();
                Ok(None)
            }
            other => Err(ClientError::Unsupported(other.name().into())),
        };
        Box::pin(async move { result })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The body of a response, chunk by chunk.
pub type Body = BoxStream<'static, Result<bytes::Bytes, FetchError>>;

/// A response to [`get`]: its status, its `Content-Type` (empty when it has none), its body.
pub struct Got {
    /// The status code.
    pub status: u16,
    /// The `Content-Type` header's value, or empty.
    pub content_type: String,
    /// The body.
    pub body: Body,
}

impl Got {
    /// Whether an EventSource would announce it: status 200 and type `text/event-stream`.
    pub fn is_event_stream(&self) -> bool {
        self.status == 200 && sse_model::mime::is_event_stream([self.content_type.as_str()])
    }
}

/// GETs the request's URL as an EventSource does (`Accept: text/event-stream`, `Cache-Control:
/// no-cache`, the request's Last-Event-ID) through the request's network, following redirects
/// as Fetch does (at most 20); an error when no final response came.
pub async fn get(request: &OpenRequest) -> Result<Got, FetchError> {
    let headers = sse_http::exchange::eventsource_headers(request.last_event_id.as_deref(), None);
    let (response, _) =
        sse_http::exchange::get_following(&request.net, &request.url, &headers).await?;
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .into_data_stream()
        .map(|chunk| chunk.map_err(|e| FetchError::Http(e.to_string())));
    Ok(Got {
        status,
        content_type,
        body: body.boxed(),
    })
}
