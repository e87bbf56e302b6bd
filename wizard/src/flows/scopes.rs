//! `scopes`: each scope the wizard would request, why it asks for it, and
//! whether the server's metadata (`scopes_supported`) says it can be had.

use protocol::oauth::AuthorizationServerMetadata;
use protocol::scope::{self, Scope};

use crate::config::ScopeRequest;
use crate::error::WizardError;
use crate::outcome::Outcome;
use crate::session::Session;

/// Prints the report; the server's verdict is advice, so a scope it would
/// refuse is no error here.
pub async fn run(session: &Session) -> Result<Outcome, WizardError> {
    let config = &session.config;
    let output = &session.output;
    let server = config.server_url();
    let url = format!("{server}{}", protocol::paths::AUTHORIZATION_SERVER_METADATA);
    let answer = session
        .send(
            "authorization server metadata",
            &url,
            session.client().get(&url),
        )
        .await?;
    let supported: Option<Vec<String>> = if answer.status.is_success() {
        answer
            .json::<AuthorizationServerMetadata>("the metadata endpoint")
            .ok()
            .map(|metadata| metadata.scopes_supported)
    } else {
        None
    };
    let requested = config.scopes.field().unwrap_or_default();
    output.line(format!(
        "Scopes the wizard requests ({}), checked against {server}:",
        which(&config.scopes)
    ));
    let mut refused = Vec::new();
    let mut unadvertised = Vec::new();
    for scope in &requested {
        let verdict = match &supported {
            Some(list) if list.contains(scope) => "supported",
            Some(_) if scope::ALWAYS_ALLOWED.contains(&scope.as_str()) => "always allowed",
            Some(_) if scope::never_advertised(scope) => {
                unadvertised.push(scope.clone());
                "not advertised"
            }
            Some(_) => {
                refused.push(scope.clone());
                "NOT SUPPORTED"
            }
            None => "unknown",
        };
        output.line(format!("  {scope:<24} {verdict:<14} {}", reason(scope)));
    }
    if !unadvertised.is_empty() {
        output.line(format!(
            "Not advertised: {}. The server lists only what any OAuth client can get; privileged (llm_gateway:*) and hidden (wizard_session:*) scopes are granted by an application's own ceiling, if at all.",
            unadvertised.join(", ")
        ));
    }
    match (&supported, refused.is_empty()) {
        (None, _) => output.line(format!(
            "The server did not publish scopes_supported ({}).",
            answer.status
        )),
        (Some(_), true) => output.line("The server advertises every other requested scope."),
        (Some(_), false) => output.line(format!(
            "The server will not grant: {}. Today's server refuses them at the token exchange (invalid_scope); older ones at the account request.",
            refused.join(", ")
        )),
    }
    Ok(Outcome::Explained)
}

/// Which `--scopes` choice the report is about.
fn which(request: &ScopeRequest) -> &'static str {
    match request {
        ScopeRequest::Signup => "signup",
        ScopeRequest::Login => "login",
        ScopeRequest::None => "none: the field is omitted",
        ScopeRequest::List(_) => "custom list",
    }
}

/// Why the wizard asks for `scope`, or what is wrong with it.
fn reason(scope: &str) -> &'static str {
    match (scope::wizard_reason(scope), Scope::parse(scope)) {
        (Some(reason), _) => reason,
        (None, Err(_)) if scope == "introspection" => {
            "token introspection (RFC 7662): granted whatever the application's ceiling, on today's server"
        }
        (None, Err(_)) => "not a scope: scopes look like resource:read or resource:write",
        (None, Ok(_)) => "not a scope the wizard uses",
    }
}
