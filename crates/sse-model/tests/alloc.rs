//! Allocation discipline of the hot path: nothing per line, nothing per event for a borrowing
//! sink once buffers have grown, and only the event's own strings for an owning sink.
//! (`allocation-counter` replaces the global allocator in this test binary only.)

use sse_model::{Event, Limits, Parser, Sink};

#[derive(Default)]
struct Count(u64);

impl Sink for Count {
    fn event(&mut self, e: &Event<'_>) {
        self.0 += e.data.len() as u64;
    }
}

fn stream(events: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..events {
        out.extend_from_slice(format!("id: {i}\nevent: tick\n: comment\nretry: 1000\n").as_bytes());
        for line in 0..(i % 5) {
            out.extend_from_slice(
                format!("data: line {line} of event {i} \u{e9}\u{4e2d}\n").as_bytes(),
            );
        }
        out.extend_from_slice(if i % 2 == 0 { b"\n" } else { b"\r\n" });
    }
    out
}

fn feed<S: Sink>(parser: &mut Parser, bytes: &[u8], chunk: usize, sink: &mut S) {
    for c in bytes.chunks(chunk) {
        parser.feed(c, sink).expect("within limits");
    }
}

#[test]
fn borrowing_sink_allocates_nothing_per_line_or_event() {
    let bytes = stream(5_000);
    for chunk in [7, 100, 64 * 1024] {
        let mut parser = Parser::new(Limits::default());
        let mut sink = Count::default();
        // Warm up: buffers grow to the largest line and event once.
        feed(&mut parser, &bytes, chunk, &mut sink);
        let info = allocation_counter::measure(|| feed(&mut parser, &bytes, chunk, &mut sink));
        assert_eq!(info.count_total, 0, "chunk size {chunk}: {info:?}");
        assert!(sink.0 > 0);
    }
}

#[test]
fn owning_sink_allocates_only_the_event_strings() {
    let bytes = stream(5_000);
    let mut parser = Parser::new(Limits::default());
    let mut items: Vec<sse_model::Item> = Vec::with_capacity(100_000);
    feed(&mut parser, &bytes, 4096, &mut items);
    items.clear();
    let info = allocation_counter::measure(|| feed(&mut parser, &bytes, 4096, &mut items));
    let events = items
        .iter()
        .filter(|i| matches!(i, sse_model::Item::Event(_)))
        .count() as u64;
    let comments = items
        .iter()
        .filter(|i| matches!(i, sse_model::Item::Comment(_)))
        .count() as u64;
    // Per event at most type, data and id; per comment its text; retries allocate nothing.
    assert!(
        info.count_total <= 3 * events + comments,
        "{info:?} for {events} events"
    );
}
