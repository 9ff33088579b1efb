//! The accept loop under the monitor's endpoints, bounded so that clients cannot starve the
//! monitor of file descriptors: at most `max_connections` at once, request headers read
//! within a timeout (which also closes keep-alive connections left idle), and a lifetime per
//! connection. When every slot is taken, a connection that has sent nothing (or, failing that,
//! the one quiet the longest) is closed for the new one, so a pile of idle connections cannot
//! keep Prometheus out.
//!
//! Without these, 1,000 idle connections under `ulimit -n 1024` left no descriptor for the
//! probes and browsers, and the shop was paged for the monitor's own trouble.

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Bounds on the monitor's HTTP connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    /// For the request line and headers of each request; also how long a keep-alive
    /// connection may sit idle between requests.
    pub header_timeout: Duration,
    /// For a whole connection, however busy: a client dripping bytes cannot keep one forever.
    pub connection_lifetime: Duration,
}

/// Connections at most, whatever the descriptor limit.
const MAX_CONNECTIONS: usize = 512;
/// A connection that sent something this recently is not closed for a new one: it is likely
/// in the middle of a request.
const QUIET_ENOUGH: Duration = Duration::from_secs(1);
/// How long open connections may take to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// After an accept error (out of descriptors), wait before accepting again instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

impl Limits {
    /// A quarter of this process's descriptor limit (the rest is for probes, drivers and
    /// files), at most `MAX_CONNECTIONS`.
    pub fn for_this_process() -> Limits {
        let fds = crate::resources::fd_limit().unwrap_or(1024);
        Limits {
            max_connections: (fds / 4).clamp(8, MAX_CONNECTIONS as u64) as usize,
            header_timeout: Duration::from_secs(10),
            connection_lifetime: Duration::from_secs(300),
        }
    }
}

/// An open connection, as the accept loop sees it.
struct Open {
    /// When it last sent a byte, in milliseconds since the loop started; [`NEVER`] before.
    last_read_ms: Arc<AtomicU64>,
    close: CancellationToken,
}

/// Serves `app` on `listener` within `limits` until `shutdown`; then lets open connections
/// finish their request for a few seconds.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let started = Instant::now();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let open: Arc<Mutex<HashMap<u64, Open>>> = Arc::default();
    let connections = TaskTracker::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    for id in 0u64.. {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("the monitor's listener cannot accept a connection: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        // Every slot taken: close the quietest connection for this one, looking again while
        // all are busy (a closed one frees its slot at once).
        let slot = loop {
            if let Ok(slot) = slots.clone().try_acquire_owned() {
                break Some(slot);
            }
            close_quietest(&open, started);
            tokio::select! {
                slot = slots.clone().acquire_owned() => break slot.ok(),
                _ = tokio::time::sleep(QUIET_ENOUGH / 4) => {}
                _ = shutdown.cancelled() => break None,
            }
        };
        let Some(slot) = slot else { break };
        let last_read_ms = Arc::new(AtomicU64::new(NEVER));
        let close = CancellationToken::new();
        lock(&open).insert(
            id,
            Open {
                last_read_ms: last_read_ms.clone(),
                close: close.clone(),
            },
        );
        let io = Watched {
            stream,
            started,
            last_read_ms,
        };
        let connection =
            builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(app.clone()));
        let (shutdown, open) = (shutdown.clone(), open.clone());
        connections.spawn(async move {
            let _slot = slot;
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = close.cancelled() => {}
                _ = tokio::time::sleep(limits.connection_lifetime) => {
                    finish(connection).await;
                }
                _ = shutdown.cancelled() => {
                    finish(connection).await;
                }
            }
            lock(&open).remove(&id);
        });
    }
    connections.close();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, connections.wait()).await;
}

type Connection = http1::Connection<TokioIo<Watched>, TowerToHyperService<Router>>;

/// Finishes the request under way, then closes.
async fn finish(mut connection: Pin<&mut Connection>) {
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, connection).await;
}

/// Closes, for a new connection, one that sent nothing yet (the oldest first: an idle client
/// holding a slot), else the one quiet the longest, if it has been quiet long enough.
fn close_quietest(open: &Mutex<HashMap<u64, Open>>, started: Instant) {
    let now = since(started);
    let quiet = QUIET_ENOUGH.as_millis() as u64;
    let open = lock(open);
    let quietest = open
        .iter()
        .map(|(id, o)| (o.last_read_ms.load(Ordering::Relaxed), *id, &o.close))
        .filter(|(last, ..)| *last == NEVER || now.saturating_sub(*last) >= quiet)
        .min_by_key(|(last, id, _)| (*last != NEVER, *last, *id));
    if let Some((.., close)) = quietest {
        tracing::debug!("every connection slot is taken: closing the quietest connection");
        close.cancel();
    }
}

/// `last_read_ms` of a connection that has not sent a byte yet.
const NEVER: u64 = u64::MAX;

fn since(started: Instant) -> u64 {
    started.elapsed().as_millis() as u64
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// A connection's stream that notes when the client last sent something.
struct Watched {
    stream: TcpStream,
    started: Instant,
    last_read_ms: Arc<AtomicU64>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.last_read_ms
                .store(since(self.started), Ordering::Relaxed);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
