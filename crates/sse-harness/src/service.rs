//! Client libraries in any language, through a test service that speaks LaunchDarkly's
//! sse-contract-tests protocol (unchanged, so services written for that suite run here as they
//! are), plus optional capabilities of our own named `ssec:...`. See `docs/test-service.md`.
//!
//! A [`Service`] is either given by URL (`--impl service=http://127.0.0.1:PORT`) or started from
//! an adapter directory (`adapters/NAME/{setup,run}`), in which case it is stopped when dropped.
//! Each case's stream gets a callback server of its own on loopback; callbacks are put back in
//! the service's order and mapped onto what a page would observe.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use crate::client::{
    Capabilities, Capability, Client, ClientError, Command, Identity, Observer, OpenRequest, Seen,
    Session, TakenAt,
};
use crate::remote::{self, InOrder, Stamper};

/// How long a service may take to answer its status after it is started.
const STARTUP: Duration = Duration::from_secs(30);
/// How long an adapter's `setup` may take (a first install downloads packages).
const SETUP: Duration = Duration::from_secs(600);
/// How long the service may take to answer one request.
const CALL: Duration = Duration::from_secs(10);
/// The largest callback the harness reads (an event's data travels in one): room for the
/// catalogue's largest event (13.3 MB), not for what no case sends.
const MAX_CALLBACK_BYTES: usize = 16 << 20;

/// The capability names of the protocol and ours, and what each means to the harness.
const MAPPED: [(&str, Capability); 11] = [
    ("restart", Capability::Restart),
    ("ssec:stream-parser", Capability::StreamParser),
    ("ssec:close-in-handler", Capability::CloseInHandler),
    ("last-event-id", Capability::InitialLastEventId),
    ("headers", Capability::Headers),
    ("post", Capability::Post),
    ("report", Capability::Report),
    ("read-timeout", Capability::ReadTimeout),
    ("ssec:open", Capability::OpenEvent),
    ("ssec:ready-state", Capability::ReadyState),
    ("comments", Capability::Comments),
];

/// A client library behind a test service.
pub struct Service {
    url: Url,
    identity: Identity,
    declared: BTreeSet<String>,
    process: Option<Mutex<Child>>,
    /// Exchanges the service did not answer in time, for the run's output and report.
    warnings: Warnings,
}

/// What went wrong with the service outside any verdict, shared by its sessions.
#[derive(Debug, Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

/// Warnings kept at most: past them, a count.
const MAX_WARNINGS: usize = 50;

impl Warnings {
    fn push(&self, warning: String) {
        let mut all = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        all.push(warning);
    }

    fn take(&self) -> Vec<String> {
        let mut all = std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if all.len() > MAX_WARNINGS {
            let more = all.len() - MAX_WARNINGS;
            all.truncate(MAX_WARNINGS);
            all.push(format!("... and {more} more like these"));
        }
        all
    }
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Service({})", self.url)
    }
}

/// The status resource (`GET /`); `name` and `version` are ours.
#[derive(Debug, Deserialize)]
struct Status {
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
}

impl Service {
    /// A service already running at `url` (loopback only), once it answers its status.
    pub fn connect(url: &str) -> Result<Service, String> {
        Service::connect_while(url, || Ok(()))
    }

    /// Waits for the service's status while `alive` says its process still runs.
    fn connect_while(
        url: &str,
        mut alive: impl FnMut() -> Result<(), String>,
    ) -> Result<Service, String> {
        let url = Url::parse(url).map_err(|e| format!("bad service URL {url:?}: {e}"))?;
        if url.scheme() != "http" {
            return Err(format!("the service URL must be http://, not {url}"));
        }
        // Refused once, at once: waiting for a service the harness will never call is no use.
        crate::client::loopback_ip(url.host_str().unwrap_or_default())
            .map_err(|why| format!("the service URL {url}: {why}"))?;
        let deadline = Instant::now() + STARTUP;
        let status = loop {
            let probe = url.clone();
            let answer = remote::block_on(async move {
                remote::call(Method::GET, &probe, None, Duration::from_secs(2)).await
            })
            .unwrap_or_else(|| {
                Err(sse_http::fetch::FetchError::Http(
                    "the status request could not run".into(),
                ))
            });
            let why = match answer {
                Ok(a) if a.status.is_success() => {
                    let status: Status = if a.body.iter().all(u8::is_ascii_whitespace) {
                        Status {
                            capabilities: Vec::new(),
                            name: None,
                            version: None,
                        }
                    } else {
                        serde_json::from_slice(&a.body)
                            .map_err(|e| format!("{url} answered a status that is not JSON: {e}"))?
                    };
                    break status;
                }
                Ok(a) => format!("it answered {}", a.status),
                Err(e) => e.to_string(),
            };
            alive()?;
            if Instant::now() >= deadline {
                return Err(format!(
                    "the test service at {url} did not answer within {STARTUP:?}: {why}"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let identity = Identity {
            name: status.name.unwrap_or_else(|| format!("service:{url}")),
            version: status.version.unwrap_or_else(|| "unknown".into()),
        };
        Ok(Service {
            url,
            identity,
            declared: status.capabilities.into_iter().collect(),
            process: None,
            warnings: Warnings::default(),
        })
    }

    /// Runs the adapter in `dir` (`setup`, then `run PORT`) and connects to it; the process is
    /// stopped when the service is dropped. An error says why it cannot run here (its setup's
    /// last words: a missing toolchain).
    pub fn adapter(dir: &Path) -> Result<Service, String> {
        let name = dir
            .file_name()
            .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into());
        for script in ["setup", "run"] {
            if !dir.join(script).is_file() {
                return Err(format!("{} has no `{script}`", dir.display()));
            }
        }
        let logs = std::env::temp_dir().join(format!("sse-adapter-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&logs)
            .map_err(|e| format!("cannot make {}: {e}", logs.display()))?;
        let mut setup = std::process::Command::new(dir.join("setup"));
        setup.current_dir(dir);
        remote::run_logged(&mut setup, &logs.join("setup.log"), SETUP)
            .map_err(|e| format!("setup {e}"))?;
        let port = remote::free_port().map_err(|e| e.to_string())?;
        let run_log = logs.join("run.log");
        let mut run = std::process::Command::new(dir.join("run"));
        run.arg(port.to_string()).current_dir(dir);
        let mut child = remote::spawn_logged(&mut run, &run_log)?;
        let url = format!("http://127.0.0.1:{port}/");
        let service = Service::connect_while(&url, || match child.try_wait() {
            Ok(Some(status)) => Err(format!(
                "{name}: `run` exited ({status}){}",
                remote::log_tail(&run_log)
            )),
            _ => Ok(()),
        });
        match service {
            Ok(mut s) => {
                s.process = Some(Mutex::new(child));
                Ok(s)
            }
            Err(e) => {
                remote::kill_group(&mut child);
                Err(e)
            }
        }
    }

    /// The capability names the service declared.
    pub fn declared(&self) -> &BTreeSet<String> {
        &self.declared
    }

    fn has(&self, name: &str) -> bool {
        self.declared.contains(name)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let Some(child) = self.process.take() else {
            return;
        };
        let mut child = child.into_inner().unwrap_or_else(PoisonError::into_inner);
        // Ask it to stop (`DELETE /`), then make sure.
        let url = self.url.clone();
        let _ = remote::block_on(async move {
            remote::call(Method::DELETE, &url, None, Duration::from_secs(2)).await
        });
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        remote::kill_group(&mut child);
    }
}

impl Client for Service {
    fn identity(&self) -> Identity {
        self.identity.clone()
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.take()
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps: Capabilities = MAPPED
            .iter()
            .filter(|(name, _)| self.has(name))
            .map(|(_, c)| *c)
            .collect();
        // `DELETE <stream>` stops a stream: the page's close().
        caps.insert(Capability::Close);
        caps
    }

    fn open(
        &self,
        request: OpenRequest,
        observer: Observer,
    ) -> BoxFuture<'static, Result<Box<dyn Session>, ClientError>> {
        let base = self.url.clone();
        let name = self.identity.name.clone();
        let warnings = self.warnings.clone();
        let tag = request
            .url
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let flags = Flags {
            open: self.has("ssec:open"),
            ready_state: self.has("ssec:ready-state"),
            time: self.has("ssec:time"),
            last_event_id_attribute: self.has("ssec:last-event-id-attribute"),
        };
        let listen = self.has("event-type-listeners");
        let initial_last_event_id = self.has("last-event-id");
        Box::pin(async move {
            let failed = |why: String| ClientError::Failed(format!("{name}: {why}"));
            let shared = Arc::new(Shared {
                flags,
                state: Mutex::new(CallbackState {
                    order: InOrder::new(1, observer.budget()),
                    stamper: Stamper::default(),
                }),
                observer,
            });
            let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
                .await
                .map_err(|e| failed(format!("cannot start the callback server: {e}")))?;
            let callback_addr = listener
                .local_addr()
                .map_err(|e| failed(format!("cannot start the callback server: {e}")))?;
            let server = tokio::spawn({
                let shared = shared.clone();
                remote::serve(listener, move |req| {
                    let shared = shared.clone();
                    async move { callback(req, &shared).await }
                })
            });
            let mut session = ServiceSession {
                base: base.clone(),
                location: None,
                server,
                name: name.clone(),
                warnings,
                tag,
            };
            let callback_url = format!("http://{callback_addr}/streams/1");
            let body = stream_body(&request, &callback_url, initial_last_event_id)?;
            let answer = remote::call(Method::POST, &base, Some(&body), CALL)
                .await
                .map_err(|e| failed(format!("creating the stream: {e}")))?;
            if answer.status.is_client_error() {
                // The library would not take the stream (a URL it cannot fetch): as when a
                // page's constructor throws, nothing else happens and the page sees no event.
                shared.observer.report(Seen::error(
                    None,
                    Some(format!(
                        "the service refused the stream ({}): {}",
                        answer.status,
                        String::from_utf8_lossy(&answer.body).trim()
                    )),
                ));
                return Ok(Box::new(session) as Box<dyn Session>);
            }
            if !answer.status.is_success() {
                return Err(failed(format!(
                    "creating the stream: the service answered {}: {}",
                    answer.status,
                    String::from_utf8_lossy(&answer.body).trim()
                )));
            }
            let location = answer
                .headers
                .get(http::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| failed("creating the stream: the answer has no Location".into()))?;
            let location = base.join(location).map_err(|e| {
                failed(format!(
                    "creating the stream: bad Location {location:?}: {e}"
                ))
            })?;
            session.location = Some(location);
            if listen {
                for event_type in std::iter::once("message".to_owned()).chain(request.event_types) {
                    session
                        .order(json!({"command": "listen", "listen": {"type": event_type}}))
                        .await?;
                }
            }
            Ok(Box::new(session) as Box<dyn Session>)
        })
    }
}

/// The body of `POST /` that asks the service for a stream: the contract's fields, and the
/// extensions the case needs.
fn stream_body(
    request: &OpenRequest,
    callback_url: &str,
    initial_last_event_id: bool,
) -> Result<Value, ClientError> {
    let mut body = json!({
        "streamUrl": request.url.as_str(),
        "callbackUrl": callback_url,
        "tag": request.url.path().rsplit('/').next().unwrap_or_default(),
        "initialDelayMs": request
            .settings
            .initial_reconnection_time
            .unwrap_or(sse_model::DEFAULT_RECONNECTION_TIME)
            .as_millis(),
    });
    if let Some(id) = request.last_event_id.as_ref().filter(|id| !id.is_empty()) {
        if !initial_last_event_id {
            return Err(ClientError::Unsupported(
                Capability::InitialLastEventId.name().into(),
            ));
        }
        body["lastEventId"] = json!(id);
    }
    let ext = &request.extensions;
    if !ext.headers.is_empty() {
        body["headers"] = ext
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), Value::String(v.clone())))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    if let Some(method) = &ext.method {
        body["method"] = json!(method);
    }
    if let Some(text) = &ext.body {
        body["body"] = json!(text);
    }
    if let Some(limit) = ext.read_timeout {
        body["readTimeoutMs"] = json!(limit.as_millis());
    }
    if let Some(n) = request.close_on_message {
        body["closeOnMessage"] = json!(n);
    }
    Ok(body)
}

/// Which of our optional capabilities the service declared.
#[derive(Debug, Clone, Copy)]
struct Flags {
    open: bool,
    ready_state: bool,
    time: bool,
    last_event_id_attribute: bool,
}

struct Shared {
    observer: Observer,
    flags: Flags,
    state: Mutex<CallbackState>,
}

struct CallbackState {
    order: InOrder<Callback>,
    stamper: Stamper,
}

impl remote::Weight for Callback {
    fn weight(&self) -> usize {
        self.kind.len()
            + self.comment.as_ref().map_or(0, String::len)
            + self.event.as_ref().map_or(0, |e| {
                e.data.len()
                    + e.event_type.as_ref().map_or(0, String::len)
                    + e.id.as_ref().map_or(0, String::len)
                    + e.last_event_id.as_ref().map_or(0, String::len)
            })
    }
}

/// One callback message; `readyState`, `timeMs` and `open` are ours.
#[derive(Debug, Deserialize)]
struct Callback {
    kind: String,
    #[serde(default)]
    event: Option<CallbackEvent>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default, rename = "readyState")]
    ready_state: Option<u8>,
    #[serde(default, rename = "timeMs")]
    time_ms: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct CallbackEvent {
    #[serde(default, rename = "type")]
    event_type: Option<String>,
    #[serde(default)]
    data: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default, rename = "lastEventId")]
    last_event_id: Option<String>,
}

impl Shared {
    /// Takes callback `n`, reporting every callback now in the service's order.
    fn take(&self, n: u64, callback: Callback) -> Result<(), remote::Overflow> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let ready = state.order.take(n, callback).inspect_err(|overflow| {
            self.observer
                .overrun(format!("the service's callbacks: {overflow}"));
        })?;
        for c in ready {
            let time = if self.flags.time { c.time_ms } else { None };
            let Some(seen) = self.seen(c) else {
                continue;
            };
            let at = state.stamper.stamp(&self.observer, time);
            self.observer.report_at(at, seen);
        }
        Ok(())
    }

    /// What a page would have observed (the callback's strings moved, not copied); `None` for
    /// what the harness does not take.
    fn seen(&self, c: Callback) -> Option<Seen> {
        match c.kind.as_str() {
            "event" => {
                let e = c.event?;
                let id = if self.flags.last_event_id_attribute {
                    e.last_event_id.or(e.id)
                } else {
                    e.id
                };
                Some(Seen::message(
                    e.event_type.unwrap_or_default(),
                    e.data,
                    id.unwrap_or_default(),
                ))
            }
            "comment" => Some(Seen::Comment {
                text: c.comment.unwrap_or_default(),
            }),
            "error" => Some(Seen::error(
                c.ready_state
                    .filter(|_| self.flags.ready_state)
                    .and_then(remote::ready_state),
                c.comment,
            )),
            "open" if self.flags.open => Some(Seen::OPEN),
            _ => None,
        }
    }
}

/// `POST /streams/1/<n>`: one callback.
async fn callback(req: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let n = req
        .uri()
        .path()
        .strip_prefix("/streams/1/")
        .and_then(|n| n.parse::<u64>().ok());
    match (req.method() == Method::POST, n) {
        (true, Some(n)) => match remote::read_json::<Callback>(req, MAX_CALLBACK_BYTES).await {
            Ok((c, _reading)) => match shared.take(n, c) {
                Ok(()) => remote::reply(StatusCode::ACCEPTED, ""),
                Err(e) => remote::reply(StatusCode::PAYLOAD_TOO_LARGE, &format!("{e}\n")),
            },
            Err(e) => {
                // A callback the harness could not take leaves the case unjudgeable: it ends
                // saying why.
                shared
                    .observer
                    .overrun(format!("the service's callback {n} was refused: {e}"));
                remote::reply(StatusCode::BAD_REQUEST, &format!("{e}\n"))
            }
        },
        _ => remote::reply(StatusCode::NOT_FOUND, "callbacks are POST /streams/1/<n>\n"),
    }
}

/// One stream of the service.
struct ServiceSession {
    base: Url,
    /// The stream's resource, once created.
    location: Option<Url>,
    server: tokio::task::JoinHandle<()>,
    name: String,
    /// Where an unanswered `DELETE` at the end of the case is told.
    warnings: Warnings,
    /// The case.
    tag: String,
}

impl ServiceSession {
    /// Sends a command to the stream.
    async fn order(&self, command: Value) -> Result<(), ClientError> {
        let location = self.location.as_ref().unwrap_or(&self.base);
        let answer = remote::call(Method::POST, location, Some(&command), CALL)
            .await
            .map_err(|e| ClientError::Failed(format!("{}: {e}", self.name)))?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(ClientError::Failed(format!(
                "{}: the service answered {} to {command}",
                self.name, answer.status
            )))
        }
    }

    /// Closes the stream (`DELETE <location>`); a second time does nothing.
    async fn close(&mut self) -> Result<(), ClientError> {
        let Some(location) = self.location.take() else {
            return Ok(());
        };
        let answer = remote::call(Method::DELETE, &location, None, CALL)
            .await
            .map_err(|e| ClientError::Failed(format!("{}: closing: {e}", self.name)))?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(ClientError::Failed(format!(
                "{}: the service answered {} to closing the stream",
                self.name, answer.status
            )))
        }
    }
}

impl Session for ServiceSession {
    fn command(&mut self, command: Command) -> BoxFuture<'_, Result<TakenAt, ClientError>> {
        Box::pin(async move {
            match command {
                Command::Close => self.close().await.map(|()| None),
                Command::Restart => self
                    .order(json!({"command": "restart"}))
                    .await
                    .map(|()| None),
                other => Err(ClientError::Unsupported(other.capability().name().into())),
            }
        })
    }
}

impl Drop for ServiceSession {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(location) = self.location.take() {
            // The case's runtime may be going away: stop the stream from a thread of its own.
            let target = location.to_string();
            let answer = remote::block_on(async move {
                remote::call(Method::DELETE, &location, None, CALL).await
            });
            let why = match answer {
                Some(Ok(a)) if a.status.is_success() => return,
                Some(Ok(a)) => format!("answered {}", a.status),
                Some(Err(e)) => e.to_string(),
                None => "the request could not run".into(),
            };
            self.warnings.push(format!(
                "{}: DELETE {target} at the end of the case was not answered ({why}); the case went on without it (a close() that blocks slows every case)",
                self.tag
            ));
        }
    }
}

/// The adapters shipped in `adapters/` (directories with `setup` and `run`), by name.
pub fn adapters(root: &Path) -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("run").is_file() && p.join("setup").is_file())
        .filter_map(|p| Some((p.file_name()?.to_string_lossy().into_owned(), p)))
        .collect();
    found.sort();
    found
}
