//! `POST /api/agentic/provisioning/resources/{id}/remove` (protocol
//! section 4): the team is marked removed (read-back, rotation and removal
//! answer 404 from then on) and every personal API key on it is revoked.

use axum::extract::State;
use axum::Json;

use protocol::provisioning::RemovedAnswer;

use crate::access::{reachable_team, Change, StripeChange};
use crate::auth::Authenticated;
use crate::error::{ApiError, ResourceRefusal};
use crate::state::AppState;

/// Removes the resource.
#[utoipa::path(
    post,
    path = "/api/agentic/provisioning/resources/{id}/remove",
    tag = "provisioning",
    params(
        ("id" = String, Path, description = "The team id"),
        ("API-Version" = String, Header, description = "Must be 0.1d"),
    ),
    responses(
        (status = 200, body = protocol::provisioning::RemovedAnswer),
        (status = 400, description = "invalid_resource_id, invalid_api_version", body = protocol::error::ResourceFailure),
        (status = 401, description = "Missing, invalid, revoked or expired access token", body = protocol::error::ResourceError),
        (status = 403, description = "A team outside the token's teams, or a partner that may not provision", body = protocol::error::ResourceError),
        (status = 404, description = "No such resource (or it was removed already)", body = protocol::error::ResourceError),
    ),
    security(("bearer" = []))
)]
pub async fn handle(
    State(state): State<AppState>,
    change: Change,
) -> Result<Json<RemovedAnswer>, ResourceRefusal> {
    remove(&state, &change.token, change.team_id)
        .await
        .map(Json)
        .map_err(change.refused())
}

/// Removes in the Stripe namespace (a bearer of a Stripe-signed partner,
/// then the signature over the body). When it was the last team the user
/// had, the partner's tokens for the user are revoked too.
#[utoipa::path(
    post,
    path = "/api/partners/stripe/provisioning/resources/{id}/remove",
    tag = "stripe",
    params(
        ("id" = String, Path, description = "The team id"),
        ("API-Version" = String, Header, description = "Must be 0.1d"),
        ("Stripe-Signature" = String, Header, description = "Signature over the body"),
    ),
    responses(
        (status = 200, body = protocol::provisioning::RemovedAnswer),
        (status = 400, description = "invalid_resource_id, invalid_api_version", body = protocol::error::ResourceFailure),
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
) -> Result<Json<RemovedAnswer>, ResourceRefusal> {
    stripe_remove(&state, &change.token, change.team_id)
        .await
        .map(Json)
        .map_err(change.refused())
}

/// The removal, and then, when it was the last team the token had, the
/// partner's tokens for the user revoked: the namespace strips the team
/// from the partner's tokens, and a token left with no team is gone, its
/// refresh tokens with it.
async fn stripe_remove(
    state: &AppState,
    token: &Authenticated,
    team_id: i64,
) -> Result<RemovedAnswer, ApiError> {
    let removed = remove(state, token, team_id).await?;
    let team_left = token
        .teams
        .iter()
        .any(|team| team.id != team_id && !team.is_demo);
    if let (false, Some(client_id)) = (team_left, token.grant.client_id.as_deref()) {
        let revoked = state
            .db
            .revoke_partner_tokens(token.grant.user_id, client_id, state.clock.now())
            .await?;
        tracing::info!(
            team_id,
            revoked,
            "the partner's tokens lost their last team"
        );
    }
    Ok(removed)
}

async fn remove(
    state: &AppState,
    token: &Authenticated,
    team_id: i64,
) -> Result<RemovedAnswer, ApiError> {
    let team = reachable_team(state, token, team_id).await?;
    if !state.db.remove_team(team.id, state.clock.now()).await? {
        return Err(ApiError::NotFound(format!("No resource {team_id}")));
    }
    tracing::info!(team_id = team.id, "resource removed");
    Ok(RemovedAnswer {
        status: "removed".into(),
        id: team.id.to_string(),
    })
}
