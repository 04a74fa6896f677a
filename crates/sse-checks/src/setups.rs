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

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use url::Url;

use crate::server_check::{self, Server, ServerCheck};
use sse_http::process as remote;
use sse_report::ServerReport;

/// How long a set-up's installation may take (a first `pip install` or `cargo build`).
const INSTALL: Duration = Duration::from_secs(900);
/// How long a started set-up has to accept connections.
const LISTEN: Duration = Duration::from_secs(30);

pub use sse_case::setup::{ReferenceOptions, Setup, load, load_default};

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
    let port = remote::free_port().map_err(|e| e.to_string())?;
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
