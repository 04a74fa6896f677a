//! The `proxy` host: accepts each client connection, connects it to the server and relays it
//! through [`crate::relay`] with the faults for that connection. Every case has the same
//! topology, faults or not.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use turmoil::net::{TcpListener, TcpStream};

use crate::fault::Fault;
use crate::relay::{relay, resolve};

/// The proxy's second port, the server's second origin.
pub const OTHER_PORT: u16 = 8080;

/// The proxy's third port, the origin of the page a case's client runs in.
pub const PAGE_PORT: u16 = 8081;

/// How long the proxy waits for the server to accept before treating it as down.
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_millis(20);

/// Connections logged at most.
const MAX_LOGGED: usize = 100_000;

/// Runs the proxy on port 80, on [`OTHER_PORT`] (the server's second origin) and on
/// [`PAGE_PORT`] (the page's origin), forwarding to `upstream` (host:port), logging when each
/// client connection arrived (whether the server then takes it or not). The proxy starts with
/// the simulation, so its start is the epoch of faults given as absolute times; faults count
/// connections on all ports together.
///
/// [`OTHER_PORT`]: OTHER_PORT
/// [`PAGE_PORT`]: PAGE_PORT
pub(crate) async fn run(
    faults: Arc<Vec<Fault>>,
    upstream: &'static str,
    connections: Arc<Mutex<Vec<Duration>>>,
) -> turmoil::Result {
    let epoch = Instant::now();
    let listener = TcpListener::bind("0.0.0.0:80").await?;
    let other = TcpListener::bind(("0.0.0.0", OTHER_PORT)).await?;
    let page = TcpListener::bind(("0.0.0.0", PAGE_PORT)).await?;
    let mut n = 0u32;
    loop {
        let (client, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            accepted = other.accept() => accepted?,
            accepted = page.accept() => accepted?,
        };
        {
            let mut log = connections.lock().unwrap_or_else(PoisonError::into_inner);
            if log.len() < MAX_LOGGED {
                log.push(crate::net::now());
            }
        }
        n += 1;
        // turmoil's network applies latency and partitions itself.
        let conn = resolve(&faults, n).without_link();
        tokio::spawn(async move {
            // A crashed turmoil host never answers a connect; a real kernel would refuse the
            // closed port at once. Give up quickly and close the client connection, which the
            // client sees as a network error.
            match tokio::time::timeout(UPSTREAM_CONNECT_TIMEOUT, TcpStream::connect(upstream)).await
            {
                Ok(Ok(server)) => relay(client, server, conn, epoch).await,
                _ => drop(client),
            }
        });
    }
}
