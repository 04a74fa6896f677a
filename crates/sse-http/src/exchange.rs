//! The one way the suite sends an HTTP/1.1 request: a connection of its own through [`Net`]
//! (loopback sockets or the simulator's network), the request line and `Host` taken from the
//! URL, and the response's head handed back with its body still to read.

use bytes::Bytes;
use http_body_util::{Empty, Full};
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

/// The headers of an EventSource's GET: `Accept: text/event-stream`, `Cache-Control: no-cache`,
/// the Last-Event-ID when there is one, and the `Accept-Encoding` the HTTP stack offers.
pub fn eventsource_headers<'a>(
    last_event_id: Option<&'a str>,
    accept_encoding: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut headers = vec![
        ("accept", "text/event-stream"),
        ("cache-control", "no-cache"),
    ];
    if let Some(id) = last_event_id {
        headers.push(("last-event-id", id));
    }
    if let Some(coding) = accept_encoding {
        headers.push(("accept-encoding", coding));
    }
    headers
}

/// Redirects followed at most (Fetch's limit).
pub const MAX_REDIRECTS: usize = 20;

/// GETs `url` with `headers` through `net`, following redirects as Fetch does for an
/// EventSource (301, 302, 303, 307 and 308 with a `Location`, at most [`MAX_REDIRECTS`], each to
/// an `http:` URL); returns the final response, its body still to read, and each redirect
/// followed (its status and the URL it came from).
pub async fn get_following(
    net: &Net,
    url: &Url,
    headers: &[(&str, &str)],
) -> Result<(http::Response<Incoming>, Vec<(u16, String)>), FetchError> {
    let mut url = url.clone();
    let mut redirects = Vec::new();
    loop {
        if url.scheme() != "http" {
            return Err(FetchError::BadUrl(url.to_string()));
        }
        let response = send(
            net,
            &url,
            request("GET", &url, headers, Empty::<Bytes>::new())?,
        )
        .await?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| url.join(l).ok());
        match location {
            Some(next) if matches!(status, 301 | 302 | 303 | 307 | 308) => {
                if redirects.len() >= MAX_REDIRECTS {
                    return Err(FetchError::Http(format!(
                        "more than {MAX_REDIRECTS} redirects (the last to {next})"
                    )));
                }
                redirects.push((status, url.to_string()));
                url = next;
            }
            _ => return Ok((response, redirects)),
        }
    }
}
