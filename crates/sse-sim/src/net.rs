//! Small pieces every host of the simulated world shares: an HTTP/1.1 connection over
//! `turmoil::net`, and a sleep that may have no deadline.

use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::time::Instant;

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

/// Sleeps until `at`; with no deadline, forever (a `select!` branch that never fires).
pub async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
