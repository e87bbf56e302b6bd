//! `GET`/`POST /agentic/authorize?state=…` (today's era): the consent page
//! of an existing user, our stand-in for the app's page behind the real
//! `/api/agentic/authorize/pending/` and `/confirm/`. The page shows the
//! partner and the scopes of the pending consent (never anything from the
//! URL) and the person's projects; its form (with the session's CSRF
//! token) approves it: the checks of `consent::approval`, in the real
//! server's order and with its `error` values, then the pending consent is
//! consumed and a code stored in one write, and the browser goes to the
//! partner's first registered redirect URI with `code` and `state`. The
//! partner exchanges the code at `/api/agentic/oauth/token` with the
//! verifier of its original account request.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use protocol::credential::{constant_time_eq, hash_secret};

use crate::accounts::real_teams;
use crate::browser::{error_page, html, redirect, Form, PageFailure};
use crate::consent::{self, sign_in_location, ApprovalFacts};
use crate::db::consent::Approval;
use crate::db::Code;
use crate::error::ApiError;
use crate::forms::ConsentForm;
use crate::login::{self, STALE_FORM};
use crate::login_html;
use crate::session;
use crate::state::AppState;

/// The consent page.
#[utoipa::path(
    get,
    path = "/agentic/authorize",
    tag = "app",
    params(("state" = String, Query, description = "The pending consent")),
    responses(
        (status = 200, description = "The consent page: partner, scopes, projects, and the form", content_type = "text/html"),
        (status = 302, description = "Not signed in: /login?next=…", headers(("Location" = String))),
        (status = 400, description = "invalid_state or expired_or_invalid_state: an HTML page", content_type = "text/html"),
        (status = 403, description = "email_mismatch: an HTML page", content_type = "text/html"),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageFailure> {
    let query = query.as_deref().unwrap_or("");
    let session = session::current(&state, &headers).await?;
    let Some((_, session)) = session else {
        let here = format!("{}?{query}", consent::CONSENT_PAGE);
        return Ok(redirect(StatusCode::FOUND, &sign_in_location(&here)));
    };
    let user_id = session.user_id;
    let asked: ConsentForm = serde_urlencoded::from_str(query).unwrap_or_default();
    let Some(given) = asked.state.as_deref().filter(|s| consent::state_is_safe(s)) else {
        return Ok(error_page(StatusCode::BAD_REQUEST, "invalid_state"));
    };
    let Some(pending) = state
        .db
        .pending_consent(&hash_secret(given), state.clock.now())
        .await?
    else {
        return Ok(error_page(
            StatusCode::BAD_REQUEST,
            "expired_or_invalid_state: this link has expired or was already used. Ask the application for a new one.",
        ));
    };
    let user = state
        .db
        .user(user_id)
        .await?
        .ok_or_else(|| ApiError::Internal("session of a missing user".into()))?;
    if user.email != pending.email {
        return Ok(error_page(StatusCode::FORBIDDEN, consent::EMAIL_MISMATCH));
    }
    let partner = state
        .db
        .application(&pending.client_id)
        .await?
        .map_or_else(|| "the requesting app".to_owned(), |partner| partner.label);
    let teams = real_teams(&state, user_id).await?;
    let page = login_html::agentic_consent_page(
        &partner,
        &user.email,
        &protocol::scope::split(&pending.scopes),
        &teams,
        given,
        &session.csrf_token,
    );
    Ok(html(StatusCode::OK, page))
}

/// Approves the pending consent for the chosen project.
#[utoipa::path(
    post,
    path = "/agentic/authorize",
    tag = "app",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`state`, `team_id`, and the page's `csrf_token`"),
    responses(
        (status = 303, description = "Approved: the partner's first registered redirect URI with `code` and `state`", headers(("Location" = String))),
        (status = 400, description = "state and team_id are required, expired_or_invalid_state, missing_callback, or not a form: an HTML page", content_type = "text/html"),
        (status = 403, description = "Not signed in, missing session or CSRF mismatch; email_mismatch, team_not_accessible, partner_deactivated: an HTML page", content_type = "text/html"),
        (status = 404, description = "team_not_found: an HTML page", content_type = "text/html"),
        (status = 413, description = "A form over 64 KiB", content_type = "text/html"),
    )
)]
pub async fn approve(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<ConsentForm>,
) -> Result<Response, PageFailure> {
    // The form must come from a page this browser's signed-in session was shown.
    let Some((_, session)) = session::current(&state, &headers).await? else {
        return Ok(error_page(StatusCode::FORBIDDEN, STALE_FORM));
    };
    let token_matches = form
        .csrf_token
        .as_deref()
        .is_some_and(|sent| constant_time_eq(sent, &session.csrf_token));
    let Some(user_id) = token_matches.then_some(session.user_id) else {
        return Ok(error_page(StatusCode::FORBIDDEN, STALE_FORM));
    };
    let user = state
        .db
        .user(user_id)
        .await?
        .ok_or_else(|| ApiError::Internal("session of a missing user".into()))?;
    let now = state.clock.now();
    let given = form.state.as_deref().filter(|s| consent::state_is_safe(s));
    let pending = match given {
        Some(given) => state.db.pending_consent(&hash_secret(given), now).await?,
        None => None,
    };
    let team = match form.team_id.as_deref().map(str::parse::<i64>) {
        Some(Ok(team_id)) => state.db.team(team_id).await?.filter(|team| !team.is_demo),
        _ => None,
    };
    let theirs = state.db.teams_of_user(user_id).await?;
    let team_in_their_organizations = team.as_ref().is_some_and(|team| {
        theirs
            .iter()
            .any(|their| their.organization_id == team.organization_id)
    });
    let partner = match &pending {
        Some(pending) => state.db.application(&pending.client_id).await?,
        None => None,
    };
    let registered = match &partner {
        Some(partner) => {
            state
                .db
                .registered_redirect_uris(&partner.client_id)
                .await?
        }
        None => Vec::new(),
    };
    let decision = consent::approval(&ApprovalFacts {
        state: form.state.as_deref(),
        team_id: form.team_id.as_deref(),
        pending: pending.as_ref(),
        email: &user.email,
        team: team.as_ref(),
        team_in_their_organizations,
        partner: partner.as_ref(),
        registered: &registered,
    })
    .map(str::to_owned);
    let (callback, pending, team, given) = match (decision, pending, team, given) {
        (Ok(callback), Some(pending), Some(team), Some(given)) => (callback, pending, team, given),
        (Err(refused), pending, _, _) => {
            if let (true, Some(pending)) = (refused.forget, pending) {
                state.db.delete_pending_consent(&pending.state_hash).await?;
            }
            let status = StatusCode::from_u16(refused.status).unwrap_or(StatusCode::BAD_REQUEST);
            return Ok(error_page(status, refused.error));
        }
        (Ok(_), ..) => return Err(ApiError::Internal("approval without its facts".into()).into()),
    };
    let code = login::random_token(state.random.as_ref());
    let row = Code {
        code_hash: hash_secret(&code),
        client_id: pending.client_id.clone(),
        user_id,
        team_id: team.id,
        scopes: pending.scopes.clone(),
        code_challenge: Some(pending.code_challenge.clone()),
        redirect_uri: None,
        region: pending.region.clone(),
        expires_at: now + protocol::oauth::CODE_SECONDS,
        consumed_at: None,
    };
    match state
        .db
        .approve_pending_consent(&pending.state_hash, &row, now)
        .await?
    {
        Approval::Approved => {
            tracing::info!(user = %user.uuid, client_id = %pending.client_id, team_id = team.id, "existing user consented");
            let location = login::callback_url(&callback, &[("code", &code), ("state", given)]);
            Ok(redirect(StatusCode::SEE_OTHER, &location))
        }
        Approval::Gone => Ok(error_page(
            StatusCode::BAD_REQUEST,
            consent::EXPIRED_OR_INVALID_STATE,
        )),
    }
}
