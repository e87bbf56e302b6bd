//! The simulated PostHog setup wizard.
//!
//! `main.rs` parses flags into a [`Config`] and calls [`run`], which returns
//! an [`Outcome`] or a [`WizardError`] whose exit code the binary uses.
//! One file per step: `provisioning.rs` (signup without a browser),
//! `agent.rs` (the gateway conversation), `staging.rs` (edits written only
//! at the end), `diagnose.rs` and `settings.rs` (honest 401s), `log.rs`
//! (the verbose log).

pub mod agent;
pub mod client;
pub mod diagnose;
pub mod error;
pub mod framework;
pub mod log;
pub mod provisioning;
pub mod settings;
pub mod staging;

use std::path::PathBuf;
use std::time::Duration;

use protocol::credential::{Credential, CredentialKind};
use protocol::random::OsRandom;
use protocol::scope::{WIZARD_LOGIN_SCOPES, WIZARD_SIGNUP_SCOPES};

use crate::agent::{Briefing, GatewayCall};
use crate::client::Http;
use crate::diagnose::Evidence;
pub use crate::error::{ExitCode, WizardError};
use crate::log::VerboseLog;
use crate::staging::Staging;

/// What to do.
#[derive(Debug, Clone)]
pub enum Command {
    /// `--signup --email E`: create an account, then integrate.
    Signup { email: String, name: Option<String> },
    /// `--ci --api-key K`: integrate with an existing personal API key.
    Ci {
        api_key: String,
        project_id: Option<i64>,
    },
    /// `provision --email E`: create an account and print its credentials.
    Provision {
        email: String,
        name: Option<String>,
        json: bool,
    },
    /// `scopes`: explain the scopes and check them against the server.
    Scopes,
}

/// What the account request asks for (`--scopes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeRequest {
    Signup,
    Login,
    /// Omit the field, as the first signup client did.
    None,
    List(Vec<String>),
}

impl ScopeRequest {
    pub fn parse(text: &str) -> Result<ScopeRequest, String> {
        Ok(match text {
            "signup" => ScopeRequest::Signup,
            "login" => ScopeRequest::Login,
            "none" => ScopeRequest::None,
            list => {
                let scopes: Vec<String> = list
                    .split(',')
                    .map(str::trim)
                    .filter(|scope| !scope.is_empty())
                    .map(str::to_owned)
                    .collect();
                if scopes.is_empty() {
                    return Err(
                        "--scopes takes signup, login, none or a comma-separated list".into(),
                    );
                }
                ScopeRequest::List(scopes)
            }
        })
    }

    /// The `scopes` field of the account request.
    pub fn field(&self) -> Option<Vec<String>> {
        let owned = |list: &[&str]| list.iter().map(|scope| (*scope).to_owned()).collect();
        match self {
            ScopeRequest::Signup => Some(owned(&WIZARD_SIGNUP_SCOPES)),
            ScopeRequest::Login => Some(owned(&WIZARD_LOGIN_SCOPES)),
            ScopeRequest::None => None,
            ScopeRequest::List(scopes) => Some(scopes.clone()),
        }
    }
}

/// `us` or `eu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    Us,
    Eu,
}

impl Region {
    pub fn wire(self) -> &'static str {
        match self {
            Region::Us => "US",
            Region::Eu => "EU",
        }
    }
}

/// Everything a run needs, from flags and the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub command: Command,
    pub region: Region,
    pub install_dir: PathBuf,
    pub base_url: Option<String>,
    pub us_base_url: String,
    pub eu_base_url: String,
    pub gateway_url: Option<String>,
    pub scopes: ScopeRequest,
    pub debug: bool,
    pub log_dir: PathBuf,
    pub home: PathBuf,
    pub managed_settings: PathBuf,
    pub timeout: Duration,
    /// The command line, for the log banner (credentials masked there).
    pub arguments: String,
}

pub const DEFAULT_US_BASE_URL: &str = "http://localhost:8010";
pub const DEFAULT_EU_BASE_URL: &str = "http://localhost:8011";
pub const DEFAULT_US_GATEWAY_URL: &str = "http://localhost:3308/wizard";
pub const DEFAULT_EU_GATEWAY_URL: &str = "http://localhost:3309/wizard";
/// What the published wizard sends when pinned with `--base-url`.
pub const LOCAL_CLIENT_ID: &str = "DC5uRLVbGI02YQ82grxgnK6Qn12SXWpCqdPb60oZ";
pub const US_CLIENT_ID: &str = "c4Rdw8DIxgtQfA80IiSnGKlNX8QN00cFWF00QQhM";
pub const EU_CLIENT_ID: &str = "bx2C5sZRN03TkdjraCcetvQFPGH6N2Y9vRLkcKEy";

impl Config {
    pub fn server_url(&self) -> String {
        let url = match (&self.base_url, self.region) {
            (Some(base), _) => base.clone(),
            (None, Region::Us) => self.us_base_url.clone(),
            (None, Region::Eu) => self.eu_base_url.clone(),
        };
        url.trim_end_matches('/').to_owned()
    }

    pub fn gateway_url(&self) -> String {
        match (&self.gateway_url, self.region) {
            (Some(url), _) => url.clone(),
            (None, Region::Us) => DEFAULT_US_GATEWAY_URL.into(),
            (None, Region::Eu) => DEFAULT_EU_GATEWAY_URL.into(),
        }
    }

    pub fn client_id(&self) -> &'static str {
        match (&self.base_url, self.region) {
            (Some(_), _) => LOCAL_CLIENT_ID,
            (None, Region::Us) => US_CLIENT_ID,
            (None, Region::Eu) => EU_CLIENT_ID,
        }
    }
}

/// How a run ended well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The SDK integration is in the project.
    Integrated { project_id: i64, files: Vec<String> },
    /// `provision` printed its credentials.
    Provisioned,
    /// `scopes` printed its report.
    Explained,
}

/// Runs one command. Progress goes to stdout, the verbose log to its file.
pub async fn run(config: Config) -> Result<Outcome, WizardError> {
    let log = VerboseLog::open(&config.log_dir, config.debug);
    log.banner(&config.arguments);
    let http = Http::new(config.timeout)?;
    let result = match &config.command {
        Command::Signup { email, name } => {
            signup(&config, &log, &http, email, name.as_deref()).await
        }
        Command::Ci {
            api_key,
            project_id,
        } => ci(&config, &log, &http, api_key, *project_id).await,
        Command::Provision { email, name, json } => {
            provision(&config, &log, &http, email, name.as_deref(), *json).await
        }
        Command::Scopes => scopes(&config, &log, &http).await,
    };
    match &result {
        Ok(outcome) => log.line(format!("run finished: {outcome:?}")),
        Err(error) => log.line(format!("run failed (exit {}): {error}", error.exit_code())),
    }
    result
}

async fn signup(
    config: &Config,
    log: &VerboseLog,
    http: &Http,
    email: &str,
    name: Option<&str>,
) -> Result<Outcome, WizardError> {
    let framework = detect(config, log)?;
    println!(
        "Creating a PostHog account for {email} ({} region)…",
        config.region.wire()
    );
    let provisioned = provisioning::Signup {
        http,
        log,
        random: &OsRandom,
        base_url: &config.server_url(),
        client_id: config.client_id(),
        email,
        name,
        region: config.region.wire(),
        scopes: config.scopes.field(),
    }
    .run()
    .await?;
    println!(
        "Account ready: project {} at {}.",
        provisioned.project_id, provisioned.host
    );
    // The signup path goes to the gateway straight away with the access
    // token: it already knows the project, key and host.
    let evidence = evidence(
        config,
        log,
        &provisioned.access_token,
        Some(provisioned.granted_scope.clone()),
    );
    integrate(
        config,
        log,
        http,
        framework,
        &provisioned.access_token,
        evidence,
        provisioned.project_id,
        &provisioned.project_api_key,
        &provisioned.host,
    )
    .await
}

async fn ci(
    config: &Config,
    log: &VerboseLog,
    http: &Http,
    api_key: &str,
    project_id: Option<i64>,
) -> Result<Outcome, WizardError> {
    let framework = detect(config, log)?;
    let prefix: String = api_key.chars().take(4).collect();
    match CredentialKind::of(api_key) {
        Some(CredentialKind::PersonalApiKey) => {}
        Some(kind) => eprintln!(
            "warning: --api-key starts with {prefix}, which is {}; the wizard expects a personal API key (phx_). Continuing.",
            kind.description()
        ),
        None => eprintln!(
            "warning: --api-key has an unknown prefix ({}); the wizard expects a personal API key (phx_). Continuing.",
            protocol::credential::mask(api_key)
        ),
    }
    log.line(format!(
        "API key prefix: {}",
        protocol::credential::mask(api_key)
    ));
    let key = match Credential::parse(api_key) {
        Ok(key) => key,
        Err(_) => {
            return Err(WizardError::Auth(format!(
            "Authentication failed: the API key ({}) is not a PostHog credential.\nVerbose log: {}",
            protocol::credential::mask(api_key),
            log.path().display()
        )))
        }
    };
    let server = config.server_url();
    let me: protocol::posthog::Me =
        api_get(http, log, &server, protocol::paths::USERS_ME, &key).await?;
    let project_id = project_id.unwrap_or(me.team.id);
    let project: protocol::posthog::Project = api_get(
        http,
        log,
        &server,
        &protocol::paths::project(project_id),
        &key,
    )
    .await?;
    println!(
        "Using project {} ({}) as {}.",
        project.id, project.name, me.email
    );
    let evidence = evidence(config, log, &key, None);
    integrate(
        config,
        log,
        http,
        framework,
        &key,
        evidence,
        project.id,
        &project.api_token,
        &server,
    )
    .await
}

/// `GET` on the PostHog API with a bearer credential; 401/403 name the
/// cause from the API's `detail`.
async fn api_get<T: serde::de::DeserializeOwned>(
    http: &Http,
    log: &VerboseLog,
    server: &str,
    path: &str,
    key: &Credential,
) -> Result<T, WizardError> {
    let url = format!("{server}{path}");
    let answer = http
        .send(
            log,
            &format!("GET {path}"),
            &url,
            http.client().get(&url).bearer_auth(key.expose()),
        )
        .await?;
    match answer.status.as_u16() {
        200 => answer.json(path),
        401 => Err(WizardError::Auth(format!(
            "Authentication failed (401) at {path}: {}\nVerbose log: {}",
            answer.message(),
            log.path().display()
        ))),
        403 => Err(WizardError::Auth(format!(
            "Permission denied (403) at {path}: {}\nVerbose log: {}",
            answer.message(),
            log.path().display()
        ))),
        status => Err(WizardError::Internal(format!(
            "{path} answered {status}: {}",
            answer.message()
        ))),
    }
}

fn detect(config: &Config, log: &VerboseLog) -> Result<framework::Framework, WizardError> {
    let framework = framework::detect(&config.install_dir).map_err(WizardError::Usage)?;
    log.line(format!(
        "framework: {} in {}",
        framework.id,
        config.install_dir.display()
    ));
    Ok(framework)
}

fn evidence(
    config: &Config,
    log: &VerboseLog,
    key: &Credential,
    granted_scope: Option<String>,
) -> Evidence {
    let files =
        settings::candidate_files(&config.home, &config.install_dir, &config.managed_settings);
    let conflicts = settings::check(&files);
    log.line(format!(
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
        log_path: log.path().display().to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn integrate(
    config: &Config,
    log: &VerboseLog,
    http: &Http,
    framework: framework::Framework,
    credential: &Credential,
    evidence: Evidence,
    project_id: i64,
    project_api_key: &str,
    host: &str,
) -> Result<Outcome, WizardError> {
    println!(
        "Setting up the {} SDK with the PostHog agent…",
        framework.name
    );
    let gateway_url = config.gateway_url();
    let call = GatewayCall {
        http,
        log,
        gateway_url: &gateway_url,
        credential,
        evidence,
    };
    let briefing = Briefing {
        framework,
        project_id,
        host,
    };
    let (mut staging, refused) =
        agent::converse(&call, &briefing, Staging::new(&config.install_dir)).await?;
    if !refused.is_empty() {
        return Err(WizardError::EditsRefused(format!(
            "The agent's edits were refused, so nothing was written:\n  - {}\nVerbose log: {}",
            refused.join("\n  - "),
            log.path().display()
        )));
    }
    let existing = std::fs::read_to_string(config.install_dir.join(framework.env_file)).ok();
    let env = framework::env_file_content(existing.as_deref(), &framework, project_api_key, host);
    staging
        .write(framework.env_file, &env)
        .map_err(|refusal| WizardError::Internal(refusal.to_string()))?;
    let files = staging
        .commit()
        .map_err(|error| WizardError::Internal(format!("cannot write the integration: {error}")))?;
    log.line(format!("wrote {}", files.join(", ")));
    println!(
        "PostHog is set up in {} (project {project_id}).",
        config.install_dir.display()
    );
    for file in &files {
        println!("  wrote {file}");
    }
    println!("Verbose log: {}", log.path().display());
    Ok(Outcome::Integrated { project_id, files })
}

async fn provision(
    config: &Config,
    log: &VerboseLog,
    http: &Http,
    email: &str,
    name: Option<&str>,
    json: bool,
) -> Result<Outcome, WizardError> {
    let provisioned = provisioning::Signup {
        http,
        log,
        random: &OsRandom,
        base_url: &config.server_url(),
        client_id: config.client_id(),
        email,
        name,
        region: config.region.wire(),
        scopes: config.scopes.field(),
    }
    .run()
    .await?;
    // One of the two places that hand a credential to a person.
    let output = protocol::wizard::ProvisionOutput {
        email: email.to_owned(),
        region: config.region.wire().to_lowercase(),
        project_id: provisioned.project_id,
        organization_id: provisioned.organization_id,
        project_api_key: provisioned.project_api_key,
        host: provisioned.host,
        personal_api_key: provisioned.personal_api_key.expose().to_owned(),
        scope: provisioned.granted_scope,
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&output).unwrap_or_default()
        );
    } else {
        println!("Account created for {}", output.email);
        println!("  project:           {}", output.project_id);
        println!("  host:              {}", output.host);
        println!("  project API key:   {}", output.project_api_key);
        println!("  personal API key:  {}", output.personal_api_key);
        println!("  scope:             {}", output.scope);
        println!("Store the personal API key now: it is shown only once.");
    }
    Ok(Outcome::Provisioned)
}

async fn scopes(config: &Config, log: &VerboseLog, http: &Http) -> Result<Outcome, WizardError> {
    let server = config.server_url();
    let url = format!("{server}{}", protocol::paths::AUTHORIZATION_SERVER_METADATA);
    let answer = http
        .send(
            log,
            "authorization server metadata",
            &url,
            http.client().get(&url),
        )
        .await?;
    let supported: Option<Vec<String>> = if answer.status.is_success() {
        answer
            .json::<protocol::oauth::AuthorizationServerMetadata>("the metadata endpoint")
            .ok()
            .map(|metadata| metadata.scopes_supported)
    } else {
        None
    };
    let requested = config.scopes.field().unwrap_or_default();
    println!(
        "Scopes the wizard requests ({}), checked against {server}:",
        match config.scopes {
            ScopeRequest::Signup => "signup",
            ScopeRequest::Login => "login",
            ScopeRequest::None => "none: the field is omitted",
            ScopeRequest::List(_) => "custom list",
        }
    );
    let mut refused = Vec::new();
    for scope in &requested {
        let verdict = match &supported {
            Some(list) if list.contains(scope) => "supported",
            Some(_) => {
                refused.push(scope.clone());
                "NOT SUPPORTED"
            }
            None => "unknown",
        };
        let reason = match (protocol::scope::wizard_reason(scope), protocol::scope::Scope::parse(scope)) {
            (Some(reason), _) => reason,
            (None, Err(_)) if scope == "introspection" => {
                "not a scope: introspection is an endpoint (RFC 7662), advertised as introspection_endpoint"
            }
            (None, Err(_)) => "not a scope: scopes look like resource:read or resource:write",
            (None, Ok(_)) => "not a scope the wizard uses",
        };
        println!("  {scope:<24} {verdict:<14} {reason}");
    }
    match (&supported, refused.is_empty()) {
        (None, _) => println!("The server did not publish scopes_supported ({}).", answer.status),
        (Some(_), true) => println!("The server supports every requested scope."),
        (Some(_), false) => println!(
            "The server will not grant: {}. A current server refuses the account request (invalid_scope).",
            refused.join(", ")
        ),
    }
    Ok(Outcome::Explained)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_request_table() {
        assert_eq!(ScopeRequest::parse("none").unwrap().field(), None);
        assert_eq!(
            ScopeRequest::parse("signup")
                .unwrap()
                .field()
                .unwrap()
                .len(),
            8
        );
        assert_eq!(
            ScopeRequest::parse("login").unwrap().field().unwrap().len(),
            12
        );
        assert_eq!(
            ScopeRequest::parse("user:read, introspection")
                .unwrap()
                .field()
                .unwrap(),
            ["user:read", "introspection"]
        );
        assert!(ScopeRequest::parse(",").is_err());
    }
}
