//! `--ci --api-key K`: a non-interactive integration with an existing
//! personal API key. The key's region is found first (both regions are
//! asked unless one is pinned); the gateway of that region is used after.

use crate::api;
use crate::api_key;
use crate::diagnose::KeySource;
use crate::error::WizardError;
use crate::integrate::{self, Target};
use crate::outcome::Outcome;
use crate::region;
use crate::session::Session;

/// Integrates the project `project_id` (default: the key's current one).
pub async fn run(
    session: &mut Session,
    api_key: &str,
    project_id: Option<i64>,
) -> Result<Outcome, WizardError> {
    let framework = integrate::detect(session)?;
    let key = api_key::given_key(session, api_key)?;
    let located = region::locate(session, &key).await?;
    located.settle(session);
    let session = &*session;
    let project_id = project_id.unwrap_or(located.me.team.id);
    let project = api::project(session, &located.server, &key, project_id).await?;
    session.output.line(format!(
        "Using project {} ({}) as {}.",
        project.id, project.name, located.me.email
    ));
    let evidence = integrate::evidence(session, &key, None, KeySource::GivenKey);
    let target = Target {
        framework,
        deep_link_token: None,
        project_id: project.id,
        project_name: Some(project.name),
        project_api_key: project.api_token,
        host: located.server,
    };
    integrate::integrate(session, &key, evidence, &target).await
}
