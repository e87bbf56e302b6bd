//! `POST /oauth/token` (protocol section 6): the token endpoint of the
//! interactive login. The exchange and the rotation are the agentic
//! endpoint's (`token.rs`); this one also binds a code to the client and
//! redirect URI it was issued for (RFC 6749 section 4.1.3), takes JSON or a
//! form, needs no `API-Version`, and adds `scoped_teams` and
//! `posthog_region` to the answer.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

use protocol::credential::{hash_secret, Credential, CredentialKind};
use protocol::oauth::{TokenAnswer, TokenRequest, GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN};

use crate::error::{ApiError, Envelope};
use crate::http::read_body;
use crate::routes::token;
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
pub async fn handle(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let bytes = read_body(body).await?;
        let request: TokenRequest = token::parse_token_request(&headers, &bytes)?;
        let mut answer = match request.grant_type.as_deref() {
            None | Some("") => Err(ApiError::InvalidRequest("grant_type is required".into())),
            Some(GRANT_AUTHORIZATION_CODE) => exchange(&state, &headers, &bytes, &request).await,
            Some(GRANT_REFRESH_TOKEN) => refresh(&state, &request).await,
            Some(other) => Err(ApiError::UnsupportedGrantType(format!(
                "grant_type {other:?} is not supported (use authorization_code or refresh_token)"
            ))),
        }?;
        answer.posthog_region = Some(state.region.to_string());
        Ok::<TokenAnswer, ApiError>(answer)
    }
    .await;
    let mut response = match result {
        Ok(answer) => Json(answer).into_response(),
        Err(error) => error.into_envelope(Envelope::OAuth),
    };
    // RFC 6749 section 5.1: token answers must not be cached.
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

const INVALID_CODE: &str = "Invalid or expired authorization code";

/// Checks the code's binding (without consuming it: a client that sent the
/// wrong redirect URI is mistaken, not holding a stolen code's verifier),
/// then runs the agentic exchange.
async fn exchange(
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
    if binding.client_id != client_id {
        return Err(ApiError::InvalidGrant(
            "The authorization code was issued to another client".into(),
        ));
    }
    if binding.redirect_uri.as_deref() != non_empty(&request.redirect_uri) {
        return Err(ApiError::InvalidGrant(
            "redirect_uri does not match the one of the authorization request".into(),
        ));
    }
    let mut answer = token::exchange_code(state, Door::Agentic, headers, body, request).await?;
    answer.scoped_teams = Some(vec![binding.team_id]);
    Ok(answer)
}

async fn refresh(state: &AppState, request: &TokenRequest) -> Result<TokenAnswer, ApiError> {
    // The team does not change across a rotation: read it before.
    let team = match non_empty(&request.refresh_token).map(Credential::parse) {
        Some(Ok(credential)) if credential.kind() == CredentialKind::RefreshToken => {
            state.db.refresh_token_team(&credential.hash()).await?
        }
        _ => None,
    };
    let mut answer = token::refresh(state, Door::Agentic, request).await?;
    answer.scoped_teams = team.map(|team| vec![team]);
    Ok(answer)
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|value| !value.is_empty())
}
