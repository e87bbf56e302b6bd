//! `GET /project/{id}`: a tiny stand-in for PostHog's app, so a deep link's
//! redirect lands somewhere. It names the project and its organization,
//! whose default name holds the signup's email, so it is shown only to a
//! signed-in member of that organization (issue 14, class 6): a visitor
//! without a signed-in session is sent to the sign-in page with this path
//! as `next`, as the real app sends anyone it does not know; a signed-in
//! person outside the organization gets the same 404 page as an unknown,
//! removed or malformed project, so the page tells nobody which ids exist.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;

use crate::browser::{html, redirect, PageFailure};
use crate::consent::sign_in_location;
use crate::extract::PathId;
use crate::session;
use crate::state::AppState;

/// The page every project the visitor may not see gets, whether it exists
/// or not.
const NOT_FOUND_PAGE: &str = "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Not found</title></head>\n<body><h1>No such project</h1></body></html>\n";

/// The project's page.
#[utoipa::path(
    get,
    path = "/project/{id}",
    tag = "app",
    params(("id" = String, Path, description = "The team id")),
    responses(
        (status = 200, description = "Signed in as a member of the project's organization: an HTML page naming the project", content_type = "text/html"),
        (status = 302, description = "No signed-in session (the `posthog_session` cookie): to the sign-in page with this path as `next` (`/login?next=%2Fproject%2F<id>`)", headers(("Location" = String))),
        (status = 404, description = "Signed in, and no such project, a removed one or one of an organization the person is not in (one page for all)", content_type = "text/html"),
    )
)]
pub async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    PathId(id): PathId,
) -> Result<Response, PageFailure> {
    let user_id = session::current(&state, &headers)
        .await?
        .map(|(_, session)| session.user_id);
    let Some(user_id) = user_id else {
        // The routed path (trailing slash trimmed) starts with `/project/`
        // and is still percent-encoded: an in-app path `/login` accepts.
        return Ok(redirect(StatusCode::FOUND, &sign_in_location(uri.path())));
    };
    let Ok(team_id) = id.parse::<i64>() else {
        return Ok(not_found());
    };
    // The user's live teams, in every organization the user belongs to.
    let teams = state.db.teams_of_user(user_id).await?;
    Ok(match teams.into_iter().find(|team| team.id == team_id) {
        Some(team) => html(
            StatusCode::OK,
            format!(
                "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{name} · PostHog</title></head>\n<body><h1>Project {name}</h1>\n<p>Project id {id}, organization {organization}.</p></body></html>\n",
                name = escape_html(&team.name),
                id = team.id,
                organization = escape_html(&team.organization_name),
            ),
        ),
        None => not_found(),
    })
}

fn not_found() -> Response {
    html(StatusCode::NOT_FOUND, NOT_FOUND_PAGE.to_owned())
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
