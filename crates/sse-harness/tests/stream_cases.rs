//! Stream cases against deliberately broken clients: the model's run of a stream case, its
//! messages replaced by what a parser with one known bug dispatches from the same writes (a bug
//! found in a real library or browser, written as a change to the bytes or reads it sees). Each
//! must fail, blaming the rule the bug breaks, and the unaltered run must pass. (The catalogue
//! test shows the model passes every stream case; this shows each can fail, for the right
//! reason.)

mod common;

use common::{catalogue, model_run, verdict};
use rstest::rstest;
use sse_harness::client::{MessageEvent, PageEvent};
use sse_harness::judge::Outcome;
use sse_harness::run::Run;
use sse_harness::{Observed, Seen};
use sse_model::{Item, Limits, Parser};

/// What a broken client does to the reads it gets, before a correct parser sees them; `None`
/// for a client that gives up (an exception that kills the stream).
type Bug = fn(Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>>;

fn replace(chunks: Vec<Vec<u8>>, from: &[u8], to: &[u8]) -> Vec<Vec<u8>> {
    let whole: Vec<u8> = chunks.concat();
    let mut out = Vec::new();
    let mut i = 0;
    while i < whole.len() {
        if whole[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(whole[i]);
            i += 1;
        }
    }
    vec![out]
}

/// The text U+00EF U+00BB U+00BF at the start taken for a BOM and stripped.
fn strips_latin1_bom(c: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    let whole = c.concat();
    Some(vec![
        whole
            .strip_prefix("\u{EF}\u{BB}\u{BF}".as_bytes())
            .unwrap_or(&whole)
            .to_vec(),
    ])
}

/// LF followed by CRLF read as one line end.
fn lf_crlf_is_one_line_end(c: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    Some(replace(c, b"\n\r\n", b"\n"))
}

/// CR followed by CRLF read as one line end.
fn cr_crlf_is_one_line_end(c: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    Some(replace(c, b"\r\r\n", b"\r"))
}

/// Invalid UTF-8 raises and the stream dies.
fn invalid_utf8_raises(c: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    std::str::from_utf8(&c.concat()).ok().map(|_| c)
}

/// U+0000 dropped.
fn drops_nul(c: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    Some(
        c.into_iter()
            .map(|v| v.into_iter().filter(|b| *b != 0).collect())
            .collect(),
    )
}

/// A field line `id` without a colon taken for an unknown field.
fn bare_id_is_unknown(c: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    Some(replace(c, b"\nid\n", b"\nidx\n"))
}

/// A CR that ends a read is held back until the next read, to see whether an LF follows.
fn holds_back_a_final_cr(c: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut held = Vec::new();
    for chunk in c {
        let mut chunk = [std::mem::take(&mut held), chunk].concat();
        if chunk.last() == Some(&b'\r') {
            chunk.pop();
            held.push(b'\r');
        }
        out.push(chunk);
    }
    Some(out)
}

/// Each read decoded on its own, a character split between reads replaced.
fn decodes_each_read_alone(c: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    Some(
        c.into_iter()
            .map(|v| String::from_utf8_lossy(&v).into_owned().into_bytes())
            .collect(),
    )
}

/// A leading BOM and the line it starts are lost.
fn bom_loses_its_line(c: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    let whole = c.concat();
    let rest = whole.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&whole);
    let end = rest
        .iter()
        .position(|b| *b == b'\n' || *b == b'\r')
        .map_or(rest.len(), |i| i + 1);
    Some(vec![rest[end..].to_vec()])
}

/// A BOM directly followed by a line end swallows the line after it too (Chromium loses the
/// first event of such a stream).
fn bom_line_end_swallows_a_line(c: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    let first = bom_loses_its_line(c)?;
    bom_loses_its_line(first)
}

/// An unterminated event dispatched when the body ends.
fn dispatches_at_the_end(c: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    let mut c = c;
    c.push(b"\n\n".to_vec());
    Some(c)
}

/// The model's run of a stream case with its messages replaced by what `bug` dispatches.
fn broken_run(id: &str, bug: Bug) -> Run {
    let case = catalogue().case(id).expect("stream case exists");
    let stream = case.stream.as_ref().expect("a stream case");
    let mut run = model_run(id);
    let reads: Vec<Vec<u8>> = stream
        .writes
        .iter()
        .map(|w| stream.bytes[w.clone()].to_vec())
        .collect();
    let messages: Vec<Seen> = match bug(reads) {
        None => vec![Seen::Page(PageEvent::Error {
            ready_state: None,
            message: Some("an exception".into()),
        })],
        Some(reads) => {
            let mut parser = Parser::new(Limits::UNBOUNDED);
            let mut items = Vec::new();
            for read in &reads {
                parser.feed(read, &mut items).expect("unbounded");
            }
            items
                .into_iter()
                .filter_map(|i| match i {
                    Item::Event(e) => Some(Seen::Page(PageEvent::Message(MessageEvent {
                        event_type: e.event_type,
                        data: e.data,
                        last_event_id: e.last_event_id,
                        origin: None,
                    }))),
                    Item::Retry(_) | Item::Comment(_) => None,
                })
                .collect()
        }
    };
    let open = run
        .observed
        .iter()
        .position(|o| o.what == Seen::Page(PageEvent::Open))
        .expect("the model opened");
    let at = run.observed[open].at;
    run.observed
        .retain(|o| !matches!(o.what, Seen::Page(PageEvent::Message(MessageEvent { .. }))));
    for (i, what) in messages.into_iter().enumerate() {
        run.observed.insert(open + 1 + i, Observed { at, what });
    }
    run
}

fn unchanged(c: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    Some(c)
}

// spec: PARSE-BOM PARSE-EOL-CR-LF-PAIR PARSE-EOL-CR PARSE-UTF8-REPLACEMENT PARSE-NUL FIELD-NO-COLON PARSE-UTF8-DECODE PARSE-EOF-DISCARD
#[rstest]
#[case::latin1_bom_text("stream/bom-as-latin1-text@whole", strips_latin1_bom as Bug, "PARSE-BOM")]
#[case::lf_crlf("stream/eol-lf-crlf@whole", lf_crlf_is_one_line_end as Bug, "PARSE-EOL-CR-LF-PAIR")]
#[case::cr_crlf("stream/eol-cr-before-crlf@whole", cr_crlf_is_one_line_end as Bug, "PARSE-EOL-CR")]
#[case::lone_continuation("stream/utf8-lone-continuation@bytes", invalid_utf8_raises as Bug, "PARSE-UTF8-REPLACEMENT")]
#[case::nul_in_data("stream/nul-in-data@splits", drops_nul as Bug, "PARSE-NUL")]
#[case::nul_in_field_name("stream/nul-in-field-name@whole", drops_nul as Bug, "PARSE-NUL")]
#[case::nul_in_type("stream/nul-in-type@whole", drops_nul as Bug, "PARSE-NUL")]
#[case::bare_id("stream/id-empty-three-shapes@whole", bare_id_is_unknown as Bug, "FIELD-NO-COLON")]
#[case::cr_held_back("stream/eol-cr-only-open@bytes", holds_back_a_final_cr as Bug, "PARSE-EOL-CR")]
#[case::cr_held_back_whole("stream/eol-final-cr@whole", holds_back_a_final_cr as Bug, "PARSE-EOL-CR")]
#[case::split_characters("stream/utf8-multibyte-split@splits", decodes_each_read_alone as Bug, "PARSE-UTF8-DECODE")]
#[case::bom_loses_first_event("stream/wpt-bom@whole", bom_loses_its_line as Bug, "PARSE-BOM")]
#[case::bom_then_line_end("stream/bom-then-lf@whole", bom_line_end_swallows_a_line as Bug, "PARSE-BOM")]
#[case::bom_then_cr("stream/bom-then-cr@splits", bom_line_end_swallows_a_line as Bug, "PARSE-BOM")]
#[case::eof_dispatched("stream/eof-no-blank@bytes", dispatches_at_the_end as Bug, "PARSE-EOF-DISCARD")]
fn a_broken_parser_fails_the_rule_it_breaks(
    #[case] id: &str,
    #[case] bug: Bug,
    #[case] blamed: &str,
) {
    let v = verdict(id, &broken_run(id, unchanged));
    assert_eq!(v.outcome, Outcome::Pass, "{id} unaltered: {v:#?}");
    let v = verdict(id, &broken_run(id, bug));
    assert_eq!(v.outcome, Outcome::Fail, "{id}: {v:#?}");
    let first = &v.findings[0];
    assert!(
        first.requirements.iter().any(|r| r == blamed),
        "{id}: blames {:?}, not {blamed}: {}",
        first.requirements,
        first.message
    );
    // Only what broke: never the whole list of rules the stream exercises.
    assert!(
        first.requirements.len() <= 3,
        "{id}: {:?}",
        first.requirements
    );
}

#[test]
fn every_fixture_is_a_stream_case_in_every_delivery_that_differs() {
    let fixtures = sse_case::stream_fixture::stream_fixtures(&catalogue().root).expect("manifest");
    for f in &fixtures {
        let whole = format!("stream/{}@whole", f.name);
        assert!(catalogue().case(&whole).is_some(), "{whole}");
    }
    let streams = catalogue()
        .cases
        .iter()
        .filter(|c| c.stream.is_some())
        .count();
    assert!(streams >= fixtures.len() * 2, "{streams} stream cases");
    // No stream case judges what it cannot show: retry is seen only in a reconnection's wait.
    for c in catalogue().cases.iter().filter(|c| c.stream.is_some()) {
        assert!(
            !c.checks.iter().any(|r| r.starts_with("FIELD-RETRY")),
            "{}: {:?}",
            c.id,
            c.checks
        );
    }
}
