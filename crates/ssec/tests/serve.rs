//! `ssec serve` end to end: the binary listens on loopback, serves a demo stream, and shuts
//! down cleanly on SIGINT; durations and sizes out of range are refused at the command line.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The server process, killed when the test ends however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    /// Waits for the process to exit, at most `limit`.
    fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

#[test]
fn durations_and_sizes_out_of_range_are_refused() {
    for args in [
        ["--padding", "1000000000000"],
        ["--padding", "18446744073709551615"],
        ["--padding", "65537"],
        ["--max-streams", "0"],
        ["--max-streams", "18446744073709551615"],
        ["--keep-alive-secs", "18446744073709551615"],
        ["--interval-ms", "0"],
        ["--interval-ms", "99999999999"],
        ["--retry-ms", "99999999999"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_ssec"))
            .arg("serve")
            .args(args)
            .output()
            .expect("ssec runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not in"), "{args:?}: {err}");
    }
}

#[test]
fn a_cases_dir_that_cannot_be_read_is_an_error_at_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_ssec"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--cases-dir",
            "/nonexistent",
        ])
        .output()
        .expect("ssec runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ssec serve: /nonexistent:"), "{err}");
}

#[test]
fn serves_a_demo_stream_and_stops_on_interrupt() {
    serve_and_stop("-INT");
}

#[test]
fn stops_as_cleanly_on_terminate() {
    serve_and_stop("-TERM");
}

fn serve_and_stop(signal: &str) {
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_ssec"))
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--interval-ms",
                "10",
                "--retry-ms",
                "250",
            ])
            .stderr(Stdio::piped())
            .spawn()
            .expect("ssec serve starts"),
    );
    let mut stderr = BufReader::new(child.0.stderr.take().expect("stderr"));
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).expect("log line") > 0,
            "ssec serve exited before listening"
        );
        if let Some(rest) = line.split("open http://").nth(1) {
            break rest.split('/').next().expect("address").to_owned();
        }
    };
    let mut conn = TcpStream::connect(&addr).expect("connect to ssec serve");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        conn,
        "GET /sse/1?limit=3 HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    conn.read_to_string(&mut response).expect("whole response");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response.contains("content-type: text/event-stream\r\n"),
        "{response}"
    );
    assert!(response.contains("retry: 250\n"), "{response}");
    assert!(response.contains("id: 3\ndata: 640283\n\n"), "{response}");
    // Cases that redirect across origins go to the second address, which is this server too.
    let fetch = |addr: &str, target: &str| {
        let mut conn = TcpStream::connect(addr).expect("connect to ssec serve");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        write!(
            conn,
            "GET {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
        )
        .expect("request");
        let mut head = String::new();
        let mut reader = BufReader::new(conn);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).expect("head") == 0 || line == "\r\n" {
                break head;
            }
            head.push_str(&line);
        }
    };
    let head = fetch(&addr, "/cases/cors-redirect-taints-origin-null?run=t");
    assert!(head.starts_with("HTTP/1.1 307"), "{head}");
    let location = head
        .lines()
        .find_map(|l| l.strip_prefix("location: http://"))
        .expect("a Location to the second origin");
    let (other, target) = location.split_at(location.find('/').expect("a path"));
    assert_ne!(other, addr, "another origin");
    assert_eq!(
        target,
        "/cases/cors-redirect-taints-origin-null?hop=1&run=t"
    );
    let head = fetch(other, target);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("access-control-allow-origin: null"), "{head}");
    let status = Command::new("kill")
        .args([signal, &child.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let status = child
        .wait(Duration::from_secs(10))
        .expect("ssec serve exits within 10 s of the signal");
    assert!(status.success());
}
