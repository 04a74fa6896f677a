//! Stream cases: every stream fixture of `fixtures/streams/` served, byte for byte, to every
//! client that reports messages (HTML, "Parsing an event stream", `#parsing-an-event-stream`,
//! and "Interpreting an event stream", `#event-stream-interpretation`).
//!
//! A fixture becomes one case per [`Delivery`] (`stream/NAME@DELIVERY`): the case server answers
//! `200 text/event-stream` and writes the fixture's bytes in the delivery's writes, a short pause
//! after each so they arrive as separate reads, then keeps the connection open until the client
//! has shown every expected message and a quiet period has passed. A fixture about the end of the
//! body (`PARSE-EOF-DISCARD`) ends it instead, and answers the reconnection with 204. The
//! expectation is the fixture's reviewed snapshot (`fixtures/streams/snapshots/NAME.snap`): every
//! dispatched message in order, with its type, data and lastEventId, and nothing else.
//!
//! A stream exercises many rules at once, so a failure is blamed on the rule whose step the
//! observed messages contradict ([`StreamSource::blame`]), found from the first divergence and the
//! model's own explanation of each line (`sse_model::explain`), not on every rule the fixture
//! names.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::script::{End, ScriptedResponse, Step};
use sse_model::{Effect, MessageEvent, Observation, PageEvent, ReadyState, Trace};

use crate::LoadError;
use crate::case::{Case, ClientSpec, ServerSpec};
use crate::spec::Requirement;
use crate::stream_fixture::StreamFixture;
pub use crate::stream_source::{Delivery, MAX_WRITES, PAUSE, Shown, StreamSource};

/// How long a stream case watches after its last byte, in the simulator and as its golden trace
/// says (loopback ends sooner once every expected message is in: see [`SETTLE`]).
const QUIET: Duration = Duration::from_millis(300);

/// The quiet period a loopback run waits once every expected message has arrived, to catch one
/// that should not come.
pub const SETTLE: Duration = Duration::from_millis(200);

/// Rules a stream case cannot judge: what `retry` does shows only in a reconnection's wait.
fn judgeable(id: &str) -> bool {
    !id.starts_with("FIELD-RETRY")
}

/// The stream cases of a workspace: every fixture of `fixtures/streams/manifest.toml` in every
/// delivery (deliveries that would write the same pieces are run once).
pub fn load(root: &Path, requirements: &[Requirement]) -> Result<Vec<Case>, LoadError> {
    let dir = root.join("fixtures/streams");
    let mut cases = Vec::new();
    for fixture in crate::stream_fixture::stream_fixtures(root)? {
        let path = dir.join(format!("{}.sse", fixture.name));
        let bytes: Arc<[u8]> = std::fs::read(&path)
            .map_err(|source| LoadError::Read {
                path: path.clone(),
                source,
            })?
            .into();
        let snapshot = crate::read(&dir.join("snapshots").join(format!("{}.snap", fixture.name)))?;
        let mut seen: Vec<Vec<Range<usize>>> = Vec::new();
        for delivery in Delivery::ALL {
            let writes = delivery.writes(&bytes);
            if seen.contains(&writes) {
                continue;
            }
            seen.push(writes.clone());
            let case = case(
                &fixture,
                &path,
                bytes.clone(),
                delivery,
                &snapshot,
                requirements,
            )
            .map_err(|reason| LoadError::Invalid {
                path: path.clone(),
                reason,
            })?;
            cases.push(case);
        }
    }
    Ok(cases)
}

/// The message lines of a stream snapshot (what the model dispatches, reviewed).
fn snapshot_messages(snapshot: &str) -> Vec<&str> {
    crate::stream_fixture::snapshot_body(snapshot)
        .lines()
        .filter(|l| l.starts_with("message "))
        .collect()
}

fn case(
    fixture: &StreamFixture,
    path: &Path,
    bytes: Arc<[u8]>,
    delivery: Delivery,
    snapshot: &str,
    requirements: &[Requirement],
) -> Result<Case, String> {
    let ends = fixture.checks.iter().any(|c| c == "PARSE-EOF-DISCARD");
    let (source, timed) = StreamSource::new(
        &fixture.name,
        bytes.clone(),
        delivery,
        ends,
        fixture.checks.clone(),
    )?;
    let shown: Vec<String> = timed
        .iter()
        .map(|(_, e)| sse_model::Item::Event(e.clone()).to_string())
        .collect();
    if shown != snapshot_messages(snapshot) {
        return Err(format!(
            "snapshots/{}.snap does not list what the parser dispatches: run `cargo test -p sse-model --test fixtures` and review it",
            fixture.name
        ));
    }
    let last_write =
        PAUSE * u32::try_from(source.writes.len().saturating_sub(1)).unwrap_or(u32::MAX);
    let script_id = format!("stream.{}.{}", fixture.name, delivery.name());
    let target = format!("/cases/{script_id}");
    // The golden trace: the request, open, each message when its write arrives; a body that
    // ends is followed by the end's error and, where the unterminated event's id is at stake,
    // the reconnection (answered 204).
    let mut golden = Trace::new();
    golden.push(Duration::ZERO, stream_request(&target, None));
    golden.push(Duration::ZERO, Observation::Page(PageEvent::Open));
    for (at, e) in &timed {
        golden.push(
            *at,
            Observation::Page(PageEvent::Message(MessageEvent {
                event_type: e.event_type.clone(),
                last_event_id: e.last_event_id.clone(),
                data: e.data.clone(),
                origin: None,
            })),
        );
    }
    let mut responses = vec![ScriptedResponse {
        status: 200,
        headers: None,
        body: source
            .writes
            .iter()
            .flat_map(|w| {
                [
                    Step::SendHex(hex(&bytes[w.clone()])),
                    Step::WaitMs(u64::try_from(PAUSE.as_millis()).unwrap_or(1)),
                ]
            })
            .collect(),
        end: if ends { End::Close } else { End::Hang },
        head_wait_ms: None,
    }];
    let (duration, checks) = if ends {
        end_of_body(&source, last_write, &target, &mut golden, &mut responses)
    } else {
        (last_write + QUIET, Vec::new())
    };
    let checks = case_checks(&source, delivery, requirements, checks);
    Ok(Case {
        id: format!("stream/{}@{}", fixture.name, delivery.name()),
        path: path.to_owned(),
        checks,
        about: format!("{} Delivered as {}.", fixture.about, delivery.describe()),
        duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        seed: 1,
        client: ClientSpec {
            path: Some(target),
            ..ClientSpec::default()
        },
        server: ServerSpec {
            responses,
            reference: None,
        },
        publisher: None,
        faults: Vec::new(),
        expect: crate::case::ExpectSpec::default(),
        golden: Some(golden),
        alternatives: Vec::new(),
        stream: Some(Arc::new(source)),
    })
}

/// The stream's request, as the golden trace shows it.
fn stream_request(target: &str, last_event_id: Option<String>) -> Observation {
    Observation::Request {
        method: "GET".into(),
        target: target.to_owned(),
        accept: Some("text/event-stream".into()),
        last_event_id,
        origin: None,
        headers: Vec::new(),
        body: None,
        received: true,
    }
}

/// A body that ends: the end's `error`, then, where the unterminated event's id is at stake,
/// the reconnection with the id that stands (answered 204, which stops the client; what
/// follows is other cases' business). Returns the case's length and what the end checks.
fn end_of_body(
    source: &StreamSource,
    last_write: Duration,
    target: &str,
    golden: &mut Trace,
    responses: &mut Vec<ScriptedResponse>,
) -> (Duration, Vec<String>) {
    golden.push(
        last_write,
        Observation::Page(PageEvent::error(ReadyState::Connecting)),
    );
    let mut duration = last_write + QUIET;
    let mut checks = Vec::new();
    let last = source.lines.last();
    let last_event_id = last
        .map(|l| l.buffers.last_event_id.clone())
        .unwrap_or_default();
    let id_buffer = last
        .map(|l| l.buffers.id_buffer.clone())
        .unwrap_or_default();
    if id_buffer != last_event_id {
        let retry = source.lines.iter().rev().find_map(|l| match l.effect {
            Effect::Retry(ms) => Some(Duration::from_millis(ms)),
            _ => None,
        });
        let at = last_write + retry.unwrap_or(sse_model::DEFAULT_RECONNECTION_TIME);
        golden.push(
            at,
            stream_request(target, (!last_event_id.is_empty()).then_some(last_event_id)),
        );
        duration = at + QUIET;
        checks.push("REQ-LAST-EVENT-ID".to_owned());
    }
    responses.push(ScriptedResponse {
        status: 204,
        headers: Some(Vec::new()),
        body: Vec::new(),
        end: End::Close,
        head_wait_ms: None,
    });
    checks.push("CONN-END-OF-BODY".to_owned());
    (duration, checks)
}

/// What a stream case checks: the fixture's rules and those its lines exercise (judgeable on a
/// client, and binding one), chunking when it is split, what its end checks, announcing; each
/// once, in that order.
fn case_checks(
    source: &StreamSource,
    delivery: Delivery,
    requirements: &[Requirement],
    ending: Vec<String>,
) -> Vec<String> {
    let binds_client = |id: &str| requirements.iter().any(|r| r.id == id && r.binds_client());
    let mut all: Vec<String> = source
        .fixture_checks
        .iter()
        .map(String::as_str)
        .chain(source.exercised())
        .chain(match delivery {
            Delivery::Whole => None,
            Delivery::Bytes | Delivery::Splits => Some("PARSE-CHUNKING"),
        })
        .filter(|id| judgeable(id) && binds_client(id))
        .map(str::to_owned)
        .collect();
    all.extend(ending);
    all.push("CONN-ANNOUNCE".to_owned());
    let mut checks = Vec::new();
    for id in all {
        if !checks.contains(&id) {
            checks.push(id);
        }
    }
    checks
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
