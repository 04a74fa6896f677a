//! Requests waiting for their bodies and connections that have not sent a request yet, oldest
//! first, so that a server out of file descriptors gives up on the slowest of them (each holds
//! a descriptor) instead of refusing everyone new.

use std::collections::BTreeMap;
use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

/// Shed this many waiting bodies each time an accept fails for want of descriptors: enough to
/// let new connections in, few enough that a brief shortage does not empty the server.
pub(crate) const SHED_PER_SHORTAGE: usize = 16;

/// The requests now reading a body, by arrival.
#[derive(Debug, Default)]
pub(crate) struct BodyWaits {
    inner: Mutex<Waits>,
}

#[derive(Debug, Default)]
struct Waits {
    next: u64,
    waiting: BTreeMap<u64, CancellationToken>,
}

/// One request's place in [`BodyWaits`]; cancelled when the server sheds it, gone when dropped.
#[derive(Debug)]
pub(crate) struct BodyWait<'a> {
    waits: &'a BodyWaits,
    key: u64,
    /// Cancelled when the server gives up on this body.
    pub(crate) shed: CancellationToken,
}

impl BodyWaits {
    fn lock(&self) -> std::sync::MutexGuard<'_, Waits> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes the next place in line: its key, and the token cancelled when it is shed.
    fn register(&self) -> (u64, CancellationToken) {
        let shed = CancellationToken::new();
        let mut w = self.lock();
        let key = w.next;
        w.next += 1;
        w.waiting.insert(key, shed.clone());
        (key, shed)
    }

    /// Registers a request that starts reading its body.
    pub(crate) fn enter(&self) -> BodyWait<'_> {
        let (key, shed) = self.register();
        BodyWait {
            waits: self,
            key,
            shed,
        }
    }

    /// Gives up on the `n` requests that have waited longest; returns how many there were.
    pub(crate) fn shed_oldest(&self, n: usize) -> usize {
        let mut w = self.lock();
        let mut shed = 0;
        while shed < n {
            let Some((_, token)) = w.waiting.pop_first() else {
                break;
            };
            token.cancel();
            shed += 1;
        }
        shed
    }

    /// Requests reading a body now.
    pub(crate) fn len(&self) -> usize {
        self.lock().waiting.len()
    }

    /// Registers a connection that has sent nothing yet; it leaves with [`BodyWaits::leave`]
    /// (its first request) or when its [`Leave`] is dropped (it closed).
    pub(crate) fn enter_key(self: &std::sync::Arc<Self>) -> (Leave, CancellationToken) {
        let (key, shed) = self.register();
        (
            Leave {
                waits: self.clone(),
                key,
            },
            shed,
        )
    }

    /// The connection registered as `key` is waiting no more.
    pub(crate) fn leave(&self, key: u64) {
        self.lock().waiting.remove(&key);
    }
}

/// A connection's place among the silent ones; leaves when dropped.
#[derive(Debug)]
pub(crate) struct Leave {
    waits: std::sync::Arc<BodyWaits>,
    /// Its key, for [`BodyWaits::leave`].
    pub(crate) key: u64,
}

impl Drop for Leave {
    fn drop(&mut self) {
        self.waits.leave(self.key);
    }
}

impl Drop for BodyWait<'_> {
    fn drop(&mut self) {
        self.waits.leave(self.key);
    }
}

/// Whether an accept failed for want of file descriptors (`EMFILE` for the process, `ENFILE`
/// for the system; the numbers are the same on Linux, the BSDs and macOS).
pub(crate) fn out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_waiting_bodies_are_shed_first_and_finished_ones_leave() {
        let waits = BodyWaits::default();
        let first = waits.enter();
        let second = waits.enter();
        let third = waits.enter();
        drop(second);
        assert_eq!(waits.len(), 2);
        assert_eq!(waits.shed_oldest(1), 1);
        assert!(first.shed.is_cancelled());
        assert!(!third.shed.is_cancelled());
        assert_eq!(waits.shed_oldest(5), 1);
        assert!(third.shed.is_cancelled());
        assert_eq!(waits.len(), 0);
        drop((first, third));
        assert_eq!(waits.shed_oldest(1), 0);
    }

    #[test]
    fn descriptor_shortage_is_told_from_other_accept_errors() {
        assert!(out_of_descriptors(&std::io::Error::from_raw_os_error(24)));
        assert!(out_of_descriptors(&std::io::Error::from_raw_os_error(23)));
        assert!(!out_of_descriptors(&std::io::Error::from_raw_os_error(104)));
        assert!(!out_of_descriptors(&std::io::Error::other("x")));
    }
}
