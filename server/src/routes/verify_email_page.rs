//! `GET /verify_email/{uuid}`: a tiny stand-in for PostHog's verify-email
//! page, where a deep link of a user whose email is not verified lands in
//! today's era (protocol section 4). It tells the person what to do; the
//! simulator sends no email.

use axum::response::Html;

use crate::extract::PathId;

/// The verify-email page.
#[utoipa::path(
    get,
    path = "/verify_email/{uuid}",
    tag = "app",
    params(("uuid" = String, Path, description = "The user's UUID")),
    responses((status = 200, description = "An HTML page asking the person to verify their email address", content_type = "text/html")),
)]
pub async fn handle(PathId(_uuid): PathId) -> Html<&'static str> {
    Html(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Verify your email · PostHog</title></head>\n<body><h1>Verify your email address</h1>\n<p>Before a sign-in link can open your account, PostHog needs to know the email address is yours: open the verification email PostHog sent you, then ask for a new sign-in link.</p></body></html>\n",
    )
}
