//! Where test traffic may go: real TCP to loopback addresses only, or the simulator's network.
//! Every connection the suite makes to a server under test goes through [`Net`].

use std::fmt;
use std::io;
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream to a server.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// The loopback address a URL's host names, without asking any resolver (a DNS query would
/// leave the machine): an IP literal in 127.0.0.0/8 or `::1` (bracketed or not), or
/// `localhost`. Anything else is refused with the reason.
pub fn loopback_ip(host: &str) -> Result<std::net::IpAddr, NotLoopback> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(std::net::Ipv4Addr::LOCALHOST.into());
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) if ip.is_loopback() => Ok(ip),
        Ok(ip) => Err(NotLoopback::Address(ip)),
        Err(_) => Err(NotLoopback::Name(host.to_owned())),
    }
}

/// A host the harness will not connect to: test traffic stays on this machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotLoopback {
    /// An IP address outside 127.0.0.0/8 and `::1`.
    #[error("{0} is not a loopback address: the harness only connects to loopback")]
    Address(std::net::IpAddr),
    /// A host name other than `localhost` (it would have to be resolved).
    #[error(
        "{0} is not a loopback address (an IP in 127.0.0.0/8, ::1 or localhost; host names are not resolved)"
    )]
    Name(String),
}

/// A connection made through [`Net`].
pub type Conn = Box<dyn Io>;

type ConnectFn = dyn Fn(String, u16) -> BoxFuture<'static, io::Result<Conn>> + Send + Sync;

/// How a client reaches the case server: real loopback sockets or the simulator's network.
#[derive(Clone)]
pub struct Net {
    connect: Arc<ConnectFn>,
    simulated: bool,
}

impl fmt::Debug for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Net")
    }
}

impl Net {
    /// Real TCP, to loopback addresses only (127.0.0.0/8, ::1, `localhost`): the harness never
    /// sends test traffic anywhere else.
    pub fn loopback() -> Net {
        let connect = Arc::new(|host: String, port: u16| {
            Box::pin(async move {
                let ip = loopback_ip(&host)
                    .map_err(|why| io::Error::new(io::ErrorKind::PermissionDenied, why))?;
                let stream = tokio::net::TcpStream::connect((ip, port)).await?;
                stream.set_nodelay(true)?;
                Ok(Box::new(stream) as Conn)
            }) as BoxFuture<'static, io::Result<Conn>>
        });
        Net {
            connect,
            simulated: false,
        }
    }

    /// The simulator's network (`turmoil::net`); usable only inside a simulation.
    pub fn simulated() -> Net {
        let connect = Arc::new(|host: String, port: u16| {
            Box::pin(async move {
                let stream = turmoil::net::TcpStream::connect((host.as_str(), port)).await?;
                Ok(Box::new(stream) as Conn)
            }) as BoxFuture<'static, io::Result<Conn>>
        });
        Net {
            connect,
            simulated: true,
        }
    }

    /// Connects to `host:port`.
    pub async fn connect(&self, host: &str, port: u16) -> io::Result<Conn> {
        (self.connect)(host.to_owned(), port).await
    }

    /// Whether connections go through the simulator: a client with a network stack of its own
    /// must use [`Net::connect`] there, and may use its own stack on loopback.
    pub fn is_simulated(&self) -> bool {
        self.simulated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_literals_and_localhost_are_taken_and_no_name_is_resolved() {
        for ok in [
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "[::1]",
            "localhost",
            "LOCALHOST",
        ] {
            assert!(loopback_ip(ok).is_ok(), "{ok}");
        }
        for (host, why) in [
            ("1.2.3.4", "not a loopback address"),
            ("0.0.0.0", "not a loopback address"),
            ("[2001:db8::1]", "not a loopback address"),
            // A name that may well resolve to loopback is still refused: asking a resolver
            // would send a query off the machine.
            ("localhost.example", "host names are not resolved"),
            ("example.invalid", "host names are not resolved"),
        ] {
            let err = loopback_ip(host).expect_err(host).to_string();
            assert!(err.contains(why), "{host}: {err}");
        }
    }
}
