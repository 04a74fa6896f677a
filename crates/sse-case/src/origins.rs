//! The origins a run's client reaches the case server at, and the placeholders case files and
//! golden traces write for them (`{origin}`, `{other-origin}`, `{page-origin}`).

use serde::{Deserialize, Serialize};

pub use crate::script::{ORIGIN, OTHER_ORIGIN, PAGE_ORIGIN};

/// The simulator's origin of the case server (`{origin}`).
pub const SIMULATED_STREAM: &str = "http://proxy";

/// The simulator's second origin (`{other-origin}`).
pub const SIMULATED_OTHER: &str = "http://proxy:8080";

/// The simulator's page origin (`{page-origin}`).
pub const SIMULATED_PAGE: &str = "http://proxy:8081";

/// The three origins at which a run's client reaches the case server: the one its stream starts
/// at, the second one cases redirect to, and the one its page comes from when the case puts the
/// page on another origin (`{origin}`, `{other-origin}` and `{page-origin}` in case files and
/// golden traces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origins {
    /// `{origin}`, e.g. `http://127.0.0.1:PORT`.
    pub stream: String,
    /// `{other-origin}`.
    pub other: String,
    /// `{page-origin}`.
    pub page: String,
}

impl Origins {
    /// The simulator's, which are fixed.
    pub fn simulated() -> Self {
        Origins {
            stream: SIMULATED_STREAM.to_owned(),
            other: SIMULATED_OTHER.to_owned(),
            page: SIMULATED_PAGE.to_owned(),
        }
    }

    /// `(name, origin)` pairs, the longest origin first (one may be a prefix of another).
    fn named(&self) -> Vec<(&'static str, &str)> {
        let mut named = vec![
            (OTHER_ORIGIN, self.other.as_str()),
            (PAGE_ORIGIN, self.page.as_str()),
            (ORIGIN, self.stream.as_str()),
        ];
        named.sort_by_key(|(_, origin)| std::cmp::Reverse(origin.len()));
        named
    }

    /// `text` with `{origin}`, `{other-origin}` and `{page-origin}` replaced by these origins.
    pub fn resolve(&self, text: &str) -> String {
        self.named()
            .into_iter()
            .fold(text.to_owned(), |t, (name, origin)| t.replace(name, origin))
    }

    /// `text` with these origins replaced by their names (the inverse of [`Origins::resolve`]).
    pub fn name(&self, text: &str) -> String {
        self.named()
            .into_iter()
            .fold(text.to_owned(), |t, (name, origin)| t.replace(origin, name))
    }
}

/// Where a case runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// In the simulator, in simulated time, with the case's seed.
    Simulated,
    /// Over loopback sockets, in real time.
    Loopback,
}

impl Transport {
    /// The short name in test names and reports.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Simulated => "sim",
            Transport::Loopback => "loopback",
        }
    }

    /// The id of the report column an implementation named `name` makes on this transport.
    pub fn column_id(self, name: &str) -> String {
        format!("{name}-{}", self.name())
    }
}
