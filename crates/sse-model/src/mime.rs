//! The Content-Type check of the processing model (`#sse-processing-model`): the response's MIME type
//! essence must be `text/event-stream`, parameters and case ignored (Fetch "extract a MIME type").

/// The essence (`type/subtype`, lower case) that Fetch's "extract a MIME type" gives for the
/// values of all `Content-Type` headers of a response, or `None` where it gives failure.
pub fn content_type_essence<'a, I>(values: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    extracted(values).and_then(parse_essence)
}

/// The `charset` parameter (lower case, unquoted) of the MIME type that Fetch's "extract a MIME
/// type" gives, if it has one.
pub fn content_type_charset<'a, I>(values: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    extracted(values)?.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim_matches(is_http_ws)
            .eq_ignore_ascii_case("charset")
            .then(|| {
                value
                    .trim_matches(is_http_ws)
                    .trim_matches('"')
                    .to_ascii_lowercase()
            })
    })
}

/// The part of the `Content-Type` values that Fetch's "extract a MIME type" takes: values are
/// split on commas outside quoted strings; each part that parses as a MIME type replaces the one
/// before it; parts that do not parse are skipped.
fn extracted<'a, I>(values: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    values
        .into_iter()
        .flat_map(split_outside_quotes)
        .filter(|part| parse_essence(part).is_some())
        .last()
}

/// Whether a set of `Content-Type` values announces an event stream (`CONN-CONTENT-TYPE`).
pub fn is_event_stream<'a, I>(values: I) -> bool
where
    I: IntoIterator<Item = &'a str>,
{
    content_type_essence(values).as_deref() == Some("text/event-stream")
}

fn split_outside_quotes(value: &str) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts.into_iter()
}

/// HTTP whitespace per Fetch: tab, LF, CR, space.
fn is_http_ws(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' ')
}

/// An HTTP token code point (RFC 9110 `tchar`).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Fetch's "parse a MIME type", reduced to the essence: parameters are parsed by nobody here.
fn parse_essence(input: &str) -> Option<String> {
    let input = input.trim_matches(is_http_ws);
    let (ty, rest) = input.split_once('/')?;
    let subtype = rest
        .split(';')
        .next()
        .unwrap_or("")
        .trim_end_matches(is_http_ws);
    if ty.is_empty() || subtype.is_empty() {
        return None;
    }
    if !ty.chars().all(is_token_char) || !subtype.chars().all(is_token_char) {
        return None;
    }
    Some(format!(
        "{}/{}",
        ty.to_ascii_lowercase(),
        subtype.to_ascii_lowercase()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(&["text/event-stream"], None)]
    #[case(&["text/event-stream; charset=UTF-8"], Some("utf-8"))]
    #[case(&["text/event-stream;charset=\"windows-1252\""], Some("windows-1252"))]
    #[case(&["text/event-stream; a=b ; CHARSET = bogus"], Some("bogus"))]
    #[case(&["text/plain; charset=x", "text/event-stream"], None)]
    #[case(&["text/event-stream; charset=x", "nonsense"], Some("x"))]
    fn charset(#[case] values: &[&str], #[case] expected: Option<&str>) {
        assert_eq!(
            content_type_charset(values.iter().copied()).as_deref(),
            expected,
            "{values:?}"
        );
    }

    // spec: CONN-CONTENT-TYPE CONN-CONTENT-TYPE-PARAMS
    #[rstest]
    #[case(&["text/event-stream"], true)]
    #[case(&["TEXT/Event-Stream"], true)]
    #[case(&["text/event-stream; charset=utf-8"], true)]
    #[case(&["text/event-stream;"], true)]
    #[case(&["text/event-stream ; charset=\"a,b\""], true)]
    #[case(&["  text/event-stream  "], true)]
    #[case(&["text/event-stream, text/plain"], false)]
    #[case(&["text/plain", "text/event-stream"], true)]
    #[case(&["text/event-stream", "bogus"], true)]
    #[case(&["text/event-stream-x"], false)]
    #[case(&["text/plain"], false)]
    #[case(&["text/event-stream/x"], false)]
    #[case(&["text /event-stream"], false)]
    #[case(&[""], false)]
    #[case(&[], false)]
    fn essence(#[case] values: &[&str], #[case] expected: bool) {
        assert_eq!(
            is_event_stream(values.iter().copied()),
            expected,
            "{values:?}"
        );
    }
}
