//! `POST /api/agentic/provisioning/deep_links` (protocol section 4): a
//! single-use link that signs a person into the token's project, valid for
//! 600 s on the server's clock. The token in the link is a bearer secret:
//! only its SHA-256 is stored, and it is never logged.
//!
//! Errors use the plain envelope `{"error":{"code","message"}}` (section 2).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use protocol::credential::hash_secret;
use protocol::provisioning::{DeepLinkAnswer, DeepLinkRequest};

use crate::access::reachable_team;
use crate::auth::Authenticated;
use crate::db::lifecycle::DeepLink;
use crate::deep_link::{self, LIFETIME_SECONDS};
use crate::error::{ApiError, PlainRefusal};
use crate::extract::{AccessToken, ApiVersion, RawBody};
use crate::http::parse_json;
use crate::partner;
use crate::state::AppState;
use crate::stripe::{verify_signature, StripeNamespace};

/// Issues a deep link into the token's project.
#[utoipa::path(
    post,
    path = "/api/agentic/provisioning/deep_links",
    tag = "provisioning",
    params(("API-Version" = String, Header, description = "Must be 0.1d")),
    request_body(content = protocol::provisioning::DeepLinkRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "A single-use link, valid for 600 s", body = protocol::provisioning::DeepLinkAnswer),
        (status = 400, description = "invalid_request (unknown purpose; before today also a path that is not a relative in-app path), invalid_path (today), invalid_api_version", body = protocol::error::PlainError),
        (status = 401, description = "Missing, invalid, revoked or expired access token; hmac_signature_required or invalid_signature (today: an hmac partner's token without its signature)", body = protocol::error::PlainError),
        (status = 403, description = "The partner may not issue deep links (forbidden; today deep_links_not_enabled, and forbidden for every public partner), or the project is not the token's", body = protocol::error::PlainError),
        (status = 404, description = "The token's project was removed", body = protocol::error::PlainError),
        (status = 413, body = protocol::error::PlainError),
    ),
    security(("bearer" = []))
)]
pub async fn handle(
    State(state): State<AppState>,
    _: ApiVersion<PlainRefusal>,
    AccessToken(token, _): AccessToken<PlainRefusal>,
    headers: HeaderMap,
    RawBody(bytes, _): RawBody<PlainRefusal>,
) -> Result<Json<DeepLinkAnswer>, PlainRefusal> {
    let request: DeepLinkRequest = parse_json(&headers, &bytes)?;
    signed_by_its_partner(&state, &token, &headers, &bytes).await?;
    Ok(Json(issue(&state, &token, request, AGENTIC_LOGIN).await?))
}

/// Where a link issued under `/api/agentic` is followed.
const AGENTIC_LOGIN: &str = "/agentic/login";
/// Where a link issued in the Stripe namespace is followed.
const STRIPE_LOGIN: &str = "/api/partners/stripe/login";

/// Issues a deep link in the Stripe namespace (a bearer of a Stripe-signed
/// partner, then the signature over the body); it is followed at the
/// namespace's own `login`.
#[utoipa::path(
    post,
    path = "/api/partners/stripe/provisioning/deep_links",
    tag = "stripe",
    params(
        ("API-Version" = String, Header, description = "Must be 0.1d"),
        ("Stripe-Signature" = String, Header, description = "Signature over the body"),
    ),
    request_body(content = protocol::provisioning::DeepLinkRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "A single-use link, valid for 600 s", body = protocol::provisioning::DeepLinkAnswer),
        (status = 400, description = "invalid_request, invalid_api_version", body = protocol::error::PlainError),
        (status = 401, description = "unauthorized, invalid_signature", body = protocol::error::ResourceFailure),
        (status = 403, body = protocol::error::PlainError),
        (status = 404, description = "The token's project was removed, or the era does not serve the Stripe namespace", body = protocol::error::PlainError),
        (status = 413, body = protocol::error::PlainError),
    ),
    security(("bearer" = []))
)]
pub async fn stripe(
    stripe: StripeNamespace,
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(bytes, _): RawBody<PlainRefusal>,
) -> Result<Json<DeepLinkAnswer>, Response> {
    // The bearer and the signature refuse as every resource request of the
    // namespace does; the rest in the deep links' own envelope.
    let token = stripe
        .resource_request(&state, &headers, &bytes)
        .await
        .map_err(IntoResponse::into_response)?;
    let refused = |error| PlainRefusal(error).into_response();
    let request: DeepLinkRequest = parse_json(&headers, &bytes).map_err(refused)?;
    issue(&state, &token, request, STRIPE_LOGIN)
        .await
        .map(Json)
        .map_err(refused)
}

/// Issues a link followed at `login` (a path of this server): the rule
/// (`deep_link::decide`) over the token's partner and team, then the link
/// stored (only its token's hash) and answered.
async fn issue(
    state: &AppState,
    token: &Authenticated,
    request: DeepLinkRequest,
    login: &str,
) -> Result<DeepLinkAnswer, ApiError> {
    let partner = partner::of_token(state, token).await?;
    let team = reachable_team(state, token, token.grant.team_id).await;
    let link = deep_link::decide(&state.policy, request, partner.as_ref(), team)?;
    let secret = URL_SAFE_NO_PAD.encode(state.random.bytes(protocol::credential::RANDOM_BYTES));
    let now = state.clock.now();
    let expires_at = now + LIFETIME_SECONDS;
    let team_id = link.team.id;
    state
        .db
        .insert_deep_link(&DeepLink {
            token_hash: hash_secret(&secret),
            client_id: token.grant.client_id.clone(),
            user_id: token.grant.user_id,
            team_id,
            purpose: link.purpose.clone(),
            path: link.path,
            created_at: now,
            expires_at,
            used_at: None,
        })
        .await?;
    tracing::info!(team_id, purpose = %protocol::credential::redact_secrets(&link.purpose), expires_at, "deep link issued");
    Ok(DeepLinkAnswer {
        purpose: link.purpose,
        url: format!(
            "{}{login}?token={secret}&team_id={team_id}",
            state.public_url
        ),
        expires_at: crate::clock::rfc3339(expires_at),
    })
}

/// In eras where an hmac partner's token mints links only in a request
/// that partner signed: the `Stripe-Signature` must be there, valid, and
/// the token's partner's.
async fn signed_by_its_partner(
    state: &AppState,
    token: &Authenticated,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), ApiError> {
    let Some(partner) = partner::of_token(state, token).await? else {
        return Ok(());
    };
    if !state.policy.deep_link_needs_signature(partner.auth_method) {
        return Ok(());
    }
    let signature = headers
        .get(protocol::signature::HEADER)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| {
            ApiError::HmacSignatureRequired(
                "This partner's requests must carry its Stripe-Signature".into(),
            )
        })?;
    let signer = verify_signature(state, signature, body).await?;
    match signer.client_id == partner.client_id {
        true => Ok(()),
        false => Err(ApiError::InvalidSignature(
            "The signature is not the token's partner's".into(),
        )),
    }
}
