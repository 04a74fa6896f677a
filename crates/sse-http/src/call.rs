//! One small HTTP/1.1 exchange with a loopback URL (an order to a test service, a publish to a
//! server under test): a request with an optional JSON body, an answer read whole up to a
//! limit, all within a time limit.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt, Limited};

use crate::error::FetchError;
use crate::exchange::{request_with, send};
use crate::net::Net;

/// What an HTTP call answered.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, read whole.
    pub body: Bytes,
}

/// The largest answer [`call`] reads.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// One HTTP/1.1 request to a loopback URL, on a connection of its own, within `limit`.
pub async fn call(
    method: Method,
    url: &url::Url,
    json: Option<&serde_json::Value>,
    limit: Duration,
) -> Result<Answer, FetchError> {
    let attempt = async {
        let (headers, body): (&[(&str, &str)], _) = match json {
            Some(v) => (
                &[("content-type", "application/json")],
                Some(Bytes::from(v.to_string())),
            ),
            None => (&[], None),
        };
        let request = request_with(method.as_str(), url, headers, body)?;
        let response = send(&Net::loopback(), url, request).await?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| FetchError::Http(format!("unreadable answer: {e}")))?
            .to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    };
    tokio::time::timeout(limit, attempt)
        .await
        .map_err(|_| FetchError::Timeout {
            url: url.to_string(),
            limit,
        })?
}
