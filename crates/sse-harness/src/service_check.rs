//! `ssec service-check URL`: a new test service's handling of the protocol, checked before any
//! case runs. Each exchange has the limit a run gives it; what goes wrong is one line naming
//! the exchange, so a service author fixes the protocol before reading verdicts.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::remote;

/// How long the service has to answer `GET /`, `POST /` and each command.
const ANSWER: Duration = Duration::from_secs(10);

/// How long the service's client has to send its first callbacks.
const FIRST_CALLBACKS: Duration = Duration::from_secs(10);

/// What the check found: every problem, one line each, and what went well.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ServiceCheck {
    /// One line per problem.
    pub problems: Vec<String>,
    /// One line per exchange that went as the protocol says.
    pub passed: Vec<String>,
}

/// Callbacks kept at most: the check's stream sends three events, so a service sending many
/// more is told so, not held in memory.
const MAX_HEARD: usize = 1000;

/// A callback as it arrived: its path and body.
type Heard = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

/// Checks the test service at `url` (loopback only).
pub async fn check(url: &Url) -> ServiceCheck {
    let mut out = ServiceCheck::default();
    let capabilities = match status(url).await {
        Ok(c) => {
            out.passed.push(format!(
                "GET / answered capabilities: {}",
                if c.is_empty() {
                    "(none)".into()
                } else {
                    c.join(", ")
                }
            ));
            c
        }
        Err(why) => {
            out.problems.push(format!("GET /: {why}"));
            return out;
        }
    };
    if let Err(why) = stream(url, &capabilities, &mut out).await {
        out.problems.push(why);
    }
    out
}

/// `GET /`: 2xx, and JSON with a list of capability names.
async fn status(url: &Url) -> Result<Vec<String>, String> {
    let answer = sse_http::call::call(Method::GET, url, None, ANSWER)
        .await
        .map_err(|e| e.to_string())?;
    if !answer.status.is_success() {
        return Err(format!("answered {}, not 2xx", answer.status));
    }
    let value: serde_json::Value = serde_json::from_slice(&answer.body)
        .map_err(|e| format!("the answer is not JSON ({e})"))?;
    let list = value
        .get("capabilities")
        .and_then(|c| c.as_array())
        .ok_or("the answer has no \"capabilities\" list")?;
    list.iter()
        .map(|c| {
            c.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("capability {c} is not a string"))
        })
        .collect()
}

/// One stream: `POST /` with a stream on a reference server of our own and a callback server,
/// numbered callbacks, the commands the service declared, and `DELETE` of its `Location`.
async fn stream(url: &Url, capabilities: &[String], out: &mut ServiceCheck) -> Result<(), String> {
    let stop = CancellationToken::new();
    let _stop = stop.clone().drop_guard();
    let server = sse_server::Server::new(sse_server::Config::default());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| format!("cannot listen on loopback: {e}"))?;
    let stream_addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn({
        let stop = stop.clone();
        async move { server.serve(listener, stop, Duration::from_secs(1)).await }
    });
    let heard: Heard = Arc::default();
    let callbacks = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| format!("cannot listen on loopback: {e}"))?;
    let callback_addr = callbacks.local_addr().map_err(|e| e.to_string())?;
    let callback_server = tokio::spawn({
        let heard = heard.clone();
        remote::serve(callbacks, move |req| {
            let heard = heard.clone();
            async move {
                let path = req.uri().path().to_owned();
                match remote::read_json::<serde_json::Value>(req, 1 << 20).await {
                    Ok((body, _reading)) => {
                        let mut heard = heard.lock().unwrap_or_else(PoisonError::into_inner);
                        if heard.len() >= MAX_HEARD {
                            return remote::reply(
                                StatusCode::SERVICE_UNAVAILABLE,
                                "too many callbacks",
                            );
                        }
                        heard.push((path, body));
                        remote::reply(StatusCode::ACCEPTED, "")
                    }
                    Err(why) => remote::reply(StatusCode::BAD_REQUEST, &why),
                }
            }
        })
    });
    let body = json!({
        "streamUrl": format!("http://{stream_addr}/sse/1?limit=3&interval_ms=50"),
        "callbackUrl": format!("http://{callback_addr}/streams/1"),
        "tag": "service-check",
        "initialDelayMs": 1000,
    });
    let created = sse_http::call::call(Method::POST, url, Some(&body), ANSWER)
        .await
        .map_err(|e| format!("POST / (a new stream): {e}"))?;
    if !created.status.is_success() {
        return Err(format!(
            "POST / (a new stream) answered {}, not 2xx",
            created.status
        ));
    }
    let location = created
        .headers
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or("POST / (a new stream) answered without a Location header")?;
    let stream = url
        .join(location)
        .map_err(|e| format!("POST / answered Location {location:?}, not a URL: {e}"))?;
    out.passed.push(format!("POST / made a stream at {stream}"));
    callbacks_in_order(&heard, out).await;
    for (capability, command) in [
        ("restart", json!({"command": "restart"})),
        (
            "event-type-listeners",
            json!({"command": "listen", "listen": {"type": "x"}}),
        ),
    ] {
        if capabilities.iter().any(|c| c == capability) {
            command_answered(&stream, &command, capability, out).await;
        }
    }
    match sse_http::call::call(Method::DELETE, &stream, None, ANSWER).await {
        Ok(a) if a.status.is_success() => out.passed.push(format!("DELETE {stream} answered")),
        Ok(a) => out
            .problems
            .push(format!("DELETE {stream} (closing the stream) answered {}, not 2xx", a.status)),
        Err(e) => out.problems.push(format!(
            "DELETE {stream} (closing the stream; a run waits {ANSWER:?} for it at the end of every case): {e}"
        )),
    }
    callback_server.abort();
    Ok(())
}

/// Waits for the first callbacks and checks they are numbered from 1 with a known kind.
async fn callbacks_in_order(heard: &Heard, out: &mut ServiceCheck) {
    let deadline = tokio::time::Instant::now() + FIRST_CALLBACKS;
    let events = |h: &Heard| {
        h.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, b)| b["kind"] == "event")
            .count()
    };
    while events(heard) < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = heard.lock().unwrap_or_else(PoisonError::into_inner).clone();
    if got.is_empty() {
        out.problems.push(format!(
            "no callback within {FIRST_CALLBACKS:?}: the client should POST what it sees to callbackUrl/1, /2, ..."
        ));
        return;
    }
    let mut numbers: Vec<u64> = Vec::new();
    // One line for each kind of mistake, naming the first (abridged) and how many made it.
    let mut misaddressed = Vec::new();
    let mut unknown_kind = Vec::new();
    for (path, body) in &got {
        match path
            .strip_prefix("/streams/1/")
            .and_then(|n| n.parse().ok())
        {
            Some(n) => numbers.push(n),
            None => misaddressed.push(path.clone()),
        }
        if !matches!(body["kind"].as_str(), Some("event" | "comment" | "error")) {
            unknown_kind.push(format!("{path} has kind {}", body["kind"]));
        }
    }
    let first = |all: &[String]| {
        let more = all.len().saturating_sub(1);
        let rest = if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        };
        format!("{}{rest}", sse_judge::evidence::abridge(&all[0]))
    };
    if !misaddressed.is_empty() {
        out.problems.push(format!(
            "callback to {}: callbacks go to callbackUrl/N, N counting from 1",
            first(&misaddressed)
        ));
    }
    if !unknown_kind.is_empty() {
        out.problems.push(format!(
            "callback {}, not event, comment or error",
            first(&unknown_kind)
        ));
    }
    numbers.sort_unstable();
    let expected: Vec<u64> = (1..=numbers.len() as u64).collect();
    if numbers != expected {
        out.problems.push(format!(
            "callbacks were numbered {}: they count from 1, one number each",
            sse_judge::evidence::abridge(&format!("{numbers:?}"))
        ));
    }
    let n = events(heard);
    if n < 3 {
        out.problems.push(format!(
            "{n} event callbacks within {FIRST_CALLBACKS:?}; the stream sent 3 events"
        ));
    } else {
        out.passed
            .push(format!("{} callbacks, numbered from 1", numbers.len()));
    }
}

/// A command the service declared, answered 2xx within its limit.
async fn command_answered(
    stream: &Url,
    command: &serde_json::Value,
    capability: &str,
    out: &mut ServiceCheck,
) {
    match sse_http::call::call(Method::POST, stream, Some(command), ANSWER).await {
        Ok(a) if a.status.is_success() => out
            .passed
            .push(format!("the {capability} command was answered")),
        Ok(a) => out.problems.push(format!(
            "POST {stream} {command} (declared {capability}) answered {}, not 2xx",
            a.status
        )),
        Err(e) => out.problems.push(format!(
            "POST {stream} {command} (declared {capability}): {e}"
        )),
    }
}
