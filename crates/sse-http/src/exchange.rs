//! The one way the suite sends an HTTP/1.1 request: a connection of its own through [`Net`]
//! (loopback sockets or the simulator's network), the request line and `Host` taken from the
//! URL, and the response's head handed back with its body still to read.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use url::Url;

use crate::error::FetchError;
use crate::net::Net;

/// A request to `url`: its path and query on the request line, its authority as `Host`, then
/// `headers` in order.
pub fn request<B>(
    method: &str,
    url: &Url,
    headers: &[(&str, &str)],
    body: B,
) -> Result<http::Request<B>, FetchError> {
    let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
    let authority = &url[url::Position::BeforeHost..url::Position::AfterPort];
    let mut builder = http::Request::builder()
        .method(method)
        .uri(target)
        .header("host", authority);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(body)
        .map_err(|e| FetchError::Http(format!("bad request: {e}")))
}

/// [`request`] with a body of bytes (none: empty).
pub fn request_with(
    method: &str,
    url: &Url,
    headers: &[(&str, &str)],
    body: Option<Bytes>,
) -> Result<http::Request<Full<Bytes>>, FetchError> {
    request(method, url, headers, Full::new(body.unwrap_or_default()))
}

/// Sends `request` to the host and port of `url` on a new HTTP/1.1 connection through `net`;
/// the connection closes once the response has been read (or dropped).
pub async fn send<B>(
    net: &Net,
    url: &Url,
    request: http::Request<B>,
) -> Result<http::Response<Incoming>, FetchError>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let bad = || FetchError::BadUrl(url.to_string());
    let host = url.host_str().ok_or_else(bad)?;
    let port = url.port_or_known_default().ok_or_else(bad)?;
    let io = net
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
    tokio::spawn(conn);
    sender
        .send_request(request)
        .await
        .map_err(|e| FetchError::Http(e.to_string()))
}
