//! `index.html`: the requirement-by-implementation matrix, one self-contained file.

use super::RunReport;

/// The report as one HTML page (placeholder until the full renderer lands).
pub fn render(report: &RunReport) -> String {
    let _ = report;
    String::from("<!doctype html><title>SSE conformance</title>")
}
