//! Adopting the suite in another project's CI: expected verdicts (`--expectations`,
//! `--write-expectations`), a run split into shards and merged (`--shard`, `ssec merge`), an
//! `ssec` that names its catalogue (`--version`) and runs from any directory.

mod common;

use std::path::{Path, PathBuf};

use common::ssec;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ssec-adoption-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// A lone CR ends a line (the library does not: a deterministic parser failure), a CRLF passes.
const CASES: [&str; 4] = [
    "--case",
    "stream/eol-cr@whole",
    "--case",
    "stream/eol-crlf@whole",
];

#[test]
fn written_expectations_pass_and_a_changed_one_names_the_regression() {
    let dir = scratch("expect");
    let file = dir.join("expected.toml");
    let mut args = vec!["run", "--impl", "reqwest-eventsource-loopback"];
    args.extend(CASES);
    // Without expectations the failure fails the run; the file records it.
    let mut write = args.clone();
    write.extend(["--write-expectations", path(&file)]);
    let (code, _, err) = ssec(&write, b"");
    assert_eq!(code, 1, "{err}");
    let text = std::fs::read_to_string(&file).expect("written");
    assert!(
        text.contains("\"stream/eol-cr@whole\" = \"fail\""),
        "{text}"
    );
    assert!(!text.contains("eol-crlf"), "a pass is not listed:\n{text}");
    // With them, the same verdicts agree.
    let mut judged = args.clone();
    judged.extend(["--expectations", path(&file)]);
    let (code, _, err) = ssec(&judged, b"");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("every verdict is as expected (1 known non-passing)"),
        "{err}"
    );
    // Expecting a pass where it fails is a regression, named.
    std::fs::write(&file, text.replace("\"fail\"", "\"pass\"")).expect("edit");
    let (code, _, err) = ssec(&judged, b"");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("regressions, worse than expected (1)"),
        "{err}"
    );
    assert!(
        err.contains("reqwest-eventsource-loopback stream/eol-cr@whole: expected pass, got fail"),
        "{err}"
    );
    // Expecting a failure where it passes is an improvement, apart.
    std::fs::write(
        &file,
        "[columns.reqwest-eventsource-loopback]\n\"stream/eol-cr@whole\" = { verdict = \"fail\", reason = \"lone CR\" }\n\"stream/eol-crlf@whole\" = \"fail\"\n",
    )
    .expect("edit");
    let (code, _, err) = ssec(&judged, b"");
    assert_eq!(code, 1, "{err}");
    assert!(!err.contains("regressions"), "{err}");
    assert!(err.contains("improvements, better than expected"), "{err}");
    assert!(
        err.contains("stream/eol-crlf@whole: expected fail, got pass"),
        "{err}"
    );
    // A file that is not an expectations file is a clear error, not a run.
    std::fs::write(&file, "[columns.x]\n\"a\" = \"maybe\"\n").expect("edit");
    let (code, _, err) = ssec(&judged, b"");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("expected.toml"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shards_merged_give_the_verdicts_of_one_run() {
    let dir = scratch("shards");
    let select = [
        "--impl",
        "model-sim",
        "--case",
        "stream/bom-*",
        "--case",
        "retry-*",
    ];
    let run = |extra: &[&str], out: &Path| {
        let mut args = vec!["run"];
        args.extend(select);
        args.extend(extra);
        args.extend(["--out", path(out)]);
        let (code, _, err) = ssec(&args, b"");
        assert_eq!(code, 0, "{err}");
    };
    let (one, two, whole, merged) = (
        dir.join("1"),
        dir.join("2"),
        dir.join("whole"),
        dir.join("merged"),
    );
    run(&["--shard", "1/2"], &one);
    run(&["--shard", "2/2"], &two);
    run(&[], &whole);
    let (code, _, err) = ssec(
        &["merge", path(&one), path(&two), "--out", path(&merged)],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let verdicts = |dir: &Path| -> Vec<(String, String)> {
        let text = std::fs::read_to_string(dir.join("report.json")).expect("report");
        let report: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        report["implementations"][0]["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .map(|c| (c["case"].to_string(), c["verdict"].to_string()))
            .collect()
    };
    let (a, b) = (verdicts(&one), verdicts(&two));
    assert!(!a.is_empty() && !b.is_empty(), "both shards ran cases");
    assert_eq!(verdicts(&merged), verdicts(&whole));
    assert_eq!(a.len() + b.len(), verdicts(&whole).len());
    for file in ["index.html", "junit.xml", "summary.md"] {
        assert!(merged.join(file).is_file(), "{file}");
    }
    // The same shard twice overlaps: refused, naming the case.
    let (code, _, err) = ssec(
        &["merge", path(&one), path(&one), "--out", path(&merged)],
        b"",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is in two of the reports"), "{err}");
    let (code, _, err) = ssec(&["run", "--shard", "3/2"], b"");
    assert_eq!(code, 2, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_version_names_the_compiled_in_catalogue_and_reports_record_it() {
    let (code, out, _) = ssec(&["--version"], b"");
    assert_eq!(code, 0);
    let hash = out
        .split("catalogue ")
        .nth(1)
        .and_then(|rest| rest.get(..16))
        .expect("a catalogue hash")
        .to_owned();
    let dir = scratch("version");
    let (code, _, err) = ssec(
        &["run", "--case", "status-204-fails", "--out", path(&dir)],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let report = std::fs::read_to_string(dir.join("report.json")).expect("report");
    // Inside the workspace the catalogue is the checkout, the same bytes as compiled in.
    assert!(
        report.contains(&format!("\"catalogue\": \"{hash}\"")),
        "{hash}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn outside_the_repository_it_runs_the_catalogue_compiled_in() {
    let dir = scratch("outside");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ssec"))
        .args([
            "run",
            "--impl",
            "model-sim",
            "--case",
            "retry-*",
            "--out",
            "report",
        ])
        .current_dir(&dir)
        .env_remove("SSE_CATALOGUE")
        .env("TMPDIR", &dir)
        .output()
        .expect("ssec runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.starts_with("model-sim: ") && summary.contains(" 0 fail"),
        "{summary}{err}"
    );
    // The catalogue was written out under the temporary directory, once, whole.
    let copies: Vec<_> = std::fs::read_dir(&dir)
        .expect("listed")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("sse-catalogue-")
        })
        .collect();
    assert_eq!(copies.len(), 1);
    assert!(copies[0].path().join("spec/requirements.toml").is_file());
    assert!(dir.join("report/index.html").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}
