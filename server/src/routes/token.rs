//! `POST /api/agentic/oauth/token` (protocol section 4): the
//! authorization-code exchange and refresh-token rotation; and the same
//! under the Stripe namespace (`crate::stripe`), for Stripe-signed
//! partners' codes and refresh tokens only.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;

use protocol::oauth::TokenAnswer;

use crate::error::OAuthRefusal;
use crate::exchange::{self, Grant};
use crate::http::{check_api_version, read_body, NoStore};
use crate::state::AppState;
use crate::stripe::{Door, StripeNamespace};

/// The authorization-code exchange and refresh-token rotation.
#[utoipa::path(
    post,
    path = "/api/agentic/oauth/token",
    tag = "oauth",
    params(
        ("API-Version" = String, Header, description = "Must be 0.1d"),
        ("Stripe-Signature" = Option<String>, Header, description = "Required to exchange an hmac partner's code"),
    ),
    request_body(content = protocol::oauth::TokenRequest, content_type = "application/x-www-form-urlencoded", description = "Also accepted as application/json"),
    responses(
        (status = 200, description = "A new token pair (Cache-Control: no-store)", body = protocol::oauth::TokenAnswer),
        (status = 400, description = "invalid_request, invalid_grant, invalid_scope, unsupported_grant_type, invalid_api_version", body = protocol::error::OAuthFailure),
        (status = 401, description = "An unsigned exchange of an hmac code (invalid_client; today invalid_request \"Authentication required\"), a missing code_verifier (today: invalid_request), invalid_signature", body = protocol::error::OAuthFailure),
        (status = 413, description = "Body over 64 KiB", body = protocol::error::OAuthError),
        (status = 429, description = "rate_limited: the partner the code or refresh token was issued to is over its hourly token exchanges (with Retry-After)", body = protocol::error::OAuthError),
    )
)]
pub async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> NoStore<Result<Json<TokenAnswer>, OAuthRefusal>> {
    NoStore(serve(&state, Door::Agentic, &headers, body).await)
}

/// The token endpoint of the Stripe namespace: only a Stripe-signed
/// partner's codes and refresh tokens, access tokens valid for the era's
/// `stripe.access_seconds` (a year today), no scope ceiling; a code without
/// a challenge needs the signature, a refresh only possession.
#[utoipa::path(
    post,
    path = "/api/partners/stripe/oauth/token",
    tag = "stripe",
    params(
        ("API-Version" = String, Header, description = "Must be 0.1d"),
        ("Stripe-Signature" = Option<String>, Header, description = "Required to exchange a code issued without a PKCE challenge"),
    ),
    request_body(content = protocol::oauth::TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A new token pair (Cache-Control: no-store)", body = protocol::oauth::TokenAnswer),
        (status = 400, description = "invalid_request, invalid_grant (also a code or refresh token of another application), unsupported_grant_type, invalid_api_version", body = protocol::error::OAuthFailure),
        (status = 401, description = "invalid_request (unsigned exchange of a code without a challenge, a PKCE code without its verifier), invalid_signature", body = protocol::error::OAuthFailure),
        (status = 404, description = "The era does not serve the Stripe namespace", body = protocol::error::PlainError),
        (status = 413, description = "Body over 64 KiB", body = protocol::error::OAuthError),
        (status = 429, description = "rate_limited (with Retry-After)", body = protocol::error::OAuthError),
    )
)]
pub async fn stripe(
    stripe: StripeNamespace,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> NoStore<Result<Json<TokenAnswer>, OAuthRefusal>> {
    NoStore(serve(&state, Door::Stripe(&stripe), &headers, body).await)
}

/// Both doors' token endpoint: the API-Version, the body (JSON or a
/// form), then the grant it names. Every answer is `no-store` (RFC 6749
/// section 5.1).
async fn serve(
    state: &AppState,
    door: Door<'_>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Json<TokenAnswer>, OAuthRefusal> {
    check_api_version(headers)?;
    let bytes = read_body(body).await?;
    let request = exchange::parse_token_request(headers, &bytes)?;
    let answer = match exchange::grant_of(&request)? {
        Grant::AuthorizationCode => {
            exchange::exchange_code(state, door, headers, &bytes, &request).await
        }
        Grant::RefreshToken => exchange::refresh(state, door, &request).await,
    };
    Ok(Json(answer?))
}
