//! How the trace format writes times and values: a value bare when that is unambiguous, else
//! quoted with every invisible or ambiguous character escaped.

use std::time::Duration;

/// A trace time: seconds with three decimals (`1.015`).
pub fn time(at: Duration) -> String {
    format!("{}.{:03}", at.as_secs(), at.subsec_millis())
}

/// A value printed bare when that is unambiguous, else quoted with escapes.
pub fn token(s: &str) -> String {
    let bare = !s.is_empty()
        && s != "-"
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'='));
    if bare { s.to_owned() } else { quote(s) }
}

/// A run of one character at least this long is written once with its count (`x\*{6700000}`),
/// so a trace of a multi-megabyte message stays a few lines a person can read.
pub const RUN: usize = 64;

/// A string in double quotes with every invisible or ambiguous character escaped, so that a
/// snapshot shows U+FFFD, a BOM or a NUL as what it is; a run of [`RUN`] or more of one character
/// is written once, then `\*{N}` for all N of them.
pub fn quote(s: &str) -> String {
    // Measured first, so a long value is written into a buffer of its exact size (a 30 MB
    // event is not doubled into a 64 MB buffer on the way).
    let mut len = Count(0);
    quote_into(&mut len, s);
    let mut out = String::with_capacity(len.0);
    quote_into(&mut out, s);
    out
}

/// Where [`quote`] writes: a string, or a count of the bytes it would take.
trait Out {
    fn push(&mut self, c: char);
    fn push_str(&mut self, s: &str);
}

impl Out for String {
    fn push(&mut self, c: char) {
        String::push(self, c);
    }
    fn push_str(&mut self, s: &str) {
        String::push_str(self, s);
    }
}

/// Bytes [`quote`] would write.
struct Count(usize);

impl Out for Count {
    fn push(&mut self, c: char) {
        self.0 += c.len_utf8();
    }
    fn push_str(&mut self, s: &str) {
        self.0 += s.len();
    }
}

fn quote_into(out: &mut impl Out, s: &str) {
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        push_escaped(out, c);
        let mut n = 1usize;
        while chars.peek() == Some(&c) {
            chars.next();
            n += 1;
        }
        if n >= RUN {
            out.push_str(&format!("\\*{{{n}}}"));
        } else {
            for _ in 1..n {
                push_escaped(out, c);
            }
        }
    }
    out.push('"');
}

fn push_escaped(out: &mut impl Out, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        ' ' => out.push(' '),
        c if c.is_control()
            || c.is_whitespace()
            || matches!(c, '\u{fffd}' | '\u{feff}' | '\u{200b}'..='\u{200f}') =>
        {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        }
        c => out.push(c),
    }
}
