//! `provision --email E`: creates an account and hands its credentials to
//! the person or the script that asked: one of the two places a credential
//! is shown in full (the other is the env file's public `phc_`). No steps
//! are shown, since stdout is the answer itself.

use protocol::wizard::ProvisionOutput;

use crate::error::WizardError;
use crate::outcome::Outcome;
use crate::provisioning::{self, Applicant};
use crate::session::Session;

/// Provisions and prints the credentials as pretty JSON (`--json`, or
/// whenever stdout is not a terminal).
pub async fn as_json(
    session: &Session,
    email: &str,
    name: Option<&str>,
) -> Result<Outcome, WizardError> {
    let output = provisioned(session, email, name).await?;
    session
        .output
        .line(serde_json::to_string_pretty(&output).unwrap_or_default());
    Ok(Outcome::Provisioned)
}

/// Provisions and prints the credentials for a person on a terminal.
pub async fn as_text(
    session: &Session,
    email: &str,
    name: Option<&str>,
) -> Result<Outcome, WizardError> {
    let output = provisioned(session, email, name).await?;
    let out = &session.output;
    out.line(format!("Account created for {}", output.email));
    out.line(format!("  project:           {}", output.project_id));
    out.line(format!("  host:              {}", output.host));
    out.line(format!("  project API key:   {}", output.project_api_key));
    match &output.personal_api_key {
        Some(key) => out.line(format!("  personal API key:  {key}")),
        None => out.line("  personal API key:  none (the server issued none; the access token is the credential)"),
    }
    out.line(format!("  scope:             {}", output.scope));
    if output.personal_api_key.is_some() {
        out.line("Store the personal API key now: it is shown only once.");
    }
    Ok(Outcome::Provisioned)
}

/// A new account for `email`, as the output shows it.
async fn provisioned(
    session: &Session,
    email: &str,
    name: Option<&str>,
) -> Result<ProvisionOutput, WizardError> {
    let provisioned = provisioning::new_account(session, Applicant { email, name }).await?;
    Ok(ProvisionOutput {
        email: email.to_owned(),
        region: session.config.region().as_str().to_owned(),
        project_id: provisioned.project_id,
        organization_id: provisioned.organization_id,
        project_api_key: provisioned.project_api_key,
        host: provisioned.host,
        personal_api_key: provisioned
            .personal_api_key
            .as_ref()
            .map(|key| key.expose().to_owned()),
        scope: provisioned.granted_scope,
    })
}
