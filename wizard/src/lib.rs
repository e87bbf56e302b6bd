//! The simulated PostHog setup wizard.
//!
//! `main.rs` parses flags into a [`Config`] and calls [`run`], which returns
//! an [`Outcome`] or a [`WizardError`] whose exit code the binary uses.
//! One file per step: `provisioning.rs` (signup without a browser),
//! `login.rs` (the interactive login for an existing email, and `doctor`
//! without a key), `region.rs` (which region a key belongs to), `api.rs`
//! (the PostHog API reads and their 401/403 explanations),
//! `agent.rs` (the gateway conversation), `staging.rs` (edits written only
//! at the end), `diagnose.rs` and `settings.rs` (honest 401s), `log.rs`
//! (the verbose log).

pub mod agent;
pub mod api;
pub mod client;
pub mod deep_link;
pub mod diagnose;
pub mod error;
pub mod framework;
pub mod log;
pub mod login;
pub mod progress;
pub mod provisioning;
pub mod region;
pub mod retry;
pub mod settings;
pub mod sse;
pub mod staging;

use std::path::PathBuf;
use std::time::Duration;

use protocol::credential::{Credential, CredentialKind};
use protocol::random::OsRandom;
use protocol::scope::{WIZARD_LOGIN_SCOPES, WIZARD_SIGNUP_SCOPES};

use crate::agent::{Briefing, GatewayCall};
use crate::client::Http;
use crate::diagnose::{Evidence, KeySource};
pub use crate::error::{ExitCode, WizardError};
use crate::log::VerboseLog;
use crate::progress::Progress;
use crate::staging::Staging;

/// What to do.
#[derive(Debug, Clone)]
pub enum Command {
    /// `--signup --email E`: create an account (or sign in, when the email
    /// already has one), then integrate.
    Signup {
        email: String,
        name: Option<String>,
        project_id: Option<i64>,
    },
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
    /// `doctor`: list the project's active health issues, with `--api-key`
    /// or, without one, after an interactive login.
    Doctor {
        api_key: Option<String>,
        project_id: Option<i64>,
    },
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

    /// As typed on the command line.
    pub fn flag(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Eu => "eu",
        }
    }

    pub fn other(self) -> Region {
        match self {
            Region::Us => Region::Eu,
            Region::Eu => Region::Us,
        }
    }
}

/// Everything a run needs, from flags and the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub command: Command,
    /// `--region`; `None` lets CI mode and `doctor` discover it, and means
    /// US wherever a region is needed and none was discovered.
    pub region: Option<Region>,
    pub install_dir: PathBuf,
    pub base_url: Option<String>,
    pub us_base_url: String,
    pub eu_base_url: String,
    pub gateway_url: Option<String>,
    pub scopes: ScopeRequest,
    /// `--callback-port`: the login listener's port.
    pub callback_port: Option<u16>,
    /// How long the interactive login waits (30 minutes).
    pub login_timeout: Duration,
    pub debug: bool,
    /// How steps are shown: spinners on a terminal, plain lines otherwise.
    pub progress: progress::Mode,
    /// `--stream`: ask the gateway for server-sent events.
    pub stream: bool,
    pub log_dir: PathBuf,
    pub home: PathBuf,
    pub managed_settings: PathBuf,
    pub timeout: Duration,
    /// Retries of the gateway call.
    pub retry: retry::RetryPolicy,
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
/// The interactive login waits this long at most.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(30 * 60);

impl Config {
    /// The region in use: the flag's, else US.
    pub fn region(&self) -> Region {
        self.region.unwrap_or(Region::Us)
    }

    pub fn server_url(&self) -> String {
        match &self.base_url {
            Some(base) => base.trim_end_matches('/').to_owned(),
            None => self.region_server_url(self.region()),
        }
    }

    /// The server of one region (ignores `--base-url`).
    pub fn region_server_url(&self, region: Region) -> String {
        let url = match region {
            Region::Us => &self.us_base_url,
            Region::Eu => &self.eu_base_url,
        };
        url.trim_end_matches('/').to_owned()
    }

    pub fn gateway_url(&self) -> String {
        match (&self.gateway_url, self.region()) {
            (Some(url), _) => url.clone(),
            (None, Region::Us) => DEFAULT_US_GATEWAY_URL.into(),
            (None, Region::Eu) => DEFAULT_EU_GATEWAY_URL.into(),
        }
    }

    pub fn client_id(&self) -> &'static str {
        match (&self.base_url, self.region()) {
            (Some(_), _) => LOCAL_CLIENT_ID,
            (None, Region::Us) => US_CLIENT_ID,
            (None, Region::Eu) => EU_CLIENT_ID,
        }
    }
}

/// How a run ended (without an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The SDK integration is in the project; `files` were written.
    Integrated { project_id: i64, files: Vec<String> },
    /// The project was already integrated with this key and host.
    AlreadyIntegrated { project_id: i64 },
    /// `provision` printed its credentials.
    Provisioned,
    /// `scopes` printed its report.
    Explained,
    /// `doctor` found this many active health issues (exit 6 when any).
    HealthChecked { active: usize },
}

impl Outcome {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Outcome::HealthChecked { active } if *active > 0 => ExitCode::HealthIssues,
            _ => ExitCode::Done,
        }
    }
}

/// The project the integration targets.
#[derive(Debug, Clone)]
struct Target {
    framework: framework::Framework,
    /// The `pha_` that may ask for a dashboard deep link (signup and login
    /// runs; CI mode has none).
    deep_link_token: Option<Credential>,
    project_id: i64,
    project_name: Option<String>,
    project_api_key: String,
    host: String,
}

impl Target {
    fn label(&self) -> String {
        match &self.project_name {
            Some(name) => format!("{} ({name})", self.project_id),
            None => self.project_id.to_string(),
        }
    }
}

/// Runs one command. Progress goes to stdout, the verbose log to its file.
pub async fn run(config: Config) -> Result<Outcome, WizardError> {
    let log = VerboseLog::open(&config.log_dir, config.debug);
    log.banner(&config.arguments);
    let http = Http::new(config.timeout)?;
    let progress = Progress::new(config.progress);
    let result = match &config.command {
        Command::Signup {
            email,
            name,
            project_id,
        } => {
            signup(
                &config,
                &log,
                &http,
                &progress,
                email,
                name.as_deref(),
                *project_id,
            )
            .await
        }
        Command::Ci {
            api_key,
            project_id,
        } => ci(&config, &log, &http, &progress, api_key, *project_id).await,
        Command::Provision { email, name, json } => {
            provision(&config, &log, &http, email, name.as_deref(), *json).await
        }
        Command::Scopes => scopes(&config, &log, &http).await,
        Command::Doctor {
            api_key,
            project_id,
        } => doctor(&config, &log, &http, api_key.as_deref(), *project_id).await,
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
    progress: &Progress,
    email: &str,
    name: Option<&str>,
    project_id: Option<i64>,
) -> Result<Outcome, WizardError> {
    let framework = detect(config, log)?;
    let started = provisioning::Signup {
        http,
        log,
        progress,
        random: &OsRandom,
        base_url: &config.server_url(),
        client_id: config.client_id(),
        email,
        name,
        region: config.region().wire(),
        scopes: config.scopes.field(),
    }
    .start()
    .await?;
    let provisioned = match started {
        provisioning::Started::Provisioned(provisioned) => provisioned,
        provisioning::Started::RequiresAuth { sign_in, verifier } => {
            println!("{email} already has a PostHog account: sign in to continue.");
            let signed_in = match sign_in {
                provisioning::SignIn::Link(url) => {
                    login(config, log, http, Some(&url), Some(&verifier)).await?
                }
                provisioning::SignIn::Consent { url, scope } => {
                    // Approving the consent link would send the code to the
                    // application's registered callback, not to this run:
                    // the wizard's own login asks for the same scopes.
                    log.line(format!(
                        "sign-in: the server asks for consent at {url}; using the wizard's own login instead"
                    ));
                    let own = login::own_authorize_url(&config.server_url(), scope.as_deref());
                    login(config, log, http, Some(&own), None).await?
                }
            };
            return integrate_signed_in(
                config, log, http, progress, framework, signed_in, project_id,
            )
            .await;
        }
    };
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
    integrate(
        config,
        log,
        http,
        progress,
        &provisioned.access_token,
        evidence,
        &target,
    )
    .await
}

/// A finished interactive login.
struct SignedIn {
    token: Credential,
    granted_scope: String,
}

/// The interactive login (protocol section 6): prints the authorize URL
/// alone on one line, waits for the callback or a pasted code, exchanges it.
async fn login(
    config: &Config,
    log: &VerboseLog,
    http: &Http,
    redirect: Option<&str>,
    account_verifier: Option<&protocol::pkce::CodeVerifier>,
) -> Result<SignedIn, WizardError> {
    let server = config.server_url();
    let (listener, port) = login::bind(config.callback_port)?;
    let request = login::authorize_request(
        redirect,
        &server,
        config.client_id(),
        port,
        &OsRandom,
        account_verifier,
    )?;
    log.line(format!(
        "sign-in: listening on 127.0.0.1:{port}, asking for {}",
        request.asked.join(" ")
    ));
    println!("Open this URL in your browser to sign in:");
    println!("{}", request.url);
    println!(
        "Waiting for the sign-in (at most {}). You can also paste the code, or the whole callback URL, here.",
        login::human(config.login_timeout)
    );
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let code = login::wait_for_code(&listener, &request.state, config.login_timeout, log).await?;
    drop(listener);
    let tokens = login::exchange(http, log, &server, &request, &code).await?;
    if let Some(warning) = login::scope_warning(&request.asked, &tokens.scope) {
        eprintln!("{warning}");
    }
    let token = Credential::parse(&tokens.access_token)
        .map_err(|error| WizardError::Internal(format!("malformed access token: {error}")))?;
    println!("Signed in.");
    Ok(SignedIn {
        token,
        granted_scope: tokens.scope,
    })
}

/// After a login: the project from the API, then the agent with the `pha_`.
async fn integrate_signed_in(
    config: &Config,
    log: &VerboseLog,
    http: &Http,
    progress: &Progress,
    framework: framework::Framework,
    signed_in: SignedIn,
    project_id: Option<i64>,
) -> Result<Outcome, WizardError> {
    let server = config.server_url();
    let api_server = api::Server {
        url: &server,
        pinned: config.base_url.is_some(),
    };
    let token = &signed_in.token;
    let project_id = match project_id {
        Some(id) => id,
        None => api::me(http, log, api_server, token).await?.team.id,
    };
    let project = api::project(http, log, api_server, token, project_id).await?;
    println!("Using project {} ({}).", project.id, project.name);
    let evidence = evidence(
        config,
        log,
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
    integrate(config, log, http, progress, token, evidence, &target).await
}

/// Warns about an `--api-key` that is not a personal API key, and parses it.
fn given_key(api_key: &str, log: &VerboseLog) -> Result<Credential, WizardError> {
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
    Credential::parse(api_key).map_err(|_| {
        WizardError::Auth(format!(
            "Authentication failed: the API key ({}) is not a PostHog credential.\nVerbose log: {}",
            protocol::credential::mask(api_key),
            log.path().display()
        ))
    })
}

async fn ci(
    config: &Config,
    log: &VerboseLog,
    http: &Http,
    progress: &Progress,
    api_key: &str,
    project_id: Option<i64>,
) -> Result<Outcome, WizardError> {
    let framework = detect(config, log)?;
    let key = given_key(api_key, log)?;
    let located = region::locate(config, log, http, &key).await?;
    let server = located.server.clone();
    let config = &located.config;
    let project_id = project_id.unwrap_or(located.me.team.id);
    let api_server = api::Server {
        url: &server,
        pinned: config.base_url.is_some(),
    };
    let project = api::project(http, log, api_server, &key, project_id).await?;
    println!(
        "Using project {} ({}) as {}.",
        project.id, project.name, located.me.email
    );
    let evidence = evidence(config, log, &key, None, KeySource::GivenKey);
    let target = Target {
        framework,
        deep_link_token: None,
        project_id: project.id,
        project_name: Some(project.name),
        project_api_key: project.api_token,
        host: server,
    };
    integrate(config, log, http, progress, &key, evidence, &target).await
}

async fn doctor(
    config: &Config,
    log: &VerboseLog,
    http: &Http,
    api_key: Option<&str>,
    project_id: Option<i64>,
) -> Result<Outcome, WizardError> {
    let (key, server, project_id) = match api_key {
        Some(api_key) => {
            let key = given_key(api_key, log)?;
            let located = region::locate(config, log, http, &key).await?;
            let project_id = project_id.unwrap_or(located.me.team.id);
            (key, located.server, project_id)
        }
        None => {
            let signed_in = login(config, log, http, None, None).await?;
            let server = config.server_url();
            let project_id = match project_id {
                Some(id) => id,
                None => {
                    let api_server = api::Server {
                        url: &server,
                        pinned: config.base_url.is_some(),
                    };
                    api::me(http, log, api_server, &signed_in.token)
                        .await?
                        .team
                        .id
                }
            };
            (signed_in.token, server, project_id)
        }
    };
    let path = api::health_issues_path(project_id);
    let answer = api::get_raw(http, log, &server, &path, &key).await?;
    let issues: protocol::posthog::HealthIssues = match answer.status.as_u16() {
        403 if api::missing_scope(&answer.message()).is_none() => {
            return Err(WizardError::Auth(api::explain_403(
                &path,
                "This action requires the 'health_issue:read' scope.",
                log,
            )))
        }
        _ => api::read(&answer, &path, config.base_url.is_some(), log)?,
    };
    let active: Vec<&protocol::posthog::HealthIssue> = issues
        .results
        .iter()
        .filter(|issue| issue.status == "active" && !issue.dismissed)
        .collect();
    if active.is_empty() {
        println!("No active health issues in project {project_id}.");
        return Ok(Outcome::HealthChecked { active: 0 });
    }
    println!(
        "{} active health issue{} in project {project_id}:",
        active.len(),
        if active.len() == 1 { "" } else { "s" }
    );
    for severity in ["critical", "warning", "info"] {
        let group: Vec<_> = active
            .iter()
            .filter(|issue| issue.severity == severity)
            .collect();
        if group.is_empty() {
            continue;
        }
        println!("{severity} ({}):", group.len());
        for issue in group {
            println!(
                "  - {} (since {}, id {})",
                issue.kind, issue.created_at, issue.id
            );
        }
    }
    let other: Vec<_> = active
        .iter()
        .filter(|issue| !["critical", "warning", "info"].contains(&issue.severity.as_str()))
        .collect();
    if !other.is_empty() {
        println!("other ({}):", other.len());
        for issue in other {
            println!(
                "  - {} [{}] (since {}, id {})",
                issue.kind, issue.severity, issue.created_at, issue.id
            );
        }
    }
    Ok(Outcome::HealthChecked {
        active: active.len(),
    })
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
    source: KeySource,
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
        source,
    }
}

async fn integrate(
    config: &Config,
    log: &VerboseLog,
    http: &Http,
    progress: &Progress,
    credential: &Credential,
    evidence: Evidence,
    target: &Target,
) -> Result<Outcome, WizardError> {
    let framework = target.framework;
    let project_id = target.project_id;
    let directory = config.install_dir.display();
    let env_path = config.install_dir.join(framework.env_file);
    if let Some(existing) = framework::existing_integration(&config.install_dir, &framework) {
        log.line(format!(
            "already integrated: {} holds a project key and {} is declared",
            framework.env_file, framework.sdk_package
        ));
        if existing.project_api_key == target.project_api_key
            && existing.host.as_deref() == Some(target.host.as_str())
        {
            println!("PostHog is already set up in {directory}; nothing changed.");
            println!("  project: {}", target.label());
            println!("  host:    {}", target.host);
            dashboard_link(config, log, http, target).await;
            return Ok(Outcome::AlreadyIntegrated { project_id });
        }
        let current = std::fs::read_to_string(&env_path).ok();
        let env = framework::env_file_content(
            current.as_deref(),
            &framework,
            &target.project_api_key,
            &target.host,
        );
        let mut staging = Staging::new(&config.install_dir);
        staging
            .write(framework.env_file, &env)
            .map_err(|refusal| WizardError::Internal(refusal.to_string()))?;
        let files = staging.commit().map_err(|error| {
            WizardError::Internal(format!("cannot write {}: {error}", framework.env_file))
        })?;
        log.line(format!("updated {}", framework.env_file));
        println!(
            "PostHog is already set up in {directory}; only the project key and host changed."
        );
        println!("  project: {}", target.label());
        println!("  host:    {}", target.host);
        println!(
            "  updated {} (project API key and host)",
            framework.env_file
        );
        dashboard_link(config, log, http, target).await;
        println!("Verbose log: {}", log.path().display());
        return Ok(Outcome::Integrated { project_id, files });
    }
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
        retry: config.retry,
        stream: config.stream,
        progress,
    };
    let briefing = Briefing {
        framework,
        project_id,
        host: &target.host,
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
    let agent_files = staging.paths();
    let existing = std::fs::read_to_string(&env_path).ok();
    let env = framework::env_file_content(
        existing.as_deref(),
        &framework,
        &target.project_api_key,
        &target.host,
    );
    staging
        .write(framework.env_file, &env)
        .map_err(|refusal| WizardError::Internal(refusal.to_string()))?;
    let step = progress.step("Writing the files…");
    let files = staging
        .commit()
        .map_err(|error| WizardError::Internal(format!("cannot write the integration: {error}")))?;
    step.done(&format!(
        "Wrote {} file{}",
        files.len(),
        if files.len() == 1 { "" } else { "s" }
    ));
    log.line(format!("wrote {}", files.join(", ")));
    println!("PostHog is set up in {directory}.");
    println!("  project: {}", target.label());
    println!("  host:    {}", target.host);
    println!("  wrote {} (project API key and host)", framework.env_file);
    for file in files
        .iter()
        .filter(|file| agent_files.contains(file) && file.as_str() != framework.env_file)
    {
        println!("  wrote {file}");
    }
    dashboard_link(config, log, http, target).await;
    println!("Verbose log: {}", log.path().display());
    Ok(Outcome::Integrated { project_id, files })
}

/// The summary's last useful line: a single-use link into the dashboard,
/// for runs that hold an access token. A failure is logged, never fatal.
async fn dashboard_link(config: &Config, log: &VerboseLog, http: &Http, target: &Target) {
    let Some(token) = &target.deep_link_token else {
        return;
    };
    if let Some(link) = deep_link::dashboard(http, log, &config.server_url(), token).await {
        println!("Open your dashboard: {}", link.url);
        println!("  (the link works once and expires in 10 minutes)");
    }
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
        progress: &progress::Progress::hidden(),
        random: &OsRandom,
        base_url: &config.server_url(),
        client_id: config.client_id(),
        email,
        name,
        region: config.region().wire(),
        scopes: config.scopes.field(),
    }
    .run()
    .await?;
    // One of the two places that hand a credential to a person.
    let output = protocol::wizard::ProvisionOutput {
        email: email.to_owned(),
        region: config.region().flag().to_owned(),
        project_id: provisioned.project_id,
        organization_id: provisioned.organization_id,
        project_api_key: provisioned.project_api_key,
        host: provisioned.host,
        personal_api_key: provisioned
            .personal_api_key
            .as_ref()
            .map(|key| key.expose().to_owned()),
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
        match &output.personal_api_key {
            Some(key) => println!("  personal API key:  {key}"),
            None => println!("  personal API key:  none (the server issued none; the access token is the credential)"),
        }
        println!("  scope:             {}", output.scope);
        if output.personal_api_key.is_some() {
            println!("Store the personal API key now: it is shown only once.");
        }
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
    let mut unadvertised = Vec::new();
    for scope in &requested {
        let verdict = match &supported {
            Some(list) if list.contains(scope) => "supported",
            Some(_) if protocol::scope::ALWAYS_ALLOWED.contains(&scope.as_str()) => {
                "always allowed"
            }
            Some(_) if protocol::scope::never_advertised(scope) => {
                unadvertised.push(scope.clone());
                "not advertised"
            }
            Some(_) => {
                refused.push(scope.clone());
                "NOT SUPPORTED"
            }
            None => "unknown",
        };
        let reason = match (protocol::scope::wizard_reason(scope), protocol::scope::Scope::parse(scope)) {
            (Some(reason), _) => reason,
            (None, Err(_)) if scope == "introspection" => {
                "token introspection (RFC 7662): granted whatever the application's ceiling, on today's server"
            }
            (None, Err(_)) => "not a scope: scopes look like resource:read or resource:write",
            (None, Ok(_)) => "not a scope the wizard uses",
        };
        println!("  {scope:<24} {verdict:<14} {reason}");
    }
    if !unadvertised.is_empty() {
        println!(
            "Not advertised: {}. The server lists only what any OAuth client can get; privileged (llm_gateway:*) and hidden (wizard_session:*) scopes are granted by an application's own ceiling, if at all.",
            unadvertised.join(", ")
        );
    }
    match (&supported, refused.is_empty()) {
        (None, _) => println!("The server did not publish scopes_supported ({}).", answer.status),
        (Some(_), true) => println!("The server advertises every other requested scope."),
        (Some(_), false) => println!(
            "The server will not grant: {}. Today's server refuses them at the token exchange (invalid_scope); older ones at the account request.",
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
