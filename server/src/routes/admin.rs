//! The simulator's admin routes (protocol section 10), mounted only when
//! `--admin-token` is given, each requiring `Authorization: Bearer <token>`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use protocol::admin::{ClockAdvance, ClockAnswer, Journal};

use crate::error::{ApiError, Envelope};
use crate::http::{bearer, parse_json, read_body};
use crate::state::AppState;

/// Refuses any admin request without the admin token.
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let expected = state.admin_token.as_deref().unwrap_or_default();
    let presented = bearer(request.headers()).unwrap_or_default();
    if expected.is_empty() || !protocol::credential::constant_time_eq(expected, presented) {
        return ApiError::Unauthorized(
            "The admin routes need Authorization: Bearer <admin token>".into(),
        )
        .into_envelope(Envelope::Plain);
    }
    next.run(request).await
}

pub async fn journal(State(state): State<AppState>) -> Response {
    let entries = state
        .journal
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .iter()
        .cloned()
        .collect();
    Json(Journal { entries }).into_response()
}

pub async fn state_summary(State(state): State<AppState>) -> Response {
    match state.db.state_summary().await {
        Ok(summary) => Json(summary).into_response(),
        Err(error) => ApiError::from(error).into_envelope(Envelope::Plain),
    }
}

pub async fn clock(State(state): State<AppState>) -> Response {
    Json(clock_answer(&state)).into_response()
}

pub async fn advance_clock(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let bytes = read_body(body).await?;
        let advance: ClockAdvance = parse_json(&headers, &bytes)?;
        state.clock.advance(advance.advance_seconds);
        Ok::<_, ApiError>(clock_answer(&state))
    }
    .await;
    match result {
        Ok(answer) => Json(answer).into_response(),
        Err(error) => error.into_envelope(Envelope::Plain),
    }
}

/// Forgets every account, credential and journal entry; keeps partners.
pub async fn reset(State(state): State<AppState>) -> Response {
    if let Err(error) = state.db.reset().await {
        return ApiError::from(error).into_envelope(Envelope::Plain);
    }
    state
        .journal
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clear();
    Json(serde_json::json!({"status": "reset"})).into_response()
}

fn clock_answer(state: &AppState) -> ClockAnswer {
    ClockAnswer {
        now: state.clock.now(),
        offset_seconds: state.clock.offset(),
    }
}
