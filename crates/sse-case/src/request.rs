//! A request as a case server received it: what a verdict on a client's requests is judged on
//! (the headers that arrived, not the ones the client meant to send).

use std::time::Duration;

use serde::Serialize;

/// One request, as it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceivedRequest {
    /// When it arrived, by the log's clock.
    pub at: Duration,
    /// The method.
    pub method: String,
    /// Path and query as sent on the request line.
    pub target: String,
    /// Header names (lower case) and values (lossy UTF-8), in order.
    pub headers: Vec<(String, String)>,
    /// The body (lossy UTF-8), for a request that is not a GET and carried one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl ReceivedRequest {
    /// The first value of a header, by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}
