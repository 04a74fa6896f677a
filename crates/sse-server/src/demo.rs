//! The demo streams of the article that started this project: `/sse/{n}` sends one event per
//! interval, `id` n = 1, 2, 3, ... and a data value derived from the stream number and the id
//! alone, so a client that resumes with `Last-Event-ID: k` sees exactly the values it would have
//! seen had it never disconnected.

use std::time::Duration;

use tokio::time::Instant;

use crate::encode::{self, OutEvent};
use crate::stream::{Item, Source};

/// The data of event `id` of demo stream `stream`: SplitMix64 of `stream << 32 ^ id`, modulo
/// one million. Stable across versions, so other tools can check it.
pub fn value(stream: u64, id: u64) -> u64 {
    splitmix64(stream << 32 ^ id) % 1_000_000
}

/// One step of SplitMix64 from state `x`: a tiny, portable mixer whose output never changes with
/// a crate's version (demo values and seeded fault schedules rely on that).
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One demo stream from a resume point.
#[derive(Debug)]
pub(crate) struct Demo {
    stream: u64,
    /// The id of the next event; `None` once the last possible id (`u64::MAX`) has gone out.
    next_id: Option<u64>,
    /// The last id this stream has; after it the body ends (and a resume gets 204).
    limit: Option<u64>,
    interval: Duration,
    next_at: Instant,
}

impl Demo {
    /// Starts after `last_id` (0 for a fresh client); the first event goes out at once.
    pub(crate) fn new(stream: u64, last_id: u64, limit: Option<u64>, interval: Duration) -> Self {
        Demo {
            stream,
            next_id: last_id.checked_add(1),
            limit,
            interval,
            next_at: Instant::now(),
        }
    }

    /// Whether a client that has seen `last_id` has the whole stream already (past `limit`, or
    /// at the last id a stream can have).
    pub(crate) fn finished(last_id: u64, limit: Option<u64>) -> bool {
        limit.is_some_and(|l| last_id >= l) || last_id == u64::MAX
    }
}

impl Source for Demo {
    async fn next(&mut self) -> Item {
        let Some(id) = self
            .next_id
            .filter(|id| self.limit.is_none_or(|l| *id <= l))
        else {
            return Item::End;
        };
        // Cancel-safe: the deadline lives in `self`, not in this future.
        tokio::time::sleep_until(self.next_at).await;
        self.next_id = id.checked_add(1);
        self.next_at += self.interval;
        Item::Data(encode::event(&OutEvent {
            id: Some(id.to_string()),
            event: None,
            data: value(self.stream, id).to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_fixed() {
        // Pinned (computed independently): changing the formula breaks clients that compare.
        assert_eq!(
            [value(1, 1), value(1, 2), value(2, 1), value(0, 0)],
            [413_167, 340_514, 91_529, 607_535]
        );
        assert!((1..1000).all(|id| value(7, id) < 1_000_000));
    }
}
