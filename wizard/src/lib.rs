//! The simulated PostHog setup wizard.
//!
//! `main.rs` parses flags into a [`Config`], opens a [`Session`] on the
//! process's stdout and stderr and calls [`run`], which picks the flow of the
//! command and returns an [`Outcome`] or a [`WizardError`] whose exit code
//! the binary uses. Tests open a session on buffers instead and read what a
//! person would have seen.
//!
//! The layers, each knowing nothing of those above it:
//! - `lib.rs` dispatches; `flows/` holds one file per command.
//! - The steps the flows share: `provisioning.rs` (signup without a
//!   browser), `login.rs` (the interactive login), `region.rs` (which region
//!   knows a key), `api_key.rs` (the `--api-key` as given), `api.rs` (the
//!   PostHog API reads and their 401/403 explanations), `integrate.rs` (the
//!   agent, the writes and the summary) with `agent.rs` (the gateway
//!   conversation), `tools.rs` (the Claude Code tools it offers and
//!   answers, over `file_search.rs` and `package_manager.rs`),
//!   `staging.rs` (edits written only at the end, over `gitignore.rs`),
//!   `framework.rs`, `deep_link.rs`, `diagnose.rs` and `settings.rs` (honest
//!   401s).
//! - The means of a run: `session.rs` over `config.rs` (the parsed options),
//!   `client.rs` (HTTP), `log.rs` (the verbose log), `progress.rs`,
//!   `output.rs`, `retry.rs`, `sse.rs`, and `error.rs` and `outcome.rs` (how
//!   a run ends).

pub mod agent;
pub mod api;
pub mod api_key;
pub mod client;
pub mod config;
pub mod deep_link;
pub mod diagnose;
pub mod error;
pub mod file_search;
pub mod flows;
pub mod framework;
pub mod gitignore;
pub mod integrate;
pub mod log;
pub mod login;
pub mod outcome;
pub mod output;
pub mod package_manager;
pub mod progress;
pub mod provisioning;
pub mod region;
pub mod retry;
pub mod session;
pub mod settings;
pub mod sse;
pub mod staging;
pub mod tools;

pub use crate::config::{
    Command, Config, Region, ScopeRequest, DEFAULT_EU_BASE_URL, DEFAULT_EU_GATEWAY_URL,
    DEFAULT_US_BASE_URL, DEFAULT_US_GATEWAY_URL, EU_CLIENT_ID, LOCAL_CLIENT_ID, LOGIN_TIMEOUT,
    US_CLIENT_ID,
};
pub use crate::error::{ExitCode, WizardError};
pub use crate::outcome::Outcome;
pub use crate::output::Output;
pub use crate::session::Session;

/// Runs the session's command, and logs how it ended.
pub async fn run(mut session: Session) -> Result<Outcome, WizardError> {
    let command = session.config.command.clone();
    let result = match &command {
        Command::Signup {
            email,
            name,
            project_id,
        } => flows::signup::run(&session, email, name.as_deref(), *project_id).await,
        Command::Ci {
            api_key,
            project_id,
        } => flows::ci::run(&mut session, api_key, *project_id).await,
        Command::Provision {
            email,
            name,
            json: true,
        } => flows::provision::as_json(&session, email, name.as_deref()).await,
        Command::Provision {
            email,
            name,
            json: false,
        } => flows::provision::as_text(&session, email, name.as_deref()).await,
        Command::Scopes => flows::scopes::run(&session).await,
        Command::Doctor {
            api_key: Some(api_key),
            project_id,
        } => flows::doctor::with_key(&session, api_key, *project_id).await,
        Command::Doctor {
            api_key: None,
            project_id,
        } => flows::doctor::after_sign_in(&session, *project_id).await,
    };
    match &result {
        Ok(outcome) => session.log.line(format!("run finished: {outcome:?}")),
        Err(error) => session
            .log
            .line(format!("run failed (exit {}): {error}", error.exit_code())),
    }
    result
}
