//! What a case asks of a client and what a client declares: the capabilities a case needs (a
//! client without one is `unsupported`, never failed), the commands a case gives, the
//! user-agent choices it suggests, and who the client is.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What an implementation can do or report; a case that needs a missing capability is
/// `unsupported` for it, never a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// Reports the `open` event.
    OpenEvent,
    /// Reports readyState with each `error` (CONNECTING: will reconnect; CLOSED: gave up).
    ReadyState,
    /// Reports each event's `origin`.
    Origin,
    /// Can be closed by its user (`close()`).
    Close,
    /// Can be closed from inside a message handler (`close()` while later events of the same
    /// read are queued: `DISPATCH-NOT-WHEN-CLOSED`).
    CloseInHandler,
    /// Can be told to drop the connection and reconnect (LaunchDarkly's `restart`).
    Restart,
    /// Can start with a Last-Event-ID of its user's choosing (a persisted one).
    InitialLastEventId,
    /// Applies the CORS checks a browser applies for a page of the given origin.
    Cors,
    /// Its user agent can abort the fetch (navigation, `window.stop()`), failing the connection.
    UserAgentAbort,
    /// Takes parser limits from its user.
    Limits,
    /// Connects through the harness's `Net`, so it runs in the simulator too.
    Simulated,
    /// Reports comment lines (LaunchDarkly's `comments`).
    Comments,
    /// Adds its user's headers to every request (`EXT-HEADERS`; LaunchDarkly's `headers`).
    Headers,
    /// Streams from a `POST` with a body (`EXT-METHOD-BODY`; LaunchDarkly's `post`).
    Post,
    /// Streams from a `REPORT` with a body (`EXT-METHOD-BODY`; LaunchDarkly's `report`).
    Report,
    /// Drops a connection that stays silent too long (`EXT-READ-TIMEOUT`; `read-timeout`).
    ReadTimeout,
    /// The `stream-parser` profile: it reads one response and never reconnects, by design
    /// (a parser over an HTTP library's response, not an EventSource). Cases that need a
    /// reconnection are unsupported for it, and the `error` at the end of the body is not
    /// judged. Without it a client has the `eventsource` profile: the whole client.
    StreamParser,
    /// Reconnects (every client but a [`Capability::StreamParser`]: never declared, only
    /// needed, so a case that reconnects says why it is unsupported for a stream parser).
    Reconnect,
}

impl Capability {
    /// Every capability, in order.
    pub const ALL: [Capability; 18] = [
        Capability::OpenEvent,
        Capability::ReadyState,
        Capability::Origin,
        Capability::Close,
        Capability::CloseInHandler,
        Capability::Restart,
        Capability::InitialLastEventId,
        Capability::Cors,
        Capability::UserAgentAbort,
        Capability::Limits,
        Capability::Simulated,
        Capability::Comments,
        Capability::Headers,
        Capability::Post,
        Capability::Report,
        Capability::ReadTimeout,
        Capability::StreamParser,
        Capability::Reconnect,
    ];

    /// What a client that can do and report everything declares: a whole `EventSource`
    /// (every capability but the stream-parser profile), as the model.
    pub fn everything() -> Capabilities {
        Capability::ALL
            .into_iter()
            .filter(|c| *c != Capability::StreamParser)
            .collect()
    }

    /// The kebab-case name reports and the command line use.
    pub fn name(self) -> &'static str {
        match self {
            Capability::OpenEvent => "open-event",
            Capability::ReadyState => "ready-state",
            Capability::Origin => "origin",
            Capability::Close => "close",
            Capability::CloseInHandler => "close-in-handler",
            Capability::Restart => "restart",
            Capability::InitialLastEventId => "initial-last-event-id",
            Capability::Cors => "cors",
            Capability::UserAgentAbort => "user-agent-abort",
            Capability::Limits => "limits",
            Capability::Simulated => "simulated",
            Capability::Comments => "comments",
            Capability::Headers => "headers",
            Capability::Post => "post",
            Capability::Report => "report",
            Capability::ReadTimeout => "read-timeout",
            Capability::StreamParser => "stream-parser",
            Capability::Reconnect => "reconnect",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of capabilities.
pub type Capabilities = BTreeSet<Capability>;

/// What kind of client a column judged: the whole `EventSource`, or a parser over one response.
pub fn profile(capabilities: &Capabilities) -> &'static str {
    if capabilities.contains(&Capability::StreamParser) {
        "stream-parser"
    } else {
        "eventsource"
    }
}

/// Who an implementation is, for reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// A short name (`model`, `eventsource-client`, `chromium`).
    pub name: String,
    /// Its version.
    pub version: String,
}

impl Identity {
    /// A name and a version.
    pub fn new(name: &str, version: &str) -> Self {
        Identity {
            name: name.to_owned(),
            version: version.to_owned(),
        }
    }
}

/// User-agent choices the standard leaves open, as a case suggests them. Implementations that
/// can be configured apply them; the others keep their own (the judge knows which timings and
/// limits are the implementation's to choose).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Settings {
    /// The reconnection time before any `retry` field.
    pub initial_reconnection_time: Option<Duration>,
    /// Extra exponential backoff after failed attempts: (base, cap).
    pub backoff: Option<(Duration, Duration)>,
    /// Longest line the parser accepts.
    pub max_line: Option<usize>,
    /// Largest event data the parser accepts.
    pub max_event: Option<usize>,
    /// The `Accept-Encoding` the HTTP stack offers (and then decodes).
    pub accept_encoding: Option<String>,
}

/// A command a case gives the client while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Command {
    /// The page calls `close()`.
    Close,
    /// The caller asks for the connection to be dropped and made again.
    Restart,
    /// The user agent aborts the fetch in flight.
    UserAgentAbort,
}

impl Command {
    /// The kebab-case name traces and protocols use.
    pub fn name(self) -> &'static str {
        match self {
            Command::Close => "close",
            Command::Restart => "restart",
            Command::UserAgentAbort => "user-agent-abort",
        }
    }

    /// The capability the command needs.
    pub fn capability(self) -> Capability {
        match self {
            Command::Close => Capability::Close,
            Command::Restart => Capability::Restart,
            Command::UserAgentAbort => Capability::UserAgentAbort,
        }
    }
}
