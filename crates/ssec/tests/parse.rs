//! `ssec parse` end to end: the binary, real files and standard input.

mod common;

use common::ssec;

fn fixture(name: &str) -> String {
    format!(
        "{}/../../fixtures/streams/{name}.sse",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn file_prints_one_json_object_per_event() {
    let (code, out, err) = ssec(&["parse", &fixture("wpt-field-id-2")], b"");
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        "{\"type\":\"message\",\"data\":\"1\",\"lastEventId\":\"1\"}\n\
         {\"type\":\"message\",\"data\":\"2\",\"lastEventId\":\"1\"}\n\
         {\"type\":\"message\",\"data\":\"3\",\"lastEventId\":\"\"}\n\
         {\"type\":\"message\",\"data\":\"4\",\"lastEventId\":\"\"}\n"
    );
}

#[test]
fn stdin_and_replacement_characters() {
    let (code, out, _) = ssec(
        &["parse"],
        b"event: t\xff\ndata: a\ndata: b\n\ndata: unterminated",
    );
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "{\"type\":\"t\u{fffd}\",\"data\":\"a\\nb\",\"lastEventId\":\"\"}\n"
    );
    let (_, dash, _) = ssec(&["parse", "-"], b"data: x\n\n");
    assert_eq!(
        dash,
        "{\"type\":\"message\",\"data\":\"x\",\"lastEventId\":\"\"}\n"
    );
}

#[test]
fn verbose_adds_comments_and_retries() {
    let (code, out, _) = ssec(
        &["parse", "--verbose"],
        b": hi\nretry: 250\nid: 1\ndata: x\n\n",
    );
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "{\"kind\":\"comment\",\"text\":\" hi\"}\n\
         {\"kind\":\"retry\",\"millis\":250}\n\
         {\"type\":\"message\",\"data\":\"x\",\"lastEventId\":\"1\"}\n"
    );
}

#[test]
fn missing_file_is_a_clear_error() {
    let (code, out, err) = ssec(&["parse", "/nonexistent/stream.sse"], b"");
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.starts_with("ssec parse: cannot read /nonexistent/stream.sse:"),
        "{err}"
    );
}

#[test]
fn limit_keeps_earlier_events_and_names_the_limit() {
    let (code, out, err) = ssec(
        &["parse", "--max-line", "16"],
        b"data: ok\n\ndata: this line is too long\n\n",
    );
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "{\"type\":\"message\",\"data\":\"ok\",\"lastEventId\":\"\"}\n"
    );
    assert_eq!(
        err,
        "ssec parse: line longer than the limit of 16 bytes (IMPL-LIMITS)\n"
    );
}

#[test]
fn sim_prints_a_case_trace() {
    let case = format!(
        "{}/../../fixtures/cases/status-204-after-events.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let (code, out, err) = ssec(&["sim", &case], b"");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("0.000 request  GET /cases/status-204-after-events"),
        "{out}"
    );
    assert!(out.ends_with("error    state=CLOSED\n"), "{out}");
    let (code, _, err) = ssec(&["sim", "/nonexistent.toml"], b"");
    assert_eq!(code, 2, "a case that cannot be loaded is a usage error");
    assert!(err.starts_with("ssec sim: /nonexistent.toml:"), "{err}");
}

#[test]
fn an_input_without_events_says_so() {
    let (code, out, err) = ssec(&["parse"], b"");
    assert_eq!((code, out.as_str()), (0, ""));
    assert_eq!(
        err,
        "ssec parse: no event in the input (0 bytes: it was empty)\n"
    );
    let (code, out, err) = ssec(&["parse"], b"not found\n");
    assert_eq!((code, out.as_str()), (0, ""));
    assert_eq!(err, "ssec parse: no event in the input (10 bytes)\n");
    let (_, _, err) = ssec(&["parse"], b"data: a\n\n");
    assert_eq!(err, "", "no note when events came out");
}
