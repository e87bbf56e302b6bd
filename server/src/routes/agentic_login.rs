//! `GET /agentic/login?token=…&team_id=…` (protocol section 4): follows a
//! deep link. The first follow within 600 s answers `302` to the link's
//! path (`/project/<team_id>` by default); any later follow, an expired
//! link, or a token the server does not know answers `410` with a small
//! page. All three pages say "This link is no longer valid"; the used and
//! expired pages then say which, since the server knows.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use protocol::credential::hash_secret;

use crate::db::lifecycle::LinkUse;
use crate::state::AppState;

/// The heading every refused link shows.
pub const NO_LONGER_VALID: &str = "This link is no longer valid";
pub const ALREADY_USED: &str = "It has already been used: each sign-in link works once.";
pub const EXPIRED: &str = "It has expired: sign-in links work for 10 minutes.";
pub const UNKNOWN: &str =
    "It is not a sign-in link this server issued, or its project was removed.";

/// Follows a deep link.
#[utoipa::path(
    get,
    path = "/agentic/login",
    tag = "app",
    params(
        ("token" = String, Query, description = "The deep link's single-use token"),
        ("team_id" = Option<String>, Query, description = "The project (informational; the token decides)"),
    ),
    responses(
        (status = 302, description = "Signed in: to /project/<team_id> or the link's path", headers(("Location" = String))),
        (status = 410, description = "Used, expired or unknown link: an HTML page saying which", content_type = "text/html"),
    )
)]
pub async fn handle(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let token = query
        .as_deref()
        .and_then(|query| serde_urlencoded::from_str::<Vec<(String, String)>>(query).ok())
        .and_then(|pairs| pairs.into_iter().find(|(name, _)| name == "token"))
        .map(|(_, token)| token)
        .filter(|token| !token.is_empty());
    let found = match token {
        Some(token) => state
            .db
            .use_deep_link(&hash_secret(&token), state.clock.now())
            .await
            .unwrap_or_else(|error| {
                tracing::error!(detail = %error, "deep link lookup failed");
                LinkUse::Unknown
            }),
        None => LinkUse::Unknown,
    };
    let reason = match found {
        LinkUse::Now(link) => {
            tracing::info!(team_id = link.team_id, "deep link followed");
            let mut response = StatusCode::FOUND.into_response();
            let headers = response.headers_mut();
            if let Ok(location) = HeaderValue::from_str(&link.path) {
                headers.insert(header::LOCATION, location);
            }
            no_store(headers);
            return response;
        }
        LinkUse::Used => ALREADY_USED,
        LinkUse::Expired => EXPIRED,
        LinkUse::Unknown => UNKNOWN,
    };
    let page = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{NO_LONGER_VALID}</title></head>\n<body><h1>{NO_LONGER_VALID}</h1>\n<p>{reason}</p>\n<p>Ask the application that sent you here for a new link.</p></body></html>\n"
    );
    let mut response = (StatusCode::GONE, Html(page)).into_response();
    no_store(response.headers_mut());
    response
}

/// The link's token is in the URL: keep it out of caches and referrers.
fn no_store(headers: &mut axum::http::HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}
