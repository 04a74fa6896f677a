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
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::LoadError;
use crate::remote;
use crate::report::ServerReport;
use crate::server_check::{self, Declaration, Server, ServerCheck};

/// How long a set-up's installation may take (a first `pip install` or `cargo build`).
const INSTALL: Duration = Duration::from_secs(900);
/// How long a started set-up has to accept connections.
const LISTEN: Duration = Duration::from_secs(30);

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

/// Checks one set-up: installs it, starts it (behind or as the reference server), runs every
/// check against it, and stops it.
pub fn check(root: &Path, setup: &Setup, checks: &[ServerCheck]) -> ServerReport {
    let started = Instant::now();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return ServerReport::unavailable(setup, format!("no runtime: {e}")),
    };
    let outcome = runtime.block_on(async {
        let mut running = start(root, setup).await?;
        let results = server_check::run_all(checks, &running.server).await;
        let version = running.version.clone();
        running.stop();
        Ok::<_, String>((version, results, running.server.url.to_string()))
    });
    match outcome {
        Ok((version, results, url)) => {
            ServerReport::new(setup, version, url, results, started.elapsed())
        }
        Err(why) => ServerReport::unavailable(setup, why),
    }
}

/// Checks several set-ups, `at_once` at a time (each on loopback ports of its own; their reads
/// mostly wait, so a few at once do not disturb each other's timing), in their order.
/// `progress` hears of each as it finishes.
pub fn check_each(
    root: &Path,
    setups: &[Setup],
    checks: &[ServerCheck],
    at_once: usize,
    progress: &(dyn Fn(&ServerReport) + Sync),
) -> Vec<ServerReport> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..at_once.clamp(1, setups.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(setup) = setups.get(i) else { break };
                    let column = check(root, setup, checks);
                    progress(&column);
                    done.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((i, column));
                }
            });
        }
    });
    let mut done = done
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, c)| c).collect()
}

/// A started set-up.
struct Running {
    server: Server,
    version: String,
    child: Option<std::process::Child>,
    reference: Option<CancellationToken>,
}

impl Running {
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            remote::kill_group(&mut child);
        }
        if let Some(stop) = self.reference.take() {
            stop.cancel();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the reference server on a free loopback port; cancelling the token stops it.
async fn reference(setup: &Setup) -> Result<(std::net::SocketAddr, CancellationToken), String> {
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|e| format!("cannot listen for the reference server: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("no address: {e}"))?;
    let mut config = sse_server::Config::default();
    let options = &setup.reference;
    if let Some(secs) = options.keep_alive_secs {
        config.keep_alive = Some(Duration::from_secs(secs));
    }
    if let Some(padding) = options.padding {
        config.padding = padding;
    }
    if let Some(compression) = options.compression {
        config.compression = compression;
    }
    let server = sse_server::Server::new(config);
    let stop = CancellationToken::new();
    tokio::spawn({
        let stop = stop.clone();
        async move {
            server
                .serve(listener, stop, Duration::from_millis(200))
                .await;
        }
    });
    Ok((addr, stop))
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Replaces `{port}`, `{upstream}` and `{target}` in a command's words.
fn fill(words: &[String], port: u16, upstream: Option<&str>, target: &Path) -> Vec<String> {
    words
        .iter()
        .map(|w| {
            w.replace("{port}", &port.to_string())
                .replace("{upstream}", upstream.unwrap_or(""))
                .replace("{target}", &target.to_string_lossy())
        })
        .collect()
}

/// A program named by a path relative to the workspace root is found there; a bare name on
/// the PATH.
fn program_path(root: &Path, program: &str) -> PathBuf {
    let path = Path::new(program);
    if program.contains('/') && path.is_relative() {
        root.join(path)
    } else {
        path.to_owned()
    }
}

async fn start(root: &Path, setup: &Setup) -> Result<Running, String> {
    let logs = std::env::temp_dir().join(format!("sse-setup-{}-{}", setup.id, std::process::id()));
    std::fs::create_dir_all(&logs).map_err(|e| format!("cannot make {}: {e}", logs.display()))?;
    let target = target_dir(root);
    if let Some((program, args)) = fill(&setup.setup, 0, None, &target).split_first() {
        let mut install = std::process::Command::new(program_path(root, program));
        install.args(args).current_dir(root);
        let log = logs.join("setup.log");
        // One installation at a time: set-ups share them (two servers on one virtualenv).
        static INSTALLING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        tokio::task::block_in_place(|| {
            let _one = INSTALLING
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            remote::run_logged(&mut install, &log, INSTALL)
        })
        .map_err(|e| format!("set-up {e}"))?;
    }
    let mut running = Running {
        server: Server {
            url: Url::parse("http://127.0.0.1/").map_err(|e| e.to_string())?,
            declares: setup.declares.clone(),
            max_bytes: 1 << 20,
            seconds: None,
            publish: None,
            live: None,
        },
        version: format!("sse-server {}", env!("CARGO_PKG_VERSION")),
        child: None,
        reference: None,
    };
    let mut upstream = None;
    if setup.command.is_empty() || setup.upstream {
        let (addr, stop) = reference(setup).await?;
        running.reference = Some(stop);
        upstream = Some(addr);
    }
    let port = remote::free_port()?;
    let upstream_text = upstream.map(|a| a.to_string());
    let words = fill(&setup.command, port, upstream_text.as_deref(), &target);
    let addr = match words.split_first() {
        None => upstream.ok_or("no reference server")?,
        Some((program, args)) => {
            let mut command = std::process::Command::new(program_path(root, program));
            command.args(args).current_dir(root);
            let log = logs.join("run.log");
            let child = remote::spawn_logged(&mut command, &log)?;
            running.child = Some(child);
            let addr = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port));
            listening(addr, running.child.as_mut(), &log).await?;
            if let Some(v) = &setup.version_command {
                running.version = version(root, v)
                    .map(|v| {
                        if setup.upstream {
                            format!("{v} + {}", running.version)
                        } else {
                            v
                        }
                    })
                    .unwrap_or_else(|| "?".into());
            } else if !setup.upstream {
                running.version = "?".into();
            }
            addr
        }
    };
    let url = |path: &str| {
        Url::parse(&format!("http://{addr}{path}")).map_err(|e| format!("{path}: {e}"))
    };
    running.server.url = url(&setup.stream)?;
    running.server.live = setup.live.as_deref().map(url).transpose()?;
    running.server.publish = setup.publish.as_deref().map(url).transpose()?;
    Ok(running)
}

/// Waits until `addr` accepts connections, or says why it never will (the command exited).
async fn listening(
    addr: std::net::SocketAddr,
    mut child: Option<&mut std::process::Child>,
    log: &Path,
) -> Result<(), String> {
    let deadline = Instant::now() + LISTEN;
    loop {
        let up = tokio::net::TcpStream::connect(addr).await.is_ok();
        // Whoever listens, the set-up must still be running: one that exited (its port taken,
        // say) leaves the port to someone else.
        if let Some(child) = child.as_deref_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("it exited ({status}){}", remote::log_tail(log)));
            }
        }
        if up {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "nothing listened on {addr} within {LISTEN:?}{}",
                remote::log_tail(log)
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The first line a version command prints.
fn version(root: &Path, command: &str) -> Option<String> {
    let out = std::process::Command::new("sh")
        .args(["-c", command])
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
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
