//! `POST /api/agentic/provisioning/resources/{id}/update_service` and the
//! same in the Stripe namespace (protocol sections 3 and 4): moves a
//! resource to another service. Payment credentials are not modelled, so a
//! paid plan is always refused with `requires_payment_credentials`.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;

use protocol::provisioning::{ResourceAnswer, UpdateServiceRequest};

use crate::access::{reachable_team, Change, StripeChange};
use crate::auth::Authenticated;
use crate::error::{ApiError, ResourceRefusal};
use crate::http::{parse_json, read_body};
use crate::resource;
use crate::state::AppState;
use crate::stripe::Door;

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
    change: Change,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ResourceAnswer>, ResourceRefusal> {
    let refused = change.refused();
    let bytes = read_body(body).await.map_err(&refused)?;
    update(
        &state,
        Door::Agentic,
        &change.token,
        change.team_id,
        &headers,
        &bytes,
    )
    .await
    .map(Json)
    .map_err(refused)
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
    State(state): State<AppState>,
    change: StripeChange,
) -> Result<Json<ResourceAnswer>, ResourceRefusal> {
    let door = Door::Stripe(&change.stripe);
    update(
        &state,
        door,
        &change.token,
        change.team_id,
        &change.headers,
        &change.body,
    )
    .await
    .map(Json)
    .map_err(change.refused())
}

/// Reads the request (`body`), then moves the team to its service.
async fn update(
    state: &AppState,
    door: Door<'_>,
    token: &Authenticated,
    team_id: i64,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<ResourceAnswer, ApiError> {
    let request: UpdateServiceRequest = parse_json(headers, body)?;
    let mut team = reachable_team(state, token, team_id).await?;
    let service = resource::service_to_move_to(door, request.service_id.as_deref())?;
    if !state.db.set_team_service(team.id, service).await? {
        return Err(ApiError::NotFound(format!("No resource {team_id}")));
    }
    tracing::info!(team_id = team.id, service, "service updated");
    team.service_id = service.to_owned();
    Ok(resource::answer(&state.public_url, &team, None))
}
