//! One small HTTP/1.1 exchange with a loopback URL (an order to a test service, a publish to a
//! server under test): a request with an optional JSON body, an answer read whole up to a
//! limit, all within a time limit.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};

use crate::fetch::FetchError;
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
        let bad = || FetchError::BadUrl(url.to_string());
        let host = url.host_str().ok_or_else(bad)?;
        let port = url.port_or_known_default().ok_or_else(bad)?;
        let io = Net::loopback()
            .connect(host, port)
            .await
            .map_err(|e| FetchError::Connect {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
                .await
                .map_err(|e| FetchError::Http(e.to_string()))?;
        let conn = tokio::spawn(conn);
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        let mut builder = Request::builder()
            .method(method)
            .uri(target)
            .header("host", authority);
        let body = match json {
            Some(v) => {
                builder = builder.header("content-type", "application/json");
                Bytes::from(v.to_string())
            }
            None => Bytes::new(),
        };
        let request = builder
            .body(Full::new(body))
            .map_err(|e| FetchError::Http(format!("bad request: {e}")))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| FetchError::Http(e.to_string()))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| FetchError::Http(format!("unreadable answer: {e}")))?
            .to_bytes();
        conn.abort();
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
