//! Servers and proxies under test, as data (`servers/setups.toml`): how to install and start
//! each on loopback, which of its URLs are streams, and what it declares it supports. Each
//! set-up is a column of `cargo xtask report --servers`, judged by the server checks of
//! [`crate::server_check`].
//!
//! ```toml
//! [[setup]]
//! id = "nginx-buffering-on"
//! name = "nginx, proxy_buffering on"
//! about = "nginx in front of the reference server, buffering as it does by default."
//! setup = []                                   # a command that installs what it needs
//! command = ["servers/nginx/run", "{port}", "{upstream}", "on"]
//! upstream = true                              # put the reference server behind it
//! version_command = "nginx -v 2>&1"
//! stream = "/sse/1?limit=10&interval_ms=100"   # the stream most checks read
//! live = "/topics/report"                      # quiet unless published to
//! publish = "/topics/report"                   # POST a JSON string: an event
//! declares = ["resume", "end-with-204", "publish"]
//! ```
//!
//! Commands run from the workspace root: `{port}` is a free loopback port the set-up must listen
//! on, `{upstream}` the address of the reference server the harness runs behind a proxy,
//! `{target}` Cargo's target directory. A set-up without a command is the reference server
//! itself, run in process. A set-up that cannot be installed or started here is a column marked
//! unavailable with its reason, never a crash.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::LoadError;
use crate::server_check::Declaration;

/// One server or proxy under test.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// Column id.
    pub id: String,
    /// Its name in reports.
    pub name: String,
    /// What it is and how it is configured, in one sentence.
    pub about: String,
    /// A command that installs what it needs, run before it starts.
    #[serde(default)]
    pub setup: Vec<String>,
    /// The command that serves in the foreground on `127.0.0.1:{port}`; none: the reference
    /// server, in process.
    #[serde(default)]
    pub command: Vec<String>,
    /// A proxy: the harness runs the reference server behind it (`{upstream}`).
    #[serde(default)]
    pub upstream: bool,
    /// How the reference server differs from shipped, where it is this set-up or its upstream.
    #[serde(default)]
    pub reference: ReferenceOptions,
    /// A shell command whose first line of output names the version.
    #[serde(default)]
    pub version_command: Option<String>,
    /// Path and query of the stream most checks read.
    pub stream: String,
    /// Path of a stream that is quiet unless something is published to it.
    #[serde(default)]
    pub live: Option<String>,
    /// Path that publishes an event to `live` (`POST`, a JSON string).
    #[serde(default)]
    pub publish: Option<String>,
    /// What it supports (`resume`, `end-with-204`, `publish`, `http2`).
    #[serde(default)]
    pub declares: BTreeSet<Declaration>,
}

/// The reference server's options a set-up may change (`[setup.reference]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceOptions {
    /// Seconds between keep-alive comments (shipped: 15).
    #[serde(default)]
    pub keep_alive_secs: Option<u64>,
    /// Bytes of padding comment at the start of each stream (shipped: none).
    #[serde(default)]
    pub padding: Option<usize>,
    /// Whether it compresses (shipped: yes, with a flush per event).
    #[serde(default)]
    pub compression: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    setup: Vec<Setup>,
}

/// Loads the set-ups of a file; ids must be unique and paths must start with `/`.
pub fn load(path: &Path) -> Result<Vec<Setup>, LoadError> {
    let invalid = |reason: String| LoadError::Invalid {
        path: path.to_owned(),
        reason,
    };
    let file: File = toml::from_str(&crate::read(path)?).map_err(|e| invalid(e.to_string()))?;
    let mut seen = BTreeSet::new();
    for s in &file.setup {
        if !seen.insert(s.id.as_str()) {
            return Err(invalid(format!("two set-ups are called {}", s.id)));
        }
        for p in std::iter::once(&s.stream).chain(&s.live).chain(&s.publish) {
            if !p.starts_with('/') {
                return Err(invalid(format!("{}: {p:?} must start with /", s.id)));
            }
        }
        if s.declares.contains(&Declaration::Publish) != s.publish.is_some() {
            return Err(invalid(format!(
                "{}: declares publish exactly when it has a publish path",
                s.id
            )));
        }
        if s.upstream && s.command.is_empty() {
            return Err(invalid(format!(
                "{}: a proxy needs the command that starts it",
                s.id
            )));
        }
    }
    Ok(file.setup)
}

/// The set-ups of the workspace (`servers/setups.toml`).
pub fn load_default(root: &Path) -> Result<Vec<Setup>, LoadError> {
    load(&root.join("servers/setups.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_set_ups_load() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let setups = load_default(&root).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            setups
                .iter()
                .any(|s| s.id == "reference" && s.command.is_empty())
        );
        for s in &setups {
            if let Some(program) = s.command.first().filter(|p| p.starts_with("servers/")) {
                assert!(root.join(program).is_file(), "{}: {program} exists", s.id);
            }
        }
    }

    #[test]
    fn a_bad_set_up_file_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("sse-setups-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("setups.toml");
        let one = "[[setup]]\nid = \"a\"\nname = \"a\"\nabout = \"a\"\nstream = \"/s\"\n";
        std::fs::write(&path, format!("{one}{one}")).expect("write");
        let err = load(&path).expect_err("duplicate ids");
        assert!(err.to_string().contains("two set-ups"), "{err}");
        std::fs::write(&path, one.replace("/s", "s")).expect("write");
        assert!(load(&path).is_err(), "a path without /");
        std::fs::write(&path, format!("{one}declares = [\"publish\"]\n")).expect("write");
        assert!(load(&path).is_err(), "publish declared without a path");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
