//! Topics: publish/subscribe streams with a bounded replay log, so that a subscriber reconnecting
//! with `Last-Event-ID` gets every event it missed exactly once, in order (`SERVER-RESUME`).
//!
//! Event ids are decimal sequence numbers starting at 1, per topic. When a resume point is no
//! longer in the log (or is not one of ours), the subscriber gets a `reset` event instead of a
//! silent gap: see [`ResetReason`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::Notify;

use crate::encode::{self, OutEvent};

/// A published event, encoded once for every subscriber.
#[derive(Debug)]
pub struct Stored {
    /// Sequence number within the topic.
    pub id: u64,
    /// The event's bytes on the wire (id, event, data lines, blank line).
    pub encoded: Bytes,
}

/// Where a subscriber wants to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// No Last-Event-ID: live events only, from now.
    Live,
    /// Everything after this id.
    After(u64),
    /// A Last-Event-ID that is not a decimal `u64` (or not UTF-8).
    Malformed,
}

/// Why a subscriber was told to resync (the `reason` of the `reset` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetReason {
    /// The events after the resume point were dropped from the bounded log.
    HistoryGone,
    /// The resume point is newer than anything published (for example, ids from before a
    /// restart of a server whose topics were not durable).
    UnknownId,
    /// The Last-Event-ID could not be read as an id of this server.
    MalformedId,
}

impl ResetReason {
    /// The reason as the `reset` event's JSON says it.
    pub fn as_str(self) -> &'static str {
        match self {
            ResetReason::HistoryGone => "history-gone",
            ResetReason::UnknownId => "unknown-id",
            ResetReason::MalformedId => "malformed-last-event-id",
        }
    }
}

/// Why an event was not published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The topic was closed by `DELETE`: it takes no more events.
    #[error("topic is closed")]
    Closed,
    /// The store holds its maximum of topics and every one has subscribers.
    #[error("too many topics")]
    Full,
}

/// What a subscription starts with.
#[derive(Debug)]
pub(crate) struct Subscription {
    /// A `reset` event to send first, if the resume point could not be honoured.
    pub(crate) reset: Option<Bytes>,
    /// Logged events to send before live ones.
    pub(crate) replay: VecDeque<Arc<Stored>>,
    /// Live events: read from the topic's log after `last_sent`.
    pub(crate) live: Live,
    /// The resume point; the feed moves it to each event it sends.
    pub(crate) last_sent: u64,
    /// The topic is closed: end after the replay.
    pub(crate) closed: bool,
}

/// A subscriber's hold on a topic: it reads live events from the topic's own log (no buffer of
/// its own, none per topic), and its drop gives a topic that never had an event back.
#[derive(Debug)]
pub(crate) struct Live {
    topic: Arc<Topic>,
    /// The store's map, to forget an empty topic when its last subscriber leaves.
    topics: Weak<Mutex<HashMap<String, Arc<Topic>>>>,
    /// Events a subscriber may fall behind before it is cut off as too slow.
    max_lag: u64,
}

/// What a live subscriber gets next.
#[derive(Debug)]
pub(crate) enum Next {
    /// Events after the last sent, oldest first (at most the batch asked for).
    Events(Vec<Arc<Stored>>),
    /// The topic was closed and every event has been sent.
    Closed,
    /// The subscriber fell more than the allowed lag behind (or, with events larger than the
    /// topic's byte bound, past what the topic still keeps).
    TooSlow,
}

impl Live {
    /// Waits for events after `after` (cancel-safe: nothing is taken until it returns).
    pub(crate) async fn next(&self, after: u64, batch: usize) -> Next {
        loop {
            let notified = self.topic.changed.notified();
            tokio::pin!(notified);
            // Registered before the log is read, so a publish in between still wakes it.
            notified.as_mut().enable();
            {
                let state = lock(&self.topic.state);
                let last_id = state.next_id - 1;
                if last_id > after {
                    let first = state.log.front().map_or(state.next_id, |e| e.id);
                    if last_id - after > self.max_lag || after + 1 < first {
                        return Next::TooSlow;
                    }
                    let start = usize::try_from(after + 1 - first).unwrap_or(usize::MAX);
                    return Next::Events(state.log.range(start..).take(batch).cloned().collect());
                }
                if state.closed {
                    return Next::Closed;
                }
            }
            notified.await;
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let unused = |s: &State| s.subscribers == 0 && s.next_id == 1 && !s.closed;
        let forget = {
            let mut state = lock(&self.topic.state);
            state.subscribers = state.subscribers.saturating_sub(1);
            unused(&state)
        };
        if !forget {
            return;
        }
        // The map's lock before the topic's, as everywhere.
        if let Some(topics) = self.topics.upgrade() {
            let mut topics = lock(&topics);
            let name = &self.topic.name;
            let same = topics
                .get(name)
                .is_some_and(|t| Arc::ptr_eq(t, &self.topic));
            if same && unused(&lock(&self.topic.state)) {
                topics.remove(name);
            }
        }
    }
}

/// The outcome of asking to subscribe.
#[derive(Debug)]
pub(crate) enum Subscribe {
    /// Stream this.
    Stream(Box<Subscription>),
    /// The topic is closed and the subscriber has everything: answer 204.
    Ended,
    /// The store holds its maximum of topics and every one has subscribers: answer 503.
    Full,
}

#[derive(Debug)]
struct State {
    next_id: u64,
    log: VecDeque<Arc<Stored>>,
    /// Bytes of the encoded events in `log`.
    log_bytes: usize,
    closed: bool,
    /// Last publish or subscription: the idle topic touched longest ago is evicted first.
    touched: Instant,
    /// Live subscriptions held.
    subscribers: usize,
    /// Taken out of the store (evicted, or forgotten by its last subscriber): whoever finds it
    /// so looks the topic up again.
    removed: bool,
}

/// One topic: its log, and a signal for its live subscribers (who read the log themselves).
#[derive(Debug)]
struct Topic {
    /// Its name in the store.
    name: String,
    state: Mutex<State>,
    changed: Notify,
}

/// All topics of a server. Share one store across server restarts (as the simulator does) to
/// model durable topics; a fresh store models a server that loses its history.
///
/// Memory is bounded: at most `max_topics` topics (creating one more evicts the idle topic
/// touched longest ago, one without subscribers; if every topic has subscribers, it is refused),
/// and each topic's log keeps at most `log_capacity` events and `max_log_bytes` bytes. Reading a
/// topic (its log, its last id, closing it) never creates it.
#[derive(Debug)]
pub struct TopicStore {
    topics: Arc<Mutex<HashMap<String, Arc<Topic>>>>,
    log_capacity: usize,
    channel_capacity: usize,
    max_topics: usize,
    max_log_bytes: usize,
}

/// Topics a store holds at most unless told otherwise.
pub const DEFAULT_MAX_TOPICS: usize = 10_000;

/// Bytes of replay log a topic keeps at most unless told otherwise.
pub const DEFAULT_MAX_LOG_BYTES: usize = 16 << 20;

impl TopicStore {
    /// A store whose topics keep the last `log_capacity` events for resume and let a live
    /// subscriber fall `channel_capacity` events behind before it is cut off as too slow, with
    /// the default bounds on topics and log bytes.
    pub fn new(log_capacity: usize, channel_capacity: usize) -> Self {
        TopicStore {
            topics: Arc::default(),
            log_capacity: log_capacity.max(1),
            channel_capacity: channel_capacity.max(1),
            max_topics: DEFAULT_MAX_TOPICS,
            max_log_bytes: DEFAULT_MAX_LOG_BYTES,
        }
    }

    /// The store a server configuration asks for.
    pub fn for_config(config: &crate::Config) -> Self {
        TopicStore {
            max_topics: config.max_topics.max(1),
            max_log_bytes: config.topic_log_bytes.max(1),
            ..TopicStore::new(config.topic_log, config.topic_channel)
        }
    }

    /// How many topics the store holds.
    pub fn len(&self) -> usize {
        lock(&self.topics).len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, name: &str) -> Option<Arc<Topic>> {
        lock(&self.topics).get(name).cloned()
    }

    /// The topic, created if need be (evicting the idle topic touched longest ago at the cap);
    /// `None` when the store is full of topics with subscribers.
    fn get_or_create(&self, name: &str) -> Option<Arc<Topic>> {
        let mut topics = lock(&self.topics);
        if let Some(topic) = topics.get(name) {
            return Some(topic.clone());
        }
        if topics.len() >= self.max_topics {
            let idle = topics
                .iter()
                .filter(|(_, t)| lock(&t.state).subscribers == 0)
                .min_by_key(|(_, t)| lock(&t.state).touched)
                .map(|(n, _)| n.clone())?;
            if let Some(evicted) = topics.remove(&idle) {
                lock(&evicted.state).removed = true;
            }
        }
        let topic = Arc::new(Topic {
            name: name.to_owned(),
            state: Mutex::new(State {
                next_id: 1,
                log: VecDeque::new(),
                log_bytes: 0,
                closed: false,
                touched: Instant::now(),
                subscribers: 0,
                removed: false,
            }),
            changed: Notify::new(),
        });
        topics.insert(name.to_owned(), topic.clone());
        Some(topic)
    }

    /// Publishes an event; returns its id.
    pub fn publish(
        &self,
        name: &str,
        event: Option<String>,
        data: String,
    ) -> Result<u64, PublishError> {
        let topic = self.get_or_create(name).ok_or(PublishError::Full)?;
        let mut state = lock(&topic.state);
        if state.removed {
            // Removed between the lookup and the lock: look it up again.
            drop(state);
            return self.publish(name, event, data);
        }
        if state.closed {
            return Err(PublishError::Closed);
        }
        state.touched = Instant::now();
        let id = state.next_id;
        state.next_id += 1;
        let stored = Arc::new(Stored {
            id,
            encoded: encode::event(&OutEvent {
                id: Some(id.to_string()),
                event,
                data,
            }),
        });
        state.log_bytes += stored.encoded.len();
        state.log.push_back(stored.clone());
        // The deque serves both resuming (its newest `log_capacity` events) and live
        // subscribers that fell behind (up to `channel_capacity`); the newest event always
        // stays, however large, so a caught-up subscriber always gets it.
        let keep = self.log_capacity.max(self.channel_capacity);
        while state.log.len() > keep
            || (state.log_bytes > self.max_log_bytes && state.log.len() > 1)
        {
            match state.log.pop_front() {
                Some(old) => state.log_bytes -= old.encoded.len(),
                None => break,
            }
        }
        drop(state);
        topic.changed.notify_waiters();
        Ok(id)
    }

    /// Closes a topic: subscribers end after what they have, later resumes get 204. Returns
    /// whether there was such a topic (closing creates nothing).
    pub fn close(&self, name: &str) -> bool {
        let Some(topic) = self.get(name) else {
            return false;
        };
        lock(&topic.state).closed = true;
        topic.changed.notify_waiters();
        true
    }

    /// Every event still in a topic's replay log, oldest first (none for an unknown topic).
    pub fn log(&self, name: &str) -> Vec<Arc<Stored>> {
        self.get(name)
            .map(|t| {
                let state = lock(&t.state);
                let skip = self.replayable(&state);
                state.log.iter().skip(skip).cloned().collect()
            })
            .unwrap_or_default()
    }

    /// How many of a topic's oldest kept events are there only for live subscribers that fell
    /// behind, not for resuming (the replay log is the newest `log_capacity`).
    fn replayable(&self, state: &State) -> usize {
        state.log.len().saturating_sub(self.log_capacity)
    }

    /// The id of the newest event of a topic (0 before the first, or for an unknown topic).
    pub fn last_id(&self, name: &str) -> u64 {
        self.get(name).map_or(0, |t| lock(&t.state).next_id - 1)
    }

    pub(crate) fn subscribe(&self, name: &str, resume: Resume) -> Subscribe {
        let Some(topic) = self.get_or_create(name) else {
            return Subscribe::Full;
        };
        let mut state = lock(&topic.state);
        if state.removed {
            // Removed between the lookup and the lock: look it up again.
            drop(state);
            return self.subscribe(name, resume);
        }
        state.touched = Instant::now();
        let last_id = state.next_id - 1;
        let replayable = self.replayable(&state);
        let first_logged = state.log.get(replayable).map_or(state.next_id, |e| e.id);
        let (reset, after) = match resume {
            Resume::Live => (None, last_id),
            Resume::Malformed => (Some(ResetReason::MalformedId), last_id),
            Resume::After(k) if k > last_id => (Some(ResetReason::UnknownId), last_id),
            // Events k+1 .. first_logged-1 are gone.
            Resume::After(k) if k + 1 < first_logged => (Some(ResetReason::HistoryGone), last_id),
            Resume::After(k) => (None, k),
        };
        if state.closed && reset.is_none() && after == last_id {
            return Subscribe::Ended;
        }
        let replay: VecDeque<Arc<Stored>> = state
            .log
            .iter()
            .skip(replayable)
            .filter(|e| e.id > after)
            .cloned()
            .collect();
        state.subscribers += 1;
        let closed = state.closed;
        drop(state);
        let live = Live {
            topic,
            topics: Arc::downgrade(&self.topics),
            max_lag: u64::try_from(self.channel_capacity).unwrap_or(u64::MAX),
        };
        Subscribe::Stream(Box::new(Subscription {
            reset: reset.map(|reason| reset_event(reason, last_id)),
            replay,
            live,
            last_sent: after,
            closed,
        }))
    }
}

/// The `reset` event: it carries the newest id, so the client's next resume starts from there.
fn reset_event(reason: ResetReason, last_id: u64) -> Bytes {
    encode::event(&OutEvent {
        id: Some(last_id.to_string()),
        event: Some("reset".to_owned()),
        data: format!(
            "{{\"reason\":\"{}\",\"resume_from\":{last_id}}}",
            reason.as_str()
        ),
    })
}

/// A poisoned lock only means another request panicked; the data is still consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(sub: &Subscription) -> Vec<u64> {
        sub.replay.iter().map(|e| e.id).collect()
    }

    fn stream(s: Subscribe) -> Box<Subscription> {
        match s {
            Subscribe::Stream(s) => s,
            Subscribe::Ended | Subscribe::Full => panic!("expected a stream"),
        }
    }

    #[test]
    fn reading_or_closing_an_unknown_topic_creates_nothing() {
        let store = TopicStore::new(10, 16);
        for i in 0..20_000 {
            let name = format!("t{i}");
            assert!(!store.close(&name));
            assert!(store.log(&name).is_empty());
            assert_eq!(store.last_id(&name), 0);
        }
        assert!(store.is_empty());
    }

    #[test]
    fn topics_are_bounded_by_evicting_the_idle_one_touched_longest_ago() {
        let config = crate::Config {
            max_topics: 3,
            ..crate::Config::default()
        };
        let store = TopicStore::for_config(&config);
        for name in ["a", "b", "c"] {
            store.publish(name, None, "x".into()).expect("room");
        }
        // "a" has a subscriber, so "b" (idle, touched longest ago) makes room for "d".
        let held = stream(store.subscribe("a", Resume::Live));
        store.publish("d", None, "x".into()).expect("evicts b");
        assert_eq!(store.len(), 3);
        assert_eq!(store.last_id("b"), 0, "b was evicted");
        assert_eq!(store.last_id("a"), 1);
        // With every topic held by a subscriber, a new one is refused.
        let _c = stream(store.subscribe("c", Resume::Live));
        let _d = stream(store.subscribe("d", Resume::Live));
        assert_eq!(
            store.publish("e", None, "x".into()),
            Err(PublishError::Full)
        );
        assert!(matches!(
            store.subscribe("e", Resume::Live),
            Subscribe::Full
        ));
        drop(held);
    }

    #[test]
    fn a_topic_log_is_bounded_in_bytes() {
        let config = crate::Config {
            topic_log_bytes: 1000,
            ..crate::Config::default()
        };
        let store = TopicStore::for_config(&config);
        for _ in 0..100 {
            store.publish("t", None, "x".repeat(100)).expect("publish");
        }
        let log = store.log("t");
        let bytes: usize = log.iter().map(|e| e.encoded.len()).sum();
        assert!(bytes <= 1000, "{bytes} bytes kept");
        assert_eq!(
            log.last().map(|e| e.id),
            Some(100),
            "the newest events stay"
        );
    }

    #[test]
    fn resume_replays_exactly_the_missing_events() {
        let store = TopicStore::new(5, 16);
        for i in 0..8 {
            store
                .publish("t", None, format!("{i}"))
                .expect("open topic");
        }
        assert_eq!(
            ids(&stream(store.subscribe("t", Resume::After(5)))),
            [6, 7, 8]
        );
        assert_eq!(
            ids(&stream(store.subscribe("t", Resume::After(3)))),
            [4, 5, 6, 7, 8]
        );
        assert!(
            stream(store.subscribe("t", Resume::After(8)))
                .replay
                .is_empty()
        );
        assert!(stream(store.subscribe("t", Resume::Live)).replay.is_empty());
    }

    #[test]
    fn unresumable_points_get_a_reset() {
        let store = TopicStore::new(5, 16);
        for i in 0..8 {
            store
                .publish("t", None, format!("{i}"))
                .expect("open topic");
        }
        for (resume, reason) in [
            (Resume::After(2), "history-gone"),
            (Resume::After(99), "unknown-id"),
            (Resume::Malformed, "malformed-last-event-id"),
        ] {
            let sub = stream(store.subscribe("t", resume));
            let reset = String::from_utf8(sub.reset.expect("reset").to_vec()).expect("UTF-8");
            assert!(reset.starts_with("id: 8\nevent: reset\n"), "{reset}");
            assert!(reset.contains(reason), "{reset}");
            assert!(sub.replay.is_empty());
            assert_eq!(sub.last_sent, 8);
        }
    }

    #[test]
    fn closed_topic_ends_and_then_answers_ended() {
        let store = TopicStore::new(10, 16);
        store.publish("t", None, "a".into()).expect("open topic");
        store.publish("t", None, "b".into()).expect("open topic");
        store.close("t");
        assert_eq!(
            store.publish("t", None, "c".into()),
            Err(PublishError::Closed)
        );
        let sub = stream(store.subscribe("t", Resume::After(1)));
        assert_eq!((ids(&sub), sub.closed), (vec![2], true));
        assert!(matches!(
            store.subscribe("t", Resume::After(2)),
            Subscribe::Ended
        ));
        assert!(matches!(
            store.subscribe("t", Resume::Live),
            Subscribe::Ended
        ));
    }

    /// Net heap bytes `f` leaves allocated (other tests running at once add noise; the bounds
    /// below leave room for it).
    fn held_by<T>(f: impl FnOnce() -> T) -> (T, isize) {
        let region = stats_alloc::Region::new(crate::TEST_ALLOCATOR);
        let value = f();
        let c = region.change();
        let net = c.bytes_allocated as isize + c.bytes_reallocated - c.bytes_deallocated as isize;
        (value, net)
    }

    #[test]
    fn a_subscription_holds_no_buffer_and_an_empty_topic_goes_with_its_last_subscriber() {
        let store = TopicStore::new(10_000, 1024);
        let (held, bytes) = held_by(|| {
            (0..10_000)
                .map(|i| stream(store.subscribe(&format!("anon{i}"), Resume::Live)))
                .collect::<Vec<_>>()
        });
        // A 1024-slot broadcast channel per topic held about 64 KiB each; a subscription now
        // holds about 1 KiB. The region counts every thread's allocations, and the other tests
        // of this binary run beside this one (a CI run measured 1.1 KiB each), so the bound is
        // 4 KiB: sixteen times below the buffer it guards against, above what they add.
        assert!(
            bytes < 10_000 * 4096,
            "{bytes} bytes for 10,000 held subscriptions"
        );
        assert_eq!(store.len(), 10_000);
        drop(held);
        assert!(store.is_empty(), "{} empty topics kept", store.len());
        // Subscribing and leaving, over and over, keeps nothing.
        for i in 0..20_000 {
            drop(store.subscribe(&format!("gone{i}"), Resume::Live));
        }
        assert!(store.is_empty());
        // A topic with events stays for resuming; two subscribers, one leaving, keep it too.
        store.publish("kept", None, "x".into()).expect("room");
        let a = stream(store.subscribe("kept", Resume::Live));
        drop(a);
        let _b = stream(store.subscribe("quiet", Resume::Live));
        let c = stream(store.subscribe("quiet", Resume::Live));
        drop(c);
        assert_eq!(store.len(), 2);
    }

    #[tokio::test]
    async fn a_live_subscriber_behind_the_replay_log_but_within_its_lag_gets_every_event() {
        // Three events to resume from, sixteen a live subscriber may fall behind.
        let store = TopicStore::new(3, 16);
        let sub = stream(store.subscribe("t", Resume::Live));
        for i in 0..10 {
            store
                .publish("t", None, format!("{i}"))
                .expect("open topic");
        }
        match sub.live.next(0, 64).await {
            Next::Events(e) => assert_eq!(e.len(), 10),
            other => panic!("{other:?}"),
        }
        // Resuming still sees only the last three.
        assert_eq!(
            ids(&stream(store.subscribe("t", Resume::After(7)))),
            [8, 9, 10]
        );
        assert_eq!(store.log("t").len(), 3);
        assert!(
            stream(store.subscribe("t", Resume::After(2)))
                .reset
                .is_some(),
            "history gone"
        );
        // An event larger than the byte bound still reaches a caught-up subscriber.
        let small = TopicStore::for_config(&crate::Config {
            topic_log_bytes: 10,
            ..crate::Config::default()
        });
        let sub = stream(small.subscribe("t", Resume::Live));
        small
            .publish("t", None, "x".repeat(100))
            .expect("open topic");
        assert!(matches!(sub.live.next(0, 64).await, Next::Events(e) if e.len() == 1));
    }

    #[tokio::test]
    async fn a_subscriber_too_far_behind_is_cut_and_a_close_ends_it() {
        let store = TopicStore::new(100, 4);
        let sub = stream(store.subscribe("t", Resume::Live));
        for _ in 0..5 {
            store.publish("t", None, "x".into()).expect("open topic");
        }
        assert!(matches!(sub.live.next(0, 64).await, Next::TooSlow));
        match sub.live.next(1, 2).await {
            Next::Events(e) => assert_eq!(e.iter().map(|e| e.id).collect::<Vec<_>>(), [2, 3]),
            other => panic!("{other:?}"),
        }
        store.close("t");
        assert!(matches!(sub.live.next(5, 64).await, Next::Closed));
        // A waiting subscriber wakes for a publish.
        let quiet = stream(store.subscribe("q", Resume::Live));
        let wait = tokio::spawn(async move { quiet.live.next(0, 64).await });
        tokio::task::yield_now().await;
        store.publish("q", None, "x".into()).expect("open topic");
        assert!(matches!(wait.await.expect("joins"), Next::Events(e) if e.len() == 1));
    }

    #[tokio::test]
    async fn live_events_follow_the_snapshot_without_gap_or_duplicate() {
        let store = TopicStore::new(10, 16);
        store.publish("t", None, "1".into()).expect("open topic");
        let sub = stream(store.subscribe("t", Resume::After(0)));
        store.publish("t", None, "2".into()).expect("open topic");
        assert_eq!(ids(&sub), [1]);
        // After the replay (event 1), live events start at 2.
        match sub.live.next(1, 64).await {
            Next::Events(e) => assert_eq!(e.iter().map(|e| e.id).collect::<Vec<_>>(), [2]),
            other => panic!("{other:?}"),
        }
    }
}

/// The most events one body frame carries when a subscriber has fallen behind.
const MAX_BATCH: usize = 64;

/// A subscription as a stream source: reset, replay, then live events, batched when several are
/// ready. A subscriber more than the channel capacity behind is cut off as too slow.
#[derive(Debug)]
pub(crate) struct Feed {
    pub(crate) sub: Box<Subscription>,
    pub(crate) metrics: std::sync::Arc<crate::metrics::Metrics>,
}

impl Feed {
    /// The subscriber lagged past the channel: count it and cut the stream.
    fn too_slow(&self) -> crate::stream::Item {
        self.metrics.slow_disconnect();
        crate::stream::Item::Abort("subscriber fell too far behind")
    }
}

impl crate::stream::Source for Feed {
    async fn next(&mut self) -> crate::stream::Item {
        use crate::stream::Item;
        let sub = &mut self.sub;
        if let Some(reset) = sub.reset.take() {
            return Item::Data(reset);
        }
        if !sub.replay.is_empty() {
            let mut out = bytes::BytesMut::new();
            for e in sub.replay.drain(..sub.replay.len().min(MAX_BATCH)) {
                sub.last_sent = e.id;
                out.extend_from_slice(&e.encoded);
            }
            return Item::Data(out.freeze());
        }
        if sub.closed {
            return Item::End;
        }
        match sub.live.next(sub.last_sent, MAX_BATCH).await {
            crate::topics::Next::Events(events) => {
                let mut out = bytes::BytesMut::new();
                for e in events {
                    sub.last_sent = e.id;
                    out.extend_from_slice(&e.encoded);
                }
                Item::Data(out.freeze())
            }
            crate::topics::Next::Closed => Item::End,
            crate::topics::Next::TooSlow => self.too_slow(),
        }
    }
}
