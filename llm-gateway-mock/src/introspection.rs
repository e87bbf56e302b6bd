//! The HTTP client for the provisioning server's `POST /oauth/introspect`
//! (RFC 7662). Nothing is cached: a rotated or revoked credential must be
//! refused on its very next request.
//!
//! What is shared is the trip. Requests that present the same credential
//! while an introspection of it is under way wait for the next one, which
//! is sent once that one is answered, and share its answer (a round, as
//! the server's writer shares a commit). Every request's answer therefore
//! comes from an introspection sent after the request arrived: never older
//! than the request, so a credential revoked before it is refused. Alone,
//! a request is its own round. A shared round carries the request id of
//! the first request that joined it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, Request, StatusCode, Uri};
use base64::Engine as _;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::watch;

use protocol::oauth::{IntrospectionAnswer, IntrospectionRequest};
use protocol::REQUEST_ID_HEADER;

/// How long the gateway waits for introspection before answering 503.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// The largest introspection answer read: a live answer is a few hundred
/// bytes; anything past this is not one.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Why introspection gave no usable answer. Every variant becomes a 503,
/// never a 401: an outage is not the key's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntrospectionError {
    #[error("introspection could not be reached: {0}")]
    Unreachable(String),
    #[error("introspection timed out")]
    TimedOut,
    #[error("introspection answered HTTP {0}")]
    Status(u16),
    #[error("introspection answered an unparsable body")]
    Unparsable,
}

/// The introspection endpoint and the gateway's resource-server
/// credentials for it. Cloning is cheap.
#[derive(Debug, Clone)]
pub struct IntrospectionClient {
    /// hyper's pooling client over plain TCP: keep-alive connections to
    /// the server, no redirects followed (one would carry the resource
    /// server's credentials elsewhere), no TLS (the hop is loopback HTTP).
    http: Client<HttpConnector, Full<Bytes>>,
    /// Parsed once; `url_text` as given, for messages.
    url: Uri,
    url_text: String,
    /// [`TIMEOUT`] unless a test shortens it.
    timeout: Duration,
    /// `Basic` over the client id and secret, encoded once (and marked
    /// sensitive, so no debug output shows it).
    authorization: HeaderValue,
    /// The rounds of each credential being introspected.
    rounds: Arc<Mutex<HashMap<String, Rounds>>>,
}

/// The introspections of one credential: whether one is under way, and
/// the round that waits to be sent after it.
#[derive(Debug, Default)]
struct Rounds {
    sending: bool,
    next: Option<Round>,
}

/// One introspection to be sent, and the requests waiting for it.
#[derive(Debug)]
struct Round {
    request_id: String,
    answer: watch::Sender<Option<Shared>>,
}

/// A round's answer, as each of its requests gets it: a live or inactive
/// answer is shared, not copied per request.
type Shared = Result<Arc<IntrospectionAnswer>, IntrospectionError>;

impl IntrospectionClient {
    pub fn new(url: String, client_id: String, client_secret: String) -> anyhow::Result<Self> {
        let parsed: Uri = url
            .parse()
            .map_err(|error| anyhow::anyhow!("introspection URL {url:?}: {error}"))?;
        if parsed.scheme_str() != Some("http") || parsed.host().is_none() {
            anyhow::bail!(
                "introspection URL {url:?}: an http:// URL with a host is required \
                 (the gateway reaches introspection over plain HTTP)"
            );
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(TIMEOUT));
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new()).build(connector);
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(format!("{client_id}:{client_secret}"));
        let mut authorization =
            HeaderValue::from_str(&format!("Basic {encoded}")).map_err(|_| {
                anyhow::anyhow!("the introspection client id or secret cannot be sent in a header")
            })?;
        authorization.set_sensitive(true);
        Ok(IntrospectionClient {
            http,
            url: parsed,
            url_text: url,
            timeout: TIMEOUT,
            authorization,
            rounds: Arc::default(),
        })
    }

    /// The same client, giving up on an exchange after `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn url(&self) -> &str {
        &self.url_text
    }

    /// Asks about `token`, passing `request_id` on so one id follows the
    /// request across programs: in the next round of `token`'s
    /// introspections (the module's documentation).
    pub async fn introspect(&self, token: &str, request_id: &str) -> Shared {
        let (mut answer, lead) = {
            let mut rounds = self.lock_rounds();
            let rounds = rounds.entry(token.to_owned()).or_default();
            let round = rounds.next.get_or_insert_with(|| Round {
                request_id: request_id.to_owned(),
                answer: watch::channel(None).0,
            });
            let answer = round.answer.subscribe();
            let lead = !rounds.sending;
            rounds.sending = true;
            (answer, lead)
        };
        if lead {
            tokio::spawn(self.clone().send_rounds(token.to_owned()));
        }
        let shared = answer
            .wait_for(Option::is_some)
            .await
            .map_err(|_| IntrospectionError::Unreachable("the introspection was abandoned".into()))?
            .clone()
            .expect("waited for an answer");
        shared
    }

    /// Sends `token`'s rounds one after another until none waits.
    async fn send_rounds(self, token: String) {
        loop {
            let round = {
                let mut rounds = self.lock_rounds();
                let Some(waiting) = rounds.get_mut(&token) else {
                    return;
                };
                match waiting.next.take() {
                    Some(round) => round,
                    None => {
                        rounds.remove(&token);
                        return;
                    }
                }
            };
            let answer = self.introspect_once(&token, &round.request_id).await;
            round.answer.send_replace(Some(answer.map(Arc::new)));
        }
    }

    fn lock_rounds(&self) -> std::sync::MutexGuard<'_, HashMap<String, Rounds>> {
        self.rounds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn introspect_once(
        &self,
        token: &str,
        request_id: &str,
    ) -> Result<IntrospectionAnswer, IntrospectionError> {
        let (status, body) = self.post(token, request_id).await?;
        if status != StatusCode::OK {
            return Err(IntrospectionError::Status(status.as_u16()));
        }
        serde_json::from_slice(&body).map_err(|_| IntrospectionError::Unparsable)
    }

    /// For `/readyz`: the status introspection answers to an empty token.
    pub async fn probe(&self, request_id: &str) -> Result<u16, IntrospectionError> {
        let (status, _) = self.post("", request_id).await?;
        Ok(status.as_u16())
    }

    /// Sends the form and reads the whole answer, all within the timeout.
    async fn post(
        &self,
        token: &str,
        request_id: &str,
    ) -> Result<(StatusCode, Bytes), IntrospectionError> {
        let form = serde_urlencoded::to_string(IntrospectionRequest {
            token: Some(token.to_owned()),
            token_type_hint: None,
        })
        .map_err(|_| IntrospectionError::Unreachable("the form could not be encoded".into()))?;
        let mut request = Request::new(Full::new(Bytes::from(form)));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.url.clone();
        let headers = request.headers_mut();
        headers.insert(AUTHORIZATION, self.authorization.clone());
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        if let Ok(request_id) = HeaderValue::from_str(request_id) {
            headers.insert(REQUEST_ID_HEADER, request_id);
        }
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|error| self.unreachable(&error))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|_| IntrospectionError::Unparsable)?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(IntrospectionError::TimedOut))
    }

    /// What went wrong on the way: the URL and the kind of failure in
    /// words that are the same on every platform (an `io::ErrorKind`, not
    /// the OS's errno text), never the form (it holds the token).
    fn unreachable(&self, error: &hyper_util::client::legacy::Error) -> IntrospectionError {
        let mut cause = std::error::Error::source(error);
        let mut kind = None;
        while let Some(inner) = cause {
            if let Some(io) = inner.downcast_ref::<std::io::Error>() {
                kind = Some(io.kind());
            }
            cause = inner.source();
        }
        let what = match kind {
            Some(kind) => kind.to_string(),
            None => error.to_string(),
        };
        IntrospectionError::Unreachable(match error.is_connect() {
            true => format!("cannot connect to {}: {what}", self.url_text),
            false => format!("the exchange with {} broke off: {what}", self.url_text),
        })
    }
}
