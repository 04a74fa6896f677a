//! What a client under test observably did, as its page or user would see it, stamped with the
//! time the harness heard it; and the limits on how much of it the harness keeps.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sse_model::{MessageEvent, PageEvent, ReadyState};

use crate::client::Command;

/// What a client under test observably did, as its page or user sees it: the page's events,
/// plus what some clients report beyond them and the commands the harness gave. On the wire a
/// page event is the bare [`PageEvent`] (`{"kind":"open"}`), as the model's own JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Seen {
    /// A comment line arrived (clients that report comments).
    Comment {
        /// The comment's text.
        text: String,
    },
    /// The harness gave a command (recorded by the runner, not reported by the client).
    Command {
        /// Which.
        command: Command,
        /// Stamped by the client itself when it took effect, on the clock it stamps what it
        /// saw with (a browser page); otherwise when the runner heard it was done.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        own_clock: bool,
    },
    /// The page observed an event.
    #[serde(untagged)]
    Page(PageEvent),
}

impl From<PageEvent> for Seen {
    fn from(event: PageEvent) -> Self {
        Seen::Page(event)
    }
}

impl Seen {
    /// `open` fired.
    pub const OPEN: Seen = Seen::Page(PageEvent::Open);

    /// A message event with this type, data and `lastEventId`, as a page sees it: an empty
    /// type is `message`; its origin not reported. The strings are moved, not copied (data may
    /// be megabytes).
    pub fn message(event_type: String, data: String, last_event_id: String) -> Self {
        let event_type = if event_type.is_empty() {
            sse_model::DEFAULT_EVENT_TYPE.to_owned()
        } else {
            event_type
        };
        Seen::Page(PageEvent::Message(MessageEvent {
            event_type,
            data,
            last_event_id,
            origin: None,
        }))
    }

    /// `error` fired, leaving readyState as the client reports it, with what it said.
    pub fn error(ready_state: Option<ReadyState>, message: Option<String>) -> Self {
        Seen::Page(PageEvent::Error {
            ready_state,
            message,
        })
    }

    /// The page's event, if this is one.
    pub fn page(&self) -> Option<&PageEvent> {
        match self {
            Seen::Page(event) => Some(event),
            Seen::Comment { .. } | Seen::Command { .. } => None,
        }
    }
}

/// One observation with the time the harness received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// Time since the run started (simulated in the simulator).
    #[serde(with = "crate::millis")]
    pub at: Duration,
    /// What.
    #[serde(flatten)]
    pub what: Seen,
}

/// Observations kept at most per run: a client in a loop cannot exhaust memory.
pub const MAX_OBSERVATIONS: usize = 100_000;

/// Bytes of event data and text kept at most per run, for the same reason.
pub const MAX_OBSERVED_BYTES: usize = 32 << 20;

/// Bytes of observations and of callbacks waiting to be put in order that all the cases of one
/// column running at once hold at most, from their arrival until their case is judged and
/// reported: eight cases at once cannot each fill their own limit, and one column's client
/// cannot take what another column's cases need.
pub const MAX_HELD_BYTES: usize = 40 << 20;

/// What the running cases of one column hold, shared by their observers and reorder queues.
#[derive(Debug, Clone, Default)]
pub struct Budget(Arc<std::sync::atomic::AtomicUsize>);

impl Budget {
    /// The budget of the column `id` (one per column for the process's life).
    pub fn of_column(id: &str) -> Budget {
        static COLUMNS: Mutex<BTreeMap<String, Budget>> = Mutex::new(BTreeMap::new());
        let mut columns = COLUMNS.lock().unwrap_or_else(PoisonError::into_inner);
        columns.entry(id.to_owned()).or_default().clone()
    }

    /// Takes `bytes` ([`MAX_HELD_BYTES`] in all); false when they do not fit.
    pub fn hold(&self, bytes: usize) -> bool {
        use std::sync::atomic::Ordering;
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(bytes).filter(|n| *n <= MAX_HELD_BYTES)
            })
            .is_ok()
    }

    /// Gives `bytes` back.
    pub fn release(&self, bytes: usize) {
        use std::sync::atomic::Ordering;
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                Some(held.saturating_sub(bytes))
            });
    }
}

/// Bytes of a budget a run's observations still hold; given back when dropped.
#[derive(Debug, Default)]
pub struct Held(Budget, usize);

impl Held {
    /// `bytes` of `budget`, already taken.
    pub fn new(budget: Budget, bytes: usize) -> Self {
        Held(budget, bytes)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.release(self.1);
    }
}

impl Seen {
    /// The bytes of text it carries.
    pub fn text_len(&self) -> usize {
        match self {
            Seen::Page(PageEvent::Message(m)) => {
                m.event_type.len()
                    + m.data.len()
                    + m.last_event_id.len()
                    + m.origin.as_ref().map_or(0, String::len)
            }
            Seen::Page(PageEvent::Error { message, .. }) => message.as_ref().map_or(0, String::len),
            Seen::Comment { text } => text.len(),
            Seen::Page(PageEvent::Open) | Seen::Command { .. } => 0,
        }
    }
}
