//! `POST /api/agentic/provisioning/resources/{id}/rotate_credentials`
//! (protocol section 4): a new `phc_` for the team and a new `phx_`; the old
//! ones stop working at once.
//!
//! Which personal API keys die: every live key of the token's user on this
//! team that provisioning minted (it carries a partner `client_id`),
//! whichever partner minted it. Keys the user made otherwise (seeded ones,
//! without a `client_id`), and other users' keys on the same team, are left
//! alone: a rotation answers for the credentials provisioning handed out.

use axum::extract::State;
use axum::Json;

use protocol::credential::{Credential, CredentialKind};
use protocol::provisioning::{ResourceAnswer, RotateRequest};

use crate::access::{reachable_team, Change, StripeChange};
use crate::auth::Authenticated;
use crate::db::lifecycle::{RotatedKey, Rotation};
use crate::error::{ApiError, ResourceRefusal};
use crate::http::parse_json;
use crate::partner;
use crate::resource;
use crate::state::AppState;
use crate::stripe::Door;

/// Rotates the resource's credentials and answers like its creation.
#[utoipa::path(
    post,
    path = "/api/agentic/provisioning/resources/{id}/rotate_credentials",
    tag = "provisioning",
    params(
        ("id" = String, Path, description = "The team id"),
        ("API-Version" = String, Header, description = "Must be 0.1d"),
    ),
    responses(
        (status = 200, description = "The new phc_ and phx_; the old ones are refused from now on", body = protocol::provisioning::ResourceAnswer),
        (status = 400, description = "invalid_resource_id, invalid_api_version", body = protocol::error::ResourceFailure),
        (status = 401, description = "Missing, invalid, revoked or expired access token", body = protocol::error::ResourceError),
        (status = 403, description = "A team outside the token's teams, or a partner that may not provision", body = protocol::error::ResourceError),
        (status = 404, description = "No such resource (or it was removed)", body = protocol::error::ResourceError),
    ),
    security(("bearer" = []))
)]
pub async fn handle(
    State(state): State<AppState>,
    change: Change,
) -> Result<Json<ResourceAnswer>, ResourceRefusal> {
    rotate(&state, Door::Agentic, &change.token, change.team_id)
        .await
        .map(Json)
        .map_err(change.refused())
}

/// Rotates in the Stripe namespace (a bearer of a Stripe-signed partner,
/// then the signature over the body).
#[utoipa::path(
    post,
    path = "/api/partners/stripe/provisioning/resources/{id}/rotate_credentials",
    tag = "stripe",
    params(
        ("id" = String, Path, description = "The team id"),
        ("API-Version" = String, Header, description = "Must be 0.1d"),
        ("Stripe-Signature" = String, Header, description = "Signature over the body"),
    ),
    request_body(content = protocol::provisioning::RotateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The new credentials", body = protocol::provisioning::ResourceAnswer),
        (status = 400, description = "invalid_resource_id, invalid_label_prefix, invalid_request, invalid_api_version", body = protocol::error::ResourceFailure),
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
    stripe_rotate(&state, &change)
        .await
        .map(Json)
        .map_err(change.refused())
}

/// The namespace's body (an optional `label_prefix`), then the rotation.
async fn stripe_rotate(
    state: &AppState,
    change: &StripeChange,
) -> Result<ResourceAnswer, ApiError> {
    let request: RotateRequest = match change.body.iter().all(u8::is_ascii_whitespace) {
        true => RotateRequest::default(),
        false => parse_json(&change.headers, &change.body)?,
    };
    let stripe = &change.stripe;
    stripe.check_label_prefix(request.label_prefix.as_ref())?;
    rotate(state, Door::Stripe(stripe), &change.token, change.team_id).await
}

async fn rotate(
    state: &AppState,
    door: Door<'_>,
    token: &Authenticated,
    team_id: i64,
) -> Result<ResourceAnswer, ApiError> {
    let mut team = reachable_team(state, token, team_id).await?;
    let api_token = Credential::generate(CredentialKind::ProjectApiKey, state.random.as_ref());
    let partner = partner::provisioning(state, token).await?;
    let ceiling = state.policy.ceiling(&partner);
    // The era (or the Stripe namespace) decides whether a new personal key
    // comes with the new project key, and what it carries.
    let key = door
        .personal_api_key_scopes(
            &state.policy,
            token.scopes().as_slice(),
            &ceiling,
            partner.issues_personal_api_key,
        )
        .map(|scopes| {
            let key = Credential::generate(CredentialKind::PersonalApiKey, state.random.as_ref());
            let stored = RotatedKey {
                key_hash: key.hash(),
                masked: key.masked(),
                client_id: token.grant.client_id.clone(),
                scopes: scopes.join(" "),
                code_hash: token.grant.code_hash.clone(),
            };
            (key, stored)
        });
    let rotation = state
        .db
        .rotate_credentials(
            team.id,
            token.grant.user_id,
            api_token.expose(),
            key.as_ref().map(|(_, stored)| stored),
            state.policy.resources.rotation_revokes_earlier_keys,
            state.clock.now(),
        )
        .await?;
    let Rotation::Rotated { revoked_keys } = rotation else {
        return Err(ApiError::NotFound(format!("No resource {team_id}")));
    };
    let key = key.map(|(key, _)| key);
    tracing::info!(team_id = team.id, key = ?key, revoked_keys, "credentials rotated");
    team.api_token = api_token.expose().to_owned();
    Ok(resource::answer(&state.public_url, &team, key.as_ref()))
}
