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

use base64::Engine as _;
use reqwest::header::{HeaderValue, AUTHORIZATION};
use tokio::sync::watch;

use protocol::oauth::{IntrospectionAnswer, IntrospectionRequest};
use protocol::REQUEST_ID_HEADER;

/// How long the gateway waits for introspection before answering 503.
pub const TIMEOUT: Duration = Duration::from_secs(3);

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
    http: reqwest::Client,
    /// Parsed once: reqwest would parse a string again on every request.
    url: reqwest::Url,
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

type Shared = Arc<Result<IntrospectionAnswer, IntrospectionError>>;

impl IntrospectionClient {
    pub fn new(url: String, client_id: String, client_secret: String) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            // A redirect would carry the resource server's credentials
            // elsewhere; introspection answers where it is asked.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let url = reqwest::Url::parse(&url)
            .map_err(|error| anyhow::anyhow!("introspection URL {url:?}: {error}"))?;
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(format!("{client_id}:{client_secret}"));
        let mut authorization =
            HeaderValue::from_str(&format!("Basic {encoded}")).map_err(|_| {
                anyhow::anyhow!("the introspection client id or secret cannot be sent in a header")
            })?;
        authorization.set_sensitive(true);
        Ok(IntrospectionClient {
            http,
            url,
            authorization,
            rounds: Arc::default(),
        })
    }

    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// Asks about `token`, passing `request_id` on so one id follows the
    /// request across programs: in the next round of `token`'s
    /// introspections (the module's documentation).
    pub async fn introspect(
        &self,
        token: &str,
        request_id: &str,
    ) -> Result<IntrospectionAnswer, IntrospectionError> {
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
        shared.as_ref().clone()
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
            round.answer.send_replace(Some(Arc::new(answer)));
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
        let response = self.post(token, request_id).await?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(IntrospectionError::Status(status.as_u16()));
        }
        let body = response.bytes().await.map_err(classify)?;
        serde_json::from_slice(&body).map_err(|_| IntrospectionError::Unparsable)
    }

    /// For `/readyz`: the status introspection answers to an empty token.
    pub async fn probe(&self, request_id: &str) -> Result<u16, IntrospectionError> {
        let response = self.post("", request_id).await?;
        Ok(response.status().as_u16())
    }

    async fn post(
        &self,
        token: &str,
        request_id: &str,
    ) -> Result<reqwest::Response, IntrospectionError> {
        let form = IntrospectionRequest {
            token: Some(token.to_owned()),
            token_type_hint: None,
        };
        self.http
            .post(self.url.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .header(REQUEST_ID_HEADER, request_id)
            .form(&form)
            .send()
            .await
            .map_err(classify)
    }
}

fn classify(error: reqwest::Error) -> IntrospectionError {
    if error.is_timeout() {
        return IntrospectionError::TimedOut;
    }
    // reqwest's message names the URL, never the form body.
    IntrospectionError::Unreachable(error.to_string())
}
