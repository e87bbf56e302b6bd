//! `POST /api/agentic/provisioning/resources/{id}/update_service` and the
//! same in the Stripe namespace (protocol sections 3 and 4): moves a
//! resource to another service. Payment credentials are not modelled, so a
//! paid plan is always refused with `requires_payment_credentials`.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use protocol::provisioning::{ResourceAnswer, UpdateServiceRequest};

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::http::{parse_json, read_body};
use crate::routes::resources::{
    answer, change_request, reachable_team, respond, stripe_change_request, SERVICES,
};
use crate::state::AppState;
use crate::stripe::{Door, StripeNamespace};

/// The service that needs payment credentials.
pub const PAID_SERVICE: &str = "pay_as_you_go";

/// The refusal of a request without a `service_id`.
pub const SERVICE_ID_REQUIRED: &str = "service_id is required";

/// The refusal of the paid plan (no payment credentials are ever presented).
pub const PAYMENT_CREDENTIALS_REQUIRED: &str = "Payment credentials required for paid plan";

/// Moves the resource to the requested service and answers like its read.
#[utoipa::path(
    post,
    path = "/api/agentic/provisioning/resources/{id}/update_service",
    tag = "provisioning",
    params(
        ("id" = String, Path, description = "The team id"),
        ("API-Version" = String, Header, description = "Must be 0.1d"),
    ),
    request_body(content = protocol::provisioning::UpdateServiceRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The resource, with its new service_id", body = protocol::provisioning::ResourceAnswer),
        (status = 400, description = "missing_service_id, unknown_service, requires_payment_credentials, invalid_resource_id, invalid_request, invalid_api_version", body = protocol::error::ResourceFailure),
        (status = 401, description = "Missing, invalid, revoked or expired access token", body = protocol::error::ResourceError),
        (status = 403, description = "A team outside the token's teams, or a partner that may not provision", body = protocol::error::ResourceError),
        (status = 404, description = "No such resource", body = protocol::error::ResourceError),
        (status = 413, body = protocol::error::ResourceError),
    ),
    security(("bearer" = []))
)]
pub async fn handle(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (token, team_id) = change_request(&state, &headers, &id).await?;
        let bytes = read_body(body).await?;
        let request: UpdateServiceRequest = parse_json(&headers, &bytes)?;
        update(&state, Door::Agentic, &token, team_id, request).await
    }
    .await;
    respond(result, &id)
}

/// The same in the Stripe namespace (a bearer of a Stripe-signed partner,
/// then the signature over the body).
#[utoipa::path(
    post,
    path = "/api/partners/stripe/provisioning/resources/{id}/update_service",
    tag = "stripe",
    params(
        ("id" = String, Path, description = "The team id"),
        ("API-Version" = String, Header, description = "Must be 0.1d"),
        ("Stripe-Signature" = String, Header, description = "Signature over the body"),
    ),
    request_body(content = protocol::provisioning::UpdateServiceRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The resource, with its new service_id", body = protocol::provisioning::ResourceAnswer),
        (status = 400, description = "missing_service_id, unknown_service, requires_payment_credentials, invalid_resource_id, invalid_request, invalid_api_version", body = protocol::error::ResourceFailure),
        (status = 401, description = "unauthorized, invalid_signature", body = protocol::error::ResourceFailure),
        (status = 403, body = protocol::error::ResourceError),
        (status = 404, description = "No such resource, or the era does not serve the Stripe namespace", body = protocol::error::ResourceFailure),
        (status = 413, body = protocol::error::ResourceError),
    ),
    security(("bearer" = []))
)]
pub async fn stripe(
    stripe: StripeNamespace,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (bytes, token, team_id) =
        match stripe_change_request::<ResourceAnswer>(&stripe, &state, &headers, body, &id).await {
            Ok(checked) => checked,
            Err(refused) => return refused,
        };
    let result = async {
        let request: UpdateServiceRequest = parse_json(&headers, &bytes)?;
        update(&state, Door::Stripe(&stripe), &token, team_id, request).await
    }
    .await;
    respond(result, &id)
}

async fn update(
    state: &AppState,
    door: Door<'_>,
    token: &Authenticated,
    team_id: i64,
    request: UpdateServiceRequest,
) -> Result<ResourceAnswer, ApiError> {
    let mut team = reachable_team(state, token, team_id).await?;
    let service = check_service(door, request.service_id.as_deref())?;
    if !state.db.set_team_service(team.id, service).await? {
        return Err(ApiError::NotFound(format!("No resource {team_id}")));
    }
    tracing::info!(team_id = team.id, service, "service updated");
    team.service_id = service.to_owned();
    Ok(answer(state, &team, None))
}

/// The service a resource may move to: a known one, and not the paid plan
/// (no payment credentials are ever presented here). An unknown one is
/// worded as the door words it.
pub fn check_service<'a>(door: Door<'_>, service_id: Option<&'a str>) -> Result<&'a str, ApiError> {
    match service_id.filter(|service| !service.is_empty()) {
        None => Err(ApiError::MissingServiceId(SERVICE_ID_REQUIRED.into())),
        Some(service) if !SERVICES.contains(&service) => {
            let shown = protocol::credential::redact_secrets(service);
            Err(ApiError::UnknownService(match door {
                Door::Agentic => format!(
                    "Unknown service_id {shown:?}; known: {}",
                    SERVICES.join(", ")
                ),
                Door::Stripe(stripe) => {
                    stripe.messages.unknown_service.replace("{service}", &shown)
                }
            }))
        }
        Some(PAID_SERVICE) => Err(ApiError::RequiresPaymentCredentials(
            PAYMENT_CREDENTIALS_REQUIRED.into(),
        )),
        Some(service) => Ok(service),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_table() {
        let policy = crate::policy::ScopePolicy::load("current").unwrap();
        let stripe = StripeNamespace {
            messages: policy.stripe_namespace().unwrap().clone(),
            access_seconds: policy.stripe.access_seconds,
        };
        let cases: [(Option<&str>, Result<&str, &str>); 6] = [
            (Some("free"), Ok("free")),
            (Some("analytics"), Ok("analytics")),
            (None, Err("missing_service_id")),
            (Some(""), Err("missing_service_id")),
            (Some("bogus"), Err("unknown_service")),
            (Some("pay_as_you_go"), Err("requires_payment_credentials")),
        ];
        for (service, expected) in cases {
            for door in [Door::Agentic, Door::Stripe(&stripe)] {
                let got = check_service(door, service).map_err(|error| error.code());
                assert_eq!(got, expected, "{service:?} at {door:?}");
            }
        }
        let stripe_wording = check_service(Door::Stripe(&stripe), Some("bogus")).unwrap_err();
        assert_eq!(stripe_wording.to_string(), "Unknown service_id: bogus");
    }
}
