//! `GET /.well-known/oauth-authorization-server` (RFC 8414).

use axum::extract::State;
use axum::Json;

use protocol::oauth::AuthorizationServerMetadata;
use protocol::paths;

use crate::error::PlainRefusal;
use crate::state::AppState;

/// RFC 8414 authorization server metadata.
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "oauth",
    responses((status = 200, body = protocol::oauth::AuthorizationServerMetadata))
)]
pub async fn metadata(
    State(state): State<AppState>,
) -> Result<Json<AuthorizationServerMetadata>, PlainRefusal> {
    // What the era advertises: the union of the partners' ceilings, or the
    // OIDC and unprivileged scopes, in first-seen order.
    let applications = state.db.applications().await?;
    let scopes = state.policy.scopes_supported(&applications);
    Ok(Json(AuthorizationServerMetadata {
        issuer: state.public_url.to_string(),
        authorization_endpoint: format!("{}{}", state.public_url, paths::OAUTH_AUTHORIZE),
        token_endpoint: format!("{}{}", state.public_url, paths::OAUTH_TOKEN),
        introspection_endpoint: format!("{}{}", state.public_url, paths::INTROSPECT),
        scopes_supported: scopes,
        response_types_supported: vec!["code".into()],
        code_challenge_methods_supported: vec![protocol::pkce::S256.into()],
        grant_types_supported: vec!["authorization_code".into(), "refresh_token".into()],
    }))
}
