//! `cargo xtask bench`: parser throughput against named peers, written to BENCHMARKS.md.

use std::path::Path;

use anyhow::{Result, bail};

pub(crate) fn run(_root: &Path, _mib: usize, _write: bool) -> Result<bool> {
    bail!("the parser benchmark runner is not written yet")
}
