//! The small part of the PostHog API the wizard reads (protocol section 5):
//! `GET /api/users/@me/` and `GET /api/projects/{id}/`. Bearer `pha_` or
//! `phx_`; errors as `{"detail","code"?}`.

use axum::extract::State;
use axum::Json;

use protocol::credential::CredentialKind;
use protocol::posthog::{Me, OrganizationRef, Project, TeamRef};

use crate::auth::Authenticated;
use crate::clock;
use crate::db::{Holder, Team};
use crate::error::{ApiError, PostHogRefusal};
use crate::extract::{NeededScope, PathId, PostHogCaller};
use crate::http::{SerializedJson, Verdict};
use crate::posthog_ids;
use crate::state::AppState;

/// `/api/users/@me/` needs `user:read`.
pub struct UserRead;

impl NeededScope for UserRead {
    const SCOPE: &'static str = "user:read";
}

/// `/api/projects/{id}/` needs `project:read`.
pub struct ProjectRead;

impl NeededScope for ProjectRead {
    const SCOPE: &'static str = "project:read";
}

/// The signed-in user (needs `user:read`).
#[utoipa::path(
    get,
    path = "/api/users/@me",
    tag = "posthog",
    responses(
        (status = 200, body = protocol::posthog::Me),
        (status = 401, description = "Missing, unknown, revoked or expired credential; the detail says which", body = protocol::error::PostHogError),
        (status = 403, description = "permission_denied, naming the missing scope", body = protocol::error::PostHogError),
        (status = 404, description = "The credential's project was removed", body = protocol::error::PostHogError),
    ),
    security(("bearer" = []))
)]
pub async fn me(
    State(state): State<AppState>,
    caller: PostHogCaller<UserRead>,
) -> (Verdict, Result<SerializedJson, PostHogRefusal>) {
    (caller.verdict(), me_answer(&state, &caller.live).await)
}

/// The answer, made once per kept holder: it depends on the holder alone
/// when the credential's team is one of the user's, as it almost always
/// is (otherwise the team is read, and the answer is not kept).
async fn me_answer(
    state: &AppState,
    live: &Authenticated,
) -> Result<SerializedJson, PostHogRefusal> {
    let slot = &live.answers.me;
    if let Some(kept) = SerializedJson::kept(slot) {
        return Ok(kept);
    }
    if let Some(team) = live.teams.iter().find(|team| team.id == live.grant.team_id) {
        return Ok(SerializedJson::keep(slot, &me_of(live, team))?);
    }
    let team = state
        .db
        .team(live.grant.team_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Not found.".into()))?;
    Ok(SerializedJson::of(&me_of(live, &team))?)
}

fn me_of(live: &Authenticated, team: &Team) -> Me {
    let Holder { user, teams, .. } = &*live.holder;
    let mut organizations: Vec<OrganizationRef> = Vec::new();
    for team in teams {
        if !organizations
            .iter()
            .any(|organization| organization.id == team.organization_id)
        {
            organizations.push(organization(team));
        }
    }
    Me {
        id: user.id,
        distinct_id: posthog_ids::distinct_id(&user.uuid),
        uuid: user.uuid.clone(),
        email: user.email.clone(),
        first_name: user.first_name.clone(),
        last_name: String::new(),
        date_joined: clock::rfc3339(user.created_at),
        pending_email: None,
        is_email_verified: false,
        is_staff: false,
        has_password: user.has_password,
        is_2fa_enabled: false,
        has_social_auth: false,
        has_sso_enforcement: false,
        theme_mode: None,
        toolbar_mode: None,
        role_at_organization: None,
        hide_mcp_hints: false,
        organization: organization(team),
        team: TeamRef {
            id: team.id,
            uuid: posthog_ids::team_uuid(&team.organization_id, team.id),
            organization: team.organization_id.clone(),
            project_id: team.id,
            name: team.name.clone(),
            api_token: team.api_token.clone(),
            timezone: "UTC".to_owned(),
            is_demo: team.is_demo,
            ingested_event: false,
            completed_snippet_onboarding: false,
        },
        organizations,
    }
}

/// One project (needs `project:read`).
#[utoipa::path(
    get,
    path = "/api/projects/{id}",
    tag = "posthog",
    params(("id" = String, Path, description = "The project (team) id")),
    responses(
        (status = 200, body = protocol::posthog::Project),
        (status = 401, body = protocol::error::PostHogError),
        (status = 403, body = protocol::error::PostHogError),
        (status = 404, body = protocol::error::PostHogError),
    ),
    security(("bearer" = []))
)]
pub async fn project(
    PathId(id): PathId,
    caller: PostHogCaller<ProjectRead>,
) -> (Verdict, Result<Json<Project>, PostHogRefusal>) {
    (caller.verdict(), project_of(&caller.live, &id).map(Json))
}

fn project_of(live: &Authenticated, id: &str) -> Result<Project, PostHogRefusal> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::NotFound("Not found.".into()))?;
    let Some(team) = live.teams.iter().find(|team| team.id == id).cloned() else {
        return Err(ApiError::NotFound("Not found.".into()).into());
    };
    if live.kind == CredentialKind::PersonalApiKey && live.grant.team_id != team.id {
        return Err(ApiError::Forbidden(
            "This personal API key is scoped to another project.".into(),
        )
        .into());
    }
    Ok(Project {
        id: team.id,
        uuid: posthog_ids::team_uuid(&team.organization_id, team.id),
        organization: team.organization_id,
        name: team.name,
        api_token: team.api_token,
        timezone: "UTC".to_owned(),
        is_demo: team.is_demo,
        ingested_event: false,
        completed_snippet_onboarding: false,
        session_recording_opt_in: false,
        autocapture_exceptions_opt_in: None,
        surveys_opt_in: None,
    })
}

/// An organization as `/api/users/@me/` lists it: every user here owns
/// the organizations they belong to (signup makes them the owner; seeded
/// members are treated alike).
fn organization(team: &Team) -> OrganizationRef {
    OrganizationRef {
        id: team.organization_id.clone(),
        slug: posthog_ids::organization_slug(&team.organization_name),
        name: team.organization_name.clone(),
        membership_level: Some(OWNER_LEVEL),
        customer_id: None,
        is_ai_data_processing_approved: None,
    }
}

/// PostHog's `OrganizationMembership.Level.OWNER`.
const OWNER_LEVEL: i64 = 15;
