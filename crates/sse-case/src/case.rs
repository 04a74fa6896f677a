//! Case files (`fixtures/cases/*.toml`), parsed and checked once: the requirement ids a case
//! checks, the server (a script or the reference server), the faults, what the client is asked
//! to do, and the run length. The expected behaviour is the case's golden trace, the model's
//! reviewed insta snapshot in `fixtures/snapshots/cases/`, from which `sse_judge::expect` derives
//! what any implementation is judged against.
//!
//! ```toml
//! checks = ["CONN-STATUS-204", "FAIL-NO-RECONNECT"]
//! about = "A 204 on reconnection stops the client for good."
//! duration_ms = 10000          # run length (simulated, or real on loopback)
//! seed = 1                     # optional; the simulator's seed
//!
//! [client]                     # all optional
//! path = "/sse/1?limit=3"      # default: /cases/{id}, the scripted server below
//! close_at_ms = 5000           # the page calls close()
//! close_on_message = 1         # the page calls close() in its first message's handler
//! last_event_id = "41"         # a persisted id for the first request
//! origin = "{page-origin}"     # the page's origin: CORS applies to other origins; `{origin}` is
//!                              # the stream's own (CORS starts when a redirect leaves it), and
//!                              # `{page-origin}` a third origin of the case server where a
//!                              # browser's page is served (a literal origin works for clients
//!                              # without a page)
//! with_credentials = true
//! ua_abort_at_ms = 500         # the user agent aborts the fetch
//! # extensions some client libraries offer (LaunchDarkly's optional features, EXT-*); a case
//! # using one is unsupported for a client without it:
//! headers = [["x-tenant", "a"]] # added to every request
//! method = "POST"              # or "REPORT": instead of GET, on every request ...
//! body = "{\"q\": 1}"          # ... with this body, sent again on every reconnection
//! read_timeout_ms = 500        # no bytes for this long: the connection is lost
//! restart_at_ms = 300          # the caller drops the connection and reconnects
//! companions = 6               # first open this many other streams to the same origin, from
//!                              # the same page (a browser) or process, kept open to the end
//! # user-agent choices the model can be given (other implementations have their own):
//! reconnection_ms = 1000       # initial reconnection time (default 3000, the model's)
//! backoff = { base_ms = 100, max_ms = 800 }
//! accept_encoding = "gzip"     # what the client's HTTP stack offers (default: nothing)
//! max_line = 1048576           # parser limits
//!
//! # A network error a browser page must see: end a response's body after its headers
//! # (`end = "abort"`); a refused or reset connection is retried inside a browser's network
//! # stack before the page hears of it.
//!
//! [server]                     # either a script (see crate::script) ...
//! [[server.responses]]
//! body = [{ send = "data: a\n\n" }]
//!
//! [server.reference]           # ... or the reference server with these options
//! retry_ms = 500
//!
//! [publisher]                  # optional: publish to a topic of the reference server
//! topic = "t"
//! every_ms = 1000
//! count = 5
//!
//! [[faults]]                   # see crate::fault::Fault
//! kind = "drop"
//! after_bytes = 120
//!
//! [expect]                     # optional judging rules
//! extra_wait = "pass"          # waiting longer than the reconnection time is fine here
//! patience_ms = 20000          # how long loopback waits for the next observation
//! # the case is about an implementation-defined choice: a finding blamed only on `shows_as`
//! # is that choice (informational, naming it); any other keeps its rule and level
//! choice = { requirement = "IMPL-X", shows_as = ["CONN-ANNOUNCE"] }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::fault::{Fault, Publisher};
use crate::script::{Script, ScriptedResponse};
use serde::{Deserialize, Serialize};
use sse_model::Trace;

use crate::{Invalid, LoadError, invalid};

/// The id under which a case server plays a browser's page (`/cases/harness-browser-page`); no
/// case may use it.
pub const PAGE_SCRIPT: &str = "harness-browser-page";

/// The longest run a case may ask for: cases are short by design, and a huge value would hang a
/// loopback run or a simulation.
pub const MAX_DURATION_MS: u64 = 600_000;

/// The most companion streams a case may ask for: enough for any per-origin limit a browser
/// has (six), few enough that no run exhausts anyone's sockets.
pub const MAX_COMPANIONS: u8 = 16;

/// A case, as loaded from its file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// The file stem; filled in by [`load`].
    #[serde(skip)]
    pub id: String,
    /// The file itself; filled in by [`load`].
    #[serde(skip)]
    pub path: PathBuf,
    /// Requirement ids this case checks.
    pub checks: Vec<String>,
    /// What the case shows, for a person.
    pub about: String,
    /// Run length.
    pub duration_ms: u64,
    /// Simulation seed (turmoil's RNG: latency jitter and scheduling).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// What the client is asked to do.
    #[serde(default)]
    pub client: ClientSpec,
    /// The server.
    pub server: ServerSpec,
    /// An optional publisher to a reference-server topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<Publisher>,
    /// Faults, applied by the proxy or the network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Fault>,
    /// Judging rules beyond the defaults.
    #[serde(default, skip_serializing_if = "ExpectSpec::is_default")]
    pub expect: ExpectSpec,
    /// The reviewed golden trace, when the case has one (filled in by the catalogue).
    #[serde(skip)]
    pub golden: Option<Trace>,
    /// Golden traces under other readings of an ambiguous text, where they differ (filled in by
    /// the catalogue from `CASE@READING.snap`).
    #[serde(skip)]
    pub alternatives: Vec<(Vec<crate::reading::Reading>, Trace)>,
    /// For a stream case (made from a stream fixture, never from a case file): the stream, how
    /// it is delivered, and what the judge needs to blame the rule a client broke.
    #[serde(skip)]
    pub stream: Option<Arc<crate::stream_source::StreamSource>>,
}

fn default_seed() -> u64 {
    1
}

/// What the client is asked to do, and the user-agent choices the model can be given.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    /// Path (and query) on the case server; default `/cases/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The constructor's URL exactly as a page would give it, resolved against the case
    /// server's URL for `path` (for URLs no path can express: `ftp:`, `about:blank`, `""`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Initial reconnection time in milliseconds (default: the model's 3000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconnection_ms: Option<u64>,
    /// Extra exponential backoff after failed attempts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff: Option<BackoffSpec>,
    /// When the page calls close().
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_at_ms: Option<u64>,
    /// The page calls close() in the handler of its Nth message (1-based), while later events
    /// of the same read wait to be dispatched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_on_message: Option<u32>,
    /// The Accept-Encoding the client's HTTP stack sends (and then decodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_encoding: Option<String>,
    /// A persisted last event ID for the first request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_event_id: Option<String>,
    /// Parser line limit in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_line: Option<usize>,
    /// Parser event-size limit in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_event: Option<usize>,
    /// The origin of the page that creates the EventSource (CORS applies when it differs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Whether the EventSource is created with `withCredentials: true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_credentials: Option<bool>,
    /// When the user agent aborts the fetch (navigation, `window.stop()`), which fails the
    /// connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ua_abort_at_ms: Option<u64>,
    /// Headers a library's user adds to every request (extension `EXT-HEADERS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<(String, String)>>,
    /// `POST` or `REPORT` instead of `GET` (extension `EXT-METHOD-BODY`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The request body with [`ClientSpec::method`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// A read timeout: a connection silent this long is lost (extension `EXT-READ-TIMEOUT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_timeout_ms: Option<u64>,
    /// When the library's user asks for the connection to be dropped and made again
    /// (extension `EXT-RESTART`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_at_ms: Option<u64>,
    /// How many other streams to the same origin the client opens first, from the same page or
    /// process, and keeps open to the end (their events are nobody's concern): a connection
    /// limit per origin shows on the case's own stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub companions: Option<u8>,
}

impl ClientSpec {
    /// The extensions this client is asked for, as the model takes them.
    pub fn extensions(&self) -> sse_model::Extensions {
        sse_model::Extensions {
            headers: self
                .headers
                .iter()
                .flatten()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                .collect(),
            method: self.method.clone(),
            body: self.body.clone(),
            read_timeout: self.read_timeout_ms.map(Duration::from_millis),
        }
    }
}

/// Exponential backoff settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackoffSpec {
    /// Extra wait after the first failed attempt.
    pub base_ms: u64,
    /// Cap on the extra wait.
    pub max_ms: u64,
}

/// The server side of a case.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    /// Scripted responses (served at `/cases/{id}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub responses: Vec<ScriptedResponse>,
    /// The reference server, with these options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<ReferenceSpec>,
}

impl ServerSpec {
    /// The script, if this is a scripted case.
    pub fn script(&self) -> Option<Script> {
        (!self.responses.is_empty()).then(|| Script {
            responses: self.responses.clone(),
        })
    }
}

/// Options of the reference server for a case (unset ones keep the server's defaults).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReferenceSpec {
    /// Initial `retry` in ms; 0 sends none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_ms: Option<u64>,
    /// Keep-alive interval in ms; 0 disables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_alive_ms: Option<u64>,
    /// Initial padding comment size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub padding: Option<usize>,
    /// Compress when the client accepts it (default: when `client.accept_encoding` is set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<bool>,
    /// Flush the compressor after every event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flush_each_event: Option<bool>,
    /// Demo stream interval in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demo_interval_ms: Option<u64>,
    /// Topic replay log size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_log: Option<usize>,
    /// Whether topics survive a server restart (default true: a durable store).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durable_topics: Option<bool>,
    /// Origins allowed cross-origin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
}

/// Judging rules a case may set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    /// How a reconnection that waits longer than the reconnection time is judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_wait: Option<ExtraWait>,
    /// Requirements the case's server breaks on purpose, to show what that does to a client:
    /// the case demonstrates them and never counts as checking them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub demonstrates: Vec<String>,
    /// How long a loopback run waits for the next observation before it ends (default: a few
    /// seconds, longer where a reconnection is due): a case whose client has megabytes to parse
    /// gives it time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patience_ms: Option<u64>,
    /// The implementation-defined choice the case is about: the model's trace is one choice
    /// among several the standard allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice: Option<Choice>,
}

/// An implementation-defined choice a case shows, and how it shows.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// The implementation-defined requirement (one the case checks).
    pub requirement: String,
    /// The rules a divergence the choice causes would otherwise be blamed on: a finding naming
    /// only these is the choice (informational, naming it); any other finding keeps its rule
    /// and level, so the case still catches what it does not excuse.
    pub shows_as: Vec<String>,
}

impl ExpectSpec {
    fn is_default(&self) -> bool {
        *self == ExpectSpec::default()
    }
}

/// The verdict for waiting longer than the reconnection time after a connection that was open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExtraWait {
    /// Allowed and unremarkable here.
    Pass,
    /// Allowed by the standard, but not what the case's plain reading does (the default).
    NonStrict,
}

/// Loads and checks one case file (requirement ids are checked by [`crate::Catalogue`], which
/// knows them).
pub fn load(path: &Path) -> Result<Case, LoadError> {
    let text = crate::read(path)?;
    let invalid = |reason: String| LoadError::Invalid {
        path: path.to_owned(),
        reason,
    };
    let mut case: Case = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    case.id = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    case.path = path.to_owned();
    case.validate().map_err(|e| invalid(e.0))?;
    Ok(case)
}

/// Every case file in a directory, sorted by id.
pub fn load_dir(dir: &Path) -> Result<Vec<Case>, LoadError> {
    let mut paths = crate::files_with_extension(dir, "toml")?;
    paths.sort();
    paths.iter().map(|p| load(p)).collect()
}

impl Case {
    /// Checks what serde cannot, so a bad file is one clear error at load, never a panic, a
    /// hang or a silently different run.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.validate_identity()?;
        self.validate_server()?;
        self.validate_target()?;
        self.validate_schedule()?;
        self.validate_request()?;
        self.validate_world()
    }

    /// Checks the file name and what the case checks and how long it runs.
    fn validate_identity(&self) -> Result<(), Invalid> {
        if !self
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            || self.id.is_empty()
        {
            return Err(invalid(format!(
                "the file name {:?} must be lower-case letters, digits and dashes",
                self.id
            )));
        }
        if self.checks.is_empty() {
            return Err(invalid(
                "checks is empty: name the requirements this case checks",
            ));
        }
        if !(1..=MAX_DURATION_MS).contains(&self.duration_ms) {
            return Err(invalid(format!(
                "duration_ms must be 1 to {MAX_DURATION_MS}"
            )));
        }
        Ok(())
    }

    /// Checks a script or the reference server, never both, and waits within the run.
    fn validate_server(&self) -> Result<(), Invalid> {
        match (self.server.script(), &self.server.reference) {
            (None, None) => return Err(invalid("the server needs responses or reference")),
            (Some(_), Some(_)) => {
                return Err(invalid("the server has both responses and reference"));
            }
            (Some(script), None) => {
                script.validate()?;
                let waits = script.responses.iter().flat_map(|r| &r.body).any(
                    |step| matches!(step, crate::script::Step::WaitMs(ms) if *ms > MAX_DURATION_MS),
                ) || script
                    .responses
                    .iter()
                    .any(|r| r.head_wait_ms.is_some_and(|ms| ms > MAX_DURATION_MS));
                if waits {
                    return Err(invalid(format!(
                        "a wait_ms step and head_wait_ms must be at most {MAX_DURATION_MS}"
                    )));
                }
            }
            (None, Some(r)) => r.validate()?,
        }
        Ok(())
    }

    /// Checks where the client points: a path or a URL, a page origin, companions.
    fn validate_target(&self) -> Result<(), Invalid> {
        if self.client.path.is_some() && self.client.url.is_some() {
            return Err(invalid("client.path and client.url cannot both be set"));
        }
        if self.client.url.as_ref().is_some_and(|u| u.len() > 2048) {
            return Err(invalid("client.url must be at most 2048 bytes"));
        }
        if let Some(path) = &self.client.path {
            if !path.starts_with('/') || path.starts_with("//") {
                return Err(invalid(format!(
                    "client.path {path:?} must be a path on the case server, starting with one /"
                )));
            }
        }
        if let Some(origin) = &self.client.origin {
            let resolved = crate::origins::Origins::simulated().resolve(origin);
            let is_origin = url::Url::parse(&resolved).is_ok_and(|u| {
                u.origin().is_tuple() && u.origin().ascii_serialization() == resolved
            });
            if !is_origin {
                return Err(invalid(format!(
                    "client.origin {origin:?} must be an origin (scheme://host[:port]), \
                     {{origin}} or {{page-origin}}"
                )));
            }
        }
        if self.client.companions.is_some_and(|n| n > MAX_COMPANIONS) {
            return Err(invalid(format!(
                "client.companions must be at most {MAX_COMPANIONS}"
            )));
        }
        if self.id == PAGE_SCRIPT {
            return Err(invalid(format!(
                "the case id {:?} is reserved for the browser page",
                self.id
            )));
        }
        Ok(())
    }

    /// Checks commands within the run, the patience after it, close in a handler.
    fn validate_schedule(&self) -> Result<(), Invalid> {
        for (name, at) in [
            ("client.close_at_ms", self.client.close_at_ms),
            ("client.ua_abort_at_ms", self.client.ua_abort_at_ms),
            ("client.restart_at_ms", self.client.restart_at_ms),
        ] {
            if at.is_some_and(|ms| ms > self.duration_ms) {
                return Err(invalid(format!("{name} must fall within duration_ms")));
            }
        }
        if self
            .expect
            .patience_ms
            .is_some_and(|ms| ms == 0 || ms > MAX_DURATION_MS / 10)
        {
            return Err(invalid(format!(
                "expect.patience_ms must be 1 to {}",
                MAX_DURATION_MS / 10
            )));
        }
        if self.client.close_on_message == Some(0) {
            return Err(invalid("client.close_on_message counts messages from 1"));
        }
        Ok(())
    }

    /// Checks the request options beyond the standard, and the suggested timings.
    fn validate_request(&self) -> Result<(), Invalid> {
        if let Some(m) = &self.client.method {
            if !matches!(m.as_str(), "POST" | "REPORT") {
                return Err(invalid(format!(
                    "client.method {m:?} must be POST or REPORT"
                )));
            }
        }
        if self.client.body.is_some() != self.client.method.is_some() {
            return Err(invalid("client.body and client.method go together"));
        }
        for (name, value) in self.client.headers.iter().flatten() {
            let forbidden = ["accept", "cache-control", "last-event-id", "origin", "host"];
            if http::HeaderName::from_bytes(name.as_bytes()).is_err()
                || http::HeaderValue::from_str(value).is_err()
                || forbidden.contains(&name.to_ascii_lowercase().as_str())
            {
                return Err(invalid(format!(
                    "client.headers: {name:?}: {value:?} is not a header a library's user may add"
                )));
            }
        }
        if self
            .client
            .read_timeout_ms
            .is_some_and(|ms| ms == 0 || ms > MAX_DURATION_MS)
        {
            return Err(invalid(format!(
                "client.read_timeout_ms must be 1 to {MAX_DURATION_MS}"
            )));
        }
        if let Some(b) = self.client.backoff {
            if b.max_ms < b.base_ms || b.max_ms > MAX_DURATION_MS {
                return Err(invalid(format!(
                    "client.backoff.max_ms must be at least base_ms and at most {MAX_DURATION_MS}"
                )));
            }
        }
        if self
            .client
            .reconnection_ms
            .is_some_and(|ms| ms > MAX_DURATION_MS)
        {
            return Err(invalid(format!(
                "client.reconnection_ms must be at most {MAX_DURATION_MS}"
            )));
        }
        Ok(())
    }

    /// Checks the faults and the publisher.
    fn validate_world(&self) -> Result<(), Invalid> {
        for fault in &self.faults {
            validate_fault(fault)?;
        }
        if let Some(p) = &self.publisher {
            if p.count > 0 && self.server.reference.is_none() {
                return Err(invalid(
                    "a publisher needs the reference server (its topics)",
                ));
            }
            if p.every_ms == 0 || p.every_ms > MAX_DURATION_MS || p.count > 100_000 {
                return Err(invalid(format!(
                    "publisher.every_ms must be 1 to {MAX_DURATION_MS} and count at most 100000"
                )));
            }
            if !valid_topic(&p.topic) {
                return Err(invalid(format!(
                    "publisher.topic {:?} must be 1 to 64 of A-Z a-z 0-9 . _ -",
                    p.topic
                )));
            }
        }
        Ok(())
    }

    /// The name the case server plays the case's script under (`/cases/{script_id}`): the id,
    /// or for a stream case (whose id has `/` and `@`) `stream.NAME.DELIVERY`.
    pub fn script_id(&self) -> String {
        match &self.stream {
            Some(s) => format!("stream.{}.{}", s.fixture, s.delivery.name()),
            None => self.id.clone(),
        }
    }

    /// Whether a client must start clean for this case: one that sends credentials or sets a
    /// cookie would carry state (cookies are per host, whatever the port) into later cases and
    /// from earlier ones. Anything else a browser keeps (caches, connections, remembered
    /// redirects) is per origin, and every run has origins of its own.
    pub fn needs_fresh_client(&self) -> bool {
        self.client.with_credentials == Some(true)
            || self.server.responses.iter().any(|r| {
                r.headers
                    .iter()
                    .flatten()
                    .any(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
            })
    }

    /// The client's path on the case server.
    pub fn client_path(&self) -> String {
        self.client
            .path
            .clone()
            .unwrap_or_else(|| format!("/cases/{}", self.id))
    }

    /// The run length.
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.duration_ms)
    }

    /// Whether topics survive a server restart.
    pub fn durable_topics(&self) -> bool {
        self.server
            .reference
            .as_ref()
            .and_then(|r| r.durable_topics)
            .unwrap_or(true)
    }
}

impl ReferenceSpec {
    fn validate(&self) -> Result<(), Invalid> {
        if let Some(ms) = self.demo_interval_ms {
            if !(1..=86_400_000).contains(&ms) {
                return Err(invalid(
                    "server.reference.demo_interval_ms must be 1 to 86400000",
                ));
            }
        }
        for (name, value) in [
            ("retry_ms", self.retry_ms),
            ("keep_alive_ms", self.keep_alive_ms),
        ] {
            if value.is_some_and(|v| v > 86_400_000) {
                return Err(invalid(format!(
                    "server.reference.{name} must be at most 86400000"
                )));
            }
        }
        if self.padding.is_some_and(|p| p > 1 << 20) {
            return Err(invalid(
                "server.reference.padding must be at most 1048576 bytes",
            ));
        }
        if self.topic_log.is_some_and(|n| n > 1_000_000) {
            return Err(invalid(
                "server.reference.topic_log must be at most 1000000",
            ));
        }
        Ok(())
    }
}

/// The most a buffering middlebox fault may hold.
const MAX_BUFFER: usize = 16 << 20;

fn validate_fault(fault: &Fault) -> Result<(), Invalid> {
    const DAY_MS: u64 = 86_400_000;
    let connections_ok = |c: &[u32]| c.iter().all(|&n| n >= 1);
    match fault {
        Fault::Drop {
            after_bytes,
            at_ms,
            connections,
        } => {
            if after_bytes.is_none() && at_ms.is_none() {
                return Err(invalid("a drop fault needs after_bytes or at_ms"));
            }
            if !connections_ok(connections) {
                return Err(invalid("fault connections count from 1"));
            }
        }
        Fault::Buffer { bytes, .. } if *bytes > MAX_BUFFER => {
            return Err(invalid(format!(
                "a buffer fault holds at most {MAX_BUFFER} bytes"
            )));
        }
        Fault::Buffer { connections, .. } | Fault::Stall { connections, .. } => {
            if !connections_ok(connections) {
                return Err(invalid("fault connections count from 1"));
            }
        }
        Fault::IdleTimeout { ms } => {
            if !(1..=DAY_MS).contains(ms) {
                return Err(invalid("idle-timeout ms must be 1 to 86400000"));
            }
        }
        Fault::Latency { ms, jitter_ms } => {
            if *ms > 60_000 || *jitter_ms > 60_000 {
                return Err(invalid("latency ms and jitter_ms must be at most 60000"));
            }
        }
        Fault::Partition {
            at_ms,
            repair_at_ms,
        } => {
            if repair_at_ms <= at_ms {
                return Err(invalid(format!(
                    "a partition at {at_ms} ms must be repaired later, not at {repair_at_ms} ms"
                )));
            }
        }
        Fault::ServerCrash {
            at_ms,
            restart_at_ms,
        } => {
            if restart_at_ms.is_some_and(|r| r <= *at_ms) {
                return Err(invalid("a server restart must come after its crash"));
            }
        }
    }
    Ok(())
}

/// Topic names the reference server accepts.
fn valid_topic(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Case, String> {
        let mut case: Case = toml::from_str(text).map_err(|e| e.to_string())?;
        case.id = "x".into();
        case.validate().map_err(|e| e.0)?;
        Ok(case)
    }

    const HEAD: &str = "checks = [\"A-B\"]\nabout = \"a\"\nduration_ms = 100\n";

    #[test]
    fn bad_cases_are_explained() {
        for (body, says) in [
            ("[server]\n", "needs responses or reference"),
            (
                "[[server.responses]]\n[server.reference]\n",
                "both responses and reference",
            ),
            (
                "[[server.responses]]\nstatus = 1000\n",
                "not an HTTP status",
            ),
            (
                "[[server.responses]]\n[client]\npath = \"x\"\n",
                "starting with one /",
            ),
            (
                "[[server.responses]]\n[[faults]]\nkind = \"partition\"\nat_ms = 5\nrepair_at_ms = 1\n",
                "repaired later",
            ),
            (
                "[[server.responses]]\n[[faults]]\nkind = \"latency\"\nms = 1\njitter_ms = 18446744073709551615\n",
                "at most 60000",
            ),
            (
                "[server.reference]\ndemo_interval_ms = 0\n",
                "demo_interval_ms",
            ),
            ("[server.reference]\npadding = 99999999999\n", "padding"),
            (
                "[[server.responses]]\n[client]\ncompanions = 17\n",
                "companions must be at most 16",
            ),
            (
                "[[server.responses]]\n[client]\nclose_at_ms = 101\n",
                "within duration_ms",
            ),
            (
                "[[server.responses]]\n[client]\nbackoff = { base_ms = 10, max_ms = 1 }\n",
                "at least base_ms",
            ),
            (
                "[server.reference]\n[publisher]\ntopic = \"t\"\nevery_ms = 0\ncount = 1\n",
                "every_ms",
            ),
            (
                "[[server.responses]]\nbody = [{ wait_ms = 18446744073709551615 }]\n",
                "wait_ms",
            ),
            (
                "[[server.responses]]\n[[faults]]\nkind = \"buffer\"\nbytes = 99999999999\n",
                "buffer fault",
            ),
            (
                "[server.reference]\n[publisher]\ntopic = \"a b\"\nevery_ms = 1\ncount = 1\n",
                "publisher.topic",
            ),
        ] {
            let err = parse(&format!("{HEAD}{body}")).expect_err(body);
            assert!(err.contains(says), "{body}: {err}");
        }
        let long = parse(
            "checks = [\"A-B\"]\nabout = \"a\"\nduration_ms = 99999999999\n[server.reference]\n",
        );
        assert!(long.expect_err("too long").contains("duration_ms"));
    }
}
