//! Sans-IO, spec-exact model of Server-Sent Events (WHATWG HTML, "Server-sent events"):
//! the `text/event-stream` parser and the `EventSource` processing model.
//!
//! No sockets, no clocks, no async: bytes, responses and times go in, events and actions come out.
//! The reference server, the simulator and the harness drive this crate; every behaviour a test
//! checks is decided here.
//!
//! ```
//! use sse_model::{Item, Parser};
//!
//! let mut parser = Parser::default();
//! let mut items = Vec::new();
//! parser.feed(b"id: 7\ndata: hel", &mut items).unwrap();
//! parser.feed(b"lo\r\n\r\n", &mut items).unwrap();
//! let Item::Event(event) = &items[0] else { panic!() };
//! assert_eq!((event.data.as_str(), event.last_event_id.as_str()), ("hello", "7"));
//! ```

pub mod dispatch;
pub mod eventsource;
pub mod explain;
mod field;
pub mod lint;
pub mod mime;
pub mod page;
pub mod parser;
mod quote;
pub mod reconnect;
pub mod trace;

pub use dispatch::{
    DEFAULT_EVENT_TYPE, Effect, Event, Item, LineNote, OwnedEvent, Sink, parse_retry,
};
pub use eventsource::{
    Config, EventSource, Extensions, InvalidUrl, Io, NetworkError, Output, Readings, ReadyState,
    Request, Response,
};
pub use page::{MessageEvent, PageEvent};
pub use parser::{Limits, ParseError, Parser};
pub use reconnect::{Backoff, DEFAULT_RECONNECTION_TIME};
pub use trace::{Observation, Trace, TraceLine};

/// Parses a complete stream (one body that then ends) into the items it means.
pub fn parse_stream(bytes: &[u8], limits: Limits) -> Result<Vec<Item>, ParseError> {
    let mut parser = Parser::new(limits);
    let mut items = Vec::new();
    parser.feed(bytes, &mut items)?;
    parser.finish(&mut items)?;
    Ok(items)
}
