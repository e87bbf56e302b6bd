//! The HTTP client for the provisioning server's `POST /oauth/introspect`
//! (RFC 7662). Nothing is cached: a rotated or revoked credential must be
//! refused on its very next request.

use std::time::Duration;

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
/// credentials for it.
#[derive(Debug, Clone)]
pub struct IntrospectionClient {
    http: reqwest::Client,
    /// Parsed once: reqwest would parse a string again on every request.
    url: reqwest::Url,
    client_id: String,
    client_secret: String,
}

impl IntrospectionClient {
    pub fn new(url: String, client_id: String, client_secret: String) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .build()?;
        let url = reqwest::Url::parse(&url)
            .map_err(|error| anyhow::anyhow!("introspection URL {url:?}: {error}"))?;
        Ok(IntrospectionClient {
            http,
            url,
            client_id,
            client_secret,
        })
    }

    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// Asks about `token`, passing `request_id` on so one id follows the
    /// request across programs.
    pub async fn introspect(
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
            .basic_auth(&self.client_id, Some(&self.client_secret))
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
