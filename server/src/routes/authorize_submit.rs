//! `POST /oauth/authorize` (protocol section 6): the sign-in form
//! (`step=sign_in`) and the consent form (`step=consent`) of
//! `GET /oauth/authorize`. Both carry the authorize parameters as hidden
//! fields (checked again here, exactly as the GET checks them) and a CSRF
//! token: the session's, or, before sign-in, the anonymous form cookie's.
//! A password goes through the sign-in throttle (`session::check_password`).

use std::net::IpAddr;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use protocol::credential::hash_secret;

use crate::accounts::{create_default_team, real_teams};
use crate::authorization::{authorize, finish, issue_code, refuse};
use crate::browser::{error_page, html, parse_form, redirect, set_cookie, FormBytes, PageFailure};
use crate::error::ApiError;
use crate::forms::AuthorizeForm;
use crate::login::{
    self, Authorization, AuthorizeParams, Refusal, ReturnTo, STALE_FORM, WRONG_CREDENTIALS,
};
use crate::login_html;
use crate::session::{self, ClientAddress, SignIn, Visitor};
use crate::sign_in_throttle::TOO_MANY_FAILED_ATTEMPTS;
use crate::state::AppState;

/// Signs in, or records the consent decision.
#[utoipa::path(
    post,
    path = "/oauth/authorize",
    tag = "oauth",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "The fields of the sign-in form (`step=sign_in`, `email`, `password`) or the consent form (`step=consent`, `team_id`, `decision=allow|deny`), with `csrf_token` and the authorize parameters as hidden fields"),
    responses(
        (status = 303, description = "Signed in: back to `GET /oauth/authorize` (sets a new session cookie). Allowed: `redirect_uri?code=…&state=…`. Denied: `redirect_uri?error=access_denied&state=…`"),
        (status = 200, description = "Without a redirect_uri: the page showing the code", content_type = "text/html"),
        (status = 400, description = "Unknown client, unregistered redirect_uri, malformed form: an HTML page", content_type = "text/html"),
        (status = 401, description = "Wrong email or password: the sign-in form again", content_type = "text/html"),
        (status = 403, description = "Missing session or form cookie, or CSRF token mismatch: an HTML page", content_type = "text/html"),
        (status = 413, description = "A form over 64 KiB: an HTML page", content_type = "text/html"),
        (status = 429, description = "30 failed sign-ins from this client address or for this email within 10 minutes: the sign-in form again, refused whatever the password until 10 minutes after the last failure", content_type = "text/html", headers(("Retry-After" = i64, description = "Seconds until the lockout ends"))),
    )
)]
pub async fn submit(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    FormBytes(bytes): FormBytes,
) -> Result<Response, PageFailure> {
    let parsed = parse_form::<AuthorizeParams>(&bytes)
        .and_then(|params| Ok((params, parse_form::<AuthorizeForm>(&bytes)?)));
    let (params, submitted) = match parsed {
        Ok(parsed) => parsed,
        Err(malformed) => return Ok(malformed.into_response()),
    };
    let authorization = match authorize(&state, &params).await? {
        Ok(authorization) => authorization,
        Err(refusal) => return Ok(refuse(refusal, StatusCode::FOUND)),
    };
    // The form must come from a page this browser was shown: its session's
    // token, or before sign-in its anonymous form cookie's.
    let visitor = session::visitor(&state, &headers).await?;
    let csrf_token = match visitor.csrf_token() {
        Some(token) if visitor.sent(submitted.csrf_token.as_deref()) => token,
        _ => return Ok(error_page(StatusCode::FORBIDDEN, STALE_FORM)),
    };
    Ok(match submitted.step.as_deref() {
        Some("sign_in") => {
            sign_in(
                &state,
                client,
                &authorization,
                &visitor,
                csrf_token,
                &submitted,
            )
            .await?
        }
        Some("consent") => match visitor.user_id() {
            Some(user_id) => consent(&state, &authorization, user_id, &submitted).await?,
            None => html(
                StatusCode::OK,
                login_html::sign_in_page(
                    &params,
                    csrf_token,
                    &authorization.application.label,
                    None,
                ),
            ),
        },
        _ => error_page(
            StatusCode::BAD_REQUEST,
            "The form is malformed (unknown step).",
        ),
    })
}

async fn sign_in(
    state: &AppState,
    client: IpAddr,
    authorization: &Authorization,
    visitor: &Visitor,
    csrf_token: &str,
    submitted: &AuthorizeForm,
) -> Result<Response, ApiError> {
    let email = submitted.email.as_deref().unwrap_or("");
    let password = submitted.password.as_deref().unwrap_or("");
    let form_again = |error: &str| {
        login_html::sign_in_page(
            &authorization.params,
            csrf_token,
            &authorization.application.label,
            Some(error),
        )
    };
    let user = match session::check_password(state, client, email, password).await? {
        SignIn::Accepted(user) => user,
        SignIn::Refused => {
            return Ok(html(
                StatusCode::UNAUTHORIZED,
                form_again(WRONG_CREDENTIALS),
            ))
        }
        SignIn::Locked(locked) => {
            return Ok(session::locked_out(
                form_again(TOO_MANY_FAILED_ATTEMPTS),
                locked,
            ))
        }
    };
    // A new session for the user: an id planted before sign-in is worthless.
    if let Visitor::Session { id, .. } = visitor {
        state.db.delete_session(&hash_secret(id)).await?;
    }
    let (id, session) = session::start(state, user.id).await?;
    tracing::info!(user = %user.uuid, client_id = %authorization.application.client_id, "signed in");
    let location = format!(
        "{}?{}",
        protocol::paths::OAUTH_AUTHORIZE,
        login::authorize_query(&authorization.params)
    );
    let mut response = redirect(StatusCode::SEE_OTHER, &location);
    set_cookie(&mut response, &id, session.expires_at - state.clock.now());
    Ok(response)
}

async fn consent(
    state: &AppState,
    authorization: &Authorization,
    user_id: i64,
    submitted: &AuthorizeForm,
) -> Result<Response, ApiError> {
    match submitted.decision.as_deref() {
        Some("allow") => {}
        Some("deny") => {
            // A redirect after a POST is a 303 (RFC 9110 section 15.4.4).
            return Ok(match &authorization.return_to {
                ReturnTo::Redirect(uri) => refuse(
                    Refusal::Redirect {
                        redirect_uri: uri.clone(),
                        error: "access_denied",
                        description: "The user denied access".into(),
                        state: authorization.state.clone(),
                    },
                    StatusCode::SEE_OTHER,
                ),
                ReturnTo::Paste => error_page(StatusCode::OK, "You denied access."),
            });
        }
        _ => {
            return Ok(error_page(
                StatusCode::BAD_REQUEST,
                "The form is malformed (decision must be allow or deny).",
            ))
        }
    }
    let teams = real_teams(state, user_id).await?;
    let team_id = match (submitted.team_id.as_deref(), teams.as_slice()) {
        (Some("new"), []) => {
            let oldest = state
                .db
                .teams_of_user(user_id)
                .await?
                .first()
                .map(|team| team.organization_id.clone())
                .ok_or_else(|| ApiError::Internal("user without organization".into()))?;
            create_default_team(state, &oldest, state.clock.now()).await?
        }
        (Some(chosen), teams) => match teams
            .iter()
            .find(|team| chosen.parse::<i64>().is_ok_and(|id| id == team.id))
        {
            Some(team) => team.id,
            None => {
                return Ok(error_page(
                    StatusCode::BAD_REQUEST,
                    "That project is not one of yours.",
                ))
            }
        },
        (None, [first, ..]) => first.id,
        (None, []) => return Ok(error_page(StatusCode::BAD_REQUEST, "Choose a project.")),
    };
    let scopes = authorization.scopes.join(" ");
    state
        .db
        .remember_consent(
            user_id,
            &authorization.application.client_id,
            &scopes,
            team_id,
            state.clock.now(),
        )
        .await?;
    let code = issue_code(state, authorization, user_id, team_id).await?;
    Ok(finish(authorization, &code, StatusCode::SEE_OTHER))
}
