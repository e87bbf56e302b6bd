//! `GET /agentic/login?token=…&team_id=…` (protocol section 4): follows a
//! deep link, as the real server does in every era we know: the first
//! follow within 600 s signs the person in (a session cookie) and answers
//! `302` to the link's path (`/project/<team_id>` by default), or, in eras
//! that verify email first, `302` to `/verify_email/<user uuid>` without a
//! session; a missing token answers `302` to `/?error=missing_token`, and
//! a used, expired or unknown one `302` to
//! `/?error=expired_or_invalid_token` (the app's home page explains both).

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use protocol::credential::hash_secret;

use crate::browser::set_cookie;
use crate::db::lifecycle::{DeepLink, LinkUse};
use crate::deep_link::{
    EXPIRED_OR_INVALID_TOKEN, MISSING_TOKEN, SERVICE_UNAVAILABLE, USER_NOT_FOUND,
};
use crate::policy::Landing;
use crate::session;
use crate::state::AppState;
use crate::stripe::StripeNamespace;

/// Follows a deep link.
#[utoipa::path(
    get,
    path = "/agentic/login",
    tag = "app",
    params(
        ("token" = String, Query, description = "The deep link's single-use token"),
        ("team_id" = Option<String>, Query, description = "The project (informational; the token decides)"),
    ),
    responses(
        (status = 302, description = "Signed in (Set-Cookie) to /project/<team_id> or the link's path; today an unverified user to /verify_email/<uuid> without a session; a missing token to /?error=missing_token; a used, expired or unknown one to /?error=expired_or_invalid_token", headers(("Location" = String))),
        (status = 410, description = "Not answered any more: refused links redirect (302) to /?error=…, as the real server's do in every era. Kept in the document because the frozen contract lists it", content_type = "text/html"),
    )
)]
pub async fn handle(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    use_link(&state, query, "").await
}

/// Follows a deep link issued in the Stripe namespace, the same way.
#[utoipa::path(
    get,
    path = "/api/partners/stripe/login",
    tag = "stripe",
    params(
        ("token" = String, Query, description = "The deep link's single-use token"),
        ("team_id" = Option<String>, Query, description = "The project (informational; the token decides)"),
    ),
    responses(
        (status = 302, description = "As /agentic/login: signed in to the link's path, or redirected to /verify_email/<uuid> or /?error=…", headers(("Location" = String))),
        (status = 404, description = "The era does not serve the Stripe namespace", body = protocol::error::PlainError),
    )
)]
pub async fn stripe(
    _stripe: StripeNamespace,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Response {
    let reason = format!("?reason={}", crate::stripe::VERIFY_EMAIL_REASON);
    use_link(&state, query, &reason).await
}

/// Uses the link in `query`; an unverified user is sent to the verify-email
/// page with `verify_email_query` appended.
async fn use_link(state: &AppState, query: Option<String>, verify_email_query: &str) -> Response {
    let token = query
        .as_deref()
        .and_then(|query| serde_urlencoded::from_str::<Vec<(String, String)>>(query).ok())
        .and_then(|pairs| pairs.into_iter().find(|(name, _)| name == "token"))
        .map(|(_, token)| token)
        .filter(|token| !token.is_empty());
    let Some(token) = token else {
        return refused(MISSING_TOKEN);
    };
    let found = state
        .db
        .use_deep_link(&hash_secret(&token), state.clock.now())
        .await;
    match found {
        Ok(LinkUse::Now(link)) => follow(state, link, verify_email_query).await,
        Ok(LinkUse::Used | LinkUse::Expired | LinkUse::Unknown) => {
            refused(EXPIRED_OR_INVALID_TOKEN)
        }
        Err(error) => {
            tracing::error!(detail = %error, "deep link lookup failed");
            refused(SERVICE_UNAVAILABLE)
        }
    }
}

/// A link used now: where its user lands, by the era's rule.
async fn follow(state: &AppState, link: DeepLink, verify_email_query: &str) -> Response {
    let user = match state.db.user(link.user_id).await {
        Ok(Some(user)) => user,
        Ok(None) => return refused(USER_NOT_FOUND),
        Err(error) => {
            tracing::error!(detail = %error, "deep link user lookup failed");
            return refused(SERVICE_UNAVAILABLE);
        }
    };
    // No user of the simulator has verified an email address (the API's
    // `is_email_verified` is false for everyone): partner-created users
    // start unverified, and no verification flow is modelled.
    let email_verified = false;
    match state.policy.deep_link_landing(email_verified) {
        Landing::VerifyEmail => {
            tracing::info!(
                team_id = link.team_id,
                "deep link followed by an unverified user"
            );
            redirect(&format!("/verify_email/{}{verify_email_query}", user.uuid))
        }
        Landing::SignedIn => {
            let mut response = redirect(&link.path);
            match session::start(state, user.id).await {
                Ok((id, session)) => {
                    set_cookie(&mut response, &id, session.expires_at - state.clock.now());
                }
                Err(error) => {
                    tracing::error!(detail = %error, "deep link session failed");
                    return refused(SERVICE_UNAVAILABLE);
                }
            }
            tracing::info!(team_id = link.team_id, "deep link followed; signed in");
            response
        }
    }
}

/// A refused link: to the app's home page, which says why.
fn refused(error: &str) -> Response {
    redirect(&format!("/?error={error}"))
}

/// `302` to a relative location. The link's token is in the URL that led
/// here: keep it out of caches and referrers.
fn redirect(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
