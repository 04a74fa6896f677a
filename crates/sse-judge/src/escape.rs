//! Escaping for every place the harness writes what an implementation under test said: HTML and
//! XML (index.html, junit.xml), Markdown (summary.md) and the terminal (`ssec`, `cargo xtask`).
//! An implementation chooses its name, its version, the data of its events and the text of its
//! errors; none of it may become markup, end a code span, start a table row or move a terminal's
//! cursor. One function per destination, each tested against the same hostile strings.

use std::fmt::Write as _;

/// Text for HTML or XML content and attributes: markup characters become entities, and the
/// characters XML 1.0 cannot hold are shown as `\u{..}` escapes.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text for a Markdown paragraph, list item or table cell, shown as written: every character
/// that can open markup (emphasis, links, code spans, raw HTML, entities, table cells) is
/// escaped, line ends and control characters are shown as escapes (a line end would start a
/// new block or table row).
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '!' | '~' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c if is_control(c) => push_escape(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// Text as a Markdown code span: delimited by one more backtick than the longest run inside it
/// (so no backtick in it can end the span), padded where it starts or ends with a backtick, with
/// line ends and control characters shown as escapes and `|` escaped (GitHub-flavoured tables
/// split cells on it even inside code spans).
pub fn markdown_code(s: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    let mut body = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
        match c {
            '|' => body.push_str("\\|"),
            c if is_control(c) => push_escape(&mut body, c),
            c => body.push(c),
        }
    }
    let fence = "`".repeat(longest + 1);
    let pad = if body.starts_with('`') || body.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

/// Text for one line of a terminal: control characters (ESC, BEL, CR, LF, backspace, DEL, the
/// C1 controls) and the bidirectional overrides that reorder what a reader sees are shown as
/// `\u{..}` escapes, so no implementation can forge a line, a colour or a cursor move.
pub fn terminal(s: &str) -> String {
    if !s.chars().any(|c| is_control(c) || is_bidi(c)) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_control(c) || is_bidi(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// The same for text of several lines the harness wrote itself: each line escaped, the line
/// ends kept.
pub fn terminal_lines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&terminal(line));
    }
    out
}

fn is_control(c: char) -> bool {
    c.is_control()
}

/// Unicode's explicit directional embeddings, overrides and isolates.
fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

fn push_escape(out: &mut String, c: char) {
    let _ = write!(out, "\\u{{{:x}}}", c as u32);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What hostile implementations put in names, versions, event data and error text.
    const HOSTILE: &[&str] = &[
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "\"><svg onload=alert(1)>",
        "a`b``c```d",
        "`",
        "``` \n<script>alert(1)</script>\n```",
        "| injected | row |\n| --- | --- |",
        "[click](javascript:alert(1))",
        "![x](http://127.0.0.1/x.png)",
        "<http://127.0.0.1/>",
        "&lt;script&gt;",
        "**bold** _em_ ~~strike~~",
        "# heading",
        "line\nbreak\r\nand\rcarriage",
        "\u{1b}[2J\u{1b}[31mred\u{7}\u{8}\u{7f}",
        "\u{1b}]8;;http://127.0.0.1/\u{1b}\\link\u{1b}]8;;\u{1b}\\",
        "\u{9b}31m",
        "safe\u{202e}txt.exe",
        "\u{0}nul\u{ffff}\u{fffe}",
        "ünïcødé … 😀",
    ];

    #[test]
    fn xml_leaves_no_markup_and_nothing_xml_cannot_hold() {
        for s in HOSTILE {
            let e = xml(s);
            assert!(
                !e.contains('<') && !e.contains('>') && !e.contains('"'),
                "{e}"
            );
            assert!(
                !e.chars()
                    .any(|c| ((c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
                        || c == '\u{fffe}'
                        || c == '\u{ffff}'),
                "{e:?}"
            );
        }
        assert_eq!(xml("a<b&c"), "a&lt;b&amp;c");
    }

    #[test]
    fn markdown_text_opens_no_markup_and_stays_on_its_line() {
        for s in HOSTILE {
            let e = markdown(s);
            assert!(!e.contains('<') && !e.contains('>'), "{e}");
            assert!(!e.contains('\n') && !e.contains('\r'), "{e:?}");
            assert!(!e.chars().any(is_control), "{e:?}");
            // Every markup character is escaped: none stands alone.
            let mut chars = e.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    chars.next();
                    continue;
                }
                assert!(!"`*_[]|!~#".contains(c), "{c:?} unescaped in {e}");
            }
        }
        assert_eq!(markdown("plain text, 1.0"), "plain text, 1.0");
    }

    #[test]
    fn a_code_span_cannot_be_ended_by_what_is_inside() {
        for s in HOSTILE {
            let e = markdown_code(s);
            let fence = e.chars().take_while(|c| *c == '`').count();
            let inner = &e[fence..e.len() - fence];
            let longest = inner.split(|c| c != '`').map(str::len).max().unwrap_or(0);
            assert!(longest < fence, "{e}");
            assert!(e.ends_with(&"`".repeat(fence)), "{e}");
            assert!(!e.contains('\n') && !e.contains('\r'), "{e:?}");
            assert!(!inner.replace("\\|", "").contains('|'), "{e}");
        }
        assert_eq!(markdown_code("a`b"), "``a`b``");
        assert_eq!(markdown_code("`x"), "`` `x ``");
        assert_eq!(markdown_code("id"), "`id`");
    }

    #[test]
    fn the_terminal_gets_no_control_character() {
        for s in HOSTILE {
            let e = terminal(s);
            assert!(!e.chars().any(|c| is_control(c) || is_bidi(c)), "{e:?}");
        }
        assert_eq!(terminal("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(terminal("model-sim: 3 cases"), "model-sim: 3 cases");
        assert_eq!(terminal_lines("a\u{7}\nb"), "a\\u{7}\nb");
    }
}
