//! `GET /_admin/journal` (with `?watch=true`, as the server's live view
//! asks, the gateway keeps the newest exchanges' masked headers and bodies
//! from then on), `GET /_admin/exchanges/{request_id}` (one of them),
//! `POST /_admin/reset`, the fault settings and the held requests (`GET
//! /_admin/held`, `POST /_admin/release`), only when the gateway runs with
//! `--admin-token`, and only with `Authorization: Bearer <token>`.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::credential::constant_time_eq;
use protocol::gateway::AUTHENTICATION_REQUIRED;

use crate::error::{detail, not_found};
use crate::state::AppState;

pub async fn journal(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(refusal) = refusal(&state, &headers) {
        return refusal;
    }
    // The live view watches: keep exchanges' details from now on (any
    // other query is ignored, as before).
    if query.is_some_and(|query| query.split('&').any(|pair| pair == "watch=true")) {
        state.details.watch();
    }
    Json(state.journal.snapshot()).into_response()
}

/// `GET /_admin/exchanges/{request_id}`: one exchange's masked headers and
/// bodies, or 404 when none are kept for it.
pub async fn exchange(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(request_id): Path<String>,
) -> Response {
    if let Some(refusal) = refusal(&state, &headers) {
        return refusal;
    }
    match state.details.detail(&request_id) {
        Some(detail) => {
            let mut response = Json(detail).into_response();
            response.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            response
        }
        None => detail(
            StatusCode::NOT_FOUND,
            "No details are kept for that exchange.",
        ),
    }
}

pub async fn reset(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refusal(&state, &headers) {
        return refusal;
    }
    state.journal.reset();
    state.details.clear();
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /_admin/faults`: the live settings, with remaining counts.
pub async fn faults(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refusal(&state, &headers) {
        return refusal;
    }
    Json(state.faults.settings()).into_response()
}

/// `GET /_admin/held`: how many requests the `hold` fault holds now.
pub async fn held(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refusal(&state, &headers) {
        return refusal;
    }
    Json(protocol::admin::Held {
        held: state.faults.held(),
    })
    .into_response()
}

/// `POST /_admin/release`: lets every held request go on.
pub async fn release(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refusal(&state, &headers) {
        return refusal;
    }
    let held = state.faults.release();
    tracing::info!(held, "released the held requests");
    Json(protocol::admin::Held { held }).into_response()
}

/// `POST /_admin/faults`: replaces every rule (an empty `rules` clears
/// them). A misspelt or impossible fault is a 400 naming it.
pub async fn set_faults(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(refusal) = refusal(&state, &headers) {
        return refusal;
    }
    let settings: protocol::admin::FaultSettings = match serde_json::from_slice(&body) {
        Ok(settings) => settings,
        Err(error) => {
            return detail(
                StatusCode::BAD_REQUEST,
                &format!("Invalid fault settings: {error}"),
            )
        }
    };
    if let Err(error) = crate::faults::validate(&settings) {
        return detail(
            StatusCode::BAD_REQUEST,
            &format!("Invalid fault settings: {error}"),
        );
    }
    tracing::info!(
        rules = settings.rules.len(),
        seed = settings.seed,
        "fault settings replaced"
    );
    state.faults.replace(settings);
    Json(state.faults.settings()).into_response()
}

/// The answer refusing the request, or `None` when the admin token matches.
fn refusal(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let Some(expected) = state.admin_token.as_deref() else {
        return Some(not_found());
    };
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(presented) if constant_time_eq(presented, expected) => None,
        _ => Some(detail(StatusCode::UNAUTHORIZED, AUTHENTICATION_REQUIRED)),
    }
}
