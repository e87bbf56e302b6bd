//! The admin live view (protocol section 10, the simulator's own surface):
//! `GET /_admin/live/enter?ticket=…` spends a one-time link and sets the
//! viewer cookie; `GET /_admin/live` is the page; `GET
//! /_admin/live/exchanges` the newest entries of this server's journal and
//! of its gateway's (read with the same admin token), which the page polls;
//! `GET /_admin/live/exchanges/{request_id}` one server exchange's masked
//! headers and bodies; `GET /_admin/live/gateway/exchanges/{request_id}`
//! one of the gateway's (asked of it with the admin token; it keeps them
//! once the view's journal reads asked with `watch=true`); `POST
//! /_admin/live/link` (Bearer admin token) draws a new link. Without
//! `--admin-token` every one of them is 404, as the other admin routes.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use protocol::admin::{ExchangeDetail, Journal, JournalEntry, LiveExchanges, LiveLink};
use protocol::paths;

use crate::browser::{html, redirect};
use crate::error::{ApiError, PlainRefusal};
use crate::extract::{PageQuery, PathId};
use crate::http::bearer;
use crate::live_view::{viewer_cookie, viewer_id};
use crate::live_view_html;
use crate::state::AppState;

/// The newest entries of each journal the page shows.
pub const SHOWN_ENTRIES: usize = 200;

/// How long the server waits for its gateway's journal.
const GATEWAY_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Default, Deserialize)]
pub struct EnterQuery {
    #[serde(default)]
    ticket: String,
}

/// Opens the live view with a one-time link.
#[utoipa::path(
    get,
    path = "/_admin/live/enter",
    tag = "admin",
    params(("ticket" = String, Query, description = "The one-time ticket of the link printed at start (or drawn by `POST /_admin/live/link`)")),
    responses(
        (status = 303, description = "The ticket was live and is now spent: to `/_admin/live`, setting the viewer cookie `posthog_admin_view` (Path=/_admin/live; HttpOnly; SameSite=Strict)", headers(("Location" = String), ("Set-Cookie" = String))),
        (status = 401, description = "An unknown or spent ticket: a page saying so", content_type = "text/html"),
        (status = 404, description = "The server runs without `--admin-token`", body = protocol::error::PlainError),
    )
)]
pub async fn enter(
    State(state): State<AppState>,
    PageQuery(query): PageQuery<EnterQuery>,
) -> Response {
    if state.admin_token.is_none() {
        return not_mounted();
    }
    let Some(viewer) = state.live_view.redeem(&query.ticket, state.random.as_ref()) else {
        return refused("This admin link is unknown or was already opened: each link opens the view once. Draw a new one with POST /_admin/live/link and the admin token, or restart the server.");
    };
    let mut response = redirect(StatusCode::SEE_OTHER, paths::ADMIN_LIVE);
    if let Ok(value) = HeaderValue::from_str(&viewer_cookie(&viewer)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The live view's page.
#[utoipa::path(
    get,
    path = "/_admin/live",
    tag = "admin",
    responses(
        (status = 200, description = "A viewer (the cookie `posthog_admin_view`) or the admin token as Bearer: the page, which polls `/_admin/live/exchanges` every second", content_type = "text/html"),
        (status = 401, description = "Neither: a page saying the view needs the admin link", content_type = "text/html"),
        (status = 404, description = "The server runs without `--admin-token`", body = protocol::error::PlainError),
    )
)]
pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if state.admin_token.is_none() {
        return not_mounted();
    }
    if !is_viewer(&state, &headers) {
        return refused("The live view opens only through the admin link the server printed at start (or one drawn with POST /_admin/live/link and the admin token).");
    }
    html(StatusCode::OK, live_view_html::PAGE.to_owned())
}

/// The newest exchanges, for the page.
#[utoipa::path(
    get,
    path = "/_admin/live/exchanges",
    tag = "admin",
    responses(
        (status = 200, description = "The newest 200 entries of the server's journal and of its gateway's, oldest first, credentials masked; `gateway` is absent with `gateway_error` when its journal could not be read", body = LiveExchanges),
        (status = 401, description = "Neither a viewer cookie nor the admin token", body = protocol::error::PlainError),
        (status = 404, description = "The server runs without `--admin-token`", body = protocol::error::PlainError),
    )
)]
pub async fn exchanges(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(refusal) = viewer_refusal(&state, &headers) {
        return refusal;
    }
    let server = state.journal.newest(SHOWN_ENTRIES);
    let (gateway, gateway_error) = match gateway_journal(&state).await {
        Ok(entries) => (Some(newest(entries)), None),
        Err(error) => (None, Some(error)),
    };
    let mut response = Json(LiveExchanges {
        server,
        gateway,
        gateway_error,
    })
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The answer to a data route of the view when the caller may not read
/// it: 404 as if unmounted without `--admin-token`, 401 without a viewer
/// cookie or the admin token; `None` when it may.
fn viewer_refusal(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    if state.admin_token.is_none() {
        return Some(not_mounted());
    }
    if !is_viewer(state, headers) {
        return Some(
            PlainRefusal(ApiError::Unauthorized(
                "The live view needs its viewer cookie (open the admin link) or the admin token"
                    .into(),
            ))
            .into_response(),
        );
    }
    None
}

/// One server exchange's headers and bodies, masked.
#[utoipa::path(
    get,
    path = "/_admin/live/exchanges/{request_id}",
    tag = "admin",
    params(("request_id" = String, Path, description = "The exchange's request id, as its journal entry names it")),
    responses(
        (status = 200, description = "Its request and response headers and bodies (the first 4 KiB), masked: credentials and cookies keep their names and prefixes only, secret form fields and JSON keys by name, any run of 32 or more URL-safe characters but a UUID or a `phc_` key", body = ExchangeDetail),
        (status = 401, description = "Neither a viewer cookie nor the admin token", body = protocol::error::PlainError),
        (status = 404, description = "Not kept: it came before anyone opened the view, is one of the gateway's (see `/_admin/live/gateway/exchanges/{request_id}`), or is older than the newest 200; or the server runs without `--admin-token`", body = protocol::error::PlainError),
    )
)]
pub async fn detail(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathId(request_id): PathId,
) -> Response {
    if let Some(refusal) = viewer_refusal(&state, &headers) {
        return refusal;
    }
    match state.live_view.detail(&request_id) {
        Some(detail) => no_store(detail),
        None => PlainRefusal(ApiError::NotFound(
            "No details are kept for that exchange".into(),
        ))
        .into_response(),
    }
}

/// One gateway exchange's headers and bodies, masked by the gateway.
#[utoipa::path(
    get,
    path = "/_admin/live/gateway/exchanges/{request_id}",
    tag = "admin",
    params(("request_id" = String, Path, description = "The gateway exchange's request id, as the gateway's journal entry names it")),
    responses(
        (status = 200, description = "Its request and response headers and bodies as the gateway kept them (the first 4 KiB; a streamed answer as the text of its events), masked as the server's are", body = ExchangeDetail),
        (status = 401, description = "Neither a viewer cookie nor the admin token", body = protocol::error::PlainError),
        (status = 404, description = "The gateway keeps none for it: it came before the view first asked the gateway's journal, or is older than the gateway's newest 200; or the server runs without `--admin-token`", body = protocol::error::PlainError),
        (status = 502, description = "The gateway is not configured, unreachable, or answered something else", body = protocol::error::PlainError),
    )
)]
pub async fn gateway_detail(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathId(request_id): PathId,
) -> Response {
    if let Some(refusal) = viewer_refusal(&state, &headers) {
        return refusal;
    }
    match gateway_exchange(&state, &request_id).await {
        Ok(Some(detail)) => no_store(detail),
        Ok(None) => PlainRefusal(ApiError::NotFound(
            "The gateway keeps no details for that exchange".into(),
        ))
        .into_response(),
        Err(error) => (
            StatusCode::BAD_GATEWAY,
            Json(protocol::error::PlainError {
                error: protocol::error::ErrorBody::new(
                    "bad_gateway",
                    protocol::credential::redact_secret_shaped(&error),
                ),
            }),
        )
            .into_response(),
    }
}

fn no_store(detail: ExchangeDetail) -> Response {
    let mut response = Json::<ExchangeDetail>(detail).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Draws a new one-time link.
#[utoipa::path(
    post,
    path = "/_admin/live/link",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A new one-time link to the live view (Authorization: Bearer <admin token>)", body = LiveLink),
        (status = 401, description = "Without the admin token", body = protocol::error::PlainError),
        (status = 404, description = "The server runs without `--admin-token`", body = protocol::error::PlainError),
    )
)]
pub async fn link(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if state.admin_token.is_none() {
        return not_mounted();
    }
    if !holds_admin_token(&state, &headers) {
        return PlainRefusal(ApiError::Unauthorized(
            "Drawing an admin link needs Authorization: Bearer <admin token>".into(),
        ))
        .into_response();
    }
    Json(LiveLink {
        url: enter_url(&state),
    })
    .into_response()
}

/// A new one-time link to the live view on `state`'s public URL.
pub fn enter_url(state: &AppState) -> String {
    let ticket = state.live_view.issue_ticket(state.random.as_ref());
    format!(
        "{}{}?ticket={ticket}",
        state.public_url,
        paths::ADMIN_LIVE_ENTER
    )
}

fn is_viewer(state: &AppState, headers: &HeaderMap) -> bool {
    let cookies = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect::<Vec<_>>()
        .join("; ");
    let viewer = viewer_id(&cookies).is_some_and(|viewer| state.live_view.admits(viewer));
    viewer || holds_admin_token(state, headers)
}

fn holds_admin_token(state: &AppState, headers: &HeaderMap) -> bool {
    let expected = state.admin_token.as_deref().unwrap_or_default();
    let presented = bearer(headers).unwrap_or_default();
    !expected.is_empty() && protocol::credential::constant_time_eq(expected, presented)
}

/// The gateway's journal, read with this server's admin token.
async fn gateway_journal(state: &AppState) -> Result<Vec<JournalEntry>, String> {
    let Some(gateway) = &state.wizard_gateway else {
        return Err("no gateway is configured (--wizard-gateway-url)".into());
    };
    let token = state.admin_token.as_deref().unwrap_or_default();
    // `watch=true`: the gateway keeps its exchanges' details from now on.
    let url = format!("{}{}?watch=true", gateway.url, paths::ADMIN_JOURNAL);
    let answer = gateway
        .client
        .get(&url)
        .bearer_auth(token)
        .timeout(GATEWAY_TIMEOUT)
        .send()
        .await
        .map_err(|error| format!("{url}: {}", error.without_url()))?;
    if !answer.status().is_success() {
        return Err(format!("{url} answered {}", answer.status()));
    }
    let journal: Journal = answer
        .json()
        .await
        .map_err(|error| format!("{url}: {}", error.without_url()))?;
    Ok(journal.entries)
}

/// One of the gateway's kept exchanges (`None` when it keeps none).
async fn gateway_exchange(
    state: &AppState,
    request_id: &str,
) -> Result<Option<ExchangeDetail>, String> {
    let Some(gateway) = &state.wizard_gateway else {
        return Err("no gateway is configured (--wizard-gateway-url)".into());
    };
    let token = state.admin_token.as_deref().unwrap_or_default();
    let mut url = reqwest::Url::parse(&gateway.url).map_err(|error| error.to_string())?;
    url.path_segments_mut()
        .map_err(|()| "the gateway's URL cannot take a path".to_owned())?
        .pop_if_empty()
        .extend(["_admin", "exchanges", request_id]);
    let shown = format!("{}{}/…", gateway.url, paths::ADMIN_EXCHANGES);
    let answer = gateway
        .client
        .get(url)
        .bearer_auth(token)
        .timeout(GATEWAY_TIMEOUT)
        .send()
        .await
        .map_err(|error| format!("{shown}: {}", error.without_url()))?;
    if answer.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !answer.status().is_success() {
        return Err(format!("{shown} answered {}", answer.status()));
    }
    answer
        .json()
        .await
        .map(Some)
        .map_err(|error| format!("{shown}: {}", error.without_url()))
}

fn newest(mut entries: Vec<JournalEntry>) -> Vec<JournalEntry> {
    let cut = entries.len().saturating_sub(SHOWN_ENTRIES);
    entries.drain(..cut);
    entries
}

fn refused(message: &str) -> Response {
    html(StatusCode::UNAUTHORIZED, live_view_html::refused(message))
}

fn not_mounted() -> Response {
    PlainRefusal(ApiError::NotFound(
        "The admin routes are mounted only with --admin-token".into(),
    ))
    .into_response()
}
