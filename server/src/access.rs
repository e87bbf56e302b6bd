//! Who may touch a resource: the provisioning API's access token, the
//! teams it reaches, and the checks every change to a resource
//! (rotation, removal, a service update) makes first, as extractors
//! ([`Change`] under `/api/agentic`, [`StripeChange`] in the Stripe
//! namespace) whose refusals name the resource of the path.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use protocol::credential::CredentialKind;

use crate::auth::{self, Authenticated, Dead};
use crate::db::Team;
use crate::error::{ApiError, ResourceRefusal};
use crate::extract::PathId;
use crate::fields::parse_resource_id;
use crate::http::{bearer, check_api_version, read_body};
use crate::partner;
use crate::state::AppState;
use crate::stripe::StripeNamespace;

/// The live access token (`pha_`) of a provisioning request, or the
/// provisioning API's `401 unauthorized` saying why not.
pub async fn access_token(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Authenticated, ApiError> {
    let resolved = auth::resolve(state, bearer(headers), &[CredentialKind::AccessToken]).await?;
    resolved.map_err(|dead| ApiError::Unauthorized(dead_access_token(dead)))
}

/// Why an access token is refused, in the provisioning API's words.
pub fn dead_access_token(dead: Dead) -> String {
    let why = match dead {
        Dead::Missing => return "A Bearer access token (pha_) is required".into(),
        Dead::Revoked => "revoked",
        Dead::Expired => "expired",
        Dead::PartnerDeactivated => "from a deactivated partner (Partner is deactivated)",
        Dead::Unknown => "invalid",
    };
    format!("The access token is {why}")
}

/// The team `team_id`, if the token's user can reach it. Else, as the era
/// says: 403 for another's team and 404 for one that does not exist (or
/// was removed), or today's 403 "Resource not accessible with this token"
/// for any team outside the token's.
pub async fn reachable_team(
    state: &AppState,
    token: &Authenticated,
    team_id: i64,
) -> Result<Team, ApiError> {
    if let Some(team) = token
        .teams
        .iter()
        .find(|team| team.id == team_id && !team.is_demo)
    {
        return Ok(team.clone());
    }
    if state.policy.resources.outside_the_token_is_forbidden {
        return Err(ApiError::Forbidden(
            "Resource not accessible with this token".into(),
        ));
    }
    match state.db.team(team_id).await? {
        Some(_) => Err(ApiError::Forbidden(format!(
            "Team {team_id} is not one of this token's teams"
        ))),
        None => Err(ApiError::NotFound(format!("No resource {team_id}"))),
    }
}

/// A change to the resource `{id}` under `/api/agentic`, checked in the
/// order every such route checks: the API-Version, a live access token, an
/// integer id, a partner that may provision. A refusal names the resource.
pub struct Change {
    /// The id as the path sent it (echoed, redacted, in a refusal).
    pub id: String,
    pub token: Authenticated,
    pub team_id: i64,
}

impl Change {
    /// A refusal of this change, naming its resource.
    pub fn refused(&self) -> impl Fn(ApiError) -> ResourceRefusal + '_ {
        ResourceRefusal::naming(&self.id)
    }
}

impl FromRequestParts<AppState> for Change {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Ok(PathId(id)) = PathId::from_request_parts(parts, state).await;
        match check_change(state, &parts.headers, &id).await {
            Ok((token, team_id)) => Ok(Change { id, token, team_id }),
            Err(error) => Err(ResourceRefusal::naming(&id)(error).into_response()),
        }
    }
}

/// The checks of [`Change`]: the live token and the team id.
async fn check_change(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
) -> Result<(Authenticated, i64), ApiError> {
    check_api_version(headers)?;
    let token = access_token(state, headers).await?;
    let team_id = parse_resource_id(id)?;
    partner::provisioning(state, &token).await?;
    Ok((token, team_id))
}

/// A change to the resource `{id}` in the Stripe namespace, checked in its
/// order: the body is read, the bearer of a Stripe-signed partner and the
/// signature over the body are checked (those refusals name no resource,
/// as the namespace answers before it reads the path), then the id is an
/// integer and the partner may provision.
pub struct StripeChange {
    pub stripe: StripeNamespace,
    pub id: String,
    pub token: Authenticated,
    pub team_id: i64,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl StripeChange {
    /// A refusal of this change, naming its resource.
    pub fn refused(&self) -> impl Fn(ApiError) -> ResourceRefusal + '_ {
        ResourceRefusal::naming(&self.id)
    }
}

impl FromRequest<AppState> for StripeChange {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let stripe = StripeNamespace::from_request_parts(&mut parts, state).await?;
        let Ok(PathId(id)) = PathId::from_request_parts(&mut parts, state).await;
        let refused = |error: ApiError| ResourceRefusal::naming(&id)(error).into_response();
        let body = read_body(body).await.map_err(refused)?;
        let token = stripe
            .resource_request(state, &parts.headers, &body)
            .await
            .map_err(IntoResponse::into_response)?;
        let team_id = parse_resource_id(&id).map_err(refused)?;
        partner::provisioning(state, &token)
            .await
            .map_err(refused)?;
        Ok(StripeChange {
            stripe,
            id,
            token,
            team_id,
            headers: parts.headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// If this fails, a partner is told its token is dead without being
    /// told why (or in other words than the contract's).
    #[test]
    fn a_dead_access_token_says_why() {
        let cases = [
            (Dead::Missing, "A Bearer access token (pha_) is required"),
            (Dead::Unknown, "The access token is invalid"),
            (Dead::Revoked, "The access token is revoked"),
            (Dead::Expired, "The access token is expired"),
            (
                Dead::PartnerDeactivated,
                "The access token is from a deactivated partner (Partner is deactivated)",
            ),
        ];
        for (dead, expected) in cases {
            assert_eq!(dead_access_token(dead), expected, "{dead:?}");
        }
    }
}
