//! `GET /oauth/authorize` (protocol section 6): checks the request, then
//! shows the sign-in form (no session), the consent form (signed in), or
//! sends the browser straight back with a code (signed in, and consent to
//! these scopes remembered). The forms post to `POST /oauth/authorize`
//! (`authorize_submit.rs`); the rules live in `login.rs`, what both
//! handlers share in `authorization.rs`, the pages in `login_html.rs`.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::accounts::real_teams;
use crate::authorization::{authorize, finish, issue_code, refuse};
use crate::browser::{error_page, html, PageFailure};
use crate::error::ApiError;
use crate::login::AuthorizeParams;
use crate::login_html;
use crate::session;
use crate::state::AppState;

/// The interactive login's entry: sign-in form, consent form, or a redirect.
#[utoipa::path(
    get,
    path = "/oauth/authorize",
    tag = "oauth",
    params(
        ("client_id" = String, Query, description = "A PKCE partner (a wizard application)"),
        ("redirect_uri" = Option<String>, Query, description = "A registered redirect URI; loopback `http://localhost:<any port>/callback` or `http://127.0.0.1:<any port>/callback` for the wizard. Without it the code is shown on a page to paste"),
        ("response_type" = String, Query, description = "Must be `code`"),
        ("code_challenge" = String, Query, description = "S256 challenge, 43 base64url characters"),
        ("code_challenge_method" = String, Query, description = "Must be `S256`"),
        ("scope" = Option<String>, Query, description = "Space separated; scopes above the application's ceiling are dropped silently"),
        ("state" = Option<String>, Query, description = "Returned unchanged on the redirect"),
    ),
    responses(
        (status = 200, description = "The sign-in form (sets the anonymous form cookie `posthog_form` when the browser has none; stores nothing) or the consent form (HTML)", content_type = "text/html"),
        (status = 302, description = "Signed in with remembered consent: `redirect_uri?code=…&state=…`; or an error other than a bad client or redirect URI: `redirect_uri?error=…&state=…`"),
        (status = 400, description = "Unknown or inactive client, unregistered redirect_uri: an HTML page, never a redirect", content_type = "text/html"),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageFailure> {
    let params: AuthorizeParams = match serde_urlencoded::from_str(query.as_deref().unwrap_or("")) {
        Ok(params) => params,
        Err(_) => {
            return Ok(error_page(
                StatusCode::BAD_REQUEST,
                "The sign-in link is malformed.",
            ))
        }
    };
    let authorization = match authorize(&state, &params).await? {
        Ok(authorization) => authorization,
        Err(refusal) => return Ok(refuse(refusal, StatusCode::FOUND)),
    };
    let signed_in = session::current(&state, &headers).await?;
    let Some((session, user_id)) = signed_in.map(|(_, session)| {
        let user_id = session.user_id;
        (session, user_id)
    }) else {
        // Not signed in: the sign-in form, guarded by the anonymous form
        // cookie. Nothing is stored until the form signs someone in.
        let form = session::anonymous_form(&state, &headers);
        let page = login_html::sign_in_page(
            &params,
            &form.csrf_token,
            &authorization.application.label,
            None,
        );
        let mut response = html(StatusCode::OK, page);
        form.set_cookie(&mut response);
        return Ok(response);
    };
    let teams = real_teams(&state, user_id).await?;
    // Remembered consent covering these scopes, for a team the user still
    // has: straight back with a code.
    if let Some(consent) = state
        .db
        .consent(user_id, &authorization.application.client_id)
        .await?
    {
        let team_still_there = teams.iter().any(|team| team.id == consent.team_id);
        let covered = state
            .policy
            .consent_covers(&consent.scopes, &authorization.scopes);
        if team_still_there && covered {
            let code = issue_code(&state, &authorization, user_id, consent.team_id).await?;
            return Ok(finish(&authorization, &code, StatusCode::FOUND));
        }
    }
    let user = state
        .db
        .user(user_id)
        .await?
        .ok_or_else(|| ApiError::Internal("session of a missing user".into()))?;
    let page = login_html::consent_page(&authorization, &session.csrf_token, &user.email, &teams);
    Ok(html(StatusCode::OK, page))
}
