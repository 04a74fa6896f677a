//! The fault proxy's relay: copies one client connection to the server and back, applying the
//! connection faults (cut after N bytes or at time T, buffer, stall, idle timeout). Generic over
//! the byte streams and timed by tokio, so the same relay runs in the simulator (`turmoil::net`,
//! simulated time) and on loopback (`tokio::net`, real time). With no faults it is transparent.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::fault::Fault;
use crate::net::sleep_until;

/// The faults that act on relayed bytes, resolved for one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnFaults {
    /// Cut after this many response bytes.
    pub drop_after_bytes: Option<u64>,
    /// Cut at this time after the epoch.
    pub drop_at: Option<Duration>,
    /// Hold response bytes until this many have arrived (or the upstream closes).
    pub buffer: Option<usize>,
    /// Stop forwarding after this many response bytes.
    pub stall_after_bytes: Option<u64>,
    /// Cut after this long without bytes in either direction.
    pub idle_timeout: Option<Duration>,
    /// One-way delay added to every byte, both ways (loopback only: in the simulator the
    /// network applies latency itself).
    pub latency: Duration,
    /// Windows (from, to) after the epoch in which the link holds every byte, both ways, until
    /// the window closes (loopback only, as latency).
    pub partitions: Vec<(Duration, Duration)>,
}

impl ConnFaults {
    /// The same faults without the link's (latency, partitions), for a network that applies
    /// those itself.
    pub fn without_link(mut self) -> Self {
        self.latency = Duration::ZERO;
        self.partitions.clear();
        self
    }
}

fn applies(connections: &[u32], n: u32) -> bool {
    connections.is_empty() || connections.contains(&n)
}

/// The faults that act on the `n`-th client connection (1-based). A server crash is the host's
/// business, not the relay's; latency and partitions are the relay's only where the network
/// does not apply them (see [`ConnFaults::without_link`]).
pub fn resolve(faults: &[Fault], n: u32) -> ConnFaults {
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
            Fault::Drop { .. } | Fault::Buffer { .. } | Fault::Stall { .. } => {}
            Fault::Latency { ms, jitter_ms } => {
                // Without a seeded network, jitter becomes its mean.
                out.latency += Duration::from_millis(ms.saturating_add(jitter_ms / 2));
            }
            Fault::Partition {
                at_ms,
                repair_at_ms,
            } => out.partitions.push((
                Duration::from_millis(*at_ms),
                Duration::from_millis(*repair_at_ms),
            )),
            Fault::ServerCrash { .. } => {}
        }
    }
    out
}

/// Bytes on their way in one direction, each with the time it may be delivered.
#[derive(Default)]
struct InFlight {
    queue: VecDeque<(Instant, Vec<u8>)>,
    bytes: usize,
}

/// Bytes the relay holds in flight per direction at most; past it, it stops reading that side
/// (backpressure), so a delayed link cannot make it buffer without bound.
const MAX_IN_FLIGHT: usize = 1 << 20;

impl InFlight {
    fn due(&self) -> Option<Instant> {
        self.queue.front().map(|(at, _)| *at)
    }

    fn push(&mut self, at: Instant, bytes: Vec<u8>) {
        self.bytes += bytes.len();
        self.queue.push_back((at, bytes));
    }

    fn pop(&mut self) -> Option<(Instant, Vec<u8>)> {
        let item = self.queue.pop_front()?;
        self.bytes -= item.1.len();
        Some(item)
    }

    fn has_room(&self) -> bool {
        self.bytes < MAX_IN_FLIGHT
    }
}

/// When bytes read now may be delivered: after the latency, and not before a partition that
/// holds the link now is repaired.
fn delivery(faults: &ConnFaults, epoch: Instant) -> Instant {
    let now = Instant::now();
    let held_until = faults
        .partitions
        .iter()
        .map(|(from, to)| (epoch + *from, epoch + *to))
        .filter(|(from, to)| *from <= now && now < *to)
        .map(|(_, to)| to)
        .max();
    held_until.unwrap_or(now).max(now) + faults.latency
}

/// Writes `bytes` now if nothing is in flight before them and they are due, else queues them.
async fn send<W: AsyncWrite + Unpin>(
    w: &mut W,
    queue: &mut InFlight,
    at: Instant,
    bytes: &[u8],
) -> std::io::Result<()> {
    if queue.queue.is_empty() && at <= Instant::now() {
        w.write_all(bytes).await
    } else {
        queue.push(at, bytes.to_vec());
        Ok(())
    }
}

/// Delivers everything still in flight, each at its time.
async fn drain<W: AsyncWrite + Unpin>(w: &mut W, queue: &mut InFlight) -> std::io::Result<()> {
    while let Some((at, bytes)) = queue.pop() {
        tokio::time::sleep_until(at).await;
        w.write_all(&bytes).await?;
    }
    Ok(())
}

/// Why relaying stopped.
enum Stop {
    /// Cut both sides.
    Cut,
    /// Keep the client side open but forward nothing more (a stalled middlebox).
    Stall,
}

/// Relays `client` to `server` and back until either side ends or a fault stops it. `epoch` is
/// when the run started: faults given as absolute times count from it.
pub async fn relay<C, S>(client: C, server: S, faults: ConnFaults, epoch: Instant)
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_rd, mut client_wr) = tokio::io::split(client);
    let (mut server_rd, mut server_wr) = tokio::io::split(server);
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
    let mut up = InFlight::default();
    let mut down = InFlight::default();
    let stop = loop {
        let idle_at = faults.idle_timeout.map(|t| last_activity + t);
        tokio::select! {
            biased;
            () = sleep_until(drop_at) => break Stop::Cut,
            () = sleep_until(idle_at) => break Stop::Cut,
            () = sleep_until(up.due()) => {
                if let Some((_, bytes)) = up.pop() {
                    if server_wr.write_all(&bytes).await.is_err() {
                        break Stop::Cut;
                    }
                }
            },
            () = sleep_until(down.due()) => {
                if let Some((_, bytes)) = down.pop() {
                    if client_wr.write_all(&bytes).await.is_err() {
                        break Stop::Cut;
                    }
                }
            },
            read = client_rd.read(&mut up_buf), if up_open && up.has_room() => match read {
                Ok(0) | Err(_) => {
                    up_open = false;
                    let _ = drain(&mut server_wr, &mut up).await;
                    let _ = server_wr.shutdown().await;
                }
                Ok(n) => {
                    last_activity = Instant::now();
                    let at = delivery(&faults, epoch);
                    if send(&mut server_wr, &mut up, at, &up_buf[..n]).await.is_err() {
                        break Stop::Cut;
                    }
                }
            },
            read = server_rd.read(&mut down_buf), if down.has_room() => {
                let n = match read {
                    Ok(0) | Err(_) => {
                        // Upstream closed: a buffering middlebox lets go of what it held.
                        if !held.is_empty() {
                            let at = delivery(&faults, epoch);
                            let _ = send(&mut client_wr, &mut down, at, &held).await;
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
                let at = delivery(&faults, epoch);
                if buffering {
                    held.extend_from_slice(chunk);
                    if held.len() >= faults.buffer.unwrap_or(0) {
                        buffering = false;
                        if send(&mut client_wr, &mut down, at, &held).await.is_err() {
                            break Stop::Cut;
                        }
                        held.clear();
                    }
                } else if send(&mut client_wr, &mut down, at, chunk).await.is_err() {
                    break Stop::Cut;
                }
                if let Some(stop) = limit_hit {
                    break stop;
                }
            },
        }
    };
    // What was on its way still arrives (TCP delivers in order before the FIN).
    let _ = drain(&mut client_wr, &mut down).await;
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

    #[test]
    fn link_faults_are_kept_for_loopback_and_dropped_for_the_simulator() {
        let faults = vec![
            Fault::Latency {
                ms: 10,
                jitter_ms: 4,
            },
            Fault::Partition {
                at_ms: 100,
                repair_at_ms: 300,
            },
        ];
        let conn = resolve(&faults, 1);
        assert_eq!(conn.latency, Duration::from_millis(12));
        assert_eq!(
            conn.partitions,
            [(Duration::from_millis(100), Duration::from_millis(300))]
        );
        assert_eq!(conn.without_link(), ConnFaults::default());
    }

    /// Latency and a partition on loopback-style relaying: bytes arrive late, in order, and
    /// none is lost.
    #[tokio::test(start_paused = true)]
    async fn delayed_bytes_arrive_in_order() {
        let (client, mut client_far) = tokio::io::duplex(1024);
        let (server, mut server_far) = tokio::io::duplex(1024);
        let epoch = Instant::now();
        let faults = ConnFaults {
            latency: Duration::from_millis(50),
            partitions: vec![(Duration::from_millis(100), Duration::from_millis(400))],
            ..ConnFaults::default()
        };
        let relay = tokio::spawn(relay(client, server, faults, epoch));
        server_far.write_all(b"a").await.expect("write");
        let mut buf = [0u8; 8];
        let n = client_far.read(&mut buf).await.expect("read");
        assert_eq!(
            (&buf[..n], Instant::now() - epoch),
            (&b"a"[..], Duration::from_millis(50))
        );
        tokio::time::sleep_until(epoch + Duration::from_millis(150)).await;
        server_far.write_all(b"b").await.expect("write");
        server_far.write_all(b"c").await.expect("write");
        let mut got = Vec::new();
        while got.len() < 2 {
            let n = client_far.read(&mut buf).await.expect("read");
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"bc");
        assert_eq!(Instant::now() - epoch, Duration::from_millis(450));
        drop(server_far);
        let mut rest = Vec::new();
        client_far.read_to_end(&mut rest).await.expect("end");
        assert!(rest.is_empty());
        relay.await.expect("relay ends");
    }
}
