//! How much of what an implementation said the harness keeps as evidence. A client, a test
//! service or a server under test decides the size of its event data, its error text and its
//! number of observations; the report and the terminal must not grow with it. Every line of
//! evidence is abridged to [`LINE_BYTES`] with its full length stated, and a case's report keeps
//! at most [`CASE_BYTES`] of observed lines (the start, and the lines around the first
//! divergence), and a column's cases together about [`COLUMN_BYTES`], unless the run asked for
//! the full evidence (`--full-evidence`).

use std::borrow::Cow;

/// Bytes of one line of evidence (a trace line, a finding, a divergence) shown at most.
pub const LINE_BYTES: usize = 4096;

/// Bytes of observed trace lines one case's report keeps at most (once each is abridged).
pub const CASE_BYTES: usize = 1 << 20;

/// Bytes of observed trace lines one column's report keeps before each further case keeps only
/// [`TIGHT_CASE_BYTES`]: a client that floods every case cannot make the report grow with the
/// catalogue either.
pub const COLUMN_BYTES: usize = 16 << 20;

/// What a case keeps once its column has used [`COLUMN_BYTES`].
pub const TIGHT_CASE_BYTES: usize = 64 << 10;

/// Lines kept on each side of the first divergence when a case's observed trace is cut.
const AROUND: usize = 20;

/// Whether reports keep evidence abridged (the default) or whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Evidence {
    /// Lines abridged to [`LINE_BYTES`], a case's observations to [`CASE_BYTES`].
    #[default]
    Abridged,
    /// Everything the harness kept of the run (itself bounded by the observer's limits).
    Full,
}

/// `text` whole when it is at most `limit` bytes; otherwise its first `limit` bytes (cut at a
/// character boundary) and how long it was: `… [N bytes in all]`.
pub fn abridge_to(text: &str, limit: usize) -> Cow<'_, str> {
    if text.len() <= limit {
        return Cow::Borrowed(text);
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}… [{} bytes in all]", &text[..end], text.len()))
}

/// `text` abridged to [`LINE_BYTES`].
pub fn abridge(text: &str) -> Cow<'_, str> {
    abridge_to(text, LINE_BYTES)
}

/// Abridges `text` in place to [`LINE_BYTES`].
pub fn abridge_in_place(text: &mut String) {
    if text.len() > LINE_BYTES {
        *text = abridge(text).into_owned();
    }
}

/// Which lines of `sizes.len()` lines (of these sizes) to keep within `budget` bytes, `focus`
/// (the first divergence) and the lines around it always among them: every line if they fit;
/// otherwise the first lines that fit in half the budget, then the lines around the focus.
/// Returns the kept ranges in order.
#[allow(clippy::single_range_in_vec_init)] // one range is one of the answers
pub fn keep_lines(
    sizes: &[usize],
    budget: usize,
    focus: Option<usize>,
) -> Vec<std::ops::Range<usize>> {
    let n = sizes.len();
    if sizes.iter().sum::<usize>() <= budget {
        return vec![0..n];
    }
    let mut used = 0;
    let head_end = sizes
        .iter()
        .position(|s| {
            used += s;
            used > budget / 2
        })
        .unwrap_or(n);
    match focus.filter(|f| *f < n) {
        Some(f) if f + AROUND >= head_end => {
            let start = f.saturating_sub(AROUND).max(head_end);
            let end = (f + AROUND + 1).min(n);
            if start <= head_end {
                vec![0..end]
            } else {
                vec![0..head_end, start..end]
            }
        }
        _ => vec![0..head_end],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_whole() {
        assert!(matches!(abridge("data"), Cow::Borrowed("data")));
    }

    #[test]
    fn long_text_is_cut_at_a_character_and_says_its_length() {
        let text = "é".repeat(3000); // 6000 bytes
        let cut = abridge(&text);
        assert!(cut.len() < LINE_BYTES + 40, "{}", cut.len());
        assert!(cut.ends_with("… [6000 bytes in all]"), "{cut}");
        assert!(cut.starts_with("éé"));
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)]
    fn lines_that_fit_are_all_kept() {
        assert_eq!(keep_lines(&[10; 100], 1000, Some(50)), vec![0..100]);
    }

    #[test]
    fn a_long_trace_keeps_its_start_and_the_divergence() {
        let kept = keep_lines(&[100; 10_000], 10_000, Some(5000));
        assert_eq!(kept, vec![0..50, 4980..5021]);
        let total: usize = kept.iter().map(|r| r.len() * 100).sum();
        assert!(total <= 10_000);
    }

    #[test]
    #[allow(clippy::single_range_in_vec_init)]
    fn a_divergence_near_the_start_keeps_one_range() {
        assert_eq!(keep_lines(&[100; 10_000], 10_000, Some(60)), vec![0..81]);
        assert_eq!(keep_lines(&[100; 10_000], 10_000, Some(10)), vec![0..50]);
        assert_eq!(keep_lines(&[100; 10_000], 10_000, None), vec![0..50]);
    }
}
