//! `GET /`: the real gateway's service banner. Claude Code sends `HEAD` to
//! its base URL before the first call (a connection warm-up whose answer it
//! ignores); the real gateway, a FastAPI app, registers `/` for `GET` only,
//! so `HEAD /` is a 405 there, and `HEAD /wizard` (no route) a 404. Both are
//! answered the same way here.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// `GET /`.
pub async fn banner() -> Response {
    Json(json!({"service": "llm-gateway", "status": "running"})).into_response()
}

/// `HEAD /` (and any other method the root route lacks).
pub async fn method_not_allowed() -> Response {
    let mut response = crate::error::detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET"));
    response
}
