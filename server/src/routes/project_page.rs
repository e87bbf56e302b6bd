//! `GET /project/{id}`: a tiny stand-in for PostHog's app, so a deep link's
//! redirect lands somewhere. It names the project; a removed or unknown one
//! is a 404 page.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::extract::PathId;
use crate::state::AppState;

/// The project's page.
#[utoipa::path(
    get,
    path = "/project/{id}",
    tag = "app",
    params(("id" = String, Path, description = "The team id")),
    responses(
        (status = 200, description = "An HTML page naming the project", content_type = "text/html"),
        (status = 404, description = "No such project", content_type = "text/html"),
    )
)]
pub async fn handle(State(state): State<AppState>, PathId(id): PathId) -> Response {
    let team = match id.parse::<i64>() {
        Ok(team_id) => state.db.team(team_id).await.unwrap_or_else(|error| {
            tracing::error!(detail = %error, "project lookup failed");
            None
        }),
        Err(_) => None,
    };
    match team {
        Some(team) => Html(format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{name} · PostHog</title></head>\n<body><h1>Project {name}</h1>\n<p>Project id {id}, organization {organization}.</p></body></html>\n",
            name = escape_html(&team.name),
            id = team.id,
            organization = escape_html(&team.organization_name),
        ))
        .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Html(
                "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Not found</title></head>\n<body><h1>No such project</h1></body></html>\n"
                    .to_owned(),
            ),
        )
            .into_response(),
    }
}

/// Escapes text for an HTML text node or a quoted attribute.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}
