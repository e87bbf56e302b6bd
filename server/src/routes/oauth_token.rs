//! `POST /oauth/token` (protocol section 6): the token endpoint of the
//! interactive login. The exchange and the rotation are the agentic
//! endpoint's (`exchange.rs`); this one also binds a code to the client and
//! redirect URI it was issued for (RFC 6749 section 4.1.3,
//! `exchange::check_binding`), takes JSON or a form, needs no
//! `API-Version`, and adds `scoped_teams` and `posthog_region` to the
//! answer.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;

use protocol::credential::hash_secret;
use protocol::oauth::{TokenAnswer, TokenRequest};

use crate::error::{ApiError, OAuthRefusal};
use crate::exchange::{self, non_empty, Grant, INVALID_CODE};
use crate::http::{read_body, NoStore};
use crate::state::AppState;
use crate::stripe::Door;

/// The interactive login's code exchange and refresh-token rotation.
#[utoipa::path(
    post,
    path = "/oauth/token",
    tag = "oauth",
    request_body(content = protocol::oauth::TokenRequest, content_type = "application/x-www-form-urlencoded", description = "Also accepted as application/json. `grant_type=authorization_code` needs `code`, `redirect_uri` (when the authorize request had one), `client_id` and `code_verifier`; `grant_type=refresh_token` needs `refresh_token`"),
    responses(
        (status = 200, description = "A new token pair with `scoped_teams` and `posthog_region` (Cache-Control: no-store)", body = protocol::oauth::TokenAnswer),
        (status = 400, description = "invalid_request, invalid_grant (also a redirect_uri or client_id other than the code's), invalid_scope, unsupported_grant_type", body = protocol::error::OAuthFailure),
        (status = 413, description = "Body over 64 KiB", body = protocol::error::OAuthError),
    )
)]
pub async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> NoStore<Result<Json<TokenAnswer>, OAuthRefusal>> {
    NoStore(serve(&state, &headers, body).await)
}

async fn serve(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Json<TokenAnswer>, OAuthRefusal> {
    let bytes = read_body(body).await?;
    let request = exchange::parse_token_request(headers, &bytes)?;
    let mut answer = match exchange::grant_of(&request)? {
        Grant::AuthorizationCode => exchange_code(state, headers, &bytes, &request).await,
        Grant::RefreshToken => refresh(state, &request).await,
    }?;
    answer.posthog_region = Some(state.region.to_string());
    Ok(Json(answer))
}

/// Checks the code's binding (without consuming it), then runs the
/// agentic exchange, answering with the code's team in `scoped_teams`.
async fn exchange_code(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    request: &TokenRequest,
) -> Result<TokenAnswer, ApiError> {
    let code = non_empty(&request.code)
        .ok_or_else(|| ApiError::InvalidRequest("code is required".into()))?;
    let client_id = non_empty(&request.client_id)
        .ok_or_else(|| ApiError::InvalidRequest("client_id is required".into()))?;
    let binding = state
        .db
        .code_binding(&hash_secret(code))
        .await?
        .ok_or_else(|| ApiError::InvalidGrant(INVALID_CODE.into()))?;
    exchange::check_binding(&binding, client_id, non_empty(&request.redirect_uri))?;
    let mut answer = exchange::exchange_code(state, Door::Agentic, headers, body, request).await?;
    answer.scoped_teams = Some(vec![binding.team_id]);
    Ok(answer)
}

/// The agentic rotation, answering with the token's team in
/// `scoped_teams` (read before: the team does not change across a
/// rotation).
async fn refresh(state: &AppState, request: &TokenRequest) -> Result<TokenAnswer, ApiError> {
    let team = match exchange::refresh_credential(request.refresh_token.as_deref()) {
        Ok(credential) => state.db.refresh_token_team(&credential.hash()).await?,
        Err(_) => None,
    };
    let mut answer = exchange::refresh(state, Door::Agentic, request).await?;
    answer.scoped_teams = team.map(|team| vec![team]);
    Ok(answer)
}
