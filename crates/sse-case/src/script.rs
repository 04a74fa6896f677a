//! Scripted responses as case files write them: the statuses, headers, body steps, pauses and
//! connection ends a case server plays (the reference server plays them at `/cases/{id}`).
//!
//! ```toml
//! [[server.responses]]          # the n-th request of a run gets the n-th entry; the last repeats
//! status = 200                  # default 200
//! headers = [["content-type", "text/event-stream"]]   # default: that and cache-control: no-cache
//! body = [{ send = "id: 1\ndata: a\n\n" }, { wait_ms = 100 }, { send_hex = "ff0a0a" },
//!         { repeat = { send = "x", times = 6700000 } }]   # made as it is sent, 64 KiB at a time
//! end = "close"                 # close (clean end, default) | abort (reset) | hang (never ends)
//! head_wait_ms = 500            # optional: the head comes this much later (a pending response)
//! ```
//!
//! `{origin}`, `{other-origin}` and `{page-origin}` in a header value stand for the case
//! server's origins as the client reaches them.

use serde::{Deserialize, Serialize};

use crate::{Invalid, invalid};

/// The server side of a case.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// Responses to successive requests of one run.
    pub responses: Vec<ScriptedResponse>,
}

/// One response of a script.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedResponse {
    /// Status code.
    #[serde(default = "ok")]
    pub status: u16,
    /// Headers, in order; absent means an event-stream content type and no-cache.
    #[serde(default)]
    pub headers: Option<Vec<(String, String)>>,
    /// Body steps, in order.
    #[serde(default)]
    pub body: Vec<Step>,
    /// How the body ends.
    #[serde(default)]
    pub end: End,
    /// How long the server waits before it sends the response's head (a response that is
    /// still pending: a client aborting then aborts the fetch, not a stream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_wait_ms: Option<u64>,
}

fn ok() -> u16 {
    200
}

/// One step of a scripted body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Send this text (UTF-8).
    Send(String),
    /// Send these bytes, written as hex (spaces allowed), for bytes that are not UTF-8.
    SendHex(String),
    /// Pause.
    WaitMs(u64),
    /// Send this text this many times over, made as it is sent (a multi-megabyte message is
    /// never held whole).
    Repeat(Repeat),
}

/// Text sent many times over.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    /// The text (UTF-8).
    pub send: String,
    /// How many times.
    pub times: u64,
}

/// The most one repeat step may send: 64 MiB.
pub const MAX_REPEAT_BYTES: u64 = 64 << 20;

/// How a scripted body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum End {
    /// A clean end of the body.
    #[default]
    Close,
    /// The connection is reset (a network error for the client).
    Abort,
    /// The body never ends (until the client goes away or the server shuts down).
    Hang,
}

impl ScriptedResponse {
    /// The headers to send.
    pub fn headers(&self) -> Vec<(String, String)> {
        self.headers.clone().unwrap_or_else(|| {
            vec![
                ("content-type".to_owned(), "text/event-stream".to_owned()),
                ("cache-control".to_owned(), "no-cache".to_owned()),
            ]
        })
    }
}

impl ScriptedResponse {
    /// Every byte the body sends, pauses left out (hex that does not decode counts as nothing,
    /// as when it is played; [`Script::validate`] refuses it).
    pub fn body_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for step in &self.body {
            match step {
                Step::Send(text) => out.extend_from_slice(text.as_bytes()),
                Step::SendHex(hex) => out.extend(decode_hex(hex).unwrap_or_default()),
                Step::Repeat(r) => {
                    for _ in 0..r.times {
                        out.extend_from_slice(r.send.as_bytes());
                    }
                }
                Step::WaitMs(_) => {}
            }
        }
        out
    }
}

impl Script {
    /// Checks what serde cannot: at least one response, statuses HTTP can carry, header names
    /// and values HTTP can carry, and hex that decodes.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.responses.is_empty() {
            return Err(invalid("server.responses is empty"));
        }
        for (i, r) in self.responses.iter().enumerate() {
            let n = i + 1;
            if !(100..=599).contains(&r.status) {
                return Err(invalid(format!(
                    "response {n}: status {} is not an HTTP status (100 to 599)",
                    r.status
                )));
            }
            for (name, value) in r.headers() {
                if http::HeaderName::try_from(name.as_str()).is_err() {
                    return Err(invalid(format!(
                        "response {n}: {name:?} is not a header name"
                    )));
                }
                if http::HeaderValue::try_from(value.as_str()).is_err() {
                    return Err(invalid(format!(
                        "response {n}: the value of {name} is not a header value"
                    )));
                }
            }
            for step in &r.body {
                match step {
                    Step::SendHex(hex) => {
                        decode_hex(hex).map_err(|e| invalid(format!("response {n}: {e}")))?;
                    }
                    Step::Repeat(r) => {
                        let bytes = (r.send.len() as u64).saturating_mul(r.times);
                        if r.send.is_empty() || bytes > MAX_REPEAT_BYTES {
                            return Err(invalid(format!(
                                "response {n}: a repeat step sends 1 to {MAX_REPEAT_BYTES} bytes"
                            )));
                        }
                    }
                    Step::Send(_) | Step::WaitMs(_) => {}
                }
            }
        }
        Ok(())
    }
}

/// What a script writes for the case server's second origin (a cross-origin redirect target).
pub const OTHER_ORIGIN: &str = "{other-origin}";

/// What a script (or the allow-list) writes for the origin of the page a case's client runs in.
pub const PAGE_ORIGIN: &str = "{page-origin}";

/// What a script writes for the origin the client reaches the case server at first.
pub const ORIGIN: &str = "{origin}";

/// The bytes of a `send_hex` step (spaces allowed), or why it is not hex.
pub fn decode_hex(hex: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return Err(format!("send_hex {hex:?} has an odd number of digits"));
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(|| format!("send_hex {hex:?} is not hex"))
        })
        .collect()
}
