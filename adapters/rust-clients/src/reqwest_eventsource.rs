//! `reqwest-eventsource` (crates.io, 0.6.0) over loopback, on reqwest 0.12 without TLS or
//! system proxies.
//!
//! How its API maps onto what the harness observes:
//! - `Event::Open` is `open`; `Event::Message` is a message (its `id` is the last event ID the
//!   parser holds);
//! - an `Err` item is `error`, with readyState as the library's own `ready_state()` reports it
//!   right after (it has one: CLOSED when it gave up, CONNECTING while a retry is pending);
//! - dropping the stream is `close()`; it has no way to start with a Last-Event-ID;
//! - the retry policy is the library's default (exponential from 300 ms, doubling up to 5 s),
//!   starting from the case's initial reconnection time where the case suggests one.

use futures::StreamExt;
use futures::future::BoxFuture;
use reqwest_eventsource::retry::ExponentialBackoff;
use reqwest_eventsource::{Event, EventSource};
use sse_harness::client::ReadyState;
use sse_harness::{
    Capabilities, Capability, Client, ClientError, Identity, Observer, OpenRequest, Seen, Session,
};

/// `reqwest-eventsource` as an implementation under test.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReqwestEventsource;

impl Client for ReqwestEventsource {
    fn identity(&self) -> Identity {
        Identity {
            name: "reqwest-eventsource".into(),
            version: "0.6.0".into(),
        }
    }

    fn capabilities(&self) -> Capabilities {
        [
            Capability::OpenEvent,
            Capability::ReadyState,
            Capability::Close,
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
            if request.net.is_simulated() {
                return Err(ClientError::Unsupported(
                    "reqwest has no pluggable connector: loopback only".into(),
                ));
            }
            let http = reqwest::Client::builder()
                .no_proxy()
                .build()
                .map_err(|e| ClientError::Failed(e.to_string()))?;
            let mut source = match EventSource::new(http.get(request.url.as_str())) {
                Ok(source) => source,
                Err(e) => {
                    // It will not take the URL (a scheme reqwest cannot fetch): as when a
                    // page's constructor throws, the user sees an error and nothing else.
                    observer.error(None, &format!("EventSource::new failed: {e}"));
                    return Ok(
                        Box::new(sse_harness::task::Running::new(tokio::spawn(async {})))
                            as Box<dyn Session>,
                    );
                }
            };
            if let Some(start) = request.settings.initial_reconnection_time {
                source.set_retry_policy(Box::new(ExponentialBackoff::new(
                    start,
                    2.0,
                    Some(std::time::Duration::from_secs(5)),
                    None,
                )));
            }
            let task = tokio::spawn(watch(source, observer));
            Ok(Box::new(sse_harness::task::Running::new(task)) as Box<dyn Session>)
        })
    }
}

/// Reports what the library's stream yields, as its user sees it.
async fn watch(mut source: EventSource, observer: Observer) {
    while let Some(item) = source.next().await {
        match item {
            Ok(Event::Open) => observer.open(),
            Ok(Event::Message(m)) => observer.report(Seen::message(m.event, m.data, m.id)),
            Err(e) => {
                let ready_state = match source.ready_state() {
                    reqwest_eventsource::ReadyState::Connecting => ReadyState::Connecting,
                    reqwest_eventsource::ReadyState::Open => ReadyState::Open,
                    reqwest_eventsource::ReadyState::Closed => ReadyState::Closed,
                };
                observer.error(Some(ready_state), &e.to_string());
            }
        }
    }
}
