//! `x-request-id`: the caller's when [`protocol::request_id::accept`] takes
//! it, else a new one. Every answer carries it, the journal and the log line
//! record it, and the messages handler passes it on to introspection. Once
//! the live view asked, the exchange's masked details are kept here too
//! (`crate::live`).

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use protocol::REQUEST_ID_HEADER;

use crate::state::AppState;

/// The request's id, stored in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

pub async fn layer(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(protocol::request_id::accept)
        .map(str::to_owned);
    let id = match presented {
        Some(id) => id,
        None => format!("req_{}", state.random.uuid()),
    };
    request.extensions_mut().insert(RequestId(id.clone()));
    // Only once the live view asked, and never for the admin routes.
    let watched = state.details.watched() && !request.uri().path().starts_with("/_admin/");
    let request_headers = watched.then(|| request.headers().clone());
    // The body is noted only while watched: the scope moves the handler's
    // future once more.
    let (mut response, request_body) = match watched {
        true => crate::live::reading_body(next.run(request)).await,
        false => (next.run(request).await, None),
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    if let Some(request_headers) = request_headers {
        let kept = state.details.clone();
        response = crate::live::keep(kept, &id, &request_headers, request_body, response).await;
    }
    response
}
