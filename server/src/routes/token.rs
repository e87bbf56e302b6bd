//! `POST /api/agentic/oauth/token` (protocol section 4): the
//! authorization-code exchange and refresh-token rotation; and the same
//! under the Stripe namespace (`crate::stripe`), for Stripe-signed
//! partners' codes and refresh tokens only.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

use protocol::credential::{hash_secret, Credential, CredentialKind};
use protocol::oauth::{
    AvailableTeam, TokenAccount, TokenAnswer, TokenRequest, GRANT_AUTHORIZATION_CODE,
    GRANT_REFRESH_TOKEN,
};
use protocol::pkce::{CodeChallenge, CodeVerifier};

use crate::db::{Code, Exchange, NewTokens, RefreshRotation, Team};
use crate::error::{ApiError, Envelope};
use crate::http::{check_api_version, content_type_is, parse_form, parse_json, read_body};
use crate::rate_limit::{self, Kind};
use crate::state::AppState;
use crate::stripe::{is_stripe_signed, verify_signature, Door, StripeNamespace};

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
pub async fn handle(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    serve(&state, Door::Agentic, &headers, body).await
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
) -> Response {
    serve(&state, Door::Stripe(&stripe), &headers, body).await
}

async fn serve(state: &AppState, door: Door<'_>, headers: &HeaderMap, body: Body) -> Response {
    let result = async {
        check_api_version(headers)?;
        let bytes = read_body(body).await?;
        let request = parse_token_request(headers, &bytes)?;
        match request.grant_type.as_deref() {
            None | Some("") => Err(ApiError::InvalidRequest("grant_type is required".into())),
            Some(GRANT_AUTHORIZATION_CODE) => {
                exchange_code(state, door, headers, &bytes, &request).await
            }
            Some(GRANT_REFRESH_TOKEN) => refresh(state, door, &request).await,
            Some(other) => Err(ApiError::UnsupportedGrantType(format!(
                "grant_type {other:?} is not supported (use authorization_code or refresh_token)"
            ))),
        }
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

/// A token request as JSON or as a form, by its `Content-Type` (the real
/// endpoint parses both, in every era).
pub(crate) fn parse_token_request(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<TokenRequest, ApiError> {
    match content_type_is(headers, "application/json") {
        true => parse_json(headers, body),
        false => parse_form(headers, body),
    }
}

pub(crate) async fn exchange_code(
    state: &AppState,
    door: Door<'_>,
    headers: &HeaderMap,
    body: &[u8],
    request: &TokenRequest,
) -> Result<TokenAnswer, ApiError> {
    let code = request
        .code
        .as_deref()
        .filter(|code| !code.is_empty())
        .ok_or_else(|| ApiError::InvalidRequest("code is required".into()))?;
    let code_hash = hash_secret(code);
    // Check what can be checked without consuming the code: a request that
    // forgot its verifier is malformed, not an attack.
    let Some((stored, teams)) = state.db.code_and_teams(&code_hash).await? else {
        return Err(ApiError::InvalidGrant(INVALID_CODE.into()));
    };
    // The Stripe namespace redeems only Stripe-signed partners' codes (a
    // mistake, not an attack: the code is left as it was).
    if let Door::Stripe(stripe) = door {
        if !is_stripe_signed(state, Some(&stored.client_id)).await? {
            return Err(ApiError::InvalidGrant(
                stripe.messages.code_of_another_app.clone(),
            ));
        }
    }
    rate_limit::take_for(state, &stored.client_id, Kind::TokenExchanges).await?;
    // RFC 6749 section 4.1.3: a code issued to a redirect URI is exchanged
    // only with that same URI (the agentic endpoint's callers send none, so
    // an interactive-login code belongs at /oauth/token). Checked before
    // the code is consumed: a wrong endpoint is a mistake, not an attack.
    if let Some(expected) = stored.redirect_uri.as_deref() {
        let presented = request
            .redirect_uri
            .as_deref()
            .filter(|uri| !uri.is_empty());
        if presented != Some(expected) {
            return Err(ApiError::InvalidGrant(
                "This code was issued by the interactive login: exchange it at /oauth/token with its redirect_uri".into(),
            ));
        }
    }
    let verifier = request
        .code_verifier
        .as_deref()
        .filter(|verifier| !verifier.is_empty());
    if stored.code_challenge.is_some() && verifier.is_none() {
        return Err(match door {
            Door::Agentic => state.policy.missing_code_verifier(),
            Door::Stripe(stripe) => {
                ApiError::AuthenticationRequired(stripe.messages.verifier_required.clone())
            }
        });
    }
    if stored.code_challenge.is_none() {
        // An hmac partner's code: only that partner's signed request may
        // exchange it.
        let signature = headers
            .get(protocol::signature::HEADER)
            .and_then(|value| value.to_str().ok());
        let partner = match (door, signature) {
            (Door::Agentic, None) => return Err(state.policy.unsigned_code_without_challenge()),
            (Door::Stripe(stripe), None) => {
                return Err(ApiError::AuthenticationRequired(
                    stripe.messages.authentication_required.clone(),
                ))
            }
            (Door::Agentic, Some(signature)) => verify_signature(state, signature, body).await?,
            (Door::Stripe(stripe), Some(_)) => stripe.signature(state, headers, body).await?,
        };
        if partner.client_id != stored.client_id {
            return Err(ApiError::InvalidClient(
                "This code was issued to another partner".into(),
            ));
        }
    }
    let now = state.clock.now();
    // In eras that verify before they consume, a wrong verifier leaves a
    // live code as it was: the right verifier still works.
    let live = stored.consumed_at.is_none() && now < stored.expires_at;
    if live && !state.policy.tokens.pkce_mismatch_burns_code {
        verify_pkce(&stored, verifier)?;
    }
    let ceiling = match state.db.application(&stored.client_id).await? {
        Some(application) => state.policy.ceiling(&application),
        None => Vec::new(),
    };
    // The checks read the code as found above: of its columns only
    // `consumed_at` ever changes, and the exchange below settles that.
    // Consumption and the new tokens share one write; a code that fails a
    // check stays consumed, and a replayed one revokes what it produced.
    let minted =
        check_code(state, door, &stored, verifier, &ceiling, now).map(|()| mint_pair(state));
    let lifetime = access_seconds(state, door);
    let tokens = match &minted {
        Ok((access, refresh)) => Some(NewTokens {
            access_hash: access.hash(),
            refresh_hash: refresh.hash(),
            client_id: stored.client_id.clone(),
            user_id: stored.user_id,
            team_id: stored.team_id,
            scopes: stored.scopes.clone(),
            code_hash: Some(code_hash.clone()),
            now,
            expires_at: now + lifetime,
        }),
        Err(_) => None,
    };
    match state.db.exchange_code(&code_hash, now, tokens).await? {
        // Refused: `minted` holds the reason.
        Exchange::Issued | Exchange::Refused => {}
        Exchange::Replayed { revoked } => {
            tracing::warn!(
                revoked,
                "authorization code reused; tokens issued from it revoked"
            );
            return Err(ApiError::InvalidGrant(INVALID_CODE.into()));
        }
        Exchange::Unknown => return Err(ApiError::InvalidGrant(INVALID_CODE.into())),
    }
    let (access, refresh) = minted?;
    let account = account(state, teams, stored.team_id).await?;
    Ok(TokenAnswer {
        token_type: "bearer".into(),
        access_token: access.expose().to_owned(),
        refresh_token: refresh.expose().to_owned(),
        expires_in: lifetime,
        scope: stored.scopes,
        account: Some(account),
        scoped_teams: None,
        posthog_region: None,
    })
}

/// What the exchange checks on a code before it issues tokens: expiry,
/// the PKCE verifier, and (except in the Stripe namespace, which holds
/// Stripe to no ceiling) the scopes against the era's rules and the
/// application's `ceiling`.
fn check_code(
    state: &AppState,
    door: Door<'_>,
    code: &Code,
    verifier: Option<&str>,
    ceiling: &[String],
    now: i64,
) -> Result<(), ApiError> {
    if now >= code.expires_at {
        return Err(ApiError::InvalidGrant(INVALID_CODE.into()));
    }
    verify_pkce(code, verifier)?;
    match door {
        Door::Agentic => state
            .policy
            .check_code_scopes(&protocol::scope::split(&code.scopes), ceiling),
        Door::Stripe(_) => Ok(()),
    }
}

/// The lifetime of an access token issued at this door.
fn access_seconds(state: &AppState, door: Door<'_>) -> i64 {
    match door {
        Door::Agentic => state.policy.tokens.access_seconds,
        Door::Stripe(stripe) => stripe.access_seconds,
    }
}

/// The verifier answers the code's challenge (a code without one, an hmac
/// partner's, has nothing to verify).
fn verify_pkce(code: &Code, verifier: Option<&str>) -> Result<(), ApiError> {
    let Some(challenge) = &code.code_challenge else {
        return Ok(());
    };
    let answered = match (
        verifier.map(CodeVerifier::parse),
        CodeChallenge::parse(challenge, Some("S256")),
    ) {
        (Some(Ok(verifier)), Ok(challenge)) => challenge.is_answered_by(&verifier),
        _ => false,
    };
    match answered {
        true => Ok(()),
        false => Err(ApiError::InvalidGrant(
            "PKCE code_verifier does not match".into(),
        )),
    }
}

pub(crate) async fn refresh(
    state: &AppState,
    door: Door<'_>,
    request: &TokenRequest,
) -> Result<TokenAnswer, ApiError> {
    const INVALID_REFRESH: &str = "Invalid or revoked refresh token";
    let presented = request
        .refresh_token
        .as_deref()
        .filter(|token| !token.is_empty())
        .ok_or_else(|| ApiError::InvalidRequest("refresh_token is required".into()))?;
    let credential = Credential::parse(presented)
        .ok()
        .filter(|credential| credential.kind() == CredentialKind::RefreshToken)
        .ok_or_else(|| ApiError::InvalidGrant(INVALID_REFRESH.into()))?;
    let refresh_hash = credential.hash();
    let grant = state
        .db
        .refresh_token(&refresh_hash)
        .await?
        .filter(|grant| grant.revoked_at.is_none())
        .ok_or_else(|| ApiError::InvalidGrant(INVALID_REFRESH.into()))?;
    // The Stripe namespace rotates only Stripe-signed partners' tokens,
    // checked before anything is changed.
    if let Door::Stripe(stripe) = door {
        if !is_stripe_signed(state, Some(&grant.client_id)).await? {
            return Err(ApiError::InvalidGrant(
                stripe.messages.refresh_of_another_app.clone(),
            ));
        }
    }
    rate_limit::take_for(state, &grant.client_id, rate_limit::refresh_kind(state)).await?;
    let held = protocol::scope::split(&grant.scopes);
    let scopes = match request.scope.as_deref().map(protocol::scope::split) {
        None => held,
        Some(asked) if asked.is_empty() => held,
        Some(asked) => {
            let widened: Vec<&str> = asked
                .iter()
                .filter(|scope| !held.contains(scope))
                .map(String::as_str)
                .collect();
            if !widened.is_empty() {
                return Err(ApiError::InvalidScope(format!(
                    "A refresh may only narrow the scope; not held: {}",
                    widened.join(", ")
                )));
            }
            asked
        }
    };
    let now = state.clock.now();
    let lifetime = access_seconds(state, door);
    let (access, refresh) = mint_pair(state);
    let stored = NewTokens {
        access_hash: access.hash(),
        refresh_hash: refresh.hash(),
        client_id: grant.client_id.clone(),
        user_id: grant.user_id,
        team_id: grant.team_id,
        scopes: scopes.join(" "),
        code_hash: grant.code_hash.clone(),
        now,
        expires_at: now + lifetime,
    };
    let rotation = RefreshRotation {
        refresh_hash,
        access_hash: grant.access_token_hash.clone(),
    };
    if !state.db.insert_tokens(&stored, Some(&rotation)).await? {
        return Err(ApiError::InvalidGrant(INVALID_REFRESH.into()));
    }
    Ok(TokenAnswer {
        token_type: "bearer".into(),
        access_token: access.expose().to_owned(),
        refresh_token: refresh.expose().to_owned(),
        expires_in: lifetime,
        scope: stored.scopes,
        account: None,
        scoped_teams: None,
        posthog_region: None,
    })
}

fn mint_pair(state: &AppState) -> (Credential, Credential) {
    (
        Credential::generate(CredentialKind::AccessToken, state.random.as_ref()),
        Credential::generate(CredentialKind::RefreshToken, state.random.as_ref()),
    )
}

/// `account` of the answer: the organization of the code's team and every
/// non-demo team the user can reach.
async fn account(
    state: &AppState,
    teams: Vec<Team>,
    team_id: i64,
) -> Result<TokenAccount, ApiError> {
    // The code's team is one of the user's (no second query then).
    let team = match teams.iter().find(|team| team.id == team_id) {
        Some(team) => team.clone(),
        None => state
            .db
            .team(team_id)
            .await?
            .ok_or_else(|| ApiError::InvalidGrant(INVALID_CODE.into()))?,
    };
    Ok(TokenAccount {
        id: team.organization_id,
        payment_credentials: "orchestrator".into(),
        available_teams: teams
            .into_iter()
            .filter(|team| !team.is_demo)
            .map(|team| AvailableTeam {
                id: team.id,
                name: team.name,
                organization_id: team.organization_id,
                organization_name: team.organization_name,
            })
            .collect(),
    })
}
