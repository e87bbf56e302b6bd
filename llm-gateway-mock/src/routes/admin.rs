//! `GET /_admin/journal` and `POST /_admin/reset`, only when the gateway
//! runs with `--admin-token`, and only with `Authorization: Bearer <token>`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::credential::constant_time_eq;
use protocol::gateway::AUTHENTICATION_REQUIRED;

use crate::error::detail;
use crate::AppState;

pub async fn journal(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refusal(&state, &headers) {
        return refusal;
    }
    Json(state.journal.snapshot()).into_response()
}

pub async fn reset(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refusal(&state, &headers) {
        return refusal;
    }
    state.journal.reset();
    StatusCode::NO_CONTENT.into_response()
}

/// The answer refusing the request, or `None` when the admin token matches.
fn refusal(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let Some(expected) = state.admin_token.as_deref() else {
        return Some(detail(StatusCode::NOT_FOUND, "Not found."));
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
