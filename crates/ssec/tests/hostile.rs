//! The harness against `ssec-hostile`, the adversary shipped beside it (loopback only): every
//! attack ends with a clear verdict, within a time bound, under 256 MiB of peak RSS (read from
//! `/proc` while the command runs), with output that stays small and carries no raw control
//! character from the implementation.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Peak RSS any command may reach.
const MAX_PEAK_KIB: u64 = 256 * 1024;

/// The adversary, killed when the test ends.
struct Hostile(Child, String);

impl Drop for Hostile {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn hostile(mode: &str, attack: &str) -> Hostile {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ssec-hostile"))
        .args([mode, attack])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssec-hostile runs");
    let mut url = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut url)
        .expect("its URL");
    Hostile(child, url.trim().to_owned())
}

/// What a command did: exit code, output, peak RSS (KiB) and time taken.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    peak_kib: u64,
    took: Duration,
}

fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs `ssec` with `args`, reading its peak RSS until it exits (at most `limit`).
fn ssec(args: &[&str], limit: Duration) -> Ran {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ssec"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ssec runs");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = r.read_to_end(&mut out);
            String::from_utf8_lossy(&out).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let mut peak = 0;
    let code = loop {
        if let Some(kib) = peak_kib(child.id()) {
            peak = peak.max(kib);
        }
        if let Ok(Some(status)) = child.try_wait() {
            break status.code();
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ssec {args:?} ran past {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ran {
        code,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        peak_kib: peak,
        took: started.elapsed(),
    }
}

fn bounded(ran: &Ran, what: &str) {
    assert!(
        ran.peak_kib < MAX_PEAK_KIB,
        "{what}: peak RSS {} MiB",
        ran.peak_kib / 1024
    );
    // The implementation's text reaches the terminal escaped: only the harness's own line
    // ends remain.
    for (name, text) in [("stdout", &ran.stdout), ("stderr", &ran.stderr)] {
        let raw = text
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\n' | '\t'));
        assert!(raw.is_none(), "{what}: raw {raw:?} on {name}");
        assert!(
            text.len() < 1 << 20,
            "{what}: {} bytes on {name}",
            text.len()
        );
    }
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

fn out_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ssec-hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `ssec run` on the `status-*` cases (19) against a hostile test service, writing a report:
/// what it did, and the report folder's size.
fn run_against(attack: &str) -> (Ran, u64) {
    let service = hostile("service", attack);
    let dir = out_dir(attack);
    let ran = ssec(
        &[
            "run",
            "--impl",
            &format!("service={}", service.1),
            "--case",
            "status-*",
            "--out",
            dir.to_str().expect("path"),
        ],
        Duration::from_secs(240),
    );
    bounded(&ran, attack);
    assert_eq!(ran.code, Some(1), "{attack}: {}", ran.stderr);
    let bytes = dir_bytes(&dir);
    assert!(
        bytes < 20 << 20,
        "{attack}: the report folder holds {bytes} bytes"
    );
    let _ = std::fs::remove_dir_all(&dir);
    (ran, bytes)
}

/// A test service that sends a 33 MB event on every stream (past the 16 MiB callback limit):
/// each case fails saying its callback was refused, the harness stays under 256 MiB and the
/// report folder under 20 MB, and the service's name (ESC, BEL, CR, LF) is printed escaped.
#[test]
fn huge_callbacks_on_every_case() {
    let (ran, _) = run_against("huge-callback");
    assert!(ran.stderr.contains("was refused"), "{}", ran.stderr);
    assert!(
        ran.stdout.contains("19 cases, 0 pass, 19 fail"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("hostile\\u{1b}[2J"), "{}", ran.stdout);
}

/// A 16.7 MB event on every stream, just under the limit: taken, judged, abridged.
#[test]
fn big_callbacks_on_every_case() {
    let (ran, _) = run_against("big-callback");
    assert!(
        ran.stdout.contains("19 cases, 0 pass, 19 fail"),
        "{}",
        ran.stdout
    );
}

/// Callbacks 2..5 of 15 MB, 1 never sent: refused past the limit, each case fails saying so.
#[test]
fn out_of_order_callbacks_with_one_missing() {
    let (ran, _) = run_against("gap");
    assert!(ran.stderr.contains("never came"), "{}", ran.stderr);
}

/// check-server and explain against a flood, a decompression bomb, a redirect loop and a
/// server that never answers: each ends in time, bounded, saying what happened.
#[test]
fn hostile_servers_get_clear_verdicts() {
    for (attack, says) in [
        ("flood", "size cap"),
        ("bomb", "fail"),
        ("redirect-loop", "more than 20 redirects"),
        ("silent", "no response"),
    ] {
        let server = hostile("server", attack);
        let url = format!("{}sse", server.1);
        let ran = ssec(
            &[
                "check-server",
                &url,
                "--publish",
                &url,
                "--seconds",
                "2",
                "--check",
                "delivery-prompt*",
                "--check",
                "head-*",
            ],
            Duration::from_secs(120),
        );
        bounded(&ran, attack);
        assert_eq!(ran.code, Some(1), "{attack}: {}{}", ran.stdout, ran.stderr);
        assert!(
            ran.stdout.contains(says) || ran.stderr.contains(says),
            "{attack}: {}{}",
            ran.stdout,
            ran.stderr
        );
        let explained = ssec(
            &["explain", &url, "--seconds", "2"],
            Duration::from_secs(60),
        );
        bounded(&explained, attack);
        assert!(
            explained.took < Duration::from_secs(30),
            "{attack}: {:?}",
            explained.took
        );
    }
}

/// check-proxy with a "proxy" that floods whatever is asked: bounded and failing.
#[test]
fn a_flooding_proxy_is_measured_within_bounds() {
    let proxy = hostile("proxy", "flood");
    let upstream = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let ran = ssec(
        &[
            "check-proxy",
            "--proxy",
            &proxy.1,
            "--upstream",
            &upstream.to_string(),
            "--idle-seconds",
            "2",
        ],
        Duration::from_secs(180),
    );
    bounded(&ran, "flooding proxy");
    assert_eq!(ran.code, Some(1), "{}{}", ran.stdout, ran.stderr);
}

/// The problem lines `ssec service-check` printed.
fn problems(ran: &Ran) -> Vec<&str> {
    ran.stdout
        .lines()
        .filter(|l| l.starts_with("problem"))
        .collect()
}

#[test]
fn service_check_names_a_service_that_never_answers_delete_in_one_line() {
    let service = hostile("service", "no-delete");
    let ran = ssec(&["service-check", &service.1], Duration::from_secs(60));
    assert_eq!(ran.code, Some(1), "{}{}", ran.stdout, ran.stderr);
    let problems = problems(&ran);
    assert_eq!(problems.len(), 1, "{}", ran.stdout);
    assert!(problems[0].contains("DELETE"), "{}", problems[0]);
    assert!(problems[0].contains("within 10s"), "{}", problems[0]);
    // What went as it should is said too: the stream was made, the callbacks came in order.
    assert!(
        ran.stdout.contains("ok       POST / made a stream"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("3 callbacks, numbered from 1"),
        "{}",
        ran.stdout
    );
}

#[test]
fn service_check_names_a_status_that_is_not_json_in_one_line() {
    let service = hostile("service", "not-json");
    let ran = ssec(&["service-check", &service.1], Duration::from_secs(30));
    assert_eq!(ran.code, Some(1), "{}{}", ran.stdout, ran.stderr);
    let problems = problems(&ran);
    assert_eq!(
        problems,
        ["problem  GET /: the answer is not JSON (expected value at line 1 column 1)"]
    );
}

#[test]
fn a_delete_the_service_never_answers_is_a_warning_in_the_output_and_the_report() {
    let service = hostile("service", "no-delete");
    let dir = std::env::temp_dir().join(format!("ssec-no-delete-{}", std::process::id()));
    let target = format!("service={}", service.1);
    let out = dir.to_string_lossy().into_owned();
    let ran = ssec(
        &[
            "run",
            "--impl",
            &target,
            "--case",
            "status-204-fails",
            "--out",
            &out,
        ],
        Duration::from_secs(90),
    );
    let printed = format!("{}{}", ran.stdout, ran.stderr);
    assert!(
        printed.lines().any(|l| l.starts_with("warning  ")),
        "{printed}"
    );
    assert!(printed.contains("status-204-fails: DELETE"), "{printed}");
    let report = std::fs::read_to_string(dir.join("report.json")).expect("report");
    assert!(report.contains("\"warnings\""), "the report keeps it");
    let html = std::fs::read_to_string(dir.join("index.html")).expect("page");
    assert!(
        html.contains("<li>warning: status-204-fails: DELETE"),
        "the page shows it"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
