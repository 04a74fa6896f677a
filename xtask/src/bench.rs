//! `cargo xtask bench`: parser throughput against named peers, in one run, into BENCHMARKS.md.
//!
//! Runs the criterion bench `sse-model/benches/parse.rs` (our parser, the `eventsource-stream`
//! crate and a `memchr` newline count), then the npm `eventsource-parser` package under Node on the
//! very bytes the bench wrote to `target/bench-data/`, and writes the figures as ratios.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

mod hostile;
use serde::Deserialize;

/// Which benchmark sets to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Only {
    /// The parser against eventsource-stream, eventsource-parser and memchr.
    Parser,
    /// The reference server against a minimal axum server, on loopback.
    Server,
    /// The simulator: the case catalogue and the chaos property against real time.
    Sim,
    /// The harness: judging against simulating, the loopback catalogue against real time.
    Harness,
    /// The reference server under the hostile inputs that once hurt it, beside axum.
    Hostile,
}

pub(crate) fn run(root: &Path, mib: usize, write: bool, only: Option<Only>) -> Result<bool> {
    let mut ok = true;
    if only.is_none() || only == Some(Only::Parser) {
        ok &= parser(root, mib, write)?;
    }
    if only.is_none() || only == Some(Only::Server) {
        ok &= server(root, write)?;
    }
    if only.is_none() || only == Some(Only::Sim) {
        ok &= sim(root, write)?;
    }
    if only.is_none() || only == Some(Only::Harness) {
        ok &= harness(root, write)?;
    }
    if only.is_none() || only == Some(Only::Hostile) {
        ok &= hostile::run(root, write)?;
    }
    Ok(ok)
}

fn markers(name: &str) -> (String, String) {
    (
        format!("<!-- {name}:start (written by cargo xtask bench) -->"),
        format!("<!-- {name}:end -->"),
    )
}

/// The implementations the criterion bench measures, as named in its groups.
const CRITERION_PEERS: &[(&str, &str)] = &[
    ("sse-model", "sse-model (borrowed events)"),
    ("sse-model-owned", "sse-model (owned String events)"),
    ("eventsource-stream", "eventsource-stream 0.2 (Rust crate)"),
    (
        "memchr-newlines",
        "memchr newline count (bandwidth ceiling)",
    ),
];

#[derive(Debug, Deserialize)]
struct Estimates {
    median: Estimate,
}

#[derive(Debug, Deserialize)]
struct Estimate {
    point_estimate: f64,
}

#[derive(Debug, Deserialize)]
struct NodeResult {
    bytes: u64,
    version: String,
    node: String,
    events: u64,
    median_ns: f64,
    strings_median_ns: f64,
}

struct Figure {
    name: String,
    ns: f64,
}

fn parser(root: &Path, mib: usize, write: bool) -> Result<bool> {
    let (start, end) = markers("parser-bench");
    cargo_bench(
        root,
        "sse-model",
        "parse",
        &[("SSE_BENCH_MIB", mib.to_string())],
    )?;
    let node_dir = install_node_peers(root)?;
    let mut section = String::new();
    let _ = writeln!(section, "{start}");
    let _ = writeln!(section, "## Parser throughput\n");
    let _ = writeln!(
        section,
        "Command: `cargo xtask bench --mib {mib}` (criterion medians; Node figures are the median of 10 runs after 2 warm-ups). \
         Every input is {mib} MiB fed in 64 KiB chunks; all implementations parse the same bytes in the same run.\n"
    );
    let _ = writeln!(
        section,
        "Machine: {}; {}.\n",
        machine(),
        toolchain(root, &node_dir)
    );
    let mut all_ok = true;
    for input in ["small", "large"] {
        let data = root.join(format!("target/bench-data/{input}.sse"));
        let bytes = std::fs::read(&data).with_context(|| format!("reading {}", data.display()))?;
        let events = count_events(&bytes)?;
        let mut figures = Vec::new();
        for (id, name) in CRITERION_PEERS {
            let path = root.join(format!(
                "target/criterion/parse-{input}/{id}/new/estimates.json"
            ));
            let est: Estimates = read_json(&path)?;
            figures.push(Figure {
                name: (*name).to_owned(),
                ns: est.median.point_estimate,
            });
        }
        let node = run_node(&node_dir, &data)?;
        if node.events != events || node.bytes != bytes.len() as u64 {
            all_ok = false;
            eprintln!(
                "eventsource-parser counted {} events in {} bytes; sse-model {events} in {}",
                node.events,
                node.bytes,
                bytes.len()
            );
        }
        figures.push(Figure {
            name: format!(
                "eventsource-parser {} (npm, Node {}), bytes + TextDecoder",
                node.version, node.node
            ),
            ns: node.median_ns,
        });
        figures.push(Figure {
            name: format!(
                "eventsource-parser {} (npm, Node {}), pre-decoded strings",
                node.version, node.node
            ),
            ns: node.strings_median_ns,
        });
        write_table(&mut section, input, bytes.len(), events, &figures);
    }
    let _ = writeln!(section, "{end}");
    crate::say(&section);
    if write {
        update_benchmarks_md(root, "parser-bench", &section)?;
        crate::say("updated BENCHMARKS.md\n");
    }
    Ok(all_ok)
}

#[derive(Debug, Deserialize)]
struct ServerBench {
    idle_streams: u64,
    h2_streams_per_connection: u64,
    subscribers: u64,
    events: u64,
    event_bytes: u64,
    results: Vec<ServerResult>,
}

#[derive(Debug, Deserialize)]
struct ServerResult {
    peer: String,
    h1_rss_per_stream: f64,
    h1_heap_per_stream: f64,
    h2_rss_per_stream: f64,
    h2_heap_per_stream: f64,
    events_per_sec: f64,
}

/// Runs `sse-server/benches/load.rs` (it starts both servers as child processes) and writes
/// its figures as ratios against the axum peer.
fn server(root: &Path, write: bool) -> Result<bool> {
    cargo_bench(root, "sse-server", "load", &[])?;
    let path = root.join("target/server-bench.json");
    let bench: ServerBench = read_json(&path)?;
    let find = |peer: &str| bench.results.iter().find(|r| r.peer == peer);
    let (Some(ours), Some(axum)) = (find("ours"), find("axum")) else {
        bail!("{} lacks the ours/axum results", path.display());
    };
    let (start, end) = markers("server-bench");
    let mut s = String::new();
    let _ = writeln!(s, "{start}");
    let _ = writeln!(s, "## Reference server on loopback\n");
    let _ = writeln!(
        s,
        "Command: `cargo xtask bench --only server` (runs `cargo bench -p sse-server --bench load`). Both servers run in child processes \
         with one tokio worker thread; the peer is a minimal axum 0.8 `Sse` server with the same topic endpoints (broadcast channel, \
         keep-alive on, no replay log). Machine: {}.\n",
        machine()
    );
    let _ = writeln!(s, "| measure | sse-server | axum | sse-server / axum |");
    let _ = writeln!(s, "| --- | ---: | ---: | ---: |");
    let row = |s: &mut String, what: String, a: f64, b: f64, unit: &str| {
        let _ = writeln!(
            s,
            "| {what} | {a:.0} {unit} | {b:.0} {unit} | {:.2} |",
            a / b
        );
    };
    row(
        &mut s,
        format!(
            "RSS per idle stream, {} HTTP/1.1 connections",
            bench.idle_streams
        ),
        ours.h1_rss_per_stream,
        axum.h1_rss_per_stream,
        "B",
    );
    row(
        &mut s,
        "live heap per idle stream, same".to_owned(),
        ours.h1_heap_per_stream,
        axum.h1_heap_per_stream,
        "B",
    );
    row(
        &mut s,
        format!(
            "RSS per idle stream, {} streams as {} per HTTP/2 connection",
            bench.idle_streams, bench.h2_streams_per_connection
        ),
        ours.h2_rss_per_stream,
        axum.h2_rss_per_stream,
        "B",
    );
    row(
        &mut s,
        "live heap per idle stream, same".to_owned(),
        ours.h2_heap_per_stream,
        axum.h2_heap_per_stream,
        "B",
    );
    row(
        &mut s,
        format!(
            "events/s delivered, {} events of {} B to {} subscribers",
            bench.events, bench.event_bytes, bench.subscribers
        ),
        ours.events_per_sec,
        axum.events_per_sec,
        "",
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Lower is better for memory, higher for events/s. Over HTTP/1.1 most of the per-stream cost is hyper's own connection \
         buffers (an 8 KiB read buffer and an 8 KiB header buffer per connection), which both servers share."
    );
    let _ = writeln!(s, "{end}");
    crate::say(&s);
    if write {
        update_benchmarks_md(root, "server-bench", &s)?;
        crate::say("updated BENCHMARKS.md\n");
    }
    Ok(true)
}

fn write_table(out: &mut String, input: &str, bytes: usize, events: u64, figures: &[Figure]) {
    let about = match input {
        "small" => "small events (`id`, `event` and one short JSON `data` line)",
        _ => "large events (20 `data` lines of about 100 bytes)",
    };
    let ours = figures.first().map_or(1.0, |f| f.ns);
    let _ = writeln!(out, "### {about}: {bytes} bytes, {events} events\n");
    let _ = writeln!(
        out,
        "| implementation | MB/s | events/s | sse-model is this many times faster |"
    );
    let _ = writeln!(out, "| --- | ---: | ---: | ---: |");
    for f in figures {
        let secs = f.ns / 1e9;
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.2e} | {:.2} |",
            f.name,
            bytes as f64 / secs / 1e6,
            events as f64 / secs,
            f.ns / ours
        );
    }
    let _ = writeln!(out);
}

fn count_events(bytes: &[u8]) -> Result<u64> {
    struct Count(u64);
    impl sse_model::Sink for Count {
        fn event(&mut self, _: &sse_model::Event<'_>) {
            self.0 += 1;
        }
    }
    let mut parser = sse_model::Parser::new(sse_model::Limits::UNBOUNDED);
    let mut count = Count(0);
    parser.feed(bytes, &mut count)?;
    parser.finish(&mut count)?;
    Ok(count.0)
}

/// Installs the pinned npm peers into `target/bench-node` (not the source tree).
fn install_node_peers(root: &Path) -> Result<PathBuf> {
    let dir = root.join("target/bench-node");
    std::fs::create_dir_all(&dir)?;
    for file in ["package.json", "bench.mjs"] {
        std::fs::copy(root.join("xtask/node-bench").join(file), dir.join(file))
            .with_context(|| format!("copying {file}"))?;
    }
    let status = Command::new("npm")
        .current_dir(&dir)
        .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
        .status()
        .context("running npm install (is Node.js installed?)")?;
    if !status.success() {
        bail!("npm install failed ({status})");
    }
    Ok(dir)
}

fn run_node(dir: &Path, data: &Path) -> Result<NodeResult> {
    let out = Command::new("node")
        .current_dir(dir)
        .arg("bench.mjs")
        .arg(data)
        .arg("10")
        .output()
        .context("running node")?;
    if !out.status.success() {
        bail!(
            "node bench failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).context("reading the node bench result")
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores")
}

fn toolchain(root: &Path, node_dir: &Path) -> String {
    let version = |cmd: &str, arg: &str, dir: &Path| {
        Command::new(cmd)
            .current_dir(dir)
            .arg(arg)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    format!(
        "{}, node {}",
        version("rustc", "--version", root),
        version("node", "--version", node_dir)
    )
}

fn update_benchmarks_md(root: &Path, name: &str, section: &str) -> Result<()> {
    let (start, end) = markers(name);
    let path = root.join("BENCHMARKS.md");
    let current = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n\nEvery figure is a ratio against a named peer measured in the same run, with the command that produced it.\n".to_owned());
    let updated = match (current.find(&start), current.find(&end)) {
        (Some(a), Some(b)) if a < b => format!(
            "{}{}{}",
            &current[..a],
            section.trim_end(),
            &current[b + end.len()..]
        ),
        _ => format!("{}\n\n{}", current.trim_end(), section),
    };
    std::fs::write(&path, updated).with_context(|| format!("writing {}", path.display()))
}

#[derive(Debug, Deserialize)]
struct SimBench {
    cases: u64,
    catalogue_simulated_secs: f64,
    catalogue_wall_secs: f64,
    chaos_schedules: u64,
    chaos_events: u64,
    chaos_simulated_secs: f64,
    chaos_wall_secs: f64,
}

/// Runs `sse-harness/benches/catalogue.rs` and writes the catalogue's wall time against the real
/// time the same runs would take.
fn sim(root: &Path, write: bool) -> Result<bool> {
    cargo_bench(root, "sse-harness", "catalogue", &[])?;
    let path = root.join("target/sim-bench.json");
    let b: SimBench = read_json(&path)?;
    let (start, end) = markers("sim-bench");
    let mut s = String::new();
    let _ = writeln!(s, "{start}");
    let _ = writeln!(s, "## Simulator\n");
    let _ = writeln!(
        s,
        "Command: `cargo xtask bench --only sim` (runs `cargo bench -p sse-harness --bench catalogue`, release build, one thread). \
         The peer is real time: what the same runs would take on a network. Machine: {}.\n",
        machine()
    );
    let _ = writeln!(s, "| run | simulated | wall | faster than real time |");
    let _ = writeln!(s, "| --- | ---: | ---: | ---: |");
    let _ = writeln!(
        s,
        "| the case catalogue, {} cases, once (fastest of 3) | {:.1} s | {:.3} s | {:.0}x |",
        b.cases,
        b.catalogue_simulated_secs,
        b.catalogue_wall_secs,
        b.catalogue_simulated_secs / b.catalogue_wall_secs
    );
    let _ = writeln!(
        s,
        "| the chaos property, {} schedules ({} events checked) | {:.0} s | {:.2} s | {:.0}x |",
        b.chaos_schedules,
        b.chaos_events,
        b.chaos_simulated_secs,
        b.chaos_wall_secs,
        b.chaos_simulated_secs / b.chaos_wall_secs
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Target: the whole catalogue under 5 s on 2 cores. `cargo test` runs it twice (the determinism check) in a test build with optimized dependencies."
    );
    let _ = writeln!(s, "{end}");
    crate::say(&s);
    if write {
        update_benchmarks_md(root, "sim-bench", &s)?;
        crate::say("updated BENCHMARKS.md\n");
    }
    Ok(true)
}

#[derive(Debug, Deserialize)]
struct HarnessBench {
    cases: u64,
    judge_secs: f64,
    simulate_secs: f64,
    loopback_wall_secs: f64,
    loopback_concurrency: u64,
    loopback_passed: u64,
    loopback_serial_secs: f64,
    case_durations_secs: f64,
}

/// Runs `sse-harness/benches/harness.rs`: what judging costs next to simulating, and the
/// loopback catalogue's wall time next to the real time its cases span.
fn harness(root: &Path, write: bool) -> Result<bool> {
    cargo_bench(root, "sse-harness", "harness", &[])?;
    let b: HarnessBench = read_json(&root.join("target/harness-bench.json"))?;
    let n = b.cases as f64;
    let (start, end) = markers("harness-bench");
    let mut s = String::new();
    let _ = writeln!(s, "{start}");
    let _ = writeln!(
        s,
        "## Harness
"
    );
    let _ = writeln!(
        s,
        "Command: `cargo xtask bench --only harness` (runs `cargo bench -p sse-harness --bench harness`, release build). Machine: {}.\n",
        machine()
    );
    let _ = writeln!(s, "| measure | harness | peer | harness / peer |");
    let _ = writeln!(s, "| --- | ---: | ---: | ---: |");
    let _ = writeln!(
        s,
        "| per case: deriving the expectation, judging the run, building its observed trace (fastest of 20) vs. the model's simulated run of the case | {:.1} us | {:.2} ms | {:.3} |",
        b.judge_secs * 1e6 / n,
        b.simulate_secs * 1e3 / n,
        b.judge_secs / b.simulate_secs
    );
    let _ = writeln!(
        s,
        "| the loopback catalogue, {} cases ({} pass), {} at once, vs. the same runs one after another | {:.1} s | {:.1} s | {:.2} |",
        b.cases,
        b.loopback_passed,
        b.loopback_concurrency,
        b.loopback_wall_secs,
        b.loopback_serial_secs,
        b.loopback_wall_secs / b.loopback_serial_secs
    );
    let _ = writeln!(
        s,
        "| the loopback catalogue vs. the real time its cases span (sum of their durations) | {:.1} s | {:.1} s | {:.2} |",
        b.loopback_wall_secs,
        b.case_durations_secs,
        b.loopback_wall_secs / b.case_durations_secs
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "A loopback run ends once every expected observation has been seen and a quiet period has passed (300 ms; 6 s after a client gave up or was closed, to catch a wrongful reconnection; longer where a time-based fault has yet to act), so it takes less real time than its case's duration."
    );
    let _ = writeln!(s, "{end}");
    crate::say(&s);
    if write {
        update_benchmarks_md(root, "harness-bench", &s)?;
        crate::say("updated BENCHMARKS.md\n");
    }
    Ok(b.loopback_passed == b.cases)
}

/// Runs one bench target of one package; its results are in the files it writes.
fn cargo_bench(root: &Path, package: &str, bench: &str, env: &[(&str, String)]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(&cargo)
        .current_dir(root)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(["bench", "-p", package, "--bench", bench])
        .status()
        .context("running cargo bench")?;
    if !status.success() {
        bail!("cargo bench -p {package} --bench {bench} failed ({status})");
    }
    Ok(())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}
