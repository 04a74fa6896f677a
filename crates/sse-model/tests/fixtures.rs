//! The stream fixtures of `fixtures/streams/`: each one's parse result as an insta snapshot, and
//! the chunking property: every split point and random chunkings parse exactly like the whole.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use sse_case::stream_fixture::StreamFixture as Entry;
use sse_model::lint::{Severity, check_stream};
use sse_model::trace::token;
use sse_model::{Item, Limits, Parser};

fn streams_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/streams")
}

fn manifest() -> Vec<Entry> {
    sse_case::stream_fixture::stream_fixtures(
        &sse_case::catalogue::default_root().expect("a catalogue"),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn bytes(entry: &Entry) -> Vec<u8> {
    std::fs::read(streams_dir().join(format!("{}.sse", entry.name))).expect("fixture file")
}

/// What a whole stream means to a client: its items and the last event ID after it.
fn parse(chunks: &[&[u8]]) -> (Vec<Item>, String) {
    let mut parser = Parser::new(Limits::UNBOUNDED);
    let mut items = Vec::new();
    for chunk in chunks {
        parser.feed(chunk, &mut items).expect("unbounded limits");
    }
    let last_event_id = parser.last_event_id().to_owned();
    parser.finish(&mut items).expect("unbounded limits");
    (items, last_event_id)
}

fn snapshot_text(bytes: &[u8]) -> String {
    let (items, last_event_id) = parse(&[bytes]);
    let mut out = String::new();
    for item in &items {
        writeln!(out, "{item}").expect("write to String");
    }
    writeln!(out, "end      last-event-id={}", token(&last_event_id)).expect("write to String");
    for finding in check_stream(bytes) {
        let level = match finding.severity {
            Severity::Violation => "violation",
            Severity::Warning => "warning",
        };
        let at = finding
            .offset
            .map_or_else(String::new, |o| format!(" @{o}"));
        writeln!(out, "lint     {level} {}{at}", finding.requirement).expect("write to String");
    }
    out
}

// spec: PARSE-CHUNKING PARSE-EOL-CR-SPLIT (every fixture names the rest in manifest.toml)
#[test]
fn snapshots() {
    let entries = manifest();
    assert!(
        entries.len() >= 80,
        "expected 80 or more fixtures, found {}",
        entries.len()
    );
    for entry in &entries {
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(streams_dir().join("snapshots"));
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        let origin = entry
            .origin
            .as_deref()
            .map(|o| format!(" (from {o})"))
            .unwrap_or_default();
        settings.set_description(format!(
            "{}{origin}\nchecks: {}",
            entry.about,
            entry.checks.join(" ")
        ));
        settings
            .bind(|| insta::assert_snapshot!(entry.name.as_str(), snapshot_text(&bytes(entry))));
    }
}

#[test]
fn every_file_is_in_the_manifest() {
    let listed: std::collections::BTreeSet<String> =
        manifest().into_iter().map(|e| e.name).collect();
    for file in std::fs::read_dir(streams_dir()).expect("fixtures/streams") {
        let path = file.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "sse") {
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("UTF-8 file name")
                .to_owned();
            assert!(listed.contains(&stem), "{stem}.sse is not in manifest.toml");
        }
    }
}

/// Offsets worth splitting at: every one for streams up to 4 KiB; for longer ones (a 100 KB line)
/// every offset within 8 bytes of a CR, LF, BOM or non-ASCII byte, plus every 61st byte.
fn split_points(bytes: &[u8]) -> Vec<usize> {
    if bytes.len() <= 4096 {
        return (0..=bytes.len()).collect();
    }
    (0..=bytes.len())
        .filter(|&i| {
            i % 61 == 0
                || bytes[i.saturating_sub(8)..(i + 8).min(bytes.len())]
                    .iter()
                    .any(|&b| b == b'\r' || b == b'\n' || !b.is_ascii())
        })
        .collect()
}

// spec: PARSE-CHUNKING PARSE-EOL-CR-SPLIT PARSE-UTF8-DECODE
#[test]
fn every_single_split_point_parses_the_same() {
    for entry in manifest() {
        let bytes = bytes(&entry);
        let whole = parse(&[&bytes]);
        for cut in split_points(&bytes) {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(parse(&[a, b]), whole, "{} split at {cut}", entry.name);
        }
    }
}

// spec: PARSE-CHUNKING
#[test]
fn random_chunkings_parse_the_same() {
    let entries = manifest();
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    });
    for entry in &entries {
        let bytes = bytes(entry);
        let whole = parse(&[&bytes]);
        let len = bytes.len();
        let strategy = proptest::collection::vec(0..=len, 0..24);
        runner
            .run(&strategy, |mut cuts| {
                cuts.sort_unstable();
                let mut chunks = Vec::new();
                let mut start = 0;
                for cut in cuts.into_iter().chain(std::iter::once(len)) {
                    chunks.push(&bytes[start..cut]);
                    start = cut;
                }
                prop_assert_eq!(parse(&chunks), whole.clone(), "{}", entry.name);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{}: {e}", entry.name));
    }
}

// spec: PARSE-CHUNKING
#[test]
fn byte_at_a_time_parses_the_same() {
    for entry in manifest() {
        let bytes = bytes(&entry);
        let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(parse(&chunks), parse(&[&bytes]), "{}", entry.name);
    }
}
