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
//!
//! Every request carries its connection's peer address as axum's
//! `ConnectInfo<SocketAddr>`, as `Router::into_make_service_with_connect_info`
//! would give it: the TCP peer, never a header a client can write.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;

use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

mod poll_again;
use poll_again::PollAgain;

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
/// current request, as `axum::serve`'s graceful shutdown does. Each request
/// carries `ConnectInfo<SocketAddr>`, its connection's peer.
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
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
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
        let service = service
            .clone()
            .map_request(move |request| with_peer(request, peer));
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = PollAgain::new(graceful.watch(connection));
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

/// What a program does with every request around its router (its request
/// id, journal entry, path rewriting): a plain method, not an axum
/// `from_fn` middleware, which boxed and cloned the inner service on every
/// request. [`Fronted`] makes it the service both programs serve.
pub trait Front: Clone + Send + 'static {
    fn answer(
        &mut self,
        request: http::Request<axum::body::Body>,
    ) -> impl Future<Output = axum::response::Response> + Send + 'static;
}

/// A [`Front`] as a tower service, for [`serve`] and `axum::serve`.
#[derive(Debug, Clone)]
pub struct Fronted<F>(pub F);

impl<F: Front> Fronted<F> {
    /// What `axum::serve` takes: each connection gets a clone.
    pub fn into_make_service(self) -> tower::make::Shared<Fronted<F>> {
        tower::make::Shared::new(self)
    }
}

impl<F, B> tower::Service<http::Request<B>> for Fronted<F>
where
    F: Front,
    B: http_body::Body<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future =
        std::pin::Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let answer = self.0.answer(request.map(axum::body::Body::new));
        Box::pin(async move { Ok(answer.await) })
    }
}

/// `request`, carrying the peer it came from.
fn with_peer(mut request: http::Request<Incoming>, peer: SocketAddr) -> http::Request<Incoming> {
    request.extensions_mut().insert(ConnectInfo(peer));
    request
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// If this fails, the servers cannot tell one client from another:
    /// the sign-in throttle counts failures per TCP peer.
    #[tokio::test]
    async fn every_request_carries_its_tcp_peer() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let echo = tower::service_fn(|request: http::Request<Incoming>| async move {
            let peer = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip().to_string());
            Ok::<_, Infallible>(http::Response::new(peer.unwrap_or_default()))
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, echo, Limits::DEFAULT, async {
            let _ = stopped.await;
        }));
        for from in ["127.0.0.1", "127.0.0.3"] {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
            let mut stream = socket.connect(address).await.unwrap();
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await.unwrap();
            assert!(answer.ends_with(&format!("\r\n\r\n{from}")), "{answer}");
        }
        stop.send(()).unwrap();
        server.await.unwrap();
    }
}
