//! `GET /api/agentic/authorize?state=…` (today's era): where a partner
//! sends the person behind an existing email, with the state of its
//! account request's pending consent. Not signed in: to `/login` first.
//! Signed in: the checks of `consent::entry`, in the real server's order,
//! each answered with a redirect: the app's home page with an `error`, the
//! account-mismatch page, or the consent page (`routes/consent_page.rs`).
//! The pending consent is only read here (a partner deactivated meanwhile
//! forgets it); approving it is the consent page's.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use protocol::credential::hash_secret;

use crate::accounts::create_default_team;
use crate::browser::{redirect, PageFailure};
use crate::consent::{self, sign_in_location, Entry, EntryFacts};
use crate::error::ApiError;
use crate::forms::EntryQuery;
use crate::session;
use crate::state::AppState;

/// Today's consent entry for an existing user.
#[utoipa::path(
    get,
    path = "/api/agentic/authorize",
    tag = "app",
    params(
        ("state" = Option<String>, Query, description = "The pending consent, as the account request's requires_auth.url names it"),
        ("scope" = Option<String>, Query, description = "Informational: the consent page shows the pending consent's own scopes"),
    ),
    responses(
        (status = 302, description = "Not signed in: /login?next=…. Signed in: /agentic/authorize?state=… (the consent page); /agentic/account-mismatch?expected_email&current_email&partner_name&state (signed in as someone else); /?error=missing_state, expired_or_invalid_state, no_organization or partner_deactivated", headers(("Location" = String))),
    )
)]
pub async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageFailure> {
    let query = query.as_deref().unwrap_or("");
    let user_id = session::current(&state, &headers)
        .await?
        .map(|(_, session)| session.user_id);
    let Some(user_id) = user_id else {
        let here = match query {
            "" => protocol::paths::AGENTIC_AUTHORIZE.to_owned(),
            query => format!("{}?{query}", protocol::paths::AGENTIC_AUTHORIZE),
        };
        return Ok(redirect(StatusCode::FOUND, &sign_in_location(&here)));
    };
    let user = state
        .db
        .user(user_id)
        .await?
        .ok_or_else(|| ApiError::Internal("session of a missing user".into()))?;
    let asked: EntryQuery = serde_urlencoded::from_str(query).unwrap_or_default();
    let state_param = asked.state.as_deref();
    let pending = match state_param.filter(|given| consent::state_is_safe(given)) {
        Some(given) => {
            state
                .db
                .pending_consent(&hash_secret(given), state.clock.now())
                .await?
        }
        None => None,
    };
    let partner = match &pending {
        Some(pending) => state.db.application(&pending.client_id).await?,
        None => None,
    };
    let teams = state.db.teams_of_user(user_id).await?;
    let decision = consent::entry(&EntryFacts {
        state: state_param,
        pending: pending.as_ref(),
        email: &user.email,
        teams: &teams,
        partner: partner.as_ref(),
    });
    Ok(match decision {
        Entry::Home { error } => redirect(StatusCode::FOUND, &format!("/?error={error}")),
        Entry::PartnerDeactivated => {
            if let Some(pending) = &pending {
                state.db.delete_pending_consent(&pending.state_hash).await?;
            }
            redirect(
                StatusCode::FOUND,
                &format!("/?error={}", consent::PARTNER_DEACTIVATED),
            )
        }
        Entry::Mismatch { expected_email } => {
            let partner_name = partner.as_ref().map(|p| p.label.as_str()).unwrap_or("");
            let query = serde_urlencoded::to_string([
                ("expected_email", expected_email.as_str()),
                ("current_email", user.email.as_str()),
                ("partner_name", partner_name),
                ("state", state_param.unwrap_or("")),
            ])
            .unwrap_or_default();
            redirect(
                StatusCode::FOUND,
                &format!("{}?{query}", consent::ACCOUNT_MISMATCH_PAGE),
            )
        }
        Entry::ConsentPage { create_team_in } => {
            if let Some(organization_id) = create_team_in {
                create_default_team(&state, &organization_id, state.clock.now()).await?;
            }
            let query = serde_urlencoded::to_string([("state", state_param.unwrap_or(""))])
                .unwrap_or_default();
            redirect(
                StatusCode::FOUND,
                &format!("{}?{query}", consent::CONSENT_PAGE),
            )
        }
    })
}
