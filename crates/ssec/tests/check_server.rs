//! `ssec check-server` end to end: every check against a deliberately broken loopback server, so
//! each can be seen to fail, and against the reference server (`ssec serve`), which passes them
//! all.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};

use common::ssec;

/// A server that answers every request with `respond(Last-Event-ID)`: a whole raw HTTP/1.1
/// response, after which it closes the connection.
fn broken_server(respond: fn(Option<&str>) -> Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(mut tcp) = tcp else { continue };
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && tcp.read(&mut byte).is_ok_and(|n| n == 1) {
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                let id = head
                    .lines()
                    .find_map(|l| l.strip_prefix("last-event-id:"))
                    .map(str::trim);
                let response = respond(id);
                let _ = tcp.write_all(&response);
                // A response that does not say it closes is held open, as a stream is.
                if !String::from_utf8_lossy(&response).contains("connection: close") {
                    std::thread::sleep(std::time::Duration::from_secs(5));
                }
            });
        }
    });
    format!("http://{addr}/stream")
}

fn response(content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n"
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// Runs `ssec check-server` and returns (exit code, output).
fn check(url: &str, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["check-server", url, "--seconds", "1"];
    args.extend_from_slice(extra);
    let (code, out, err) = ssec(&args, b"");
    (code, format!("{out}{err}"))
}

fn verdict_of<'a>(out: &'a str, check: &str) -> &'a str {
    out.lines()
        .find(|l| l.split_whitespace().nth(1) == Some(check))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no line for {check} in\n{out}"))
}

const THREE: &[u8] = b"id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c\n\n";

// spec: STREAM-MIME
#[test]
fn a_wrong_content_type_fails_the_head_check() {
    let url = broken_server(|_| response("text/plain", THREE));
    let (code, out) = check(&url, &["--check", "head-*"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(verdict_of(&out, "head-is-an-event-stream"), "fail", "{out}");
    assert!(out.contains("[STREAM-MIME]"), "{out}");
}

#[test]
fn a_known_server_failure_is_expected_and_a_new_one_is_a_regression() {
    let url = broken_server(|_| response("text/plain", THREE));
    let dir = std::env::temp_dir().join(format!("ssec-server-expect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("expected.toml");
    let file_arg = file.to_string_lossy().into_owned();
    let args = [
        "--check",
        "head-*",
        "--name",
        "mine",
        "--expectations",
        &file_arg,
    ];
    std::fs::write(
        &file,
        "[columns.mine]\n\"head-is-an-event-stream\" = \"fail\"\n",
    )
    .expect("write");
    let (code, out) = check(&url, &args);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("every verdict is as expected (1 known non-passing)"),
        "{out}"
    );
    std::fs::write(&file, "[columns.other]\n").expect("write");
    let (code, out) = check(&url, &args);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("mine head-is-an-event-stream: expected pass, got fail"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// spec: STREAM-UTF8 STREAM-FINAL-EOL STREAM-EVENT-TERMINATED
#[test]
fn bad_bytes_fail_the_format_check_and_are_shown() {
    let url = broken_server(|_| response("text/event-stream", b"data: caf\xe9\n\ndata: b"));
    let (code, out) = check(&url, &["--check", "format-*"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        verdict_of(&out, "format-utf8-and-line-ends"),
        "fail",
        "{out}"
    );
    for want in [
        "[STREAM-UTF8]",
        "[STREAM-FINAL-EOL]",
        "[STREAM-EVENT-TERMINATED]",
        "bytes: \"data: caf\\xE9\\n\\ndata: b\"",
        // The lines around the first fault, as `ssec explain` shows them.
        "as a client reads them (ssec explain):",
        "    1  data: \"caf\\u{fffd}\"",
        "[FIELD-DATA]",
    ] {
        assert!(out.contains(want), "missing {want} in\n{out}");
    }
}

// spec: SERVER-RESUME SERVER-204-STOP
#[test]
fn a_server_that_ignores_last_event_id_fails_resume_and_one_without_204_fails_the_stop() {
    // Every connection starts again at id 1, and an ended stream is served again.
    let url = broken_server(|_| response("text/event-stream", THREE));
    let (code, out) = check(&url, &["--resume", "--end-with-204"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        verdict_of(&out, "resume-after-last-event-id"),
        "fail",
        "{out}"
    );
    assert!(out.contains("a duplicate [SERVER-RESUME]"), "{out}");
    // What a client made of the resumed stream's opening, up to its first event.
    assert!(out.contains("    1  id: \"1\""), "{out}");
    assert!(out.contains("dispatch: message"), "{out}");
    assert_eq!(
        verdict_of(&out, "ended-stream-answers-204"),
        "fail",
        "{out}"
    );
    assert!(out.contains("was answered 200, not 204"), "{out}");
    // Not declared: unsupported, never a fail.
    let (code, out) = check(&url, &["--check", "resume-*", "--check", "ended-*"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        verdict_of(&out, "resume-after-last-event-id"),
        "unsupported",
        "{out}"
    );
    assert_eq!(
        verdict_of(&out, "ended-stream-answers-204"),
        "unsupported",
        "{out}"
    );
}

// spec: SERVER-SAFE-PREAMBLE
#[test]
fn a_blank_line_before_the_first_id_of_a_resumed_stream_is_flagged() {
    let url = broken_server(|id| match id {
        Some(_) => response("text/event-stream", b"retry: 100\n\nid: 2\ndata: b\n\n"),
        None => response("text/event-stream", THREE),
    });
    let (_, out) = check(&url, &["--check", "resume-*", "--resume"]);
    assert_eq!(
        verdict_of(&out, "resume-after-last-event-id"),
        "non-strict",
        "{out}"
    );
    assert!(out.contains("[SERVER-SAFE-PREAMBLE]"), "{out}");
}

// spec: SERVER-NO-BUFFERING
#[test]
fn an_event_held_back_fails_delivery() {
    // The stream's head arrives, then nothing: a buffering proxy holding events until its buffer
    // fills. Publishing is accepted, the event never comes.
    let url = broken_server(|_| {
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_vec()
    });
    let publish = broken_server(|_| {
        b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec()
    });
    let (code, out) = check(&url, &["--check", "delivery-prompt", "--publish", &publish]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(verdict_of(&out, "delivery-prompt"), "fail", "{out}");
    assert!(out.contains("did not arrive within"), "{out}");
}

/// A loopback address nobody listens on right now.
fn free_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").to_string()
}

/// Starts `program` with `args` and waits until something listens on `addr`.
fn spawn_listening(program: &str, args: &[&str], addr: &str) -> std::process::Child {
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} starts: {e}"));
    for _ in 0..50 {
        if std::net::TcpStream::connect(addr).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child
}

/// Starts `ssec serve` with `extra` options on a free loopback port; returns it and its address.
fn serve(extra: &[&str]) -> (std::process::Child, String) {
    let addr = free_address();
    let mut args = vec!["serve", "--addr", addr.as_str()];
    args.extend_from_slice(extra);
    let server = spawn_listening(env!("CARGO_BIN_EXE_ssec"), &args, &addr);
    (server, addr)
}

// spec: SERVER-NO-BUFFERING
#[test]
fn compression_without_a_flush_per_event_fails_delivery() {
    // The reference server told not to flush its compressor after each event: the field problem
    // of a compression filter in front of a stream.
    let (mut server, addr) = serve(&["--no-flush"]);
    let topic = format!("http://{addr}/topics/held");
    let (code, out) = check(&topic, &["--check", "delivery-*", "--publish", &topic]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(code, 1, "{out}");
    assert_eq!(verdict_of(&out, "delivery-prompt"), "pass", "{out}");
    assert_eq!(verdict_of(&out, "delivery-prompt-gzip"), "fail", "{out}");
    assert_eq!(verdict_of(&out, "delivery-prompt-br"), "fail", "{out}");
}

#[test]
fn a_server_that_does_not_answer_is_a_clear_failure_not_a_hang() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    let started = std::time::Instant::now();
    let (code, out) = check(&url, &["--check", "head-*"]);
    drop(listener);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no response"), "{out}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "{out}"
    );
}

#[test]
fn the_reference_server_passes_every_check() {
    let (mut server, addr) = serve(&[]);
    let stream = format!("http://{addr}/sse/1?limit=3&interval_ms=50");
    let topic = format!("http://{addr}/topics/news");
    // Everything declared, every read 1 s, but the stalled clients at their own pace.
    let declared = [
        "--resume",
        "--end-with-204",
        "--http2",
        "--publish",
        &topic,
        "--live",
        &topic,
    ];
    let mut args = declared.to_vec();
    for first in ["c*", "d*", "e*", "f*", "h*", "k*", "r*"] {
        args.extend(["--check", first]);
    }
    let (code, out) = check(&stream, &args);
    let mut args = vec!["check-server", &stream, "--check", "stalled-*"];
    args.extend(declared);
    let (code2, out2, _) = ssec(&args, b"");
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(code, 0, "{out}");
    // A 1 s read of the quiet stream is too short to judge keep-alives (informational).
    assert!(
        out.contains("11 checks, 10 pass, 0 fail, 0 non-strict, 1 informational, 0 unsupported"),
        "{out}"
    );
    assert_eq!(code2, 0, "{out2}");
    assert!(out2.contains("1 checks, 1 pass"), "{out2}");
}

/// Whether a proxy is installed (`scripts/setup` installs Debian's nginx-light and haproxy); in
/// CI (`SSE_REQUIRE_PROXIES`) it must be.
fn installed(program: &str) -> bool {
    let found = ["/usr/sbin", "/usr/bin"]
        .iter()
        .any(|d| std::path::Path::new(d).join(program).exists());
    if !found {
        assert!(
            std::env::var_os("SSE_REQUIRE_PROXIES").is_none(),
            "SSE_REQUIRE_PROXIES is set but {program} is not installed"
        );
        eprintln!("skipped: {program} is not installed");
    }
    found
}

fn nginx_installed() -> bool {
    installed("nginx")
}

/// Runs `servers/nginx/run` on a free loopback port in front of `upstream`; returns it and its
/// base URL once it listens.
fn nginx(upstream: &str, buffering: &str, read_timeout: &str) -> (std::process::Child, String) {
    proxy("nginx", &[upstream, buffering, read_timeout])
}

/// Runs `servers/NAME/run PORT ARGS...` on a free loopback port; returns it and its base URL
/// once it listens.
fn proxy(name: &str, args: &[&str]) -> (std::process::Child, String) {
    let addr = free_address();
    let port = addr.rsplit(':').next().expect("a port");
    let run = format!("{}/../../servers/{name}/run", env!("CARGO_MANIFEST_DIR"));
    let mut all = vec![port];
    all.extend_from_slice(args);
    let child = spawn_listening(&run, &all, &addr);
    (child, format!("http://{addr}"))
}

/// Runs `ssec check-proxy` through proxy `name` (`servers/NAME/run PORT UPSTREAM ARGS...`) in
/// front of a free upstream address, reading idle streams for `idle_seconds`; returns (exit
/// code, output).
fn check_proxy(name: &str, args: &[&str], idle_seconds: &str) -> (i32, String) {
    let upstream = free_address();
    let mut all = vec![upstream.as_str()];
    all.extend_from_slice(args);
    let (running, base) = proxy(name, &all);
    let (code, out, err) = ssec(
        &[
            "check-proxy",
            "--proxy",
            &base,
            "--upstream",
            &upstream,
            "--idle-seconds",
            idle_seconds,
        ],
        b"",
    );
    stop_proxy(running);
    (code, format!("{out}{err}"))
}

/// Stops a proxy: `run` execs it, so its pid is the proxy's own (nginx's master, which takes its
/// worker with it on TERM; a KILL would leave the worker behind).
fn stop_proxy(mut child: std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

// spec: SERVER-NO-BUFFERING
#[test]
fn nginx_with_proxy_buffering_on_holds_the_stream_and_off_passes() {
    if !nginx_installed() {
        return;
    }
    let (mut server, upstream) = serve(&[]);
    let mut verdicts = Vec::new();
    for buffering in ["on", "off"] {
        let (proxy, base) = nginx(&upstream, buffering, "1h");
        let url = format!("{base}/topics/through-nginx-{buffering}");
        let (_, out) = check(&url, &["--check", "delivery-prompt", "--publish", &url]);
        stop_proxy(proxy);
        verdicts.push((verdict_of(&out, "delivery-prompt").to_owned(), out));
    }
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(
        verdicts[0].0, "fail",
        "proxy_buffering on:\n{}",
        verdicts[0].1
    );
    assert_eq!(
        verdicts[1].0, "pass",
        "proxy_buffering off:\n{}",
        verdicts[1].1
    );
}

// spec: SERVER-NO-BUFFERING SERVER-RESUME SERVER-KEEPALIVE
#[test]
fn check_proxy_measures_nginx_buffering_last_event_id_and_idle_cuts() {
    if !nginx_installed() {
        return;
    }
    let run =
        |buffering: &str, read_timeout: &str| check_proxy("nginx", &[buffering, read_timeout], "3");
    let (code, out) = run("on", "1h");
    assert_eq!(code, 1, "{out}");
    assert_eq!(verdict_of(&out, "delivery"), "fail", "{out}");
    // The bytes held back, against the same topic read from the upstream directly.
    assert!(out.contains("bytes, all held back"), "{out}");
    assert_eq!(verdict_of(&out, "last-event-id-passes"), "pass", "{out}");
    let (code, out) = run("off", "1h");
    assert_eq!(code, 0, "{out}");
    for m in [
        "delivery",
        "delivery-gzip",
        "delivery-br",
        "headers-and-bytes",
        "idle-cut",
    ] {
        assert_eq!(verdict_of(&out, m), "pass", "{m}: {out}");
    }
    assert!(out.contains("headers dropped: x-accel-buffering"), "{out}");
    assert!(out.contains("; nothing held back"), "{out}");
    let (_, out) = run("off", "1s");
    assert_eq!(verdict_of(&out, "idle-cut"), "informational", "{out}");
    assert!(
        out.contains("the proxy cut a silent stream after 1."),
        "{out}"
    );
}

/// A directory with one keep-alive check that allows `max_gap_ms` of silence and reads for
/// `seconds`: the shipped one reads 20 s, too long for a test.
fn keep_alive_check(max_gap_ms: u64, seconds: f64) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ssec-keep-alive-{}-{max_gap_ms}-{}",
        std::process::id(),
        (seconds * 1000.0) as u64
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(
        dir.join("keep-alive.toml"),
        format!(
            "checks = [\"SERVER-KEEPALIVE\"]\nabout = \"test\"\nprobe = \"keep-alive\"\nseconds = {seconds}\nmax_gap_ms = {max_gap_ms}\n"
        ),
    )
    .expect("write the check");
    dir
}

// spec: SERVER-KEEPALIVE
#[test]
fn a_silent_stream_is_flagged_and_a_kept_alive_one_passes() {
    let dir = keep_alive_check(1500, 3.5);
    let dir = dir.to_string_lossy().into_owned();
    // One event, then silence while the connection stays open.
    let silent = broken_server(|_| {
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n9\r\ndata: a\n\n\r\n"
            .to_vec()
    });
    let (code, out, _) = ssec(&["check-server", &silent, "--checks-dir", &dir], b"");
    assert_eq!(code, 0, "non-strict is not a failure: {out}");
    assert_eq!(verdict_of(&out, "keep-alive"), "non-strict", "{out}");
    assert!(out.contains("without a byte"), "{out}");
    let (mut server, addr) = serve(&["--keep-alive-secs", "1"]);
    let url = format!("http://{addr}/topics/quiet");
    let (code, out, _) = ssec(&["check-server", &url, "--checks-dir", &dir], b"");
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(code, 0, "{out}");
    assert_eq!(verdict_of(&out, "keep-alive"), "pass", "{out}");
}

// spec: SERVER-KEEPALIVE
#[test]
fn haproxy_cuts_a_quiet_stream_and_keep_alives_defeat_its_timeout() {
    if !installed("haproxy") {
        return;
    }
    // check-proxy: a silent stream is cut after HAProxy's `timeout server`.
    let (_, out) = check_proxy("haproxy", &["1s"], "3");
    assert_eq!(verdict_of(&out, "idle-cut"), "informational", "{out}");
    assert!(
        out.contains("the proxy cut a silent stream after 1."),
        "{out}"
    );
    // check-server through HAProxy: the reference server's keep-alive comments (every second)
    // keep the stream open past a 2 s timeout.
    let (mut server, addr) = serve(&["--keep-alive-secs", "1"]);
    let (haproxy, base) = proxy("haproxy", &[&addr, "2s"]);
    let dir = keep_alive_check(1500, 4.0);
    let url = format!("{base}/topics/kept-alive");
    let (code, out, _) = ssec(
        &["check-server", &url, "--checks-dir", &dir.to_string_lossy()],
        b"",
    );
    stop_proxy(haproxy);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(code, 0, "{out}");
    assert_eq!(verdict_of(&out, "keep-alive"), "pass", "{out}");
}

// spec: SERVER-NO-BUFFERING SERVER-RESUME
#[test]
fn check_proxy_measures_caddy_compressing_in_front() {
    if !installed("caddy") {
        return;
    }
    let (_, out) = check_proxy("caddy", &[], "1");
    // The upstream does not compress, so compression would be Caddy's own `encode`: measured on
    // Debian's 2.6.2, it leaves an event stream uncompressed, and events arrive promptly.
    for m in ["delivery", "delivery-gzip", "delivery-br", "delivery-zstd"] {
        assert_eq!(verdict_of(&out, m), "pass", "{m}: {out}");
    }
    assert!(!out.contains("Content-Encoding"), "{out}");
    assert_eq!(verdict_of(&out, "last-event-id-passes"), "pass", "{out}");
    assert_eq!(verdict_of(&out, "headers-and-bytes"), "pass", "{out}");
}

// spec: STREAM-MIME
#[test]
fn out_writes_the_report_with_the_server_as_its_column() {
    let url = broken_server(|_| response("text/plain", THREE));
    let dir = std::env::temp_dir().join(format!("ssec-check-out-{}", std::process::id()));
    let dir_text = dir.to_string_lossy().into_owned();
    let (code, out) = check(
        &url,
        &["--check", "head-*", "--out", &dir_text, "--name", "broken"],
    );
    assert_eq!(code, 1, "{out}");
    let junit = std::fs::read_to_string(dir.join("junit.xml")).expect("junit.xml");
    assert!(
        junit.contains("testsuite name=\"server:broken\""),
        "{junit}"
    );
    assert!(junit.contains("<failure"), "{junit}");
    let json = std::fs::read_to_string(dir.join("report.json")).expect("report.json");
    assert!(json.contains("\"STREAM-MIME\""), "{json}");
    let summary = std::fs::read_to_string(dir.join("summary.md")).expect("summary.md");
    assert!(summary.contains("| broken |"), "{summary}");
    assert!(dir.join("index.html").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}
