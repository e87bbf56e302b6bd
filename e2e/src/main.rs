//! `e2e`: runs the scenario files in `fixtures/scenarios/` and the
//! compatibility matrix against the real binaries. With no subcommand it
//! behaves as `e2e run`.

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "e2e",
    about = "Runs the provisioning server, the LLM gateway mock and the wizard against each other from scenario files.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Options of `run`, accepted without the subcommand too.
    #[command(flatten)]
    run: RunArgs,
    /// The fixtures directory (default: `fixtures/` found walking up from
    /// the current directory, then the workspace's own).
    #[arg(long, global = true, value_name = "DIR", env = "E2E_FIXTURES")]
    fixtures: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Lists every scenario with its one-line description.
    List,
    /// Runs the scenarios whose name contains FILTER (all by default).
    Run(RunArgs),
    /// Runs the compatibility matrix alone: every `--scopes` behaviour of
    /// the wizard against every server profile, compared with
    /// fixtures/matrix/expected.toml.
    Matrix {
        #[command(flatten)]
        run: RunArgs,
        /// Rewrite fixtures/matrix/expected.toml from what is observed
        /// (review the diff before committing it).
        #[arg(long)]
        bless: bool,
    },
    /// Runs the conformance suite (fixtures/conformance/): behaviours of
    /// PostHog's own tests against our server, one server per era and
    /// area; prints the score and writes target/e2e/conformance.md.
    Conformance(ConformanceArgs),
    /// Runs pinned published versions of the npm package `@posthog/wizard`
    /// (installed under target/published-wizard/) headless against the
    /// server and gateway, and compares how far each got with
    /// fixtures/published-wizard/expected.toml.
    PublishedWizard(PublishedWizardArgs),
}

#[derive(Debug, Clone, Args)]
struct ConformanceArgs {
    /// Substring of the cases' real test identifiers or of their area.
    filter: Option<String>,
    /// Only this era (a server profile of fixtures/profiles/).
    #[arg(long, value_name = "ERA")]
    era: Option<String>,
    /// Servers running at the same time.
    #[arg(long, short = 'j', default_value_t = 2, value_name = "N")]
    jobs: usize,
    /// Never build: use the binaries as found.
    #[arg(long)]
    no_build: bool,
    /// Where to write the score (default: target/e2e/conformance.md).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Also print what each `gap` and `differs` case observed.
    #[arg(long, short = 'v')]
    verbose: bool,
}

#[derive(Debug, Clone, Args)]
struct PublishedWizardArgs {
    /// A version to run (repeatable; default: every version of
    /// fixtures/published-wizard/packages.toml).
    #[arg(long = "version", value_name = "V")]
    versions: Vec<String>,
    /// A server to run against (repeatable; default: every one): an era
    /// (legacy, allowlist, ceilings, current), current-key-gate-on or
    /// current-key-mints.
    #[arg(long = "server", value_name = "S")]
    profiles: Vec<String>,
    /// `kept` or `removed` (repeatable; default: both): the account request
    /// as published, or without `scopes`.
    #[arg(long = "variant", value_name = "V")]
    variants: Vec<e2e::published_wizard::expected::Variant>,
    /// Install what is missing (Node 22, the pinned versions) with npm first.
    #[arg(long)]
    install: bool,
    /// Install what is missing, then stop.
    #[arg(long)]
    install_only: bool,
    /// Rewrite the expected outcome of every cell that ran (review the diff).
    #[arg(long)]
    bless: bool,
    /// Time limit of one cell's wizard run, in seconds.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    timeout: u64,
    /// Time limit of one end-to-end case's wizard run, in seconds (a
    /// refused Claude Code retries for about three and a half minutes).
    #[arg(long, default_value_t = 360, value_name = "SECONDS")]
    case_timeout: u64,
    /// Run only the end-to-end cases (`[[case]]` rows of expected.toml).
    #[arg(long, conflicts_with = "no_cases")]
    cases_only: bool,
    /// Run only the cells, not the end-to-end cases.
    #[arg(long)]
    no_cases: bool,
    /// Never build: use our binaries as found.
    #[arg(long)]
    no_build: bool,
}

#[derive(Debug, Clone, Args)]
struct RunArgs {
    /// Substring of the scenario names to run.
    filter: Option<String>,
    /// Scenarios run at the same time.
    #[arg(long, short = 'j', default_value_t = 2, value_name = "N")]
    jobs: usize,
    /// Keep each scenario's scratch directory and print the commands that
    /// rerun each program by hand.
    #[arg(long)]
    keep: bool,
    /// Rewrite each scenario's committed transcript under
    /// fixtures/transcripts/ from this run (review the diff first).
    #[arg(long)]
    bless_transcripts: bool,
    /// Run `cargo build --workspace --bins` first, so binaries found beside
    /// the harness are not older than their sources. The default under
    /// `cargo run` (which rebuilds only the harness itself).
    #[arg(long, overrides_with = "no_build")]
    build: bool,
    /// Never build: use the binaries as found (CI swapping in other builds
    /// sets E2E_*_BIN instead).
    #[arg(long)]
    no_build: bool,
    /// Where to write the JSON report (default: target/e2e/report.json);
    /// the Markdown and JUnit reports go beside it, with `.md` and `.xml`.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Run only shard K of N of the sorted list (round-robin), for CI.
    #[arg(long, value_name = "K/N")]
    shard: Option<e2e::shard::Shard>,
    /// Skip the compatibility matrix's cells, which otherwise run with
    /// the scenarios (filtered by name like them: `matrix-<profile>-…`).
    #[arg(long)]
    no_matrix: bool,
    /// Skip the conformance suite, which otherwise runs after the scenarios
    /// when no FILTER is given (in the first shard only).
    #[arg(long)]
    no_conformance: bool,
}

fn main() {
    let cli = Cli::parse();
    std::process::exit(match real_main(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("e2e: {error:#}");
            e2e::suite::EXIT_USAGE
        }
    });
}

fn real_main(cli: Cli) -> anyhow::Result<i32> {
    let fixtures = match cli.fixtures {
        Some(dir) => dir,
        None => e2e::suite::find_fixtures(&std::env::current_dir()?)?,
    };
    let run = match cli.command {
        Some(Command::List) => {
            let listing = e2e::suite::list(&fixtures)?;
            // A closed pipe (`e2e list | head`) is not an error.
            let _ = writeln!(std::io::stdout(), "{listing}");
            return Ok(e2e::suite::EXIT_PASSED);
        }
        Some(Command::Conformance(args)) => {
            let options = e2e::conformance_run::ConformanceOptions {
                fixtures,
                filter: args.filter,
                era: args.era,
                build: !args.no_build && std::env::var_os("CARGO").is_some(),
                jobs: args.jobs,
                report_path: args
                    .report
                    .unwrap_or_else(e2e::conformance_run::default_report_path),
                verbose: args.verbose,
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            return runtime.block_on(e2e::conformance_run::run(options));
        }
        Some(Command::PublishedWizard(args)) => {
            let target = e2e::report::default_report_path()
                .parent()
                .map(|dir| dir.join("published-wizard"))
                .unwrap_or_else(|| PathBuf::from("target/e2e/published-wizard"));
            let options = e2e::published_wizard::Options {
                fixtures,
                versions: args.versions,
                profiles: args.profiles,
                variants: args.variants,
                install: args.install,
                install_only: args.install_only,
                bless: args.bless,
                build: !args.no_build && std::env::var_os("CARGO").is_some(),
                timeout: std::time::Duration::from_secs(args.timeout),
                case_timeout: std::time::Duration::from_secs(args.case_timeout),
                cells: !args.cases_only,
                cases: !args.no_cases,
                out_dir: target,
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            return runtime.block_on(e2e::published_wizard::run(options));
        }
        Some(Command::Run(run)) => (run.clone(), true, !run.no_matrix, false),
        Some(Command::Matrix { run, bless }) => (run, false, true, bless),
        None => (cli.run.clone(), true, !cli.run.no_matrix, false),
    };
    let (run, scenarios, matrix, bless) = run;
    // The whole main job also scores the conformance suite (about two
    // seconds): only when every scenario runs, and once across shards.
    let conformance = scenarios
        && !bless
        && !run.no_conformance
        && !run.bless_transcripts
        && run.filter.is_none()
        && run.shard.is_none_or(|shard| shard.index == 1);
    let conformance_options = e2e::conformance_run::ConformanceOptions {
        fixtures: fixtures.clone(),
        filter: None,
        era: None,
        // The scenarios' build (if any) has just made the binaries.
        build: false,
        jobs: run.jobs,
        report_path: e2e::conformance_run::default_report_path(),
        verbose: false,
    };
    let options = e2e::suite::RunOptions {
        fixtures,
        filter: run.filter,
        jobs: run.jobs,
        keep: run.keep,
        // `cargo run` sets CARGO for its child: building then costs well
        // under a second when nothing changed, and a stale wizard or server
        // would otherwise make the scenarios lie.
        build: !run.no_build && (run.build || std::env::var_os("CARGO").is_some()),
        report_path: run.report.unwrap_or_else(e2e::report::default_report_path),
        scenarios,
        matrix,
        bless,
        shard: run.shard,
        bless_transcripts: run.bless_transcripts,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let scenarios_code = runtime.block_on(e2e::suite::run(options))?;
    if !conformance || scenarios_code == e2e::suite::EXIT_INTERRUPTED {
        return Ok(scenarios_code);
    }
    let conformance_code = runtime.block_on(e2e::conformance_run::run(conformance_options))?;
    Ok(match (scenarios_code, conformance_code) {
        (e2e::suite::EXIT_PASSED, code) => code,
        (code, _) => code,
    })
}
