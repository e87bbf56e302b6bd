//! `GET`/`POST /login?next=…`: the app's sign-in page, where a person who
//! is not signed in is sent before today's consent (the real entry is
//! `login_required`). Signing in replaces the browser's session, exactly
//! as the interactive login's form does, and sends the browser on to
//! `next`, an in-app path only. Before sign-in nothing is stored: the form
//! is guarded by the anonymous form cookie, and its password goes through
//! the sign-in throttle (`session::check_password`), as the interactive
//! login's does.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use protocol::credential::hash_secret;

use crate::browser::{error_page, html, redirect, set_cookie, Form, PageFailure};
use crate::consent::in_app_path;
use crate::forms::LoginForm;
use crate::login::{STALE_FORM, WRONG_CREDENTIALS};
use crate::login_html;
use crate::session::{self, ClientAddress, SignIn, Visitor};
use crate::sign_in_throttle::TOO_MANY_FAILED_ATTEMPTS;
use crate::state::AppState;

/// The sign-in form (or straight on to `next` when already signed in).
#[utoipa::path(
    get,
    path = "/login",
    tag = "app",
    params(("next" = Option<String>, Query, description = "An in-app path to return to after signing in (default `/`)")),
    responses(
        (status = 200, description = "The sign-in form (sets the anonymous form cookie `posthog_form` when the browser has none; stores nothing)", content_type = "text/html"),
        (status = 302, description = "Already signed in: to `next`", headers(("Location" = String))),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageFailure> {
    let form: LoginForm =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let next = in_app_path(form.next.as_deref());
    Ok(match session::current(&state, &headers).await? {
        Some(_) => redirect(StatusCode::FOUND, next),
        None => {
            let form = session::anonymous_form(&state, &headers);
            let mut response = html(
                StatusCode::OK,
                login_html::login_page(next, &form.csrf_token, None),
            );
            form.set_cookie(&mut response);
            response
        }
    })
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
        (status = 403, description = "Missing session or form cookie, or CSRF token mismatch: an HTML page", content_type = "text/html"),
        (status = 413, description = "A form over 64 KiB", content_type = "text/html"),
        (status = 429, description = "30 failed sign-ins from this client address or for this email within 10 minutes: the form again, refused whatever the password until 10 minutes after the last failure", content_type = "text/html", headers(("Retry-After" = i64, description = "Seconds until the lockout ends"))),
    )
)]
pub async fn submit(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageFailure> {
    let next = in_app_path(form.next.as_deref());
    // The form must come from a page this browser was shown.
    let visitor = session::visitor(&state, &headers).await?;
    let csrf_token = match visitor.csrf_token() {
        Some(token) if visitor.sent(form.csrf_token.as_deref()) => token,
        _ => return Ok(error_page(StatusCode::FORBIDDEN, STALE_FORM)),
    };
    let email = form.email.as_deref().unwrap_or("");
    let password = form.password.as_deref().unwrap_or("");
    let user = match session::check_password(&state, client, email, password).await? {
        SignIn::Accepted(user) => user,
        SignIn::Refused => {
            let page = login_html::login_page(next, csrf_token, Some(WRONG_CREDENTIALS));
            return Ok(html(StatusCode::UNAUTHORIZED, page));
        }
        SignIn::Locked(locked) => {
            let page = login_html::login_page(next, csrf_token, Some(TOO_MANY_FAILED_ATTEMPTS));
            return Ok(session::locked_out(page, locked));
        }
    };
    // A new session for the user: an id planted before sign-in is worthless.
    if let Visitor::Session { id, .. } = &visitor {
        state.db.delete_session(&hash_secret(id)).await?;
    }
    let (id, session) = session::start(&state, user.id).await?;
    tracing::info!(user = %user.uuid, "signed in");
    let mut response = redirect(StatusCode::SEE_OTHER, next);
    set_cookie(&mut response, &id, session.expires_at - state.clock.now());
    Ok(response)
}
