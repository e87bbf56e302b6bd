//! What the gateway does around its router for every request: gives it
//! its id ([`RequestId`]: the caller's when `protocol::request_id::accept`
//! takes it, else a new one) and echoes it on the answer, and, once the
//! live view asked, keeps the exchange's masked details (`crate::live`).

use std::future::Future;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use axum::Router;
use protocol::REQUEST_ID_HEADER;

use crate::request_id::RequestId;
use crate::state::AppState;

/// The gateway's [`protocol::serve::Front`]: [`around`] its router.
#[derive(Clone)]
pub struct Front {
    pub(crate) state: AppState,
    pub(crate) router: Router,
}

impl protocol::serve::Front for Front {
    fn answer(&mut self, request: Request) -> impl Future<Output = Response> + Send + 'static {
        around(self.state.clone(), request, &mut self.router)
    }
}

/// Gives the request its id and echoes it on `router`'s answer.
pub fn around(
    state: AppState,
    mut request: Request,
    router: &mut Router,
) -> impl Future<Output = Response> + Send {
    let presented = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(RequestId::accepted);
    let id = presented.unwrap_or_else(|| RequestId::made(state.random.as_ref()));
    request.extensions_mut().insert(id.clone());
    // Only once the live view asked, and never for the admin routes.
    let watched = state.details.watched() && !request.uri().path().starts_with("/_admin/");
    let request_headers = watched.then(|| request.headers().clone());
    let routed = tower::Service::call(router, request);
    async move {
        let routed = async { routed.await.unwrap_or_else(|never| match never {}) };
        // The body is noted only while watched: the scope moves the
        // handler's future once more (boxed, so other requests' futures
        // stay small).
        let (mut response, request_body) = match watched {
            true => Box::pin(crate::live::reading_body(routed)).await,
            false => (routed.await, None),
        };
        if let Ok(value) = HeaderValue::try_from(id.as_str()) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
        }
        if let Some(request_headers) = request_headers {
            let kept = state.details.clone();
            response = Box::pin(crate::live::keep(
                kept,
                &id,
                &request_headers,
                request_body,
                response,
            ))
            .await;
        }
        response
    }
}
