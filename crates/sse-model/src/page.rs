//! What a page sees an `EventSource` do (`open`, `message`, `error`): the one observation type
//! that the model emits, traces print, the harness records of every client under test and
//! expectations list, so that judging compares like with like.

/// A `MessageEvent` dispatched at the `EventSource`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MessageEvent {
    /// The event's type (`message` unless the stream named one).
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub event_type: String,
    /// The `data` attribute.
    pub data: String,
    /// The `lastEventId` attribute.
    pub last_event_id: String,
    /// The `origin` attribute: the origin of the stream's final URL, after redirects. `None`
    /// where it goes without saying: a client under test that does not report it, a trace line
    /// on the trace's first origin, an expectation's `{origin}`. The model always sets it.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub origin: Option<String>,
}

/// One event the page observes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "kind", rename_all = "kebab-case")
)]
pub enum PageEvent {
    /// `open` fired; readyState is OPEN.
    Open,
    /// A message event fired.
    Message(MessageEvent),
    /// `error` fired.
    Error {
        /// readyState right after: CONNECTING (will reconnect) or CLOSED (gave up); `None` when
        /// the client under test cannot tell.
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "Option::is_none")
        )]
        ready_state: Option<ReadyState>,
        /// What the client under test said about it, if anything (the model says nothing).
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "Option::is_none")
        )]
        message: Option<String>,
    },
}

impl PageEvent {
    /// `error`, leaving readyState as given, with nothing said: what the model fires.
    pub fn error(ready_state: ReadyState) -> Self {
        PageEvent::Error {
            ready_state: Some(ready_state),
            message: None,
        }
    }
}

/// The `readyState` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "SCREAMING_SNAKE_CASE")
)]
pub enum ReadyState {
    /// 0: connecting or waiting to reconnect.
    Connecting,
    /// 1: the connection is announced and events are dispatched.
    Open,
    /// 2: closed by close() or failed; no further requests.
    Closed,
}

impl ReadyState {
    /// The numeric value the `readyState` attribute returns.
    pub fn as_u16(self) -> u16 {
        match self {
            ReadyState::Connecting => 0,
            ReadyState::Open => 1,
            ReadyState::Closed => 2,
        }
    }

    /// The constant's name, as traces print it.
    pub fn name(self) -> &'static str {
        match self {
            ReadyState::Connecting => "CONNECTING",
            ReadyState::Open => "OPEN",
            ReadyState::Closed => "CLOSED",
        }
    }
}
