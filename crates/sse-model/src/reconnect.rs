//! How long to wait before reestablishing the connection (`#reestablish-the-connection`,
//! `#concept-eventsource-reconnection-time`): the reconnection time plus the user agent's optional extra wait.

use std::time::Duration;

/// The reconnection time before a server sets one; the standard leaves it to the user agent
/// ("a few seconds"): we use 3 s, Chromium's value (`IMPL-RECONNECT-INITIAL`).
pub const DEFAULT_RECONNECTION_TIME: Duration = Duration::from_secs(3);

/// Extra waiting the standard allows after a failed attempt, chosen by the user of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backoff {
    /// Wait exactly the reconnection time every time (what the model's traces assume by default).
    #[default]
    None,
    /// After `n` attempts in a row that never reached OPEN, add `min(max, base * 2^(n-1))`.
    Exponential {
        /// Extra wait after the first failed attempt.
        base: Duration,
        /// Cap on the extra wait.
        max: Duration,
    },
}

impl Backoff {
    /// The extra wait after `failed_attempts` consecutive attempts that were never announced.
    pub fn extra(self, failed_attempts: u32) -> Duration {
        match self {
            Backoff::None => Duration::ZERO,
            Backoff::Exponential { base, max } => {
                if failed_attempts == 0 {
                    return Duration::ZERO;
                }
                let factor = 1u32.checked_shl(failed_attempts - 1).unwrap_or(u32::MAX);
                base.checked_mul(factor).unwrap_or(max).min(max)
            }
        }
    }
}

/// The delay between deciding to reestablish and sending the new request.
pub fn reconnect_delay(
    reconnection_time: Duration,
    backoff: Backoff,
    failed_attempts: u32,
) -> Duration {
    reconnection_time.saturating_add(backoff.extra(failed_attempts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    // spec: IMPL-RECONNECT-BACKOFF
    #[rstest]
    #[case(0, 0)]
    #[case(1, 100)]
    #[case(2, 200)]
    #[case(3, 400)]
    #[case(5, 1000)]
    #[case(40, 1000)]
    fn exponential(#[case] failed: u32, #[case] extra_ms: u64) {
        let b = Backoff::Exponential {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        assert_eq!(b.extra(failed), Duration::from_millis(extra_ms));
        assert_eq!(
            reconnect_delay(Duration::from_millis(50), b, failed),
            Duration::from_millis(50 + extra_ms)
        );
    }

    #[test]
    fn none_adds_nothing() {
        assert_eq!(Backoff::None.extra(7), Duration::ZERO);
    }
}
