//! The `--api-key` a person gave (CI mode and `doctor`): a key of another
//! kind is warned about but still tried, since the server has the last
//! word; one that is no PostHog credential at all stops the run.

use protocol::credential::{mask, Credential, CredentialKind};

use crate::error::WizardError;
use crate::session::Session;

/// Warns on stderr about an `--api-key` that is not a personal API key,
/// logs its masked prefix, and parses it.
pub fn given_key(session: &Session, api_key: &str) -> Result<Credential, WizardError> {
    let prefix: String = api_key.chars().take(4).collect();
    match CredentialKind::of(api_key) {
        Some(CredentialKind::PersonalApiKey) => {}
        Some(kind) => session.output.warn(format!(
            "warning: --api-key starts with {prefix}, which is {}; the wizard expects a personal API key (phx_). Continuing.",
            kind.description()
        )),
        None => session.output.warn(format!(
            "warning: --api-key has an unknown prefix ({}); the wizard expects a personal API key (phx_). Continuing.",
            mask(api_key)
        )),
    }
    session
        .log
        .line(format!("API key prefix: {}", mask(api_key)));
    Credential::parse(api_key).map_err(|_| {
        WizardError::Auth(format!(
            "Authentication failed: the API key ({}) is not a PostHog credential.\nVerbose log: {}",
            mask(api_key),
            session.log.path().display()
        ))
    })
}
