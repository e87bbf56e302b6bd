//! The pages of the interactive login: plain, small HTML with stable names
//! that a person can read and the e2e harness's browser can drive.
//!
//! Stable names (the contract with `e2e/src/browser.rs`):
//! - sign-in page: `<form id="sign-in" method="post" action="/oauth/authorize">`
//!   with inputs `email` and `password`, hidden `step=sign_in`,
//!   `csrf_token` and the authorize parameters; a refused sign-in shows
//!   `<p id="error">`;
//! - consent page: `<form id="consent" …>` with hidden `step=consent`,
//!   `csrf_token` and the authorize parameters, `<ul id="scopes">` with one
//!   `<li data-scope="…">` per granted scope, `<select name="team_id">`, and
//!   the buttons `name="decision" value="allow"` and `value="deny"`;
//! - the code page (no `redirect_uri`): `<code id="authorization-code">`;
//! - error pages: `<p id="error">`;
//! - `/login`: `<form id="sign-in" method="post" action="/login">` with
//!   `email`, `password`, hidden `next` and `csrf_token`;
//! - today's consent page (`/agentic/authorize`): `<form id="consent"
//!   method="post" action="/agentic/authorize">` with hidden `state` and
//!   `csrf_token`, `<ul id="scopes">` as above, `<select name="team_id">`
//!   and the button `name="decision" value="allow"`.

use crate::db::Team;
use crate::login::{Authorization, AuthorizeParams};

const FORM_ACTION: &str = protocol::paths::OAUTH_AUTHORIZE;

/// The sign-in form, with a message after a refused attempt.
pub fn sign_in_page(
    params: &AuthorizeParams,
    csrf_token: &str,
    application: &str,
    error: Option<&str>,
) -> String {
    let error = error
        .map(|message| format!("<p id=\"error\" role=\"alert\">{}</p>\n", escape(message)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in to PostHog</h1>\n\
         <p>{application} wants to access your PostHog account.</p>\n\
         {error}\
         <form id=\"sign-in\" method=\"post\" action=\"{FORM_ACTION}\">\n\
         {hidden}\
         <label>Email <input type=\"email\" name=\"email\" autocomplete=\"username\" required></label>\n\
         <label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label>\n\
         <button type=\"submit\">Sign in</button>\n\
         </form>\n",
        application = escape(application),
        hidden = hidden_fields(params, csrf_token, "sign_in"),
    );
    page("Sign in to PostHog", &body)
}

/// The consent form: the granted scopes and the team to use.
pub fn consent_page(
    authorization: &Authorization,
    csrf_token: &str,
    email: &str,
    teams: &[Team],
) -> String {
    let scopes: String = authorization
        .scopes
        .iter()
        .map(|scope| {
            format!(
                "<li data-scope=\"{scope}\">{scope}</li>\n",
                scope = escape(scope)
            )
        })
        .collect();
    let options: String = match teams {
        [] => "<option value=\"new\" selected>A new project</option>\n".to_owned(),
        teams => teams
            .iter()
            .enumerate()
            .map(|(index, team)| {
                format!(
                    "<option value=\"{id}\"{selected}>{name} ({organization})</option>\n",
                    id = team.id,
                    selected = if index == 0 { " selected" } else { "" },
                    name = escape(&team.name),
                    organization = escape(&team.organization_name),
                )
            })
            .collect(),
    };
    let body = format!(
        "<h1>Authorize {application}</h1>\n\
         <p>Signed in as {email}.</p>\n\
         <p>{application} will be able to:</p>\n\
         <ul id=\"scopes\">\n{scopes}</ul>\n\
         <form id=\"consent\" method=\"post\" action=\"{FORM_ACTION}\">\n\
         {hidden}\
         <label>Project <select name=\"team_id\">\n{options}</select></label>\n\
         <button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n\
         </form>\n",
        application = escape(&authorization.application.label),
        email = escape(email),
        hidden = hidden_fields(&authorization.params, csrf_token, "consent"),
    );
    page("Authorize access", &body)
}

/// `/login`: the sign-in form that returns to `next` (an in-app path).
pub fn login_page(next: &str, csrf_token: &str, error: Option<&str>) -> String {
    let error = error
        .map(|message| format!("<p id=\"error\" role=\"alert\">{}</p>\n", escape(message)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in to PostHog</h1>\n\
         {error}\
         <form id=\"sign-in\" method=\"post\" action=\"{action}\">\n\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\n\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\n\
         <label>Email <input type=\"email\" name=\"email\" autocomplete=\"username\" required></label>\n\
         <label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label>\n\
         <button type=\"submit\">Sign in</button>\n\
         </form>\n",
        action = crate::consent::SIGN_IN_PAGE,
        csrf = escape(csrf_token),
        next = escape(next),
    );
    page("Sign in to PostHog", &body)
}

/// Today's consent page for an existing user: which partner asks, for
/// which scopes (from the pending consent, never from the URL), and the
/// project the code is for.
pub fn agentic_consent_page(
    partner: &str,
    email: &str,
    scopes: &[String],
    teams: &[Team],
    state: &str,
    csrf_token: &str,
) -> String {
    let scopes: String = scopes
        .iter()
        .map(|scope| {
            format!(
                "<li data-scope=\"{scope}\">{scope}</li>\n",
                scope = escape(scope)
            )
        })
        .collect();
    let options: String = teams
        .iter()
        .enumerate()
        .map(|(index, team)| {
            format!(
                "<option value=\"{id}\"{selected}>{name} ({organization})</option>\n",
                id = team.id,
                selected = if index == 0 { " selected" } else { "" },
                name = escape(&team.name),
                organization = escape(&team.organization_name),
            )
        })
        .collect();
    let body = format!(
        "<h1>Connect {partner} to your PostHog account</h1>\n\
         <p>Signed in as {email}.</p>\n\
         <p>{partner} will be able to:</p>\n\
         <ul id=\"scopes\">\n{scopes}</ul>\n\
         <form id=\"consent\" method=\"post\" action=\"{action}\">\n\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\n\
         <input type=\"hidden\" name=\"state\" value=\"{state}\">\n\
         <label>Project <select name=\"team_id\">\n{options}</select></label>\n\
         <button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\n\
         </form>\n",
        partner = escape(partner),
        email = escape(email),
        action = crate::consent::CONSENT_PAGE,
        csrf = escape(csrf_token),
        state = escape(state),
    );
    page("Authorize access", &body)
}

/// Signed in as someone other than the email the partner asked for.
pub fn account_mismatch_page(expected: &str, current: &str, partner: &str) -> String {
    page(
        "Wrong account",
        &format!(
            "<h1>Wrong account</h1>\n<p id=\"error\" role=\"alert\">{partner} asked to connect {expected}, but you are signed in as {current}. Sign in as {expected} and open the link again.</p>\n",
            partner = escape(partner),
            expected = escape(expected),
            current = escape(current),
        ),
    )
}

/// The code, for a request without `redirect_uri`: the person pastes it
/// into the program that asked.
pub fn code_page(code: &str) -> String {
    page(
        "Signed in",
        &format!(
            "<h1>Signed in</h1>\n<p>Paste this code into the program that sent you here:</p>\n\
             <p><code id=\"authorization-code\">{}</code></p>\n<p>It works once, within 5 minutes.</p>\n",
            escape(code)
        ),
    )
}

/// A refusal shown to the person (never a redirect).
pub fn error_page(message: &str) -> String {
    page(
        "Cannot sign in",
        &format!(
            "<h1>Cannot sign in</h1>\n<p id=\"error\" role=\"alert\">{}</p>\n",
            escape(message)
        ),
    )
}

fn hidden_fields(params: &AuthorizeParams, csrf_token: &str, step: &str) -> String {
    let mut fields = vec![("step", step), ("csrf_token", csrf_token)];
    fields.extend(params.hidden_fields());
    fields
        .into_iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">\n",
                escape(value)
            )
        })
        .collect()
}

/// A whole page. Its empty icon keeps a browser from asking the server
/// for `/favicon.ico` at a moment of its own choosing (which would make
/// a run's journal differ from the next).
fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <link rel=\"icon\" href=\"data:,\">\n<title>{}</title>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

/// Escapes text for HTML content and double- or single-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        let params = AuthorizeParams {
            state: Some("\"><script>".into()),
            ..AuthorizeParams::default()
        };
        let html = sign_in_page(&params, "t", "<App>", Some("Wrong & bad"));
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("value=\"&quot;&gt;&lt;script&gt;\""),
            "{html}"
        );
        assert!(html.contains("&lt;App&gt;"));
        assert!(html.contains("<p id=\"error\" role=\"alert\">Wrong &amp; bad</p>"));
        assert!(html.contains("name=\"csrf_token\" value=\"t\""));
    }
}
