//! What a case asks of a client over time, read from the case: the capabilities it needs, the
//! commands it gives and when, and the companion streams it keeps open beside its own.

use std::time::Duration;

use crate::case::Case;
use crate::client::{Capability, Command};

/// The capabilities a case needs from a client.
pub fn needs(case: &Case) -> Vec<Capability> {
    let c = &case.client;
    let mut out = Vec::new();
    if c.close_at_ms.is_some() {
        out.push(Capability::Close);
    }
    if c.close_on_message.is_some() {
        out.push(Capability::CloseInHandler);
    }
    if c.ua_abort_at_ms.is_some() {
        out.push(Capability::UserAgentAbort);
    }
    if c.last_event_id.is_some() {
        out.push(Capability::InitialLastEventId);
    }
    if c.origin.is_some() || c.with_credentials.is_some() {
        out.push(Capability::Cors);
    }
    if c.max_line.is_some() || c.max_event.is_some() {
        out.push(Capability::Limits);
    }
    if c.headers.is_some() {
        out.push(Capability::Headers);
    }
    match c.method.as_deref() {
        Some("POST") => out.push(Capability::Post),
        Some("REPORT") => out.push(Capability::Report),
        _ => {}
    }
    if c.read_timeout_ms.is_some() {
        out.push(Capability::ReadTimeout);
    }
    if c.restart_at_ms.is_some() {
        out.push(Capability::Restart);
    }
    if reconnects(case) {
        out.push(Capability::Reconnect);
    }
    out
}

/// Whether a case's golden trace (under any reading) has a reconnection: a request after an
/// `error`.
pub fn reconnects(case: &Case) -> bool {
    case.golden
        .iter()
        .chain(case.alternatives.iter().map(|(_, t)| t))
        .any(|t| {
            let mut errored = false;
            t.lines.iter().any(|l| match &l.what {
                sse_model::Observation::Page(sse_model::PageEvent::Error { .. }) => {
                    errored = true;
                    false
                }
                sse_model::Observation::Request { .. } => errored,
                _ => false,
            })
        })
}

/// The commands of a case, in time order.
pub fn commands(case: &Case) -> Vec<(Duration, Command)> {
    let mut out = Vec::new();
    if let Some(ms) = case.client.close_at_ms {
        out.push((Duration::from_millis(ms), Command::Close));
    }
    if let Some(ms) = case.client.ua_abort_at_ms {
        out.push((Duration::from_millis(ms), Command::UserAgentAbort));
    }
    if let Some(ms) = case.client.restart_at_ms {
        out.push((Duration::from_millis(ms), Command::Restart));
    }
    out.sort_by_key(|(at, _)| *at);
    out
}

/// The path of a case's `i`th companion stream: a demo stream of the reference server (an event
/// every half second keeps it busy), marked so the request logs leave it out: it is the case's
/// background, not what is judged.
pub fn companion_path(i: u8) -> String {
    format!("/sse/{i}?companion&interval_ms=500")
}

/// Whether a request is for a companion stream (see [`crate::case::ClientSpec::companions`]).
pub fn is_companion(target: &str) -> bool {
    target.starts_with("/sse/")
        && target
            .split_once('?')
            .is_some_and(|(_, query)| query.split('&').any(|p| p == "companion"))
}
