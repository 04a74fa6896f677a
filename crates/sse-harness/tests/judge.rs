//! The judge on real runs of the model, altered the way a faulty client would behave: each
//! alteration must turn the verdict into the right outcome naming the right requirement, and
//! the unaltered run must pass. (The catalogue test shows the model passes; this shows the judge
//! can fail.)

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{catalogue, model_run, verdict, verdict_with};
use rstest::rstest;
use sse_harness::client::{Capabilities, Capability, MessageEvent, PageEvent, ReadyState};
use sse_harness::judge::{Context, Outcome, Timing, Verdict};
use sse_harness::run::Run;
use sse_harness::{Expectation, ModelClient, Seen};

/// The finding with this requirement id, or a panic that shows the verdict.
fn finding(v: &Verdict, id: &str) -> Outcome {
    v.findings
        .iter()
        .find(|f| f.requirements.iter().any(|r| r == id))
        .map(|f| f.outcome)
        .unwrap_or_else(|| panic!("no finding names {id}: {v:#?}"))
}

fn shift_request(run: &mut Run, index: usize, by: Duration, earlier: bool) {
    let r = &mut run.requests[index];
    r.at = if earlier { r.at - by } else { r.at + by };
}

#[rstest]
#[case("announce-open-dispatch")]
#[case("retry-sets-reconnection-time")]
#[case("last-event-id-persists-across-connections")]
#[case("status-204-fails")]
#[case("demo-resumes-after-server-restart")]
fn the_model_as_it_ran_passes(#[case] case: &str) {
    let v = verdict(case, &model_run(case));
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    assert!(v.divergence.is_none());
}

// spec: RECONNECT-WAIT
#[test]
fn reconnecting_before_the_retry_time_fails() {
    let mut run = model_run("retry-sets-reconnection-time");
    // The model waited 250 ms (retry: 250); arrive 100 ms early.
    shift_request(&mut run, 1, Duration::from_millis(100), true);
    let v = verdict("retry-sets-reconnection-time", &run);
    assert_eq!(v.outcome, Outcome::Fail);
    assert_eq!(finding(&v, "RECONNECT-WAIT"), Outcome::Fail);
}

#[test]
fn waiting_longer_after_an_open_connection_is_non_strict() {
    let mut run = model_run("retry-sets-reconnection-time");
    shift_request(&mut run, 1, Duration::from_millis(900), false);
    // What followed the late request comes late too.
    for o in run.observed.iter_mut().skip(3) {
        o.at += Duration::from_millis(900);
    }
    let v = verdict("retry-sets-reconnection-time", &run);
    assert_eq!(v.outcome, Outcome::NonStrict, "{v:#?}");
    assert_eq!(finding(&v, "RECONNECT-EXTRA-WAIT"), Outcome::NonStrict);
}

#[test]
fn a_different_initial_reconnection_time_is_informational() {
    let mut run = model_run("initial-reconnection-time");
    // A client whose own default is 1 s instead of the model's 3 s.
    shift_request(&mut run, 1, Duration::from_secs(2), true);
    for o in run.observed.iter_mut().skip(3) {
        o.at -= Duration::from_secs(2);
    }
    let v = verdict("initial-reconnection-time", &run);
    assert_eq!(v.outcome, Outcome::Informational, "{v:#?}");
    assert_eq!(
        finding(&v, "RECONNECT-TIME-INITIAL"),
        Outcome::Informational
    );
}

// spec: REQ-LAST-EVENT-ID
#[test]
fn a_reconnection_without_last_event_id_fails() {
    let mut run = model_run("last-event-id-persists-across-connections");
    run.requests[1]
        .headers
        .retain(|(n, _)| n != "last-event-id");
    let v = verdict("last-event-id-persists-across-connections", &run);
    assert_eq!(v.outcome, Outcome::Fail);
    assert_eq!(finding(&v, "REQ-LAST-EVENT-ID"), Outcome::Fail);
    let d = v.divergence.expect("divergence");
    assert_eq!(
        d.expected_line,
        Some(4),
        "the second request line of the golden trace"
    );
    assert!(d.observed.contains("last-event-id=-"), "{}", d.observed);
}

// spec: REQ-LAST-EVENT-ID-ABSENT
#[test]
fn a_first_request_with_last_event_id_fails() {
    let mut run = model_run("announce-open-dispatch");
    run.requests[0]
        .headers
        .push(("last-event-id".into(), "7".into()));
    let v = verdict("announce-open-dispatch", &run);
    assert_eq!(finding(&v, "REQ-LAST-EVENT-ID-ABSENT"), Outcome::Fail);
}

// spec: REQ-NO-CACHE REQ-ACCEPT
#[test]
fn request_headers_are_judged_by_their_own_requirement() {
    let case = "request-headers-every-request";
    for i in 0..3 {
        let mut run = model_run(case);
        run.requests[i]
            .headers
            .retain(|(n, _)| n != "cache-control" && n != "accept");
        let v = verdict(case, &run);
        assert_eq!(finding(&v, "REQ-NO-CACHE"), Outcome::Fail, "request {i}");
        // Accept is recommended, not required: its level in the catalogue decides.
        let accept = catalogue().level("REQ-ACCEPT");
        assert_eq!(
            finding(&v, "REQ-ACCEPT"),
            Outcome::of_level(accept),
            "{v:#?}"
        );
        assert!(v.divergence.is_none(), "headers do not change the sequence");
    }
}

#[test]
fn request_headers_are_not_judged_in_cases_about_something_else() {
    // A client that never sends Cache-Control fails the cases about it, not every case it runs.
    let mut run = model_run("retry-sets-reconnection-time");
    for r in &mut run.requests {
        r.headers
            .retain(|(n, _)| n != "cache-control" && n != "accept");
    }
    let v = verdict("retry-sets-reconnection-time", &run);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
}

// spec: FAIL-NO-RECONNECT
#[test]
fn reconnecting_after_a_204_fails() {
    let mut run = model_run("status-204-fails");
    let mut again = run.requests[0].clone();
    again.at += Duration::from_millis(500);
    run.requests.push(again);
    let v = verdict("status-204-fails", &run);
    assert_eq!(v.outcome, Outcome::Fail, "{v:#?}");
    assert!(v.findings[0].message.contains("unexpected request 2"));
}

#[test]
fn an_extra_request_after_the_quiet_time_is_not_the_case_s_business() {
    let mut run = model_run("announce-open-dispatch");
    let mut later = run.requests[0].clone();
    later.at += Duration::from_secs(60);
    run.requests.push(later);
    assert_eq!(
        verdict("announce-open-dispatch", &run).outcome,
        Outcome::Pass
    );
}

// spec: FAIL-NO-RECONNECT
#[test]
fn after_giving_up_nothing_may_follow_however_late() {
    // A browser's default reconnection time is a few seconds: a reconnection after a 204 that
    // comes then must still fail.
    for late in [5, 60] {
        let mut run = model_run("status-204-fails");
        let mut again = run.requests[0].clone();
        again.at += Duration::from_secs(late);
        run.requests.push(again);
        assert_eq!(
            verdict("status-204-fails", &run).outcome,
            Outcome::Fail,
            "{late} s"
        );
    }
}

#[test]
fn the_next_attempt_after_a_last_error_is_no_extra() {
    // The case ends waiting to reconnect; a client with a shorter initial reconnection time
    // than the model's makes its next attempt inside the case's run.
    let mut run = model_run("redirect-loop-is-a-network-error");
    let mut next = run.requests[0].clone();
    next.at += Duration::from_millis(300);
    run.requests.push(next);
    let v = verdict("redirect-loop-is-a-network-error", &run);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
}

// spec: CONN-FUTILE
#[test]
fn giving_up_after_a_network_error_is_non_strict() {
    let mut run = model_run("connection-refused-reconnects");
    // The client fails the connection at its first refused attempt and stops.
    let first_error = run
        .observed
        .iter()
        .position(|o| matches!(o.what, Seen::Page(PageEvent::Error { .. })))
        .expect("an error");
    give_up_at(&mut run, first_error);
    let v = verdict("connection-refused-reconnects", &run);
    assert_eq!(v.outcome, Outcome::NonStrict, "{v:#?}");
    assert_eq!(finding(&v, "CONN-FUTILE"), Outcome::NonStrict);
    // Giving up where the model fails for a status is no such reading: it is CLOSED there too,
    // and an error CLOSED where the model opens is a plain failure.
    let mut run = model_run("announce-open-dispatch");
    run.observed.truncate(0);
    run.observed.push(sse_harness::Observed {
        at: Duration::from_millis(3),
        what: Seen::Page(PageEvent::Error {
            ready_state: Some(ReadyState::Closed),
            message: None,
        }),
    });
    assert_eq!(
        verdict("announce-open-dispatch", &run).outcome,
        Outcome::Fail
    );
}

// spec: CONN-ANNOUNCE
#[test]
fn a_missing_open_fails_unless_the_client_cannot_report_it() {
    let mut run = model_run("announce-open-dispatch");
    run.observed
        .retain(|o| o.what != Seen::Page(PageEvent::Open));
    let v = verdict("announce-open-dispatch", &run);
    assert_eq!(v.outcome, Outcome::Fail);
    assert_eq!(v.divergence.expect("divergence").expected_line, Some(1));
    let without_open: Capabilities = Capability::everything()
        .into_iter()
        .filter(|c| *c != Capability::OpenEvent)
        .collect();
    let v = verdict_with("announce-open-dispatch", &run, &without_open);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
}

#[test]
fn a_wrong_event_fails_at_its_line() {
    let mut run = model_run("announce-open-dispatch");
    for o in &mut run.observed {
        if let Seen::Page(PageEvent::Message(MessageEvent { data, .. })) = &mut o.what {
            if data == "second" {
                *data = "2nd".into();
            }
        }
    }
    let v = verdict("announce-open-dispatch", &run);
    assert_eq!(v.outcome, Outcome::Fail);
    let d = v.divergence.expect("divergence");
    assert_eq!(d.expected_line, Some(3));
    assert!(d.observed.contains("data=\"2nd\""), "{}", d.observed);
}

// spec: FAIL-CLOSED
#[test]
fn the_ready_state_of_an_error_counts_when_the_client_reports_it() {
    let mut run = model_run("status-204-fails");
    for o in &mut run.observed {
        if let Seen::Page(PageEvent::Error { ready_state, .. }) = &mut o.what {
            *ready_state = Some(ReadyState::Connecting);
        }
    }
    assert_eq!(verdict("status-204-fails", &run).outcome, Outcome::Fail);
    let without_state: Capabilities = Capability::everything()
        .into_iter()
        .filter(|c| *c != Capability::ReadyState)
        .collect();
    assert_eq!(
        verdict_with("status-204-fails", &run, &without_state).outcome,
        Outcome::Pass
    );
}

#[test]
fn nothing_observed_fails_with_the_first_expected_line() {
    let mut run = model_run("announce-open-dispatch");
    run.observed.clear();
    run.requests.clear();
    let v = verdict("announce-open-dispatch", &run);
    assert_eq!(v.outcome, Outcome::Fail);
    assert_eq!(v.divergence.expect("divergence").expected_line, Some(0));
}

// spec: DISPATCH-ORIGIN
#[test]
fn a_wrong_origin_fails() {
    let mut run = model_run("announce-open-dispatch");
    for o in &mut run.observed {
        if let Seen::Page(PageEvent::Message(MessageEvent { origin, .. })) = &mut o.what {
            *origin = Some("http://elsewhere".into());
        }
    }
    let v = verdict("announce-open-dispatch", &run);
    assert_eq!(finding(&v, "DISPATCH-ORIGIN"), Outcome::Fail);
}

/// A client that can do nothing the harness asks beyond opening (and never opens anything).
struct Bare;

impl sse_harness::Client for Bare {
    fn identity(&self) -> sse_harness::Identity {
        sse_harness::Identity {
            name: "bare".into(),
            version: "0".into(),
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new()
    }

    fn open(
        &self,
        _request: sse_harness::OpenRequest,
        _observer: sse_harness::Observer,
    ) -> futures::future::BoxFuture<
        'static,
        Result<Box<dyn sse_harness::Session>, sse_harness::ClientError>,
    > {
        Box::pin(async { Err(sse_harness::ClientError::Failed("cannot".into())) })
    }
}

#[test]
fn a_case_needing_a_missing_capability_is_unsupported_never_a_failure() {
    use sse_harness::run::{Transport, execute};
    let case = catalogue().case("close-while-open").expect("case");
    let result = execute(catalogue(), Arc::new(Bare), case, Transport::Loopback);
    assert_eq!(result.verdict.outcome, Outcome::Unsupported);
    assert!(
        result.verdict.summary().contains("needs close"),
        "{}",
        result.verdict.summary()
    );
    // In the simulator it also needs the harness's network.
    let result = execute(catalogue(), Arc::new(Bare), case, Transport::Simulated);
    assert!(result.verdict.summary().contains("simulated"));
    // A case it could run, but a client that cannot open fails with the reason.
    let case = catalogue().case("announce-open-dispatch").expect("case");
    let result = execute(catalogue(), Arc::new(Bare), case, Transport::Loopback);
    assert_eq!(result.verdict.outcome, Outcome::Fail);
    assert!(
        result.verdict.summary().contains("cannot"),
        "{}",
        result.verdict.summary()
    );
}

/// The verdict against every reading the case has, as `execute` judges.
fn verdict_any_reading(case: &str, run: &Run) -> Verdict {
    let case = catalogue().case(case).expect("case exists");
    let expectations = Expectation::readings(case).expect("golden traces");
    sse_harness::judge::judge_readings(
        case,
        &expectations,
        run,
        Context {
            catalogue: catalogue(),
            capabilities: &Capability::everything(),
            timing: Timing::SIMULATED,
            origins: &sse_harness::run::Origins::simulated(),
        },
    )
}

// spec: CONN-REDIRECT-RECONNECT-URL
#[test]
fn reconnecting_where_a_redirect_led_is_one_reading_of_an_ambiguous_text() {
    use sse_harness::reading::Reading;
    let case = "redirect-chain-reconnects-to-original";
    let mut run = model_run(case);
    assert_eq!(run.requests.len(), 5, "{:#?}", run.requests);
    run.requests[3].target = format!("/cases/{case}?hop=2");
    let literal = verdict(case, &run);
    assert_eq!(literal.outcome, Outcome::Fail, "the literal reading alone");
    let v = verdict_any_reading(case, &run);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    assert_eq!(v.readings, [Reading::ReconnectToRedirectTarget]);
    // Reconnecting anywhere else is a plain divergence under every reading.
    run.requests[3].target = "/elsewhere".into();
    assert_eq!(verdict_any_reading(case, &run).outcome, Outcome::Fail);
}

// spec: DISPATCH-ID-BUFFER-PER-STREAM
#[test]
fn keeping_the_last_event_id_across_streams_is_one_reading_of_an_ambiguous_text() {
    use sse_harness::reading::Reading;
    let case = "id-buffer-starts-empty-per-stream";
    let mut run = model_run(case);
    // As browsers do: the event without id on the new stream keeps id 5, and so does the
    // next request.
    for o in &mut run.observed {
        if let Seen::Page(PageEvent::Message(MessageEvent {
            data,
            last_event_id,
            ..
        })) = &mut o.what
        {
            if data == "b" {
                *last_event_id = "5".into();
            }
        }
    }
    let last = run.requests.len() - 1;
    run.requests[last]
        .headers
        .push(("last-event-id".into(), "5".into()));
    assert_eq!(verdict(case, &run).outcome, Outcome::Fail);
    let v = verdict_any_reading(case, &run);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    assert_eq!(v.readings, [Reading::KeepLastEventId]);
    // The literal reading still passes the model itself.
    let v = verdict_any_reading(case, &model_run(case));
    assert_eq!((v.outcome, v.readings.len()), (Outcome::Pass, 0));
}

fn first_error_at(run: &Run) -> Duration {
    run.observed
        .iter()
        .find(|o| matches!(o.what, Seen::Page(PageEvent::Error { .. })))
        .expect("an error")
        .at
}

// spec: RECONNECT-WAIT
#[test]
fn attempts_a_down_server_refuses_keep_the_wait_rule() {
    let case = "demo-resumes-after-server-restart";
    let mut run = model_run(case);
    let crash = first_error_at(&run);
    // Another attempt 5 ms after the cut, before the 200 ms the stream's retry field set.
    run.connections.push(crash + Duration::from_millis(5));
    run.connections.sort();
    let v = verdict(case, &run);
    assert_eq!(finding(&v, "RECONNECT-WAIT"), Outcome::Fail, "{v:#?}");
}

// spec: CONN-NETWORK-ERROR
#[test]
fn a_client_that_stops_trying_after_a_network_error_fails() {
    let case = "connection-refused-reconnects";
    let mut run = model_run(case);
    let refused = first_error_at(&run);
    // It says CONNECTING, and then never tries again.
    run.observed.retain(|o| o.at <= refused);
    run.connections.retain(|c| *c <= refused);
    // Judged runs go on past the case (as `execute` runs them) to see whether it comes back.
    run.ended += sse_harness::run::SIMULATED_EXTRA;
    let v = verdict(case, &run);
    assert_eq!(finding(&v, "CONN-NETWORK-ERROR"), Outcome::Fail, "{v:#?}");
    // The model itself, trying again every 500 ms, passes.
    assert_eq!(verdict(case, &model_run(case)).outcome, Outcome::Pass);
}

/// A client whose `open` panics.
struct Panicky;

impl sse_harness::Client for Panicky {
    fn identity(&self) -> sse_harness::Identity {
        sse_harness::Identity {
            name: "panicky".into(),
            version: "0".into(),
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capability::everything()
    }

    fn open(
        &self,
        _request: sse_harness::OpenRequest,
        _observer: sse_harness::Observer,
    ) -> futures::future::BoxFuture<
        'static,
        Result<Box<dyn sse_harness::Session>, sse_harness::ClientError>,
    > {
        Box::pin(async { panic!("boom in the client") })
    }
}

#[test]
fn a_client_that_panics_fails_its_case_and_the_run_goes_on() {
    use sse_harness::run::{Transport, execute};
    let case = catalogue().case("announce-open-dispatch").expect("case");
    for transport in [Transport::Loopback, Transport::Simulated] {
        let result = execute(catalogue(), Arc::new(Panicky), case, transport);
        assert_eq!(result.verdict.outcome, Outcome::Fail, "{transport:?}");
        assert!(
            result.verdict.summary().contains("boom in the client"),
            "{transport:?}: {}",
            result.verdict.summary()
        );
    }
}

fn set_origin_header(run: &mut Run, index: usize, value: Option<&str>) {
    let headers = &mut run.requests[index].headers;
    headers.retain(|(n, _)| n != "origin");
    if let Some(v) = value {
        headers.push(("origin".to_owned(), v.to_owned()));
    }
}

// spec: REQ-CORS-REDIRECT
#[rstest]
// Keeping the page's origin after a tainting redirect.
#[case(
    "cors-redirect-taints-origin-null",
    1,
    Some("http://page"),
    "REQ-CORS-REDIRECT",
    Outcome::Fail
)]
// None on the CORS request after the redirect.
#[case("cors-redirect-to-other-origin", 1, None, "REQ-CORS", Outcome::Fail)]
// An Origin on a same-origin request: not called for, harmless.
#[case(
    "cors-redirect-to-other-origin",
    0,
    Some("http://proxy"),
    "REQ-CORS",
    Outcome::NonStrict
)]
fn a_wrong_origin_header_is_found(
    #[case] case: &str,
    #[case] index: usize,
    #[case] origin: Option<&str>,
    #[case] id: &str,
    #[case] outcome: Outcome,
) {
    let mut run = model_run(case);
    set_origin_header(&mut run, index, origin);
    let v = verdict(case, &run);
    assert_eq!(finding(&v, id), outcome, "{v:#?}");
    assert_eq!(v.outcome, outcome);
    // A client without the `cors` capability sends no Origin at all and is not held to it.
    let mut caps: Capabilities = Capability::everything();
    caps.remove(&Capability::Cors);
    let v = verdict_with(case, &run, &caps);
    assert!(
        v.findings
            .iter()
            .all(|f| !f.requirements.iter().any(|r| r == id)),
        "{v:#?}"
    );
}

// spec: DISPATCH-ORIGIN
#[test]
fn an_event_reporting_the_first_origin_after_a_cross_origin_redirect_fails() {
    let case = "cors-redirect-to-other-origin";
    let mut run = model_run(case);
    for o in &mut run.observed {
        if let Seen::Page(PageEvent::Message(MessageEvent { origin, .. })) = &mut o.what {
            *origin = Some(sse_sim::CLIENT_BASE_URL.to_owned());
            break;
        }
    }
    let v = verdict(case, &run);
    assert_eq!(finding(&v, "DISPATCH-ORIGIN"), Outcome::Fail, "{v:#?}");
}

// spec: REQ-LAST-EVENT-ID-PREFLIGHT
#[test]
fn a_preflight_before_an_unsafe_last_event_id_is_informational() {
    let case = "cors-unsafe-last-event-id";
    let mut run = model_run(case);
    let get = run.requests[1].clone();
    run.requests.insert(
        1,
        sse_server::ReceivedRequest {
            method: "OPTIONS".to_owned(),
            headers: vec![
                ("origin".to_owned(), "http://page".to_owned()),
                (
                    "access-control-request-headers".to_owned(),
                    "last-event-id".to_owned(),
                ),
            ],
            ..get
        },
    );
    let v = verdict(case, &run);
    assert_eq!(v.outcome, Outcome::Informational, "{v:#?}");
    assert_eq!(
        finding(&v, "REQ-LAST-EVENT-ID-PREFLIGHT"),
        Outcome::Informational
    );
    assert!(v.divergence.is_none());
}

// spec: CONN-ANNOUNCE
#[test]
fn a_missing_open_breaks_announcing_not_what_the_case_is_about() {
    // Firefox announces a connection only once body bytes arrive: a response that sends none
    // misses its `open`, whatever the case checks.
    let mut run = model_run("retry-sets-reconnection-time");
    let last_open = run
        .observed
        .iter()
        .rposition(|o| matches!(o.what, sse_harness::Seen::Page(PageEvent::Open)))
        .expect("the model opens");
    run.observed.remove(last_open);
    let v = verdict("retry-sets-reconnection-time", &run);
    assert_eq!(v.outcome, Outcome::Fail, "{v:#?}");
    assert_eq!(v.findings[0].requirements, ["CONN-ANNOUNCE"], "{v:#?}");
}

/// `close-while-open` as a client in another process runs it: it takes `close` at `taken_ms`
/// instead of the 250 ms the harness gave it at (stamped on its own clock when `own_clock`),
/// and dispatches one more message at `extra_ms`.
fn close_taken_late(taken_ms: u64, extra_ms: u64, own_clock: bool) -> Run {
    let mut run = model_run("close-while-open");
    let close = run
        .observed
        .iter()
        .position(|o| matches!(o.what, Seen::Command { .. }))
        .expect("the run has its close");
    let mut command = run.observed.remove(close);
    command.at = Duration::from_millis(taken_ms);
    if let Seen::Command { own_clock: own, .. } = &mut command.what {
        *own = own_clock;
    }
    let last = run
        .observed
        .iter()
        .rev()
        .find(|o| matches!(o.what, Seen::Page(PageEvent::Message(MessageEvent { .. }))))
        .expect("messages")
        .clone();
    let mut extra = last;
    extra.at = Duration::from_millis(extra_ms);
    if let Seen::Page(PageEvent::Message(MessageEvent { last_event_id, .. })) = &mut extra.what {
        *last_event_id = "4".into();
    }
    run.observed.push(extra);
    run.observed.push(command);
    run.observed.sort_by_key(|o| o.at);
    run
}

// spec: CLOSE-ABORTS
#[rstest]
// Dispatched after the harness gave close and before the client took it: the client was open.
#[case(350, 300, true, Outcome::Pass)]
// Dispatched after the client took close: the must broke.
#[case(350, 400, true, Outcome::Fail)]
// Before the harness gave close, a message the model did not dispatch is not excused.
#[case(350, 220, true, Outcome::Fail)]
// A close stamped when the runner heard back (a test service) may come after the library's own
// close: a message before it is not excused.
#[case(350, 300, false, Outcome::Fail)]
fn messages_until_a_client_takes_close_late_are_its_own(
    #[case] taken_ms: u64,
    #[case] extra_ms: u64,
    #[case] own_clock: bool,
    #[case] want: Outcome,
) {
    let run = close_taken_late(taken_ms, extra_ms, own_clock);
    let v = verdict("close-while-open", &run);
    assert_eq!(v.outcome, want, "{v:#?}");
}

// spec: DISPATCH-NOT-WHEN-CLOSED CLOSE-NO-EVENT
#[test]
fn events_queued_behind_a_close_in_a_handler_must_not_come() {
    let case = "close-in-handler-drops-queued-events";
    let mut run = model_run(case);
    assert_eq!(verdict(case, &run).outcome, Outcome::Pass);
    // A client that dispatched what it had parsed before the close took effect.
    let at = run.observed.last().map_or(Duration::ZERO, |o| o.at);
    for data in ["2", "3"] {
        run.observed.push(sse_harness::Observed {
            at,
            what: Seen::Page(PageEvent::Message(MessageEvent {
                event_type: "message".into(),
                data: data.into(),
                last_event_id: String::new(),
                origin: None,
            })),
        });
    }
    let v = verdict(case, &run);
    assert_eq!(v.outcome, Outcome::Fail, "{v:#?}");
    assert_eq!(finding(&v, "DISPATCH-NOT-WHEN-CLOSED"), Outcome::Fail);
}

// Retry values that common number parsers take (+5, 5e1, " 50", octal 0300), judged by the
// wait they cause: a client that took one reconnects before the reconnection time in force.
// spec: FIELD-RETRY-INVALID FIELD-RETRY RECONNECT-WAIT
#[rstest]
#[case("retry-plus-sign-ignored", 995)]
#[case("retry-exponent-ignored", 950)]
#[case("retry-leading-spaces-ignored", 950)]
#[case("retry-leading-zero-is-decimal", 108)]
fn a_retry_value_taken_the_way_a_number_parser_would_reconnects_too_early(
    #[case] case: &str,
    #[case] earlier_ms: u64,
) {
    let mut run = model_run(case);
    assert_eq!(verdict(case, &run).outcome, Outcome::Pass);
    shift_request(&mut run, 1, Duration::from_millis(earlier_ms), true);
    for o in run.observed.iter_mut().skip(3) {
        o.at -= Duration::from_millis(earlier_ms);
    }
    let v = verdict(case, &run);
    assert_eq!(v.outcome, Outcome::Fail, "{v:#?}");
    assert_eq!(finding(&v, "RECONNECT-WAIT"), Outcome::Fail);
}

// spec: PARSE-LONG-LINE
#[test]
fn a_client_that_cuts_a_long_line_fails() {
    let case = "large-message-6-7-mb";
    let mut run = model_run(case);
    assert_eq!(verdict(case, &run).outcome, Outcome::Pass);
    // A client with a 1 MiB line limit that keeps what it had.
    for o in &mut run.observed {
        if let Seen::Page(PageEvent::Message(MessageEvent { data, .. })) = &mut o.what {
            data.truncate(1 << 20);
        }
    }
    let v = verdict(case, &run);
    assert_eq!(v.outcome, Outcome::Fail, "{v:#?}");
    assert_eq!(finding(&v, "PARSE-LONG-LINE"), Outcome::Fail);
    // The finding stays short: a run of one character is written with its count.
    assert!(
        v.findings[0].message.len() < 400,
        "{}",
        v.findings[0].message
    );
}

/// Makes the observation at `error` (an `error`) the client's last, reported as CLOSED: the
/// client gave up there.
fn give_up_at(run: &mut Run, error: usize) {
    run.observed.truncate(error + 1);
    match &mut run.observed[error].what {
        Seen::Page(PageEvent::Error { ready_state, .. }) => *ready_state = Some(ReadyState::Closed),
        other => panic!("observation {error} is {other:?}, not an error"),
    }
}

/// The model's run of a case with its last `error` reported as CLOSED (a client that gives up
/// at the end of the body: a parser over one response).
fn gives_up_at_the_end(case: &str) -> Run {
    let mut run = model_run(case);
    let last = run
        .observed
        .iter()
        .rposition(|o| matches!(o.what, Seen::Page(PageEvent::Error { .. })))
        .expect("an error");
    give_up_at(&mut run, last);
    run.requests.retain(|r| r.at <= run.observed[last].at);
    run
}

// A client whose one deviation is the end of the body is blamed for that alone, whatever the
// case is about: not for the chunking or prompt dispatch it kept.
// spec: CONN-END-OF-BODY
#[rstest]
#[case("gzip-without-flush-delays")]
#[case("partition-delays-without-loss")]
#[case("end-of-body-reconnects")]
fn a_client_that_only_fails_at_the_end_of_the_body_is_blamed_for_that(#[case] case: &str) {
    let v = verdict(case, &gives_up_at_the_end(case));
    assert_eq!(v.outcome, Outcome::Fail, "{v:#?}");
    for f in &v.findings {
        assert_eq!(f.requirements, ["CONN-END-OF-BODY"], "{case}: {v:#?}");
    }
}

// Identical runs of a client that never reconnects get the same verdict, whatever the case's
// requirement list: the retry rule it never reached is not what broke.
#[test]
fn the_level_comes_from_what_broke_not_from_the_case_list() {
    let invalid = verdict(
        "retry-invalid-ignored",
        &gives_up_at_the_end("retry-invalid-ignored"),
    );
    let empty = verdict(
        "retry-empty-ignored",
        &gives_up_at_the_end("retry-empty-ignored"),
    );
    assert_eq!(invalid.outcome, empty.outcome, "{invalid:#?} {empty:#?}");
    assert_eq!(invalid.outcome, Outcome::Fail);
    for v in [&invalid, &empty] {
        assert!(
            v.findings
                .iter()
                .all(|f| f.requirements == ["CONN-END-OF-BODY"]),
            "{v:#?}"
        );
    }
}

// A client that fires `open` for a 204 and then fails the connection broke announcing only:
// it kept failing, and never reconnected.
// spec: CONN-ANNOUNCE
#[test]
fn an_open_before_a_failure_is_blamed_on_announcing_alone() {
    let case = "status-204-fails";
    let mut run = model_run(case);
    let at = run.observed[0].at;
    run.observed.insert(
        0,
        sse_harness::Observed {
            at,
            what: Seen::Page(PageEvent::Open),
        },
    );
    let v = verdict(case, &run);
    assert_eq!(v.outcome, Outcome::Fail, "{v:#?}");
    assert_eq!(v.findings.len(), 1, "{v:#?}");
    assert_eq!(v.findings[0].requirements, ["CONN-ANNOUNCE"]);
}

// An implementation-defined requirement is never a failure, even when a finding names it with
// a must (the finding's grade is the must's; the matrix cell of the choice is not FAIL).
// spec: REQ-ACCEPT
#[test]
fn an_implementation_defined_row_never_reads_fail() {
    let case = "request-headers-every-request";
    let mut run = model_run(case);
    for r in &mut run.requests {
        r.headers.retain(|(n, _)| n != "accept");
    }
    let v = verdict(case, &run);
    assert_ne!(v.outcome, Outcome::Fail, "{v:#?}");
    assert!(
        v.findings
            .iter()
            .filter(|f| f.requirements.iter().any(|r| r == "REQ-ACCEPT"))
            .all(|f| f.outcome != Outcome::Fail),
        "{v:#?}"
    );
    let report = sse_harness::report::CaseReport {
        case: case.into(),
        about: String::new(),
        requirements: vec!["REQ-ACCEPT".into(), "REQ-NO-CACHE".into()],
        verdict: Outcome::Fail,
        detail: String::new(),
        findings: vec![sse_harness::judge::Finding {
            outcome: Outcome::Fail,
            requirements: vec!["REQ-NO-CACHE".into(), "REQ-ACCEPT".into()],
            at: None,
            message: "both".into(),
        }],
        divergence: None,
        expected: Vec::new(),
        observed: Vec::new(),
        wall_ms: 0,
        readings: Vec::new(),
        known: None,
    };
    let column = sse_harness::report::ImplementationReport::new(
        &sse_harness::Identity {
            name: "x".into(),
            version: "1".into(),
        },
        sse_harness::run::Transport::Loopback,
        Vec::new(),
        vec![report],
        Duration::ZERO,
    );
    let report = sse_harness::report::RunReport::new(catalogue(), vec![column]);
    let imp = &report.implementations[0];
    assert_eq!(
        report.cell("REQ-NO-CACHE", imp).outcome,
        Some(Outcome::Fail)
    );
    assert_eq!(
        report.cell("REQ-ACCEPT", imp).outcome,
        Some(Outcome::NonStrict)
    );
}

/// The model's run of a case following readings of ambiguous texts.
fn model_run_reading(case: &str, readings: &[sse_harness::reading::Reading]) -> Run {
    let case = catalogue().case(case).expect("case exists");
    let mut model = ModelClient::default();
    for r in readings {
        model = model.reading(*r);
    }
    sse_harness::run::simulated(Arc::new(model), case, case.seed, Duration::ZERO).expect("runs")
}

// After a CORS failure the text reestablishes by default and lets a client that knows it
// futile fail: a client that reconnects passes (reading cors-failure-reestablishes), as does
// one that fails.
// spec: CONN-FUTILE REQ-CORS
#[rstest]
#[case("cors-refused-origin")]
#[case("cors-empty-allow-origin-fails")]
#[case("cors-credentials-need-listed-origin")]
#[case("cors-redirect-response-needs-allow-origin")]
#[case("cors-reconnect-rechecks-allow-origin")]
fn a_client_that_reconnects_after_a_cors_failure_passes(#[case] case: &str) {
    use sse_harness::reading::Reading;
    let fails = verdict_any_reading(case, &model_run(case));
    assert_eq!(fails.outcome, Outcome::Pass, "{fails:#?}");
    let run = model_run_reading(case, &[Reading::CorsFailureReestablishes]);
    let literal = verdict(case, &run);
    assert_ne!(literal.outcome, Outcome::Pass, "the failing reading alone");
    let v = verdict_any_reading(case, &run);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    assert_eq!(v.readings, [Reading::CorsFailureReestablishes]);
}

// The charset is no reason to fail: the body is UTF-8 whatever it says. A client that fails
// the connection for it (Chromium) fails the case, on the essence rule.
// spec: CONN-CONTENT-TYPE-PARAMS
#[rstest]
#[case("content-type-bogus-charset")]
#[case("content-type-windows-1252-decoded-as-utf8")]
fn failing_the_connection_for_its_charset_fails(#[case] case: &str) {
    let mut run = model_run(case);
    run.observed.retain(|o| {
        !matches!(
            o.what,
            Seen::Page(PageEvent::Open) | Seen::Page(PageEvent::Message(MessageEvent { .. }))
        )
    });
    run.observed.insert(
        0,
        sse_harness::Observed {
            at: Duration::from_millis(3),
            what: Seen::Page(PageEvent::Error {
                ready_state: Some(ReadyState::Closed),
                message: None,
            }),
        },
    );
    run.requests.truncate(1);
    let v = verdict_any_reading(case, &run);
    assert_eq!(v.outcome, Outcome::Fail, "{v:#?}");
    // The refusal is the rule broken, not the decoding or the announcing it kept from happening.
    assert_eq!(
        v.findings[0].requirements,
        ["CONN-CONTENT-TYPE-PARAMS"],
        "{v:#?}"
    );
}

// A parser over one response (profile stream-parser) is judged on what it parses and dispatches:
// a case that reconnects is unsupported for it, and the end of the body is its own business.
// spec: CONN-END-OF-BODY
#[test]
fn a_stream_parser_is_not_judged_on_reconnecting() {
    let parser: Capabilities = Capability::everything()
        .into_iter()
        .chain([Capability::StreamParser])
        .collect();
    for case in ["gzip-without-flush-delays", "partition-delays-without-loss"] {
        let v = verdict_with(case, &gives_up_at_the_end(case), &parser);
        assert_eq!(v.outcome, Outcome::Pass, "{case}: {v:#?}");
        // ...and as a whole EventSource it fails for that.
        assert_eq!(
            verdict(case, &gives_up_at_the_end(case)).outcome,
            Outcome::Fail
        );
    }
    // Not even an error at the end is required of it.
    let case = "gzip-without-flush-delays";
    let mut run = gives_up_at_the_end(case);
    run.observed.pop();
    assert_eq!(verdict_with(case, &run, &parser).outcome, Outcome::Pass);
    // A case with a reconnection is unsupported, named as such.
    struct Parser;
    impl sse_harness::Client for Parser {
        fn identity(&self) -> sse_harness::Identity {
            sse_harness::Identity {
                name: "parser".into(),
                version: "1".into(),
            }
        }
        fn capabilities(&self) -> Capabilities {
            [Capability::StreamParser].into_iter().collect()
        }
        fn open(
            &self,
            _: sse_harness::OpenRequest,
            _: sse_harness::Observer,
        ) -> futures::future::BoxFuture<
            'static,
            Result<Box<dyn sse_harness::Session>, sse_harness::ClientError>,
        > {
            Box::pin(async { Err(sse_harness::ClientError::Failed("not here".into())) })
        }
    }
    let reconnecting = catalogue().case("end-of-body-reconnects").expect("case");
    let result = sse_harness::run::execute(
        catalogue(),
        Arc::new(Parser),
        reconnecting,
        sse_harness::run::Transport::Loopback,
    );
    assert_eq!(result.verdict.outcome, Outcome::Unsupported);
    assert!(
        result.verdict.summary().contains("reconnect"),
        "{}",
        result.verdict.summary()
    );
    let stream = catalogue()
        .case("stream/wpt-field-data@whole")
        .expect("stream case");
    assert!(sse_harness::run::check_capabilities(&Parser, stream, false).is_ok());
}

// Giving up after a network error is non-strict, and the reconnection it never made is not a
// failure on top of it.
// spec: CONN-FUTILE
#[test]
fn giving_up_is_not_also_a_missing_reconnection() {
    let case = "redirect-to-non-http-reconnects";
    let mut run = model_run(case);
    let first_error = run
        .observed
        .iter()
        .position(|o| matches!(o.what, Seen::Page(PageEvent::Error { .. })))
        .expect("an error");
    give_up_at(&mut run, first_error);
    run.requests.truncate(1);
    let v = verdict(case, &run);
    assert_eq!(v.outcome, Outcome::NonStrict, "{v:#?}");
    assert_eq!(v.findings.len(), 1, "{v:#?}");
}

#[test]
fn companion_streams_reach_the_server_and_stay_out_of_the_requests() {
    let run = model_run("seven-streams-one-origin");
    // Six companions and the case's own stream: seven connections, one request judged.
    assert_eq!(run.connections.len(), 7, "{:#?}", run.connections);
    assert_eq!(run.requests.len(), 1, "{:#?}", run.requests);
    assert!(
        run.requests[0]
            .target
            .starts_with("/cases/seven-streams-one-origin")
    );
}

#[test]
fn a_seventh_stream_held_back_is_the_implementations_choice() {
    let case = "seven-streams-one-origin";
    let mut run = model_run(case);
    // A browser: six connections to the origin, the seventh never sent, the page hears nothing.
    run.observed.clear();
    run.requests.clear();
    let v = verdict(case, &run);
    assert_eq!(v.outcome, Outcome::Informational, "{v:#?}");
    assert!(!v.findings.is_empty());
    for f in &v.findings {
        assert_eq!(f.requirements, ["IMPL-CONNECTIONS-PER-ORIGIN"], "{v:#?}");
    }
    // Without the case's `choice` the same run fails: the rule is what makes it informational.
    let mut plain = catalogue().case(case).expect("case").clone();
    plain.expect.choice = None;
    let expectation = Expectation::of(&plain).expect("golden trace");
    let v = sse_harness::judge::judge(
        &plain,
        &expectation,
        &run,
        Context {
            catalogue: catalogue(),
            capabilities: &Capability::everything(),
            timing: Timing::SIMULATED,
            origins: &sse_harness::run::Origins::simulated(),
        },
    );
    assert_eq!(v.outcome, Outcome::Fail, "{v:#?}");
}

// A URL Fetch cannot serve is a network error: reestablishing is the text's default, failing
// the "may" the model takes. A client that retries is informational, blamed on that choice.
// spec: CONN-FUTILE
#[rstest]
#[case("ctor-url-ftp-fails")]
#[case("ctor-url-about-fails")]
#[case("ctor-url-mailto-fails")]
#[case("ctor-url-javascript-fails")]
fn a_client_that_retries_a_futile_url_is_informational(#[case] case: &str) {
    let mut run = model_run(case);
    let error = run
        .observed
        .iter_mut()
        .find(|o| matches!(o.what, Seen::Page(PageEvent::Error { .. })))
        .expect("an error");
    error.what = Seen::Page(PageEvent::Error {
        ready_state: Some(ReadyState::Connecting),
        message: None,
    });
    let v = verdict(case, &run);
    assert_eq!(v.outcome, Outcome::Informational, "{v:#?}");
    for f in &v.findings {
        assert_eq!(f.requirements, ["CONN-FUTILE"], "{v:#?}");
    }
}

// A reconnection without the Last-Event-ID an id-only block set: nothing on the page showed the
// id, and the header is what the client held before that block, so the block's rule broke, not
// the header's. Where a message showed the id, the header is what broke (the test above).
// spec: DISPATCH-ID-WITHOUT-DATA REQ-LAST-EVENT-ID
#[test]
fn a_missed_id_only_block_is_blamed_on_the_block_not_the_header() {
    let case = "id-only-block-sets-the-header";
    let mut run = model_run(case);
    let n = run.requests.len();
    assert!(n >= 2, "{run:#?}");
    run.requests[1]
        .headers
        .retain(|(name, _)| name != "last-event-id");
    let v = verdict(case, &run);
    assert_eq!(v.outcome, Outcome::Fail, "{v:#?}");
    assert_eq!(finding(&v, "DISPATCH-ID-WITHOUT-DATA"), Outcome::Fail);
    assert!(
        v.findings
            .iter()
            .all(|f| !f.requirements.iter().any(|r| r == "REQ-LAST-EVENT-ID")),
        "{v:#?}"
    );
}
