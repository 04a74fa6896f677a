//! Parser throughput benchmark (lands with the BENCHMARKS.md figures).

fn main() {}
