//! `provisioning-server`: flags in, [`server::run`] out.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

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
    #[arg(long, default_value = "us", value_parser = ["us", "eu"])]
    region: String,
    /// The URL clients use to reach this server (default: http://<bound address>).
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
}

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
    let config = server::Config {
        bind: flags.bind,
        database_url: flags.database_url,
        region: flags.region,
        public_url: flags.public_url,
        profile: flags.profile,
        seeds: flags.seeds,
        admin_token: flags.admin_token,
    };
    match server::run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("provisioning-server: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
