//! Checking a proxy in front of an SSE server (`ssec check-proxy`): the harness runs the
//! reference server as the upstream, so it knows exactly which bytes left and when, and reads
//! them back through the proxy under test. It measures the delay the proxy adds to each event
//! (plain and compressed), the headers it drops or adds, whether the body arrives unchanged,
//! whether `Last-Event-ID` reaches the upstream, and whether an idle stream is cut, and after how
//! long. Loopback only, every read time-limited.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sse_judge::checked::CheckResult;
use tokio_util::sync::CancellationToken;
use url::Url;

use sse_http::fetch::{Ended, FetchLimits, Fetched, read_stream, read_stream_encoded};
use sse_judge::judge::Outcome;

/// What to check, and for how long.
#[derive(Debug, Clone)]
pub struct ProxyUnderTest {
    /// The proxy's base URL (loopback): `/sse/…` and `/topics/…` there reach the upstream.
    pub proxy: Url,
    /// Where the proxy forwards to: the harness runs the reference server there.
    pub upstream: SocketAddr,
    /// How long to read an idle stream through the proxy (an idle cut shows within it).
    pub idle: Duration,
}

/// One measurement and its verdict, as a check result named for what was measured.
fn measured(
    name: &'static str,
    requirements: &[&'static str],
    outcome: Outcome,
    message: String,
) -> CheckResult {
    CheckResult::measurement(name, requirements, outcome, message)
}

/// The longest an event may take through the proxy.
const PROMPT: Duration = Duration::from_millis(500);

/// Runs the reference server on the upstream address and measures the proxy.
pub async fn run(p: &ProxyUnderTest) -> Result<Vec<CheckResult>, String> {
    // Checked before listening: binding 0.0.0.0 would listen on every interface first.
    if !p.upstream.ip().is_loopback() {
        return Err(format!(
            "the upstream {} must be a loopback address",
            p.upstream
        ));
    }
    let listener = tokio::net::TcpListener::bind(p.upstream)
        .await
        .map_err(|e| format!("cannot run the upstream on {}: {e}", p.upstream))?;
    // No keep-alive comments: an idle cut must be able to show. No compression: what arrives
    // compressed, the proxy compressed itself.
    let config = sse_server::Config {
        keep_alive: None,
        compression: false,
        ..sse_server::Config::default()
    };
    let server = sse_server::Server::new(config);
    let started = std::time::Instant::now();
    let log = Arc::new(sse_server::RequestLog::new(Arc::new(move || {
        started.elapsed()
    })));
    server.with_request_log(log.clone());
    let shutdown = CancellationToken::new();
    let serving = tokio::spawn({
        let (server, shutdown) = (server.clone(), shutdown.clone());
        async move {
            server
                .serve(listener, shutdown, Duration::from_secs(1))
                .await
        }
    });
    let direct = Url::parse(&format!("http://{}/", p.upstream)).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    out.push(headers_and_bytes(&direct, &p.proxy).await);
    for coding in [None, Some("gzip"), Some("br"), Some("zstd")] {
        out.push(delivery(&server, &direct, &p.proxy, coding).await);
    }
    out.push(last_event_id(&p.proxy, &log).await);
    out.push(idle_cut(&p.proxy, p.idle).await);
    shutdown.cancel();
    let _ = serving.await;
    Ok(out)
}

const SHORT: FetchLimits = FetchLimits {
    connect: Duration::from_secs(5),
    total: Duration::from_secs(3),
    max_bytes: 1 << 20,
};

/// A finished demo stream, directly and through the proxy: the headers it drops or adds, and
/// whether the bytes arrive unchanged.
async fn headers_and_bytes(direct: &Url, proxy: &Url) -> CheckResult {
    let name = "headers-and-bytes";
    let path = "sse/1?limit=3&interval_ms=20";
    let (Ok(d), Ok(via)) = (direct.join(path), proxy.join(path)) else {
        return measured(name, &[], Outcome::Fail, "bad URL".into());
    };
    let (d, via) = match (
        read_stream(&d, None, SHORT).await,
        read_stream(&via, None, SHORT).await,
    ) {
        (Ok(d), Ok(v)) => (d, v),
        (Err(e), _) => return measured(name, &[], Outcome::Fail, format!("upstream: {e}")),
        (_, Err(e)) => {
            return measured(name, &[], Outcome::Fail, format!("through the proxy: {e}"));
        }
    };
    // Hop-by-hop and per-response headers any proxy may change.
    let ignored = [
        "date",
        "server",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "via",
    ];
    let names = |f: &Fetched| -> std::collections::BTreeSet<String> {
        f.headers
            .iter()
            .map(|(n, _)| n.clone())
            .filter(|n| !ignored.contains(&n.as_str()))
            .collect()
    };
    let (dn, vn) = (names(&d), names(&via));
    let dropped: Vec<&String> = dn.difference(&vn).collect();
    let added: Vec<&String> = vn.difference(&dn).collect();
    let value = |f: &Fetched, n: &str| {
        f.headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
    };
    let mut outcome = Outcome::Pass;
    let mut notes = Vec::new();
    let mut ids = vec![];
    if value(&d, "content-type") != value(&via, "content-type") {
        outcome = Outcome::Fail;
        ids.push("STREAM-MIME");
        notes.push(format!(
            "Content-Type {:?} became {:?}",
            value(&d, "content-type"),
            value(&via, "content-type")
        ));
    }
    if value(&via, "cache-control").is_none() && value(&d, "cache-control").is_some() {
        outcome = outcome.worst(Outcome::NonStrict);
        ids.push("SERVER-NO-CACHE");
        notes.push("Cache-Control was dropped".into());
    }
    if d.body != via.body {
        outcome = Outcome::Fail;
        ids.push("STREAM-EVENT-TERMINATED");
        notes.push(format!(
            "the body changed: {} bytes sent, {} arrived",
            d.body.len(),
            via.body.len()
        ));
    }
    let show = |v: &[&String]| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        }
    };
    notes.push(format!(
        "headers dropped: {}; added: {}",
        show(&dropped),
        show(&added)
    ));
    measured(name, &ids, outcome, notes.join("; "))
}

/// Three events published to a topic while a stream of it is open through the proxy: the
/// delay the proxy adds to each, with `Accept-Encoding: coding` when given, and the bytes it
/// still held when reading stopped (against a stream of the same topic read from the upstream
/// directly meanwhile).
async fn delivery(
    server: &sse_server::Server,
    direct: &Url,
    proxy: &Url,
    coding: Option<&str>,
) -> CheckResult {
    let name = match coding {
        None => "delivery",
        Some("gzip") => "delivery-gzip",
        Some("br") => "delivery-br",
        Some(_) => "delivery-zstd",
    };
    let ids = ["SERVER-NO-BUFFERING"];
    let topic = format!("proxy-check-{}", coding.unwrap_or("plain"));
    let Ok(url) = proxy.join(&format!("topics/{topic}")) else {
        return measured(name, &ids, Outcome::Fail, "bad URL".into());
    };
    let limits = FetchLimits {
        total: Duration::from_secs(2),
        ..SHORT
    };
    let coding_owned = coding.map(str::to_owned);
    let reader = tokio::spawn(async move {
        read_stream_encoded(&url, None, coding_owned.as_deref(), limits).await
    });
    let Ok(direct) = direct.join(&format!("topics/{topic}")) else {
        return measured(name, &ids, Outcome::Fail, "bad URL".into());
    };
    let upstream = tokio::spawn(async move { read_stream(&direct, None, limits).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut sent = Vec::new();
    for n in 0..3 {
        let token = format!("proxy-check-{}-{n}", std::process::id());
        let at = tokio::time::Instant::now();
        if server
            .topics()
            .publish(&topic, None, token.clone())
            .is_err()
        {
            return measured(name, &ids, Outcome::Fail, "cannot publish upstream".into());
        }
        sent.push((token, at));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let upstream_body = match upstream.await {
        Ok(Ok(d)) => Some(d.body),
        _ => None,
    };
    let fetched = match reader.await {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => {
            let sent = upstream_body
                .map(|b| {
                    format!(
                        "; meanwhile the upstream sent {} bytes, all held back",
                        b.len()
                    )
                })
                .unwrap_or_default();
            return measured(
                name,
                &ids,
                Outcome::Fail,
                format!("through the proxy: {e}{sent}"),
            );
        }
        Err(e) => return measured(name, &ids, Outcome::Fail, e.to_string()),
    };
    let mut delays = Vec::new();
    for (token, at) in &sent {
        let arrived = fetched.arrival_of_text(token);
        delays.push(arrived.map(|a| a.saturating_duration_since(*at)));
    }
    let coding_seen = fetched.coding();
    let shown: Vec<String> = delays
        .iter()
        .map(|d| d.map_or_else(|| "never".to_owned(), |d| format!("{} ms", d.as_millis())))
        .collect();
    let worst = delays.iter().copied().max().flatten();
    let all = delays.iter().all(Option::is_some);
    let held = match upstream_body {
        Some(sent) => match sent.len().saturating_sub(fetched.body.len()) {
            0 => "; nothing held back".to_owned(),
            n => format!(
                "; {n} of the {} bytes the upstream sent were still held back when reading stopped",
                sent.len()
            ),
        },
        None => String::new(),
    };
    let message = format!(
        "3 events published upstream arrived after {} ({coding_seen}){held}",
        shown.join(", ")
    );
    match (all, worst) {
        (true, Some(w)) if w <= PROMPT => measured(name, &ids, Outcome::Pass, message),
        _ => measured(
            name,
            &ids,
            Outcome::Fail,
            format!("{message}: the proxy holds events back"),
        ),
    }
}

/// A resume through the proxy: the upstream must receive `Last-Event-ID`.
async fn last_event_id(proxy: &Url, log: &sse_server::RequestLog) -> CheckResult {
    let name = "last-event-id-passes";
    let ids = ["SERVER-RESUME"];
    let Ok(url) = proxy.join("sse/1?limit=3&interval_ms=20&check=last-event-id") else {
        return measured(name, &ids, Outcome::Fail, "bad URL".into());
    };
    if let Err(e) = read_stream(&url, Some("2"), SHORT).await {
        return measured(name, &ids, Outcome::Fail, format!("through the proxy: {e}"));
    }
    let upstream = log
        .snapshot()
        .into_iter()
        .rev()
        .find(|r| r.target.contains("check=last-event-id"));
    match upstream {
        None => measured(
            name,
            &ids,
            Outcome::Fail,
            "the request never reached the upstream".into(),
        ),
        Some(r) if r.header("last-event-id") == Some("2") => measured(
            name,
            &ids,
            Outcome::Pass,
            "Last-Event-ID: 2 reached the upstream".into(),
        ),
        Some(r) => measured(
            name,
            &ids,
            Outcome::Fail,
            format!(
                "the upstream received Last-Event-ID {:?}, not \"2\": resumes replay everything",
                r.header("last-event-id")
            ),
        ),
    }
}

/// A stream that stays quiet (no keep-alive comments upstream) read through the proxy for
/// `idle`: whether, and after how long, the proxy cuts it.
async fn idle_cut(proxy: &Url, idle: Duration) -> CheckResult {
    let name = "idle-cut";
    let ids = ["SERVER-KEEPALIVE"];
    let Ok(url) = proxy.join("topics/proxy-check-idle") else {
        return measured(name, &ids, Outcome::Fail, "bad URL".into());
    };
    let limits = FetchLimits {
        total: idle,
        ..SHORT
    };
    match read_stream(&url, None, limits).await {
        Ok(f) if matches!(f.ended, Ended::TimeUp(_)) => measured(
            name,
            &ids,
            Outcome::Pass,
            format!(
                "a silent stream stayed open for the {:.1} s read",
                idle.as_secs_f64()
            ),
        ),
        Ok(f) => {
            let after = f.started.elapsed();
            measured(
                name,
                &ids,
                Outcome::Informational,
                format!(
                    "the proxy cut a silent stream after {:.1} s: the server must send a comment line more often than that",
                    after.as_secs_f64()
                ),
            )
        }
        Err(e) => measured(name, &ids, Outcome::Fail, format!("through the proxy: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A non-loopback upstream is refused before anything listens: with the port already
    /// taken on every interface, the refusal is about loopback, not a failed bind.
    #[tokio::test]
    async fn a_non_loopback_upstream_is_refused_before_listening() {
        let taken = tokio::net::TcpListener::bind("0.0.0.0:0")
            .await
            .expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let p = ProxyUnderTest {
            proxy: Url::parse("http://127.0.0.1:1/").expect("url"),
            upstream: SocketAddr::from(([0, 0, 0, 0], port)),
            idle: Duration::from_secs(1),
        };
        let err = run(&p).await.expect_err("refused");
        assert!(err.contains("must be a loopback address"), "{err}");
    }
}
