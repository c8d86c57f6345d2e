//! The accept loop: our own around hyper's HTTP/1 server, because `axum::serve` bounds neither
//! the time to send a request head nor the number of connections.
//!
//! Each TCP connection takes a place in a global cap (`--max-connections`) for as long as its
//! socket lives, WebSocket included: the place travels inside the socket wrapper ([`Guarded`]),
//! which hyper hands to the WebSocket on upgrade. hyper's `header_read_timeout` cuts a client
//! that does not finish its request head, also on a kept-alive connection waiting for its next
//! request; an idle watchdog cuts an HTTP connection on which no byte moved for
//! `--idle-timeout-ms` (a client that stops reading a large file).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tower_service::Service;

use super::metrics::DropReason;
use super::server::Relay;

/// Pause after a failed `accept` (out of file descriptors, typically) before trying again, so
/// the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Accepts connections on `listener` and serves `app` on each, until `stop` turns true; then
/// asks every HTTP connection to finish and returns once all have, or after `grace`.
pub(crate) async fn run(listener: TcpListener, app: Router, relay: Arc<Relay>, grace: Duration) {
    let limits = &relay.limits;
    let mut stop = relay.shutdown.clone();
    let places = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout());
    let idle_timeout = limits.idle_timeout();
    // Each connection task holds a sender: when all are dropped, every connection is done.
    let (alive, mut all_done) = mpsc::channel::<()>(1);
    loop {
        let (stream, peer) = tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let Ok(place) = Arc::clone(&places).try_acquire_owned() else {
            // Closed unanswered: under a flood, answering would cost what the cap saves.
            relay.metrics.dropped(DropReason::ConnectionLimit);
            drop(stream);
            continue;
        };
        let connection = ConnectionTask {
            http: http.clone(),
            app: app.clone(),
            relay: Arc::clone(&relay),
            stop: stop.clone(),
            idle_timeout,
            _alive: alive.clone(),
        };
        tokio::spawn(connection.serve(stream, peer, place));
    }
    drop(alive);
    if tokio::time::timeout(grace, all_done.recv()).await.is_err() {
        tracing::warn!("HTTP connections still open after the grace period");
    }
}

/// Resolves once the relay is stopping (or gone altogether).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The borrowed value is dropped here: it must not live across the caller's awaits.
    let _ = stop.wait_for(|stop| *stop).await;
}

/// What one connection's task needs.
struct ConnectionTask {
    http: http1::Builder,
    app: Router,
    relay: Arc<Relay>,
    stop: watch::Receiver<bool>,
    idle_timeout: Duration,
    _alive: mpsc::Sender<()>,
}

impl ConnectionTask {
    async fn serve(mut self, stream: TcpStream, peer: SocketAddr, place: OwnedSemaphorePermit) {
        let activity = Arc::new(Activity::new());
        let io = Guarded {
            stream,
            activity: Arc::clone(&activity),
            _place: place,
        };
        let app = self.app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            // The handler reads the peer address as axum's `ConnectInfo`.
            request.extensions_mut().insert(ConnectInfo(peer));
            // A Router is always ready: `call` without `poll_ready` is how axum serves it too.
            app.clone().call(request)
        });
        let connection = self
            .http
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        tokio::pin!(connection);
        let mut stopping = false;
        loop {
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(err) = served {
                        tracing::debug!(%peer, %err, "HTTP connection ended with an error");
                    }
                    return;
                }
                () = activity.idle_for(self.idle_timeout) => {
                    tracing::debug!(%peer, "HTTP connection idle: closed");
                    self.relay.metrics.dropped(DropReason::IdleTimeout);
                    return;
                }
                () = stopped(&mut self.stop), if !stopping => {
                    // Finish the request in progress, then close.
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// When a connection last moved a byte.
struct Activity {
    origin: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            origin: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let now = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(now, Ordering::Relaxed);
    }

    /// Resolves once nothing has moved for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let last = self.origin + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let quiet = last.elapsed();
            if quiet >= limit {
                return;
            }
            tokio::time::sleep(limit - quiet).await;
        }
    }
}

/// A TCP stream holding its place in the connection cap, noting each byte moved.
struct Guarded {
    stream: TcpStream,
    activity: Arc<Activity>,
    _place: OwnedSemaphorePermit,
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
