//! One run of a published wizard: a fresh server and gateway on the run's
//! ports, a fresh SQLite file, HOME and copy of the app, the wizard with
//! the pinned Node 22 in a scrubbed environment with stdin closed, until
//! it exits, until the gateway has answered a model call (a cell: nothing
//! later can change its outcome), or the time limit; the whole process
//! group is killed. What it left is read back: the journals, the minted
//! credentials' scopes, the project before and after, and each output
//! redacted into the run's directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use protocol::admin::{Journal, JournalEntry, StateSummary};

use super::expected::{self, CellKey, Packages, Variant};
use super::install;
use super::outcome::{self, Outcome, Side, Stage};
use super::outputs::{
    agent_config_dir_serves, agent_config_dirs, read_lossy, scan_text, wizard_error_code,
    write_redacted,
};
use super::project_state::{self, ProjectStates};
use super::result::{CellResult, CredentialScopes, Ending};
use crate::process::{self, Invocation, Service};

/// Where a run's server and gateway listen, and what the wizard and the
/// server are told about them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub server_bind: &'static str,
    /// The wizard's `--base-url` and the server's `--public-url`.
    pub base_url: &'static str,
    pub gateway_bind: &'static str,
    /// The server's `--wizard-gateway-url`: what a minted gateway token's
    /// answer sends the client to.
    pub gateway_url: &'static str,
}

/// The ports every Claude Code version needs: versions up to 2.62.0 (and
/// 2.73.0 after a refused mint) derive `http://localhost:3308/wizard` from
/// a localhost base URL, so the gateway must be on 3308.
pub const FIXED_PORTS: Ports = Ports {
    server_bind: "127.0.0.1:8010",
    base_url: "http://localhost:8010",
    gateway_bind: "127.0.0.1:3308",
    gateway_url: "http://localhost:3308",
};

/// The ports of the pi harness's runs (2.74.1 and later), which take the
/// gateway's address only from the mint's answer and so can run beside a
/// Claude Code run. Clear of `just serve` (8010/8011, 3308/3309).
pub const PI_PORTS: Ports = Ports {
    server_bind: "127.0.0.1:8012",
    base_url: "http://localhost:8012",
    gateway_bind: "127.0.0.1:3312",
    gateway_url: "http://localhost:3312",
};

/// When the driver ends a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Once the gateway answered a model call (or the wizard exited).
    FirstModelCall,
    /// Only when the wizard exits (or at the time limit).
    Exit,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Spec {
    pub key: CellKey,
    /// A directory under `fixtures/apps/`.
    pub app: String,
    pub ports: Ports,
    pub until: Until,
    pub timeout: Duration,
    /// The run's directory under the lane's output directory.
    pub dir_name: String,
}

/// The published wizard's fixed log file.
pub const WIZARD_LOG: &str = "/tmp/posthog-wizard.log";

/// The line the preload prints when it removed the field.
pub const PRELOAD_MARKER: &str = "[omit-scopes] removed scopes from the account request";

/// The preload, relative to the workspace root.
pub const PRELOAD: &str = "e2e/published/omit-scopes.mjs";

/// Everything a cell needs that does not change between cells.
pub struct Lane {
    pub workspace: PathBuf,
    pub fixtures: PathBuf,
    pub packages: Packages,
    pub install_root: PathBuf,
    pub binaries: crate::binaries::Binaries,
    /// Cells take what they observe as their expectation.
    pub bless: bool,
    pub out_dir: PathBuf,
    pub run_id: String,
}

/// How often the journals are read while the wizard runs.
const POLL_EVERY: Duration = Duration::from_millis(300);

/// Runs `spec`; a set-up failure becomes a problem of the result, so the
/// other runs still run. The project states are there when the wizard ran.
pub async fn run(lane: &Lane, spec: &Spec) -> (CellResult, Option<ProjectStates>) {
    let started = Instant::now();
    let mut result = CellResult {
        key: spec.key.clone(),
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
    let run_dir = lane.out_dir.join(&spec.dir_name);
    let mut project = None;
    if let Err(error) = run_in(lane, spec, &run_dir, &mut result, &mut project).await {
        result.problems.push(format!("{error:#}"));
    }
    result.duration = started.elapsed();
    (result, project)
}

async fn run_in(
    lane: &Lane,
    spec: &Spec,
    run_dir: &Path,
    result: &mut CellResult,
    project_states: &mut Option<ProjectStates>,
) -> Result<()> {
    let key = &spec.key;
    let ports = spec.ports;
    let _ = std::fs::remove_dir_all(run_dir);
    std::fs::create_dir_all(run_dir)?;
    // Scratch: the database, HOME, the project and the raw outputs, which
    // may hold full credentials; only redacted copies reach `run_dir`.
    let scratch = tempfile::Builder::new()
        .prefix("published-wizard-")
        .tempdir()?;
    let dir = scratch.path();
    let home = dir.join("home");
    let project = dir.join("project");
    std::fs::create_dir_all(&home)?;
    std::fs::create_dir_all(dir.join("tmp"))?;
    crate::project::copy_dir(&lane.fixtures.join("apps").join(&spec.app), &project)?;
    let installed = install::locate(&lane.install_root, &lane.packages, &key.version)?;

    let admin_token = format!("published-wizard-{}", lane.run_id);
    let service_env = service_environment(&home);
    let setup = expected::server(&key.profile)
        .with_context(|| format!("unknown server {:?}", key.profile))?;
    let mut server_args: Vec<String> = [
        "--bind",
        ports.server_bind,
        "--public-url",
        ports.base_url,
        "--region",
        "us",
        "--profile",
        setup.profile,
        "--admin-token",
        &admin_token,
        "--database-url",
        &format!("sqlite://{}?mode=rwc", dir.join("server.sqlite").display()),
        "--wizard-gateway-url",
        ports.gateway_url,
    ]
    .map(str::to_owned)
    .to_vec();
    if let Some(seed) = setup.seed {
        server_args.push("--seed".to_owned());
        server_args.push(lane.fixtures.join(seed).display().to_string());
    }
    server_args.extend(setup.flags.iter().map(|flag| flag.to_string()));
    let server = process::start_service(
        "provisioning-server",
        Invocation {
            program: lane.binaries.server.path.clone(),
            args: server_args,
            env: service_env.clone(),
            current_dir: dir.to_path_buf(),
        },
        &dir.join("server.stdout"),
        &dir.join("server.stderr"),
    )
    .await
    .with_context(|| {
        format!(
            "cannot start the server on {} (is `just serve` running?)",
            ports.server_bind
        )
    })?;
    let gateway = match process::start_service(
        "llm-gateway-mock",
        Invocation {
            program: lane.binaries.gateway.path.clone(),
            args: [
                "--bind",
                ports.gateway_bind,
                "--region",
                "us",
                "--introspection-url",
                &format!("http://{}/oauth/introspect", ports.server_bind),
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
            return Err(error.context(format!(
                "cannot start the gateway on {}",
                ports.gateway_bind
            )));
        }
    };

    let (files_before, digest_before) = project_state::capture(&project)?;
    let invocation = wizard_invocation(lane, spec, &installed, &home, &project, dir);
    write_redacted(&run_dir.join("command.txt"), &invocation.shell_line())?;
    let log_offset = wizard_log_length();
    let agent_dirs_before = agent_config_dirs();
    let client = reqwest::Client::new();
    let ending = drive_wizard(
        &invocation,
        dir,
        spec,
        &client,
        (&server, &gateway),
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
    // Only Claude Code makes these: of the directories that appeared while
    // it ran, the one naming this run's project.
    if lane.packages.runs_claude_code(&key.version) {
        for dir in agent_config_dirs().difference(&agent_dirs_before) {
            if agent_config_dir_serves(dir, &project) {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
    let ending = ending?;
    result.ending = Some(ending);
    let (files_after, digest_after) = project_state::capture(&project)?;
    *project_states = Some(ProjectStates {
        before: files_before,
        after: files_after,
        digest_before,
        digest_after,
    });

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
    let wizard_stderr = read_lossy(&dir.join("wizard.stderr"));
    let outputs = [
        (
            "wizard.stdout",
            read_lossy(&dir.join("wizard.stdout")),
            true,
        ),
        ("wizard.stderr", wizard_stderr.clone(), true),
        ("posthog-wizard.log", wizard_log_since(log_offset), true),
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
        write_redacted(&run_dir.join(name), text)?;
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

/// The length of the published wizard's fixed log now (0 when missing).
/// The log is shared by every run and removed only at the lane's start
/// and end, so a run reads what was appended after this offset.
fn wizard_log_length() -> u64 {
    std::fs::metadata(WIZARD_LOG).map_or(0, |metadata| metadata.len())
}

/// What the published wizard appended to its log since `offset`. A run
/// beside it (the other ports) appends to the same file, so its lines
/// may be interleaved.
fn wizard_log_since(offset: u64) -> String {
    let bytes = std::fs::read(WIZARD_LOG).unwrap_or_default();
    let start = usize::try_from(offset)
        .ok()
        .filter(|start| *start <= bytes.len())
        .unwrap_or(0);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// The published wizard's command line: the pinned Node, the preload for
/// the scopeless variant, the headless signup flags every pinned version
/// accepts.
fn wizard_invocation(
    lane: &Lane,
    spec: &Spec,
    installed: &install::Installed,
    home: &Path,
    project: &Path,
    dir: &Path,
) -> Invocation {
    let key = &spec.key;
    let mut args = Vec::new();
    if key.variant == Variant::ScopesRemoved {
        args.push("--import".to_owned());
        args.push(lane.workspace.join(PRELOAD).display().to_string());
    }
    args.push(installed.wizard_entry.display().to_string());
    let email = format!(
        "published-{}-{}-{}-{}@example.com",
        key.version.replace('.', "-"),
        key.profile,
        key.variant.slug(),
        spec.app
    );
    for arg in [
        "--headless-DONOTUSE-EXPERIMENTAL",
        "--signup",
        "--email",
        &email,
        "--base-url",
        spec.ports.base_url,
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

/// Runs the wizard until it exits, the time limit, or (for a cell) the
/// gateway answering a model call; its process group is killed in every
/// case.
async fn drive_wizard(
    invocation: &Invocation,
    dir: &Path,
    spec: &Spec,
    client: &reqwest::Client,
    (server, gateway): (&Service, &Service),
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
        if spec.until == Until::Exit {
            return std::future::pending().await;
        }
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
        ending = background.wait(spec.timeout) => Ok(match ending? {
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

    #[test]
    fn the_two_port_sets_never_share_a_port() {
        let ports = |set: Ports| [set.server_bind, set.gateway_bind];
        for port in ports(FIXED_PORTS) {
            assert!(!ports(PI_PORTS).contains(&port), "{port}");
        }
        for set in [FIXED_PORTS, PI_PORTS] {
            let gateway_port = set.gateway_bind.rsplit(':').next().unwrap();
            assert!(set.gateway_url.ends_with(&format!(":{gateway_port}")));
            let server_port = set.server_bind.rsplit(':').next().unwrap();
            assert!(set.base_url.ends_with(&format!(":{server_port}")));
        }
    }
}
