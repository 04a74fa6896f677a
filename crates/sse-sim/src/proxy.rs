//! The `proxy` host: relays each client connection to the server and applies the case's
//! connection faults to it (cut after N bytes or at time T, buffer, stall, idle timeout).
//! With no faults it is a transparent TCP relay, so every case has the same topology.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use turmoil::net::{TcpListener, TcpStream};

use crate::case::Fault;
use crate::net::sleep_until;

/// The faults that act on relayed bytes, resolved for one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ConnFaults {
    drop_after_bytes: Option<u64>,
    drop_at: Option<Duration>,
    buffer: Option<usize>,
    stall_after_bytes: Option<u64>,
    idle_timeout: Option<Duration>,
}

/// How long the proxy waits for the server to accept before treating it as down.
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_millis(20);

fn applies(connections: &[u32], n: u32) -> bool {
    connections.is_empty() || connections.contains(&n)
}

fn resolve(faults: &[Fault], n: u32) -> ConnFaults {
    let mut out = ConnFaults::default();
    for f in faults {
        match f {
            Fault::Drop {
                after_bytes,
                at_ms,
                connections,
            } if applies(connections, n) => {
                out.drop_after_bytes = out.drop_after_bytes.or(*after_bytes);
                out.drop_at = out.drop_at.or(at_ms.map(Duration::from_millis));
            }
            Fault::Buffer { bytes, connections } if applies(connections, n) => {
                out.buffer = Some(*bytes)
            }
            Fault::Stall {
                after_bytes,
                connections,
            } if applies(connections, n) => {
                out.stall_after_bytes = Some(*after_bytes);
            }
            Fault::IdleTimeout { ms } => out.idle_timeout = Some(Duration::from_millis(*ms)),
            _ => {}
        }
    }
    out
}

/// Runs the proxy on port 80, forwarding to `upstream` (host:port). The proxy starts with the
/// simulation, so its start is the epoch of faults given as absolute times.
pub(crate) async fn run(faults: Arc<Vec<Fault>>, upstream: &'static str) -> turmoil::Result {
    let epoch = Instant::now();
    let listener = TcpListener::bind("0.0.0.0:80").await?;
    let mut n = 0u32;
    loop {
        let (client, _) = listener.accept().await?;
        n += 1;
        let conn = resolve(&faults, n);
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

/// Why relaying stopped.
enum Stop {
    /// Cut both sides.
    Cut,
    /// Keep the client side open but forward nothing more (a stalled middlebox).
    Stall,
}

async fn relay(client: TcpStream, server: TcpStream, faults: ConnFaults, epoch: Instant) {
    let (mut client_rd, mut client_wr) = client.into_split();
    let (mut server_rd, mut server_wr) = server.into_split();
    let mut up_buf = vec![0u8; 16 * 1024];
    let mut down_buf = vec![0u8; 16 * 1024];
    let mut held: Vec<u8> = Vec::new();
    let mut buffering = faults.buffer.is_some();
    let mut forwarded = 0u64;
    let mut last_activity = Instant::now();
    // A cut at time T hits connections open at T, not ones made later.
    let drop_at = faults
        .drop_at
        .map(|d| epoch + d)
        .filter(|at| *at > Instant::now());
    let mut up_open = true;
    let stop = loop {
        let idle_at = faults.idle_timeout.map(|t| last_activity + t);
        tokio::select! {
            biased;
            () = sleep_until(drop_at) => break Stop::Cut,
            () = sleep_until(idle_at) => break Stop::Cut,
            read = client_rd.read(&mut up_buf), if up_open => match read {
                Ok(0) | Err(_) => {
                    up_open = false;
                    let _ = server_wr.shutdown().await;
                }
                Ok(n) => {
                    last_activity = Instant::now();
                    if server_wr.write_all(&up_buf[..n]).await.is_err() {
                        break Stop::Cut;
                    }
                }
            },
            read = server_rd.read(&mut down_buf) => {
                let n = match read {
                    Ok(0) | Err(_) => {
                        // Upstream closed: a buffering middlebox lets go of what it held.
                        if !held.is_empty() {
                            let _ = client_wr.write_all(&held).await;
                        }
                        break Stop::Cut;
                    }
                    Ok(n) => n,
                };
                last_activity = Instant::now();
                let mut chunk = &down_buf[..n];
                let mut limit_hit = None;
                for (limit, stop) in [(faults.drop_after_bytes, Stop::Cut), (faults.stall_after_bytes, Stop::Stall)] {
                    if let Some(limit) = limit {
                        let room = limit.saturating_sub(forwarded);
                        if (chunk.len() as u64) >= room && limit_hit.is_none() {
                            chunk = &chunk[..usize::try_from(room).unwrap_or(chunk.len())];
                            limit_hit = Some(stop);
                        }
                    }
                }
                forwarded += chunk.len() as u64;
                if buffering {
                    held.extend_from_slice(chunk);
                    if held.len() >= faults.buffer.unwrap_or(0) {
                        buffering = false;
                        if client_wr.write_all(&held).await.is_err() {
                            break Stop::Cut;
                        }
                        held.clear();
                    }
                } else if client_wr.write_all(chunk).await.is_err() {
                    break Stop::Cut;
                }
                if let Some(stop) = limit_hit {
                    break stop;
                }
            },
        }
    };
    match stop {
        Stop::Cut => {
            let _ = client_wr.shutdown().await;
        }
        Stop::Stall => {
            // Silent from now on: an idle timeout still applies; without one, hold the client
            // connection open until the client gives up.
            let mut sink = [0u8; 1024];
            let idle_at = faults.idle_timeout.map(|t| Instant::now() + t);
            tokio::select! {
                biased;
                () = sleep_until(idle_at) => {}
                () = async { while matches!(client_rd.read(&mut sink).await, Ok(n) if n > 0) {} } => {}
            }
            let _ = client_wr.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_target_connections() {
        let faults = vec![
            Fault::Drop {
                after_bytes: Some(10),
                at_ms: None,
                connections: vec![2],
            },
            Fault::IdleTimeout { ms: 500 },
        ];
        assert_eq!(resolve(&faults, 1).drop_after_bytes, None);
        assert_eq!(resolve(&faults, 2).drop_after_bytes, Some(10));
        assert_eq!(
            resolve(&faults, 1).idle_timeout,
            Some(Duration::from_millis(500))
        );
    }
}
