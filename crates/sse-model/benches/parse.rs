//! Parser throughput: `sse-model` against named peers on the same bytes, fed in 64 KiB chunks.
//!
//! Inputs (size from `SSE_BENCH_MIB`, default 64): "small" events (`id`, `event` and one short
//! JSON `data` line) and "large" events (20 data lines of about 100 bytes). Peers measured here:
//! the `eventsource-stream` crate and a bare `memchr` newline count (the memory-bandwidth
//! ceiling). The inputs are also written to `target/bench-data/` so `cargo xtask bench` can run
//! the npm `eventsource-parser` package on exactly the same bytes.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use sse_model::{Event, Limits, Parser, Sink};

const CHUNK: usize = 64 * 1024;

fn mib() -> usize {
    std::env::var("SSE_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// Small events: `id`, `event` and a short JSON data line, about 90 bytes each.
fn small_events(target: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(target + 256);
    let mut i = 0u64;
    while out.len() < target {
        let price = (i.wrapping_mul(2_654_435_761) % 100_000) as f64 / 100.0;
        out.extend_from_slice(
            format!("id: {i}\nevent: tick\ndata: {{\"symbol\":\"SSE\",\"seq\":{i},\"price\":{price}}}\n\n").as_bytes(),
        );
        i += 1;
    }
    out
}

/// Large events: 20 data lines of about 100 bytes each.
fn large_events(target: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(target + 4096);
    let mut i = 0u64;
    while out.len() < target {
        out.extend_from_slice(format!("id: {i}\n").as_bytes());
        for line in 0..20 {
            out.extend_from_slice(b"data: ");
            let fill = format!(
                "{i:08}-{line:02} lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor inc"
            );
            out.extend_from_slice(fill.as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        i += 1;
    }
    out
}

/// Counts events and data bytes, so nothing is optimised away; allocates nothing.
#[derive(Default)]
struct Count {
    events: u64,
    bytes: u64,
}

impl Sink for Count {
    fn event(&mut self, e: &Event<'_>) {
        self.events += 1;
        self.bytes += e.data.len() as u64;
    }
}

/// Copies every event into owned Strings, as a client handing events to an application does.
#[derive(Default)]
struct Owned {
    events: u64,
    last: Option<sse_model::OwnedEvent>,
}

impl Sink for Owned {
    fn event(&mut self, e: &Event<'_>) {
        self.events += 1;
        self.last = Some(e.into());
    }
}

fn model<S: Sink + Default>(input: &[u8]) -> S {
    let mut parser = Parser::new(Limits::default());
    let mut sink = S::default();
    for chunk in input.chunks(CHUNK) {
        parser
            .feed(chunk, &mut sink)
            .expect("bench input is within limits");
    }
    parser
        .finish(&mut sink)
        .expect("bench input is within limits");
    sink
}

fn eventsource_stream(input: &[u8]) -> u64 {
    use eventsource_stream::Eventsource;
    let chunks = input
        .chunks(CHUNK)
        .map(|c| Ok::<_, std::convert::Infallible>(bytes::Bytes::copy_from_slice(c)));
    let stream = futures::stream::iter(chunks).eventsource();
    futures::executor::block_on(stream.fold(0u64, |n, e| async move { n + u64::from(e.is_ok()) }))
}

fn memchr_count(input: &[u8]) -> usize {
    input
        .chunks(CHUNK)
        .map(|c| memchr::memchr_iter(b'\n', c).count())
        .sum()
}

fn bench(c: &mut Criterion) {
    let target = mib() << 20;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data");
    for (name, input) in [
        ("small", small_events(target)),
        ("large", large_events(target)),
    ] {
        std::fs::create_dir_all(&dir).expect("target/bench-data");
        std::fs::write(dir.join(format!("{name}.sse")), &input).expect("write bench input");
        let expected = model::<Count>(&input).events;
        assert_eq!(
            eventsource_stream(&input),
            expected,
            "peers must agree on the event count"
        );

        let mut group = c.benchmark_group(format!("parse-{name}"));
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(4));
        group.bench_function("sse-model", |b| {
            b.iter(|| black_box(model::<Count>(black_box(&input)).bytes))
        });
        group.bench_function("sse-model-owned", |b| {
            b.iter(|| black_box(model::<Owned>(black_box(&input)).events))
        });
        group.bench_function("eventsource-stream", |b| {
            b.iter(|| black_box(eventsource_stream(black_box(&input))))
        });
        group.bench_function("memchr-newlines", |b| {
            b.iter(|| black_box(memchr_count(black_box(&input))))
        });
        group.finish();
        println!("{name}: {} bytes, {expected} events", input.len());
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
