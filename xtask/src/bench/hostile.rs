//! `cargo xtask bench --only hostile`: the hostile inputs that once hurt the reference server,
//! rerun on loopback beside an axum peer, into BENCHMARKS.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, bail};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Hostile {
    silent: u64,
    silent_probes: u64,
    silent_results: Vec<Silent>,
    subscriptions: u64,
    held_subscriptions: u64,
    subscriptions_results: Vec<Subscriptions>,
    topic_requests: u64,
    topic_connections: u64,
    topic_body_bytes: u64,
    compressed_streams: u64,
    slow_bodies: u64,
    fd_limit: u64,
    slow_byte_every_secs: u64,
    probe_during_secs: u64,
    probe_after_secs: u64,
    probe_timeout_secs: u64,
    topic_flood: Vec<Flood>,
    compressed: Vec<Compressed>,
    slow_bodies_results: Vec<Slow>,
}

#[derive(Debug, Deserialize)]
struct Flood {
    peer: String,
    statuses: BTreeMap<String, u64>,
    rss_growth: f64,
    heap_growth: f64,
}

#[derive(Debug, Deserialize)]
struct Silent {
    peer: String,
    answered: u64,
}

#[derive(Debug, Deserialize)]
struct Subscriptions {
    peer: String,
    rss_growth: f64,
    heap_growth: f64,
    heap_per_held: f64,
}

#[derive(Debug, Deserialize)]
struct Compressed {
    peer: String,
    encoding: String,
    compressed: u64,
    rss_per_stream: f64,
    heap_per_stream: f64,
    retained_rss_per_stream: f64,
}

#[derive(Debug, Deserialize)]
struct Slow {
    peer: String,
    fds_during: u64,
    fds_after: u64,
    probe_during_ms: Option<f64>,
    probe_after_ms: Option<f64>,
    slow_answered: u64,
}

const OURS: &str = "ours-default";

/// The two table rows of a flood: RSS and live heap growth after `what`, ours against the
/// peer's.
fn growth_rows(s: &mut String, what: &str, rss: (f64, f64), heap: (f64, f64)) {
    let mib = |b: f64| b / (1024.0 * 1024.0);
    let _ = writeln!(
        s,
        "| RSS growth after {what} | {:.1} MiB | {:.1} MiB | {:.3} |",
        mib(rss.0),
        mib(rss.1),
        rss.0 / rss.1
    );
    let _ = writeln!(
        s,
        "| live heap growth, same | {:.1} MiB | {:.1} MiB | {:.3} |",
        mib(heap.0),
        mib(heap.1),
        heap.0 / heap.1
    );
}

fn pair<'a, T>(items: &'a [T], peer: impl Fn(&T) -> bool, what: &str) -> Result<(&'a T, &'a T)> {
    let ours = items.iter().find(|x| peer(x));
    let theirs = items.iter().find(|x| !peer(x));
    match (ours, theirs) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => bail!("the hostile bench results lack ours or the peer for {what}"),
    }
}

fn statuses(s: &BTreeMap<String, u64>) -> String {
    s.iter()
        .map(|(k, v)| format!("{v}× {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn probe(ms: Option<f64>, timeout: u64) -> String {
    ms.map_or_else(
        || format!("no answer in {timeout} s"),
        |ms| format!("{ms:.1} ms"),
    )
}

/// Runs `sse-server/benches/hostile.rs` and writes its figures beside the axum peer's.
pub(crate) fn run(root: &Path, write: bool) -> Result<bool> {
    super::cargo_bench(root, "sse-server", "hostile", &[])?;
    let path = root.join("target/hostile-bench.json");
    let h: Hostile = super::read_json(&path)?;
    let (start, end) = super::markers("hostile-bench");
    let mut s = String::new();
    let _ = writeln!(s, "{start}");
    let _ = writeln!(s, "## Reference server under hostile input, on loopback\n");
    let _ = writeln!(
        s,
        "Command: `cargo xtask bench --only hostile` (runs `cargo bench -p sse-server --bench hostile`). The reference server runs as \
         shipped (`Config::default()`); the peer is the minimal axum 0.8 `Sse` server of the table above, and for compressed streams \
         that server behind tower-http 0.6 `CompressionLayer` (gzip and br at its default levels) with a predicate that compresses \
         `text/event-stream` (its default predicate skips event streams). Each server is a child process with one tokio worker \
         thread, a fresh one per measurement. Machine: {}.\n",
        super::machine()
    );
    let _ = writeln!(s, "| measure | sse-server | axum | sse-server / axum |");
    let _ = writeln!(s, "| --- | ---: | ---: | ---: |");
    let (ours, peer) = pair(&h.topic_flood, |f| f.peer == OURS, "the topic flood")?;
    let flood_statuses = (statuses(&ours.statuses), statuses(&peer.statuses));
    growth_rows(
        &mut s,
        &format!(
            "{} `POST /topics/tN` to distinct names ({} B each, {} connections)",
            h.topic_requests, h.topic_body_bytes, h.topic_connections
        ),
        (ours.rss_growth, peer.rss_growth),
        (ours.heap_growth, peer.heap_growth),
    );
    let (ours, peer) = pair(
        &h.subscriptions_results,
        |r| r.peer == OURS,
        "the subscriptions",
    )?;
    growth_rows(
        &mut s,
        &format!(
            "{} `GET /topics/anonN` to distinct names, each closed",
            h.subscriptions
        ),
        (ours.rss_growth, peer.rss_growth),
        (ours.heap_growth, peer.heap_growth),
    );
    let _ = writeln!(
        s,
        "| live heap per held subscription, {} to distinct topics | {:.0} B | {:.0} B | {:.2} |",
        h.held_subscriptions,
        ours.heap_per_held,
        peer.heap_per_held,
        ours.heap_per_held / peer.heap_per_held
    );
    for encoding in ["gzip", "br"] {
        let rows: Vec<&Compressed> = h
            .compressed
            .iter()
            .filter(|c| c.encoding == encoding)
            .collect();
        let (ours, peer) = pair(&rows, |c| c.peer == OURS, encoding)?;
        if ours.compressed != h.compressed_streams || peer.compressed != h.compressed_streams {
            bail!(
                "not every {encoding} stream was compressed ({} and {} of {})",
                ours.compressed,
                peer.compressed,
                h.compressed_streams
            );
        }
        let _ = writeln!(
            s,
            "| RSS per idle {encoding} stream, {} streams | {:.0} B | {:.0} B | {:.2} |",
            h.compressed_streams,
            ours.rss_per_stream,
            peer.rss_per_stream,
            ours.rss_per_stream / peer.rss_per_stream
        );
        let _ = writeln!(
            s,
            "| live heap per idle {encoding} stream, same | {:.0} B | {:.0} B | {:.2} |",
            ours.heap_per_stream,
            peer.heap_per_stream,
            ours.heap_per_stream / peer.heap_per_stream
        );
        let _ = writeln!(
            s,
            "| RSS per {encoding} stream still held 1 s after all closed | {:.0} B | {:.0} B | {:.2} |",
            ours.retained_rss_per_stream,
            peer.retained_rss_per_stream,
            ours.retained_rss_per_stream / peer.retained_rss_per_stream
        );
    }
    let (ours, peer) = pair(&h.slow_bodies_results, |r| r.peer == OURS, "slow bodies")?;
    let fds = |s: &mut String, at: u64, a: u64, b: u64| {
        let _ = writeln!(
            s,
            "| open descriptors {at} s into {} slow bodies (limit {}) | {a} | {b} | {:.2} |",
            h.slow_bodies,
            h.fd_limit,
            a as f64 / b as f64
        );
    };
    fds(
        &mut s,
        h.probe_during_secs,
        ours.fds_during,
        peer.fds_during,
    );
    fds(&mut s, h.probe_after_secs, ours.fds_after, peer.fds_after);
    for (at, a, b) in [
        (
            h.probe_during_secs,
            ours.probe_during_ms,
            peer.probe_during_ms,
        ),
        (h.probe_after_secs, ours.probe_after_ms, peer.probe_after_ms),
    ] {
        let ratio = match (a, b) {
            (Some(a), Some(b)) => format!("{:.2}", a / b),
            _ => "—".to_owned(),
        };
        let _ = writeln!(
            s,
            "| a fresh POST answered, {at} s in | {} | {} | {ratio} |",
            probe(a, h.probe_timeout_secs),
            probe(b, h.probe_timeout_secs)
        );
    }
    let _ = writeln!(
        s,
        "| slow requests answered by {} s | {} | {} | — |",
        h.probe_after_secs, ours.slow_answered, peer.slow_answered
    );
    let (ours, peer) = pair(&h.silent_results, |r| r.peer == OURS, "silent connections")?;
    let _ = writeln!(
        s,
        "| fresh requests answered within {} s, {} s into {} connections that send nothing (limit {}) | {} of {} | {} of {} | — |",
        h.probe_timeout_secs,
        h.probe_during_secs,
        h.silent,
        h.fd_limit,
        ours.answered,
        h.silent_probes,
        peer.answered,
        h.silent_probes
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Lower is better for memory and descriptors. Statuses of the flood: sse-server {}; axum {}. The reference server holds at \
         most 10,000 topics and evicts the idle one touched longest ago; live subscribers read the topic's own replay log \
         (no channel or buffer per topic or subscriber), and a topic that never had an event goes with its last subscriber. gzip and deflate streams share one compressor per thread and keep only the last 4 KiB of their own plaintext \
         as the next event's dictionary; br streams keep a whole compressor each (quality 4, 64 KiB window), so on a tie in \
         `Accept-Encoding` the server picks gzip. flate2's features unify across the build, so the peer's gzip also runs on the \
         zlib-rs backend here (with flate2's default miniz_oxide backend it measured about 156 kB per stream on this machine). \
         The slow bodies send their headers and then one body byte every {} s; the server's descriptor limit is lowered for \
         this measurement only. sse-server answers a body that has not arrived within 10 s with 408, and when an accept fails for \
         want of descriptors it gives up on the 16 connections that have sent nothing longest (then on the bodies that have trickled \
         longest), so new clients get in; the peer has neither.",
        flood_statuses.0, flood_statuses.1, h.slow_byte_every_secs
    );
    let _ = writeln!(s, "{end}");
    crate::say(&s);
    if write {
        super::update_benchmarks_md(root, "hostile-bench", &s)?;
        crate::say("updated BENCHMARKS.md\n");
    }
    Ok(true)
}
