//! `POST /oauth/introspect` (RFC 7662): how the gateway checks a `pha_` or
//! `phx_`. The caller authenticates with HTTP Basic as a registered
//! resource server.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use base64::{engine::general_purpose::STANDARD, Engine};

use protocol::credential::{constant_time_eq, hash_secret, CredentialKind};
use protocol::oauth::{
    IntrospectionAnswer, IntrospectionRequest, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_PERSONAL_API_KEY,
};

use crate::auth;
use crate::error::{ApiError, OAuthRefusal};
use crate::extract::FormBody;
use crate::http::{SerializedJson, Verdict};
use crate::state::AppState;

/// RFC 7662 introspection of a `pha_` or `phx_`, for resource servers.
#[utoipa::path(
    post,
    path = "/oauth/introspect",
    tag = "oauth",
    request_body(content = protocol::oauth::IntrospectionRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Live: the grant; anything else: exactly {\"active\":false}", body = protocol::oauth::IntrospectionAnswer),
        (status = 400, body = protocol::error::OAuthError),
        (status = 401, description = "invalid_client: HTTP Basic as a registered resource server is required", body = protocol::error::OAuthError),
        (status = 413, body = protocol::error::OAuthError),
    ),
    security(("basic" = []))
)]
pub async fn handle(
    State(state): State<AppState>,
    _: ResourceServer,
    FormBody(request, _): FormBody<IntrospectionRequest, OAuthRefusal>,
) -> Result<(Verdict, SerializedJson), OAuthRefusal> {
    let (answer, verdict) = introspect(&state, request.token.as_deref()).await?;
    Ok((verdict, answer))
}

/// A caller authenticated with HTTP Basic as a registered, active
/// resource server (the only callers introspection answers).
pub struct ResourceServer;

impl FromRequestParts<AppState> for ResourceServer {
    type Rejection = OAuthRefusal;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, OAuthRefusal> {
        authenticate_resource_server(state, &parts.headers).await?;
        Ok(ResourceServer)
    }
}

async fn authenticate_resource_server(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let refused = || {
        ApiError::InvalidClient(
            "Introspection requires HTTP Basic authentication as a registered resource server"
                .into(),
        )
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(refused)?;
    let (scheme, encoded) = value.split_once(' ').ok_or_else(refused)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(refused());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| refused())?;
    let decoded = String::from_utf8(decoded).map_err(|_| refused())?;
    let (client_id, secret) = decoded.split_once(':').ok_or_else(refused)?;
    let server = state
        .db
        .shared_application(client_id)
        .filter(|application| application.kind == "resource_server" && application.active)
        .ok_or_else(refused)?;
    let presented = hash_secret(secret);
    if !server
        .secret_list()
        .iter()
        .any(|stored| constant_time_eq(stored, &presented))
    {
        return Err(refused());
    }
    Ok(())
}

async fn introspect(
    state: &AppState,
    token: Option<&str>,
) -> Result<(SerializedJson, Verdict), ApiError> {
    // RFC 7662 section 2.1: `token` is required; a form without the field
    // is malformed (contract section 2). An empty value is a credential that
    // is not live (the gateway's readiness probe sends one).
    let token = token.ok_or_else(|| ApiError::InvalidRequest("token is required".into()))?;
    let token = Some(token).filter(|token| !token.is_empty());
    let resolved = auth::resolve(
        state,
        token,
        &[CredentialKind::AccessToken, CredentialKind::PersonalApiKey],
    )
    .await?;
    let verdict = auth::verdict(&resolved);
    let Ok(live) = resolved else {
        return Ok((
            SerializedJson::of(&IntrospectionAnswer::inactive())?,
            verdict,
        ));
    };
    // Made once per kept holder: the answer depends on it alone (and on
    // the server's region).
    if let Some(kept) = SerializedJson::kept(&live.answers.introspection) {
        return Ok((kept, verdict));
    }
    let token_type = match live.kind {
        CredentialKind::AccessToken => TOKEN_TYPE_ACCESS_TOKEN,
        _ => TOKEN_TYPE_PERSONAL_API_KEY,
    };
    let scoped_teams = match live.kind {
        // A PAT is minted for one team; an access token reaches the user's
        // available teams.
        CredentialKind::PersonalApiKey => vec![live.grant.team_id],
        _ => live
            .teams
            .iter()
            .filter(|team| !team.is_demo)
            .map(|team| team.id)
            .collect(),
    };
    let answer = IntrospectionAnswer {
        active: true,
        scope: Some(live.grant.scopes.clone()),
        client_id: live.grant.client_id.clone(),
        token_type: Some(token_type.into()),
        exp: live.grant.expires_at,
        iat: Some(live.grant.created_at),
        sub: Some(live.user.uuid.clone()),
        scoped_teams: Some(scoped_teams),
        region: Some(state.region.to_string()),
    };
    Ok((
        SerializedJson::keep(&live.answers.introspection, &answer)?,
        verdict,
    ))
}
