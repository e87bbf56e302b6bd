//! What the two servers share beyond the wire (feature `serve`): how they
//! accept connections and how they stop.
//!
//! `axum::serve` reads request headers for as long as a client cares to
//! send them and accepts every connection offered, so 500 clients sending
//! half a header each held 500 connections open for ever. [`serve`] is the
//! same HTTP/1 loop with two bounds: a connection that has not sent a whole
//! request head within [`Limits::header_read_timeout`] is closed (this also
//! closes a keep-alive connection left idle that long), and at most
//! [`Limits::max_connections`] are served at once; the next one waits in
//! the listen backlog until one closes. Request bodies are bounded by each
//! program's own body limit, on every route.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The bounds [`serve`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a connection may take to send a request's head (and how
    /// long a keep-alive connection may stay idle).
    pub header_read_timeout: Duration,
    /// How many connections are served at once.
    pub max_connections: usize,
}

impl Limits {
    /// hyper's own default for the head, and a connection count far above
    /// any benchmark or scenario (the benchmark uses 64) yet well below
    /// the usual 1,024 open files.
    pub const DEFAULT: Limits = Limits {
        header_read_timeout: Duration::from_secs(30),
        max_connections: 768,
    };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

/// Serves `service` on `listener` until `shutdown` resolves, then stops
/// accepting and waits for the connections in flight to finish their
/// current request, as `axum::serve`'s graceful shutdown does.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) where
    S: tower::Service<http::Request<Incoming>, Response = http::Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let permits = std::sync::Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors, or a connection reset
                    // before it was accepted: not the server's end, so
                    // wait a moment instead of spinning.
                    tracing::debug!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(
                TokioIo::new(stream),
                TowerToHyperService::new(service.clone()),
            );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::trace!(%error, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// What both programs do once ready: print the one stdout line
/// `listening on http://<address>` (what `e2e` and the tests wait for; never
/// any other stdout), then [`serve`] until Ctrl-C or SIGTERM.
pub async fn announce_and_serve<S, B>(
    listener: TcpListener,
    service: S,
    limits: Limits,
) -> std::io::Result<()>
where
    S: tower::Service<http::Request<Incoming>, Response = http::Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use std::io::Write;
    let address = listener.local_addr()?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{address}")?;
        stdout.flush()?;
    }
    serve(listener, service, limits, shutdown_signal()).await;
    Ok(())
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM: what [`serve`]'s graceful
/// shutdown waits for.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
