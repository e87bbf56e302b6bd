//! `GET /?error=…`: a tiny stand-in for PostHog's home page, where a
//! refused deep link lands (protocol section 4). It says, in words, why the
//! link did not sign the person in.

use axum::response::Html;

use crate::consent;
use crate::deep_link::{
    EXPIRED_OR_INVALID_TOKEN, MISSING_TOKEN, SERVICE_UNAVAILABLE, USER_NOT_FOUND,
};
use crate::extract::PageQuery;
use crate::forms::HomeQuery;

/// The home page (not in the OpenAPI document, whose paths never end in
/// `/`; like the app's other pages it is for browsers).
pub async fn handle(PageQuery(query): PageQuery<HomeQuery>) -> Html<String> {
    let body = match query.error.as_deref().map(explain) {
        Some(reason) => format!(
            "<h1>This link is no longer valid</h1>\n<p>{reason}</p>\n<p>Ask the application that sent you here for a new link.</p>"
        ),
        None => "<h1>PostHog</h1>".to_owned(),
    };
    Html(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>PostHog</title></head>\n<body>{body}</body></html>\n"
    ))
}

/// What a refusal means to the person who followed the link.
pub fn explain(error: &str) -> &'static str {
    match error {
        MISSING_TOKEN => "The link has no sign-in token: it was cut short when it was copied.",
        EXPIRED_OR_INVALID_TOKEN => {
            "It has already been used, or it has expired: sign-in links work once, for 10 minutes."
        }
        USER_NOT_FOUND => "The account it signs in to no longer exists.",
        SERVICE_UNAVAILABLE => "PostHog could not check it just now.",
        consent::MISSING_STATE => {
            "The consent link has no state: it was cut short when it was copied."
        }
        consent::EXPIRED_OR_INVALID_STATE => {
            "The consent link has expired (they work for 10 minutes) or was already used."
        }
        consent::NO_ORGANIZATION => "Your account belongs to no organization to connect.",
        consent::PARTNER_DEACTIVATED => {
            "The application that sent you here is no longer allowed to connect accounts."
        }
        _ => "It could not sign you in.",
    }
}
