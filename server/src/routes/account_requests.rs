//! `POST /api/agentic/provisioning/account_requests` (protocol section 4):
//! who is asking, for which email, and what code they get; and the same
//! under the Stripe namespace (`crate::stripe`), where only a Stripe-signed
//! partner may ask.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use protocol::credential::{hash_secret, Credential, CredentialKind};
use protocol::pkce::CodeChallenge;
use protocol::provisioning::{
    AccountRequest, AccountRequestAnswer, OAuthCode, Redirect, RequiresAuth,
};

use crate::consent;
use crate::db::consent::PendingConsent;
use crate::db::{Application, Code, Created, NewAccount, Team};
use crate::error::{ApiError, Envelope};
use crate::http::{check_api_version, parse_json, read_body};
use crate::policy::RequiresAuthRule;
use crate::rate_limit::{self, Kind};
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
pub async fn handle(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
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
) -> Response {
    serve(&state, Door::Stripe(&stripe), &headers, body).await
}

async fn serve(state: &AppState, door: Door<'_>, headers: &HeaderMap, body: Body) -> Response {
    // The id must be known before the body is fully understood, so that even
    // a refusal answers with the caller's id.
    let mut id = None;
    // Whether a refusal names the request. The Stripe namespace's checks
    // before it takes a request up (the body, the signature, the Stripe
    // account, the challenge, the rate limit) answer without the request's
    // id, as the real namespace does (stripe/test_account_requests.py::
    // TestAccountRequests::test_missing_signature_is_unauthorized); its
    // later refusals (configuration.team_id, team resolution) name it.
    let mut named = true;
    let result = async {
        check_api_version(headers)?;
        let bytes = read_body(body).await?;
        id = request_id_of(&bytes);
        let (caller, request) = match door {
            Door::Agentic => {
                let request: AccountRequest = parse_json(headers, &bytes)?;
                let caller = identify_caller(state, headers, &bytes, &request).await?;
                (caller, request)
            }
            Door::Stripe(stripe) => {
                named = false;
                let checked = stripe_caller(state, stripe, headers, &bytes).await?;
                named = true;
                checked
            }
        };
        let client_id = caller.application().client_id.clone();
        // Only a request with an id is compared or kept.
        let canonical = match &id {
            Some(_) => idempotency::canonical_body(&bytes),
            None => String::new(),
        };
        if let Some(request_id) = &id {
            if let Some(answer) =
                idempotency::replay(state, &client_id, request_id, &canonical).await?
            {
                return Ok(answer);
            }
        }
        if let Err(refusal) =
            rate_limit::take(state, caller.application(), Kind::AccountRequests).await
        {
            named = matches!(door, Door::Agentic);
            return Err(refusal);
        }
        let region = request
            .configuration
            .as_ref()
            .and_then(|configuration| configuration.region.clone());
        let outcome = create(state, caller, request).await?;
        let Some(request_id) = id.clone() else {
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
        state
            .db
            .store_account_request(
                &client_id,
                &request_id,
                &body_hash,
                &sealed,
                region.as_deref(),
                state.clock.now(),
            )
            .await?;
        Ok::<_, ApiError>(answer)
    }
    .await;
    // Drawn whatever the outcome, so a seeded server's sequence of random
    // values does not depend on which answer was given.
    let id = id.unwrap_or_else(|| format!("acctreq_{}", state.random.uuid()));
    match result {
        Ok(answer) => Json(answer).into_response(),
        Err(error) => error.into_envelope(Envelope::AccountRequest {
            id: named.then_some(id),
        }),
    }
}

/// The request's own `id`, if the body has a string one.
fn request_id_of(bytes: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    value
        .get("id")?
        .as_str()
        .filter(|id| !id.is_empty() && id.len() <= 200)
        .map(str::to_owned)
}

/// A partner that proved who it is.
#[derive(Debug, Clone)]
pub enum Caller {
    /// Signed with `Stripe-Signature`: the email is trusted.
    Signed(Application),
    /// A public client with a PKCE challenge.
    Pkce(Application, CodeChallenge),
    /// Signed in the Stripe namespace: the email is trusted, the scopes are
    /// not held against a ceiling, and a PKCE challenge is optional (its
    /// code is then exchanged with the verifier, unsigned).
    Stripe(Application, Option<CodeChallenge>),
}

impl Caller {
    fn application(&self) -> &Application {
        match self {
            Caller::Signed(application)
            | Caller::Pkce(application, _)
            | Caller::Stripe(application, _) => application,
        }
    }

    fn challenge(&self) -> Option<&CodeChallenge> {
        match self {
            Caller::Pkce(_, challenge) => Some(challenge),
            Caller::Stripe(_, challenge) => challenge.as_ref(),
            Caller::Signed(_) => None,
        }
    }
}

/// The Stripe namespace's checks, in its order: the body (an email, a
/// valid `expires_at` not in the past), the signature (none at all is
/// `unauthorized`), the Stripe account, the PKCE challenge if any. The
/// request comes back with its `expires_at` settled.
async fn stripe_caller(
    state: &AppState,
    stripe: &StripeNamespace,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<(Caller, AccountRequest), ApiError> {
    let messages = &stripe.messages;
    let value: serde_json::Value = crate::http::parse_json(headers, bytes)?;
    let has_email = value
        .get("email")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|email| !email.trim().is_empty());
    if !has_email {
        return Err(ApiError::InvalidRequest(messages.email_required.clone()));
    }
    let mut request: AccountRequest = parse_json(headers, bytes)?;
    if let Some(expires_at) = request.expires_at.take() {
        let expires_at = parse_expires_at(&expires_at)
            .ok_or_else(|| ApiError::InvalidRequest(messages.expires_at_invalid.clone()))?;
        if expires_at <= state.clock.now() {
            return Err(ApiError::Expired(messages.request_expired.clone()));
        }
    }
    if headers.get(protocol::signature::HEADER).is_none() {
        return Err(ApiError::Unauthorized(
            messages.authentication_required.clone(),
        ));
    }
    let partner = stripe.signature(state, headers, bytes).await?;
    let account = request
        .orchestrator
        .as_ref()
        .and_then(|orchestrator| orchestrator.stripe.as_ref())
        .and_then(|stripe| stripe.account.as_deref())
        .filter(|account| !account.is_empty());
    if account.is_none() {
        return Err(ApiError::InvalidRequest(
            messages.stripe_account_required.clone(),
        ));
    }
    let challenge = match request.code_challenge.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        // The method defaults to S256.
        Some(_)
            if request
                .code_challenge_method
                .as_deref()
                .is_some_and(|method| method != protocol::pkce::S256) =>
        {
            return Err(ApiError::InvalidRequest(messages.challenge_method.clone()))
        }
        Some(challenge) => Some(
            CodeChallenge::parse(challenge, Some(protocol::pkce::S256))
                .map_err(|_| ApiError::InvalidRequest(messages.challenge_format.clone()))?,
        ),
    };
    Ok((Caller::Stripe(partner, challenge), request))
}

/// An ISO 8601 date-time as unix seconds; one without an offset is UTC.
pub fn parse_expires_at(text: &str) -> Option<i64> {
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(time.timestamp());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
        .map(|time| time.and_utc().timestamp())
}

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
        let partner = active(verify_signature(state, signature, body).await?)?;
        state
            .policy
            .stripe
            .check_agentic_account(request.orchestrator.as_ref())?;
        return Ok(Caller::Signed(partner));
    }
    let Some(client_id) = request.client_id.as_deref() else {
        return Err(ApiError::Unauthorized(
            "Sign the request with Stripe-Signature, or send the client_id of a PKCE partner"
                .into(),
        ));
    };
    let partner = state
        .db
        .application(client_id)
        .await?
        .filter(|application| application.kind == "partner" && application.auth_method == "pkce")
        .ok_or_else(|| ApiError::Unauthorized(format!("Unknown client_id {client_id:?}")))?;
    let partner = active(partner)?;
    let challenge = request.code_challenge.as_deref().ok_or_else(|| {
        ApiError::InvalidRequest("code_challenge is required for a PKCE client".into())
    })?;
    let challenge = CodeChallenge::parse(challenge, request.code_challenge_method.as_deref())
        .map_err(|error| ApiError::InvalidRequest(error.to_string()))?;
    Ok(Caller::Pkce(partner, challenge))
}

fn active(partner: Application) -> Result<Application, ApiError> {
    if !partner.active {
        return Err(ApiError::Unauthorized("Partner is deactivated".into()));
    }
    Ok(partner)
}

/// What an account request resolves to.
#[derive(Debug, Clone)]
pub enum Outcome {
    Code(String),
    /// The older eras' sign-in link (`requires_auth.redirect.url`).
    SignIn(String),
    /// Today's consent link (`requires_auth.url`).
    Consent(String),
}

impl Outcome {
    fn into_answer(self, id: String) -> AccountRequestAnswer {
        match self {
            Outcome::Code(code) => AccountRequestAnswer::Oauth {
                id,
                oauth: OAuthCode { code },
            },
            Outcome::SignIn(url) => AccountRequestAnswer::RequiresAuth {
                id,
                requires_auth: RequiresAuth::Redirect {
                    kind: "redirect".into(),
                    redirect: Redirect { url },
                },
            },
            Outcome::Consent(url) => AccountRequestAnswer::RequiresAuth {
                id,
                requires_auth: RequiresAuth::Consent { url },
            },
        }
    }
}

async fn create(
    state: &AppState,
    caller: Caller,
    request: AccountRequest,
) -> Result<Outcome, ApiError> {
    let partner = caller.application().clone();
    if !partner.can_create_accounts {
        return Err(ApiError::Forbidden(format!(
            "Partner {:?} may not create accounts",
            partner.client_id
        )));
    }
    let email = parse_email(&request.email)?;
    if let Some(expires_at) = request.expires_at.as_deref() {
        let expires_at = chrono::DateTime::parse_from_rfc3339(expires_at).map_err(|_| {
            ApiError::InvalidRequest("expires_at must be an ISO 8601 date-time".into())
        })?;
        if expires_at.timestamp() <= state.clock.now() {
            return Err(ApiError::Expired(
                "The account request has expired (expires_at is in the past)".into(),
            ));
        }
    }
    let requested_team = parse_team_id(
        request
            .configuration
            .as_ref()
            .and_then(|c| c.team_id.as_ref()),
    )?;
    let ceiling = state.policy.ceiling(&partner);
    let existing_user = state.db.user_by_email(&email).await?.is_some();
    let scopes = match &caller {
        Caller::Stripe(..) => state
            .policy
            .stripe_scopes_for_code(request.scopes.as_deref(), &ceiling),
        _ => state
            .policy
            .scopes_for_code(request.scopes.as_deref(), &ceiling, existing_user)?,
    };
    let configuration = request.configuration.clone().unwrap_or_default();
    let now = state.clock.now();
    let new_account = NewAccount {
        email: email.clone(),
        // The first word of the name, as the real server keeps it.
        first_name: request
            .name
            .as_deref()
            .and_then(|name| name.split(' ').next())
            .unwrap_or_default()
            .to_owned(),
        user_uuid: state.random.uuid(),
        organization_id: state.random.uuid(),
        organization_name: configuration
            .organization_name
            .clone()
            .filter(|name| !name.trim().is_empty())
            .unwrap_or_else(|| format!("{} ({email})", partner.label)),
        team_name: "Default project".into(),
        team_api_token: Credential::generate(CredentialKind::ProjectApiKey, state.random.as_ref())
            .expose()
            .to_owned(),
        region: state.region.to_string(),
        now,
    };
    // The code is made now: a new account stores it in the account's own
    // write (which fills in the new user and team), an existing one below.
    let (code, row) = make_code(state, &caller, &scopes, now);
    let created = state
        .db
        .create_account_with_code(&new_account, &row)
        .await?;
    let (user, team_id) = match created {
        Created::New { user, team_id } => {
            tracing::info!(client_id = %partner.client_id, user = %user.uuid, team_id, "account created");
            return Ok(Outcome::Code(code));
        }
        Created::Existing(user) => match &caller {
            Caller::Pkce(partner, challenge)
                if !state
                    .policy
                    .skips_consent(partner.skip_existing_user_consent) =>
            {
                return Ok(match state.policy.existing_user_requires_auth() {
                    RequiresAuthRule::Redirect => {
                        Outcome::SignIn(authorize_url(state, partner, challenge, &scopes))
                    }
                    RequiresAuthRule::PendingConsent => Outcome::Consent(
                        pend_consent(state, partner, challenge, &user.email, &scopes, now).await?,
                    ),
                });
            }
            _ => {
                let teams = state.db.teams_of_user(user.id).await?;
                let team_id = match resolve_team(requested_team, &teams)? {
                    TeamChoice::Existing(team_id) => team_id,
                    TeamChoice::NewIn(organization_id) => {
                        create_team(state, &organization_id, now).await?
                    }
                };
                (user, team_id)
            }
        },
    };
    let row = Code {
        user_id: user.id,
        team_id,
        ..row
    };
    state.db.insert_code(&row, None, now).await?;
    Ok(Outcome::Code(code))
}

async fn create_team(state: &AppState, organization_id: &str, now: i64) -> Result<i64, ApiError> {
    let api_token = Credential::generate(CredentialKind::ProjectApiKey, state.random.as_ref());
    Ok(state
        .db
        .create_team(
            organization_id,
            "Default project",
            api_token.expose(),
            &state.region,
            now,
        )
        .await?)
}

/// A fresh code and the row that stores it (hashed); its `user_id` and
/// `team_id` are filled in where it is stored.
fn make_code(state: &AppState, caller: &Caller, scopes: &[String], now: i64) -> (String, Code) {
    let code = protocol::random::RandomSource::bytes(state.random.as_ref(), 32);
    let code = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, code);
    let challenge = caller
        .challenge()
        .map(|challenge| challenge.as_str().to_owned());
    let row = Code {
        code_hash: hash_secret(&code),
        client_id: caller.application().client_id.clone(),
        user_id: 0,
        team_id: 0,
        scopes: scopes.join(" "),
        code_challenge: challenge,
        redirect_uri: None,
        region: state.region.to_string(),
        expires_at: now + protocol::oauth::CODE_SECONDS,
        consumed_at: None,
    };
    (code, row)
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
    let secret = crate::login::random_token(state);
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

/// Where an existing user signs in (protocol section 6).
fn authorize_url(
    state: &AppState,
    partner: &Application,
    challenge: &CodeChallenge,
    scopes: &[String],
) -> String {
    let query = serde_urlencoded::to_string([
        ("client_id", partner.client_id.as_str()),
        ("response_type", "code"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", protocol::pkce::S256),
        ("scope", &scopes.join(" ")),
    ])
    .unwrap_or_default();
    format!(
        "{}{}?{query}",
        state.public_url,
        protocol::paths::OAUTH_AUTHORIZE
    )
}

/// A minimal email check: one `@`, something on each side, a dot in the
/// domain, no spaces; lower-cased for lookup.
pub fn parse_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim();
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && email.len() <= 254
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if !valid {
        return Err(ApiError::InvalidRequest(
            "email must be a valid email address".into(),
        ));
    }
    Ok(email.to_lowercase())
}

/// `configuration.team_id`: an integer or a string of digits.
pub fn parse_team_id(value: Option<&serde_json::Value>) -> Result<Option<i64>, ApiError> {
    let invalid = || ApiError::InvalidRequest("configuration.team_id must be an integer".into());
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(number)) => number.as_i64().map(Some).ok_or_else(invalid),
        Some(serde_json::Value::String(text))
            if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) =>
        {
            text.parse().map(Some).map_err(|_| invalid())
        }
        Some(_) => Err(invalid()),
    }
}

/// The team an existing user's code is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamChoice {
    Existing(i64),
    /// A new team in this organization (the user's oldest membership).
    NewIn(String),
}

/// Team resolution for an existing user (protocol section 4, seed 002).
/// `teams` are the user's live teams, oldest membership first.
pub fn resolve_team(requested: Option<i64>, teams: &[Team]) -> Result<TeamChoice, ApiError> {
    let real: Vec<&Team> = teams.iter().filter(|team| !team.is_demo).collect();
    if let Some(requested) = requested {
        return match real.iter().find(|team| team.id == requested) {
            Some(team) => Ok(TeamChoice::Existing(team.id)),
            None => Err(ApiError::TeamResolutionFailed(format!(
                "Team {requested} is not a project of this user's organizations"
            ))),
        };
    }
    if let [only] = real.as_slice() {
        return Ok(TeamChoice::Existing(only.id));
    }
    match teams.first() {
        Some(oldest) => Ok(TeamChoice::NewIn(oldest.organization_id.clone())),
        None => Err(ApiError::TeamResolutionFailed(
            "The user belongs to no organization".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn team(id: i64, organization: &str, is_demo: bool) -> Team {
        Team::for_test(id, organization, is_demo)
    }

    /// If this fails, a refusal names a request by an empty id, or by one
    /// longer than the 200 characters an id may have.
    #[test]
    fn only_a_usable_id_names_a_request() {
        let id_of = |id: serde_json::Value| request_id_of(json!({"id": id}).to_string().as_bytes());
        assert_eq!(id_of(json!("req-1")), Some("req-1".to_owned()));
        assert_eq!(id_of(json!("a".repeat(200))), Some("a".repeat(200)));
        assert_eq!(id_of(json!("a".repeat(201))), None);
        assert_eq!(id_of(json!("")), None);
        assert_eq!(id_of(json!(7)), None);
        assert_eq!(request_id_of(b"not json"), None);
    }

    /// If this fails, an `expires_at` is read as another time than it says.
    #[test]
    fn expires_at_is_read_as_utc_unless_it_says_otherwise() {
        assert_eq!(
            parse_expires_at("2099-01-01T00:00:00+00:00"),
            Some(4_070_908_800)
        );
        assert_eq!(
            parse_expires_at("2099-01-01T01:00:00+01:00"),
            Some(4_070_908_800)
        );
        assert_eq!(parse_expires_at("2099-01-01T00:00:00"), Some(4_070_908_800));
        assert_eq!(
            parse_expires_at("2099-01-01T00:00:00.5"),
            Some(4_070_908_800)
        );
        assert_eq!(parse_expires_at("tomorrow"), None);
    }

    #[test]
    fn team_resolution_table() {
        let one = [team(1, "o1", false)];
        let demo_only = [team(2, "o1", true)];
        let several = [
            team(3, "o1", false),
            team(4, "o2", false),
            team(5, "o2", true),
        ];
        type Case<'a> = (Option<i64>, &'a [Team], Result<TeamChoice, &'a str>);
        let cases: Vec<Case> = vec![
            (None, &one, Ok(TeamChoice::Existing(1))),
            (None, &demo_only, Ok(TeamChoice::NewIn("o1".into()))),
            (None, &several, Ok(TeamChoice::NewIn("o1".into()))),
            (Some(4), &several, Ok(TeamChoice::Existing(4))),
            (Some(5), &several, Err("team_resolution_failed")),
            (Some(99), &one, Err("team_resolution_failed")),
            (None, &[], Err("team_resolution_failed")),
        ];
        for (requested, teams, expected) in cases {
            let got = resolve_team(requested, teams).map_err(|error| error.code());
            assert_eq!(got, expected, "requested {requested:?}");
        }
    }

    #[test]
    fn team_id_table() {
        assert_eq!(parse_team_id(None).unwrap(), None);
        assert_eq!(parse_team_id(Some(&json!(7))).unwrap(), Some(7));
        assert_eq!(parse_team_id(Some(&json!("42"))).unwrap(), Some(42));
        for bad in [
            json!("4a"),
            json!(""),
            // Signs parse as integers in Rust but are not digits.
            json!("-5"),
            json!("+5"),
            json!(1.5),
            json!(true),
            json!([1]),
            json!("99999999999999999999"),
        ] {
            let error = parse_team_id(Some(&bad)).unwrap_err();
            assert_eq!(
                error.to_string(),
                "configuration.team_id must be an integer",
                "{bad}"
            );
        }
    }

    #[test]
    fn email_table() {
        assert_eq!(parse_email(" Ada@Example.com ").unwrap(), "ada@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "a@b@c.com",
            "ada@.com",
        ] {
            assert!(parse_email(bad).is_err(), "{bad:?}");
        }
    }
}
