//! The EventSource processing model, requirement by requirement: each table row drives the
//! sans-IO state machine with a script and asserts the exact sequence of outputs, timers included.

use std::fmt::Write as _;
use std::time::Duration;

use rstest::rstest;
use sse_model::{
    Backoff, Config, EventSource, Io, Limits, NetworkError, Output, PageEvent, Readings,
    ReadyState, Response, Trace,
};

/// One input to the model, or a check on it.
#[derive(Debug, Clone, Copy)]
enum S<'a> {
    /// A 200 `text/event-stream` response.
    Ok,
    /// A response with this status and these headers.
    Resp(u16, &'a [(&'a str, &'a str)]),
    /// Body bytes.
    Body(&'a [u8]),
    /// The body ended cleanly.
    End,
    /// A network error (not an abort).
    NetErr,
    /// The user agent aborted the fetch.
    UaAbort,
    /// The page calls close().
    Close,
    /// Time passes (milliseconds); due timers fire on the way, at their exact time.
    Wait(u64),
    /// readyState must be this now.
    State(ReadyState),
}

const EVENT_STREAM: &[(&str, &str)] = &[("content-type", "text/event-stream")];
/// An event stream any origin may read.
const CORS_STREAM: &[(&str, &str)] = &[
    ("content-type", "text/event-stream"),
    ("access-control-allow-origin", "*"),
];

/// Runs a script; returns the trace lines plus the driver-only outputs: aborts, and the timer
/// whenever polling leaves [`EventSource::poll_timeout`] at a new time.
fn run_with(config: Config, url: &str, script: &[S<'_>]) -> String {
    let mut es = EventSource::new(url, None, config).expect("valid URL");
    let mut now = Duration::ZERO;
    let mut out = String::new();
    let mut trace = Trace::new();
    let mut timer = None;
    let mut drain = |es: &mut EventSource, now: Duration, out: &mut String| {
        while let Some(output) = es.poll() {
            match &output {
                Output::Io(Io::Abort) => writeln!(out, "{:.3} abort", now.as_secs_f64()),
                _ => {
                    trace.record(now, &output);
                    let line = trace.lines.pop().expect("observable output");
                    writeln!(out, "{line}")
                }
            }
            .expect("write to String");
        }
        let due = es.poll_timeout();
        if let Some(at) = due.filter(|_| due != timer) {
            writeln!(
                out,
                "{:.3} timer    at={:.3}",
                now.as_secs_f64(),
                at.as_secs_f64()
            )
            .expect("write to String");
        }
        timer = due;
    };
    drain(&mut es, now, &mut out);
    for step in script {
        match *step {
            S::Ok => es.handle_response(now, &Response::new(200, EVENT_STREAM)),
            S::Resp(status, headers) => es.handle_response(now, &Response::new(status, headers)),
            S::Body(bytes) => es.handle_body(now, bytes),
            S::End => es.handle_end_of_body(now),
            S::NetErr => es.handle_network_error(now, NetworkError::Failed),
            S::UaAbort => es.handle_network_error(now, NetworkError::Aborted),
            S::Close => {
                es.close();
                writeln!(out, "{:.3} closed", now.as_secs_f64()).expect("write to String");
            }
            S::Wait(ms) => {
                let until = now + Duration::from_millis(ms);
                while let Some(at) = es.poll_timeout().filter(|at| *at <= until) {
                    now = at;
                    es.handle_timeout(now);
                    drain(&mut es, now, &mut out);
                }
                now = until;
            }
            S::State(expected) => assert_eq!(
                es.ready_state(),
                expected,
                "readyState before step; so far:\n{out}"
            ),
        }
        drain(&mut es, now, &mut out);
    }
    out
}

fn run(script: &[S<'_>]) -> String {
    run_with(Config::default(), "http://a.test/s", script)
}

fn fast() -> Config {
    Config {
        initial_reconnection_time: Duration::from_millis(100),
        ..Config::default()
    }
}

const REQ: &str = "0.000 request  GET /s  accept=text/event-stream  last-event-id=-\n";

// spec: READYSTATE-INITIAL CONN-ANNOUNCE
#[test]
fn announce_then_dispatch() {
    assert_eq!(
        run(&[
            S::State(ReadyState::Connecting),
            S::Ok,
            S::State(ReadyState::Open),
            S::Body(b"data: a\n\n")
        ]),
        format!("{REQ}0.000 open\n0.000 message  type=message  id=\"\"  data=\"a\"\n")
    );
}

// spec: CONN-CONTENT-TYPE CONN-CONTENT-TYPE-MISSING CONN-STATUS-NON-200 CONN-STATUS-204 FAIL-CLOSED FAIL-NO-RECONNECT
#[rstest]
#[case::text_plain(200, &[("content-type", "text/plain")])]
#[case::html(200, &[("content-type", "text/html; charset=utf-8")])]
#[case::missing(200, &[])]
#[case::unparsable(200, &[("content-type", "event-stream")])]
#[case::no_content(204, EVENT_STREAM)]
#[case::created(201, EVENT_STREAM)]
#[case::partial(206, EVENT_STREAM)]
#[case::not_modified(304, EVENT_STREAM)]
#[case::unauthorized(401, EVENT_STREAM)]
#[case::not_found(404, EVENT_STREAM)]
#[case::server_error(500, EVENT_STREAM)]
#[case::unavailable(503, &[("content-type", "text/event-stream"), ("retry-after", "1")])]
#[case::redirect_without_location(302, EVENT_STREAM)]
fn fail_the_connection(#[case] status: u16, #[case] headers: &[(&str, &str)]) {
    assert_eq!(
        run_with(
            fast(),
            "http://a.test/s",
            &[
                S::Resp(status, headers),
                S::State(ReadyState::Closed),
                S::Body(b"data: x\n\n"),
                S::End,
                S::Wait(60_000)
            ]
        ),
        format!("{REQ}0.000 error    state=CLOSED\n")
    );
}

// spec: CONN-CONTENT-TYPE-PARAMS
#[rstest]
#[case("text/event-stream;charset=utf-8")]
#[case("text/event-stream; charset=iso-8859-1")]
#[case("TEXT/EVENT-STREAM")]
#[case("text/event-stream;")]
#[case(" text/event-stream ")]
fn content_type_parameters_ignored(#[case] content_type: &str) {
    assert_eq!(
        run(&[
            S::Resp(200, &[("Content-Type", content_type)]),
            S::Body(b"data: a\n\n")
        ]),
        format!("{REQ}0.000 open\n0.000 message  type=message  id=\"\"  data=\"a\"\n")
    );
}

// spec: CONN-END-OF-BODY RECONNECT-ERROR-EVENT RECONNECT-WAIT REQ-LAST-EVENT-ID LAST-EVENT-ID-PERSISTS IMPL-RECONNECT-INITIAL RECONNECT-TIME-INITIAL
#[test]
fn end_of_body_reestablishes_with_last_event_id() {
    assert_eq!(
        run(&[
            S::Ok,
            S::Body(b"id: 1\ndata: a\n\n"),
            S::Wait(500),
            S::End,
            S::State(ReadyState::Connecting),
            S::Wait(2_999),
            S::State(ReadyState::Connecting),
            S::Wait(1),
            S::Ok,
            S::Body(b"data: b\n\n"),
        ]),
        format!(
            "{REQ}0.000 open\n\
             0.000 message  type=message  id=1  data=\"a\"\n\
             0.500 error    state=CONNECTING\n\
             0.500 timer    at=3.500\n\
             3.500 request  GET /s  accept=text/event-stream  last-event-id=1\n\
             3.500 open\n\
             3.500 message  type=message  id=\"\"  data=\"b\"\n"
        )
    );
}

// spec: CONN-NETWORK-ERROR REQ-LAST-EVENT-ID-ABSENT
#[test]
fn network_error_before_response_reestablishes() {
    assert_eq!(
        run(&[S::NetErr, S::Wait(3_000), S::NetErr]),
        format!(
            "{REQ}0.000 error    state=CONNECTING\n\
             0.000 timer    at=3.000\n\
             3.000 request  GET /s  accept=text/event-stream  last-event-id=-\n\
             3.000 error    state=CONNECTING\n\
             3.000 timer    at=6.000\n"
        )
    );
}

// spec: CONN-BODY-ERROR PARSE-EOF-DISCARD
#[test]
fn body_error_discards_partial_event() {
    assert_eq!(
        run_with(
            fast(),
            "http://a.test/s",
            &[
                S::Ok,
                S::Body(b"id: 7\ndata: a\n\nid: 8\ndata: part"),
                S::NetErr,
                S::Wait(100),
                S::Ok,
                S::Body(b"al\n\n")
            ]
        ),
        format!(
            "{REQ}0.000 open\n\
             0.000 message  type=message  id=7  data=\"a\"\n\
             0.000 error    state=CONNECTING\n\
             0.000 timer    at=0.100\n\
             0.100 request  GET /s  accept=text/event-stream  last-event-id=7\n\
             0.100 open\n"
        )
    );
}

// spec: CONN-ABORTED FAIL-CLOSED FAIL-NO-RECONNECT
#[rstest]
#[case::before_response(&[S::UaAbort, S::Wait(10_000)])]
#[case::while_streaming(&[S::Ok, S::UaAbort, S::Wait(10_000)])]
fn user_agent_abort_fails(#[case] script: &[S<'static>]) {
    let out = run(script);
    assert!(out.ends_with("0.000 error    state=CLOSED\n"), "{out}");
    assert_eq!(out.matches("request").count(), 1, "{out}");
}

// spec: FIELD-RETRY RECONNECT-TIME-PERSISTS FIELD-RETRY-INVALID
#[test]
fn retry_governs_later_reconnections() {
    assert_eq!(
        run(&[
            S::Ok,
            S::Body(b"retry: 250\n\nretry: 1.5\n\n"),
            S::End,
            S::Wait(250),
            S::NetErr,
            S::Wait(250),
        ]),
        format!(
            "{REQ}0.000 open\n\
             0.000 error    state=CONNECTING\n\
             0.000 timer    at=0.250\n\
             0.250 request  GET /s  accept=text/event-stream  last-event-id=-\n\
             0.250 error    state=CONNECTING\n\
             0.250 timer    at=0.500\n\
             0.500 request  GET /s  accept=text/event-stream  last-event-id=-\n"
        )
    );
}

// spec: FIELD-RETRY-IMMEDIATE
#[test]
fn retry_counts_without_dispatch() {
    let out = run(&[
        S::Ok,
        S::Body(b"retry: 40\ndata: never dispatched\n"),
        S::End,
        S::Wait(40),
    ]);
    assert!(
        out.contains("0.000 timer    at=0.040\n0.040 request"),
        "{out}"
    );
    assert!(!out.contains("message"), "{out}");
}

// spec: FIELD-ID-EMPTY-RESETS REQ-LAST-EVENT-ID-ABSENT DISPATCH-ID-WITHOUT-DATA
#[test]
fn empty_id_stops_the_header() {
    let out = run_with(
        fast(),
        "http://a.test/s",
        &[
            S::Ok,
            S::Body(b"id: 3\n\n"),
            S::End,
            S::Wait(100),
            S::Ok,
            S::Body(b"id\n\n"),
            S::End,
            S::Wait(100),
        ],
    );
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("request"))
            .collect::<Vec<_>>(),
        [
            "0.000 request  GET /s  accept=text/event-stream  last-event-id=-",
            "0.100 request  GET /s  accept=text/event-stream  last-event-id=3",
            "0.200 request  GET /s  accept=text/event-stream  last-event-id=-",
        ]
    );
}

// spec: DISPATCH-ID-BUFFER-PER-STREAM
#[rstest]
#[case::literal_reading_starts_empty(false, "\"\"", "-")]
#[case::browsers_reading_keeps_the_id(true, "5", "5")]
fn id_buffer_of_each_new_stream(
    #[case] keep_last_event_id: bool,
    #[case] second_id: &str,
    #[case] last_header: &str,
) {
    let config = Config {
        readings: Readings {
            keep_last_event_id,
            ..Readings::default()
        },
        ..fast()
    };
    let out = run_with(
        config,
        "http://a.test/s",
        &[
            S::Ok,
            S::Body(b"id: 5\ndata: a\n\n"),
            S::End,
            S::Wait(100),
            S::Ok,
            S::Body(b"data: b\n\n"),
            S::End,
            S::Wait(100),
        ],
    );
    assert!(
        out.contains(&format!(
            "message  type=message  id={second_id}  data=\"b\""
        )),
        "{out}"
    );
    assert!(
        out.ends_with(&format!(
            "0.200 request  GET /s  accept=text/event-stream  last-event-id={last_header}\n"
        )),
        "{out}"
    );
}

// spec: CLOSE-ABORTS CLOSE-NO-EVENT CLOSE-ANY-STATE CONN-ANNOUNCE-NOT-WHEN-CLOSED
#[rstest]
#[case::while_connecting(&[S::Close], "0.000 abort\n")]
#[case::before_announce_task(&[S::Ok, S::Close], "0.000 abort\n")]
#[case::while_open(&[S::Wait(0), S::Ok], "0.000 open\n")]
fn close_in_each_state(#[case] before: &[S<'static>], #[case] expected_tail: &str) {
    // Whatever state the script left it in, close() aborts, fires nothing, and no input after it
    // produces a request or an event.
    let mut script = before.to_vec();
    if !matches!(script.last(), Some(S::Close)) {
        script.push(S::Close);
    }
    script.extend([
        S::State(ReadyState::Closed),
        S::Body(b"data: late\n\n"),
        S::End,
        S::NetErr,
        S::Wait(60_000),
    ]);
    let out = run(&script);
    assert_eq!(out.matches("request").count(), 1, "{out}");
    assert!(!out.contains("error"), "{out}");
    assert!(!out.contains("message"), "{out}");
    assert!(out.contains(expected_tail), "{out}");
}

// spec: DISPATCH-NOT-WHEN-CLOSED CONN-ANNOUNCE-NOT-WHEN-CLOSED
#[test]
fn close_cancels_queued_tasks() {
    let mut es = EventSource::new("http://a.test/s", None, Config::default()).expect("valid URL");
    assert!(matches!(es.poll(), Some(Output::Io(Io::Fetch(_)))));
    es.handle_response(Duration::ZERO, &Response::new(200, EVENT_STREAM));
    es.handle_body(Duration::ZERO, b"data: a\n\ndata: b\n\n");
    // Nothing polled yet: the announce and both dispatches are queued tasks.
    es.close();
    assert_eq!(es.poll(), Some(Output::Io(Io::Abort)));
    assert_eq!(es.poll(), None);
    assert_eq!(es.ready_state(), ReadyState::Closed);
}

// spec: RECONNECT-ONLY-IF-CONNECTING CLOSE-ANY-STATE
#[test]
fn close_while_waiting_cancels_reconnection() {
    assert_eq!(
        run(&[S::Ok, S::End, S::Wait(1_000), S::Close, S::Wait(10_000)]),
        format!(
            "{REQ}0.000 open\n\
             0.000 error    state=CONNECTING\n\
             0.000 timer    at=3.000\n\
             1.000 closed\n"
        )
    );
}

// spec: CLOSE-ANY-STATE
#[test]
fn close_when_closed_does_nothing() {
    assert_eq!(
        run(&[S::Resp(204, &[]), S::Close, S::Close]),
        format!("{REQ}0.000 error    state=CLOSED\n0.000 closed\n0.000 closed\n")
    );
}

// spec: CONN-REDIRECT CONN-REDIRECT-RECONNECT-URL DISPATCH-ORIGIN CTOR-URL-ATTR
#[test]
fn redirects_are_followed_and_forgotten() {
    let mut es = EventSource::new("http://a.test/s", None, fast()).expect("valid URL");
    let t0 = Duration::ZERO;
    let next_url = |es: &mut EventSource| match es.poll() {
        Some(Output::Io(Io::Fetch(r))) => r.url.to_string(),
        other => panic!("expected a fetch, got {other:?}"),
    };
    assert_eq!(next_url(&mut es), "http://a.test/s");
    es.handle_response(t0, &Response::new(301, &[("Location", "/moved")]));
    assert_eq!(next_url(&mut es), "http://a.test/moved");
    es.handle_response(
        t0,
        &Response::new(307, &[("Location", "http://b.test:8080/final?x=1")]),
    );
    assert_eq!(next_url(&mut es), "http://b.test:8080/final?x=1");
    // Another origin than the page's: a CORS response.
    es.handle_response(t0, &Response::new(200, CORS_STREAM));
    es.handle_body(t0, b"data: hi\n\n");
    assert_eq!(es.poll(), Some(Output::Event(PageEvent::Open)));
    match es.poll() {
        Some(Output::Event(PageEvent::Message(m))) => {
            assert_eq!(m.origin.as_deref(), Some("http://b.test:8080"))
        }
        other => panic!("expected a message, got {other:?}"),
    }
    assert_eq!(es.url().as_str(), "http://a.test/s");
    es.handle_end_of_body(t0);
    assert_eq!(
        es.poll(),
        Some(Output::Event(PageEvent::error(ReadyState::Connecting)))
    );
    assert!(es.poll_timeout().is_some());
    es.handle_timeout(Duration::from_millis(100));
    assert_eq!(next_url(&mut es), "http://a.test/s");
}

// spec: CONN-REDIRECT-RECONNECT-URL
#[test]
fn the_url_list_reading_reconnects_where_redirects_led() {
    let config = Config {
        readings: Readings {
            reconnect_to_redirect_target: true,
            ..Readings::default()
        },
        ..fast()
    };
    let mut es = EventSource::new("http://a.test/s", None, config).expect("valid URL");
    let t0 = Duration::ZERO;
    let next_url = |es: &mut EventSource| match es.poll() {
        Some(Output::Io(Io::Fetch(r))) => r.url.to_string(),
        other => panic!("expected a fetch, got {other:?}"),
    };
    assert_eq!(next_url(&mut es), "http://a.test/s");
    es.handle_response(t0, &Response::new(302, &[("Location", "/moved")]));
    assert_eq!(next_url(&mut es), "http://a.test/moved");
    es.handle_response(t0, &Response::new(200, EVENT_STREAM));
    es.handle_end_of_body(t0);
    assert_eq!(es.poll(), Some(Output::Event(PageEvent::Open)));
    assert_eq!(
        es.poll(),
        Some(Output::Event(PageEvent::error(ReadyState::Connecting)))
    );
    assert!(es.poll_timeout().is_some());
    es.handle_timeout(Duration::from_millis(100));
    assert_eq!(next_url(&mut es), "http://a.test/moved");
    // The url attribute still shows the constructor's URL.
    assert_eq!(es.url().as_str(), "http://a.test/s");
}

// spec: CONN-REDIRECT-LIMIT
#[rstest]
#[case::too_many(21, "/again")]
#[case::not_http(1, "ftp://a.test/s")]
#[case::unparsable(1, "http://[::1")]
fn bad_redirects_are_network_errors(#[case] hops: usize, #[case] location: &str) {
    let mut script = Vec::new();
    let headers = [("location", location)];
    for _ in 0..hops {
        script.push(S::Resp(302, &headers));
    }
    let out = run_with(fast(), "http://a.test/s", &script);
    assert_eq!(out.matches("request").count(), hops.min(21), "{out}");
    assert!(
        out.ends_with("0.000 error    state=CONNECTING\n0.000 timer    at=0.100\n"),
        "{out}"
    );
}

// spec: IMPL-RECONNECT-BACKOFF RECONNECT-EXTRA-WAIT
#[test]
fn backoff_grows_until_announced() {
    let config = Config {
        initial_reconnection_time: Duration::from_millis(100),
        backoff: Backoff::Exponential {
            base: Duration::from_millis(100),
            max: Duration::from_millis(300),
        },
        ..Config::default()
    };
    let out = run_with(
        config,
        "http://a.test/s",
        &[
            S::NetErr,
            S::Wait(200),
            S::NetErr,
            S::Wait(300),
            S::NetErr,
            S::Wait(400),
            S::Ok,
            S::End,
            S::Wait(100),
            S::NetErr,
        ],
    );
    let timers: Vec<_> = out.lines().filter(|l| l.contains("timer")).collect();
    assert_eq!(
        timers,
        [
            "0.000 timer    at=0.200",
            "0.200 timer    at=0.500",
            "0.500 timer    at=0.900",
            "0.900 timer    at=1.000",
            "1.000 timer    at=1.200",
        ],
        "{out}"
    );
}

// spec: CONN-FUTILE FAIL-CLOSED
#[rstest]
#[case::ftp("ftp://example.not/")]
#[case::about("about:blank")]
#[case::mailto("mailto:whatwg@awesome.example")]
#[case::javascript("javascript:alert('FAIL')")]
fn a_url_fetch_cannot_serve_fails_without_a_request(#[case] url: &str) {
    let mut es = EventSource::new(url, None, fast()).expect("parses");
    assert_eq!(
        es.poll(),
        Some(Output::Event(PageEvent::error(ReadyState::Closed)))
    );
    assert_eq!(es.poll(), None, "no request, no timer");
    assert_eq!(es.ready_state(), ReadyState::Closed);
}

// spec: CTOR-URL-PARSE CTOR-URL-ATTR
#[rstest]
#[case::relative_without_base("/s", None, None)]
#[case::bad_host("http://[::1/s", None, None)]
#[case::relative_with_base("../s?q", Some("http://a.test/x/y"), Some("http://a.test/s?q"))]
#[case::absolute("HTTP://A.test:80/s", None, Some("http://a.test/s"))]
fn constructor_url(
    #[case] input: &str,
    #[case] base: Option<&str>,
    #[case] expected: Option<&str>,
) {
    let base = base.map(|b| url::Url::parse(b).expect("test base"));
    let es = EventSource::new(input, base.as_ref(), Config::default());
    assert_eq!(es.as_ref().ok().map(|es| es.url().as_str()), expected);
    if let Err(err) = es {
        assert!(err.to_string().starts_with("SyntaxError"), "{err}");
    }
}

// spec: REQ-ACCEPT REQ-NO-CACHE RECONNECT-SAME-REQUEST CTOR-WITH-CREDENTIALS
#[rstest]
#[case(false)]
#[case(true)]
fn every_request_has_the_same_headers(#[case] with_credentials: bool) {
    let mut es = EventSource::new(
        "http://a.test/s",
        None,
        Config {
            with_credentials,
            ..fast()
        },
    )
    .expect("valid URL");
    assert_eq!(es.with_credentials(), with_credentials);
    let mut requests = Vec::new();
    let mut now = Duration::ZERO;
    for body in [&b"id: 1\n\n"[..], b"id: \xC3\xA9\n\n"] {
        while let Some(action) = es.poll() {
            if let Output::Io(Io::Fetch(r)) = action {
                requests.push(r);
            }
        }
        es.handle_response(now, &Response::new(200, EVENT_STREAM));
        es.handle_body(now, body);
        es.handle_end_of_body(now);
        now += Duration::from_millis(100);
        es.handle_timeout(now);
    }
    while let Some(action) = es.poll() {
        if let Output::Io(Io::Fetch(r)) = action {
            requests.push(r);
        }
    }
    let headers: Vec<_> = requests
        .iter()
        .map(|r| (r.headers.clone(), r.credentials, r.url.to_string()))
        .collect();
    let common = |id: Option<&str>| {
        let mut h = vec![
            ("accept".to_owned(), "text/event-stream".to_owned()),
            ("cache-control".to_owned(), "no-cache".to_owned()),
            ("pragma".to_owned(), "no-cache".to_owned()),
        ];
        if let Some(id) = id {
            h.push(("last-event-id".to_owned(), id.to_owned()));
        }
        (h, with_credentials, "http://a.test/s".to_owned())
    };
    assert_eq!(
        headers,
        [common(None), common(Some("1")), common(Some("é"))]
    );
}

// spec: REQ-CORS
#[rstest]
#[case::same_origin(Some("http://a.test"), false, &[], true)]
#[case::star(Some("http://page.test"), false, &[("access-control-allow-origin", "*")], true)]
#[case::exact(Some("http://page.test"), false, &[("access-control-allow-origin", "http://page.test")], true)]
#[case::missing(Some("http://page.test"), false, &[], false)]
#[case::wrong(Some("http://page.test"), false, &[("access-control-allow-origin", "http://evil.test")], false)]
#[case::two_values(Some("http://page.test"), false, &[("access-control-allow-origin", "*"), ("access-control-allow-origin", "*")], false)]
#[case::credentials_star(Some("http://page.test"), true, &[("access-control-allow-origin", "*"), ("access-control-allow-credentials", "true")], false)]
#[case::credentials_no_acac(Some("http://page.test"), true, &[("access-control-allow-origin", "http://page.test")], false)]
#[case::credentials_ok(Some("http://page.test"), true, &[("access-control-allow-origin", "http://page.test"), ("access-control-allow-credentials", "true")], true)]
fn cors(
    #[case] document_origin: Option<&str>,
    #[case] with_credentials: bool,
    #[case] cors_headers: &[(&str, &str)],
    #[case] allowed: bool,
) {
    let config = Config {
        document_origin: document_origin.map(str::to_owned),
        with_credentials,
        ..fast()
    };
    let mut es = EventSource::new("http://a.test/s", None, config).expect("valid URL");
    let Some(Output::Io(Io::Fetch(request))) = es.poll() else {
        panic!("first action is the request")
    };
    let cross = document_origin != Some("http://a.test");
    assert_eq!(request.header("origin"), document_origin.filter(|_| cross));
    let mut headers = EVENT_STREAM.to_vec();
    headers.extend_from_slice(cors_headers);
    es.handle_response(Duration::ZERO, &Response::new(200, &headers));
    let expected = if allowed {
        Output::Event(PageEvent::Open)
    } else {
        Output::Event(PageEvent::error(ReadyState::Closed))
    };
    assert_eq!(es.poll(), Some(expected));
}

/// One fetch through redirects: `(status, extra headers)` per hop, the Location of each
/// redirect given in the headers. Returns the `Origin` each hop's request carried, and what
/// the page saw at the end (`Open`, or the error that ended it).
fn hops(
    page: &str,
    url: &str,
    responses: &[(u16, &[(&str, &str)])],
) -> (Vec<Option<String>>, Output) {
    let config = Config {
        document_origin: Some(page.to_owned()),
        ..fast()
    };
    let mut es = EventSource::new(url, None, config).expect("valid URL");
    let mut origins = Vec::new();
    for (status, headers) in responses {
        match es.poll() {
            Some(Output::Io(Io::Fetch(r))) => origins.push(r.header("origin").map(str::to_owned)),
            other => return (origins, other.expect("an action")),
        }
        let mut all = vec![("content-type", "text/event-stream")];
        all.extend_from_slice(headers);
        es.handle_response(Duration::ZERO, &Response::new(*status, &all));
    }
    (origins, es.poll().expect("an action"))
}

// spec: REQ-CORS-REDIRECT
#[rstest]
// The page's own origin, then another: CORS from there on, with the page's origin.
#[case::same_then_other(
    "http://a.test", "http://a.test/s",
    &[(307, &[("location", "http://b.test/s")][..]), (200, &[("access-control-allow-origin", "*")][..])],
    &[None, Some("http://a.test")], Output::Event(PageEvent::Open))]
// The same, but the other origin does not allow the page: the CORS check fails.
#[case::same_then_other_refused(
    "http://a.test", "http://a.test/s",
    &[(307, &[("location", "http://b.test/s")][..]), (200, &[][..])],
    &[None, Some("http://a.test")], Output::Event(PageEvent::error(ReadyState::Closed)))]
// A cross-origin redirect response must pass the CORS check itself.
#[case::redirect_response_checked(
    "http://page.test", "http://a.test/s",
    &[(307, &[("location", "/t")][..]), (200, &[("access-control-allow-origin", "*")][..])],
    &[Some("http://page.test")], Output::Event(PageEvent::error(ReadyState::Closed)))]
#[case::redirect_response_allowed(
    "http://page.test", "http://a.test/s",
    &[(307, &[("location", "/t"), ("access-control-allow-origin", "http://page.test")][..]),
      (200, &[("access-control-allow-origin", "http://page.test")][..])],
    &[Some("http://page.test"), Some("http://page.test")], Output::Event(PageEvent::Open))]
// From another origin to yet another: the origin is tainted, `null` from there on, and the
// CORS check is against `null`.
#[case::tainted_null(
    "http://page.test", "http://a.test/s",
    &[(307, &[("location", "http://b.test/s"), ("access-control-allow-origin", "*")][..]),
      (200, &[("access-control-allow-origin", "null")][..])],
    &[Some("http://page.test"), Some("null")], Output::Event(PageEvent::Open))]
#[case::tainted_page_origin_refused(
    "http://page.test", "http://a.test/s",
    &[(307, &[("location", "http://b.test/s"), ("access-control-allow-origin", "*")][..]),
      (200, &[("access-control-allow-origin", "http://page.test")][..])],
    &[Some("http://page.test"), Some("null")], Output::Event(PageEvent::error(ReadyState::Closed)))]
// Back to the page's origin after another: still CORS, still tainted.
#[case::back_to_the_page_stays_cors(
    "http://a.test", "http://b.test/s",
    &[(307, &[("location", "http://a.test/s"), ("access-control-allow-origin", "*")][..]),
      (200, &[][..])],
    &[Some("http://a.test"), Some("null")], Output::Event(PageEvent::error(ReadyState::Closed)))]
fn cors_across_redirects(
    #[case] page: &str,
    #[case] url: &str,
    #[case] responses: &[(u16, &[(&str, &str)])],
    #[case] origins: &[Option<&str>],
    #[case] end: Output,
) {
    let (sent, last) = hops(page, url, responses);
    let sent: Vec<Option<&str>> = sent.iter().map(Option::as_deref).collect();
    assert_eq!(sent, origins);
    assert_eq!(last, end);
}

// spec: REQ-CORS-REDIRECT
#[test]
fn a_cors_redirect_to_a_url_with_credentials_is_a_network_error() {
    let (sent, last) = hops(
        "http://page.test",
        "http://a.test/s",
        &[(
            307,
            &[
                ("location", "http://user:pw@a.test/t"),
                ("access-control-allow-origin", "*"),
            ],
        )],
    );
    assert_eq!(sent.len(), 1);
    assert_eq!(
        last,
        Output::Event(PageEvent::error(ReadyState::Connecting))
    );
}

// spec: REQ-CORS-REDIRECT
#[test]
fn each_reconnection_starts_a_fetch_without_cors_taint() {
    let config = Config {
        document_origin: Some("http://a.test".to_owned()),
        ..fast()
    };
    let mut es = EventSource::new("http://a.test/s", None, config).expect("valid URL");
    let t0 = Duration::ZERO;
    let origin_of = |es: &mut EventSource| match es.poll() {
        Some(Output::Io(Io::Fetch(r))) => r.header("origin").map(str::to_owned),
        other => panic!("expected a fetch, got {other:?}"),
    };
    assert_eq!(origin_of(&mut es), None);
    es.handle_response(t0, &Response::new(307, &[("location", "http://b.test/s")]));
    assert_eq!(origin_of(&mut es).as_deref(), Some("http://a.test"));
    es.handle_response(t0, &Response::new(200, CORS_STREAM));
    es.handle_end_of_body(t0);
    assert_eq!(es.poll(), Some(Output::Event(PageEvent::Open)));
    assert_eq!(
        es.poll(),
        Some(Output::Event(PageEvent::error(ReadyState::Connecting)))
    );
    assert!(es.poll_timeout().is_some());
    es.handle_timeout(Duration::from_secs(10));
    assert_eq!(
        origin_of(&mut es),
        None,
        "the reconnection is same-origin again"
    );
}

// spec: READYSTATE-VALUES
#[test]
fn ready_state_values() {
    assert_eq!(
        [ReadyState::Connecting, ReadyState::Open, ReadyState::Closed].map(ReadyState::as_u16),
        [0, 1, 2]
    );
}

// spec: IMPL-LIMITS
#[test]
fn limit_breach_aborts_and_reestablishes() {
    let config = Config {
        limits: Limits {
            max_line_len: 16,
            max_event_data: 64,
        },
        ..fast()
    };
    assert_eq!(
        run_with(
            config,
            "http://a.test/s",
            &[
                S::Ok,
                S::Body(b"id: 1\ndata: ok\n\ndata: 0123456789abcdef"),
                S::Wait(100)
            ]
        ),
        format!(
            "{REQ}0.000 open\n\
             0.000 message  type=message  id=1  data=\"ok\"\n\
             0.000 abort\n\
             0.000 error    state=CONNECTING\n\
             0.000 timer    at=0.100\n\
             0.100 request  GET /s  accept=text/event-stream  last-event-id=1\n"
        )
    );
}

// spec: IMPL-LAST-EVENT-ID-INITIAL
#[test]
fn persisted_last_event_id_goes_on_the_first_request() {
    let config = Config {
        initial_last_event_id: "41".to_owned(),
        ..Config::default()
    };
    assert_eq!(
        run_with(config, "http://a.test/s", &[]),
        "0.000 request  GET /s  accept=text/event-stream  last-event-id=41\n"
    );
}

// spec: CLIENT-PROMPT-DISPATCH
#[test]
fn cr_terminated_event_dispatches_without_waiting_for_more() {
    assert_eq!(
        run(&[S::Ok, S::Body(b"data: a\r\r")]),
        format!("{REQ}0.000 open\n0.000 message  type=message  id=\"\"  data=\"a\"\n")
    );
}
