//! HTTP to the provisioning server, the PostHog API and the gateway: one
//! reqwest client with the run's timeout, and the classification of
//! failures into the wizard's errors (a host that did not answer is named).

use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::WizardError;
use crate::log::VerboseLog;

/// A response that arrived, with its status, headers and body text.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub www_authenticate: Option<String>,
    /// `Retry-After`, as sent.
    pub retry_after: Option<String>,
    pub body: String,
}

impl Answer {
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, WizardError> {
        serde_json::from_str(&self.body).map_err(|error| {
            WizardError::Internal(format!(
                "{what} answered {} with a body the wizard does not understand: {error}",
                self.status
            ))
        })
    }

    /// `detail` (PostHog API, gateway), `error.message` (provisioning) or
    /// `error_description` (OAuth), whichever the body has.
    pub fn message(&self) -> String {
        let value: serde_json::Value = serde_json::from_str(&self.body).unwrap_or_default();
        let text = value
            .get("detail")
            .and_then(|detail| detail.as_str())
            .or_else(|| value.pointer("/error/message").and_then(|m| m.as_str()))
            .or_else(|| value.get("error_description").and_then(|m| m.as_str()))
            .unwrap_or(&self.body);
        protocol::credential::redact_secrets(text)
    }

    /// `error.code` or `error` (OAuth) or `code` (detail envelope).
    pub fn code(&self) -> Option<String> {
        let value: serde_json::Value = serde_json::from_str(&self.body).ok()?;
        value
            .pointer("/error/code")
            .and_then(|code| code.as_str())
            .or_else(|| value.get("error").and_then(|code| code.as_str()))
            .or_else(|| value.get("code").and_then(|code| code.as_str()))
            .map(str::to_owned)
    }
}

#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
}

impl Http {
    pub fn new(timeout: Duration) -> Result<Http, WizardError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!(
                "posthog-wizard-simulator/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|error| {
                WizardError::Internal(format!("cannot build the HTTP client: {error}"))
            })?;
        Ok(Http { client })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `request`, logging `what` and the outcome, and turns transport
    /// failures into [`WizardError::Network`] naming the host.
    pub async fn send(
        &self,
        log: &VerboseLog,
        what: &str,
        url: &str,
        request: RequestBuilder,
    ) -> Result<Answer, WizardError> {
        let response = self.start(log, what, url, request).await?;
        Answer::read(response, log, what, url).await
    }

    /// Sends `request` and returns as soon as the status and headers have
    /// arrived, for a body read as it comes (the gateway's stream).
    pub async fn start(
        &self,
        log: &VerboseLog,
        what: &str,
        url: &str,
        request: RequestBuilder,
    ) -> Result<Response, WizardError> {
        log.line(format!("{what}: {url}"));
        request.send().await.map_err(|error| {
            let host = host_of(url);
            let message = if error.is_timeout() {
                format!("{host} did not answer in time ({what})")
            } else if error.is_connect() {
                format!("could not connect to {host} ({what}): is it running?")
            } else {
                format!("the connection to {host} failed ({what}): {error}")
            };
            log.line(format!("{what} failed: {message}"));
            WizardError::Network(message)
        })
    }
}

impl Answer {
    /// Reads a whole response whose headers have arrived.
    pub async fn read(
        response: Response,
        log: &VerboseLog,
        what: &str,
        url: &str,
    ) -> Result<Answer, WizardError> {
        let status = response.status();
        let www_authenticate = header(&response, reqwest::header::WWW_AUTHENTICATE);
        let retry_after = header(&response, reqwest::header::RETRY_AFTER);
        let body = response.text().await.map_err(|error| {
            let message = format!("{} broke off its answer ({what}): {error}", host_of(url));
            log.line(format!("{what} failed: {message}"));
            WizardError::Network(message)
        })?;
        log.line(format!("{what}: {status}"));
        if !status.is_success() {
            log.line(format!(
                "{what} body: {}",
                protocol::credential::redact_secrets(&body.chars().take(2000).collect::<String>())
            ));
        }
        Ok(Answer {
            status,
            www_authenticate,
            retry_after,
            body,
        })
    }
}

fn header(response: &Response, name: reqwest::header::HeaderName) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// `scheme://host:port` of a URL, for messages.
pub fn host_of(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => {
            let host = parsed.host_str().unwrap_or("?");
            match parsed.port() {
                Some(port) => format!("{}://{host}:{port}", parsed.scheme()),
                None => format!("{}://{host}", parsed.scheme()),
            }
        }
        Err(_) => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every error envelope the servers answer, with and without the
    /// account request's optional `id` (contract 0.1d.3): if one fails, the
    /// wizard reports a refusal without its code or its reason.
    #[test]
    fn every_error_envelope_gives_its_code_and_message() {
        fn check(body: &str, code: Option<&str>, message: &str) {
            let answer = Answer {
                status: StatusCode::UNAUTHORIZED,
                www_authenticate: None,
                retry_after: None,
                body: body.into(),
            };
            assert_eq!(answer.code().as_deref(), code, "{body}");
            assert_eq!(answer.message(), message, "{body}");
        }
        check(
            r#"{"id":"acctreq_1","type":"error","error":{"code":"unauthorized","message":"Partner is deactivated"}}"#,
            Some("unauthorized"),
            "Partner is deactivated",
        );
        check(
            r#"{"type":"error","error":{"code":"unauthorized","message":"Authentication required"}}"#,
            Some("unauthorized"),
            "Authentication required",
        );
        check(
            r#"{"status":"error","error":{"code":"forbidden","message":"No"}}"#,
            Some("forbidden"),
            "No",
        );
        check(
            r#"{"error":"invalid_grant","error_description":"Invalid code"}"#,
            Some("invalid_grant"),
            "Invalid code",
        );
        check(
            r#"{"detail":"Authentication required"}"#,
            None,
            "Authentication required",
        );
    }
}
