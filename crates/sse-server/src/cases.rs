//! Scripted responses for conformance cases: `GET /cases/{id}?run=KEY` plays the script
//! registered for case `id` (in [`Config::scripts`](crate::Config::scripts)), byte for byte, so a
//! client under test meets exactly the statuses, headers, bytes, pauses and connection ends the
//! case describes. Scripts are parsed and checked once, by whoever registers them (the harness
//! loads them from `fixtures/cases/*.toml`); nothing is read from disk per request.
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
//! A run key keeps concurrent runs of one case apart: each `run` counts its own requests, and a
//! scripted `Location` that points back at this server gets the same `run` parameter, so the
//! redirected request still belongs to its run.
//!
//! A script says every header itself, CORS headers included: the server's origin allow-list is
//! not applied to `/cases/`. `{other-origin}` in a header value stands for the server's second
//! origin ([`Config::other_origin`](crate::Config::other_origin)), so a case can redirect across
//! origins. `OPTIONS /cases/{id}` answers any CORS preflight with a permissive 204 without using
//! up a response, so a client that preflights meets the same script as one that does not.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;

use crate::stream::{Item, Source};

pub use sse_case::script::{
    End, MAX_REPEAT_BYTES, ORIGIN, OTHER_ORIGIN, PAGE_ORIGIN, Repeat, Script, ScriptedResponse,
    Step, decode_hex,
};

pub use crate::config::Scripts;

/// How much of a repeat step is made and sent at once.
const REPEAT_CHUNK: usize = 64 * 1024;

/// Why a case cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// The id has characters other than a-z, 0-9, dash and dot (stream cases are
    /// `stream.NAME.DELIVERY`).
    #[error("case ids are lower-case letters, digits, dashes and dots")]
    BadId,
    /// No script with that id (no such case, or a case played by the reference server itself).
    #[error(
        "no scripted case {0} (cases that run on the reference server are served at their own path)"
    )]
    NotFound(String),
}

/// Registered scripts and how many requests each run has made.
#[derive(Debug)]
pub(crate) struct Cases {
    scripts: Scripts,
    attempts: Mutex<HashMap<(String, String), usize>>,
}

/// Runs remembered at most; past it the counters start over (old runs are long finished).
const MAX_RUNS: usize = 10_000;

impl Cases {
    pub(crate) fn new(scripts: Scripts) -> Self {
        Cases {
            scripts,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// The response for the next request of `run` on case `id`.
    pub(crate) fn next_response(&self, id: &str, run: &str) -> Result<ScriptedResponse, CaseError> {
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        {
            return Err(CaseError::BadId);
        }
        let script = self
            .scripts
            .get(id)
            .filter(|s| !s.responses.is_empty())
            .ok_or_else(|| CaseError::NotFound(id.to_owned()))?;
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

/// The server's origins as scripts name them: `(placeholder, origin)`.
pub(crate) fn named_origins(config: &crate::Config) -> impl Iterator<Item = (&'static str, &str)> {
    [
        (OTHER_ORIGIN, config.other_origin.as_deref()),
        (PAGE_ORIGIN, config.page_origin.as_deref()),
        (ORIGIN, config.origin.as_deref()),
    ]
    .into_iter()
    .filter_map(|(name, origin)| origin.map(|o| (name, o)))
}

/// A scripted header value with [`OTHER_ORIGIN`] and [`PAGE_ORIGIN`] replaced by the server's
/// origins (left as written when the server has none, so the client meets an unusable URL, not
/// a wrong one).
pub(crate) fn expand(value: &str, config: &crate::Config) -> String {
    named_origins(config).fold(value.to_owned(), |v, (name, origin)| {
        v.replace(name, origin)
    })
}

/// A `Location` with the run key added, when it points back at this server: by path, or at one
/// of its other origins (an absolute URL elsewhere is left alone: it is another server's
/// business).
pub(crate) fn with_run(location: &str, run: &str, config: &crate::Config) -> String {
    for (_, origin) in named_origins(config) {
        if let Some(path) = location.strip_prefix(origin) {
            if path.starts_with('/') && !path.starts_with("//") {
                return format!("{origin}{}", with_run(path, run, &crate::Config::default()));
            }
        }
    }
    if run.is_empty() || !location.starts_with('/') || location.starts_with("//") {
        return location.to_owned();
    }
    let (before, fragment) = match location.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (location, None),
    };
    let key: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("run", run)
        .finish();
    let sep = if before.contains('?') { '&' } else { '?' };
    match fragment {
        Some(f) => format!("{before}{sep}{key}#{f}"),
        None => format!("{before}{sep}{key}"),
    }
}

/// A scripted body as a stream source.
#[derive(Debug)]
pub(crate) struct Player {
    steps: std::vec::IntoIter<Step>,
    end: End,
    /// When the current pause ends (kept here so `next` is cancel-safe).
    wake_at: Option<tokio::time::Instant>,
    /// A repeat step under way: its text and how many times are still to go.
    repeating: Option<(String, u64)>,
}

impl Player {
    pub(crate) fn new(response: &ScriptedResponse) -> Self {
        Player {
            steps: response.body.clone().into_iter(),
            end: response.end,
            wake_at: None,
            repeating: None,
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
            if let Some((text, left)) = self.repeating.take() {
                let per = (REPEAT_CHUNK / text.len().max(1)).max(1) as u64;
                let now = per.min(left);
                if left > now {
                    self.repeating = Some((text.clone(), left - now));
                }
                let count = usize::try_from(now).unwrap_or(usize::MAX);
                return Item::Data(Bytes::from(text.repeat(count)));
            }
            match self.steps.next() {
                Some(Step::Send(text)) => return Item::Data(Bytes::from(text)),
                Some(Step::SendHex(hex)) => {
                    return Item::Data(Bytes::from(decode_hex(&hex).unwrap_or_default()));
                }
                Some(Step::WaitMs(ms)) => {
                    self.wake_at = Some(tokio::time::Instant::now() + Duration::from_millis(ms));
                }
                Some(Step::Repeat(r)) => {
                    if r.times > 0 && !r.send.is_empty() {
                        self.repeating = Some((r.send, r.times));
                    }
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

    fn script(toml_text: &str) -> Script {
        toml::from_str(toml_text).expect("valid script")
    }

    #[test]
    fn defaults_and_validation() {
        let s = script(
            r#"
            [[responses]]
            body = [{ send = "data: a\n\n" }, { wait_ms = 5 }, { send_hex = "ff 0a 0a" }]
            end = "abort"
            [[responses]]
            status = 204
            headers = []
            "#,
        );
        s.validate().expect("valid");
        assert_eq!(s.responses[0].end, End::Abort);
        assert_eq!(s.responses[0].headers()[0].1, "text/event-stream");
        assert!(s.responses[1].headers().is_empty());
    }

    #[test]
    fn bad_scripts_are_explained() {
        for (text, says) in [
            ("responses = []", "empty"),
            ("[[responses]]\nbody = [{ send_hex = \"f\" }]", "odd"),
            ("[[responses]]\nbody = [{ send_hex = \"zz\" }]", "not hex"),
            ("[[responses]]\nstatus = 1000", "not an HTTP status"),
            ("[[responses]]\nstatus = 99", "not an HTTP status"),
            (
                "[[responses]]\nbody = [{ repeat = { send = \"x\", times = 99999999999 } }]",
                "repeat step",
            ),
            (
                "[[responses]]\nbody = [{ repeat = { send = \"\", times = 1 } }]",
                "repeat step",
            ),
            (
                "[[responses]]\nheaders = [[\"bad name\", \"x\"]]",
                "not a header name",
            ),
            (
                "[[responses]]\nheaders = [[\"x\", \"a\\nb\"]]",
                "not a header value",
            ),
        ] {
            let err = script(text).validate().expect_err(text);
            assert!(err.0.contains(says), "{text}: {err}");
        }
        assert!(toml::from_str::<Script>("[[responses]]\nbody = [{ shout = \"x\" }]").is_err());
    }

    #[tokio::test]
    async fn a_repeat_step_is_made_as_it_is_sent() {
        let s = script(
            r#"
            [[responses]]
            body = [{ send = "data: " }, { repeat = { send = "x", times = 200000 } }, { send = "\n\n" }]
            "#,
        );
        s.validate().expect("valid");
        let mut player = Player::new(&s.responses[0]);
        let mut sizes = Vec::new();
        let mut total = Vec::new();
        loop {
            match player.next().await {
                Item::Data(bytes) => {
                    sizes.push(bytes.len());
                    total.extend_from_slice(&bytes);
                }
                Item::End => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(total, s.responses[0].body_bytes());
        assert_eq!(total.len(), 200_008);
        assert!(sizes.iter().all(|n| *n <= REPEAT_CHUNK), "{sizes:?}");
        assert!(sizes.len() >= 4, "sent in pieces: {sizes:?}");
    }

    #[test]
    fn run_keys_follow_redirects_to_this_server() {
        let none = crate::Config::default();
        assert_eq!(
            with_run("/cases/a?hop=1", "k 1", &none),
            "/cases/a?hop=1&run=k+1"
        );
        assert_eq!(with_run("/cases/a#f", "k", &none), "/cases/a?run=k#f");
        assert_eq!(with_run("/cases/a", "", &none), "/cases/a");
        assert_eq!(
            with_run("http://elsewhere/x", "k", &none),
            "http://elsewhere/x"
        );
        assert_eq!(with_run("//elsewhere/x", "k", &none), "//elsewhere/x");
        // The server's other origins are this server too.
        let both = crate::Config {
            other_origin: Some("http://127.0.0.1:9".into()),
            page_origin: Some("http://127.0.0.1:8".into()),
            ..crate::Config::default()
        };
        assert_eq!(
            with_run("http://127.0.0.1:9/cases/a?hop=1", "k", &both),
            "http://127.0.0.1:9/cases/a?hop=1&run=k"
        );
        assert_eq!(
            with_run("http://127.0.0.1:8/cases/a", "k", &both),
            "http://127.0.0.1:8/cases/a?run=k"
        );
        assert_eq!(
            with_run("http://127.0.0.1:99/cases/a", "k", &both),
            "http://127.0.0.1:99/cases/a"
        );
        assert_eq!(
            expand("{other-origin}/cases/a {page-origin}", &both),
            "http://127.0.0.1:9/cases/a http://127.0.0.1:8"
        );
        assert_eq!(
            expand("{other-origin}/cases/a", &none),
            "{other-origin}/cases/a"
        );
    }
}
