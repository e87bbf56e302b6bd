//! `POST /api/agentic/provisioning/deep_links` (protocol section 4): a
//! single-use link that signs a person into the token's project, valid for
//! 600 s on the server's clock. The token in the link is a bearer secret:
//! only its SHA-256 is stored, and it is never logged.
//!
//! Errors use the plain envelope `{"error":{"code","message"}}` (section 2).

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use protocol::credential::hash_secret;
use protocol::provisioning::{DeepLinkAnswer, DeepLinkRequest};

use crate::auth::Authenticated;
use crate::db::lifecycle::DeepLink;
use crate::error::{ApiError, Envelope};
use crate::http::{check_api_version, parse_json, read_body};
use crate::routes::resources::{access_token, reachable_team};
use crate::state::AppState;
use crate::stripe::{verify_signature, StripeNamespace};

/// How long a link lives, in seconds.
pub const LIFETIME_SECONDS: i64 = 600;

/// The longest `path` accepted.
pub const MAX_PATH_LENGTH: usize = 2048;

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
pub async fn handle(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        check_api_version(&headers)?;
        let token = access_token(&state, &headers).await?;
        let bytes = read_body(body).await?;
        let request: DeepLinkRequest = parse_json(&headers, &bytes)?;
        signed_by_its_partner(&state, &token, &headers, &bytes).await?;
        issue(&state, &token, request, AGENTIC_LOGIN).await
    }
    .await;
    match result {
        Ok(answer) => Json(answer).into_response(),
        Err(error) => error.into_envelope(Envelope::Plain),
    }
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
    body: Body,
) -> Response {
    let bytes = match read_body(body).await {
        Ok(bytes) => bytes,
        Err(error) => return error.into_envelope(Envelope::Plain),
    };
    let token = match stripe.resource_request(&state, &headers, &bytes).await {
        Ok(token) => token,
        Err(refused) => return refused,
    };
    let result = async {
        let request: DeepLinkRequest = parse_json(&headers, &bytes)?;
        issue(&state, &token, request, STRIPE_LOGIN).await
    }
    .await;
    match result {
        Ok(answer) => Json(answer).into_response(),
        Err(error) => error.into_envelope(Envelope::Plain),
    }
}

/// Issues a link followed at `login` (a path of this server).
async fn issue(
    state: &AppState,
    token: &Authenticated,
    request: DeepLinkRequest,
    login: &str,
) -> Result<DeepLinkAnswer, ApiError> {
    let purpose = state.policy.deep_link_purpose(request.purpose.as_deref())?;
    let partner = partner(state, token).await?;
    if let Some(barred) = partner
        .as_ref()
        .and_then(|partner| state.policy.deep_links_barred(&partner.auth_method))
    {
        return Err(barred);
    }
    if !partner.is_some_and(|partner| partner.active && partner.can_issue_deep_links) {
        return Err(state.policy.deep_links_not_enabled());
    }
    let team = reachable_team(state, token, token.grant.team_id).await?;
    let path = match request.path {
        Some(path) => {
            check_in_app_path(&path).map_err(|why| state.policy.deep_link_path_refused(why))?;
            path
        }
        None => format!("/project/{}", team.id),
    };
    let secret = URL_SAFE_NO_PAD.encode(state.random.bytes(protocol::credential::RANDOM_BYTES));
    let now = state.clock.now();
    let expires_at = now + LIFETIME_SECONDS;
    state
        .db
        .insert_deep_link(&DeepLink {
            token_hash: hash_secret(&secret),
            client_id: token.grant.client_id.clone(),
            user_id: token.grant.user_id,
            team_id: team.id,
            purpose: purpose.clone(),
            path,
            created_at: now,
            expires_at,
            used_at: None,
        })
        .await?;
    tracing::info!(team_id = team.id, purpose = %protocol::credential::redact_secrets(&purpose), expires_at, "deep link issued");
    Ok(DeepLinkAnswer {
        purpose,
        url: format!(
            "{}{login}?token={secret}&team_id={}",
            state.public_url, team.id
        ),
        expires_at: crate::clock::rfc3339(expires_at),
    })
}

/// The application the token was issued to, if it still exists.
async fn partner(
    state: &AppState,
    token: &Authenticated,
) -> Result<Option<crate::db::Application>, ApiError> {
    match token.grant.client_id.as_deref() {
        Some(client_id) => Ok(state.db.application(client_id).await?),
        None => Ok(None),
    }
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
    let Some(partner) = partner(state, token).await? else {
        return Ok(());
    };
    if !state.policy.deep_link_needs_signature(&partner.auth_method) {
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

/// Accepts only a relative path inside the app: it starts with one `/`,
/// holds no backslash, control character or whitespace, no `.`/`..`
/// segment, and stays so once percent-decoded (browsers decode `%2e` and
/// some treat `\` as `/`, so `/%2e%2e/` or `/%5cevil` would leave the app).
/// The message says which rule failed.
pub fn check_in_app_path(path: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("path must be a relative in-app path: {why}"));
    if path.len() > MAX_PATH_LENGTH {
        return refuse("it is longer than 2048 characters");
    }
    for candidate in [path.to_owned(), percent_decode(path)] {
        if !candidate.starts_with('/') {
            return refuse("it must start with `/` (an absolute URL or a scheme is refused)");
        }
        if candidate.starts_with("//") {
            return refuse("it must not start with `//`");
        }
        if candidate.contains('\\') {
            return refuse("it must not contain a backslash");
        }
        if candidate
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
        {
            return refuse("it must not contain control characters or whitespace");
        }
        if !candidate.bytes().all(|byte| byte.is_ascii_graphic()) {
            return refuse("it must be printable ASCII (percent-encode anything else)");
        }
        let route = candidate.split(['?', '#']).next().unwrap_or_default();
        if route
            .split('/')
            .any(|segment| segment == ".." || segment == ".")
        {
            return refuse("it must not contain `.` or `..` segments");
        }
    }
    Ok(())
}

/// `%XX` decoded once; anything malformed is kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match (bytes[index], hex(index + 1), hex(index + 2)) {
            (b'%', Some(high), Some(low)) => {
                decoded.push((high * 16 + low) as u8);
                index += 3;
            }
            (byte, _, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}
