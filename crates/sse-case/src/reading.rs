//! Readings of points the standard leaves open: each names the ambiguous requirement and the
//! model configuration that follows it.

use serde::{Deserialize, Serialize};

/// A reading of a point the standard's text leaves open (an `ambiguity` note of the catalogue):
/// the model can follow it, a case has a golden trace for it (`CASE@NAME.snap`) where it makes a
/// difference, and a client that follows it passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reading {
    /// A new stream's last event ID buffer keeps the last event ID (browsers, web-platform-tests
    /// `format-field-id-2`) rather than starting empty (the literal text).
    KeepLastEventId,
    /// A reconnection goes where the last redirect led (Fetch's URL list) rather than to the
    /// constructor's URL.
    ReconnectToRedirectTarget,
    /// A CORS failure (a network error) reestablishes the connection, the text's default,
    /// rather than failing it as a client that knows retrying futile may (browsers,
    /// web-platform-tests).
    CorsFailureReestablishes,
}

impl Reading {
    /// Every reading, in order.
    pub const ALL: [Reading; 3] = [
        Reading::KeepLastEventId,
        Reading::ReconnectToRedirectTarget,
        Reading::CorsFailureReestablishes,
    ];

    /// Its name in snapshot files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Reading::KeepLastEventId => "keep-last-event-id",
            Reading::ReconnectToRedirectTarget => "reconnect-to-redirect-target",
            Reading::CorsFailureReestablishes => "cors-failure-reestablishes",
        }
    }

    /// The requirement whose text is ambiguous.
    pub fn requirement(self) -> &'static str {
        match self {
            Reading::KeepLastEventId => "DISPATCH-ID-BUFFER-PER-STREAM",
            Reading::ReconnectToRedirectTarget => "CONN-REDIRECT-RECONNECT-URL",
            Reading::CorsFailureReestablishes => "CONN-FUTILE",
        }
    }

    /// The model's configuration for it.
    pub fn apply(self, readings: &mut sse_model::Readings) {
        match self {
            Reading::KeepLastEventId => readings.keep_last_event_id = true,
            Reading::ReconnectToRedirectTarget => readings.reconnect_to_redirect_target = true,
            Reading::CorsFailureReestablishes => readings.cors_failure_reestablishes = true,
        }
    }

    /// Every combination of readings a client may follow at once (each non-empty subset of
    /// [`Reading::ALL`]), single readings first.
    pub fn combinations() -> Vec<Vec<Reading>> {
        let n = Reading::ALL.len();
        let mut all: Vec<Vec<Reading>> = (1u32..(1 << n))
            .map(|mask| {
                Reading::ALL
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, r)| r)
                    .collect()
            })
            .collect();
        all.sort_by_key(Vec::len);
        all
    }

    /// The name of a combination in snapshot files and reports: `a+b`.
    pub fn names(readings: &[Reading]) -> String {
        readings
            .iter()
            .map(|r| r.name())
            .collect::<Vec<_>>()
            .join("+")
    }
}
