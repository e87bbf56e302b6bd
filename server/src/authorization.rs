//! An authorize request as both `/oauth/authorize` handlers take it (the
//! page and its forms): loaded and judged by `login::check_authorize`, and
//! how it ends, with a code back to the application or a refusal
//! (RFC 6749 section 4.1.2).

use axum::http::StatusCode;
use axum::response::Response;

use protocol::credential::hash_secret;

use crate::browser::{error_page, html, redirect};
use crate::db::Code;
use crate::error::ApiError;
use crate::login::{self, Authorization, AuthorizeParams, Refusal, ReturnTo};
use crate::login_html;
use crate::state::AppState;

/// Loads what an authorize request names (its application and, when it
/// names a redirect URI, the application's registered ones) and checks it.
pub async fn authorize(
    state: &AppState,
    params: &AuthorizeParams,
) -> Result<Result<Authorization, Refusal>, ApiError> {
    let client_id = params.client_id.as_deref().filter(|id| !id.is_empty());
    let application = match client_id {
        Some(client_id) => state.db.application(client_id).await?,
        None => None,
    };
    let registered = match (client_id, &application, &params.redirect_uri) {
        (Some(client_id), Some(_), Some(_)) => state.db.registered_redirect_uris(client_id).await?,
        _ => Vec::new(),
    };
    Ok(login::check_authorize(
        &state.policy,
        params,
        application,
        &registered,
    ))
}

/// A single-use, 300 s code bound to the challenge, the redirect URI, the
/// granted scopes and the team.
pub async fn issue_code(
    state: &AppState,
    authorization: &Authorization,
    user_id: i64,
    team_id: i64,
) -> Result<String, ApiError> {
    let code = login::random_token(state.random.as_ref());
    let now = state.clock.now();
    state
        .db
        .insert_code(
            &Code {
                code_hash: hash_secret(&code),
                client_id: authorization.application.client_id.clone(),
                user_id,
                team_id,
                scopes: authorization.scopes.join(" "),
                code_challenge: Some(authorization.challenge.as_str().to_owned()),
                redirect_uri: authorization.redirect_uri().map(str::to_owned),
                region: state.region.to_string(),
                expires_at: now + protocol::oauth::CODE_SECONDS,
                consumed_at: None,
            },
            authorization.redirect_uri(),
            now,
        )
        .await?;
    Ok(code)
}

/// Back to the application with the code (or the code page, without a
/// redirect URI).
pub fn finish(authorization: &Authorization, code: &str, status: StatusCode) -> Response {
    match &authorization.return_to {
        ReturnTo::Redirect(uri) => {
            let mut pairs = vec![("code", code)];
            if let Some(state) = authorization.state.as_deref() {
                pairs.push(("state", state));
            }
            redirect(status, &login::callback_url(uri, &pairs))
        }
        ReturnTo::Paste => html(StatusCode::OK, login_html::code_page(code)),
    }
}

/// A refusal as RFC 6749 section 4.1.2.1 wants it: a page for a bad
/// client or redirect URI, else back to the redirect URI with `status`.
pub fn refuse(refusal: Refusal, status: StatusCode) -> Response {
    match refusal {
        Refusal::Page { message } => error_page(StatusCode::BAD_REQUEST, &message),
        Refusal::Redirect {
            redirect_uri,
            error,
            description,
            state,
        } => {
            let mut pairs = vec![
                ("error", error),
                ("error_description", description.as_str()),
            ];
            if let Some(state) = state.as_deref() {
                pairs.push(("state", state));
            }
            redirect(status, &login::callback_url(&redirect_uri, &pairs))
        }
    }
}
