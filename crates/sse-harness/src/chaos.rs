//! The chaos property: under any schedule of connection drops, stalls-then-drops, partitions,
//! latency and server crashes with restarts, a client of a topic on the reference server (with a
//! durable replay log) receives every event the server accepted exactly once, in order.
//!
//! A schedule is a [`Case`] built from a seed, so a schedule that breaks the property can be
//! saved as an ordinary case file and replayed.

use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::time::Duration;

use sse_model::{Item, Limits, parse_stream};
use sse_sim::{Fault, Publisher};

use crate::case::{Case, ClientSpec, ExpectSpec, ReferenceSpec, ServerSpec};
use crate::client::{PageEvent, Seen};

/// Events the publisher sends per schedule.
pub const EVENTS: u64 = 20;
const TOPIC: &str = "chaos";

/// SplitMix64: a tiny, seedable, portable generator (schedules must not depend on a crate's
/// RNG algorithm staying the same).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let out = sse_server::demo::splitmix64(self.0);
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        out
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// The random fault schedule for `seed`.
pub fn schedule(seed: u64) -> Case {
    let mut rng = Rng(seed);
    // Keep-alives every 200 ms keep healthy connections under this idle limit; a stalled one
    // is cut by it (an EventSource has no timeout of its own and would wait forever).
    let mut faults = vec![Fault::IdleTimeout { ms: 500 }];
    for _ in 0..rng.range(0, 4) {
        let connections = vec![u32::try_from(rng.range(1, 6)).unwrap_or(1)];
        if rng.chance(50) {
            faults.push(Fault::Drop {
                after_bytes: Some(rng.range(1, 600)),
                at_ms: None,
                connections,
            });
        } else {
            faults.push(Fault::Stall {
                after_bytes: rng.range(1, 600),
                connections,
            });
        }
    }
    if rng.chance(40) {
        faults.push(Fault::Drop {
            after_bytes: None,
            at_ms: Some(rng.range(50, 2000)),
            connections: Vec::new(),
        });
    }
    if rng.chance(40) {
        let at = rng.range(0, 2000);
        faults.push(Fault::Partition {
            at_ms: at,
            repair_at_ms: at + rng.range(10, 800),
        });
    }
    if rng.chance(40) {
        let at = rng.range(0, 2000);
        faults.push(Fault::ServerCrash {
            at_ms: at,
            restart_at_ms: Some(at + rng.range(1, 600)),
        });
    }
    if rng.chance(30) {
        faults.push(Fault::Latency {
            ms: rng.range(0, 30),
            jitter_ms: rng.range(0, 30),
        });
    }
    Case {
        id: format!("chaos-{seed}"),
        path: PathBuf::new(),
        checks: vec![
            "SERVER-RESUME".into(),
            "LAST-EVENT-ID-PERSISTS".into(),
            "CONN-BODY-ERROR".into(),
        ],
        about: format!(
            "Chaos schedule {seed}: every accepted event arrives exactly once, in order."
        ),
        duration_ms: 6000,
        seed,
        client: ClientSpec {
            path: Some(format!("/topics/{TOPIC}?since=0")),
            reconnection_ms: Some(100),
            ..ClientSpec::default()
        },
        server: ServerSpec {
            responses: Vec::new(),
            reference: Some(ReferenceSpec {
                retry_ms: Some(100),
                keep_alive_ms: Some(200),
                ..ReferenceSpec::default()
            }),
        },
        expect: ExpectSpec::default(),
        golden: None,
        alternatives: Vec::new(),
        stream: None,
        publisher: Some(Publisher {
            topic: TOPIC.into(),
            every_ms: 50,
            count: EVENTS,
            start_ms: 100,
        }),
        faults,
    }
}

/// What a broken property looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The seed of the schedule.
    pub seed: u64,
    /// Events (id, data) the server accepted.
    pub accepted: Vec<(String, String)>,
    /// Events (id, data) the client received.
    pub received: Vec<(String, String)>,
}

/// Runs one schedule with the model; `Ok(n)` with the number of events checked, or the
/// violation.
pub fn check(case: &Case) -> Result<usize, Violation> {
    let client = Arc::new(crate::ModelClient::default());
    let (run, topics) =
        match crate::run::simulated_with_topics(client, case, case.seed, Duration::ZERO) {
            Ok(ran) => ran,
            Err(e) => {
                return Err(Violation {
                    seed: case.seed,
                    accepted: Vec::new(),
                    received: vec![("error".into(), e.to_string())],
                });
            }
        };
    let mut accepted = Vec::new();
    for stored in topics.log(TOPIC) {
        if let Ok(items) = parse_stream(&stored.encoded, Limits::default()) {
            for item in items {
                if let Item::Event(e) = item {
                    accepted.push((e.last_event_id, e.data));
                }
            }
        }
    }
    let received: Vec<(String, String)> = run
        .observed
        .iter()
        .filter_map(|o| match &o.what {
            Seen::Page(PageEvent::Message(m)) => Some((m.last_event_id.clone(), m.data.clone())),
            _ => None,
        })
        .collect();
    // Every event must be accepted (the publisher retries) and arrive once, in order.
    if accepted.len() as u64 >= EVENTS && received == accepted {
        Ok(received.len())
    } else {
        Err(Violation {
            seed: case.seed,
            accepted,
            received,
        })
    }
}

/// Writes a schedule as a case file (`chaos-SEED.toml`) so it can be replayed (`ssec sim`) and
/// reviewed; to keep it, move it into `fixtures/cases/` and review its golden trace.
pub fn save(case: &Case, dir: &Path) -> std::io::Result<PathBuf> {
    let text = toml::to_string(case).map_err(std::io::Error::other)?;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}.toml", case.id));
    std::fs::write(
        &path,
        format!(
            "# Saved by the chaos property: this schedule broke exactly-once delivery.\n{text}"
        ),
    )?;
    Ok(path)
}
