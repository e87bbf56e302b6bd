//! `GET /api/agentic/provisioning/health` and `…/services` (hmac partners),
//! and the same under the Stripe namespace (`crate::stripe`).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use protocol::provisioning::{HealthAnswer, Service, ServicesAnswer};

use crate::error::{ApiError, Envelope};
use crate::http::check_api_version;
use crate::state::AppState;
use crate::stripe::verify_signature;
use crate::stripe::StripeNamespace;

/// Liveness for orchestrators (signed GET).
#[utoipa::path(
    get,
    path = "/api/agentic/provisioning/health",
    tag = "provisioning",
    params(
        ("API-Version" = String, Header, description = "Must be 0.1d"),
        ("Stripe-Signature" = String, Header, description = "Signature over the empty body"),
    ),
    responses(
        (status = 200, body = protocol::provisioning::HealthAnswer),
        (status = 400, body = protocol::error::PlainError),
        (status = 401, body = protocol::error::PlainError),
    )
)]
pub async fn health(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(signed(&state, &headers).await, health_answer)
}

/// Liveness in the Stripe namespace: the signature is checked before the
/// API-Version.
#[utoipa::path(
    get,
    path = "/api/partners/stripe/provisioning/health",
    tag = "stripe",
    params(
        ("API-Version" = String, Header, description = "Must be 0.1d"),
        ("Stripe-Signature" = String, Header, description = "Signature over the empty body"),
    ),
    responses(
        (status = 200, body = protocol::provisioning::HealthAnswer),
        (status = 400, body = protocol::error::PlainError),
        (status = 401, body = protocol::error::PlainError),
        (status = 404, description = "The era does not serve the Stripe namespace", body = protocol::error::PlainError),
    )
)]
pub async fn stripe_health(
    stripe: StripeNamespace,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Response {
    let checked = stripe.signed(&state, &headers, b"").await.map(|_| ());
    respond(checked, health_answer)
}

fn health_answer() -> HealthAnswer {
    HealthAnswer {
        status: "ok".into(),
        supported_versions: vec![protocol::API_VERSION.into()],
    }
}

fn respond<T: serde::Serialize>(checked: Result<(), ApiError>, answer: fn() -> T) -> Response {
    match checked {
        Ok(()) => Json(answer()).into_response(),
        Err(error) => error.into_envelope(Envelope::Plain),
    }
}

/// The services a resource may be created for (signed GET); one page, so
/// `next_cursor` is absent.
#[utoipa::path(
    get,
    path = "/api/agentic/provisioning/services",
    tag = "provisioning",
    params(
        ("API-Version" = String, Header, description = "Must be 0.1d"),
        ("Stripe-Signature" = String, Header, description = "Signature over the empty body"),
    ),
    responses(
        (status = 200, body = protocol::provisioning::ServicesAnswer),
        (status = 400, body = protocol::error::PlainError),
        (status = 401, body = protocol::error::PlainError),
    )
)]
pub async fn services(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(signed(&state, &headers).await, services_answer)
}

/// The services in the Stripe namespace (the same list, for now).
#[utoipa::path(
    get,
    path = "/api/partners/stripe/provisioning/services",
    tag = "stripe",
    params(
        ("API-Version" = String, Header, description = "Must be 0.1d"),
        ("Stripe-Signature" = String, Header, description = "Signature over the empty body"),
    ),
    responses(
        (status = 200, body = protocol::provisioning::ServicesAnswer),
        (status = 400, body = protocol::error::PlainError),
        (status = 401, body = protocol::error::PlainError),
        (status = 404, description = "The era does not serve the Stripe namespace", body = protocol::error::PlainError),
    )
)]
pub async fn stripe_services(
    stripe: StripeNamespace,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Response {
    let checked = stripe.signed(&state, &headers, b"").await.map(|_| ());
    respond(checked, services_answer)
}

fn services_answer() -> ServicesAnswer {
    let service = |id: &str, kind: &str, name: &str| Service {
        id: id.into(),
        kind: kind.into(),
        name: name.into(),
    };
    // One page: `next_cursor` is omitted, never an empty string.
    ServicesAnswer {
        data: vec![
            service("analytics", "deployable", "PostHog product analytics"),
            service("free", "plan", "Free"),
            service("pay_as_you_go", "plan", "Pay as you go"),
        ],
        next_cursor: None,
    }
}

/// A GET signed by an hmac partner over the empty body.
async fn signed(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    check_api_version(headers)?;
    let signature = headers
        .get(protocol::signature::HEADER)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| ApiError::InvalidSignature("Stripe-Signature header is required".into()))?;
    let partner = verify_signature(state, signature, b"").await?;
    if !partner.active {
        return Err(ApiError::Unauthorized("Partner is deactivated".into()));
    }
    Ok(())
}
