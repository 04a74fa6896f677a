//! What the accept loop needs from a transport, so one server runs on `tokio::net` and on
//! `turmoil::net` (the simulator implements [`Listener`] for its listener).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use std::sync::Arc;

use crate::metrics::Metrics;

/// A source of accepted connections.
pub trait Listener: Send + 'static {
    /// The connection type.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Waits for the next connection.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Io, SocketAddr)>> + Send;
}

impl Listener for tokio::net::TcpListener {
    type Io = tokio::net::TcpStream;
    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        let (stream, peer) = tokio::net::TcpListener::accept(self).await?;
        // Events are small and must go out at once.
        let _ = stream.set_nodelay(true);
        Ok((stream, peer))
    }
}

/// Wraps a connection so that a write the peer has not let through for `limit` fails (a client
/// that stopped reading is cut instead of holding the stream, and its memory, forever), and so
/// that a client that sends nothing at all within `first_byte` is dropped (hyper's header timeout
/// only starts once the HTTP version has been detected from the first bytes).
pub(crate) struct StallGuard<Io> {
    io: Io,
    limit: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
    /// Until the first byte arrives: when the connection is given up.
    silent_until: Option<Pin<Box<Sleep>>>,
    /// Counts the cut once; `None` after that.
    metrics: Option<Arc<Metrics>>,
}

impl<Io> StallGuard<Io> {
    pub(crate) fn new(
        io: Io,
        limit: Duration,
        first_byte: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        StallGuard {
            io,
            limit,
            stalled: None,
            silent_until: Some(Box::pin(tokio::time::sleep(first_byte))),
            metrics: Some(metrics),
        }
    }

    /// Tracks how long writing has been blocked; errors once it passes the limit.
    fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let limit = self.limit;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        ready!(timer.as_mut().poll(cx));
        if let Some(metrics) = self.metrics.take() {
            metrics.slow_disconnect();
        }
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "client stopped reading",
        )))
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for StallGuard<Io> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_read(cx, buf);
        let Some(deadline) = self.silent_until.as_mut() else {
            return poll;
        };
        if poll.is_ready() {
            self.silent_until = None;
            return poll;
        }
        ready!(deadline.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "client sent nothing",
        )))
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for StallGuard<Io> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_flush(cx);
        self.watch(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
