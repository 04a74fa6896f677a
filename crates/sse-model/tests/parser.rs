//! Parser behaviour, rule by rule, as tables; each row names the requirement it checks.

use proptest::prelude::*;
use rstest::rstest;
use sse_model::{Item, Limits, ParseError, Parser, parse_stream};

fn render(items: &[Item]) -> String {
    items.iter().map(|i| format!("{i}\n")).collect()
}

fn parse(bytes: &[u8]) -> String {
    render(&parse_stream(bytes, Limits::default()).expect("within limits"))
}

#[rstest]
// spec: PARSE-EOL-LF PARSE-EOL-CR PARSE-EOL-CRLF
#[case::lf(b"data: a\n\n", "message  type=message  id=\"\"  data=\"a\"\n")]
#[case::cr(b"data: a\r\r", "message  type=message  id=\"\"  data=\"a\"\n")]
#[case::crlf(b"data: a\r\n\r\n", "message  type=message  id=\"\"  data=\"a\"\n")]
#[case::mixed(
    b"data: a\r\ndata: b\rdata: c\n\r\n",
    "message  type=message  id=\"\"  data=\"a\\nb\\nc\"\n"
)]
// spec: PARSE-EOL-CR-LF-PAIR
#[case::lf_cr_is_two_ends(
    b"data: a\n\rdata: b\n\n",
    "message  type=message  id=\"\"  data=\"a\"\nmessage  type=message  id=\"\"  data=\"b\"\n"
)]
// spec: PARSE-BOM PARSE-BOM-SECOND
#[case::bom(
    b"\xEF\xBB\xBFdata: a\n\n",
    "message  type=message  id=\"\"  data=\"a\"\n"
)]
#[case::second_bom(
    b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n",
    "message  type=message  id=\"\"  data=\"b\"\n"
)]
#[case::partial_bom(b"\xEF\xBBdata: a\n\n", "")]
// spec: FIELD-LEADING-SPACE
#[case::one_space_removed(b"data:  a\n\n", "message  type=message  id=\"\"  data=\" a\"\n")]
#[case::no_space(b"data:a\n\n", "message  type=message  id=\"\"  data=\"a\"\n")]
// spec: FIELD-NO-COLON DISPATCH-DATA-EMPTY-LINE
#[case::data_no_colon(b"data\ndata\n\n", "message  type=message  id=\"\"  data=\"\\n\"\n")]
// spec: DISPATCH-EMPTY-DATA
#[case::no_data(
    b"event: x\n\ndata: y\n\n",
    "message  type=message  id=\"\"  data=\"y\"\n"
)]
// spec: FIELD-EVENT DISPATCH-DEFAULT-TYPE
#[case::event_type(
    b"event: add\ndata: 1\n\ndata: 2\n\n",
    "message  type=add  id=\"\"  data=\"1\"\nmessage  type=message  id=\"\"  data=\"2\"\n"
)]
// spec: FIELD-ID DISPATCH-LAST-EVENT-ID-STICKY
#[case::id_sticky(
    b"id: 1\ndata: a\n\ndata: b\n\n",
    "message  type=message  id=1  data=\"a\"\nmessage  type=message  id=1  data=\"b\"\n"
)]
// spec: FIELD-ID-EMPTY-RESETS
#[case::id_reset(
    b"id: 1\ndata: a\n\nid\ndata: b\n\n",
    "message  type=message  id=1  data=\"a\"\nmessage  type=message  id=\"\"  data=\"b\"\n"
)]
// spec: FIELD-ID-NULL
#[case::id_null(
    b"id: 1\ndata: a\n\nid: 2\x00\ndata: b\n\n",
    "message  type=message  id=1  data=\"a\"\nmessage  type=message  id=1  data=\"b\"\n"
)]
// spec: DISPATCH-ID-WITHOUT-DATA
#[case::id_without_data(b"id: 5\n\ndata: a\n\n", "message  type=message  id=5  data=\"a\"\n")]
// spec: FIELD-RETRY FIELD-RETRY-INVALID FIELD-RETRY-EMPTY FIELD-RETRY-OVERFLOW
#[case::retry(
    b"retry: 1500\nretry: 1x\nretry\nretry: 99999999999999999999999\nretry:  5\n",
    "retry    1500\n"
)]
// spec: FIELD-NAME-CASE FIELD-UNKNOWN
#[case::case_sensitive(b"Data: a\nDATA: b\nfoo: c\n data: d\n\n", "")]
// spec: PARSE-COMMENT
#[case::comment(b": hi\n:\n\n", "comment  \" hi\"\ncomment  \"\"\n")]
// spec: PARSE-EOF-DISCARD
#[case::eof_discard(
    b"data: a\n\ndata: b\n",
    "message  type=message  id=\"\"  data=\"a\"\n"
)]
#[case::eof_mid_line(b"data: a\n\ndata: b", "message  type=message  id=\"\"  data=\"a\"\n")]
// spec: PARSE-UTF8-REPLACEMENT
#[case::bad_utf8(
    b"data: a\xFFb\xE2\x82\n\n",
    "message  type=message  id=\"\"  data=\"a\\u{fffd}b\\u{fffd}\"\n"
)]
// spec: PARSE-NUL
#[case::nul(
    b"data: a\x00b\n\n",
    "message  type=message  id=\"\"  data=\"a\\0b\"\n"
)]
fn rules(#[case] input: &[u8], #[case] expected: &str) {
    assert_eq!(parse(input), expected);
}

/// Feeds `bytes` split at each of `cuts` (sorted, deduplicated offsets).
fn parse_chunked(bytes: &[u8], cuts: &[usize]) -> Vec<Item> {
    let mut parser = Parser::new(Limits::default());
    let mut items = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        parser
            .feed(&bytes[start..cut], &mut items)
            .expect("within limits");
        start = cut;
    }
    parser.finish(&mut items).expect("within limits");
    items
}

// spec: PARSE-CHUNKING
#[test]
fn crlf_split_across_chunks() {
    let whole = parse_stream(b"data: a\r\n\r\ndata: b\r\n\r\n", Limits::default()).expect("ok");
    for cut in 0..=22 {
        assert_eq!(
            parse_chunked(b"data: a\r\n\r\ndata: b\r\n\r\n", &[cut]),
            whole,
            "cut at {cut}"
        );
    }
}

// spec: PARSE-UTF8-REPLACEMENT PARSE-CHUNKING
#[test]
fn multibyte_split_across_chunks() {
    let bytes = "data: d\u{f6}m \u{1F600}\n\n".as_bytes();
    for cut in 0..=bytes.len() {
        let items = parse_chunked(bytes, &[cut]);
        assert_eq!(
            render(&items),
            "message  type=message  id=\"\"  data=\"d\u{f6}m \u{1F600}\"\n"
        );
    }
}

// spec: IMPL-LIMITS
#[rstest]
#[case::line_in_one_chunk(&[b"data: 0123456789\n".as_slice()], 8, 100, ParseError::LineTooLong { limit: 8 })]
#[case::line_over_chunks(&[b"data".as_slice(), b": 0123".as_slice()], 8, 100, ParseError::LineTooLong { limit: 8 })]
#[case::data(&[b"data:12345\ndata:12345\n".as_slice()], 100, 11, ParseError::EventTooLarge { limit: 11 })]
fn limits(
    #[case] chunks: &[&[u8]],
    #[case] max_line_len: usize,
    #[case] max_event_data: usize,
    #[case] expected: ParseError,
) {
    let mut parser = Parser::new(Limits {
        max_line_len,
        max_event_data,
    });
    let mut items = Vec::new();
    let mut result = Ok(());
    for chunk in chunks {
        result = result.and_then(|()| parser.feed(chunk, &mut items));
    }
    assert_eq!(result, Err(expected.clone()));
    // Once failed, the parser stays failed until reset.
    assert_eq!(parser.feed(b"\n\n", &mut items), Err(expected));
    parser.reset_stream();
    assert_eq!(parser.feed(b"data:1\n\n", &mut items), Ok(()));
}

proptest! {
    // Hostile input: any bytes, any chunking, small limits: no panic, errors typed.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048),
                                cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8)) {
        let mut offsets: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        offsets.sort_unstable();
        let mut parser = Parser::new(Limits { max_line_len: 64, max_event_data: 256 });
        let mut items = Vec::new();
        let mut start = 0;
        for cut in offsets.into_iter().chain(std::iter::once(bytes.len())) {
            let _ = parser.feed(&bytes[start..cut], &mut items);
            start = cut;
        }
        let _ = parser.finish(&mut items);
        for item in &items {
            if let Item::Event(e) = item {
                prop_assert!(e.data.len() <= 256 * 3);
            }
        }
    }
}

// spec: IMPL-LIMITS
#[test]
fn default_limits_take_the_largest_lines_known_test_suites_send() {
    // LaunchDarkly's sse-contract-tests send single data lines of about 6.7 MB and 13.3 MB.
    let data = "x".repeat(13_300_000);
    let stream = format!("data: {data}\n\n");
    let items = sse_model::parse_stream(stream.as_bytes(), sse_model::Limits::default())
        .expect("within the default limits");
    assert!(matches!(&items[..], [sse_model::Item::Event(e)] if e.data.len() == data.len()));
}

/// The buffers after every line, as the parser reports them.
#[derive(Default)]
struct Notes(Vec<[String; 4]>);

impl sse_model::Sink for Notes {
    fn event(&mut self, _: &sse_model::Event<'_>) {}
    fn line(&mut self, n: &sse_model::LineNote<'_>) {
        self.0
            .push([n.data, n.event_type, n.id_buffer, n.last_event_id].map(str::to_owned));
    }
}

proptest! {
    // The explanation keeps the client's buffers in place (a data line appends only its own
    // bytes): after every line they are exactly what the parser reports.
    #[test]
    fn explained_buffers_are_the_parser_s(lines in proptest::collection::vec(
        prop_oneof![
            Just("data: ab".to_owned()), Just("data".to_owned()), Just(String::new()),
            Just("event: e".to_owned()), Just("event".to_owned()), Just("id: 1".to_owned()),
            Just("id: 22".to_owned()), Just("id".to_owned()), Just("id: a\0".to_owned()),
            Just(": c".to_owned()), Just("retry: 5".to_owned()), Just("x: y".to_owned()),
            "data: [é a-z]{0,3}", "id: [0-9]{0,3}",
        ], 0..40),
        ends in proptest::collection::vec(prop_oneof![Just("\n"), Just("\r"), Just("\r\n")], 40)) {
        let body: String = lines.iter().zip(&ends).map(|(l, e)| format!("{l}{e}")).collect();
        let mut notes = Notes::default();
        let mut parser = Parser::new(Limits::default());
        parser.feed(body.as_bytes(), &mut notes).expect("within limits");
        let explained = sse_model::explain::explain(body.as_bytes(), Limits::default());
        let buffers: Vec<[String; 4]> = explained.steps.iter().map(|s| {
            let b = &s.buffers;
            [b.data.clone(), b.event_type.clone(), b.id_buffer.clone(), b.last_event_id.clone()]
        }).collect();
        prop_assert_eq!(buffers, notes.0);
    }
}
