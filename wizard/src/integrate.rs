//! The integration every path ends in (signup, sign-in and CI mode): the
//! agent's edits and the env file written together after `end_turn`, or
//! nothing at all; then the summary a person reads. A project already
//! integrated with the same key and host is left alone; one with another
//! key or host gets only its env file updated.

use protocol::credential::Credential;

use crate::agent::{self, Briefing, GatewayCall};
use crate::deep_link;
use crate::diagnose::{Evidence, KeySource};
use crate::error::WizardError;
use crate::framework::{self, Framework};
use crate::outcome::Outcome;
use crate::session::Session;
use crate::settings;
use crate::staging::{self, Staging};

/// The project the integration targets.
#[derive(Debug, Clone)]
pub struct Target {
    /// Decides the env file, its variables and the agent's script.
    pub framework: Framework,
    /// The `pha_` that may ask for a dashboard deep link (signup and login
    /// runs; CI mode has none).
    pub deep_link_token: Option<Credential>,
    /// The project (team) id, told to the agent and shown in the summary.
    pub project_id: i64,
    /// Known when the project was read from the API (sign-in, CI mode).
    pub project_name: Option<String>,
    /// The public `phc_` and the host the env file gets.
    pub project_api_key: String,
    pub host: String,
}

impl Target {
    /// `7`, or `7 (Default project)` when the name is known.
    fn label(&self) -> String {
        match &self.project_name {
            Some(name) => format!("{} ({name})", self.project_id),
            None => self.project_id.to_string(),
        }
    }
}

/// The project's framework, before any network call: an unknown project is
/// a usage error, not a half-done signup.
pub fn detect(session: &Session) -> Result<Framework, WizardError> {
    let install_dir = &session.config.install_dir;
    let framework = framework::detect(install_dir).map_err(WizardError::Usage)?;
    session.log.line(format!(
        "framework: {} in {}",
        framework.id,
        install_dir.display()
    ));
    Ok(framework)
}

/// What a gateway 401 will be explained from: the key's kind, where it came
/// from, the scope it was granted, and the Claude Code settings that would
/// take over its credentials (checked now, logged either way).
pub fn evidence(
    session: &Session,
    key: &Credential,
    granted_scope: Option<String>,
    source: KeySource,
) -> Evidence {
    let config = &session.config;
    let files =
        settings::candidate_files(&config.home, &config.install_dir, &config.managed_settings);
    let conflicts = settings::check(&files);
    session.log.line(format!(
        "settings conflict check: {}",
        if conflicts.is_empty() {
            "no conflict".to_owned()
        } else {
            conflicts
                .iter()
                .map(|conflict| {
                    format!(
                        "{} sets {}",
                        conflict.file.display(),
                        conflict.keys.join(", ")
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        }
    ));
    Evidence {
        prefix: key.kind().prefix().to_owned(),
        www_authenticate: None,
        granted_scope,
        conflicts,
        log_path: session.log.path().display().to_string(),
        source,
    }
}

/// Integrates `target` with the agent at the gateway, as `credential`.
pub async fn integrate(
    session: &Session,
    credential: &Credential,
    evidence: Evidence,
    target: &Target,
) -> Result<Outcome, WizardError> {
    let framework = target.framework;
    let install_dir = &session.config.install_dir;
    let Some(existing) = framework::existing_integration(install_dir, &framework) else {
        return with_the_agent(session, credential, evidence, target).await;
    };
    session.log.line(format!(
        "already integrated: {} holds a project key and {} is declared",
        framework.env_file, framework.sdk_package
    ));
    if existing.project_api_key == target.project_api_key
        && existing.host.as_deref() == Some(target.host.as_str())
    {
        let output = &session.output;
        output.line(format!(
            "PostHog is already set up in {}; nothing changed.",
            install_dir.display()
        ));
        output.line(format!("  project: {}", target.label()));
        output.line(format!("  host:    {}", target.host));
        dashboard_link(session, target).await;
        return Ok(Outcome::AlreadyIntegrated {
            project_id: target.project_id,
        });
    }
    update_the_env_file(session, target).await
}

/// An integration with another key or host: only the env file changes.
async fn update_the_env_file(session: &Session, target: &Target) -> Result<Outcome, WizardError> {
    let framework = target.framework;
    let install_dir = &session.config.install_dir;
    let current = std::fs::read_to_string(install_dir.join(framework.env_file)).ok();
    let env = framework::env_file_content(
        current.as_deref(),
        &framework,
        &target.project_api_key,
        &target.host,
    );
    let mut staging = Staging::new(install_dir);
    staging
        .write(framework.env_file, &env)
        .map_err(|refusal| WizardError::Internal(refusal.to_string()))?;
    let ignored = ignore_the_env_files(session, &mut staging, &framework)?;
    let files = staging.commit().map_err(|error| {
        WizardError::Internal(format!("cannot write {}: {error}", framework.env_file))
    })?;
    session.log.line(format!("updated {}", framework.env_file));
    let output = &session.output;
    output.line(format!(
        "PostHog is already set up in {}; only the project key and host changed.",
        install_dir.display()
    ));
    output.line(format!("  project: {}", target.label()));
    output.line(format!("  host:    {}", target.host));
    output.line(format!(
        "  updated {} (project API key and host)",
        framework.env_file
    ));
    say_ignored(session, &ignored);
    dashboard_link(session, target).await;
    output.line(format!("Verbose log: {}", session.log.path().display()));
    Ok(Outcome::Integrated {
        project_id: target.project_id,
        files,
    })
}

/// A project without PostHog: the agent's edits and the env file, staged
/// and written together, or nothing when the agent ended with an edit
/// unmet or was refused outright.
async fn with_the_agent(
    session: &Session,
    credential: &Credential,
    evidence: Evidence,
    target: &Target,
) -> Result<Outcome, WizardError> {
    let framework = target.framework;
    let install_dir = &session.config.install_dir;
    let output = &session.output;
    output.line(format!(
        "Setting up the {} SDK with the PostHog agent…",
        framework.name
    ));
    let call = GatewayCall {
        session,
        credential,
        evidence,
    };
    let briefing = Briefing {
        framework,
        project_id: target.project_id,
        project_api_key: &target.project_api_key,
        host: &target.host,
    };
    let (mut staging, refused) =
        agent::converse(&call, &briefing, Staging::new(install_dir)).await?;
    if !refused.is_empty() {
        return Err(WizardError::EditsRefused(format!(
            "The agent's edits were refused, so nothing was written:\n  - {}\nVerbose log: {}",
            refused.join("\n  - "),
            session.log.path().display()
        )));
    }
    let agent_files = staging.paths();
    settle_the_env_file(session, &mut staging, target)?;
    let ignored = ignore_the_env_files(session, &mut staging, &framework)?;
    let step = session.progress.step("Writing the files…");
    let files = staging
        .commit()
        .map_err(|error| WizardError::Internal(format!("cannot write the integration: {error}")))?;
    step.done(&format!(
        "Wrote {} file{}",
        files.len(),
        if files.len() == 1 { "" } else { "s" }
    ));
    session.log.line(format!("wrote {}", files.join(", ")));
    output.line(format!("PostHog is set up in {}.", install_dir.display()));
    output.line(format!("  project: {}", target.label()));
    output.line(format!("  host:    {}", target.host));
    output.line(format!(
        "  wrote {} (project API key and host)",
        framework.env_file
    ));
    say_ignored(session, &ignored);
    for file in files
        .iter()
        .filter(|file| agent_files.contains(file) && file.as_str() != framework.env_file)
    {
        output.line(format!("  wrote {file}"));
    }
    dashboard_link(session, target).await;
    output.line(format!("Verbose log: {}", session.log.path().display()));
    Ok(Outcome::Integrated {
        project_id: target.project_id,
        files,
    })
}

/// The env file after the agent: when the agent already set the key and
/// host there (through `set_env_values`), as staged; otherwise the
/// wizard's own values merged into the staged view (older gateways, or an
/// agent that set other values), so the file holds each variable once and
/// always the project's own key and host.
fn settle_the_env_file(
    session: &Session,
    staging: &mut Staging,
    target: &Target,
) -> Result<(), WizardError> {
    let framework = target.framework;
    let file = std::path::Path::new(framework.env_file);
    let staged = staging
        .view(file)
        .map_err(|refusal| WizardError::Internal(refusal.to_string()))?;
    if env_file_holds(staged.as_deref(), &framework, target) {
        session.log.line(format!(
            "{} already holds the key and host the agent set",
            framework.env_file
        ));
        return Ok(());
    }
    let env = framework::env_file_content(
        staged.as_deref(),
        &framework,
        &target.project_api_key,
        &target.host,
    );
    staging
        .write(framework.env_file, &env)
        .map_err(|refusal| WizardError::Internal(refusal.to_string()))?;
    Ok(())
}

/// Stages the `.gitignore` line of each env file the run writes (see
/// [`Staging::ignore_env_files`]): the names added, for the summary.
fn ignore_the_env_files(
    session: &Session,
    staging: &mut Staging,
    framework: &Framework,
) -> Result<Vec<String>, WizardError> {
    let added = staging
        .ignore_env_files(framework.env_file)
        .map_err(|refusal| WizardError::Internal(format!("cannot stage .gitignore: {refusal}")))?;
    if !added.is_empty() {
        session
            .log
            .line(format!(".gitignore gains {}", added.join(", ")));
    }
    Ok(added)
}

/// The summary's line for the env files `.gitignore` now ignores.
fn say_ignored(session: &Session, added: &[String]) {
    if !added.is_empty() {
        session
            .output
            .line(format!("  added {} to .gitignore", added.join(", ")));
    }
}

/// Whether `content` sets the framework's key and host variables once
/// each, to the target's key and host.
fn env_file_holds(content: Option<&str>, framework: &Framework, target: &Target) -> bool {
    let Some(content) = content else {
        return false;
    };
    let values = |variable: &str| -> Vec<String> {
        content
            .lines()
            .filter(|line| staging::env_line_key(line) == Some(variable))
            .filter_map(|line| line.split_once('='))
            .map(|(_, value)| value.trim().trim_matches('"').to_owned())
            .collect()
    };
    values(framework.key_variable) == [target.project_api_key.as_str()]
        && values(framework.host_variable) == [target.host.as_str()]
}

/// The summary's last useful line: a single-use link into the dashboard,
/// for runs that hold an access token. A failure is logged, never fatal.
async fn dashboard_link(session: &Session, target: &Target) {
    let Some(token) = &target.deep_link_token else {
        return;
    };
    if let Some(link) = deep_link::dashboard(session, token).await {
        session
            .output
            .line(format!("Open your dashboard: {}", link.url));
        session
            .output
            .line("  (the link works once and expires in 10 minutes)");
    }
}
