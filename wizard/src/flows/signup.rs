//! `--signup --email E`: an account without a browser, then the agent with
//! its access token. An email that already has an account signs in instead
//! (the interactive login) and goes on with the project the API names.

use crate::api;
use crate::diagnose::KeySource;
use crate::error::WizardError;
use crate::framework::Framework;
use crate::integrate::{self, Target};
use crate::login::{self, SignedIn};
use crate::outcome::Outcome;
use crate::provisioning::{self, Applicant, SignIn, Started};
use crate::session::Session;

/// Signs `email` up (or in) and integrates the project; `project_id`
/// chooses the project after a sign-in (default: the user's current one).
pub async fn run(
    session: &Session,
    email: &str,
    name: Option<&str>,
    project_id: Option<i64>,
) -> Result<Outcome, WizardError> {
    let framework = integrate::detect(session)?;
    let provisioned = match provisioning::start(session, Applicant { email, name }).await? {
        Started::Provisioned(provisioned) => provisioned,
        Started::RequiresAuth { sign_in, verifier } => {
            session.output.line(format!(
                "{email} already has a PostHog account: sign in to continue."
            ));
            let signed_in = match sign_in {
                SignIn::Link(url) => login::sign_in_with_link(session, &url, &verifier).await?,
                SignIn::Consent { url, scope } => {
                    // Approving the consent link would send the code to the
                    // application's registered callback, not to this run:
                    // the wizard's own login asks for the same scopes.
                    session.log.line(format!(
                        "sign-in: the server asks for consent at {url}; using the wizard's own login instead"
                    ));
                    login::sign_in(session, scope.as_deref()).await?
                }
            };
            return integrate_signed_in(session, framework, signed_in, project_id).await;
        }
    };
    session.output.line(format!(
        "Account ready: project {} at {}.",
        provisioned.project_id, provisioned.host
    ));
    // The signup path goes to the gateway straight away with the access
    // token: it already knows the project, key and host.
    let evidence = integrate::evidence(
        session,
        &provisioned.access_token,
        Some(provisioned.granted_scope.clone()),
        KeySource::Signup,
    );
    let target = Target {
        framework,
        deep_link_token: Some(provisioned.access_token.clone()),
        project_id: provisioned.project_id,
        project_name: None,
        project_api_key: provisioned.project_api_key.clone(),
        host: provisioned.host.clone(),
    };
    integrate::integrate(session, &provisioned.access_token, evidence, &target).await
}

/// After a login: the project from the API, then the agent with the `pha_`.
async fn integrate_signed_in(
    session: &Session,
    framework: Framework,
    signed_in: SignedIn,
    project_id: Option<i64>,
) -> Result<Outcome, WizardError> {
    let server = session.config.server_url();
    let token = &signed_in.token;
    let project_id = match project_id {
        Some(id) => id,
        None => api::me(session, &server, token).await?.team.id,
    };
    let project = api::project(session, &server, token, project_id).await?;
    session
        .output
        .line(format!("Using project {} ({}).", project.id, project.name));
    let evidence = integrate::evidence(
        session,
        token,
        Some(signed_in.granted_scope.clone()),
        KeySource::SignIn,
    );
    let target = Target {
        framework,
        deep_link_token: Some(token.clone()),
        project_id: project.id,
        project_name: Some(project.name),
        project_api_key: project.api_token,
        host: server,
    };
    integrate::integrate(session, token, evidence, &target).await
}
