//! `wizard`: flags in, a session on stdout and stderr with the operating
//! system's randomness, [`wizard::run`] out, exit code from the outcome.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand};
use protocol::random::OsRandom;
use wizard::{Command, Config, ExitCode, Output, Region, ScopeRequest, Session, WizardError};

/// The PostHog setup wizard (simulated): signs you up without a browser,
/// then writes the PostHog SDK integration into your project.
///
/// Every flag can also be set as POSTHOG_WIZARD_<NAME> (upper case,
/// underscores), e.g. POSTHOG_WIZARD_BASE_URL.
#[derive(Debug, Parser)]
#[command(name = "wizard", version, after_help = wizard::error::EXIT_CODES_HELP)]
struct Flags {
    #[command(subcommand)]
    command: Option<Sub>,
    /// Create an account without a browser (needs --email).
    #[arg(long, env = "POSTHOG_WIZARD_SIGNUP")]
    signup: bool,
    /// The email of the account to create.
    #[arg(long, env = "POSTHOG_WIZARD_EMAIL", global = true)]
    email: Option<String>,
    /// Your name, for the new account.
    #[arg(long, env = "POSTHOG_WIZARD_NAME", global = true)]
    name: Option<String>,
    /// The PostHog region. Without it, CI mode and doctor find the key's
    /// region by asking both; elsewhere it means us.
    #[arg(
        long,
        env = "POSTHOG_WIZARD_REGION",
        global = true,
        value_parser = PossibleValuesParser::new(["us", "eu"])
            .map(|name| name.parse::<Region>().expect("a possible value is a region")),
    )]
    region: Option<Region>,
    /// Non-interactive run with a personal API key (--api-key).
    #[arg(long, env = "POSTHOG_WIZARD_CI")]
    ci: bool,
    /// A personal API key (phx_) for CI mode and doctor.
    #[arg(
        long,
        env = "POSTHOG_WIZARD_API_KEY",
        hide_env_values = true,
        global = true
    )]
    api_key: Option<String>,
    /// The project to use (default: the key's or the signed-in user's
    /// current project).
    #[arg(long, env = "POSTHOG_WIZARD_PROJECT_ID", global = true)]
    project_id: Option<i64>,
    /// The project directory to integrate.
    #[arg(
        long,
        env = "POSTHOG_WIZARD_INSTALL_DIR",
        default_value = ".",
        global = true
    )]
    install_dir: PathBuf,
    /// Pins every PostHog origin (API, provisioning, app, OAuth) to one URL.
    #[arg(long, env = "POSTHOG_WIZARD_BASE_URL", global = true)]
    base_url: Option<String>,
    /// The US region's server.
    #[arg(long, env = "POSTHOG_WIZARD_US_BASE_URL", default_value = wizard::DEFAULT_US_BASE_URL, global = true)]
    us_base_url: String,
    /// The EU region's server.
    #[arg(long, env = "POSTHOG_WIZARD_EU_BASE_URL", default_value = wizard::DEFAULT_EU_BASE_URL, global = true)]
    eu_base_url: String,
    /// The LLM gateway base including the product path; the wizard posts to
    /// <gateway-url>/v1/messages [default: http://localhost:3308/wizard (US), :3309 (EU)]
    #[arg(long, env = "POSTHOG_WIZARD_GATEWAY_URL", global = true)]
    gateway_url: Option<String>,
    /// What the account request asks for: signup, login, none (omit the
    /// field, as the first signup client did) or a comma-separated list.
    #[arg(
        long,
        env = "POSTHOG_WIZARD_SCOPES",
        default_value = "signup",
        global = true
    )]
    scopes: String,
    /// The login listener's port (interactive login) [default: the first
    /// free of 8239, 8238, 8240, 8237, 8236, 8235]
    #[arg(long, env = "POSTHOG_WIZARD_CALLBACK_PORT", global = true)]
    callback_port: Option<u16>,
    /// Seconds the interactive login waits for the browser or a pasted code.
    #[arg(
        long,
        env = "POSTHOG_WIZARD_LOGIN_TIMEOUT_SECONDS",
        default_value_t = 1800,
        hide = true,
        global = true
    )]
    login_timeout_seconds: u64,
    /// Echo the verbose log to stderr.
    #[arg(long, env = "POSTHOG_WIZARD_DEBUG", global = true)]
    debug: bool,
    /// Ask the gateway for a streamed answer (server-sent events).
    #[arg(long, env = "POSTHOG_WIZARD_STREAM", hide = true, global = true)]
    stream: bool,
    /// Seconds before a request gives up.
    #[arg(
        long,
        env = "POSTHOG_WIZARD_TIMEOUT_SECONDS",
        default_value_t = 30,
        hide = true
    )]
    timeout_seconds: u64,
    /// Milliseconds before the first retry of an overloaded or broken
    /// gateway call; doubles each time, capped at 16 times this.
    #[arg(
        long,
        env = "POSTHOG_WIZARD_RETRY_BASE_MS",
        default_value_t = 500,
        hide = true,
        global = true
    )]
    retry_base_ms: u64,
    /// The managed Claude Code settings file (tests point it elsewhere).
    #[arg(
        long,
        env = "POSTHOG_WIZARD_MANAGED_SETTINGS",
        default_value = "/etc/claude-code/managed-settings.json",
        hide = true
    )]
    managed_settings: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Create an account and print its credentials (JSON when stdout is not
    /// a terminal).
    Provision {
        /// Print JSON even on a terminal.
        #[arg(long)]
        json: bool,
    },
    /// Explain each scope the wizard requests and check it against the
    /// server's scopes_supported.
    Scopes,
    /// List the project's active health issues (exit 6 when there are any),
    /// with --api-key or, without one, after signing in in a browser.
    Doctor,
}

fn main() -> std::process::ExitCode {
    let flags = Flags::parse();
    let json_errors = matches!(flags.command, Some(Sub::Provision { json, .. }) if json || !std::io::stdout().is_terminal());
    let output = Output::standard();
    let result = config(flags).and_then(|config| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| WizardError::Internal(format!("cannot start the runtime: {error}")))?;
        let session = Session::new(config, output.clone(), Box::new(OsRandom))?;
        runtime.block_on(wizard::run(session))
    });
    match result {
        Ok(outcome) => std::process::ExitCode::from(outcome.exit_code() as u8),
        Err(error) => {
            if json_errors {
                output.warn(error.as_json());
            } else {
                output.warn(error.for_a_person());
            }
            std::process::ExitCode::from(error.exit_code() as u8)
        }
    }
}

fn config(flags: Flags) -> Result<Config, WizardError> {
    let scopes = ScopeRequest::parse(&flags.scopes).map_err(WizardError::Usage)?;
    let email = || {
        flags
            .email
            .clone()
            .filter(|email| !email.trim().is_empty())
            .ok_or_else(|| WizardError::Usage("--signup needs --email: the account is created for that address (no browser is opened)".into()))
    };
    let command = match (&flags.command, flags.signup, flags.ci) {
        (Some(Sub::Provision { json }), _, _) => Command::Provision {
            email: email().map_err(|_| WizardError::Usage("provision needs --email".into()))?,
            name: flags.name.clone(),
            json: *json || !std::io::stdout().is_terminal(),
        },
        (Some(Sub::Scopes), _, _) => Command::Scopes,
        (Some(Sub::Doctor), _, _) => Command::Doctor {
            api_key: flags.api_key.clone().filter(|key| !key.is_empty()),
            project_id: flags.project_id,
        },
        (None, true, true) => return Err(WizardError::Usage("--signup and --ci cannot be combined".into())),
        (None, true, false) => Command::Signup {
            email: email()?,
            name: flags.name.clone(),
            project_id: flags.project_id,
        },
        (None, false, true) => Command::Ci {
            api_key: flags
                .api_key
                .clone()
                .filter(|key| !key.is_empty())
                .ok_or_else(|| WizardError::Usage("--ci needs --api-key (a personal API key, phx_…)".into()))?,
            project_id: flags.project_id,
        },
        (None, false, false) => {
            return Err(WizardError::Usage(
                "nothing to do: use --signup --email <address>, --ci --api-key <phx_…>, or a subcommand (see --help)".into(),
            ))
        }
    };
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"));
    let log_dir = std::env::var_os("POSTHOG_WIZARD_LOG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let install_dir = flags.install_dir.canonicalize().map_err(|error| {
        WizardError::Usage(format!(
            "--install-dir {}: {error}",
            flags.install_dir.display()
        ))
    })?;
    let arguments: Vec<String> = std::env::args()
        .skip(1)
        .map(|argument| protocol::credential::redact_secrets(&argument))
        .collect();
    Ok(Config {
        command,
        region: flags.region,
        install_dir,
        base_url: flags.base_url,
        us_base_url: flags.us_base_url,
        eu_base_url: flags.eu_base_url,
        gateway_url: flags.gateway_url,
        scopes,
        callback_port: flags.callback_port,
        login_timeout: Duration::from_secs(flags.login_timeout_seconds.max(1)),
        debug: flags.debug,
        // Spinners only where a person watches and nothing else writes to
        // the terminal meanwhile (--debug echoes the log to stderr).
        progress: if std::io::stdout().is_terminal() && !flags.ci && !flags.debug {
            wizard::progress::Mode::Spinner
        } else {
            wizard::progress::Mode::Plain
        },
        stream: flags.stream,
        log_dir,
        home,
        managed_settings: flags.managed_settings,
        timeout: Duration::from_secs(flags.timeout_seconds.max(1)),
        retry: wizard::retry::RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(flags.retry_base_ms),
            cap: Duration::from_millis(flags.retry_base_ms.saturating_mul(16)),
        },
        arguments: arguments.join(" "),
    })
}

#[allow(dead_code)]
const _EXIT_CODES_ARE_STABLE: [ExitCode; 8] = [
    ExitCode::Done,
    ExitCode::Internal,
    ExitCode::Usage,
    ExitCode::Auth,
    ExitCode::Provisioning,
    ExitCode::Network,
    ExitCode::HealthIssues,
    ExitCode::EditsRefused,
];
