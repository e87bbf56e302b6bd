//! `GET`/`POST /login?next=…`: the app's sign-in page, where a person who
//! is not signed in is sent before today's consent (the real entry is
//! `login_required`). Signing in replaces the browser's session, exactly
//! as the interactive login's form does, and sends the browser on to
//! `next`, an in-app path only.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use protocol::credential::{constant_time_eq, hash_secret};

use crate::error::ApiError;
use crate::login::{self, STALE_FORM, WRONG_CREDENTIALS};
use crate::login_html;
use crate::routes::authorize::{
    current_session, error_page, html, internal, new_session, read_form, redirect, set_cookie,
};
use crate::state::AppState;

#[derive(Debug, Clone, Default, Deserialize)]
struct LoginForm {
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    csrf_token: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// The sign-in form (or straight on to `next` when already signed in).
#[utoipa::path(
    get,
    path = "/login",
    tag = "app",
    params(("next" = Option<String>, Query, description = "An in-app path to return to after signing in (default `/`)")),
    responses(
        (status = 200, description = "The sign-in form (sets the session cookie)", content_type = "text/html"),
        (status = 302, description = "Already signed in: to `next`", headers(("Location" = String))),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let form: LoginForm =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let next = in_app_path(form.next.as_deref());
    match show_inner(&state, &headers, next).await {
        Ok(response) => response,
        Err(error) => internal(error),
    }
}

async fn show_inner(
    state: &AppState,
    headers: &HeaderMap,
    next: &str,
) -> Result<Response, ApiError> {
    match current_session(state, headers).await? {
        Some((_, session)) if session.user_id.is_some() => Ok(redirect(StatusCode::FOUND, next)),
        Some((_, session)) => Ok(html(
            StatusCode::OK,
            login_html::login_page(next, &session.csrf_token, None),
        )),
        None => {
            let (id, session) = new_session(state, None).await?;
            let mut response = html(
                StatusCode::OK,
                login_html::login_page(next, &session.csrf_token, None),
            );
            set_cookie(&mut response, &id, session.expires_at - state.clock.now());
            Ok(response)
        }
    }
}

/// Signs in and goes on to `next`.
#[utoipa::path(
    post,
    path = "/login",
    tag = "app",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`email`, `password`, `next`, and the form's `csrf_token`"),
    responses(
        (status = 303, description = "Signed in (a new session cookie): to `next`", headers(("Location" = String))),
        (status = 400, description = "Not a form: an HTML page", content_type = "text/html"),
        (status = 401, description = "Wrong email or password: the form again", content_type = "text/html"),
        (status = 403, description = "Missing session or CSRF token mismatch: an HTML page", content_type = "text/html"),
        (status = 413, description = "A form over 64 KiB", content_type = "text/html"),
    )
)]
pub async fn submit(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let form = match read_form::<LoginForm>(&headers, body).await {
        Ok(form) => form,
        Err(refusal) => return refusal,
    };
    match submit_inner(&state, &headers, &form).await {
        Ok(response) => response,
        Err(error) => internal(error),
    }
}

async fn submit_inner(
    state: &AppState,
    headers: &HeaderMap,
    form: &LoginForm,
) -> Result<Response, ApiError> {
    let next = in_app_path(form.next.as_deref());
    let Some((session_id, session)) = current_session(state, headers).await? else {
        return Ok(error_page(StatusCode::FORBIDDEN, STALE_FORM));
    };
    let token_matches = form
        .csrf_token
        .as_deref()
        .is_some_and(|sent| constant_time_eq(sent, &session.csrf_token));
    if !token_matches {
        return Ok(error_page(StatusCode::FORBIDDEN, STALE_FORM));
    }
    let email = form.email.as_deref().unwrap_or("");
    let password = form.password.as_deref().unwrap_or("");
    let Some(user) = login::check_password(state, email, password).await? else {
        let page = login_html::login_page(next, &session.csrf_token, Some(WRONG_CREDENTIALS));
        return Ok(html(StatusCode::UNAUTHORIZED, page));
    };
    // A new session for the user: an id planted before sign-in is worthless.
    state.db.delete_session(&hash_secret(&session_id)).await?;
    let (id, session) = new_session(state, Some(user.id)).await?;
    tracing::info!(user = %user.uuid, "signed in");
    let mut response = redirect(StatusCode::SEE_OTHER, next);
    set_cookie(&mut response, &id, session.expires_at - state.clock.now());
    Ok(response)
}

/// `next` when it is a path of this site (one leading `/`, no scheme, no
/// backslash, no control character or space), else `/`: the sign-in page
/// never sends a browser elsewhere.
pub fn in_app_path(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path
                    .chars()
                    .any(|c| c == '\\' || c.is_control() || c.is_whitespace()) =>
        {
            path
        }
        _ => "/",
    }
}

/// `/login?next=<path>`: where a person who is not signed in goes first.
pub fn sign_in_location(next: &str) -> String {
    format!(
        "{}?{}",
        crate::consent::SIGN_IN_PAGE,
        serde_urlencoded::to_string([("next", next)]).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        for (next, expected) in [
            (
                Some("/api/agentic/authorize?state=abc"),
                "/api/agentic/authorize?state=abc",
            ),
            (Some("/"), "/"),
            (None, "/"),
            (Some(""), "/"),
            (Some("https://evil.example/"), "/"),
            (Some("//evil.example/"), "/"),
            (Some("/\\evil.example"), "/"),
            (Some("/a b"), "/"),
            (Some("/a\nLocation: x"), "/"),
        ] {
            assert_eq!(in_app_path(next), expected, "{next:?}");
        }
        assert_eq!(
            sign_in_location("/api/agentic/authorize?state=a"),
            "/login?next=%2Fapi%2Fagentic%2Fauthorize%3Fstate%3Da"
        );
    }
}
