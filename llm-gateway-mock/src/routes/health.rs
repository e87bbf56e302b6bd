//! `GET /readyz` and `GET /_liveness`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use protocol::gateway::ReadyAnswer;

use crate::request_id::RequestId;
use crate::state::AppState;

/// Ready when introspection answers the gateway's credentials: an empty
/// token should get `200 {"active":false}`. A 401 or 403 means the
/// gateway's client credentials are wrong, so every request would fail:
/// not ready. A 5xx or no answer: not ready.
pub async fn readyz(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
) -> Response {
    let drawn = state.faults.draw("readyz");
    if let Some(delay) = drawn.delay {
        tokio::time::sleep(delay).await;
    }
    match drawn.failure {
        Some(protocol::admin::Fault::Status {
            status,
            retry_after_seconds,
        }) => {
            return crate::faults::status_response(status, retry_after_seconds);
        }
        Some(protocol::admin::Fault::Latency { .. }) | None => {}
        Some(_) => return crate::faults::broken_body("application/json", Vec::new(), 0),
    }
    let reason = match state.introspection.probe(&request_id).await {
        Ok(status) if status == 401 || status == 403 => Some(format!(
            "introspection at {} refused the gateway's client credentials (HTTP {status})",
            state.introspection.url()
        )),
        Ok(status) if status >= 500 => Some(format!(
            "introspection at {} answered HTTP {status}",
            state.introspection.url()
        )),
        Ok(_) => None,
        Err(error) => Some(error.to_string()),
    };
    match reason {
        None => Json(ReadyAnswer {
            ready: true,
            reason: None,
        })
        .into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(ReadyAnswer {
                ready: false,
                reason: Some(reason),
            }),
        )
            .into_response(),
    }
}

pub async fn liveness() -> &'static str {
    "ok"
}
