//! Serving connections with limits. At most `max_connections` are served at once, and at most
//! `per_client` from one address (an IPv6 client by its /64; trusted proxies are exempt): one
//! more is answered at once with a plain 503 and `Retry-After` and closed, never queued without
//! bound or left hanging. A client has `header_timeout` to send its first byte and then a
//! request's headers, so connections that send nothing and slow clients sending a byte at a time
//! (slowloris) are cut off instead of holding connections; a body that stops moving is cut off
//! by the web layer (`renkei_web::body_progress`). On shutdown
//! the listener closes, running requests finish, and connections still open after a grace
//! period (live streams) are dropped.

use axum::extract::connect_info::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// What one server accepts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time allowed for a request's headers (and for a new connection's first byte).
    pub header_timeout: Duration,
    /// Connections served at once for one client address.
    pub per_client: usize,
}

/// How long shutdown waits for open connections.
const GRACE: Duration = Duration::from_secs(10);

/// Open connections per client address.
#[derive(Debug, Default)]
struct PerClient {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted for its client; dropping it gives the place back.
struct ClientSlot {
    counts: Arc<PerClient>,
    client: IpAddr,
}

impl PerClient {
    /// A place for a connection from `client`, or `None` when it holds `limit` already.
    fn take(self: &Arc<Self>, client: IpAddr, limit: usize) -> Option<ClientSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(client).or_insert(0);
        if *n >= limit {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            counts: self.clone(),
            client,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.client);
            }
        }
    }
}

/// The address a client's connections are counted under: IPv4 as it is, IPv6 by its /64.
fn client_of(peer: SocketAddr) -> IpAddr {
    match peer.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes; connections from
/// `trusted_proxies` are not held to the per-client limit (every user comes through them).
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: Limits,
    trusted_proxies: &[renkei_web::auth::client::Cidr],
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let per_client = Arc::new(PerClient::default());
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!("connection refused: the server is at its connection limit");
            tokio::spawn(refuse(stream));
            continue;
        };
        let client = client_of(peer);
        let slot = if trusted_proxies.iter().any(|p| p.contains(client)) {
            None
        } else {
            match per_client.take(client, limits.per_client) {
                Some(slot) => Some(slot),
                None => {
                    tracing::debug!("connection refused: one client holds too many");
                    tokio::spawn(refuse(stream));
                    continue;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let service = app.clone().map_request(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            },
        );
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let first_byte = limits.header_timeout;
        tokio::spawn(async move {
            // A connection that sends nothing is closed like one that sends its headers too
            // slowly: hyper's header timer starts only once protocol detection has a byte.
            if sends_within(&stream, first_byte).await {
                let connection = builder
                    .serve_connection_with_upgrades(
                        TokioIo::new(stream),
                        TowerToHyperService::new(service),
                    )
                    .into_owned();
                if let Err(e) = watcher.watch(connection).await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            }
            drop((permit, slot));
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(GRACE) => {
            tracing::warn!("connections still open after the grace period were closed");
        }
    }
}

/// Whether the client sends its first byte within `limit` (it is left unread for the server).
async fn sends_within(stream: &TcpStream, limit: Duration) -> bool {
    let mut first = [0u8; 1];
    matches!(
        tokio::time::timeout(limit, stream.peek(&mut first)).await,
        Ok(Ok(n)) if n > 0
    )
}

/// Answers a connection over the limit with 503 and closes it.
async fn refuse(mut stream: TcpStream) {
    let body = "混み合っています。しばらくしてからもう一度お試しください / the server is busy; try again shortly\n";
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nretry-after: 5\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
