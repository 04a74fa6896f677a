//! `ssec serve` end to end: the binary listens on loopback, serves a demo stream, and shuts
//! down cleanly on SIGINT.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn serves_a_demo_stream_and_stops_on_interrupt() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ssec"))
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
        .expect("ssec serve starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
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
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    assert!(child.wait().expect("ssec serve exits").success());
}
