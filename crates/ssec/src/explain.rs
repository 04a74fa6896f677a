//! `ssec explain`: the spec simulator for one stream. Every line of a body, what it did to a
//! client's buffers, by which rule (requirement ids), what was dispatched, where measured
//! browsers and libraries do otherwise (docs/findings.md), and what the server's bytes and
//! headers get wrong. What a person pastes into a bug report.

use std::io::{Read as _, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};
use sse_checks::annotate::{elsewhere, step_text};
use sse_harness::escape::{terminal, terminal_lines};
use sse_harness::evidence::abridge_to;
use sse_harness::fetch::{Ended, FetchLimits, read_stream};
use sse_model::explain::{Step, explain_each};
use sse_model::lint::{self, Severity};
use sse_model::trace::quote;
use sse_model::{Effect, Limits, Response};

/// Arguments of `ssec explain`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A captured stream (a file), `-` or nothing for standard input, or an `http://` URL on
    /// loopback to read a live stream from.
    source: Option<String>,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// With a URL: send this Last-Event-ID.
    #[arg(long)]
    last_event_id: Option<String>,
    /// With a URL: stop reading after this many seconds (streams rarely end).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Most body bytes to read.
    #[arg(long, default_value_t = 1 << 20)]
    max_bytes: usize,
    /// Longest accepted line, in bytes.
    #[arg(long, default_value_t = Limits::default().max_line_len)]
    max_line: usize,
    /// Largest accepted event data, in bytes.
    #[arg(long, default_value_t = Limits::default().max_event_data)]
    max_event: usize,
}

/// The bytes to explain, and the response they came in when read from a URL.
struct Input {
    body: Vec<u8>,
    response: Option<(Response, Ended)>,
}

pub(crate) fn run(args: &Args) -> ExitCode {
    let input = match read_input(args) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("ssec explain: {e}");
            return ExitCode::from(2);
        }
    };
    let limits = Limits {
        max_line_len: args.max_line,
        max_event_data: args.max_event,
    };
    let mut findings = lint::check_stream(&input.body);
    if let Some((response, _)) = &input.response {
        findings.extend(lint::check_headers(response));
    }
    // A stream cut by our own limits did not end: its last line was not the server's last.
    let cut = matches!(
        input.response,
        Some((_, Ended::TimeUp(_) | Ended::SizeCap(_)))
    );
    if cut {
        findings.retain(|f| {
            !matches!(
                f.requirement,
                "STREAM-FINAL-EOL" | "STREAM-EVENT-TERMINATED"
            )
        });
    }
    // Each line is written as it is explained: memory stays that of the body, however many
    // lines it has.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = if args.json {
        write_json(&mut out, &input, limits, &findings)
    } else {
        write_text(&mut out, &input, limits, &findings, cut)
    };
    match written.and_then(|e| out.flush().map(|()| e)) {
        Ok(true) => ExitCode::from(1),
        Ok(false) => ExitCode::SUCCESS,
        // A reader that went away (`| head`) is not an error of the stream.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ssec explain: cannot write: {e}");
            ExitCode::from(2)
        }
    }
}

fn read_input(args: &Args) -> Result<Input, String> {
    match args.source.as_deref() {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            let url = url::Url::parse(url).map_err(|e| format!("bad URL {url:?}: {e}"))?;
            let limits = FetchLimits {
                total: Duration::try_from_secs_f64(args.seconds)
                    .map_err(|_| "--seconds must be a positive number".to_owned())?,
                max_bytes: args.max_bytes,
                ..FetchLimits::default()
            };
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let fetched = rt
                .block_on(read_stream(&url, args.last_event_id.as_deref(), limits))
                .map_err(|e| e.to_string())?;
            let headers: Vec<(&str, &str)> = fetched
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            Ok(Input {
                response: Some((Response::new(fetched.status, &headers), fetched.ended)),
                body: fetched.body,
            })
        }
        None | Some("-") => {
            let mut body = Vec::new();
            std::io::stdin()
                .take(args.max_bytes as u64)
                .read_to_end(&mut body)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            Ok(Input {
                body,
                response: None,
            })
        }
        Some(path) => {
            let path = PathBuf::from(path);
            let mut body = Vec::new();
            std::fs::File::open(&path)
                .and_then(|f| f.take(args.max_bytes as u64).read_to_end(&mut body))
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            Ok(Input {
                body,
                response: None,
            })
        }
    }
}

/// Writes the text explanation; true when the stream broke a parser limit.
fn write_text(
    out: &mut impl Write,
    input: &Input,
    limits: Limits,
    findings: &[lint::Finding],
    cut: bool,
) -> std::io::Result<bool> {
    if let Some((response, ended)) = &input.response {
        writeln!(
            out,
            "response {}  content-type {}",
            response.status,
            terminal(
                &response
                    .header_values("content-type")
                    .next()
                    .map_or_else(|| "(none)".to_owned(), quote)
            )
        )?;
        writeln!(
            out,
            "read {} bytes; {}",
            input.body.len(),
            ended_text(ended)
        )?;
    }
    let mut written = Ok(());
    let (mut lines, mut events) = (0usize, 0usize);
    let mut retry = None;
    let e = explain_each(&input.body, limits, |step| {
        lines += 1;
        events += usize::from(step.event.is_some());
        if let Effect::Retry(ms) = step.effect {
            retry = Some(ms);
        }
        if written.is_ok() {
            written = out.write_all(terminal_lines(&step_text(step)).as_bytes());
        }
    });
    written?;
    writeln!(
        out,
        "  end  {}",
        if cut {
            "reading stopped here (the stream had not ended)"
        } else {
            "the body ended: a client reconnects (after the reconnection time)"
        }
    )?;
    if e.unterminated_line && !cut {
        writeln!(
            out,
            "       the last line has no line end: discarded  [PARSE-EOF-DISCARD]"
        )?;
    }
    if let Some(data) = &e.discarded_data {
        writeln!(
            out,
            "       data {} was never followed by a blank line: discarded  [PARSE-EOF-DISCARD]",
            terminal(&quote(data))
        )?;
    }
    if let Some(err) = &e.error {
        writeln!(
            out,
            "       stopped: {err} (a client treats this as a network error)"
        )?;
    }
    writeln!(
        out,
        "\n{lines} lines, {events} {} dispatched; last event ID {}; reconnection time {}",
        if events == 1 { "event" } else { "events" },
        terminal(&quote(&e.last_event_id)),
        retry.map_or_else(|| "unchanged".to_owned(), |ms| format!("{ms} ms"))
    )?;
    if !findings.is_empty() {
        writeln!(out, "\nwhat the server sent wrong:")?;
        for f in findings {
            let at = f
                .offset
                .map(|o| format!(" at byte {o}"))
                .unwrap_or_default();
            let level = match f.severity {
                Severity::Violation => "violation",
                Severity::Warning => "warning",
            };
            writeln!(
                out,
                "  {level} {}{at}: {}",
                f.requirement,
                terminal(&f.message)
            )?;
        }
    }
    Ok(e.error.is_some())
}

fn ended_text(ended: &Ended) -> String {
    match ended {
        Ended::Complete => "the server ended the body".to_owned(),
        Ended::TimeUp(d) => format!("stopped after {d:?} (--seconds)"),
        Ended::SizeCap(n) => format!("stopped at {n} bytes (--max-bytes)"),
        Ended::Broken(why) => format!("the connection broke: {why}"),
    }
}

/// Bytes of a buffer shown in each JSON step (a long run of `data` lines would otherwise
/// repeat its growing buffer on every line); longer ones are abridged with their length stated.
const BUFFER_BYTES: usize = 256;

/// One step as JSON.
fn step_json(st: &Step) -> Value {
    let buffer = |b: &str| abridge_to(b, BUFFER_BYTES).into_owned();
    json!({
        "line": st.number,
        "field": st.name,
        "value": st.value,
        "effect": format!("{:?}", st.effect),
        "rules": st.rules,
        "note": st.note,
        "event": st.event.as_ref().map(|ev| json!({
            "type": ev.event_type, "data": ev.data, "lastEventId": ev.last_event_id,
        })),
        "buffers": {
            "data": buffer(&st.buffers.data),
            "dataBytes": st.buffers.data.len(),
            "eventType": buffer(&st.buffers.event_type),
            "idBuffer": buffer(&st.buffers.id_buffer),
            "lastEventId": buffer(&st.buffers.last_event_id),
        },
        "elsewhere": elsewhere(st),
    })
}

/// Writes the explanation as one JSON object, a step at a time; true when the stream broke a
/// parser limit.
fn write_json(
    out: &mut impl Write,
    input: &Input,
    limits: Limits,
    findings: &[lint::Finding],
) -> std::io::Result<bool> {
    let response = input.response.as_ref().map_or(Value::Null, |(r, ended)| {
        json!({
            "status": r.status,
            "headers": r.headers,
            "ended": ended_text(ended),
        })
    });
    write!(out, "{{\"response\":{response},\"steps\":[")?;
    let mut written = Ok(());
    let mut first = true;
    let e = explain_each(&input.body, limits, |step| {
        if written.is_ok() {
            let comma = if std::mem::take(&mut first) { "" } else { "," };
            written = write!(out, "{comma}{}", step_json(step));
        }
    });
    written?;
    let rest = json!({
        "discardedData": e.discarded_data,
        "unterminatedLine": e.unterminated_line,
        "error": e.error.as_ref().map(ToString::to_string),
        "serverFindings": findings.iter().map(|f| json!({
            "requirement": f.requirement,
            "severity": format!("{:?}", f.severity),
            "offset": f.offset,
            "message": f.message,
        })).collect::<Vec<_>>(),
    });
    // The rest of the object's members, after the steps.
    let rest = rest.to_string();
    writeln!(out, "],{}", rest.strip_prefix('{').unwrap_or(&rest))?;
    Ok(e.error.is_some())
}
