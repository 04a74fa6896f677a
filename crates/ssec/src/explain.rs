//! `ssec explain`: the spec simulator for one stream. Every line of a body, what it did to a
//! client's buffers, by which rule (requirement ids), what was dispatched, where measured
//! browsers and libraries do otherwise (docs/findings.md), and what the server's bytes and
//! headers get wrong. What a person pastes into a bug report.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};
use sse_harness::annotate::{elsewhere, step_text};
use sse_harness::fetch::{Ended, FetchLimits, read_stream};
use sse_model::explain::{Explanation, explain};
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
    let explanation = explain(&input.body, limits);
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
    if args.json {
        println!("{}", as_json(&explanation, &input, &findings));
    } else {
        print!("{}", as_text(&explanation, &input, &findings, cut));
    }
    if explanation.error.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
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

fn as_text(e: &Explanation, input: &Input, findings: &[lint::Finding], cut: bool) -> String {
    let mut s = String::new();
    if let Some((response, ended)) = &input.response {
        let _ = writeln!(
            s,
            "response {}  content-type {}",
            response.status,
            response
                .header_values("content-type")
                .next()
                .map_or_else(|| "(none)".to_owned(), quote)
        );
        let _ = writeln!(s, "read {} bytes; {}", input.body.len(), ended_text(ended));
    }
    for step in &e.steps {
        s.push_str(&step_text(step));
    }
    let last = e.steps.last().map(|st| &st.buffers);
    let _ = writeln!(
        s,
        "  end  {}",
        if cut {
            "reading stopped here (the stream had not ended)".to_owned()
        } else {
            "the body ended: a client reconnects (after the reconnection time)".to_owned()
        }
    );
    if e.unterminated_line && !cut {
        let _ = writeln!(
            s,
            "       the last line has no line end: discarded  [PARSE-EOF-DISCARD]"
        );
    }
    if let Some(data) = &e.discarded_data {
        let _ = writeln!(
            s,
            "       data {} was never followed by a blank line: discarded  [PARSE-EOF-DISCARD]",
            quote(data)
        );
    }
    if let Some(err) = &e.error {
        let _ = writeln!(
            s,
            "       stopped: {err} (a client treats this as a network error)"
        );
    }
    let events = e.steps.iter().filter(|st| st.event.is_some()).count();
    let retry = e.steps.iter().rev().find_map(|st| match st.effect {
        Effect::Retry(ms) => Some(ms),
        _ => None,
    });
    let _ = writeln!(
        s,
        "\n{} lines, {events} {} dispatched; last event ID {}; reconnection time {}",
        e.steps.len(),
        if events == 1 { "event" } else { "events" },
        quote(last.map_or("", |b| b.last_event_id.as_str())),
        retry.map_or_else(|| "unchanged".to_owned(), |ms| format!("{ms} ms"))
    );
    if !findings.is_empty() {
        let _ = writeln!(s, "\nwhat the server sent wrong:");
        for f in findings {
            let at = f
                .offset
                .map(|o| format!(" at byte {o}"))
                .unwrap_or_default();
            let level = match f.severity {
                Severity::Violation => "violation",
                Severity::Warning => "warning",
            };
            let _ = writeln!(s, "  {level} {}{at}: {}", f.requirement, f.message);
        }
    }
    s
}

fn ended_text(ended: &Ended) -> String {
    match ended {
        Ended::Complete => "the server ended the body".to_owned(),
        Ended::TimeUp(d) => format!("stopped after {d:?} (--seconds)"),
        Ended::SizeCap(n) => format!("stopped at {n} bytes (--max-bytes)"),
        Ended::Broken(why) => format!("the connection broke: {why}"),
    }
}

fn as_json(e: &Explanation, input: &Input, findings: &[lint::Finding]) -> Value {
    let steps: Vec<Value> = e
        .steps
        .iter()
        .map(|st| {
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
                    "data": st.buffers.data,
                    "eventType": st.buffers.event_type,
                    "idBuffer": st.buffers.id_buffer,
                    "lastEventId": st.buffers.last_event_id,
                },
                "elsewhere": elsewhere(st),
            })
        })
        .collect();
    json!({
        "response": input.response.as_ref().map(|(r, ended)| json!({
            "status": r.status,
            "headers": r.headers,
            "ended": ended_text(ended),
        })),
        "steps": steps,
        "discardedData": e.discarded_data,
        "unterminatedLine": e.unterminated_line,
        "error": e.error.as_ref().map(ToString::to_string),
        "serverFindings": findings.iter().map(|f| json!({
            "requirement": f.requirement,
            "severity": format!("{:?}", f.severity),
            "offset": f.offset,
            "message": f.message,
        })).collect::<Vec<_>>(),
    })
}
