//! The test-service runner end to end: the spec model, wrapped in a test service that speaks
//! LaunchDarkly's sse-contract-tests protocol plus our `ssec:*` capabilities (written here from
//! docs/test-service.md, in-process, on loopback), must get the same verdicts through
//! `--impl service=URL` as it does when the harness drives it directly. That exercises the whole
//! protocol: status and capabilities, stream creation, numbered callbacks (sent out of order on
//! purpose), `open`, readyState, `timeMs`, `restart`, an initial Last-Event-ID, and `DELETE` as
//! close().

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use sse_harness::client::{Epoch, PageEvent, ReadyState};
use sse_harness::judge::Outcome;
use sse_harness::run::{Transport, execute};
use sse_harness::service::Service;
use sse_harness::{
    Catalogue, Client, Command, ModelClient, Net, Observer, OpenRequest, Seen, Session, Settings,
};

use common::{answer, serve_on_loopback};

type Streams = Arc<Mutex<HashMap<u64, Box<dyn Session>>>>;

/// Starts the service on a thread of its own; returns its URL.
fn start_service() -> String {
    let streams: Streams = Arc::default();
    let next = Arc::new(Mutex::new(0u64));
    serve_on_loopback(move |req| handle(req, streams.clone(), next.clone()))
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    streams: Streams,
    next: Arc<Mutex<u64>>,
) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match (method, path.as_str()) {
        (Method::GET, "/") => answer(
            StatusCode::OK,
            json!({
                "name": "model-behind-a-service",
                "version": "test",
                "capabilities": ["restart", "last-event-id", "ssec:open", "ssec:ready-state", "ssec:time"],
            })
            .to_string(),
        ),
        (Method::POST, "/") => {
            let Some(url) = json["streamUrl"].as_str().and_then(|u| url::Url::parse(u).ok())
            else {
                return answer(StatusCode::BAD_REQUEST, "streamUrl".into());
            };
            let callback = json["callbackUrl"].as_str().unwrap_or_default().to_owned();
            let observer = Observer::with_epoch(Epoch::new());
            let request = OpenRequest {
                server_origin: url.origin().ascii_serialization(),
                url,
                last_event_id: json["lastEventId"].as_str().map(str::to_owned),
                with_credentials: false,
                page_origin: None,
                settings: Settings {
                    initial_reconnection_time: json["initialDelayMs"]
                        .as_u64()
                        .map(Duration::from_millis),
                    ..Settings::default()
                },
                net: Net::loopback(),
                event_types: Vec::new(),
                extensions: sse_model::Extensions::default(),
                fresh: true,
                close_on_message: None,
                companions: Vec::new(),
            };
            let session = match ModelClient::default().open(request, observer.clone()).await {
                Ok(s) => s,
                Err(e) => return answer(StatusCode::BAD_REQUEST, e.to_string()),
            };
            let id = {
                let mut n = next.lock().expect("lock");
                *n += 1;
                *n
            };
            streams.lock().expect("lock").insert(id, session);
            tokio::spawn(forward(observer, callback));
            let mut r = answer(StatusCode::CREATED, String::new());
            r.headers_mut().insert(
                "location",
                format!("/streams/{id}").parse().expect("header value"),
            );
            r
        }
        (method, path) => {
            let Some(id) = path
                .strip_prefix("/streams/")
                .and_then(|n| n.parse::<u64>().ok())
            else {
                return answer(StatusCode::NOT_FOUND, String::new());
            };
            let Some(mut session) = streams.lock().expect("lock").remove(&id) else {
                return answer(StatusCode::NOT_FOUND, String::new());
            };
            let (command, keep) = match (&method, json["command"].as_str()) {
                (&Method::DELETE, _) => (Command::Close, false),
                (&Method::POST, Some("restart")) => (Command::Restart, true),
                _ => return answer(StatusCode::BAD_REQUEST, "unknown command".into()),
            };
            let result = session.command(command).await;
            if keep {
                streams.lock().expect("lock").insert(id, session);
            }
            match result {
                Ok(_) => answer(StatusCode::NO_CONTENT, String::new()),
                Err(e) => answer(StatusCode::BAD_REQUEST, e.to_string()),
            }
        }
    }
}

/// Posts every observation to the callback URL, numbered from 1, each pair swapped (2 before
/// 1, 4 before 3, ...) so the harness has to put them back in order.
async fn forward(observer: Observer, callback: String) {
    let mut taken = 0;
    let mut numbered = 0u64;
    let mut held: Option<Value> = None;
    loop {
        let _ = tokio::time::timeout(Duration::from_millis(20), observer.changed()).await;
        for o in observer.since(taken) {
            taken += 1;
            let Some(body) = callback_body(o.what) else {
                continue;
            };
            numbered += 1;
            match held.take() {
                None => held = Some(body),
                Some(first) => {
                    post(&callback, numbered, &body).await;
                    post(&callback, numbered - 1, &first).await;
                }
            }
        }
        // An odd one out waits only while nothing else comes.
        if let Some(body) = held.take() {
            if tokio::time::timeout(Duration::from_millis(5), observer.changed())
                .await
                .is_err()
            {
                post(&callback, numbered, &body).await;
            } else {
                held = Some(body);
            }
        }
    }
}

/// The callback for an observation, stamped with the time (`ssec:time`).
fn callback_body(seen: Seen) -> Option<Value> {
    let mut body = match seen {
        Seen::Page(PageEvent::Open) => json!({"kind": "open"}),
        Seen::Page(PageEvent::Message(m)) => {
            json!({"kind": "event", "event": {"type": m.event_type, "data": m.data, "id": m.last_event_id}})
        }
        Seen::Page(PageEvent::Error {
            ready_state,
            message,
        }) => json!({
            "kind": "error",
            "comment": message.unwrap_or_default(),
            "readyState": if ready_state == Some(ReadyState::Closed) { 2 } else { 0 },
        }),
        Seen::Comment { .. } | Seen::Command { .. } => return None,
    };
    body["timeMs"] = json!(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs_f64()
            * 1e3
    );
    Some(body)
}

async fn post(base: &str, n: u64, body: &Value) {
    let Ok(url) = url::Url::parse(&format!("{base}/{n}")) else {
        return;
    };
    let (host, port) = (
        url.host_str().unwrap_or("127.0.0.1").to_owned(),
        url.port().unwrap_or(80),
    );
    let Ok(tcp) = tokio::net::TcpStream::connect((host.as_str(), port)).await else {
        return;
    };
    let Ok((mut sender, conn)) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await
    else {
        return;
    };
    tokio::spawn(conn);
    let request = Request::post(url.path())
        .header("host", format!("{host}:{port}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request");
    let _ = sender.send_request(request).await;
}

#[test]
fn the_model_behind_a_test_service_gets_the_model_s_verdicts() {
    let url = start_service();
    let service = Service::connect(&url).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(service.identity().name, "model-behind-a-service");
    let caps = service.capabilities();
    for c in [
        "open-event",
        "ready-state",
        "restart",
        "initial-last-event-id",
        "close",
    ] {
        assert!(
            caps.iter().any(|k| k.name() == c),
            "{c} missing from {caps:?}"
        );
    }
    let catalogue = Catalogue::load_default().unwrap_or_else(|e| panic!("{e}"));
    let client: Arc<dyn Client> = Arc::new(service);
    for id in [
        // open, messages and their order, over callbacks that arrive out of order
        "announce-open-dispatch",
        // readyState CONNECTING on error, a reconnection with Last-Event-ID
        "last-event-id-persists-across-connections",
        // readyState CLOSED: the connection failed for good
        "status-204-fails",
        // DELETE is close(): nothing follows
        "close-while-open",
        // lastEventId in the creation request
        "persisted-last-event-id",
    ] {
        let case = catalogue.case(id).expect("case exists");
        let result = execute(&catalogue, client.clone(), case, Transport::Loopback);
        assert_eq!(
            result.verdict.outcome,
            Outcome::Pass,
            "{id}: {}",
            result.verdict.summary()
        );
    }
}

#[test]
fn a_service_off_loopback_is_refused_at_once() {
    let started = std::time::Instant::now();
    for url in ["http://1.2.3.4/", "http://example.invalid:8000/"] {
        let err = Service::connect(url).expect_err("refused");
        assert!(err.contains("not a loopback address"), "{url}: {err}");
    }
    assert!(started.elapsed() < Duration::from_secs(2), "it waited");
}

#[test]
fn an_adapter_that_cannot_set_up_says_why() {
    // A missing toolchain: the adapter's `setup` says so on stderr and exits 1; the report shows
    // that reason in the column's place.
    use std::os::unix::fs::PermissionsExt as _;
    let dir = std::env::temp_dir().join(format!("sse-adapter-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (name, body) in [
        (
            "setup",
            "#!/bin/sh\necho 'installing...'\necho 'frobnicator 9 not found' >&2\nexit 1\n",
        ),
        ("run", "#!/bin/sh\nexit 3\n"),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, body).expect("script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let err = Service::adapter(&dir).expect_err("setup fails");
    assert!(err.contains("frobnicator 9 not found"), "{err}");
    // A `run` that exits before answering is reported as such, not waited for.
    std::fs::write(dir.join("setup"), "#!/bin/sh\nexit 0\n").expect("script");
    let started = std::time::Instant::now();
    let err = Service::adapter(&dir).expect_err("run exits");
    assert!(err.contains("exited"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
