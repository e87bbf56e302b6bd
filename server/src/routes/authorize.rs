//! `GET /oauth/authorize` (protocol section 6): checks the request, then
//! shows the sign-in form (no session), the consent form (signed in), or
//! sends the browser straight back with a code (signed in, and consent to
//! these scopes remembered). The forms post to `POST /oauth/authorize`
//! (`authorize_submit.rs`); the rules live in `login.rs`, the pages in
//! `login_html.rs`.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use protocol::credential::hash_secret;

use crate::db::login::{LoginSession, NewSession};
use crate::db::{Code, Team};
use crate::error::ApiError;
use crate::login::{self, Authorization, AuthorizeParams, Refusal, ReturnTo};
use crate::login_html;
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
        (status = 200, description = "The sign-in form (sets the session cookie) or the consent form (HTML)", content_type = "text/html"),
        (status = 302, description = "Signed in with remembered consent: `redirect_uri?code=…&state=…`; or an error other than a bad client or redirect URI: `redirect_uri?error=…&state=…`"),
        (status = 400, description = "Unknown or inactive client, unregistered redirect_uri: an HTML page, never a redirect", content_type = "text/html"),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params: AuthorizeParams = match serde_urlencoded::from_str(query.as_deref().unwrap_or("")) {
        Ok(params) => params,
        Err(_) => return error_page(StatusCode::BAD_REQUEST, "The sign-in link is malformed."),
    };
    match show_inner(&state, &headers, &params).await {
        Ok(response) => response,
        Err(error) => internal(error),
    }
}

async fn show_inner(
    state: &AppState,
    headers: &HeaderMap,
    params: &AuthorizeParams,
) -> Result<Response, ApiError> {
    let authorization = match login::authorize(state, params).await? {
        Ok(authorization) => authorization,
        Err(refusal) => return Ok(refuse(refusal)),
    };
    let now = state.clock.now();
    let session = current_session(state, headers).await?;
    let Some((_, session)) = session else {
        let (id, session) = new_session(state, None).await?;
        let page = login_html::sign_in_page(
            params,
            &session.csrf_token,
            &authorization.application.label,
            None,
        );
        let mut response = html(StatusCode::OK, page);
        set_cookie(&mut response, &id, session.expires_at - now);
        return Ok(response);
    };
    let Some(user_id) = session.user_id else {
        let page = login_html::sign_in_page(
            params,
            &session.csrf_token,
            &authorization.application.label,
            None,
        );
        return Ok(html(StatusCode::OK, page));
    };
    let teams = real_teams(state, user_id).await?;
    // Remembered consent covering these scopes, for a team the user still
    // has: straight back with a code.
    if let Some(consent) = state
        .db
        .consent(user_id, &authorization.application.client_id)
        .await?
    {
        let team_still_there = teams.iter().any(|team| team.id == consent.team_id);
        if team_still_there && login::consent_covers(&consent.scopes, &authorization.scopes) {
            let code = issue_code(state, &authorization, user_id, consent.team_id).await?;
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

/// The session of the request's cookie, if it is live: its id and row.
pub(crate) async fn current_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(String, LoginSession)>, ApiError> {
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect::<Vec<_>>()
        .join("; ");
    let Some(id) = login::session_id(Some(&cookie)) else {
        return Ok(None);
    };
    let session = state
        .db
        .session(&hash_secret(id), state.clock.now())
        .await?;
    Ok(session.map(|session| (id.to_owned(), session)))
}

/// A new session (anonymous with `None`): its id, for the cookie, and row.
pub(crate) async fn new_session(
    state: &AppState,
    user_id: Option<i64>,
) -> Result<(String, LoginSession), ApiError> {
    let id = login::random_token(state);
    let csrf_token = login::random_token(state);
    let now = state.clock.now();
    let expires_at = now + login::SESSION_SECONDS;
    state
        .db
        .insert_session(&NewSession {
            id_hash: hash_secret(&id),
            user_id,
            csrf_token: csrf_token.clone(),
            now,
            expires_at,
        })
        .await?;
    Ok((
        id,
        LoginSession {
            user_id,
            csrf_token,
            expires_at,
        },
    ))
}

/// The user's non-demo teams, oldest membership first.
pub(crate) async fn real_teams(state: &AppState, user_id: i64) -> Result<Vec<Team>, ApiError> {
    Ok(state
        .db
        .teams_of_user(user_id)
        .await?
        .into_iter()
        .filter(|team| !team.is_demo)
        .collect())
}

/// A single-use, 300 s code bound to the challenge, the redirect URI, the
/// granted scopes and the team.
pub(crate) async fn issue_code(
    state: &AppState,
    authorization: &Authorization,
    user_id: i64,
    team_id: i64,
) -> Result<String, ApiError> {
    let code = login::random_token(state);
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
pub(crate) fn finish(authorization: &Authorization, code: &str, status: StatusCode) -> Response {
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

/// A refusal as RFC 6749 section 4.1.2.1 wants it.
pub(crate) fn refuse(refusal: Refusal) -> Response {
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
            redirect(
                StatusCode::FOUND,
                &login::callback_url(&redirect_uri, &pairs),
            )
        }
    }
}

pub(crate) fn set_cookie(response: &mut Response, id: &str, max_age: i64) {
    if let Ok(value) = HeaderValue::from_str(&login::session_cookie(id, max_age)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

pub(crate) fn redirect(status: StatusCode, location: &str) -> Response {
    let mut response = status.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    no_store(&mut response);
    response
}

pub(crate) fn html(status: StatusCode, page: String) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response();
    no_store(&mut response);
    // The consent page must not be framed by another site (clickjacking).
    response
        .headers_mut()
        .insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    html(status, login_html::error_page(message))
}

/// A browser form's bytes, or the page that refuses it: `413` over 64 KiB,
/// `400` when it was not sent as a form.
pub(crate) async fn form_bytes(
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<axum::body::Bytes, Response> {
    let Ok(bytes) = crate::http::read_body(body).await else {
        return Err(error_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The form is too large.",
        ));
    };
    if !crate::http::content_type_is(headers, "application/x-www-form-urlencoded") {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "The form was not sent as a form.",
        ));
    }
    Ok(bytes)
}

/// A browser form read into `T`, or the page that refuses it ([`form_bytes`],
/// and `400` when its fields do not parse).
pub(crate) async fn read_form<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<T, Response> {
    let bytes = form_bytes(headers, body).await?;
    serde_urlencoded::from_bytes(&bytes)
        .map_err(|_| error_page(StatusCode::BAD_REQUEST, "The form is malformed."))
}

/// A failure of the server itself, as a page (its detail is logged only).
pub(crate) fn internal(error: ApiError) -> Response {
    tracing::error!(%error, detail = ?error, "interactive login failed");
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong on our side. Try again.",
    )
}

fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}
