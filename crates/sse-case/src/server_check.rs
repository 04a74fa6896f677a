//! Server checks as data (`fixtures/server-checks/*.toml`): what a server at a URL gets wrong
//! about the streams it serves. Each check names the requirements it checks and a probe (how to
//! look: the response head, the body's format, a resume with `Last-Event-ID`, the 204 that ends
//! a finished stream); the probes run in the checker; the checks and what they mean are data, here.
//!
//! A server declares what it supports (`--resume`, `--end-with-204`); a check that needs what
//! the server did not declare is `unsupported`, never a fail. Every read goes through
//! the checker's HTTP client: loopback only, with time limits and a size cap, so a hostile server cannot
//! hang or flood the checker.
//!
//! ```toml
//! checks = ["SERVER-RESUME"]
//! about = "A reconnection with Last-Event-ID continues right after that event."
//! probe = "resume"          # head | format | resume | end-with-204
//! needs = ["resume"]        # what the server must declare for the check to run
//! seconds = 3               # how long to read each stream (streams rarely end)
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::LoadError;

/// How a check looks at the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Probe {
    /// The response's status and headers.
    Head,
    /// The body's bytes: UTF-8, byte order marks, line ends.
    Format,
    /// A second connection with `Last-Event-ID` continues right after that event.
    Resume,
    /// Once a stream has ended, a reconnection with its last id is answered 204.
    #[serde(rename = "end-with-204")]
    EndWith204,
    /// An event published while the stream is open reaches it promptly: nothing (a buffer, a
    /// compressor without a flush, a proxy) holds it back.
    Delivery,
    /// A quiet stream still sends something (a comment) often enough that proxies with idle
    /// timeouts do not cut it.
    KeepAlive,
    /// Many streams at once (`streams`): a connection each over HTTP/1.1, or all on one
    /// HTTP/2 connection (`http2`); each must open and, where the server publishes, get the
    /// published event promptly.
    Concurrent,
    /// Clients that stop reading (`stalled`) and clients that vanish mid-stream (`dropped`)
    /// while `events` events of `event_bytes` are published: a reading client loses none, a new
    /// client gets a published event promptly, and publishing is not held up.
    StalledClients,
}

/// What a server can declare it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Declaration {
    /// It resumes after `Last-Event-ID`.
    Resume,
    /// It answers 204 when a stream has no more to send.
    #[serde(rename = "end-with-204")]
    EndWith204,
    /// It has an endpoint that publishes an event to the stream (`--publish URL`: a POST whose
    /// body the event's data carries).
    Publish,
    /// It speaks HTTP/2 with prior knowledge (`h2c`) on the stream's port.
    Http2,
}

impl Declaration {
    /// The `ssec check-server` flag that declares it.
    pub fn flag(self) -> &'static str {
        match self {
            Declaration::Resume => "--resume",
            Declaration::EndWith204 => "--end-with-204",
            Declaration::Publish => "--publish URL",
            Declaration::Http2 => "--http2",
        }
    }
}

/// One check of `fixtures/server-checks/`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerCheck {
    /// The file's stem.
    #[serde(skip_deserializing, default)]
    pub id: String,
    /// The requirement ids it checks.
    pub checks: Vec<String>,
    /// What it shows, in one sentence.
    pub about: String,
    /// How it looks.
    pub probe: Probe,
    /// What the server must declare for it to run.
    #[serde(default)]
    pub needs: Vec<Declaration>,
    /// How long to read each stream, in seconds.
    #[serde(default = "default_seconds")]
    pub seconds: f64,
    /// The `Accept-Encoding` to offer (the body is decoded as the response says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_encoding: Option<String>,
    /// Delivery: the longest an event may take from its publication to the client, in
    /// milliseconds.
    #[serde(default = "default_within_ms")]
    pub within_ms: u64,
    /// Keep-alive: the longest silence allowed, in milliseconds.
    #[serde(default = "default_max_gap_ms")]
    pub max_gap_ms: u64,
    /// Concurrent: how many streams at once.
    #[serde(default = "default_streams")]
    pub streams: usize,
    /// Concurrent: all streams on one HTTP/2 connection instead of a connection each.
    #[serde(default)]
    pub http2: bool,
    /// Stalled clients: how many stop reading.
    #[serde(default = "default_stalled")]
    pub stalled: usize,
    /// Stalled clients: how many vanish (a reset) after the response head.
    #[serde(default = "default_dropped")]
    pub dropped: usize,
    /// Stalled clients: how many events are published meanwhile.
    #[serde(default = "default_events")]
    pub events: usize,
    /// Stalled clients: the size of each published event's data.
    #[serde(default = "default_event_bytes")]
    pub event_bytes: usize,
}

fn default_streams() -> usize {
    100
}

fn default_stalled() -> usize {
    5
}

fn default_dropped() -> usize {
    20
}

fn default_events() -> usize {
    200
}

fn default_event_bytes() -> usize {
    16 * 1024
}

fn default_within_ms() -> u64 {
    500
}

fn default_max_gap_ms() -> u64 {
    15_000
}

fn default_seconds() -> f64 {
    2.0
}

/// Loads every check of a directory, sorted by id; each must name known requirements.
pub fn load(dir: &Path, catalogue: &crate::Catalogue) -> Result<Vec<ServerCheck>, LoadError> {
    let mut checks = Vec::new();
    for path in crate::files_with_extension(dir, "toml")? {
        let invalid = |reason: String| LoadError::Invalid {
            path: path.clone(),
            reason,
        };
        let mut check: ServerCheck =
            toml::from_str(&crate::read(&path)?).map_err(|e| invalid(e.to_string()))?;
        check.id = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if check.checks.is_empty() {
            return Err(invalid("a check names the requirements it checks".into()));
        }
        if let Some(unknown) = check
            .checks
            .iter()
            .find(|id| catalogue.requirement(id).is_none())
        {
            return Err(invalid(format!("unknown requirement {unknown}")));
        }
        if !(0.1..=120.0).contains(&check.seconds) {
            return Err(invalid("seconds must be 0.1 to 120".into()));
        }
        if !(1..=1000).contains(&check.streams)
            || check.stalled > 100
            || check.dropped > 1000
            || check.events > 10_000
            || !(1..=60_000).contains(&check.event_bytes)
        {
            return Err(invalid(
                "streams 1 to 1000, stalled up to 100, dropped up to 1000, events up to 10000, event_bytes 1 to 60000".into(),
            ));
        }
        checks.push(check);
    }
    checks.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(checks)
}

/// The checks of the workspace this crate was built in (`fixtures/server-checks/`).
pub fn load_default(catalogue: &crate::Catalogue) -> Result<Vec<ServerCheck>, LoadError> {
    load(&catalogue.root.join("fixtures/server-checks"), catalogue)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_checks_load_and_name_known_requirements() {
        let catalogue = crate::Catalogue::load_default().unwrap_or_else(|e| panic!("{e}"));
        let checks = load_default(&catalogue).unwrap_or_else(|e| panic!("{e}"));
        let probes: BTreeSet<String> = checks.iter().map(|c| format!("{:?}", c.probe)).collect();
        assert_eq!(probes.len(), 8, "every probe has a check: {probes:?}");
        let dir = std::env::temp_dir().join(format!("sse-server-checks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(
            dir.join("bad.toml"),
            "checks = [\"NO-SUCH-RULE\"]\nabout = \"x\"\nprobe = \"head\"\n",
        )
        .expect("write");
        let err = load(&dir, &catalogue).expect_err("unknown requirement");
        assert!(err.to_string().contains("NO-SUCH-RULE"), "{err}");
        std::fs::write(
            dir.join("bad.toml"),
            "checks = [\"STREAM-MIME\"]\nabout = \"x\"\nprobe = \"sniff\"\n",
        )
        .expect("write");
        assert!(load(&dir, &catalogue).is_err(), "unknown probe");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
