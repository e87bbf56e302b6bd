//! `provisioning-server`: flags in, [`server::run`] out.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Parser;
use protocol::region::Region;

/// The simulated PostHog agentic provisioning server.
///
/// Prints exactly one stdout line, `listening on http://<addr>`, when ready;
/// logs go to stderr (RUST_LOG filters them).
#[derive(Debug, Parser)]
#[command(name = "provisioning-server", version)]
struct Flags {
    /// Address to listen on; port 0 picks a free port.
    #[arg(
        long,
        default_value = "127.0.0.1:8010",
        env = "PROVISIONING_SERVER_BIND"
    )]
    bind: SocketAddr,
    /// SQLite database: a file URL (created if missing) or `sqlite::memory:`.
    #[arg(long, default_value = "sqlite://provisioning.db?mode=rwc")]
    database_url: String,
    /// The region this instance serves.
    #[arg(
        long,
        default_value = "us",
        value_parser = PossibleValuesParser::new(["us", "eu"])
            .map(|name| name.parse::<Region>().expect("a possible value is a region")),
    )]
    region: Region,
    /// The URL clients use to reach this server (default: the bound address, as
    /// http://HOST:PORT).
    #[arg(long)]
    public_url: Option<String>,
    /// Behaviour profile: `legacy` (April 2026), `current`, or a profile file.
    #[arg(long, default_value = "current")]
    profile: String,
    /// Extra seed file (TOML) with partners and resource servers; repeatable.
    #[arg(long = "seed")]
    seeds: Vec<PathBuf>,
    /// Enables the /_admin/ routes, guarded by this bearer token.
    #[arg(long)]
    admin_token: Option<String>,
    /// Seconds a client may take to send a request's head (a keep-alive
    /// connection left idle this long is closed too).
    #[arg(long, default_value_t = protocol::serve::Limits::DEFAULT.header_read_timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    header_read_timeout: u64,
    /// Connections served at once; more wait until one closes.
    #[arg(long, default_value_t = protocol::serve::Limits::DEFAULT.max_connections, value_parser = clap::value_parser!(u64).range(1..).map(|count| count as usize))]
    max_connections: usize,
    /// The LLM gateway that mints the wizard's gateway tokens
    /// (`POST /api/wizard/gateway_token/` mints at `<URL>/v1/tokens` and
    /// hands `<URL>` to the client); an empty value turns the endpoint off
    /// (404). The default is the gateway of `just serve`.
    #[arg(long, value_name = "URL", default_value = DEFAULT_WIZARD_GATEWAY_URL)]
    wizard_gateway_url: String,
    /// The `phs_` key the server mints gateway tokens with (the gateway's
    /// `--mint-key`). Read from the environment rather than a flag, so it
    /// does not show in process listings.
    #[arg(long, hide = true, env = "PROVISIONING_SERVER_WIZARD_GATEWAY_MINT_KEY")]
    wizard_gateway_mint_key: Option<String>,
    /// Programs a gateway token may be pinned to (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "PROGRAM,…")]
    wizard_gateway_programs: Option<Vec<String>>,
    /// Gateway-token mints per user per hour.
    #[arg(long, value_name = "N")]
    wizard_gateway_mints_per_hour: Option<i64>,
    /// Answer "not rolled out" to every gateway-token request (the real
    /// server's rollout flag turned off).
    #[arg(long)]
    wizard_gateway_not_rolled_out: bool,
    /// Let a wizard application's personal key (`phx_`) mint a gateway
    /// token as its access token would. A deliberate difference (BEYOND.md):
    /// the real endpoint takes access tokens only, but the published wizard
    /// 2.77.0 sends its personal key.
    #[arg(long)]
    wizard_gateway_accepts_personal_keys: bool,
    /// Stop the clock at the start time: only `POST /_admin/clock` moves
    /// it. For deterministic scenarios; a real deployment never sets it.
    #[arg(long)]
    frozen_clock: bool,
}

/// The gateway of `just serve`.
const DEFAULT_WIZARD_GATEWAY_URL: &str = "http://localhost:3308";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let flags = Flags::parse();
    let wizard_gateway = match wizard_gateway(&flags) {
        Ok(wizard_gateway) => wizard_gateway,
        Err(error) => {
            eprintln!("provisioning-server: {error:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let config = server::Config {
        bind: flags.bind,
        database_url: flags.database_url,
        region: flags.region,
        public_url: flags.public_url,
        profile: flags.profile,
        seeds: flags.seeds,
        admin_token: flags.admin_token,
        wizard_gateway,
        limits: protocol::serve::Limits {
            header_read_timeout: std::time::Duration::from_secs(flags.header_read_timeout),
            max_connections: flags.max_connections,
        },
        frozen_clock: flags.frozen_clock,
    };
    match server::run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("provisioning-server: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn wizard_gateway(flags: &Flags) -> anyhow::Result<Option<server::WizardGateway>> {
    if flags.wizard_gateway_url.trim().is_empty() {
        return Ok(None);
    }
    let mut gateway = server::WizardGateway::new(&flags.wizard_gateway_url)?;
    if let Some(mint_key) = &flags.wizard_gateway_mint_key {
        gateway.mint_key = mint_key.clone();
    }
    if let Some(programs) = &flags.wizard_gateway_programs {
        gateway.programs = programs.clone();
    }
    if let Some(mints_per_hour) = flags.wizard_gateway_mints_per_hour {
        anyhow::ensure!(
            mints_per_hour >= 0,
            "--wizard-gateway-mints-per-hour must not be negative"
        );
        gateway.mints_per_hour = mints_per_hour;
    }
    gateway.rolled_out = !flags.wizard_gateway_not_rolled_out;
    gateway.accepts_personal_keys = flags.wizard_gateway_accepts_personal_keys;
    Ok(Some(gateway))
}
