//! The reference server's configuration: what it serves and how.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sse_case::script::Script;

/// Scripts by case id, shared by every clone of a configuration.
pub type Scripts = Arc<BTreeMap<String, Script>>;

/// Everything an operator can choose about the reference server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// A comment is sent after this long without output (`SERVER-KEEPALIVE`); `None` disables.
    pub keep_alive: Option<Duration>,
    /// The `retry` sent at the start of every stream, in milliseconds; `None` sends none.
    pub retry: Option<u64>,
    /// Size of an initial padding comment for buffering middleboxes (0: none; at most
    /// [`crate::encode::MAX_PADDING`]).
    pub padding: usize,
    /// Compress streams for clients that accept gzip, deflate or br.
    pub compression: bool,
    /// Flush the compressor after every event; turning it off shows the delay it prevents.
    pub flush_each_event: bool,
    /// Origins allowed to read streams cross-origin; `*` allows any origin without credentials;
    /// `{page-origin}` stands for [`Config::page_origin`].
    pub allowed_origins: Vec<String>,
    /// Event-stream responses served at once; more get 503 with `Retry-After`.
    pub max_streams: usize,
    /// Streams compressed at once; past it a stream is served uncompressed, so a crowd of
    /// clients asking for gzip or br cannot multiply the server's memory per stream.
    pub max_compressed_streams: usize,
    /// Connections open at once; requests on connections past it get 503 with `Retry-After`.
    pub max_connections: usize,
    /// The `Retry-After` of a 503.
    pub retry_after: Duration,
    /// A connection whose writes stay blocked this long is cut (the client stopped reading).
    pub slow_client_timeout: Duration,
    /// Events each topic keeps for resume.
    pub topic_log: usize,
    /// Bytes of events each topic keeps for resume, at most.
    pub topic_log_bytes: usize,
    /// Topics held at once; past it the idle topic touched longest ago is evicted (and if every
    /// topic has subscribers, a new one is refused with 503).
    pub max_topics: usize,
    /// Events a live subscriber may fall behind before it is cut as too slow.
    pub topic_channel: usize,
    /// Time between events of the `/sse/{n}` demo streams.
    pub demo_interval: Duration,
    /// Largest accepted `POST /topics/{name}` body.
    pub max_publish_bytes: usize,
    /// Time a client has to send its request headers.
    pub header_read_timeout: Duration,
    /// Time a client has to send a whole request body (publishing).
    pub body_read_timeout: Duration,
    /// Scripts served at `/cases/{id}`, parsed and checked by whoever registers them.
    pub scripts: Scripts,
    /// A second origin (`scheme://host:port`) at which clients also reach this server, so a case
    /// can redirect across origins: scripted header values name it as `{other-origin}`.
    pub other_origin: Option<String>,
    /// The origin at which clients reach this server first: scripted header values name it as
    /// `{origin}` (an absolute `Location` back to the same origin).
    pub origin: Option<String>,
    /// The origin at which clients reach this server to load the page a case's client runs in
    /// (a browser's): scripted header values and `allowed_origins` name it as `{page-origin}`.
    pub page_origin: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            keep_alive: Some(Duration::from_secs(15)),
            retry: Some(1000),
            padding: 0,
            compression: true,
            flush_each_event: true,
            allowed_origins: Vec::new(),
            max_streams: 100_000,
            max_compressed_streams: 1_000,
            max_connections: 50_000,
            retry_after: Duration::from_secs(5),
            slow_client_timeout: Duration::from_secs(30),
            topic_log: 10_000,
            topic_log_bytes: crate::topics::DEFAULT_MAX_LOG_BYTES,
            max_topics: crate::topics::DEFAULT_MAX_TOPICS,
            topic_channel: 1024,
            demo_interval: Duration::from_secs(1),
            max_publish_bytes: 64 * 1024,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            scripts: Scripts::default(),
            other_origin: None,
            origin: None,
            page_origin: None,
        }
    }
}
