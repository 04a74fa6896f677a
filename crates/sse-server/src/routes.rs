//! Request routing and the endpoints (documented in the crate docs).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;

use crate::cases::{CaseError, Player, expand, with_run};
use crate::compress::{self, Coding};
use crate::ctx::Ctx;
use crate::demo::Demo;
use crate::stream::{self, Body, Framing, Source};
use crate::topics::{Feed, PublishError, Resume, Subscribe};

/// Topic names: 1 to 64 of `A-Z a-z 0-9 . _ -`.
fn valid_topic(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A request refused before any work: the status and a one-line reason for the client.
struct Refusal(StatusCode, String);

impl Refusal {
    fn into_response(self) -> Response<Body> {
        text(self.0, &self.1)
    }
}

pub(crate) async fn handle(ctx: Arc<Ctx>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // A case's stream asked for with another method and a body (a client library's extension,
    // such as POST or REPORT): the body is read, logged, and the script plays as for a GET.
    if let ["cases", id] = segments.as_slice() {
        if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
            let (parts, body) = req.into_parts();
            let read = Limited::new(body, MAX_LOGGED_BODY).collect();
            let body = match tokio::time::timeout(BODY_TIMEOUT, read).await {
                Ok(Ok(b)) => b.to_bytes(),
                Ok(Err(_)) => {
                    return text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
                }
                Err(_) => return text(StatusCode::REQUEST_TIMEOUT, "request body too slow\n"),
            };
            let req = Request::from_parts(parts, ());
            if let Some(log) = ctx.request_log.get() {
                log.record_with_body(&req, &body);
            }
            let (response, wait) = case(&ctx, &req, id);
            if !wait.is_zero() {
                Box::pin(tokio::time::sleep(wait)).await;
            }
            return response;
        }
    }
    if let Some(log) = ctx.request_log.get() {
        log.record(&req);
    }
    // A case's script says every header itself, CORS included: the allow-list stays out of it.
    let cors = if matches!(segments.as_slice(), ["cases", _]) {
        Vec::new()
    } else {
        match cors_headers(&ctx, &req) {
            Ok(headers) => headers,
            Err(refusal) => return refusal.into_response(),
        }
    };
    let mut response = match (req.method(), segments.as_slice()) {
        (&Method::OPTIONS, ["cases", _]) => case_preflight(&req),
        (&Method::OPTIONS, _) => preflight(),
        (&Method::GET, [""]) => page(),
        (&Method::GET, ["stats"]) => json(
            StatusCode::OK,
            &serde_json::to_string(&ctx.stats()).unwrap_or_default(),
        ),
        (&Method::GET, ["sse", n]) => match n.parse::<u64>() {
            Ok(n) => demo(&ctx, &req, n),
            Err(_) => text(StatusCode::NOT_FOUND, "demo streams are /sse/{number}\n"),
        },
        (_, ["topics", name]) if !valid_topic(name) => text(
            StatusCode::BAD_REQUEST,
            "topic names are 1 to 64 of A-Z a-z 0-9 . _ -\n",
        ),
        (&Method::GET, ["topics", name]) => subscribe(&ctx, &req, name),
        (&Method::POST, ["topics", name]) => {
            let name = (*name).to_owned();
            // Boxed: this is the only branch that awaits, and an inline future would make every
            // stream task as large as the publish path for the whole life of the stream.
            Box::pin(publish(&ctx, req, &name)).await
        }
        (&Method::DELETE, ["topics", name]) => {
            if ctx.topics.close(name) {
                empty(StatusCode::NO_CONTENT)
            } else {
                text(StatusCode::NOT_FOUND, "no such topic\n")
            }
        }
        (&Method::GET, ["cases", id]) => {
            let (response, wait) = case(&ctx, &req, id);
            // Boxed, as publishing is: only a case that holds its head back awaits here.
            if !wait.is_zero() {
                Box::pin(tokio::time::sleep(wait)).await;
            }
            response
        }
        (_, [""] | ["stats"] | ["sse", _] | ["topics", _] | ["cases", _]) => {
            text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    response.headers_mut().extend(cors);
    response
}

/// Applies the origin allow-list. Same-origin requests and requests without `Origin` pass
/// untouched; a listed origin gets credentials; `*` admits any origin without credentials; any
/// other origin is refused with 403 (rather than a response the browser would hide).
fn cors_headers(
    ctx: &Ctx,
    req: &Request<Incoming>,
) -> Result<Vec<(HeaderName, HeaderValue)>, Refusal> {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return Ok(Vec::new());
    };
    let origin_str = origin.to_str().unwrap_or("");
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    if host.is_some_and(|h| {
        origin_str == format!("http://{h}") || origin_str == format!("https://{h}")
    }) {
        return Ok(Vec::new());
    }
    let allowed: Vec<String> = ctx
        .config
        .allowed_origins
        .iter()
        .map(|o| expand(o, &ctx.config))
        .collect();
    let mut headers = vec![(header::VARY, HeaderValue::from_static("origin"))];
    if allowed.iter().any(|o| o == origin_str) {
        headers.push((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()));
        headers.push((
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        ));
    } else if allowed.iter().any(|o| o == "*") {
        headers.push((
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ));
    } else {
        return Err(Refusal(
            StatusCode::FORBIDDEN,
            "origin not allowed\n".to_owned(),
        ));
    }
    Ok(headers)
}

fn preflight() -> Response<Body> {
    let mut r = empty(StatusCode::NO_CONTENT);
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("last-event-id, cache-control, accept, content-type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    r
}

/// `OPTIONS /cases/{id}`: a CORS preflight any client passes (the requesting origin and the
/// headers it asks for are allowed), answered without using up a scripted response, so a client
/// that preflights meets the same script as one that does not.
fn case_preflight(req: &Request<Incoming>) -> Response<Body> {
    let mut r = empty(StatusCode::NO_CONTENT);
    let h = r.headers_mut();
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    if let Some(asked) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET"),
    );
    r
}

/// Reads `Last-Event-ID`, falling back to the `since` query parameter (for a first connection
/// that wants history). Not a decimal `u64`, or not visible ASCII: `Malformed`.
fn resume(req: &Request<Incoming>) -> Resume {
    let value = match req.headers().get("last-event-id") {
        Some(v) => v.to_str().ok().map(str::to_owned),
        None => match query(req, "since") {
            Some(since) => Some(since),
            None => return Resume::Live,
        },
    };
    match value.as_deref().map(str::parse::<u64>) {
        Some(Ok(id)) => Resume::After(id),
        _ => Resume::Malformed,
    }
}

fn query<B>(req: &Request<B>, key: &str) -> Option<String> {
    let q = req.uri().query()?;
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn query_num(req: &Request<Incoming>, key: &str) -> Result<Option<u64>, Refusal> {
    match query(req, key) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            Refusal(
                StatusCode::BAD_REQUEST,
                format!("{key} must be a whole number\n"),
            )
        }),
    }
}

/// The longest demo interval a client may ask for (a day): timers past it are a client error.
const MAX_DEMO_INTERVAL_MS: u64 = 86_400_000;

/// `/sse/{n}`: the demo stream. A malformed Last-Event-ID restarts it from id 1.
fn demo(ctx: &Ctx, req: &Request<Incoming>, n: u64) -> Response<Body> {
    let (limit, interval) = match (query_num(req, "limit"), query_num(req, "interval_ms")) {
        (Ok(_), Ok(Some(ms))) if !(1..=MAX_DEMO_INTERVAL_MS).contains(&ms) => {
            return text(
                StatusCode::BAD_REQUEST,
                &format!("interval_ms must be 1 to {MAX_DEMO_INTERVAL_MS}\n"),
            );
        }
        (Ok(l), Ok(i)) => (l, i.map_or(ctx.config.demo_interval, Duration::from_millis)),
        (Err(r), _) | (_, Err(r)) => return r.into_response(),
    };
    let last = match resume(req) {
        Resume::After(k) => k,
        Resume::Live => 0,
        Resume::Malformed => {
            tracing::info!(
                stream = n,
                "malformed Last-Event-ID: restarting the demo stream"
            );
            0
        }
    };
    if Demo::finished(last, limit) {
        return empty(StatusCode::NO_CONTENT);
    }
    event_stream(ctx, req, Demo::new(n, last, limit, interval))
}

/// `GET /topics/{name}`: subscribe, resuming after Last-Event-ID.
fn subscribe(ctx: &Ctx, req: &Request<Incoming>, name: &str) -> Response<Body> {
    match ctx.topics.subscribe(name, resume(req)) {
        Subscribe::Ended => empty(StatusCode::NO_CONTENT),
        Subscribe::Full => topics_full(ctx),
        Subscribe::Stream(sub) => event_stream(
            ctx,
            req,
            Feed {
                sub,
                metrics: ctx.metrics.clone(),
            },
        ),
    }
}

/// `POST /topics/{name}?event=NAME`: the body (UTF-8) is the data; answers the new id.
async fn publish(ctx: &Ctx, req: Request<Incoming>, name: &str) -> Response<Body> {
    let event = query(&req, "event");
    let collect = Limited::new(req.into_body(), ctx.config.max_publish_bytes).collect();
    let wait = ctx.body_waits.enter();
    let outcome = tokio::select! {
        outcome = tokio::time::timeout(ctx.config.body_read_timeout, collect) => outcome.ok(),
        () = wait.shed.cancelled() => None,
    };
    drop(wait);
    let Some(collected) = outcome else {
        // A client trickling its body would hold a connection (and a file descriptor) forever.
        let mut response = text(
            StatusCode::REQUEST_TIMEOUT,
            &format!(
                "the request body must arrive within {:?} (sooner when the server is short of \
                 connections)\n",
                ctx.config.body_read_timeout
            ),
        );
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    };
    let body = match collected {
        Ok(b) => b.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "events are at most {} bytes\n",
                    ctx.config.max_publish_bytes
                ),
            );
        }
        Err(_) => return text(StatusCode::BAD_REQUEST, "could not read the request body\n"),
    };
    let Ok(data) = String::from_utf8(body.to_vec()) else {
        return text(StatusCode::BAD_REQUEST, "event data must be UTF-8\n");
    };
    match ctx.topics.publish(name, event, data) {
        Ok(id) => {
            ctx.metrics.published();
            json(StatusCode::CREATED, &format!("{{\"id\":{id}}}"))
        }
        Err(PublishError::Closed) => text(StatusCode::GONE, "topic is closed\n"),
        Err(PublishError::Full) => topics_full(ctx),
    }
}

/// The largest request body a case request may carry (it is logged whole).
const MAX_LOGGED_BODY: usize = 64 << 10;
/// How long a case request's body may take to arrive.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// `GET /cases/{id}?run=KEY`: the next scripted response of that run, and how long to hold its
/// head back.
fn case<B>(ctx: &Ctx, req: &Request<B>, id: &str) -> (Response<Body>, std::time::Duration) {
    let run = query(req, "run").unwrap_or_default();
    let scripted = match ctx.cases.next_response(id, &run) {
        Ok(r) => r,
        Err(e @ CaseError::NotFound(_)) => {
            return (
                text(StatusCode::NOT_FOUND, &format!("{e}\n")),
                std::time::Duration::ZERO,
            );
        }
        Err(e @ CaseError::BadId) => {
            return (
                text(StatusCode::BAD_REQUEST, &format!("{e}\n")),
                std::time::Duration::ZERO,
            );
        }
    };
    let wait = std::time::Duration::from_millis(scripted.head_wait_ms.unwrap_or(0));
    // Registered scripts were validated; a status out of range cannot get here.
    let status = StatusCode::from_u16(scripted.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let Some(guard) = ctx.metrics.try_open_stream(ctx.config.max_streams) else {
        return (busy(ctx, false), std::time::Duration::ZERO);
    };
    let framing = Framing {
        padding: 0,
        retry: None,
        keep_alive: None,
        coding: Coding::Identity,
        flush_each_event: true,
    };
    let body = if matches!(status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED) {
        http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed_unsync()
    } else {
        stream::body(
            Player::new(&scripted),
            framing,
            ctx.shutdown.clone(),
            ctx.metrics.clone(),
            guard,
        )
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    for (name, value) in scripted.headers() {
        let value = expand(&value, &ctx.config);
        let value = if name.eq_ignore_ascii_case("location") {
            with_run(&value, &run, &ctx.config)
        } else {
            value
        };
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            response.headers_mut().append(n, v);
        }
    }
    (response, wait)
}

/// A 200 event-stream response around a source, within the stream limit.
fn event_stream<S: Source>(ctx: &Ctx, req: &Request<Incoming>, source: S) -> Response<Body> {
    let Some(mut guard) = ctx.metrics.try_open_stream(ctx.config.max_streams) else {
        return busy(ctx, false);
    };
    let mut coding = if ctx.config.compression {
        compress::negotiate(
            req.headers()
                .get_all(header::ACCEPT_ENCODING)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        )
    } else {
        Coding::Identity
    };
    if coding != Coding::Identity && !guard.try_compress(ctx.config.max_compressed_streams) {
        coding = Coding::Identity;
    }
    let framing = Framing {
        padding: ctx.config.padding,
        retry: ctx.config.retry,
        keep_alive: ctx.config.keep_alive,
        coding,
        flush_each_event: ctx.config.flush_each_event,
    };
    let mut response = Response::new(stream::body(
        source,
        framing,
        ctx.shutdown.clone(),
        ctx.metrics.clone(),
        guard,
    ));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    if let Some(token) = coding.token() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(token));
    }
    if ctx.config.compression {
        h.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// 503: the store holds its maximum of topics and every one has subscribers.
fn topics_full(ctx: &Ctx) -> Response<Body> {
    let mut r = text(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!(
            "too many topics (at most {}, every one with subscribers)\n",
            ctx.config.max_topics
        ),
    );
    let secs = ctx.config.retry_after.as_secs().max(1);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    r
}

/// 503 with `Retry-After`; `close` also asks the client to drop the connection (used when the
/// connection itself is over the limit).
pub(crate) fn busy(ctx: &Ctx, close: bool) -> Response<Body> {
    let mut r = text(
        StatusCode::SERVICE_UNAVAILABLE,
        "server busy, retry later\n",
    );
    let secs = ctx.config.retry_after.as_secs().max(1);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    if close {
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

fn full(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    let mut r = Response::new(
        Full::new(body)
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn text(status: StatusCode, message: &str) -> Response<Body> {
    full(
        status,
        "text/plain; charset=utf-8",
        Bytes::from(message.to_owned()),
    )
}

fn json(status: StatusCode, body: &str) -> Response<Body> {
    full(status, "application/json", Bytes::from(body.to_owned()))
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(
        http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r
}

fn page() -> Response<Body> {
    full(
        StatusCode::OK,
        "text/html; charset=utf-8",
        Bytes::from_static(crate::page::INDEX.as_bytes()),
    )
}
