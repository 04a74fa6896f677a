//! Scripted responses for conformance cases: `GET /cases/{id}?run=KEY` plays the `[server]` part
//! of `fixtures/cases/{id}.toml`, byte for byte, so a client under test meets exactly the
//! statuses, headers, bytes, pauses and connection ends the case describes.
//!
//! ```toml
//! [[server.responses]]          # the n-th request of a run gets the n-th entry; the last repeats
//! status = 200                  # default 200
//! headers = [["content-type", "text/event-stream"]]   # default: that and cache-control: no-cache
//! body = [{ send = "id: 1\ndata: a\n\n" }, { wait_ms = 100 }, { send_hex = "ff0a0a" }]
//! end = "close"                 # close (clean end, default) | abort (reset) | hang (never ends)
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::stream::{Item, Source};

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
}

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

/// Why a case cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// The endpoint is off.
    #[error("no cases directory is configured")]
    Disabled,
    /// The id has characters other than a-z, 0-9 and dash.
    #[error("case ids are lower-case letters, digits and dashes")]
    BadId,
    /// No such file.
    #[error("no case {0}")]
    NotFound(String),
    /// The file is not a valid case.
    #[error("case {id}: {reason}")]
    Invalid {
        /// The case id.
        id: String,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Debug, Deserialize)]
struct CaseFile {
    server: Script,
}

/// Parses the `[server]` part of a case file's text.
pub fn parse_script(text: &str) -> Result<Script, String> {
    let file: CaseFile = toml::from_str(text).map_err(|e| e.to_string())?;
    if file.server.responses.is_empty() {
        return Err("server.responses is empty".to_owned());
    }
    for r in &file.server.responses {
        for step in &r.body {
            if let Step::SendHex(hex) = step {
                decode_hex(hex)?;
            }
        }
    }
    Ok(file.server)
}

/// Case files and how many requests each run has made.
#[derive(Debug)]
pub(crate) struct Cases {
    dir: Option<PathBuf>,
    attempts: Mutex<HashMap<(String, String), usize>>,
}

/// Runs remembered at most; past it the counters start over (old runs are long finished).
const MAX_RUNS: usize = 10_000;

impl Cases {
    pub(crate) fn new(dir: Option<PathBuf>) -> Self {
        Cases {
            dir,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// The response for the next request of `run` on case `id`.
    pub(crate) fn next_response(&self, id: &str, run: &str) -> Result<ScriptedResponse, CaseError> {
        let dir = self.dir.as_ref().ok_or(CaseError::Disabled)?;
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(CaseError::BadId);
        }
        let text = std::fs::read_to_string(dir.join(format!("{id}.toml")))
            .map_err(|_| CaseError::NotFound(id.to_owned()))?;
        let script = parse_script(&text).map_err(|reason| CaseError::Invalid {
            id: id.to_owned(),
            reason,
        })?;
        let n = {
            let mut attempts = self
                .attempts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if attempts.len() >= MAX_RUNS {
                attempts.clear();
            }
            let n = attempts.entry((id.to_owned(), run.to_owned())).or_insert(0);
            *n += 1;
            *n - 1
        };
        let last = script.responses.len() - 1;
        Ok(script.responses[n.min(last)].clone())
    }
}

fn decode_hex(hex: &str) -> Result<Vec<u8>, String> {
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

/// A scripted body as a stream source.
#[derive(Debug)]
pub(crate) struct Player {
    steps: std::vec::IntoIter<Step>,
    end: End,
    /// When the current pause ends (kept here so `next` is cancel-safe).
    wake_at: Option<tokio::time::Instant>,
}

impl Player {
    pub(crate) fn new(response: &ScriptedResponse) -> Self {
        Player {
            steps: response.body.clone().into_iter(),
            end: response.end,
            wake_at: None,
        }
    }
}

impl Source for Player {
    async fn next(&mut self) -> Item {
        loop {
            if let Some(at) = self.wake_at {
                tokio::time::sleep_until(at).await;
                self.wake_at = None;
            }
            match self.steps.next() {
                Some(Step::Send(text)) => return Item::Data(Bytes::from(text)),
                Some(Step::SendHex(hex)) => {
                    return Item::Data(Bytes::from(decode_hex(&hex).unwrap_or_default()));
                }
                Some(Step::WaitMs(ms)) => {
                    self.wake_at = Some(tokio::time::Instant::now() + Duration::from_millis(ms));
                }
                None => {
                    return match self.end {
                        End::Close => Item::End,
                        End::Abort => Item::Abort("scripted abort"),
                        End::Hang => std::future::pending().await,
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_case_file_and_ignores_other_sections() {
        let script = parse_script(
            r#"
            checks = ["CONN-STATUS-204"]
            [client]
            url = "/cases/x"
            [[server.responses]]
            body = [{ send = "data: a\n\n" }, { wait_ms = 5 }, { send_hex = "ff 0a 0a" }]
            end = "abort"
            [[server.responses]]
            status = 204
            headers = []
            "#,
        )
        .expect("valid");
        assert_eq!(script.responses.len(), 2);
        assert_eq!(script.responses[0].end, End::Abort);
        assert_eq!(script.responses[0].headers()[0].1, "text/event-stream");
        assert_eq!(script.responses[1].status, 204);
        assert!(script.responses[1].headers().is_empty());
    }

    #[test]
    fn bad_scripts_are_explained() {
        assert!(
            parse_script("[server]\nresponses = []")
                .expect_err("empty")
                .contains("empty")
        );
        assert!(
            parse_script("[[server.responses]]\nbody = [{ send_hex = \"f\" }]")
                .expect_err("odd")
                .contains("odd")
        );
        assert!(parse_script("[[server.responses]]\nbody = [{ shout = \"x\" }]").is_err());
    }
}
