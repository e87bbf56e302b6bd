//! Who may come in, for every model route: the credential is screened by
//! its prefix, then a `phe_` is checked against the tokens minted here and
//! any other credential is introspected and judged by [`auth::decide`].

use axum::response::{IntoResponse, Response};
use protocol::credential::{mask, CredentialKind};

use crate::auth::{self, Verdict};
use crate::error::GatewayError;
use crate::journal::Record;
use crate::product::Product;
use crate::state::AppState;

/// Agent conversations grow with every turn, so the model routes accept
/// far more than the provisioning API's 64 KiB.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// One model-route request, as the journal and the log name it.
pub struct Exchange<'a> {
    pub request_id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    /// The full presented credential; only its mask is logged or stored.
    pub credential: Option<&'a str>,
}

impl<'a> Exchange<'a> {
    /// The exchange of a request to `uri` with `method`, presenting
    /// `credential`.
    pub fn new(
        request_id: &'a str,
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
    let request_id = exchange.request_id;
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
        request_id,
        method: exchange.method,
        path: exchange.path,
        status: response.status().as_u16(),
        credential: exchange.credential,
        verdict,
        reason,
    });
    response
}

/// Lets the request in under the wizard's product, or says why not.
pub async fn admit(
    state: &AppState,
    credential: Option<&str>,
    request_id: &str,
) -> Result<(), GatewayError> {
    admit_to(state, credential, request_id, Product::WIZARD).await
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
