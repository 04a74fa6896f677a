//! A hostile test service cannot make the harness hold, write or print without limit: one huge
//! callback is judged and then abridged in every report file and terminal line; callbacks
//! numbered past one that never comes are refused past the harness's limit and the case fails
//! saying so; an observer past its limits stops the run. In-process, on loopback.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::json;
use sse_harness::client::{Epoch, MessageEvent, PageEvent};
use sse_harness::evidence::LINE_BYTES;
use sse_harness::judge::Outcome;
use sse_harness::report::{CaseReport, ImplementationReport, RunReport, html, verdict_line};
use sse_harness::run::{Transport, execute};
use sse_harness::service::Service;
use sse_harness::{Catalogue, Client, Observer, Seen};

use common::{answer, serve_on_loopback};

/// What the hostile service does once a stream is created.
#[derive(Clone, Copy)]
enum Attack {
    /// Callback 1: one event whose data is 15 MB (just under the limit) that no trace can
    /// shorten.
    Flood,
    /// Callbacks 2, 3, 4, 5 of 15 MB each; callback 1 never comes.
    Gap,
}

/// 15 MB of letters without runs (the trace format writes a run of one character once).
fn noise() -> String {
    "abcdefghijklmnopqrstuvwxyz".repeat(15_000_000 / 26)
}

/// Starts the service on a thread of its own; returns its URL and the statuses its callbacks got.
fn start(attack: Attack) -> (String, Statuses) {
    let statuses: Statuses = Arc::default();
    let seen = statuses.clone();
    let url = serve_on_loopback(move |req| handle(req, attack, statuses.clone()));
    (url, seen)
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    attack: Attack,
    statuses: Statuses,
) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    match (method, path.as_str()) {
        (Method::GET, "/") => answer(
            StatusCode::OK,
            json!({"name": "hostile\u{1b}[2J", "version": "1", "capabilities": []}).to_string(),
        ),
        (Method::POST, "/") => {
            let callback = json["callbackUrl"].as_str().unwrap_or_default().to_owned();
            tokio::spawn(async move {
                let data = noise();
                let numbers: Vec<u64> = match attack {
                    Attack::Flood => vec![1],
                    Attack::Gap => vec![2, 3, 4, 5],
                };
                for n in numbers {
                    let body = json!({"kind": "event", "event": {"type": "message", "data": data}});
                    let status = post(&callback, n, &body.to_string()).await;
                    statuses.lock().expect("lock").push(status);
                }
            });
            let mut r = answer(StatusCode::CREATED, String::new());
            r.headers_mut()
                .insert("location", "/streams/1".parse().expect("header value"));
            r
        }
        (Method::DELETE, _) => answer(StatusCode::NO_CONTENT, String::new()),
        _ => answer(StatusCode::NOT_FOUND, String::new()),
    }
}

async fn post(base: &str, n: u64, body: &str) -> StatusCode {
    let url = url::Url::parse(&format!("{base}/{n}")).expect("callback URL");
    let (host, port) = (
        url.host_str().unwrap_or("127.0.0.1").to_owned(),
        url.port().unwrap_or(80),
    );
    let Ok(tcp) = tokio::net::TcpStream::connect((host.as_str(), port)).await else {
        return StatusCode::BAD_GATEWAY;
    };
    let Ok((mut sender, conn)) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await
    else {
        return StatusCode::BAD_GATEWAY;
    };
    tokio::spawn(conn);
    let request = Request::post(url.path())
        .header("host", format!("{host}:{port}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("request");
    sender
        .send_request(request)
        .await
        .map_or(StatusCode::BAD_GATEWAY, |r| r.status())
}

type Statuses = Arc<std::sync::Mutex<Vec<StatusCode>>>;

/// The harness's budget is the process's: the attacks run one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(attack: Attack, case: &str) -> (Catalogue, sse_harness::run::CaseResult, Statuses) {
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (url, statuses) = start(attack);
    let service = Service::connect(&url).unwrap_or_else(|e| panic!("{e}"));
    let catalogue = Catalogue::load_default().unwrap_or_else(|e| panic!("{e}"));
    let client: Arc<dyn Client> = Arc::new(service);
    let result = execute(
        &catalogue,
        client,
        catalogue.case(case).expect("case exists"),
        Transport::Loopback,
    );
    (catalogue, result, statuses)
}

#[test]
fn one_huge_callback_is_judged_then_abridged_everywhere() {
    let (catalogue, result, _) = run(Attack::Flood, "announce-open-dispatch");
    assert_eq!(result.verdict.outcome, Outcome::Fail);
    assert!(
        result.observed.iter().any(|e| e.text.len() > 14_000_000),
        "the judge saw the whole event"
    );
    let line = verdict_line("hostile-loopback", &result);
    assert!(line.len() < LINE_BYTES + 512, "{} bytes", line.len());

    let mut case = CaseReport::new(&catalogue, result, Duration::ZERO);
    case.abridge();
    let report = RunReport::new(
        &catalogue,
        vec![ImplementationReport::new(
            &sse_harness::Identity {
                name: "hostile".into(),
                version: "1".into(),
            },
            Transport::Loopback,
            Vec::new(),
            vec![case],
            Duration::ZERO,
        )],
    );
    let json = serde_json::to_string(&report).expect("json");
    let page = html::render(&report);
    let (junit, md) = (report.junit(), report.markdown());
    for (file, size, limit) in [
        ("report.json", json.len(), 1 << 20),
        ("index.html", page.len(), 2 << 20),
        ("junit.xml", junit.len(), 1 << 20),
        ("summary.md", md.len(), 1 << 20),
    ] {
        assert!(size < limit, "{file}: {size} bytes");
    }
    assert!(json.contains("bytes in all]"), "the full length is stated");
}

#[test]
fn callbacks_waiting_for_one_that_never_comes_are_refused_past_the_limit() {
    let started = Instant::now();
    let (_, result, statuses) = run(Attack::Gap, "announce-open-dispatch");
    assert_eq!(result.verdict.outcome, Outcome::Fail);
    let summary = result.verdict.summary();
    assert!(
        summary.contains("out-of-order") && summary.contains("report 1 never came"),
        "{summary}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    // Two wait (30 MB); the third is refused, and the case ends: the last finds it refused or
    // the callback server gone (502 here).
    let deadline = Instant::now() + Duration::from_secs(10);
    while statuses.lock().expect("lock").len() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let statuses = statuses.lock().expect("lock").clone();
    assert_eq!(
        statuses[..3],
        [
            StatusCode::ACCEPTED,
            StatusCode::ACCEPTED,
            StatusCode::PAYLOAD_TOO_LARGE
        ]
    );
    assert!(
        !statuses[3..].contains(&StatusCode::ACCEPTED),
        "{statuses:?}"
    );
}

#[test]
fn an_observer_past_its_limits_says_so() {
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let observer = Observer::with_epoch(Epoch::new());
    for _ in 0..sse_harness::client::MAX_OBSERVATIONS {
        observer.report(Seen::Page(PageEvent::Open));
    }
    assert_eq!(observer.overran(), None);
    observer.report(Seen::Page(PageEvent::Open));
    assert_eq!(
        observer.snapshot().len(),
        sse_harness::client::MAX_OBSERVATIONS
    );
    assert!(
        observer
            .overran()
            .is_some_and(|why| why.contains("observations")),
        "{:?}",
        observer.overran()
    );
    let bytes = Observer::with_epoch(Epoch::new());
    let data = "x".repeat(sse_harness::client::MAX_OBSERVED_BYTES / 2 + 1);
    for _ in 0..2 {
        bytes.report(Seen::Page(PageEvent::Message(MessageEvent {
            event_type: "message".into(),
            data: data.clone(),
            last_event_id: String::new(),
            origin: None,
        })));
    }
    assert!(bytes.overran().is_some_and(|why| why.contains("MiB")));
}
