//! The token endpoint's two grants, as both token endpoints run them
//! (`routes/token.rs`, the agentic one and the Stripe namespace's, and
//! `routes/oauth_token.rs`, the interactive login's): load what the
//! request names, ask the rules (`exchange/rules.rs`), write what they
//! decide, answer.

mod rules;

pub use rules::*;

use std::sync::Arc;

use axum::http::HeaderMap;

use protocol::credential::{hash_secret, Credential, CredentialKind};
use protocol::oauth::{TokenAnswer, TokenRequest};

use crate::db::{self, Exchange, Holder, NewTokens, RefreshRotation};
use crate::error::ApiError;
use crate::http::{content_type_is, parse_form, parse_json};
use crate::rate_limit::{self, Kind};
use crate::state::AppState;
use crate::stripe::{verify_signature, Door};

/// A token request as JSON or as a form, by its `Content-Type` (the real
/// endpoint parses both, in every era).
pub fn parse_token_request(headers: &HeaderMap, body: &[u8]) -> Result<TokenRequest, ApiError> {
    match content_type_is(headers, "application/json") {
        true => parse_json(headers, body),
        false => parse_form(headers, body),
    }
}

/// Exchanges the request's authorization code for a token pair. The code
/// is consumed and the tokens stored in one write; a code that fails a
/// check after consumption stays consumed, and a replayed one revokes what
/// it produced.
pub async fn exchange_code(
    state: &AppState,
    door: Door<'_>,
    headers: &HeaderMap,
    body: &[u8],
    request: &TokenRequest,
) -> Result<TokenAnswer, ApiError> {
    let code = non_empty(&request.code)
        .ok_or_else(|| ApiError::InvalidRequest("code is required".into()))?;
    let code_hash = hash_secret(code);
    // Taken before anything the new token's holder is made of is read.
    let epoch = state.db.holder_epoch();
    // Check what can be checked without consuming the code: a request that
    // forgot its verifier is malformed, not an attack.
    let Some((stored, user, teams)) = state.db.code_user_and_teams(&code_hash).await? else {
        return Err(ApiError::InvalidGrant(INVALID_CODE.into()));
    };
    let application = state.db.application(&stored.client_id).await?;
    // The Stripe namespace redeems only Stripe-signed partners' codes (a
    // mistake, not an attack: the code is left as it was).
    if let (Door::Stripe(stripe), false) = (door, door_redeems(door, application.as_ref())) {
        return Err(ApiError::InvalidGrant(
            stripe.messages.code_of_another_app.clone(),
        ));
    }
    if let Some(application) = &application {
        rate_limit::take(state, application, Kind::TokenExchanges).await?;
    }
    let signer = match stored.code_challenge {
        Some(_) => None,
        None => signer(state, door, headers, body).await,
    };
    let ceiling = match &application {
        Some(application) => state.policy.ceiling(application),
        None => Arc::from([]),
    };
    let now = state.clock.now();
    let plan = decide(CodeExchange {
        door,
        policy: &state.policy,
        code: &stored,
        redirect_uri: non_empty(&request.redirect_uri),
        verifier: non_empty(&request.code_verifier),
        signer,
        ceiling: &ceiling,
        now,
    })?;
    let minted = match plan {
        Plan::Issue { lifetime } => {
            let (access, refresh) = mint_pair(state);
            // Hashed once: stored, then the key of the kept holder.
            let access_hash = access.hash();
            Ok(((access, refresh), access_hash, lifetime))
        }
        Plan::Burn(refusal) => Err(refusal),
    };
    let tokens = minted
        .as_ref()
        .ok()
        .map(|((_, refresh), access_hash, lifetime)| NewTokens {
            access_hash: access_hash.clone(),
            refresh_hash: refresh.hash(),
            client_id: stored.client_id.clone(),
            user_id: stored.user_id,
            team_id: stored.team_id,
            scopes: stored.scopes.clone(),
            code_hash: Some(code_hash.clone()),
            now,
            expires_at: now + lifetime,
        });
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
    let ((access, refresh), access_hash, lifetime) = minted?;
    // The new token's holder, as a read of it would find it, kept for the
    // request that presents it next (unless a write reached the holders
    // since `epoch`).
    let grant = db::Grant {
        client_id: Some(stored.client_id.clone()),
        user_id: stored.user_id,
        team_id: stored.team_id,
        scopes: stored.scopes.clone(),
        created_at: now,
        expires_at: Some(now + lifetime),
        revoked_at: None,
        code_hash: Some(code_hash),
        partner_active: application.as_ref().map(|application| application.active),
    };
    state
        .db
        .keep_new_access_token(&access_hash, Holder::new(grant, user, teams.clone()), epoch);
    // The code's team is one of the user's (no second query then).
    let team = match teams.iter().find(|team| team.id == stored.team_id) {
        Some(team) => team.clone(),
        None => state
            .db
            .team(stored.team_id)
            .await?
            .ok_or_else(|| ApiError::InvalidGrant(INVALID_CODE.into()))?,
    };
    let account = token_account(team, teams);
    Ok(token_answer(
        &access,
        &refresh,
        lifetime,
        stored.scopes,
        Some(account),
    ))
}

/// Who signed an exchange of a code without a challenge (`None`: the
/// request carries no signature), as the door checks signatures.
async fn signer(
    state: &AppState,
    door: Door<'_>,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Result<crate::db::Application, ApiError>> {
    let signature = headers
        .get(protocol::signature::HEADER)
        .and_then(|value| value.to_str().ok())?;
    Some(match door {
        Door::Agentic => verify_signature(state, signature, body).await,
        Door::Stripe(stripe) => stripe.signature(state, headers, body).await,
    })
}

/// Rotates the request's refresh token: a new pair, the old refresh token
/// and its access token revoked, in one write.
pub async fn refresh(
    state: &AppState,
    door: Door<'_>,
    request: &TokenRequest,
) -> Result<TokenAnswer, ApiError> {
    let credential = refresh_credential(request.refresh_token.as_deref())?;
    let refresh_hash = credential.hash();
    let grant = state
        .db
        .refresh_token(&refresh_hash)
        .await?
        .ok_or_else(|| ApiError::InvalidGrant(INVALID_REFRESH.into()))?;
    if grant.revoked_at.is_some() {
        // Presented again after it was rotated (or revoked): whoever holds
        // it, the family is no longer safe (RFC 9700 section 4.14.2).
        if let Some(code_hash) = &grant.code_hash {
            let revoked = state.db.revoke_family(code_hash, state.clock.now()).await?;
            tracing::warn!(
                revoked,
                "revoked refresh token presented; its family revoked"
            );
        }
        return Err(ApiError::InvalidGrant(INVALID_REFRESH.into()));
    }
    let application = state.db.application(&grant.client_id).await?;
    // The Stripe namespace rotates only Stripe-signed partners' tokens,
    // checked before anything is changed.
    if let (Door::Stripe(stripe), false) = (door, door_redeems(door, application.as_ref())) {
        return Err(ApiError::InvalidGrant(
            stripe.messages.refresh_of_another_app.clone(),
        ));
    }
    if let Some(application) = &application {
        rate_limit::take(state, application, rate_limit::refresh_kind(state)).await?;
    }
    let scopes = state.policy.refresh_scopes(
        protocol::scope::split(&grant.scopes),
        request.scope.as_deref(),
    )?;
    let now = state.clock.now();
    let lifetime = access_seconds(&state.policy, door);
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
    Ok(token_answer(
        &access,
        &refresh,
        lifetime,
        stored.scopes,
        None,
    ))
}

fn mint_pair(state: &AppState) -> (Credential, Credential) {
    (
        Credential::generate(CredentialKind::AccessToken, state.random.as_ref()),
        Credential::generate(CredentialKind::RefreshToken, state.random.as_ref()),
    )
}
