//! Case files (`fixtures/cases/*.toml`): the requirement ids a case checks, the server (a script or
//! the reference server), the faults, the client configuration and the run length. The expected
//! trace is the case's insta snapshot in `fixtures/snapshots/cases/`.
//!
//! ```toml
//! checks = ["CONN-STATUS-204", "FAIL-NO-RECONNECT"]
//! about = "A 204 on reconnection stops the client for good."
//! duration_ms = 10000          # simulated run length
//! seed = 1                     # optional; the determinism test runs every case twice with it
//!
//! [client]                     # all optional
//! path = "/sse/1?limit=3"      # default: /cases/{id}, the scripted server below
//! reconnection_ms = 1000       # initial reconnection time (default 3000, the model's)
//! backoff = { base_ms = 100, max_ms = 800 }
//! close_at_ms = 5000           # the page calls close()
//! accept_encoding = "gzip"     # what the client's HTTP stack offers (default: nothing)
//! last_event_id = "41"         # a persisted id for the first request
//! max_line = 1048576           # parser limits
//! origin = "http://page"       # the page's origin: CORS applies to other origins
//! with_credentials = true
//! ua_abort_at_ms = 500         # the user agent aborts the fetch
//!
//! [server]                     # either a script (see sse_server::cases) ...
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
//! [[faults]]                   # see [`Fault`]
//! kind = "drop"
//! after_bytes = 120
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sse_server::cases::Script;

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
    /// Simulated run length.
    pub duration_ms: u64,
    /// Simulation seed (turmoil's RNG: latency jitter and scheduling).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The client's configuration.
    #[serde(default)]
    pub client: ClientSpec,
    /// The server.
    pub server: ServerSpec,
    /// An optional publisher to a reference-server topic.
    #[serde(default)]
    pub publisher: Option<Publisher>,
    /// Faults, applied by the proxy or the simulation.
    #[serde(default)]
    pub faults: Vec<Fault>,
}

fn default_seed() -> u64 {
    1
}

/// How the client under test is set up.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    /// Path (and query) on the proxy; default `/cases/{id}`.
    pub path: Option<String>,
    /// Initial reconnection time in milliseconds (default: the model's 3000).
    pub reconnection_ms: Option<u64>,
    /// Extra exponential backoff after failed attempts.
    pub backoff: Option<BackoffSpec>,
    /// When the page calls close().
    pub close_at_ms: Option<u64>,
    /// The Accept-Encoding the client's HTTP stack sends (and then decodes).
    pub accept_encoding: Option<String>,
    /// A persisted last event ID for the first request.
    pub last_event_id: Option<String>,
    /// Parser line limit in bytes.
    pub max_line: Option<usize>,
    /// Parser event-size limit in bytes.
    pub max_event: Option<usize>,
    /// The origin of the page that creates the EventSource (CORS applies when it differs).
    pub origin: Option<String>,
    /// Whether the EventSource is created with `withCredentials: true`.
    pub with_credentials: Option<bool>,
    /// When the user agent aborts the fetch (navigation, `window.stop()`), which fails the
    /// connection.
    pub ua_abort_at_ms: Option<u64>,
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
    pub responses: Vec<sse_server::cases::ScriptedResponse>,
    /// The reference server, with these options.
    #[serde(default)]
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

/// Options of the reference server for a case (unset ones keep the server's defaults,
/// except that the run is in simulated time so nothing is slow).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReferenceSpec {
    /// Initial `retry` in ms; 0 sends none.
    pub retry_ms: Option<u64>,
    /// Keep-alive interval in ms; 0 disables.
    pub keep_alive_ms: Option<u64>,
    /// Initial padding comment size.
    pub padding: Option<usize>,
    /// Compress when the client accepts it.
    pub compression: Option<bool>,
    /// Flush the compressor after every event.
    pub flush_each_event: Option<bool>,
    /// Demo stream interval in ms.
    pub demo_interval_ms: Option<u64>,
    /// Topic replay log size.
    pub topic_log: Option<usize>,
    /// Whether topics survive a server restart (default true: a durable store).
    pub durable_topics: Option<bool>,
    /// Origins allowed cross-origin.
    pub allowed_origins: Option<Vec<String>>,
}

/// A publisher posting `count` events to `topic`, one every `every_ms`, from `start_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Publisher {
    /// Topic name.
    pub topic: String,
    /// Interval between events.
    pub every_ms: u64,
    /// How many events (data `e1`, `e2`, ...).
    pub count: u64,
    /// When the first is published.
    #[serde(default)]
    pub start_ms: u64,
}

/// A fault. Proxy faults apply to the client's connections in the order they are made
/// (`connections`, 1-based; empty means every connection).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Fault {
    /// Cut the connection after this many response bytes, or at this time. The cut is a FIN
    /// without HTTP's final chunk, so the client sees a broken body: a network error, exactly
    /// as after a reset (an HTTP client cannot tell the two apart mid-body). A *clean* close is
    /// the server ending the response, which scripts express with `end = "close"` (and a reset
    /// from the server with `end = "abort"`).
    Drop {
        /// Response bytes to let through first.
        after_bytes: Option<u64>,
        /// Simulated time of the cut.
        at_ms: Option<u64>,
        /// Which connections.
        #[serde(default)]
        connections: Vec<u32>,
    },
    /// A middlebox that holds response bytes until it has `bytes` of them or the upstream
    /// closes, then passes everything through.
    Buffer {
        /// Bytes held back.
        bytes: usize,
        /// Which connections.
        #[serde(default)]
        connections: Vec<u32>,
    },
    /// A proxy that cuts a connection after `ms` with no bytes in either direction.
    IdleTimeout {
        /// Idle limit.
        ms: u64,
    },
    /// Stop forwarding response bytes after `after_bytes`, keeping the connection open.
    Stall {
        /// Response bytes let through.
        after_bytes: u64,
        /// Which connections.
        #[serde(default)]
        connections: Vec<u32>,
    },
    /// One-way latency on the client-proxy link, with optional jitter.
    Latency {
        /// Base latency.
        ms: u64,
        /// Extra random latency up to this much.
        #[serde(default)]
        jitter_ms: u64,
    },
    /// The client-proxy link holds every segment from `at_ms` to `repair_at_ms` (TCP keeps the
    /// connection; data arrives late, none is lost).
    Partition {
        /// Start.
        at_ms: u64,
        /// End.
        repair_at_ms: u64,
    },
    /// The server host crashes at `at_ms` (every connection to it breaks) and starts again at
    /// `restart_at_ms` (if given).
    ServerCrash {
        /// Crash time.
        at_ms: u64,
        /// Restart time.
        restart_at_ms: Option<u64>,
    },
}

/// Why a case file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// Unreadable file.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not a valid case.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Loads and checks one case file.
pub fn load(path: &Path) -> Result<Case, CaseError> {
    let text = std::fs::read_to_string(path).map_err(|source| CaseError::Read {
        path: path.to_owned(),
        source,
    })?;
    let invalid = |reason: String| CaseError::Invalid {
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
    if case.checks.is_empty() {
        return Err(invalid(
            "checks is empty: name the requirements this case checks".into(),
        ));
    }
    match (case.server.responses.is_empty(), &case.server.reference) {
        (true, None) => return Err(invalid("the server needs responses or reference".into())),
        (false, Some(_)) => {
            return Err(invalid(
                "the server has both responses and reference".into(),
            ));
        }
        _ => {}
    }
    if !case.server.responses.is_empty() {
        sse_server::cases::parse_script(&text).map_err(invalid)?;
    }
    if case.duration_ms == 0 {
        return Err(invalid("duration_ms must be positive".into()));
    }
    Ok(case)
}

/// Every case file in a directory, sorted by id.
pub fn load_dir(dir: &Path) -> Result<Vec<Case>, CaseError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CaseError::Read {
        path: dir.to_owned(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths.iter().map(|p| load(p)).collect()
}

impl Case {
    /// The client's path on the proxy.
    pub fn client_path(&self) -> String {
        self.client
            .path
            .clone()
            .unwrap_or_else(|| format!("/cases/{}", self.id))
    }

    /// The simulated run length.
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.duration_ms)
    }
}
