//! Wiring: the HTTP handler (WebSocket upgrade on any path, `/health`, `/metrics`, static files),
//! the shared [`Relay`] state, and [`serve`] with its graceful shutdown.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

use super::accept;
use super::connection;
use super::forwarded::TrustedProxies;
use super::limits::{InvalidLimit, IpLimiter, Limits};
use super::metrics::{DropReason, Metrics};
use super::security_headers::{InvalidFrameAncestors, SecurityHeaders, DEFAULT_FRAME_ANCESTORS};
use super::static_files::{self, text};
use super::topics::TopicMap;

/// Read buffer of each WebSocket (it grows for a larger message, up to the size limit).
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// Bytes the writer gathers before writing to the socket (it writes at least at each flush).
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// How long [`serve`] waits, after the shutdown signal, for WebSocket connections to close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Everything the relay is started with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory of the static web app served on plain GET requests (`--www`).
    pub www: Option<PathBuf>,
    /// The limits (one flag each).
    pub limits: Limits,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`); empty by
    /// default: the TCP peer is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Sources of the CSP `frame-ancestors` directive (`--frame-ancestors`), `'self'` by default.
    pub frame_ancestors: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            www: None,
            limits: Limits::default(),
            trusted_proxies: Vec::new(),
            frame_ancestors: DEFAULT_FRAME_ANCESTORS.to_owned(),
        }
    }
}

/// Why the relay could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// A limit that cannot work.
    #[error(transparent)]
    Limit(#[from] InvalidLimit),
    /// `--frame-ancestors` that is not a list of CSP sources.
    #[error(transparent)]
    FrameAncestors(#[from] InvalidFrameAncestors),
    /// `--www` is missing or unreadable.
    #[error("--www {path}: {source}")]
    Www {
        /// The directory given.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// `--www` names something that is not a directory.
    #[error("--www {0}: not a directory")]
    WwwNotDirectory(PathBuf),
    /// The listener failed.
    #[error("serving: {0}")]
    Io(#[from] io::Error),
}

/// State shared by the HTTP handler and every connection.
#[derive(Debug)]
pub(crate) struct Relay {
    pub(crate) limits: Limits,
    /// Canonical path of the web app directory.
    www: Option<PathBuf>,
    pub(crate) topics: TopicMap,
    pub(crate) metrics: Metrics,
    ip_limiter: Arc<IpLimiter>,
    trusted_proxies: TrustedProxies,
    security_headers: SecurityHeaders,
    /// Becomes `true` when the relay shuts down.
    pub(crate) shutdown: watch::Receiver<bool>,
    next_id: AtomicU64,
    connection_closed: Notify,
}

impl Relay {
    pub(crate) fn next_connection_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Called as each connection ends (after the metrics count it closed).
    pub(crate) fn connection_closed(&self) {
        self.connection_closed.notify_waiters();
    }

    /// Waits until no WebSocket connection is open, for at most `grace`.
    async fn wait_connections_closed(&self, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let closed = self.connection_closed.notified();
            tokio::pin!(closed);
            // Registered before the count is read, so a close in between is not missed.
            closed.as_mut().enable();
            let open = self.metrics.connections();
            if open == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, closed).await.is_err() {
                tracing::warn!(
                    open,
                    "shutdown grace period over with connections still open"
                );
                return;
            }
        }
    }
}

/// Runs the relay on `listener` until `shutdown` resolves, then closes every WebSocket
/// connection with code 1001 and returns once they are closed (or after a short grace period).
///
/// Tests start it in-process on a listener bound to `127.0.0.1:0`.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RelayError> {
    config.limits.validate()?;
    let security_headers = SecurityHeaders::new(&config.frame_ancestors)?;
    let www = match &config.www {
        Some(dir) => Some(canonical_dir(dir).await?),
        None => None,
    };
    let (stop, stopped) = watch::channel(false);
    let relay = Arc::new(Relay {
        topics: TopicMap::new(config.limits.max_subscribers_per_topic),
        ip_limiter: IpLimiter::new(config.limits.max_connections_per_ip),
        trusted_proxies: TrustedProxies::new(config.trusted_proxies),
        security_headers,
        limits: config.limits,
        www,
        metrics: Metrics::default(),
        shutdown: stopped,
        next_id: AtomicU64::new(1),
        connection_closed: Notify::new(),
    });
    let app = Router::new()
        .fallback(handle)
        .with_state(Arc::clone(&relay));
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down");
        // The accept loop and every connection watch this; WebSockets close with 1001.
        let _ = stop.send(true);
    });
    // Returns once shutdown was signalled and HTTP connections finished their requests, or
    // after the grace period: a client that never completes one cannot hold the relay up.
    accept::run(listener, app, Arc::clone(&relay), SHUTDOWN_GRACE).await;
    relay.wait_connections_closed(SHUTDOWN_GRACE).await;
    tracing::info!("stopped");
    Ok(())
}

async fn canonical_dir(dir: &PathBuf) -> Result<PathBuf, RelayError> {
    let real = tokio::fs::canonicalize(dir)
        .await
        .map_err(|source| RelayError::Www {
            path: dir.clone(),
            source,
        })?;
    let meta = tokio::fs::metadata(&real)
        .await
        .map_err(|source| RelayError::Www {
            path: dir.clone(),
            source,
        })?;
    if !meta.is_dir() {
        return Err(RelayError::WwwNotDirectory(dir.clone()));
    }
    Ok(real)
}

/// The one handler: every answer carries the security headers.
async fn handle(
    State(relay): State<Arc<Relay>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let mut response = route(&relay, peer, request).await;
    relay.security_headers.apply(response.headers_mut());
    response
}

/// A WebSocket upgrade on any path, else the HTTP routes.
async fn route(relay: &Arc<Relay>, peer: SocketAddr, request: Request) -> Response {
    // y-webrtc clients connect to whatever path their signalling URL has.
    if wants_websocket(request.headers()) {
        let client = relay.trusted_proxies.client(peer.ip(), request.headers());
        return upgrade(Arc::clone(relay), client, request).await;
    }
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        let allow = [(header::ALLOW, "GET, HEAD")];
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            allow,
            "method not allowed\n",
        )
            .into_response();
    }
    match request.uri().path() {
        "/health" => text(StatusCode::OK, "ok\n"),
        "/metrics" => {
            let body = relay.metrics.render(relay.topics.gauges());
            let content_type = [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )];
            (content_type, body).into_response()
        }
        path => static_files::respond(relay.www.as_deref(), path).await,
    }
}

fn wants_websocket(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

async fn upgrade(relay: Arc<Relay>, ip: IpAddr, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    if *relay.shutdown.borrow() {
        return text(StatusCode::SERVICE_UNAVAILABLE, "relay shutting down\n");
    }
    let Some(slot) = relay.ip_limiter.try_acquire(ip) else {
        relay.metrics.dropped(DropReason::IpLimit);
        return text(
            StatusCode::TOO_MANY_REQUESTS,
            "too many connections from this address\n",
        );
    };
    let max = relay.limits.max_message_bytes;
    ws.max_message_size(max)
        .max_frame_size(max)
        // Signalling messages are small: tungstenite's 128 KiB default buffers would make up
        // most of the memory an idle connection costs.
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .on_upgrade(move |socket| connection::run(relay, socket, slot))
}
