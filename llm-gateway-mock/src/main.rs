//! `llm-gateway-mock`: flags to a [`gateway::Config`], then [`gateway::run`].

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Parser;
use gateway::{Config, Region};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A mock of PostHog's LLM gateway for the wizard: introspection-backed
/// auth and a rule-based agent.
#[derive(Debug, Parser)]
#[command(name = "llm-gateway-mock", version)]
struct Flags {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "LLM_GATEWAY_BIND", default_value = gateway::DEFAULT_BIND)]
    bind: SocketAddr,
    /// The region this gateway serves; credentials of the other are refused.
    #[arg(
        long,
        env = "LLM_GATEWAY_REGION",
        default_value = "us",
        value_parser = PossibleValuesParser::new(["us", "eu"])
            .map(|name| name.parse::<Region>().expect("a possible value is a region")),
    )]
    region: Region,
    /// Full URL of the provisioning server's introspection endpoint.
    #[arg(long, env = "LLM_GATEWAY_INTROSPECTION_URL", default_value = gateway::DEFAULT_INTROSPECTION_URL)]
    introspection_url: String,
    #[arg(long, env = "LLM_GATEWAY_INTROSPECTION_CLIENT_ID", default_value = protocol::oauth::DEV_INTROSPECTION_CLIENT_ID)]
    introspection_client_id: String,
    #[arg(long, env = "LLM_GATEWAY_INTROSPECTION_CLIENT_SECRET", default_value = protocol::oauth::DEV_INTROSPECTION_CLIENT_SECRET, hide_env_values = true)]
    introspection_client_secret: String,
    /// Comma-separated client ids whose `pha_` tokens may use the wizard
    /// product (default: the four wizard applications).
    #[arg(long, env = "LLM_GATEWAY_WIZARD_CLIENT_IDS", value_delimiter = ',')]
    wizard_client_ids: Option<Vec<String>>,
    /// The `phs_` key the provisioning server mints gateway tokens with
    /// (`POST /v1/tokens`); the default is the development key both programs
    /// share.
    #[arg(long, env = "LLM_GATEWAY_MINT_KEY", hide_env_values = true)]
    mint_key: Option<String>,
    /// Enables `/_admin/*`, guarded by `Authorization: Bearer <token>`.
    #[arg(long, env = "LLM_GATEWAY_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Play the scripts (`<framework>.toml`) of this directory to every
    /// Messages API client instead of the recipes (tests' hostile plays).
    #[arg(long, env = "LLM_GATEWAY_AGENT_DIR")]
    agent_dir: Option<PathBuf>,
    /// Inject a fault (repeatable): `status=529,count=2`,
    /// `status=429,retry_after=1`, `latency=50..200`, `drop,probability=0.5`,
    /// `truncate`, `cut_stream`; add `route=readyz` for the readiness route.
    #[arg(long = "fault", value_parser = gateway::faults::parse_flag)]
    faults: Vec<protocol::admin::FaultRule>,
    /// Seed of the generator behind fault probabilities and latency ranges.
    #[arg(long, default_value_t = 0)]
    fault_seed: u64,
    /// Seconds a client may take to send a request's head (a keep-alive
    /// connection left idle this long is closed too).
    #[arg(long, env = "LLM_GATEWAY_HEADER_READ_TIMEOUT", default_value_t = protocol::serve::Limits::DEFAULT.header_read_timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    header_read_timeout: u64,
    /// Connections served at once; more wait until one closes.
    #[arg(long, env = "LLM_GATEWAY_MAX_CONNECTIONS", default_value_t = protocol::serve::Limits::DEFAULT.max_connections, value_parser = clap::value_parser!(u64).range(1..).map(|count| count as usize))]
    max_connections: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let flags = Flags::parse();
    let defaults = Config::default();
    let config = Config {
        bind: flags.bind,
        region: flags.region,
        introspection_url: flags.introspection_url,
        introspection_client_id: flags.introspection_client_id,
        introspection_client_secret: flags.introspection_client_secret,
        wizard_client_ids: flags
            .wizard_client_ids
            .map(|ids| {
                ids.into_iter()
                    .map(|id| id.trim().to_owned())
                    .filter(|id| !id.is_empty())
                    .collect()
            })
            .unwrap_or(defaults.wizard_client_ids),
        mint_key: flags
            .mint_key
            .filter(|key| !key.is_empty())
            .unwrap_or(defaults.mint_key),
        admin_token: flags.admin_token.filter(|token| !token.is_empty()),
        agent_dir: flags.agent_dir,
        faults: protocol::admin::FaultSettings {
            seed: flags.fault_seed,
            rules: flags.faults,
        },
        limits: protocol::serve::Limits {
            header_read_timeout: std::time::Duration::from_secs(flags.header_read_timeout),
            max_connections: flags.max_connections,
        },
    };
    match gateway::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("llm-gateway-mock: {error:#}");
            ExitCode::FAILURE
        }
    }
}
