//! `bench`: measures our programs and the npm `oauth2-mock-server` peer in
//! one run on this machine and prints the ratios (`just bench`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use bench::run::{self, Options, Phase};

/// Side-by-side benchmark: release binaries and the peer on loopback.
#[derive(Debug, Parser)]
#[command(name = "bench")]
struct Flags {
    /// Seconds per load run.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Runs of each comparison, ours and the peer's alternately.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Concurrency levels of the full-signup runs (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    signup_clients: Vec<usize>,
    /// Accounts in the database when the top signup level is measured a
    /// second time (0: skip the grown-database row).
    #[arg(long, default_value_t = 30_000)]
    grown_accounts: u64,
    /// Concurrency (clients, or wrk connections) of every other run.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Starts per program for the start-up time.
    #[arg(long, default_value_t = 5)]
    starts: usize,
    /// Runs of the wizard (0: skip).
    #[arg(long, default_value_t = 20)]
    wizard_runs: usize,
    /// Where report.json and report.md go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// The node_modules directory holding oauth2-mock-server.
    #[arg(long, default_value = "target/bench/peer/node_modules")]
    peer_modules: PathBuf,
    /// RUST_LOG of our servers during the run.
    #[arg(long, default_value = "warn")]
    log: String,
    /// Do not rewrite the figures in BENCHMARKS.md.
    #[arg(long)]
    no_update: bool,
    /// Run only these parts (comma separated); implies --no-update.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Phase>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let flags = Flags::parse();
    let root = e2e::binaries::workspace_root();
    let absolute = |path: PathBuf| {
        if path.is_absolute() {
            path
        } else {
            root.join(path)
        }
    };
    let options = Options {
        seconds: flags.seconds.clamp(1, 120),
        rounds: flags.rounds.clamp(1, 10),
        signup_clients: flags
            .signup_clients
            .into_iter()
            .map(|n| n.clamp(1, 1024))
            .collect(),
        clients: flags.clients.clamp(1, 1024),
        grown_accounts: flags.grown_accounts.min(1_000_000),
        starts: flags.starts.clamp(1, 50),
        wizard_runs: flags.wizard_runs.min(200),
        out_dir: absolute(flags.out),
        peer_modules: absolute(flags.peer_modules),
        log: flags.log,
        update_benchmarks_md: !flags.no_update && flags.only.is_empty(),
        only: flags.only,
    };
    let report = match run::run(options.clone()).await {
        Ok(report) => report,
        Err(error) => {
            eprintln!("bench: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = run::write(&report, &options) {
        eprintln!("bench: cannot write the report: {error:#}");
        return ExitCode::FAILURE;
    }
    println!("{}", bench::report::markdown(&report));
    println!(
        "bench: wrote {0}/report.json and {0}/report.md",
        options.out_dir.display()
    );
    ExitCode::SUCCESS
}
