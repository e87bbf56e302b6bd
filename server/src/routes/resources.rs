//! `POST /api/agentic/provisioning/resources` and
//! `GET /api/agentic/provisioning/resources/{id}` (protocol section 4),
//! and the same under the Stripe namespace (`crate::stripe`): a bearer of
//! a Stripe-signed partner and the signature, checked in that order.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use protocol::credential::{Credential, CredentialKind};
use protocol::provisioning::{
    AccessConfiguration, ResourceAnswer, ResourceComplete, ResourceRequest,
};

use crate::auth::{self, Authenticated};
use crate::db::{Application, Team};
use crate::error::{ApiError, Envelope};
use crate::fields::parse_team_id;
use crate::http::{bearer, check_api_version, parse_json, read_body};
use crate::rate_limit::{self, Kind};
use crate::state::AppState;
use crate::stripe::{Door, StripeNamespace};

/// The services a resource may be created for; `analytics` by default.
pub const SERVICES: [&str; 3] = ["analytics", "free", "pay_as_you_go"];

/// Provisions the token's team (or `configuration.team_id`): its `phc_`,
/// the host, and a fresh `phx_`.
#[utoipa::path(
    post,
    path = "/api/agentic/provisioning/resources",
    tag = "provisioning",
    params(("API-Version" = String, Header, description = "Must be 0.1d")),
    request_body(content = protocol::provisioning::ResourceRequest, content_type = "application/json"),
    responses(
        (status = 200, body = protocol::provisioning::ResourceAnswer),
        (status = 400, description = "invalid_request, unknown_service, invalid_api_version", body = protocol::error::ResourceFailure),
        (status = 401, description = "Missing, invalid, revoked or expired access token", body = protocol::error::ResourceError),
        (status = 403, body = protocol::error::ResourceError),
        (status = 404, body = protocol::error::ResourceError),
        (status = 413, body = protocol::error::ResourceError),
        (status = 429, description = "rate_limited: the token's partner is over its hourly resource creates (with Retry-After)", body = protocol::error::ResourceError),
    ),
    security(("bearer" = []))
)]
pub async fn create(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        check_api_version(&headers)?;
        let token = access_token(&state, &headers).await?;
        let bytes = read_body(body).await?;
        let request = parse_request(&headers, &bytes)?;
        let (request, created) = for_project(&state, &token, request).await?;
        let token = match created {
            true => access_token(&state, &headers).await?,
            false => token,
        };
        provision(&state, Door::Agentic, &token, request).await
    }
    .await;
    match result {
        Ok(answer) => Json(answer).into_response(),
        Err(error) => error.into_envelope(Envelope::Resource { id: None }),
    }
}

/// Provisions in the Stripe namespace.
#[utoipa::path(
    post,
    path = "/api/partners/stripe/provisioning/resources",
    tag = "stripe",
    params(
        ("API-Version" = String, Header, description = "Must be 0.1d"),
        ("Stripe-Signature" = String, Header, description = "Signature over the body"),
    ),
    request_body(content = protocol::provisioning::ResourceRequest, content_type = "application/json"),
    responses(
        (status = 200, body = protocol::provisioning::ResourceAnswer),
        (status = 400, description = "invalid_request, unknown_service, invalid_label_prefix, invalid_api_version", body = protocol::error::ResourceFailure),
        (status = 401, description = "unauthorized (no bearer, an invalid one, another application's), invalid_signature", body = protocol::error::ResourceFailure),
        (status = 403, body = protocol::error::ResourceError),
        (status = 404, description = "No such team, or the era does not serve the Stripe namespace", body = protocol::error::ResourceFailure),
        (status = 413, body = protocol::error::ResourceError),
        (status = 429, description = "rate_limited (with Retry-After)", body = protocol::error::ResourceError),
    ),
    security(("bearer" = []))
)]
pub async fn stripe_create(
    stripe: StripeNamespace,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match read_body(body).await {
        Ok(bytes) => bytes,
        Err(error) => return error.into_envelope(Envelope::Resource { id: None }),
    };
    let token = match stripe.resource_request(&state, &headers, &bytes).await {
        Ok(token) => token,
        Err(refused) => return refused,
    };
    let result = async {
        let request = parse_request(&headers, &bytes)?;
        if let Some(service) = request
            .service_id
            .as_deref()
            .filter(|service| !SERVICES.contains(service))
        {
            return Err(ApiError::UnknownService(
                stripe
                    .messages
                    .unknown_service
                    .replace("{service}", &protocol::credential::redact_secrets(service)),
            ));
        }
        stripe.check_label_prefix(request.label_prefix.as_ref())?;
        let (request, created) = for_project(&state, &token, request).await?;
        // A new team: a token that reaches it.
        let token = match created {
            true => stripe.bearer(&state, &headers).await?,
            false => token,
        };
        provision(&state, Door::Stripe(&stripe), &token, request).await
    }
    .await;
    respond(result, "")
}

/// A request naming a `project_id` is for the project's own team (found, or
/// created now): the request comes back naming that team, and whether it
/// was created (the token's teams, read before, then lack it).
async fn for_project(
    state: &AppState,
    token: &Authenticated,
    mut request: ResourceRequest,
) -> Result<(ResourceRequest, bool), ApiError> {
    let project_id = request
        .project_id
        .clone()
        .filter(|project| !project.trim().is_empty());
    let Some(project_id) = project_id else {
        return Ok((request, false));
    };
    require_provisioning_partner(state, token).await?;
    let team_id = project_team(state, token, &project_id, &request).await?;
    let created = !token.teams.iter().any(|team| team.id == team_id);
    let configuration = request.configuration.get_or_insert_with(Default::default);
    configuration.team_id = Some(serde_json::Value::from(team_id));
    // The project's team keeps the name it was created with.
    configuration.project_name = None;
    Ok((request, created))
}

/// The team dedicated to `project_id` for the token's partner: found, or
/// created in the organization of the token's own team, named after
/// `configuration.project_name` (else "Default project").
async fn project_team(
    state: &AppState,
    token: &Authenticated,
    project_id: &str,
    request: &ResourceRequest,
) -> Result<i64, ApiError> {
    let base = reachable_team(state, token, token.grant.team_id).await?;
    let client_id = token.grant.client_id.as_deref().unwrap_or_default();
    let name = request
        .configuration
        .as_ref()
        .and_then(|configuration| configuration.project_name.as_deref())
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .unwrap_or("Default project");
    let api_token = Credential::generate(CredentialKind::ProjectApiKey, state.random.as_ref());
    Ok(state
        .db
        .project_team(
            client_id,
            project_id,
            &base.organization_id,
            name,
            api_token.expose(),
            &state.region,
            state.clock.now(),
        )
        .await?)
}

/// A resource request's body: `{}` when empty.
fn parse_request(headers: &HeaderMap, bytes: &[u8]) -> Result<ResourceRequest, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(ResourceRequest::default());
    }
    parse_json(headers, bytes)
}

/// The resource again, never with a `personal_api_key`.
#[utoipa::path(
    get,
    path = "/api/agentic/provisioning/resources/{id}",
    tag = "provisioning",
    params(
        ("id" = String, Path, description = "The team id"),
        ("API-Version" = String, Header, description = "Must be 0.1d"),
    ),
    responses(
        (status = 200, body = protocol::provisioning::ResourceAnswer),
        (status = 400, description = "invalid_resource_id, invalid_api_version", body = protocol::error::ResourceFailure),
        (status = 401, body = protocol::error::ResourceError),
        (status = 403, body = protocol::error::ResourceError),
        (status = 404, body = protocol::error::ResourceError),
    ),
    security(("bearer" = []))
)]
pub async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        check_api_version(&headers)?;
        let token = access_token(&state, &headers).await?;
        let team = reachable_team(&state, &token, parse_resource_id(&id)?).await?;
        Ok::<_, ApiError>(answer(&state, &team, None))
    }
    .await;
    respond(result, &id)
}

/// The resource again, in the Stripe namespace.
#[utoipa::path(
    get,
    path = "/api/partners/stripe/provisioning/resources/{id}",
    tag = "stripe",
    params(
        ("id" = String, Path, description = "The team id"),
        ("API-Version" = String, Header, description = "Must be 0.1d"),
        ("Stripe-Signature" = String, Header, description = "Signature over the empty body"),
    ),
    responses(
        (status = 200, body = protocol::provisioning::ResourceAnswer),
        (status = 400, description = "invalid_resource_id, invalid_api_version", body = protocol::error::ResourceFailure),
        (status = 401, description = "unauthorized, invalid_signature", body = protocol::error::ResourceFailure),
        (status = 403, body = protocol::error::ResourceError),
        (status = 404, description = "No such resource, or the era does not serve the Stripe namespace", body = protocol::error::ResourceFailure),
    ),
    security(("bearer" = []))
)]
pub async fn stripe_read(
    stripe: StripeNamespace,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let token = match stripe.resource_request(&state, &headers, b"").await {
        Ok(token) => token,
        Err(refused) => return refused,
    };
    let result = async {
        let team = reachable_team(&state, &token, parse_resource_id(&id)?).await?;
        Ok::<_, ApiError>(answer(&state, &team, None))
    }
    .await;
    respond(result, &id)
}

/// What a change to a resource in the Stripe namespace (rotate, remove,
/// update_service) checks first: the body is read, the bearer of a
/// Stripe-signed partner and the signature over the body are checked, the
/// id is an integer and the partner may provision. A refusal is the whole
/// answer, in the resource envelope of a `T` route.
pub(crate) async fn stripe_change_request<T: serde::Serialize>(
    stripe: &StripeNamespace,
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    id: &str,
) -> Result<(axum::body::Bytes, Authenticated, i64), Response> {
    let bytes = read_body(body)
        .await
        .map_err(|error| respond::<T>(Err(error), id))?;
    let token = stripe.resource_request(state, headers, &bytes).await?;
    let team_id = match parse_resource_id(id) {
        Ok(team_id) => team_id,
        Err(error) => return Err(respond::<T>(Err(error), id)),
    };
    if let Err(error) = require_provisioning_partner(state, &token).await {
        return Err(respond::<T>(Err(error), id));
    }
    Ok((bytes, token, team_id))
}

/// A resource route's answer: the JSON, or the error in the resource
/// envelope. The id is echoed from the path, where a person may have pasted
/// a credential by mistake: never send a full secret back.
pub(crate) fn respond<T: serde::Serialize>(result: Result<T, ApiError>, id: &str) -> Response {
    match result {
        Ok(answer) => Json(answer).into_response(),
        Err(error) => error.into_envelope(Envelope::Resource {
            id: Some(protocol::credential::redact_secrets(id)),
        }),
    }
}

/// What changing a resource (rotate, remove) checks first: the
/// API-Version, a live access token of a partner that may provision, and an
/// integer id.
pub(crate) async fn change_request(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
) -> Result<(Authenticated, i64), ApiError> {
    check_api_version(headers)?;
    let token = access_token(state, headers).await?;
    let team_id = parse_resource_id(id)?;
    require_provisioning_partner(state, &token).await?;
    Ok((token, team_id))
}

pub(crate) async fn access_token(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Authenticated, ApiError> {
    match auth::resolve(state, bearer(headers), &[CredentialKind::AccessToken]).await? {
        Ok(token) => Ok(token),
        Err(dead) => Err(ApiError::Unauthorized(match dead {
            auth::Dead::Missing => "A Bearer access token (pha_) is required".into(),
            other => format!(
                "The access token is {}",
                match other {
                    auth::Dead::Revoked => "revoked",
                    auth::Dead::Expired => "expired",
                    auth::Dead::PartnerDeactivated =>
                        "from a deactivated partner (Partner is deactivated)",
                    _ => "invalid",
                }
            ),
        })),
    }
}

async fn provision(
    state: &AppState,
    door: Door<'_>,
    token: &Authenticated,
    request: ResourceRequest,
) -> Result<ResourceAnswer, ApiError> {
    let service = request.service_id.as_deref().unwrap_or("analytics");
    if !SERVICES.contains(&service) {
        return Err(ApiError::UnknownService(format!(
            "Unknown service_id {service:?}; known: {}",
            SERVICES.join(", ")
        )));
    }
    // One read of the partner serves both the permission and its limits.
    let partner = provisioning_partner(state, token).await?;
    rate_limit::take(state, &partner, Kind::ResourceCreates).await?;
    let configuration = request.configuration.unwrap_or_default();
    let team_id = parse_team_id(configuration.team_id.as_ref())?.unwrap_or(token.grant.team_id);
    let mut team = reachable_team(state, token, team_id).await?;
    if let Some(name) = configuration
        .project_name
        .filter(|name| !name.trim().is_empty())
    {
        state.db.rename_team(team.id, name.trim()).await?;
        team.name = name.trim().to_owned();
    }
    let ceiling = state.policy.ceiling(&partner);
    let key = match door.personal_api_key_scopes(
        &state.policy,
        &token.scopes(),
        &ceiling,
        partner.issues_personal_api_key,
    ) {
        // The era mints no personal key (or none this token could carry).
        None => None,
        Some(scopes) => {
            let key = Credential::generate(CredentialKind::PersonalApiKey, state.random.as_ref());
            state
                .db
                .insert_personal_key(
                    &key.hash(),
                    &key.masked(),
                    token.grant.user_id,
                    team.id,
                    token.grant.client_id.as_deref(),
                    &scopes.join(" "),
                    state.clock.now(),
                    None,
                )
                .await?;
            Some(key)
        }
    };
    tracing::info!(team_id = team.id, key = ?key, "resource provisioned");
    Ok(answer(state, &team, key.as_ref()))
}

pub(crate) fn parse_resource_id(id: &str) -> Result<i64, ApiError> {
    id.parse().map_err(|_| {
        ApiError::InvalidResourceId(format!(
            "Resource id {:?} is not an integer",
            protocol::credential::redact_secrets(id)
        ))
    })
}

/// The team, if the token's user can reach it. Else, as the era says:
/// 403 for another's team and 404 for one that does not exist (or was
/// removed), or today's 403 "Resource not accessible with this token" for
/// any team outside the token's.
pub(crate) async fn reachable_team(
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

pub(crate) fn answer(state: &AppState, team: &Team, key: Option<&Credential>) -> ResourceAnswer {
    ResourceAnswer {
        status: "complete".into(),
        id: team.id.to_string(),
        service_id: team.service_id.clone(),
        complete: ResourceComplete {
            access_configuration: AccessConfiguration {
                api_key: team.api_token.clone(),
                host: state.public_url.to_string(),
                personal_api_key: key.map(|key| key.expose().to_owned()),
            },
        },
    }
}

/// The token's partner must still be active and allowed to provision.
pub(crate) async fn require_provisioning_partner(
    state: &AppState,
    token: &Authenticated,
) -> Result<(), ApiError> {
    provisioning_partner(state, token).await.map(|_| ())
}

/// [`require_provisioning_partner`], answering with the partner.
pub(crate) async fn provisioning_partner(
    state: &AppState,
    token: &Authenticated,
) -> Result<Application, ApiError> {
    let partner = match token.grant.client_id.as_deref() {
        Some(client_id) => state.db.application(client_id).await?,
        None => None,
    };
    match partner {
        Some(partner) if partner.active && partner.can_provision_resources => Ok(partner),
        _ => Err(ApiError::Forbidden(
            "This application may not provision or manage resources".into(),
        )),
    }
}
