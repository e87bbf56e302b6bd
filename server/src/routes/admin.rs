//! The simulator's admin routes (protocol section 10), mounted only when
//! `--admin-token` is given, each requiring `Authorization: Bearer <token>`.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use protocol::admin::{ClockAdvance, ClockAnswer, Journal, StateSummary};

use crate::error::{ApiError, PlainRefusal};
use crate::extract::JsonBody;
use crate::http::bearer;
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
        return PlainRefusal(ApiError::Unauthorized(
            "The admin routes need Authorization: Bearer <admin token>".into(),
        ))
        .into_response();
    }
    next.run(request).await
}

pub async fn journal(State(state): State<AppState>) -> Json<Journal> {
    Json(Journal {
        entries: state.journal.entries(),
    })
}

pub async fn state_summary(
    State(state): State<AppState>,
) -> Result<Json<StateSummary>, PlainRefusal> {
    Ok(Json(state.db.state_summary().await?))
}

pub async fn clock(State(state): State<AppState>) -> Json<ClockAnswer> {
    Json(clock_answer(&state))
}

pub async fn advance_clock(
    State(state): State<AppState>,
    JsonBody(advance, _): JsonBody<ClockAdvance, PlainRefusal>,
) -> Result<Json<ClockAnswer>, PlainRefusal> {
    state.clock.advance(advance.advance_seconds).map_err(|_| {
        ApiError::InvalidRequest(format!(
            "advance_seconds would move the clock outside 1970-01-01..9999-12-31 (unix {}..={})",
            crate::clock::EARLIEST,
            crate::clock::LATEST
        ))
    })?;
    Ok(Json(clock_answer(&state)))
}

/// Forgets every account, credential and journal entry; keeps partners.
pub async fn reset(State(state): State<AppState>) -> Result<Json<serde_json::Value>, PlainRefusal> {
    state.db.reset().await?;
    state.journal.clear();
    Ok(Json(serde_json::json!({"status": "reset"})))
}

fn clock_answer(state: &AppState) -> ClockAnswer {
    ClockAnswer {
        now: state.clock.now(),
        offset_seconds: state.clock.offset(),
    }
}
