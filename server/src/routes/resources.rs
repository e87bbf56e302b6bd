//! `POST /api/agentic/provisioning/resources` and
//! `GET /api/agentic/provisioning/resources/{id}` (protocol section 4),
//! and the same under the Stripe namespace (`crate::stripe`): a bearer of
//! a Stripe-signed partner and the signature, checked in that order.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;

use protocol::credential::{Credential, CredentialKind};
use protocol::provisioning::{ResourceAnswer, ResourceRequest};

use crate::access::{access_token, reachable_team};
use crate::auth::Authenticated;
use crate::db::NewPersonalKey;
use crate::error::{ApiError, ResourceRefusal};
use crate::extract::{AccessToken, ApiVersion, PathId, RawBody};
use crate::fields::{parse_resource_id, parse_team_id};
use crate::http::{check_api_version, parse_json};
use crate::partner;
use crate::rate_limit::{self, Kind};
use crate::resource;
use crate::state::AppState;
use crate::stripe::{Door, StripeNamespace};

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
pub async fn create(
    State(state): State<AppState>,
    _: ApiVersion<ResourceRefusal>,
    AccessToken(token, _): AccessToken<ResourceRefusal>,
    headers: HeaderMap,
    RawBody(bytes, _): RawBody<ResourceRefusal>,
) -> Result<Json<ResourceAnswer>, ResourceRefusal> {
    let request = parse_request(&headers, &bytes)?;
    let (request, created) = for_project(&state, &token, request).await?;
    // A new team: the token read again, so that it reaches it.
    let token = match created {
        true => access_token(&state, &headers).await?,
        false => token,
    };
    Ok(Json(
        provision(&state, Door::Agentic, &token, request).await?,
    ))
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
    RawBody(bytes, _): RawBody<ResourceRefusal>,
) -> Result<Json<ResourceAnswer>, ResourceRefusal> {
    let token = stripe.resource_request(&state, &headers, &bytes).await?;
    // Past the namespace's own checks, a refusal names no resource.
    stripe_provision(&state, &stripe, token, &headers, &bytes)
        .await
        .map(Json)
        .map_err(ResourceRefusal::naming(""))
}

/// The namespace's checks of the body (a known service, a valid
/// `label_prefix`), then the provisioning itself.
async fn stripe_provision(
    state: &AppState,
    stripe: &StripeNamespace,
    token: Authenticated,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<ResourceAnswer, ApiError> {
    let request = parse_request(headers, bytes)?;
    if let Some(service) = request
        .service_id
        .as_deref()
        .filter(|service| !resource::SERVICES.contains(service))
    {
        return Err(resource::unknown_service(Door::Stripe(stripe), service));
    }
    stripe.check_label_prefix(request.label_prefix.as_ref())?;
    let (request, created) = for_project(state, &token, request).await?;
    // A new team: a token that reaches it.
    let token = match created {
        true => stripe.bearer(state, headers).await?,
        false => token,
    };
    provision(state, Door::Stripe(stripe), &token, request).await
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
    partner::provisioning(state, token).await?;
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
        .unwrap_or(crate::accounts::DEFAULT_PROJECT);
    let api_token = Credential::generate(CredentialKind::ProjectApiKey, state.random.as_ref());
    Ok(state
        .db
        .project_team(
            client_id,
            project_id,
            &base.organization_id,
            name,
            api_token.expose(),
            state.region.as_str(),
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
    PathId(id): PathId,
    headers: HeaderMap,
) -> Result<Json<ResourceAnswer>, ResourceRefusal> {
    read_back(&state, &headers, &id)
        .await
        .map(Json)
        .map_err(ResourceRefusal::naming(&id))
}

async fn read_back(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
) -> Result<ResourceAnswer, ApiError> {
    check_api_version(headers)?;
    let token = access_token(state, headers).await?;
    let team = reachable_team(state, &token, parse_resource_id(id)?).await?;
    Ok(resource::answer(&state.public_url, &team, None))
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
    PathId(id): PathId,
    headers: HeaderMap,
) -> Result<Json<ResourceAnswer>, ResourceRefusal> {
    let token = stripe.resource_request(&state, &headers, b"").await?;
    let refused = ResourceRefusal::naming(&id);
    let team_id = parse_resource_id(&id).map_err(&refused)?;
    let team = reachable_team(&state, &token, team_id)
        .await
        .map_err(&refused)?;
    Ok(Json(resource::answer(&state.public_url, &team, None)))
}

/// Provisions the token's team (or `configuration.team_id`): the partner
/// may provision and is within its hourly creates, the team is one the
/// token reaches (renamed when the request names it), and the era (or the
/// door) decides whether a personal key comes with it.
async fn provision(
    state: &AppState,
    door: Door<'_>,
    token: &Authenticated,
    request: ResourceRequest,
) -> Result<ResourceAnswer, ApiError> {
    resource::service_to_create(request.service_id.as_deref())?;
    // One read of the partner serves both the permission and its limits.
    let partner = partner::provisioning(state, token).await?;
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
        token.scopes().as_slice(),
        &ceiling,
        partner.issues_personal_api_key,
    ) {
        // The era mints no personal key (or none this token could carry).
        None => None,
        Some(scopes) => {
            let key = Credential::generate(CredentialKind::PersonalApiKey, state.random.as_ref());
            state
                .db
                .insert_personal_key(&NewPersonalKey {
                    key_hash: key.hash(),
                    masked: key.masked(),
                    user_id: token.grant.user_id,
                    team_id: team.id,
                    client_id: token.grant.client_id.clone(),
                    scopes: scopes.join(" "),
                    code_hash: token.grant.code_hash.clone(),
                    now: state.clock.now(),
                    expires_at: None,
                })
                .await?;
            Some(key)
        }
    };
    tracing::info!(team_id = team.id, key = ?key, "resource provisioned");
    Ok(resource::answer(&state.public_url, &team, key.as_ref()))
}
