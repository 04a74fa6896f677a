//! Reading an event stream from a server at a URL, as a careful client reads from a server it
//! does not trust: loopback only, a connect timeout, a total time limit and a size cap, so a
//! stream that never ends (they usually do not) or floods is cut, never waited for. What
//! `ssec explain URL` reads streams with.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use url::Url;

pub use crate::error::FetchError;
use crate::net::Net;

/// How much of a stream to read, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// Longest wait for the connection and the response head.
    pub connect: Duration,
    /// Longest time to read for, from the request on.
    pub total: Duration,
    /// Most body bytes to keep.
    pub max_bytes: usize,
}

impl Default for FetchLimits {
    fn default() -> Self {
        FetchLimits {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(10),
            max_bytes: 1 << 20,
        }
    }
}

/// Why reading stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The server ended the body.
    Complete,
    /// The time limit passed first (the stream was still open).
    TimeUp(Duration),
    /// The size cap was reached first.
    SizeCap(usize),
    /// The connection broke mid-body.
    Broken(String),
}

/// What was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The response's status.
    pub status: u16,
    /// Its header names (lower case) and values (lossy UTF-8).
    pub headers: Vec<(String, String)>,
    /// The body bytes read (decoded, when the response was compressed).
    pub body: Vec<u8>,
    /// Why reading stopped.
    pub ended: Ended,
    /// When the request was sent.
    pub started: tokio::time::Instant,
    /// How long the response head took.
    pub head_after: Duration,
    /// For each piece of body that arrived: when (after `started`), and the body's length with
    /// it (decoded), so a delay can be told for any byte.
    pub arrivals: Vec<(Duration, usize)>,
    /// The redirects followed to get here, as an EventSource follows them: each status and
    /// the URL it answered.
    pub redirects: Vec<(u16, String)>,
}

impl Fetched {
    /// When the body byte at `offset` arrived.
    pub fn arrival_of(&self, offset: usize) -> Option<tokio::time::Instant> {
        self.arrivals
            .iter()
            .find(|(_, len)| *len > offset)
            .map(|(at, _)| self.started + *at)
    }

    /// When `needle` (a token a test published) first arrived in the body, if it did.
    pub fn arrival_of_text(&self, needle: &str) -> Option<tokio::time::Instant> {
        self.body
            .windows(needle.len())
            .position(|w| w == needle.as_bytes())
            .and_then(|at| self.arrival_of(at))
    }

    /// The response's compression, for a person: `Content-Encoding gzip`, or `no compression`.
    pub fn coding(&self) -> String {
        self.headers
            .iter()
            .find(|(n, _)| n == "content-encoding")
            .map_or_else(
                || "no compression".to_owned(),
                |(_, v)| format!("Content-Encoding {v}"),
            )
    }
}

/// GETs `url` as an EventSource would (`Accept: text/event-stream`, `Cache-Control: no-cache`,
/// and `Last-Event-ID` when given) and reads its body within `limits`.
pub async fn read_stream(
    url: &Url,
    last_event_id: Option<&str>,
    limits: FetchLimits,
) -> Result<Fetched, FetchError> {
    read_stream_encoded(url, last_event_id, None, limits).await
}

/// [`read_stream`], offering `accept_encoding` and decoding the body as the response says
/// (gzip, deflate, br): a compressing server is read as a browser reads it. Redirects are
/// followed (loopback only), as an EventSource follows them.
pub async fn read_stream_encoded(
    url: &Url,
    last_event_id: Option<&str>,
    accept_encoding: Option<&str>,
    limits: FetchLimits,
) -> Result<Fetched, FetchError> {
    let started = tokio::time::Instant::now();
    // Followed as Fetch follows them for an EventSource, each to loopback only (`Net`).
    let headers = crate::exchange::eventsource_headers(last_event_id, accept_encoding);
    let net = Net::loopback();
    let head = crate::exchange::get_following(&net, url, &headers);
    let (response, redirects) = tokio::time::timeout_at(started + limits.connect, head)
        .await
        .map_err(|_| timeout(url, limits))??;
    let mut fetched = read_response(response, started, accept_encoding, limits).await;
    fetched.redirects = redirects;
    Ok(fetched)
}

/// One HTTP/2 connection (prior knowledge, `h2c`) that many streams share, as a browser shares
/// one connection among a page's EventSources.
#[derive(Clone)]
pub struct H2Connection {
    sender: hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
}

impl H2Connection {
    /// Connects to the server of `url` and speaks HTTP/2 at once.
    pub async fn connect(url: &Url, limits: FetchLimits) -> Result<Self, FetchError> {
        let target = Target::of(url)?;
        let handshake = async {
            let io = target.connect(url).await?;
            let (sender, conn) = hyper::client::conn::http2::handshake(
                hyper_util::rt::TokioExecutor::new(),
                hyper_util::rt::TokioIo::new(io),
            )
            .await
            .map_err(|e| FetchError::Http(format!("no HTTP/2: {e}")))?;
            tokio::spawn(conn);
            Ok::<_, FetchError>(H2Connection { sender })
        };
        tokio::time::timeout(limits.connect, handshake)
            .await
            .map_err(|_| timeout(url, limits))?
    }

    /// [`read_stream`] as one more stream of this connection.
    pub async fn read_stream(
        &self,
        url: &Url,
        last_event_id: Option<&str>,
        limits: FetchLimits,
    ) -> Result<Fetched, FetchError> {
        let started = tokio::time::Instant::now();
        let mut sender = self.sender.clone();
        let mut request = request(url, last_event_id, None)?;
        // HTTP/2 carries the authority in the request's URI, not a Host header.
        *request.uri_mut() = url
            .as_str()
            .parse()
            .map_err(|e: http::uri::InvalidUri| FetchError::Http(e.to_string()))?;
        request.headers_mut().remove(http::header::HOST);
        *request.version_mut() = http::Version::HTTP_2;
        let head = async {
            sender
                .ready()
                .await
                .map_err(|e| FetchError::Http(e.to_string()))?;
            sender
                .send_request(request)
                .await
                .map_err(|e| FetchError::Http(e.to_string()))
        };
        let response = tokio::time::timeout(limits.connect, head)
            .await
            .map_err(|_| timeout(url, limits))??;
        Ok(read_response(response, started, None, limits).await)
    }
}

/// Where a URL points: loopback only.
struct Target {
    host: String,
    port: u16,
}

impl Target {
    fn of(url: &Url) -> Result<Self, FetchError> {
        let bad = || FetchError::BadUrl(url.to_string());
        if url.scheme() != "http" {
            return Err(bad());
        }
        Ok(Target {
            host: url.host_str().ok_or_else(bad)?.to_owned(),
            port: url.port_or_known_default().ok_or_else(bad)?,
        })
    }

    async fn connect(&self, url: &Url) -> Result<crate::net::Conn, FetchError> {
        Net::loopback()
            .connect(&self.host, self.port)
            .await
            .map_err(|e| FetchError::Connect {
                url: url.to_string(),
                reason: e.to_string(),
            })
    }
}

fn timeout(url: &Url, limits: FetchLimits) -> FetchError {
    FetchError::Timeout {
        url: url.to_string(),
        limit: limits.connect,
    }
}

/// The GET an EventSource sends.
fn request(
    url: &Url,
    last_event_id: Option<&str>,
    accept_encoding: Option<&str>,
) -> Result<http::Request<Empty<Bytes>>, FetchError> {
    let headers = crate::exchange::eventsource_headers(last_event_id, accept_encoding);
    crate::exchange::request("GET", url, &headers, Empty::<Bytes>::new())
}

/// Reads a response's body within the limits, decoding it as it says.
async fn read_response(
    response: http::Response<hyper::body::Incoming>,
    started: tokio::time::Instant,
    accept_encoding: Option<&str>,
    limits: FetchLimits,
) -> Fetched {
    let head_after = started.elapsed();
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let coding = response
        .headers()
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .filter(|_| accept_encoding.is_some())
        .map(str::to_owned);
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    let mut arrivals: Vec<(Duration, usize)> = Vec::new();
    let deadline = started + limits.total;
    let mut decoder = crate::decode::Decoder::new(coding.as_deref());
    let ended = loop {
        let Some(decoder) = decoder.as_mut() else {
            break Ended::Broken(format!(
                "unknown Content-Encoding {:?}",
                coding.as_deref().unwrap_or_default()
            ));
        };
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => break Ended::TimeUp(limits.total),
            Ok(None) => break Ended::Complete,
            Ok(Some(Err(e))) => break Ended::Broken(e.to_string()),
            Ok(Some(Ok(frame))) => {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                let Some(data) = decoder.decode(&data) else {
                    break Ended::Broken("the compressed body does not decode".into());
                };
                let room = limits.max_bytes.saturating_sub(bytes.len());
                bytes.extend_from_slice(&data[..data.len().min(room)]);
                // One entry per millisecond: a server sending a byte per frame cannot grow it
                // faster than the body.
                let at = started.elapsed();
                match arrivals.last_mut() {
                    Some((last, len)) if at.as_millis() == last.as_millis() => *len = bytes.len(),
                    _ => arrivals.push((at, bytes.len())),
                }
                if data.len() >= room {
                    break Ended::SizeCap(limits.max_bytes);
                }
            }
        }
    };
    Fetched {
        status,
        headers,
        body: bytes,
        ended,
        started,
        head_after,
        arrivals,
        redirects: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_on_loopback_are_read() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let read = |u: &str| {
            let url = Url::parse(u).expect("url");
            rt.block_on(read_stream(&url, None, FetchLimits::default()))
        };
        assert!(matches!(
            read("https://127.0.0.1/"),
            Err(FetchError::BadUrl(_))
        ));
        let err = read("http://192.0.2.1/").expect_err("not loopback");
        assert!(err.to_string().contains("loopback"), "{err}");
    }

    /// A server that answers with `head` and `body`, then holds the connection open.
    async fn hanging_server(head: &'static str, body: Vec<u8>) -> Url {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.expect("accept");
            let mut request = [0u8; 1024];
            let _ = tcp.read(&mut request).await;
            let _ = tcp.write_all(head.as_bytes()).await;
            let _ = tcp.write_all(&body).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        Url::parse(&format!("http://{addr}/s")).expect("url")
    }

    #[test]
    fn a_stream_that_never_ends_is_cut_by_time_and_a_flood_by_size() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let limits = FetchLimits {
            connect: Duration::from_secs(2),
            total: Duration::from_millis(300),
            max_bytes: 64,
        };
        rt.block_on(async {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n";
            let url = hanging_server(head, b"data: a\n\n".to_vec()).await;
            let got = read_stream(&url, Some("7"), limits).await.expect("reads");
            assert_eq!(got.status, 200);
            assert_eq!(got.body, b"data: a\n\n");
            assert_eq!(got.ended, Ended::TimeUp(limits.total));
            let url = hanging_server(head, vec![b':'; 10_000]).await;
            let got = read_stream(&url, None, limits).await.expect("reads");
            assert_eq!(got.body.len(), 64);
            assert_eq!(got.ended, Ended::SizeCap(64));
            // A server that accepts and never answers.
            let url = hanging_server("", Vec::new()).await;
            let limits = FetchLimits {
                connect: Duration::from_millis(200),
                ..limits
            };
            let err = read_stream(&url, None, limits).await.expect_err("no head");
            assert!(matches!(err, FetchError::Timeout { .. }), "{err}");
        });
    }
}
