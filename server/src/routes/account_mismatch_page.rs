//! `GET /agentic/account-mismatch?expected_email&current_email&partner_name&state`:
//! where today's consent entry sends a person signed in as someone other
//! than the email the partner asked for. It only explains; it changes
//! nothing.

use axum::http::StatusCode;
use axum::response::Response;

use crate::browser::html;
use crate::extract::PageQuery;
use crate::forms::MismatchQuery;
use crate::login_html;

/// The account-mismatch page.
#[utoipa::path(
    get,
    path = "/agentic/account-mismatch",
    tag = "app",
    params(
        ("expected_email" = Option<String>, Query, description = "The email the partner asked for"),
        ("current_email" = Option<String>, Query, description = "The signed-in person's"),
        ("partner_name" = Option<String>, Query, description = "The partner's name"),
        ("state" = Option<String>, Query, description = "The pending consent (untouched)"),
    ),
    responses((status = 200, description = "What went wrong, in words", content_type = "text/html"))
)]
pub async fn handle(PageQuery(query): PageQuery<MismatchQuery>) -> Response {
    // The page shows the caller's query as text: a credential pasted into
    // it is shown masked, as every echo of caller text is (issue 14).
    let redact = protocol::credential::redact_secrets;
    let partner = match query.partner_name.as_str() {
        "" => "An application".to_owned(),
        name => redact(name),
    };
    html(
        StatusCode::OK,
        login_html::account_mismatch_page(
            &redact(&query.expected_email),
            &redact(&query.current_email),
            &partner,
        ),
    )
}
