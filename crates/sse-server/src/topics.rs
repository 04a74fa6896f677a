//! Topics: publish/subscribe streams with a bounded replay log, so that a subscriber reconnecting
//! with `Last-Event-ID` gets every event it missed exactly once, in order (`SERVER-RESUME`).
//!
//! Event ids are decimal sequence numbers starting at 1, per topic. When a resume point is no
//! longer in the log (or is not one of ours), the subscriber gets a `reset` event instead of a
//! silent gap: see [`ResetReason`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::broadcast;

use crate::encode::{self, OutEvent};

/// A published event, encoded once for every subscriber.
#[derive(Debug)]
pub struct Stored {
    /// Sequence number within the topic.
    pub id: u64,
    /// The event's bytes on the wire (id, event, data lines, blank line).
    pub encoded: Bytes,
}

/// What a subscriber's live channel carries.
#[derive(Debug, Clone)]
pub(crate) enum Message {
    Event(Arc<Stored>),
    Closed,
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
    /// Live events; those with ids up to `last_sent` are duplicates of the replay and skipped.
    pub(crate) live: broadcast::Receiver<Message>,
    /// The id of the last event in `replay` (or the resume point).
    pub(crate) last_sent: u64,
    /// The topic is closed: end after the replay.
    pub(crate) closed: bool,
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
    /// The live channel, made at the first subscription: a topic nobody ever subscribed to
    /// costs its log and nothing more (a channel's slots are allocated up front).
    live: Option<broadcast::Sender<Message>>,
}

impl State {
    fn subscribers(&self) -> usize {
        self.live
            .as_ref()
            .map_or(0, broadcast::Sender::receiver_count)
    }

    fn send(&self, message: Message) {
        if let Some(live) = &self.live {
            // No receivers is fine.
            let _ = live.send(message);
        }
    }
}

/// One topic.
#[derive(Debug)]
struct Topic {
    state: Mutex<State>,
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
    topics: Mutex<HashMap<String, Arc<Topic>>>,
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
            topics: Mutex::new(HashMap::new()),
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
                .filter(|(_, t)| lock(&t.state).subscribers() == 0)
                .min_by_key(|(_, t)| lock(&t.state).touched)
                .map(|(n, _)| n.clone())?;
            topics.remove(&idle);
        }
        let topic = Arc::new(Topic {
            state: Mutex::new(State {
                next_id: 1,
                log: VecDeque::new(),
                log_bytes: 0,
                closed: false,
                touched: Instant::now(),
                live: None,
            }),
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
        while state.log.len() > self.log_capacity || state.log_bytes > self.max_log_bytes {
            match state.log.pop_front() {
                Some(old) => state.log_bytes -= old.encoded.len(),
                None => break,
            }
        }
        // Sent under the lock, so a subscriber's snapshot and its live channel never overlap
        // or leave a gap.
        state.send(Message::Event(stored));
        Ok(id)
    }

    /// Closes a topic: subscribers end after what they have, later resumes get 204. Returns
    /// whether there was such a topic (closing creates nothing).
    pub fn close(&self, name: &str) -> bool {
        let Some(topic) = self.get(name) else {
            return false;
        };
        let mut state = lock(&topic.state);
        state.closed = true;
        state.send(Message::Closed);
        true
    }

    /// Every event still in a topic's replay log, oldest first (none for an unknown topic).
    pub fn log(&self, name: &str) -> Vec<Arc<Stored>> {
        self.get(name)
            .map(|t| lock(&t.state).log.iter().cloned().collect())
            .unwrap_or_default()
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
        state.touched = Instant::now();
        let live = state
            .live
            .get_or_insert_with(|| broadcast::channel(self.channel_capacity).0)
            .subscribe();
        let last_id = state.next_id - 1;
        let first_logged = state.log.front().map_or(state.next_id, |e| e.id);
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
        let replay: VecDeque<Arc<Stored>> =
            state.log.iter().filter(|e| e.id > after).cloned().collect();
        Subscribe::Stream(Box::new(Subscription {
            reset: reset.map(|reason| reset_event(reason, last_id)),
            replay,
            live,
            last_sent: after,
            closed: state.closed,
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

    #[tokio::test]
    async fn live_events_follow_the_snapshot_without_gap_or_duplicate() {
        let store = TopicStore::new(10, 16);
        store.publish("t", None, "1".into()).expect("open topic");
        let mut sub = stream(store.subscribe("t", Resume::After(0)));
        store.publish("t", None, "2".into()).expect("open topic");
        assert_eq!(ids(&sub), [1]);
        match sub.live.recv().await {
            Ok(Message::Event(e)) => assert_eq!(e.id, 2),
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
        // Cancel-safe: `recv` loses nothing when dropped.
        let first = loop {
            match sub.live.recv().await {
                Ok(Message::Event(e)) if e.id <= sub.last_sent => continue,
                Ok(Message::Event(e)) => break e,
                Ok(Message::Closed) | Err(broadcast::error::RecvError::Closed) => return Item::End,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    return self.too_slow();
                }
            }
        };
        sub.last_sent = first.id;
        let mut out = bytes::BytesMut::from(&first.encoded[..]);
        for _ in 1..MAX_BATCH {
            match sub.live.try_recv() {
                Ok(Message::Event(e)) if e.id <= sub.last_sent => {}
                Ok(Message::Event(e)) => {
                    sub.last_sent = e.id;
                    out.extend_from_slice(&e.encoded);
                }
                Ok(Message::Closed) => {
                    sub.closed = true;
                    break;
                }
                Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    return self.too_slow();
                }
                Err(_) => break,
            }
        }
        Item::Data(out.freeze())
    }
}
