//! Which requirement a divergence breaks: the rule whose step the observation contradicts, found
//! from the divergence itself (which page observation, which request, which wait), never the
//! whole list of what the case can judge. A case's `checks` only say which of several rules a
//! step could be about (why a connection must fail: its status, its type, CORS); where they say
//! nothing, the step's own rule is named. A message is blamed by the lines of the body it came
//! in (a stream case's stream, or a scripted response's body), as [`sse_case::stream_case`] does.

use sse_model::{PageEvent, ReadyState};

use crate::expect::{Expectation, RequestKind};
use sse_case::case::Case;
use sse_case::stream_case::{Delivery, Shown, StreamSource};

/// Rules that make a client reestablish a connection, in the order a case names them.
const REESTABLISH: [&str; 6] = [
    "CONN-END-OF-BODY",
    "CONN-BODY-ERROR",
    "CONN-NETWORK-ERROR",
    "CONN-REDIRECT-LIMIT",
    "EXT-READ-TIMEOUT",
    "EXT-RESTART",
];

/// Rules that make a client fail a connection: why a response must not be used.
const FAIL_TRIGGERS: [&str; 10] = [
    "CONN-STATUS-204",
    "CONN-STATUS-NON-200",
    "CONN-CONTENT-TYPE",
    "CONN-CONTENT-TYPE-MISSING",
    "REQ-CORS",
    "REQ-CORS-REDIRECT",
    "CTOR-URL-PARSE",
    "CONN-ABORTED",
    "CONN-REDIRECT",
    "FAIL-CLOSED",
];

/// Rules that make a client accept a response a careless one would refuse.
const ACCEPT_TRIGGERS: [&str; 4] = [
    "CONN-CONTENT-TYPE-PARAMS",
    "CONN-REDIRECT",
    "REQ-CORS",
    "REQ-CORS-REDIRECT",
];

/// What a refused response also keeps from happening, blamed only when the case names no
/// reason for accepting it: the refusal itself is the rule broken, not what would follow.
const ACCEPT_CONSEQUENCES: [&str; 2] = ["PARSE-UTF8-DECODE", "CONN-ANNOUNCE"];

/// Rules about what a closed EventSource no longer does.
const AFTER_CLOSE: [&str; 5] = [
    "CLOSE-NO-EVENT",
    "CLOSE-ABORTS",
    "DISPATCH-NOT-WHEN-CLOSED",
    "RECONNECT-ONLY-IF-CONNECTING",
    "CONN-ANNOUNCE-NOT-WHEN-CLOSED",
];

/// Rules about an event's content, for a case whose messages come from the reference server.
const CONTENT: [&str; 6] = [
    "LAST-EVENT-ID-PERSISTS",
    "DISPATCH-ID-BUFFER-PER-STREAM",
    "CONN-BODY-ERROR",
    "PARSE-CHUNKING",
    "CLIENT-PROMPT-DISPATCH",
    "DISPATCH-ORIGIN",
];

/// Picks the rule a divergence of one case's run breaks.
#[derive(Debug)]
pub(crate) struct Blamer<'a> {
    case: &'a Case,
    expectation: &'a Expectation,
}

impl<'a> Blamer<'a> {
    pub(crate) fn new(case: &'a Case, expectation: &'a Expectation) -> Self {
        Blamer { case, expectation }
    }

    /// The case's checks among `ids`, in `ids`' order; `fallback` when it checks none.
    fn checked(&self, ids: &[&'static str], fallback: &[&'static str]) -> Vec<&'static str> {
        let found: Vec<&'static str> = ids
            .iter()
            .copied()
            .filter(|id| self.case.checks.iter().any(|c| c == id))
            .collect();
        if found.is_empty() {
            fallback.to_vec()
        } else {
            found
        }
    }

    /// The received request a page step's connection began with, and its response's number
    /// in the script (each received request takes the next response).
    fn connection_of(&self, step: usize) -> Option<(usize, usize)> {
        let received: Vec<(usize, &crate::expect::ExpectedRequest)> = self
            .expectation
            .requests
            .iter()
            .enumerate()
            .filter(|(_, r)| r.received && r.after_page <= step)
            .collect();
        let (index, _) = received.last()?;
        Some((*index, received.len() - 1))
    }

    /// The scripted response a page step belongs to.
    fn response_of(&self, step: usize) -> Option<&sse_case::script::ScriptedResponse> {
        let (_, n) = self.connection_of(step)?;
        let responses = &self.case.server.responses;
        responses.get(n.min(responses.len().checked_sub(1)?))
    }

    /// The body a message step came in, as a stream, and the message's number in it.
    fn body_of(&self, step: usize) -> Option<(std::borrow::Cow<'a, StreamSource>, usize)> {
        let first_message = |from: usize| {
            self.expectation.page[from..step]
                .iter()
                .filter(|s| matches!(s.step, PageEvent::Message(_)))
                .count()
        };
        if let Some(stream) = &self.case.stream {
            return Some((
                std::borrow::Cow::Borrowed(stream.as_ref()),
                first_message(0),
            ));
        }
        let (request, _) = self.connection_of(step)?;
        let response = self.response_of(step)?;
        let ends = response.end != sse_case::script::End::Hang;
        let (source, _) = StreamSource::new(
            &self.case.id,
            response.body_bytes().into(),
            Delivery::Whole,
            ends,
            Vec::new(),
        )
        .ok()?;
        let from = self.expectation.requests[request].after_page.min(step);
        Some((std::borrow::Cow::Owned(source), first_message(from)))
    }

    /// Why a client must reestablish the connection at an expected `error` (CONNECTING).
    fn reestablish_cause(&self, step: usize) -> Vec<&'static str> {
        let opened = self
            .connection_of(step)
            .map(|(r, _)| self.expectation.requests[r].after_page)
            .is_some_and(|from| {
                self.expectation.page[from..step]
                    .iter()
                    .any(|s| s.step == PageEvent::Open)
            });
        // Faults that cut a connection (a partition, latency or a buffer only delays it).
        let cut = self.case.faults.iter().any(|f| match f {
            sse_case::fault::Fault::Drop { .. }
            | sse_case::fault::Fault::IdleTimeout { .. }
            | sse_case::fault::Fault::ServerCrash { .. }
            | sse_case::fault::Fault::Stall { .. } => true,
            sse_case::fault::Fault::Buffer { .. }
            | sse_case::fault::Fault::Latency { .. }
            | sse_case::fault::Fault::Partition { .. } => false,
        });
        let extension =
            self.case.client.read_timeout_ms.is_some() || self.case.client.restart_at_ms.is_some();
        if opened && !cut && !extension {
            match self.response_of(step).map(|r| r.end) {
                Some(sse_case::script::End::Abort) => return vec!["CONN-BODY-ERROR"],
                // A scripted body that ends, or the reference server's stream that ends.
                Some(sse_case::script::End::Close) | None => return vec!["CONN-END-OF-BODY"],
                Some(sse_case::script::End::Hang) => {}
            }
        }
        let fallback: &[&'static str] = if opened {
            &["CONN-BODY-ERROR"]
        } else {
            &["CONN-NETWORK-ERROR"]
        };
        self.checked(&REESTABLISH, fallback)
    }

    /// A page observation (or nothing) where expected page step `step` was due; `next` is what
    /// the client showed after it.
    pub(crate) fn page(
        &self,
        step: usize,
        observed: Option<&PageEvent>,
        next: Option<&PageEvent>,
    ) -> Vec<&'static str> {
        let expected = &self.expectation.page[step].step;
        let event = observed.and_then(as_event);
        let shown = match (&event, observed) {
            (Some(e), _) => Shown::Message(e),
            (None, Some(_)) => Shown::Error,
            (None, None) => Shown::Nothing,
        };
        match (expected, observed) {
            // A new connection announced where reestablishing should have fired `error` first.
            (
                PageEvent::Error {
                    ready_state: Some(ReadyState::Connecting),
                    ..
                },
                Some(PageEvent::Open),
            ) => vec!["RECONNECT-ERROR-EVENT"],
            // Announcing: a missing or unexpected `open`.
            (PageEvent::Open, None | Some(PageEvent::Message(_))) | (_, Some(PageEvent::Open)) => {
                vec!["CONN-ANNOUNCE"]
            }
            // A response it should have used, refused.
            (PageEvent::Open, Some(_)) => match self.checked(&ACCEPT_TRIGGERS, &[]) {
                why if why.is_empty() => self.checked(&ACCEPT_CONSEQUENCES, &["CONN-ANNOUNCE"]),
                why => why,
            },
            (PageEvent::Message(_), _) => {
                let next = next.and_then(as_event);
                match self.body_of(step) {
                    Some((body, k)) => body.blame(k, shown, next.as_ref()),
                    None => self.checked(&CONTENT, &["FIELD-DATA"]),
                }
            }
            // Reestablishing: a message where the body ended is one it should have discarded.
            (
                PageEvent::Error {
                    ready_state: Some(ReadyState::Connecting),
                    ..
                },
                Some(PageEvent::Message(_)),
            ) => match self.body_of(step) {
                Some((body, _)) => body.blame_extra(shown),
                None => self.checked(&CONTENT, &["FIELD-DATA"]),
            },
            (
                PageEvent::Error {
                    ready_state: Some(ReadyState::Connecting),
                    ..
                },
                _,
            ) => self.reestablish_cause(step),
            // Reestablishing where the model failed a connection it knew retrying to be futile
            // for: the text's default after a network error (failing there is a "may").
            (
                PageEvent::Error {
                    ready_state: Some(ReadyState::Closed),
                    ..
                },
                Some(PageEvent::Error {
                    ready_state: Some(ReadyState::Connecting),
                    ..
                }),
            ) if self.case.checks.iter().any(|c| c == "CONN-FUTILE") => vec!["CONN-FUTILE"],
            // Failing: used, or retried, what it must refuse.
            (PageEvent::Error { .. }, _) => self.checked(&FAIL_TRIGGERS, &["FAIL-CLOSED"]),
        }
    }

    /// An expected request that never arrived.
    pub(crate) fn missing_request(&self, kind: &RequestKind) -> Vec<&'static str> {
        match kind {
            RequestKind::First => vec!["READYSTATE-INITIAL"],
            RequestKind::Redirect => self.checked(&["CONN-REDIRECT"], &["CONN-REDIRECT"]),
            RequestKind::Reconnect(wait) => self.reestablish_cause(wait.after_error),
        }
    }

    /// A reconnection whose Last-Event-ID is not the expected one (`sent`: what it carried):
    /// when it is what the client held before the body's last line that changed the last event
    /// ID, the client missed that line, and that line's rules are what broke; otherwise sending
    /// the header is (`fallback`).
    pub(crate) fn last_event_id(
        &self,
        kind: &RequestKind,
        sent: Option<&str>,
        fallback: &'static str,
    ) -> Vec<&'static str> {
        let RequestKind::Reconnect(wait) = kind else {
            return vec![fallback];
        };
        let Some((body, _)) = self.body_of(wait.after_error) else {
            return vec![fallback];
        };
        let mut before = String::new();
        let mut last_change: Option<(usize, &str, &[&'static str])> = None;
        let mut held = String::new();
        for (i, line) in body.lines.iter().enumerate() {
            if line.buffers.last_event_id != held {
                before.clone_from(&held);
                held.clone_from(&line.buffers.last_event_id);
                last_change = Some((i, before.as_str(), line.rules.as_slice()));
            }
        }
        // A message dispatched with the new id shows the page whether the client held it (a
        // wrong lastEventId there is a finding of its own): then only the header is left.
        let shown = |from: usize| {
            body.messages
                .iter()
                .any(|(m, at)| *at >= from && m.last_event_id == held)
        };
        match last_change {
            Some((i, previous, rules))
                if previous == sent.unwrap_or("") && !rules.is_empty() && !shown(i) =>
            {
                rules.to_vec()
            }
            _ => vec![fallback],
        }
    }

    /// A request for another target than the expected one.
    pub(crate) fn wrong_target(&self, kind: &RequestKind) -> Vec<&'static str> {
        match kind {
            RequestKind::First => vec!["CTOR-URL-PARSE"],
            RequestKind::Redirect => vec!["CONN-REDIRECT"],
            RequestKind::Reconnect(_) => self.checked(
                &["CONN-REDIRECT-RECONNECT-URL"],
                &["RECONNECT-SAME-REQUEST"],
            ),
        }
    }

    /// A request that should not have been made, after page step `after` (the index of the
    /// last page step before it, if any).
    pub(crate) fn extra_request(&self, after: Option<usize>) -> Vec<&'static str> {
        if self.closed_before(after) {
            return self.checked(&AFTER_CLOSE, &["CLOSE-ABORTS"]);
        }
        match after.map(|s| &self.expectation.page[s].step) {
            Some(PageEvent::Error {
                ready_state: Some(ReadyState::Closed),
                ..
            }) => vec!["FAIL-NO-RECONNECT"],
            _ => self.checked(
                &["RECONNECT-ONLY-IF-CONNECTING", "FAIL-NO-RECONNECT"],
                &["RECONNECT-WAIT"],
            ),
        }
    }

    /// A page observation after the last expected one.
    pub(crate) fn extra_page(&self, seen: &PageEvent) -> Vec<&'static str> {
        let last = self.expectation.page.len().checked_sub(1);
        if self.closed_before(last) {
            return match seen {
                PageEvent::Message(_) => {
                    self.checked(&["DISPATCH-NOT-WHEN-CLOSED"], &["CLOSE-NO-EVENT"])
                }
                PageEvent::Open => vec!["CONN-ANNOUNCE-NOT-WHEN-CLOSED"],
                PageEvent::Error { .. } => vec!["CLOSE-NO-EVENT"],
            };
        }
        let failed = matches!(
            last.map(|s| &self.expectation.page[s].step),
            Some(PageEvent::Error {
                ready_state: Some(ReadyState::Closed),
                ..
            })
        );
        match seen {
            PageEvent::Error { .. } if failed => vec!["FAIL-CLOSED"],
            PageEvent::Open | PageEvent::Message(_) if failed => vec!["FAIL-NO-RECONNECT"],
            PageEvent::Open => vec!["CONN-ANNOUNCE"],
            PageEvent::Message(_) => {
                let event = as_event(seen);
                let shown = event.as_ref().map_or(Shown::Nothing, Shown::Message);
                match last.and_then(|s| self.body_of(s + 1)) {
                    Some((body, _)) => body.blame_extra(shown),
                    None => self.checked(&CONTENT, &["FIELD-DATA"]),
                }
            }
            PageEvent::Error { .. } => self.checked(&REESTABLISH, &["CONN-NETWORK-ERROR"]),
        }
    }

    /// A reconnection after a connection that was open that came too late to count as made.
    pub(crate) fn late_reconnection(&self, after_error: usize) -> Vec<&'static str> {
        self.reestablish_cause(after_error)
    }

    /// Whether the page closed (or the user agent aborted) before the page step after `step`.
    fn closed_before(&self, step: Option<usize>) -> bool {
        let at = step.map_or(std::time::Duration::ZERO, |s| self.expectation.page[s].at);
        self.expectation.closes_itself
            || self.expectation.commands.iter().any(|(ms, c)| {
                matches!(
                    c,
                    sse_case::client::Command::Close | sse_case::client::Command::UserAgentAbort
                ) && std::time::Duration::from_millis(*ms) <= at
            })
    }
}

/// A page observation as the event a stream would have dispatched.
pub(crate) fn as_event(seen: &PageEvent) -> Option<sse_model::OwnedEvent> {
    match seen {
        PageEvent::Message(m) => Some(sse_model::OwnedEvent {
            event_type: m.event_type.clone(),
            data: m.data.clone(),
            last_event_id: m.last_event_id.clone(),
        }),
        PageEvent::Open | PageEvent::Error { .. } => None,
    }
}
