//! `POST /api/agentic/provisioning/account_requests` (protocol section 4):
//! who is asking, for which email, and what code they get; and the same
//! under the Stripe namespace (`crate::stripe`), where only a Stripe-signed
//! partner may ask.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use protocol::credential::{hash_secret, Credential, CredentialKind};
use protocol::pkce::CodeChallenge;
use protocol::provisioning::AccountRequest;

use crate::accounts::create_default_team;
use crate::consent;
use crate::db::consent::PendingConsent;
use crate::db::idempotency::KeptAnswer;
use crate::db::{Application, Code, Created};
use crate::error::{AccountRequestRefusal, ApiError};
use crate::http::{check_api_version, parse_json, read_body};
use crate::login::random_token;
use crate::partner;
use crate::rate_limit::{self, Kind};
use crate::signup::{self, Caller, Drawn, ForExistingUser, Outcome, TeamChoice};
use crate::state::AppState;
use crate::stripe::{verify_signature, Door, StripeNamespace};

mod idempotency;

/// Creates (or links) an account and answers with a code, or with where
/// an existing user must sign in.
#[utoipa::path(
    post,
    path = "/api/agentic/provisioning/account_requests",
    tag = "provisioning",
    params(
        ("API-Version" = String, Header, description = "Must be 0.1d"),
        ("Stripe-Signature" = Option<String>, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.\" + body>; identifies an hmac partner"),
    ),
    request_body(content = protocol::provisioning::AccountRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "A code (`oauth`) or a sign-in redirect (`requires_auth`)", body = protocol::provisioning::AccountRequestAnswer),
        (status = 400, description = "invalid_request, invalid_scope, expired, team_resolution_failed, invalid_api_version", body = protocol::error::AccountRequestFailure),
        (status = 401, description = "unauthorized, invalid_signature", body = protocol::error::AccountRequestFailure),
        (status = 403, description = "The partner may not create accounts", body = protocol::error::AccountRequestError),
        (status = 409, description = "idempotency_conflict: the same id was sent within 24 h with another body", body = protocol::error::AccountRequestError),
        (status = 429, description = "rate_limited (with Retry-After)", body = protocol::error::AccountRequestError),
        (status = 413, description = "Body over 64 KiB", body = protocol::error::AccountRequestError),
    )
)]
pub async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, AccountRequestRefusal> {
    serve(&state, Door::Agentic, &headers, body).await
}

/// The account request in the Stripe namespace: the body is checked
/// first, then the signature (an unsigned request is `unauthorized`); the
/// request names its Stripe account; a PKCE challenge is optional; the
/// scopes are not held against a ceiling.
#[utoipa::path(
    post,
    path = "/api/partners/stripe/provisioning/account_requests",
    tag = "stripe",
    params(
        ("API-Version" = String, Header, description = "Must be 0.1d"),
        ("Stripe-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.\" + body>"),
    ),
    request_body(content = protocol::provisioning::AccountRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "A code (`oauth`)", body = protocol::provisioning::AccountRequestAnswer),
        (status = 400, description = "invalid_request, expired, team_resolution_failed, invalid_api_version", body = protocol::error::AccountRequestFailure),
        (status = 401, description = "unauthorized (unsigned), invalid_signature", body = protocol::error::AccountRequestFailure),
        (status = 403, description = "The partner may not create accounts", body = protocol::error::AccountRequestError),
        (status = 404, description = "The era does not serve the Stripe namespace", body = protocol::error::PlainError),
        (status = 409, description = "idempotency_conflict", body = protocol::error::AccountRequestError),
        (status = 429, description = "rate_limited (with Retry-After)", body = protocol::error::AccountRequestError),
        (status = 413, description = "Body over 64 KiB", body = protocol::error::AccountRequestError),
    )
)]
pub async fn stripe(
    stripe: StripeNamespace,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, AccountRequestRefusal> {
    serve(&state, Door::Stripe(&stripe), &headers, body).await
}

/// What a refusal says of the request it refuses.
struct Naming {
    /// The caller's id, once the body is read.
    id: Option<String>,
    /// Whether a refusal names the request. The Stripe namespace's checks
    /// before it takes a request up (the body, the signature, the Stripe
    /// account, the challenge, the rate limit) answer without the
    /// request's id, as the real namespace does (stripe/
    /// test_account_requests.py::TestAccountRequests::
    /// test_missing_signature_is_unauthorized); its later refusals
    /// (configuration.team_id, team resolution) name it.
    named: bool,
}

async fn serve(
    state: &AppState,
    door: Door<'_>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Json<Value>, AccountRequestRefusal> {
    let mut naming = Naming {
        id: None,
        named: true,
    };
    let answered = answer(state, door, headers, body, &mut naming).await;
    // Drawn whatever the outcome, so a seeded server's sequence of random
    // values does not depend on which answer was given.
    let id = naming
        .id
        .unwrap_or_else(|| format!("acctreq_{}", state.random.uuid()));
    answered.map(Json).map_err(|error| AccountRequestRefusal {
        id: naming.named.then_some(id),
        error,
    })
}

/// The request read, its caller identified, replayed if it was answered
/// before, counted against the partner's limit, then carried out and its
/// answer kept for replay.
async fn answer(
    state: &AppState,
    door: Door<'_>,
    headers: &HeaderMap,
    body: Body,
    naming: &mut Naming,
) -> Result<Value, ApiError> {
    check_api_version(headers)?;
    let bytes = read_body(body).await?;
    let sent_id = signup::sent_id(&bytes);
    naming.id = signup::usable_id(sent_id.as_deref());
    let (caller, request) = match door {
        Door::Agentic => {
            let request: AccountRequest = parse_json(headers, &bytes)?;
            let caller = identify_caller(state, headers, &bytes, &request).await?;
            (caller, request)
        }
        Door::Stripe(stripe) => {
            naming.named = false;
            let checked = stripe_caller(state, stripe, headers, &bytes).await?;
            naming.named = true;
            checked
        }
    };
    signup::check_id_length(sent_id.as_deref())?;
    let client_id = caller.application().client_id.clone();
    // Only a request with an id is compared or kept.
    let canonical = match &naming.id {
        Some(_) => idempotency::canonical_body(&bytes),
        None => String::new(),
    };
    // Copies of one request take turns: the first is answered and its
    // answer stored before the next is let in, to replay it. Without the
    // turn, concurrent copies would each find nothing stored and each
    // create (issue 14, class 2).
    let _turn = match &naming.id {
        Some(request_id) => Some(
            state
                .in_flight
                .turn(format!("{client_id}\n{request_id}"))
                .await,
        ),
        None => None,
    };
    if let Some(request_id) = &naming.id {
        if let Some(answer) = idempotency::replay(state, &client_id, request_id, &canonical).await?
        {
            return Ok(answer);
        }
    }
    if let Err(refusal) = rate_limit::take(state, caller.application(), Kind::AccountRequests).await
    {
        naming.named = matches!(door, Door::Agentic);
        return Err(refusal);
    }
    let region = request
        .configuration
        .as_ref()
        .and_then(|configuration| configuration.region.clone());
    let outcome = create(state, caller, request).await?;
    let Some(request_id) = naming.id.clone() else {
        // Without the caller's id the request can never be replayed:
        // nothing to keep (no seal, no write).
        let request_id = format!("acctreq_{}", state.random.uuid());
        return serde_json::to_value(outcome.into_answer(request_id))
            .map_err(|error| ApiError::Internal(error.to_string()));
    };
    let answer = serde_json::to_value(outcome.into_answer(request_id.clone()))
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let (body_hash, sealed) =
        idempotency::seal(&canonical, &answer.to_string(), state.random.as_ref());
    let stored = state
        .db
        .store_account_request(&KeptAnswer {
            client_id: &client_id,
            request_id: &request_id,
            canonical_body: &body_hash,
            answer: &sealed,
            region: region.as_deref(),
            now: state.clock.now(),
            window: idempotency::WINDOW_SECONDS,
        })
        .await?;
    if !stored {
        // Another answer to this id landed first (the turn makes that
        // impossible within one server): the first answer stands.
        tracing::warn!(client_id = %client_id, "account request answered twice; the first answer stands");
        if let Some(first) = idempotency::replay(state, &client_id, &request_id, &canonical).await?
        {
            return Ok(first);
        }
    }
    Ok(answer)
}

/// The caller under `/api/agentic`: a `Stripe-Signature` names an hmac
/// partner (held to the era's Stripe-account rule); otherwise `client_id`
/// must name a PKCE partner, and a challenge is required.
async fn identify_caller(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    request: &AccountRequest,
) -> Result<Caller, ApiError> {
    if let Some(signature) = headers.get(protocol::signature::HEADER) {
        let signature = signature.to_str().map_err(|_| {
            ApiError::InvalidSignature(protocol::signature::SignatureError::Malformed.to_string())
        })?;
        let partner = partner::active(verify_signature(state, signature, body).await?)?;
        state
            .policy
            .stripe
            .check_agentic_account(request.orchestrator.as_ref())?;
        return Ok(Caller::Signed(partner));
    }
    let application = match request.client_id.as_deref() {
        Some(client_id) => state.db.application(client_id).await?,
        None => None,
    };
    signup::pkce_caller(request, application)
}

/// The Stripe namespace's checks, in its order: the body, the signature
/// (none at all is `unauthorized`), the Stripe account, the PKCE challenge
/// if any. The request comes back with its `expires_at` settled.
async fn stripe_caller(
    state: &AppState,
    stripe: &StripeNamespace,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<(Caller, AccountRequest), ApiError> {
    let messages = &stripe.messages;
    let request = signup::stripe_request(messages, headers, bytes, state.clock.now())?;
    if headers.get(protocol::signature::HEADER).is_none() {
        return Err(ApiError::Unauthorized(
            messages.authentication_required.clone(),
        ));
    }
    let partner = stripe.signature(state, headers, bytes).await?;
    let caller = signup::stripe_caller(messages, partner, &request)?;
    Ok((caller, request))
}

/// Creates the account with its code, or for an email that has one, what
/// the era gives an existing user: a code for one of their teams, a
/// sign-in link or a pending consent.
async fn create(
    state: &AppState,
    caller: Caller,
    request: AccountRequest,
) -> Result<Outcome, ApiError> {
    let partner = caller.application();
    let checked = signup::check(partner, &request, state.clock.now())?;
    let ceiling = state.policy.ceiling(partner);
    let existing_user = state.db.user_by_email(&checked.email).await?.is_some();
    let scopes = signup::code_scopes(
        &state.policy,
        &caller,
        request.scopes.as_deref(),
        &ceiling,
        existing_user,
    )?;
    let now = state.clock.now();
    let drawn = Drawn {
        user_uuid: state.random.uuid(),
        organization_id: state.random.uuid(),
        team_api_token: Credential::generate(CredentialKind::ProjectApiKey, state.random.as_ref())
            .expose()
            .to_owned(),
    };
    let new_account =
        signup::new_account(partner, &request, &checked.email, drawn, state.region, now);
    // The code is made now: a new account stores it in the account's own
    // write (which fills in the new user and team), an existing one below.
    let code = draw_code(state);
    let row = signup::code_row(&caller, &code, &scopes, state.region, now);
    let user = match state
        .db
        .create_account_with_code(&new_account, &row)
        .await?
    {
        Created::New { user, team_id } => {
            tracing::info!(client_id = %partner.client_id, user = %user.uuid, team_id, "account created");
            return Ok(Outcome::Code(code));
        }
        Created::Existing(user) => user,
    };
    Ok(match signup::for_existing_user(&state.policy, &caller) {
        ForExistingUser::Code => {
            let teams = state.db.teams_of_user(user.id).await?;
            let team_id = match signup::resolve_team(checked.requested_team, &teams)? {
                TeamChoice::Existing(team_id) => team_id,
                TeamChoice::NewIn(organization_id) => {
                    create_default_team(state, &organization_id, now).await?
                }
            };
            let row = Code {
                user_id: user.id,
                team_id,
                ..row
            };
            state.db.insert_code(&row, None, now).await?;
            Outcome::Code(code)
        }
        ForExistingUser::SignIn { partner, challenge } => Outcome::SignIn(signup::authorize_url(
            &state.public_url,
            partner,
            challenge,
            &scopes,
        )),
        ForExistingUser::PendingConsent { partner, challenge } => Outcome::Consent(
            pend_consent(state, partner, challenge, &user.email, &scopes, now).await?,
        ),
    })
}

/// A fresh code: 32 bytes of the injected randomness, URL-safe.
fn draw_code(state: &AppState) -> String {
    let code = protocol::random::RandomSource::bytes(state.random.as_ref(), 32);
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, code)
}

/// Keeps the request as a pending consent for 600 s, replacing any
/// earlier one of this partner for this email, and answers its URL. Only
/// the state's hash is stored; the URL carries the state itself.
async fn pend_consent(
    state: &AppState,
    partner: &Application,
    challenge: &CodeChallenge,
    email: &str,
    scopes: &[String],
    now: i64,
) -> Result<String, ApiError> {
    let secret = random_token(state.random.as_ref());
    state
        .db
        .replace_pending_consent(&PendingConsent {
            state_hash: hash_secret(&secret),
            client_id: partner.client_id.clone(),
            email: email.to_owned(),
            scopes: scopes.join(" "),
            code_challenge: challenge.as_str().to_owned(),
            region: state.region.to_string(),
            created_at: now,
            expires_at: now + consent::PENDING_CONSENT_SECONDS,
        })
        .await?;
    tracing::info!(client_id = %partner.client_id, "existing user: consent pending");
    Ok(consent::consent_url(&state.public_url, &secret, scopes))
}
