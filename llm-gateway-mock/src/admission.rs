//! Who may come in, for every model route: the credential is screened by
//! its prefix, then a `phe_` is checked against the tokens minted here and
//! any other credential is introspected and judged by [`auth::decide`].

use axum::response::{IntoResponse, Response};
use protocol::credential::{mask, CredentialKind};

use crate::auth::{self, Verdict};
use crate::error::GatewayError;
use crate::journal::Record;
use crate::product::Product;
use crate::request_id::RequestId;
use crate::state::AppState;

/// Agent conversations grow with every turn, so the model routes accept
/// far more than the provisioning API's 64 KiB.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// One model-route request, as the journal and the log name it.
pub struct Exchange<'a> {
    pub request_id: &'a RequestId,
    pub method: &'a str,
    pub path: &'a str,
    /// The full presented credential; only its mask is logged or stored.
    pub credential: Option<&'a str>,
}

impl<'a> Exchange<'a> {
    /// The exchange of a request to `uri` with `method`, presenting
    /// `credential`.
    pub fn new(
        request_id: &'a RequestId,
        method: &'a axum::http::Method,
        uri: &'a axum::http::Uri,
        credential: Option<&'a str>,
    ) -> Exchange<'a> {
        Exchange {
            request_id,
            method: method.as_str(),
            path: uri.path(),
            credential,
        }
    }
}

/// The answer of a model route: the response (and the fault injected
/// into it, if any), or why the request was refused. Logs a refusal,
/// records the journal entry, and returns the response.
pub fn conclude(
    state: &AppState,
    exchange: Exchange<'_>,
    outcome: Result<(Response, Option<String>), GatewayError>,
) -> Response {
    conclude_call(state, exchange, outcome, None)
}

/// [`conclude`], and a granted entry's reason names what kind of call the
/// harness made (`title`, `main`, `remark` …), so the journal shows each
/// harness call with its verdict.
pub fn conclude_call(
    state: &AppState,
    exchange: Exchange<'_>,
    outcome: Result<(Response, Option<String>), GatewayError>,
    kind: Option<&str>,
) -> Response {
    let request_id = exchange.request_id.as_str();
    let (response, verdict, reason) = match outcome {
        Ok((response, None)) => (response, Verdict::Granted.name(), kind.map(str::to_owned)),
        Ok((response, Some(fault))) => {
            tracing::info!(request_id, fault, "injected a fault");
            (response, "fault_injected", Some(fault))
        }
        Err(error) => {
            tracing::info!(
                request_id,
                path = exchange.path,
                credential = exchange.credential.map(mask).unwrap_or_default(),
                verdict = error.verdict_name(),
                reason = %protocol::credential::redact_secret_shaped(&error.reason()),
                "refused a model request"
            );
            let verdict = error.verdict_name();
            let reason = Some(error.reason());
            (error.into_response(), verdict, reason)
        }
    };
    state.journal.record(Record {
        request_id: exchange.request_id,
        method: exchange.method,
        path: exchange.path,
        status: response.status().as_u16(),
        credential: exchange.credential,
        verdict,
        reason,
    });
    response
}

/// The product segment of a model route's path: `None` at the gateway's
/// root, else the first segment (`/wizard/v1/messages` → `wizard`,
/// `/wizard/responses` → `wizard`); `route` is the route's own path under
/// the product (`v1/messages`, `responses` …), which names no product.
pub fn product_prefix<'p>(path: &'p str, routes: &[&str]) -> Option<&'p str> {
    let trimmed = path.trim_start_matches('/').trim_end_matches('/');
    if routes.iter().any(|route| trimmed.starts_with(route)) {
        return None;
    }
    trimmed.split('/').next().filter(|first| !first.is_empty())
}

/// Admission under the product the path names, checked as the real
/// gateway checks it: an unknown segment is authenticated as the root's
/// product, and refused (the inner `Err`, a 400) only once the caller is
/// known. Both wires go through it.
pub async fn admit_product(
    state: &AppState,
    request_id: &str,
    credential: Option<&str>,
    prefix: Option<&str>,
) -> Result<Result<Product, GatewayError>, GatewayError> {
    admit_to(state, credential, request_id, Product::checked_for(prefix)).await?;
    Ok(Product::named(prefix).map_err(GatewayError::InvalidProduct))
}

/// Lets the request in to `product` (the one its path names), or says why
/// not.
pub async fn admit_to(
    state: &AppState,
    credential: Option<&str>,
    request_id: &str,
    product: Product,
) -> Result<(), GatewayError> {
    let kind = auth::screen(credential).map_err(GatewayError::Refused)?;
    let credential = credential.unwrap_or_default();
    if kind == CredentialKind::GatewayToken {
        return match state.gateway_tokens.live(credential, (state.now)()) {
            Some(_) => Ok(()),
            None => Err(GatewayError::Refused(Verdict::InvalidGatewayToken)),
        };
    }
    let introspection = state
        .introspection
        .introspect(credential, request_id)
        .await
        .map_err(|error| {
            GatewayError::Refused(Verdict::IntrospectionUnavailable {
                cause: error.to_string(),
            })
        })?;
    match auth::decide_for(kind, &introspection, &state.policy, product) {
        Verdict::Granted => Ok(()),
        refusal => Err(GatewayError::Refused(refusal)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_wires_name_the_product_by_the_first_segment() {
        let messages = &["v1/messages"];
        let responses = &["v1/responses", "responses"];
        let cases: &[(&str, &[&str], Option<&str>)] = &[
            ("/v1/messages", messages, None),
            ("/v1/messages/count_tokens", messages, None),
            ("/wizard/v1/messages", messages, Some("wizard")),
            ("/growth/v1/messages/", messages, Some("growth")),
            ("/v1/responses", responses, None),
            ("/responses", responses, None),
            ("/wizard/v1/responses", responses, Some("wizard")),
            ("/wizard/responses", responses, Some("wizard")),
            ("/nope/v1/responses", responses, Some("nope")),
        ];
        for (path, routes, expected) in cases {
            assert_eq!(product_prefix(path, routes), *expected, "{path}");
        }
    }
}
