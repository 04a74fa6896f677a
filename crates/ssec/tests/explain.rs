//! `ssec explain` end to end: the binary on standard input, a fixture file and a live stream from
//! the reference server on loopback.

use std::process::{Command, Stdio};

mod common;

use common::ssec;

#[test]
fn each_line_is_annotated_with_its_rule_and_where_browsers_differ() {
    let (code, out, err) = ssec(
        &["explain"],
        b"id: 42\n\ndata: a\nid: 7\0\ndata: b\n\nretry: 100\ndata: tail",
    );
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    for want in [
        "no data: nothing dispatched, but the last event ID becomes 42  [DISPATCH-EMPTY-DATA DISPATCH-ID-WITHOUT-DATA]",
        "! Firefox ESR 140 and npm eventsource 4.1.1 lose this id",
        "id holds U+0000: the whole field is ignored  [FIELD-ID-NULL]",
        "dispatch: message type=message lastEventId=42 data=\"a\\nb\"",
        "reconnection time = 100 ms",
        "! Firefox ESR 140 waits at least 500 ms",
        "the last line has no line end: discarded  [PARSE-EOF-DISCARD]",
        "violation STREAM-FINAL-EOL at byte",
        "1 event dispatched; last event ID \"42\"; reconnection time 100 ms",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
}

#[test]
fn json_has_every_step_with_buffers() {
    let file = format!(
        "{}/../../fixtures/streams/wpt-field-id-2.sse",
        env!("CARGO_MANIFEST_DIR")
    );
    let (code, out, _) = ssec(&["explain", "--json", &file], b"");
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    let steps = v["steps"].as_array().expect("steps");
    assert!(!steps.is_empty());
    let events: Vec<&serde_json::Value> = steps.iter().filter(|s| !s["event"].is_null()).collect();
    assert!(!events.is_empty(), "{out}");
    for s in steps {
        assert!(s["rules"].as_array().is_some_and(|r| !r.is_empty()), "{s}");
        assert!(s["buffers"]["lastEventId"].is_string(), "{s}");
    }
}

#[test]
fn a_live_stream_is_read_for_a_while_and_a_non_loopback_url_is_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let mut server = Command::new(env!("CARGO_BIN_EXE_ssec"))
        .args(["serve", "--addr", &addr.to_string(), "--interval-ms", "50"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssec serve runs");
    let url = format!("http://{addr}/sse/1");
    // The server takes a moment to listen.
    let mut out = String::new();
    for _ in 0..50 {
        let (code, o, _) = ssec(&["explain", &url, "--seconds", "0.4"], b"");
        if code == 0 {
            out = o;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        out.contains("response 200  content-type \"text/event-stream\""),
        "{out}"
    );
    assert!(out.contains("stopped after 400ms (--seconds)"), "{out}");
    assert!(
        out.contains("reading stopped here (the stream had not ended)"),
        "{out}"
    );
    assert!(out.contains("lastEventId=1 data="), "{out}");
    assert!(
        !out.contains("STREAM-EVENT-TERMINATED"),
        "a cut stream is not blamed: {out}"
    );
    let (code, _, err) = ssec(&["explain", "http://192.0.2.1/"], b"");
    assert_eq!(code, 2);
    assert!(err.contains("loopback"), "{err}");
}

/// `--json` on a flood of tiny events writes each step as it goes: 1 MiB of `data:x` blocks
/// (262,144 lines) is explained under a 48 MiB heap limit (`prlimit --data`, util-linux), where
/// building the whole JSON first took over 1 GiB. The output is every line, valid JSON.
#[test]
fn explain_json_memory_stays_near_the_input_s() {
    let dir = std::env::temp_dir().join(format!("ssec-explain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("flood.sse");
    std::fs::write(&file, "data:x\n\n".repeat(131_072)).expect("write the flood");
    let out = Command::new("prlimit")
        .arg(format!("--data={}", 48 << 20))
        .arg(env!("CARGO_BIN_EXE_ssec"))
        .args(["explain", "--json"])
        .arg(&file)
        .output()
        .expect("prlimit (util-linux) runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["steps"].as_array().map(Vec::len), Some(262_144));
    assert_eq!(
        v["steps"][262_143]["note"],
        "dispatch: message type=message lastEventId=\"\" data=\"x\""
    );
}

/// A data buffer that only grows is shown abridged on each step, with its length: the output
/// grows with the input, not with its square.
#[test]
fn a_long_data_buffer_is_abridged_in_each_step() {
    let body = "data: 0123456789\n".repeat(2000);
    let (code, out, _) = ssec(&["explain", "--json"], body.as_bytes());
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    let last = &v["steps"][1999]["buffers"];
    assert_eq!(last["dataBytes"], 22_000);
    assert!(
        last["data"]
            .as_str()
            .is_some_and(|d| d.len() < 400 && d.ends_with("… [22000 bytes in all]")),
        "{last}"
    );
    assert!(out.len() < body.len() * 40, "{} bytes of output", out.len());
    assert_eq!(v["discardedData"].as_str().map(str::len), Some(21_999));
}

/// What the server sent reaches the terminal with control characters and bidi overrides shown
/// as escapes, whatever line it is on.
#[test]
fn server_text_cannot_reorder_or_move_the_terminal() {
    let (code, out, _) = ssec(
        &["explain"],
        "x\u{202e}y: 1\ndata: a\u{202e}b\u{1b}[2J\n\nid: \u{2066}7\n\ndata: tail\u{202e}"
            .as_bytes(),
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        !out.chars()
            .any(|c| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{1b}')),
        "{out}"
    );
    assert!(out.contains("\\u{202e}"), "{out}");
}
