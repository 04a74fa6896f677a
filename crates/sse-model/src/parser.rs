//! Parsing an event stream: bytes to lines (HTML, "Parsing an event stream", `#parsing-an-event-stream`).
//! Handles the one leading BOM, CR / LF / CRLF split across any chunk boundary, and the memory limits.
//!
//! The parser works on bytes, not on decoded text. That is exact, not an approximation: every byte
//! the algorithm looks at (CR, LF, `:` and space) is ASCII, and a UTF-8 decoder that meets an ASCII
//! byte inside a broken multi-byte sequence emits U+FFFD and then that ASCII byte. Decoding each
//! finished value (see [`crate::dispatch`]) therefore gives the same code points as decoding the
//! whole stream first, and lets the hot path skip a decode step.

use memchr::{memchr2, memchr2_iter};

use crate::dispatch::{Dispatcher, Sink};
pub use crate::field::{Line, ParseError, split_field};

/// The bytes of U+FEFF in UTF-8: the decoder strips exactly one of them at the start of a stream.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// Memory bounds for a parser, so a hostile stream cannot make it grow without end.
///
/// The standard sets no limits; these are ours (requirement `IMPL-LIMITS`). Peak memory held by
/// one parser is about `max_line_len * 3 + max_event_data` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest line (without its end-of-line) the parser accepts, in bytes.
    pub max_line_len: usize,
    /// Largest data buffer of one event (all its `data` values with their LFs), in bytes.
    pub max_event_data: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_len: 16 << 20,
            max_event_data: 64 << 20,
        }
    }
}

impl Limits {
    /// Limits so large they never trigger: for tools that must show exactly what a stream means.
    pub const UNBOUNDED: Limits = Limits {
        max_line_len: usize::MAX,
        max_event_data: usize::MAX,
    };
}

/// Where the parser stands on the optional leading BOM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BomState {
    /// Start of stream: this many bytes of a BOM have been seen and held back.
    Pending(u8),
    /// Past the start of the stream: no BOM is special any more.
    Done,
}

/// Incremental `text/event-stream` parser: feed it chunks of any size, it calls a [`Sink`].
///
/// One parser reads one stream (one response body); [`Parser::reset_stream`] readies it for the
/// next response while keeping the last event ID string, as an `EventSource` does.
#[derive(Debug, Clone)]
pub struct Parser {
    limits: Limits,
    bom: BomState,
    /// The previous chunk ended in CR: an LF at the start of the next chunk belongs to it.
    skip_lf: bool,
    /// The unfinished line carried from earlier chunks.
    line: Vec<u8>,
    dispatcher: Dispatcher,
    failed: Option<ParseError>,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new(Limits::default())
    }
}

impl Parser {
    /// A parser at the start of a stream, with the given memory bounds.
    pub fn new(limits: Limits) -> Self {
        Parser {
            limits,
            bom: BomState::Pending(0),
            skip_lf: false,
            line: Vec::new(),
            dispatcher: Dispatcher::new(limits.max_event_data),
            failed: None,
        }
    }

    /// The limits this parser enforces.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The last event ID string: set from the last event ID buffer each time an event is dispatched.
    pub fn last_event_id(&self) -> &str {
        self.dispatcher.last_event_id()
    }

    /// Sets the last event ID string, as a client that persisted it across restarts would.
    pub fn set_last_event_id(&mut self, id: &str) {
        self.dispatcher.set_last_event_id(id);
    }

    /// Forgets the current stream (buffers, partial line, BOM and CR state, error) but keeps the
    /// last event ID string, which belongs to the `EventSource` and outlives its connections.
    pub fn reset_stream(&mut self) {
        self.bom = BomState::Pending(0);
        self.skip_lf = false;
        self.line.clear();
        self.dispatcher.reset_stream();
        self.failed = None;
    }

    /// Parses one chunk of the stream, calling `sink` for each retry change, comment and event.
    ///
    /// After an error the parser stays failed (every later call returns the same error) until
    /// [`Parser::reset_stream`]; everything dispatched before the error has reached the sink.
    pub fn feed<S: Sink + ?Sized>(&mut self, chunk: &[u8], sink: &mut S) -> Result<(), ParseError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let result = self.feed_inner(chunk, sink);
        if let Err(err) = &result {
            self.failed = Some(err.clone());
        }
        result
    }

    /// Ends the stream: whatever was not terminated by an empty line is discarded, as the
    /// standard requires, and the parser is ready for a new stream.
    pub fn finish<S: Sink + ?Sized>(&mut self, sink: &mut S) -> Result<(), ParseError> {
        let mut result = match &self.failed {
            Some(err) => Err(err.clone()),
            None => Ok(()),
        };
        if result.is_ok() {
            // A stream that ended inside a possible BOM: those bytes were ordinary text.
            if let BomState::Pending(n) = self.bom {
                self.bom = BomState::Done;
                result = self.lines(&BOM[..usize::from(n)], sink);
            }
        }
        self.reset_stream();
        result
    }

    fn feed_inner<S: Sink + ?Sized>(
        &mut self,
        mut chunk: &[u8],
        sink: &mut S,
    ) -> Result<(), ParseError> {
        if let BomState::Pending(mut seen) = self.bom {
            while usize::from(seen) < BOM.len() {
                match chunk.first() {
                    None => {
                        self.bom = BomState::Pending(seen);
                        return Ok(());
                    }
                    Some(&b) if b == BOM[usize::from(seen)] => {
                        seen += 1;
                        chunk = &chunk[1..];
                    }
                    Some(_) => break,
                }
            }
            self.bom = BomState::Done;
            if usize::from(seen) < BOM.len() {
                // Not a BOM after all: the held-back bytes are the start of the first line.
                self.lines(&BOM[..usize::from(seen)], sink)?;
            }
        }
        self.lines(chunk, sink)
    }

    /// Splits bytes into lines; a line that does not end in this chunk is kept for the next one.
    ///
    /// The chunk is validated as UTF-8 once; lines inside its valid prefix are borrowed as `&str`
    /// with no further decoding. Only a line carried over from an earlier chunk, or one that holds
    /// invalid bytes, is decoded on its own (with U+FFFD), which gives the same text because line
    /// ends are ASCII and end any broken sequence before them.
    fn lines<S: Sink + ?Sized>(&mut self, chunk: &[u8], sink: &mut S) -> Result<(), ParseError> {
        let mut pos = 0;
        if self.skip_lf && !chunk.is_empty() {
            self.skip_lf = false;
            if chunk[0] == b'\n' {
                pos = 1;
            }
        }
        if !self.line.is_empty() {
            // Finish the carried line first; its bytes may end inside a multi-byte character.
            let Some(end) = memchr2(b'\n', b'\r', &chunk[pos..]).map(|i| pos + i) else {
                return self.carry(&chunk[pos..]);
            };
            self.carry(&chunk[pos..end])?;
            let line = std::mem::take(&mut self.line);
            let result = self
                .dispatcher
                .line(split_field(&String::from_utf8_lossy(&line)), sink);
            self.line = line;
            self.line.clear();
            result?;
            pos = self.after_line_end(chunk, end);
        }
        let rest = &chunk[pos..];
        let text = match std::str::from_utf8(rest) {
            Ok(text) => text,
            // The prefix up to the first bad byte is valid by definition.
            Err(e) => std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or_default(),
        };
        let mut start = 0;
        for end in memchr2_iter(b'\n', b'\r', rest) {
            if end < start {
                // The LF of a CRLF whose CR ended the previous line.
                continue;
            }
            if end - start > self.limits.max_line_len {
                return Err(ParseError::LineTooLong {
                    limit: self.limits.max_line_len,
                });
            }
            // Line ends are ASCII, so a line inside the valid prefix is a `&str` slice.
            match text.get(start..end) {
                Some(line) => self.dispatcher.line(split_field(line), sink)?,
                None => self.dispatcher.line(
                    split_field(&String::from_utf8_lossy(&rest[start..end])),
                    sink,
                )?,
            }
            start = self.after_line_end(rest, end);
        }
        self.carry(&rest[start..])
    }

    /// Where the next line starts after the line end at `end`; notes a CR that ends the chunk.
    fn after_line_end(&mut self, bytes: &[u8], end: usize) -> usize {
        let next = end + 1;
        if bytes[end] != b'\r' {
            return next;
        }
        match bytes.get(next) {
            Some(b'\n') => next + 1,
            Some(_) => next,
            None => {
                self.skip_lf = true;
                next
            }
        }
    }

    /// Keeps the unfinished part of a line for the next chunk, within the line limit.
    fn carry(&mut self, bytes: &[u8]) -> Result<(), ParseError> {
        if self.line.len() + bytes.len() > self.limits.max_line_len {
            return Err(ParseError::LineTooLong {
                limit: self.limits.max_line_len,
            });
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }
}
