//! `ssec run` from the command line: the forms `--impl` takes are listed, two columns of one
//! name are refused, and `--json` still ends with the summary (on standard error).

mod common;

use common::ssec;

#[test]
fn help_lists_every_form_of_impl() {
    let (code, out, _) = ssec(&["run", "--help"], b"");
    assert_eq!(code, 0);
    for form in [
        "model-sim",
        "model-loopback",
        "chromium",
        "firefox",
        "eventsource-client-sim",
        "reqwest-eventsource-loopback",
        "service=URL",
        "adapter:NAME",
        "all",
    ] {
        assert!(out.contains(form), "{form} missing from\n{out}");
    }
}

#[test]
fn two_columns_of_one_name_are_refused() {
    let (code, _, err) = ssec(&["run", "--impl", "model-sim", "--impl", "model-sim"], b"");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("would both be the column model-sim"), "{err}");
}

#[test]
fn json_output_still_ends_with_the_summary() {
    let (code, out, err) = ssec(&["run", "--case", "status-204-fails", "--json"], b"");
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("one JSON report");
    assert_eq!(report["implementations"][0]["id"], "model-sim");
    assert!(err.contains("model-sim: 1 cases, 1 pass"), "{err}");
}
