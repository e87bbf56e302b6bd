//! The small part of the PostHog API the wizard reads (protocol section 5):
//! `GET /api/users/@me/` and `GET /api/projects/{id}/`. Bearer `pha_` or
//! `phx_`; errors as `{"detail","code"?}`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use protocol::credential::CredentialKind;
use protocol::posthog::{Me, OrganizationRef, Project, TeamRef};

use crate::auth::{self, Authenticated};
use crate::error::{ApiError, Envelope};
use crate::http::bearer;
use crate::state::AppState;

/// The signed-in user (needs `user:read`).
#[utoipa::path(
    get,
    path = "/api/users/@me",
    tag = "posthog",
    responses(
        (status = 200, body = protocol::posthog::Me),
        (status = 401, description = "Missing, unknown, revoked or expired credential; the detail says which", body = protocol::error::DetailError),
        (status = 403, description = "permission_denied, naming the missing scope", body = protocol::error::DetailError),
        (status = 404, description = "The credential's project was removed", body = protocol::error::DetailError),
    ),
    security(("bearer" = []))
)]
pub async fn me(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(&state, &headers, "user:read", |state, live| async move {
        let Authenticated {
            grant, user, teams, ..
        } = live;
        // The credential's team is almost always one of the user's: no
        // second query then.
        let team = match teams.iter().find(|team| team.id == grant.team_id) {
            Some(team) => team.clone(),
            None => state
                .db
                .team(grant.team_id)
                .await?
                .ok_or_else(|| ApiError::NotFound("Not found.".into()))?,
        };
        let mut organizations: Vec<OrganizationRef> = Vec::new();
        for team in &teams {
            if !organizations
                .iter()
                .any(|organization| organization.id == team.organization_id)
            {
                organizations.push(OrganizationRef {
                    id: team.organization_id.clone(),
                    name: team.organization_name.clone(),
                });
            }
        }
        Ok(Json(Me {
            uuid: user.uuid,
            email: user.email,
            first_name: user.first_name,
            organization: OrganizationRef {
                id: team.organization_id.clone(),
                name: team.organization_name.clone(),
            },
            team: TeamRef {
                id: team.id,
                name: team.name,
                api_token: team.api_token,
            },
            organizations,
        })
        .into_response())
    })
    .await
}

/// One project (needs `project:read`).
#[utoipa::path(
    get,
    path = "/api/projects/{id}",
    tag = "posthog",
    params(("id" = String, Path, description = "The project (team) id")),
    responses(
        (status = 200, body = protocol::posthog::Project),
        (status = 401, body = protocol::error::DetailError),
        (status = 403, body = protocol::error::DetailError),
        (status = 404, body = protocol::error::DetailError),
    ),
    security(("bearer" = []))
)]
pub async fn project(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    respond(&state, &headers, "project:read", |_, live| async move {
        let id: i64 = id
            .parse()
            .map_err(|_| ApiError::NotFound("Not found.".into()))?;
        let Some(team) = live.teams.iter().find(|team| team.id == id).cloned() else {
            return Err(ApiError::NotFound("Not found.".into()));
        };
        if live.kind == CredentialKind::PersonalApiKey && live.grant.team_id != team.id {
            return Err(ApiError::Forbidden(
                "This personal API key is scoped to another project.".into(),
            ));
        }
        Ok(Json(Project {
            id: team.id,
            name: team.name,
            api_token: team.api_token,
            organization: team.organization_id,
        })
        .into_response())
    })
    .await
}

/// Authenticates, checks `scope`, runs `body`, and answers in the detail
/// envelope.
pub(crate) async fn respond<F, Fut>(
    state: &AppState,
    headers: &HeaderMap,
    scope: &str,
    body: F,
) -> Response
where
    F: FnOnce(AppState, Authenticated) -> Fut,
    Fut: std::future::Future<Output = Result<Response, ApiError>>,
{
    let resolved = match auth::resolve(
        state,
        bearer(headers),
        &[CredentialKind::AccessToken, CredentialKind::PersonalApiKey],
    )
    .await
    {
        Ok(resolved) => resolved,
        Err(error) => return error.into_envelope(Envelope::Detail),
    };
    let verdict = auth::verdict(&resolved);
    let mut response = match resolved {
        Err(dead) => dead.into_error().into_envelope(Envelope::Detail),
        Ok(live) if !live.has_scope(scope) => {
            ApiError::MissingScope(scope.to_owned()).into_envelope(Envelope::Detail)
        }
        Ok(live) => match body(state.clone(), live).await {
            Ok(response) => response,
            Err(error) => error.into_envelope(Envelope::Detail),
        },
    };
    response.extensions_mut().insert(verdict);
    response
}
