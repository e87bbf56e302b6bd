//! `e2e published-wizard`: runs pinned published versions of the npm
//! package `@posthog/wizard`, unchanged and headless, against our server
//! and gateway, and reads from their journals how far each got.
//!
//! Each cell (version × server setup × variant; a setup is an era of the
//! real server, [`expected::SERVERS`]) gets a fresh stack on the
//! fixed ports the published wizard derives from a localhost base URL
//! (server `127.0.0.1:8010`, public URL `http://localhost:8010`; gateway
//! `127.0.0.1:3308`, base `/wizard`), a fresh SQLite file, HOME and copy of
//! the next-js app, and runs the wizard with the pinned Node 22 in a
//! scrubbed environment with stdin closed. The run ends when the wizard
//! exits, when the gateway has answered a model call (nothing later can
//! change the outcome), or at the time limit; the whole process group is
//! killed. The outcome ([`outcome::classify`]) is compared with
//! `fixtures/published-wizard/expected.toml`.
//!
//! Cells run one after another: the ports are fixed, and the published
//! wizard always logs to `/tmp/posthog-wizard.log`.
//!
//! Code map: [`install`] (the pinned packages under target/), [`outcome`]
//! (how far a run got), [`expected`] (the committed pins and expectations,
//! the server setups), [`outputs`] (redacting and scanning what is
//! written), [`report`] (the table, report.md, report.json).
//!
//! Everything written under `target/e2e/published-wizard/` is redacted and
//! then scanned: no full credential of protocol's secret kinds (`pha_`,
//! `phr_`, `phx_`, `phe_`, …) may be in it.

pub mod expected;
pub mod install;
pub mod outcome;
pub mod outputs;
pub mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use protocol::admin::{Journal, JournalEntry, StateSummary};

use crate::process::{self, Invocation, Service};
use expected::{CellKey, Expected, Packages, Variant, EXPECTED_FILE, VARIANTS};
use outcome::{Outcome, Side, Stage};
use outputs::{
    agent_config_dirs, read_lossy, scan_text, scan_tree, wizard_error_code, write_redacted,
};
use report::{failure_text, render_report, render_table, report_json, row_summary};

/// Where the server listens; the published wizard is given
/// `--base-url http://localhost:8010`.
pub const SERVER_BIND: &str = "127.0.0.1:8010";
pub const BASE_URL: &str = "http://localhost:8010";
/// Where the gateway listens: versions up to 2.62.0 (and 2.73.0 after a
/// refused mint) derive `http://localhost:3308/wizard` from a localhost
/// base URL, so the port is fixed.
pub const GATEWAY_BIND: &str = "127.0.0.1:3308";

/// The published wizard's fixed log file.
pub const WIZARD_LOG: &str = "/tmp/posthog-wizard.log";

/// The line the preload prints when it removed the field.
pub const PRELOAD_MARKER: &str = "[omit-scopes] removed scopes from the account request";

/// The preload, relative to the workspace root.
pub const PRELOAD: &str = "e2e/published/omit-scopes.mjs";

/// The app every cell's wizard runs in.
pub const APP: &str = "next-js";

/// How often the journals are read while the wizard runs.
const POLL_EVERY: Duration = Duration::from_millis(300);

/// Options of `e2e published-wizard`.
#[derive(Debug, Clone)]
pub struct Options {
    pub fixtures: PathBuf,
    /// Versions to run (all of packages.toml when empty).
    pub versions: Vec<String>,
    /// Profiles to run (both when empty).
    pub profiles: Vec<String>,
    /// Variants to run (both when empty).
    pub variants: Vec<Variant>,
    /// Install what is missing first.
    pub install: bool,
    /// Install and stop.
    pub install_only: bool,
    /// Rewrite expected.toml's cells that ran from what was observed.
    pub bless: bool,
    /// Run `cargo build --workspace --bins` first.
    pub build: bool,
    /// The time limit of one wizard run.
    pub timeout: Duration,
    /// Where the table and each run's files go.
    pub out_dir: PathBuf,
}

/// How the wizard's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Exited(i32),
    Signalled(i32),
    /// Killed at the time limit.
    TimedOut,
    /// Killed by the driver once the gateway had answered a model call.
    StoppedAfterGateway,
}

/// One cell as run.
#[derive(Debug, Clone)]
pub struct CellResult {
    pub key: CellKey,
    /// None when the cell could not be run at all (see `problems`).
    pub outcome: Option<Outcome>,
    pub expected: Option<Outcome>,
    pub ending: Option<Ending>,
    pub duration: Duration,
    /// Each signup-path request in order: `side METHOD path → status`.
    pub requests: Vec<String>,
    /// What fails the cell besides a different outcome.
    pub problems: Vec<String>,
    /// What a reader should know but does not fail the cell (credentials
    /// the published wizard wrote in full into its own outputs).
    pub notes: Vec<String>,
    /// The code of the error the wizard reported in its structured
    /// `phw-error: {json}` stderr line (2.73.0 and later), for the reader;
    /// the outcome never depends on it.
    pub wizard_error: Option<String>,
    /// What the server minted, from `/_admin/state`: shows the scopeless
    /// token of the `scopes removed` variant where the era keeps it.
    pub credential_scopes: Option<CredentialScopes>,
}

/// The scopes of the credentials the server minted during a run (each
/// credential's scopes space separated; empty when it has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScopes {
    pub access_tokens: Vec<String>,
    pub personal_api_keys: Vec<String>,
}

impl std::fmt::Display for Ending {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Exited(code) => write!(formatter, "exit {code}"),
            Ending::Signalled(signal) => write!(formatter, "signal {signal}"),
            Ending::TimedOut => formatter.write_str("timed out"),
            Ending::StoppedAfterGateway => formatter.write_str("stopped after the gateway"),
        }
    }
}

impl CellResult {
    pub fn passed(&self) -> bool {
        self.problems.is_empty() && self.outcome.is_some() && self.outcome == self.expected
    }
}

/// Everything a cell needs that does not change between cells.
struct Lane {
    workspace: PathBuf,
    fixtures: PathBuf,
    packages: Packages,
    install_root: PathBuf,
    binaries: crate::binaries::Binaries,
    timeout: Duration,
    out_dir: PathBuf,
    run_id: String,
}

/// Runs the lane; answers the process's exit code.
pub async fn run(options: Options) -> Result<i32> {
    let workspace = crate::binaries::workspace_root();
    let packages = Packages::load(&options.fixtures)?;
    let versions = chosen(&options.versions, &packages.wizard, "version")?;
    let profiles = chosen(&options.profiles, &expected::server_names(), "server")?;
    let variants = if options.variants.is_empty() {
        VARIANTS.to_vec()
    } else {
        options.variants.clone()
    };
    let install_root = install::root(&workspace);
    if options.install || options.install_only {
        let steps = install::install_missing(&install_root, &packages, &versions)?;
        for step in steps {
            match step.took {
                Some(took) => eprintln!(
                    "published-wizard: installed {} in {:.1} s",
                    step.what,
                    took.as_secs_f64()
                ),
                None => eprintln!("published-wizard: {} already installed", step.what),
            }
        }
        if options.install_only {
            return Ok(crate::suite::EXIT_PASSED);
        }
    }
    for version in &versions {
        install::locate(&install_root, &packages, version)?;
    }
    let binaries = crate::binaries::locate(options.build)?;
    let mut expected = Expected::load(&options.fixtures)?;
    // A run's files are only this run's: no cell of an earlier run stays.
    let _ = std::fs::remove_dir_all(&options.out_dir);
    std::fs::create_dir_all(&options.out_dir)
        .with_context(|| format!("cannot create {}", options.out_dir.display()))?;
    let context = Lane {
        workspace,
        fixtures: options.fixtures.clone(),
        packages,
        install_root,
        binaries,
        timeout: options.timeout,
        out_dir: options.out_dir.clone(),
        run_id: crate::runner::new_run_id(),
    };

    let mut results = Vec::new();
    for version in &versions {
        for profile in &profiles {
            for variant in &variants {
                let key = CellKey {
                    version: version.clone(),
                    profile: profile.clone(),
                    variant: *variant,
                };
                eprintln!("published-wizard: running {key} …");
                let mut result = tokio::select! {
                    result = run_cell(&context, &key) => result,
                    _ = tokio::signal::ctrl_c() => {
                        process::kill_all_live();
                        return Ok(crate::suite::EXIT_INTERRUPTED);
                    }
                };
                // Blessing takes what was observed as the expectation.
                result.expected = if options.bless {
                    result.outcome
                } else {
                    expected.get(&key)
                };
                eprintln!("published-wizard:   {}", row_summary(&result));
                results.push(result);
            }
        }
    }

    if options.bless {
        for result in &results {
            if let Some(outcome) = result.outcome {
                expected.set(&result.key, outcome);
            }
        }
        let path = options.fixtures.join(EXPECTED_FILE);
        std::fs::write(&path, expected.render()?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("published-wizard: rewrote {}", path.display());
    }

    let table = render_table(&results);
    println!("{table}");
    write_redacted(&options.out_dir.join("report.md"), &render_report(&results))?;
    write_redacted(
        &options.out_dir.join("report.json"),
        &serde_json::to_string_pretty(&report_json(&results))?,
    )?;
    let leaks = scan_tree(&options.out_dir)?;
    for leak in &leaks {
        eprintln!("published-wizard: LEAK in what we wrote: {leak}");
    }
    let failed: Vec<&CellResult> = results.iter().filter(|result| !result.passed()).collect();
    for result in &failed {
        eprintln!(
            "published-wizard: FAILED {}: {}",
            result.key,
            failure_text(result)
        );
    }
    eprintln!(
        "published-wizard: {} passed, {} failed (files in {})",
        results.len() - failed.len(),
        failed.len(),
        options.out_dir.display()
    );
    Ok(if failed.is_empty() && leaks.is_empty() {
        crate::suite::EXIT_PASSED
    } else {
        crate::suite::EXIT_FAILED
    })
}

/// The requested subset of `all`, refusing names that are not in it.
fn chosen(requested: &[String], all: &[String], what: &str) -> Result<Vec<String>> {
    if requested.is_empty() {
        return Ok(all.to_vec());
    }
    for name in requested {
        if !all.contains(name) {
            bail!("unknown {what} {name:?} (known: {})", all.join(", "));
        }
    }
    Ok(requested.to_vec())
}

/// Runs one cell; a set-up failure becomes a problem of the cell, so the
/// other cells still run.
async fn run_cell(context: &Lane, key: &CellKey) -> CellResult {
    let started = Instant::now();
    let mut result = CellResult {
        key: key.clone(),
        outcome: None,
        expected: None,
        ending: None,
        duration: Duration::ZERO,
        requests: Vec::new(),
        problems: Vec::new(),
        notes: Vec::new(),
        wizard_error: None,
        credential_scopes: None,
    };
    let cell_dir = context.out_dir.join(key.dir_name());
    if let Err(error) = run_cell_in(context, key, &cell_dir, &mut result).await {
        result.problems.push(format!("{error:#}"));
    }
    result.duration = started.elapsed();
    result
}

async fn run_cell_in(
    context: &Lane,
    key: &CellKey,
    cell_dir: &Path,
    result: &mut CellResult,
) -> Result<()> {
    let _ = std::fs::remove_dir_all(cell_dir);
    std::fs::create_dir_all(cell_dir)?;
    // Scratch: the database, HOME, the project and the raw outputs, which
    // may hold full credentials; only redacted copies reach `cell_dir`.
    let scratch = tempfile::Builder::new()
        .prefix("published-wizard-")
        .tempdir()?;
    let dir = scratch.path();
    let home = dir.join("home");
    let project = dir.join("project");
    std::fs::create_dir_all(&home)?;
    std::fs::create_dir_all(dir.join("tmp"))?;
    crate::project::copy_dir(&context.fixtures.join("apps").join(APP), &project)?;
    let installed = install::locate(&context.install_root, &context.packages, &key.version)?;

    let admin_token = format!("published-wizard-{}", context.run_id);
    let service_env = service_environment(&home);
    let setup = expected::server(&key.profile)
        .with_context(|| format!("unknown server {:?}", key.profile))?;
    let mut server_args: Vec<String> = [
        "--bind",
        SERVER_BIND,
        "--public-url",
        BASE_URL,
        "--region",
        "us",
        "--profile",
        setup.profile,
        "--admin-token",
        &admin_token,
        "--database-url",
        &format!("sqlite://{}?mode=rwc", dir.join("server.sqlite").display()),
    ]
    .map(str::to_owned)
    .to_vec();
    if let Some(seed) = setup.seed {
        server_args.push("--seed".to_owned());
        server_args.push(context.fixtures.join(seed).display().to_string());
    }
    server_args.extend(setup.flags.iter().map(|flag| flag.to_string()));
    let server = process::start_service(
        "provisioning-server",
        Invocation {
            program: context.binaries.server.path.clone(),
            args: server_args,
            env: service_env.clone(),
            current_dir: dir.to_path_buf(),
        },
        &dir.join("server.stdout"),
        &dir.join("server.stderr"),
    )
    .await
    .with_context(|| {
        format!("cannot start the server on {SERVER_BIND} (is `just serve` running?)")
    })?;
    let gateway = match process::start_service(
        "llm-gateway-mock",
        Invocation {
            program: context.binaries.gateway.path.clone(),
            args: [
                "--bind",
                GATEWAY_BIND,
                "--region",
                "us",
                "--introspection-url",
                &format!("http://{SERVER_BIND}/oauth/introspect"),
                "--admin-token",
                &admin_token,
            ]
            .map(str::to_owned)
            .to_vec(),
            env: service_env,
            current_dir: dir.to_path_buf(),
        },
        &dir.join("gateway.stdout"),
        &dir.join("gateway.stderr"),
    )
    .await
    {
        Ok(gateway) => gateway,
        Err(error) => {
            server.process.kill().await;
            return Err(error.context(format!("cannot start the gateway on {GATEWAY_BIND}")));
        }
    };

    let invocation = wizard_invocation(context, key, &installed, &home, &project, dir);
    write_redacted(&cell_dir.join("command.txt"), &invocation.shell_line())?;
    let _ = std::fs::remove_file(WIZARD_LOG);
    let agent_dirs_before = agent_config_dirs();
    let client = reqwest::Client::new();
    let ending = drive_wizard(
        &invocation,
        dir,
        context.timeout,
        &client,
        &server,
        &gateway,
        &admin_token,
    )
    .await;

    let server_journal = fetch_journal(&client, &server.url, &admin_token).await;
    let gateway_journal = fetch_journal(&client, &gateway.url, &admin_token).await;
    let state: Result<StateSummary> = fetch_admin(
        &client,
        &server.url,
        protocol::paths::ADMIN_STATE,
        &admin_token,
    )
    .await;
    server.process.kill().await;
    gateway.process.kill().await;
    // Only the directories this run made: they appeared while it ran.
    for dir in agent_config_dirs().difference(&agent_dirs_before) {
        let _ = std::fs::remove_dir_all(dir);
    }
    let ending = ending?;
    result.ending = Some(ending);

    let server_journal = server_journal.context("cannot read the server's journal")?;
    let gateway_journal = gateway_journal.context("cannot read the gateway's journal")?;
    let outcome = outcome::classify(&server_journal.entries, &gateway_journal.entries);
    result.outcome = Some(outcome);
    result.requests = signup_requests(&server_journal.entries, &gateway_journal.entries);
    result.credential_scopes = state.ok().map(|state| CredentialScopes {
        access_tokens: state.access_token_scopes,
        personal_api_keys: state.personal_api_key_scopes,
    });

    // The raw outputs: the wizard's own may hold credentials in full (a
    // note); ours may not (a problem).
    let wizard_log = std::fs::read(WIZARD_LOG)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let _ = std::fs::remove_file(WIZARD_LOG);
    let wizard_stderr = read_lossy(&dir.join("wizard.stderr"));
    let outputs = [
        (
            "wizard.stdout",
            read_lossy(&dir.join("wizard.stdout")),
            true,
        ),
        ("wizard.stderr", wizard_stderr.clone(), true),
        ("posthog-wizard.log", wizard_log, true),
        (
            "server.stdout",
            read_lossy(&dir.join("server.stdout")),
            false,
        ),
        (
            "server.stderr",
            read_lossy(&dir.join("server.stderr")),
            false,
        ),
        (
            "gateway.stdout",
            read_lossy(&dir.join("gateway.stdout")),
            false,
        ),
        (
            "gateway.stderr",
            read_lossy(&dir.join("gateway.stderr")),
            false,
        ),
        (
            "journals.json",
            serde_json::to_string_pretty(&serde_json::json!({
                "server": server_journal,
                "gateway": gateway_journal,
            }))?,
            false,
        ),
    ];
    for (name, text, published) in &outputs {
        for leak in scan_text(name, text) {
            if *published {
                result.notes.push(format!("the published wizard's {leak}"));
            } else {
                result.problems.push(leak);
            }
        }
        write_redacted(&cell_dir.join(name), text)?;
    }
    result.wizard_error = wizard_error_code(&wizard_stderr);
    if key.variant == Variant::ScopesRemoved && !wizard_stderr.contains(PRELOAD_MARKER) {
        let reached_account_request = outcome != Outcome::NoRequest;
        if reached_account_request {
            result.problems.push(format!(
                "the preload {PRELOAD} never removed `scopes` (no {PRELOAD_MARKER:?} on stderr)"
            ));
        }
    }
    Ok(())
}

/// The published wizard's command line: the pinned Node, the preload for
/// the scopeless variant, the headless signup flags every pinned version
/// accepts.
fn wizard_invocation(
    context: &Lane,
    key: &CellKey,
    installed: &install::Installed,
    home: &Path,
    project: &Path,
    dir: &Path,
) -> Invocation {
    let mut args = Vec::new();
    if key.variant == Variant::ScopesRemoved {
        args.push("--import".to_owned());
        args.push(context.workspace.join(PRELOAD).display().to_string());
    }
    args.push(installed.wizard_entry.display().to_string());
    let email = format!(
        "published-{}-{}-{}@example.com",
        key.version.replace('.', "-"),
        key.profile,
        key.variant.slug()
    );
    for arg in [
        "--headless-DONOTUSE-EXPERIMENTAL",
        "--signup",
        "--email",
        &email,
        "--base-url",
        BASE_URL,
        "--install-dir",
        &project.display().to_string(),
    ] {
        args.push(arg.to_owned());
    }
    Invocation {
        program: installed.node.clone(),
        args,
        env: wizard_environment(&installed.node, home, &dir.join("tmp")),
        current_dir: dir.to_path_buf(),
    }
}

/// The published wizard's whole environment: the pinned Node first on
/// PATH, a fresh HOME (Claude Code keeps `.claude/` there, pi `.pi/`) and
/// TMPDIR (their temporary directories), and nothing else: an unknown
/// `POSTHOG_WIZARD_*` variable aborts it, and `CI` would change its
/// behaviour. Only its log ignores TMPDIR: it is always
/// `/tmp/posthog-wizard.log`.
pub fn wizard_environment(node: &Path, home: &Path, tmp: &Path) -> BTreeMap<String, String> {
    let node_dir = node
        .parent()
        .map_or_else(String::new, |dir| dir.display().to_string());
    BTreeMap::from([
        (
            "PATH".to_owned(),
            format!("{node_dir}:/usr/local/bin:/usr/bin:/bin"),
        ),
        ("HOME".to_owned(), home.display().to_string()),
        ("TMPDIR".to_owned(), tmp.display().to_string()),
        ("LANG".to_owned(), "C.UTF-8".to_owned()),
    ])
}

/// Our programs' environment: PATH and HOME only.
fn service_environment(home: &Path) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert(
        "PATH".to_owned(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".to_owned()),
    );
    env.insert("HOME".to_owned(), home.display().to_string());
    env
}

/// Runs the wizard until it exits, the gateway answers a model call, or
/// the time limit; its process group is killed in every case.
async fn drive_wizard(
    invocation: &Invocation,
    dir: &Path,
    timeout: Duration,
    client: &reqwest::Client,
    server: &Service,
    gateway: &Service,
    admin_token: &str,
) -> Result<Ending> {
    let background = process::start_background(
        "published wizard",
        invocation,
        None,
        &dir.join("wizard.stdout"),
        &dir.join("wizard.stderr"),
    )
    .await?;
    let watch = async {
        loop {
            tokio::time::sleep(POLL_EVERY).await;
            let (Ok(server_journal), Ok(gateway_journal)) = (
                fetch_journal(client, &server.url, admin_token).await,
                fetch_journal(client, &gateway.url, admin_token).await,
            ) else {
                continue;
            };
            if outcome::classify(&server_journal.entries, &gateway_journal.entries).is_final() {
                return;
            }
        }
    };
    tokio::select! {
        ending = background.wait(timeout) => Ok(match ending? {
            process::Ending::Exited(code) => Ending::Exited(code),
            process::Ending::Signalled(signal) => Ending::Signalled(signal),
            process::Ending::TimedOut => Ending::TimedOut,
        }),
        // Dropping the wait future drops the process, which kills its group.
        () = watch => Ok(Ending::StoppedAfterGateway),
    }
}

async fn fetch_journal(client: &reqwest::Client, base: &str, token: &str) -> Result<Journal> {
    fetch_admin(client, base, protocol::paths::ADMIN_JOURNAL, token).await
}

async fn fetch_admin<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    token: &str,
) -> Result<T> {
    let url = format!("{base}{path}");
    let response = client
        .get(&url)
        .bearer_auth(token)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = response.status();
    if !status.is_success() {
        bail!("GET {url}: {status}");
    }
    Ok(response.json().await?)
}

/// The signup path as the journals saw it, in order per side.
fn signup_requests(server: &[JournalEntry], gateway: &[JournalEntry]) -> Vec<String> {
    let line = |side: &str, entry: &JournalEntry| {
        let credential = entry
            .credential
            .as_deref()
            .map(|credential| format!(" [{credential}]"))
            .unwrap_or_default();
        let verdict = entry
            .verdict
            .as_deref()
            .map(|verdict| format!(" {verdict}"))
            .unwrap_or_default();
        format!(
            "{side} {} {} → {}{credential}{verdict}",
            entry.method, entry.path, entry.status
        )
    };
    let mut lines = Vec::new();
    for (side, name, entries) in [
        (Side::Server, "server", server),
        (Side::Gateway, "gateway", gateway),
    ] {
        for entry in entries {
            if entry.path.starts_with("/_admin") {
                continue;
            }
            let marker = if Stage::of(side, entry).is_some() {
                ""
            } else {
                "(off path) "
            };
            lines.push(format!("{marker}{}", line(name, entry)));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wizard_sees_no_variable_of_ours() {
        let env = wizard_environment(
            Path::new("/opt/node/bin/node"),
            Path::new("/s/home"),
            Path::new("/s/tmp"),
        );
        assert_eq!(env["PATH"], "/opt/node/bin:/usr/local/bin:/usr/bin:/bin");
        assert_eq!(env["HOME"], "/s/home");
        assert_eq!(env["TMPDIR"], "/s/tmp");
        assert!(
            env.keys()
                .all(|key| !key.starts_with("POSTHOG_WIZARD") && key != "CI"),
            "{env:?}"
        );
    }
}
