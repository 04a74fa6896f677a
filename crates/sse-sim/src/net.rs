//! Small pieces every host of the simulated world shares: an HTTP/1.1 connection over
//! `turmoil::net` (and the server's sleep that may have no deadline, re-exported).

pub use sse_server::stream::sleep_until;

use std::time::Duration;

use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

/// Connects to `host:port` in the simulation and hands the connection to hyper (its driver
/// runs in its own task).
pub(crate) async fn connect_http1<B>(
    host: &str,
    port: u16,
) -> Result<SendRequest<B>, Box<dyn std::error::Error>>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = turmoil::net::TcpStream::connect((host, port)).await?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Simulated time since the start of the run, for logs kept by any host.
pub fn now() -> Duration {
    turmoil::sim_elapsed().unwrap_or_default()
}
