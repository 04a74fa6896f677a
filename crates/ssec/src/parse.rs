//! `ssec parse`: a captured stream, fed to the model's parser, printed as JSON lines.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;
use sse_model::{Event, Limits, ParseError, Parser, Sink};

/// A dispatched event, with the MessageEvent attribute names.
#[derive(Serialize)]
struct EventLine<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    data: &'a str,
    #[serde(rename = "lastEventId")]
    last_event_id: &'a str,
}

/// A comment or retry change, printed only with --verbose.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum ExtraLine<'a> {
    Comment { text: &'a str },
    Retry { millis: u64 },
}

/// Why `ssec parse` stopped early.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("cannot read {what}: {source}")]
    Read { what: String, source: io::Error },
    #[error("{0}")]
    Limit(#[from] ParseError),
    #[error("cannot write output: {0}")]
    Write(io::Error),
}

/// Writes each item as it is parsed, so a live stream piped in shows events as they arrive.
struct JsonLines<W: Write> {
    out: W,
    verbose: bool,
    error: Option<io::Error>,
    /// Events dispatched so far.
    events: u64,
}

impl<W: Write> JsonLines<W> {
    fn line<T: Serialize>(&mut self, value: &T) {
        if self.error.is_some() {
            return;
        }
        let result = serde_json::to_writer(&mut self.out, value)
            .map_err(io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"));
        if let Err(err) = result {
            self.error = Some(err);
        }
    }
}

impl<W: Write> Sink for JsonLines<W> {
    fn event(&mut self, e: &Event<'_>) {
        self.events += 1;
        self.line(&EventLine {
            event_type: e.event_type,
            data: e.data,
            last_event_id: e.last_event_id,
        });
    }
    fn retry(&mut self, millis: u64) {
        if self.verbose {
            self.line(&ExtraLine::Retry { millis });
        }
    }
    fn comment(&mut self, text: &str) {
        if self.verbose {
            self.line(&ExtraLine::Comment { text });
        }
    }
}

pub(crate) fn run(file: Option<&Path>, verbose: bool, limits: Limits) -> ExitCode {
    let stdout = io::stdout().lock();
    let mut sink = JsonLines {
        out: BufWriter::new(stdout),
        verbose,
        error: None,
        events: 0,
    };
    let result = parse(file, limits, &mut sink);
    let flushed = sink.out.flush();
    let result = result.and_then(|bytes| {
        sink.error
            .take()
            .map_or(Ok(bytes), |e| Err(Failure::Write(e)))
    });
    let result = result.and_then(|bytes| flushed.map(|()| bytes).map_err(Failure::Write));
    match result {
        Ok(bytes) => {
            // Nothing on standard output can mean an empty input or bytes that hold no event
            // (an error page, say): tell which.
            if sink.events == 0 {
                eprintln!(
                    "ssec parse: no event in the input ({bytes} bytes{})",
                    if bytes == 0 { ": it was empty" } else { "" }
                );
            }
            ExitCode::SUCCESS
        }
        // The reader went away (`ssec parse x | head`): not an error of ours.
        Err(Failure::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ssec parse: {err}");
            ExitCode::FAILURE
        }
    }
}

fn parse<W: Write>(
    file: Option<&Path>,
    limits: Limits,
    sink: &mut JsonLines<W>,
) -> Result<u64, Failure> {
    let (mut input, what): (Box<dyn Read>, String) = match file {
        None => (Box::new(io::stdin().lock()), "standard input".to_owned()),
        Some(p) if p == Path::new("-") => {
            (Box::new(io::stdin().lock()), "standard input".to_owned())
        }
        Some(p) => {
            let f = File::open(p).map_err(|source| Failure::Read {
                what: p.display().to_string(),
                source,
            })?;
            (Box::new(f), p.display().to_string())
        }
    };
    let mut parser = Parser::new(limits);
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(Failure::Read { what, source }),
        };
        total += n as u64;
        parser.feed(&buf[..n], sink)?;
        if let Some(e) = sink.error.take() {
            return Err(Failure::Write(e));
        }
        sink.out.flush().map_err(Failure::Write)?;
    }
    parser.finish(sink)?;
    Ok(total)
}
