//! `doctor`: the project's active health issues, grouped by severity (exit
//! 6 when there are any). With `--api-key` the key's region is found first;
//! without one, the person signs in through a browser.

use protocol::posthog::{HealthIssue, HealthIssues};

use crate::api;
use crate::api_key;
use crate::error::WizardError;
use crate::login;
use crate::outcome::Outcome;
use crate::region;
use crate::session::Session;

/// The severities in the order a person reads them; any other comes last.
const SEVERITIES: [&str; 3] = ["critical", "warning", "info"];

/// `doctor --api-key K`: the issues of `project_id` (default: the key's
/// current project), on the server that knows the key.
pub async fn with_key(
    session: &Session,
    api_key: &str,
    project_id: Option<i64>,
) -> Result<Outcome, WizardError> {
    let key = api_key::given_key(session, api_key)?;
    let located = region::locate(session, &key).await?;
    let project_id = project_id.unwrap_or(located.me.team.id);
    report(session, &located.server, &key, project_id).await
}

/// `doctor` without a key: signs in (asking for the login scopes, which
/// include `health_issue:read`), then the issues of `project_id` (default:
/// the user's current project).
pub async fn after_sign_in(
    session: &Session,
    project_id: Option<i64>,
) -> Result<Outcome, WizardError> {
    let signed_in = login::sign_in(session, None).await?;
    let server = session.config.server_url();
    let project_id = match project_id {
        Some(id) => id,
        None => api::me(session, &server, &signed_in.token).await?.team.id,
    };
    report(session, &server, &signed_in.token, project_id).await
}

/// Reads the active issues and prints them by severity.
async fn report(
    session: &Session,
    server: &str,
    key: &protocol::credential::Credential,
    project_id: i64,
) -> Result<Outcome, WizardError> {
    let path = api::health_issues_path(project_id);
    let answer = api::get_raw(session, server, &path, key).await?;
    let issues: HealthIssues = match answer.status.as_u16() {
        // A 403 that names no scope is still about this one.
        403 if api::missing_scope(&answer.message()).is_none() => {
            return Err(WizardError::Auth(api::explain_403(
                &path,
                "This action requires the 'health_issue:read' scope.",
                &session.log,
            )))
        }
        _ => api::read(session, &answer, &path)?,
    };
    let active: Vec<&HealthIssue> = issues
        .results
        .iter()
        .filter(|issue| issue.status == "active" && !issue.dismissed)
        .collect();
    let output = &session.output;
    if active.is_empty() {
        output.line(format!("No active health issues in project {project_id}."));
        return Ok(Outcome::HealthChecked { active: 0 });
    }
    output.line(format!(
        "{} active health issue{} in project {project_id}:",
        active.len(),
        if active.len() == 1 { "" } else { "s" }
    ));
    for severity in SEVERITIES {
        let group: Vec<_> = active
            .iter()
            .filter(|issue| issue.severity == severity)
            .collect();
        if group.is_empty() {
            continue;
        }
        output.line(format!("{severity} ({}):", group.len()));
        for issue in group {
            output.line(format!(
                "  - {} (since {}, id {})",
                issue.kind, issue.created_at, issue.id
            ));
        }
    }
    let other: Vec<_> = active
        .iter()
        .filter(|issue| !SEVERITIES.contains(&issue.severity.as_str()))
        .collect();
    if !other.is_empty() {
        output.line(format!("other ({}):", other.len()));
        for issue in other {
            output.line(format!(
                "  - {} [{}] (since {}, id {})",
                issue.kind, issue.severity, issue.created_at, issue.id
            ));
        }
    }
    Ok(Outcome::HealthChecked {
        active: active.len(),
    })
}
