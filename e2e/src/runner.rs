//! One scenario: set up a scratch directory, start the server and the
//! gateway, run the wizard, collect what happened, check it.
//!
//! Layout of the scratch directory:
//! `server.sqlite`, `home/` (the wizard's empty HOME), `logs/`
//! (`POSTHOG_WIZARD_LOG_DIR`), `project/` (a copy of `fixtures/apps/<app>`),
//! `{server,gateway,wizard}.{stdout,stderr}`, `server-restart<N>.{stdout,stderr}`
//! for each `restart_server` step, and after the run
//! `server-state.json`, `server-journal.json`, `gateway-journal.json`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use protocol::admin::{Journal, StateSummary};
use protocol::paths;
use serde::de::DeserializeOwned;

use crate::binaries::Binaries;
use crate::dispatch;
use crate::expect::{self, Observation};
use crate::integrated::IntegratedProject;
use crate::placeholders::Placeholders;
use crate::process::{self, Ending, Invocation, Service};
use crate::project::{self, Difference};
use crate::scenario::{ProjectExpectation, Scenario};
use crate::secrets;
use crate::server_control::ServerControl;
use crate::step_context::{StepContext, WizardContext};

/// The wizard's (hidden) setting for the managed Claude Code settings file,
/// `/etc/claude-code/managed-settings.json` by default.
pub const MANAGED_SETTINGS_ENV: &str = "POSTHOG_WIZARD_MANAGED_SETTINGS";

/// The masked transcript of the `[[steps]]`, in the scratch directory.
pub const STEPS_LOG: &str = "steps.log";

/// What every scenario of one run shares.
#[derive(Debug, Clone)]
pub struct Settings {
    pub fixtures: PathBuf,
    pub binaries: Binaries,
    /// Keep the scratch directory and print how to rerun each program.
    pub keep: bool,
    /// Unique per harness run; goes into e-mail addresses.
    pub run_id: String,
}

/// The outcome of one scenario, ready for the report.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    pub name: String,
    pub expected: String,
    pub observed: String,
    pub mismatches: Vec<String>,
    pub duration: Duration,
    /// Tails of every program's output, shown when the scenario failed.
    pub diagnostics: String,
    /// With `--keep`: the directory and the commands to rerun by hand.
    pub kept: Option<String>,
    /// The admin journals read after the run, for the report's sequence
    /// diagrams and the matrix's classification.
    pub journals: Journals,
    /// How the scenario's own wizard run ended and what it left in the
    /// project (`None` without one, or when the run never got that far).
    pub wizard: Option<WizardOutcome>,
}

/// How a scenario's wizard run ended and what it did to the project, as
/// data (the matrix classifies from this, never from the summary text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WizardOutcome {
    pub ending: Ending,
    pub project: ProjectState,
}

/// The project after the run, against the copy made before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectState {
    /// Byte for byte as it was.
    Untouched,
    /// The app's integration checklist holds.
    Integrated,
    /// Anything else.
    Changed,
}

impl std::fmt::Display for ProjectState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProjectState::Untouched => "untouched",
            ProjectState::Integrated => "integrated",
            ProjectState::Changed => "changed",
        })
    }
}

/// The two admin journals of a run (credentials already masked); `None`
/// when unreadable or when the run stopped before the services started.
#[derive(Debug, Clone, Default)]
pub struct Journals {
    /// Every server process's entries, in order, when `restart_server`
    /// steps killed some.
    pub server: Option<Journal>,
    pub gateway: Option<Journal>,
    /// How many times `restart_server` steps killed the server.
    pub server_restarts: usize,
}

impl ScenarioResult {
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// A run id: the harness's pid and the time, short and unique enough.
pub fn new_run_id() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis());
    format!("{}-{}", std::process::id(), millis % 100_000_000)
}

/// An e-mail address unique per scenario and run. The scenario name is cut
/// so the local part stays well under the 64 characters of RFC 5321.
pub fn unique_email(scenario_name: &str, run_id: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name: String = scenario_name.chars().take(24).collect();
    let sequence = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("e2e-{name}-{run_id}-{sequence}@example.com")
}

/// Runs one scenario to its result. Set-up failures (a program that does
/// not start, a missing app) are mismatches too, never a panic.
pub async fn run_scenario(scenario: &Scenario, settings: &Settings) -> ScenarioResult {
    let started = Instant::now();
    let expected = describe_expectation(scenario);
    let scratch = match tempfile::Builder::new()
        .prefix(&format!("e2e-{}-", scenario.name))
        .tempdir()
    {
        Ok(scratch) => scratch,
        Err(error) => {
            return ScenarioResult {
                name: scenario.name.clone(),
                expected,
                observed: "set-up failed".to_owned(),
                mismatches: vec![format!("cannot create a scratch directory: {error}")],
                duration: started.elapsed(),
                diagnostics: String::new(),
                kept: None,
                journals: Journals::default(),
                wizard: None,
            }
        }
    };
    let dir = scratch.path().to_path_buf();
    let outcome = run_in(scenario, settings, &dir).await;
    let (observed, mut mismatches, invocations, journals, wizard) = match outcome {
        Ok(done) => (
            done.observed,
            done.mismatches,
            done.invocations,
            done.journals,
            done.wizard,
        ),
        Err(error) => (
            "set-up failed".to_owned(),
            vec![format!("{error:#}")],
            Vec::new(),
            Journals::default(),
            None,
        ),
    };
    let diagnostics = if mismatches.is_empty() {
        String::new()
    } else {
        diagnostics(&dir)
    };
    let kept = if settings.keep {
        let kept_dir = scratch.keep();
        Some(rerun_instructions(
            scenario,
            settings,
            &kept_dir,
            &invocations,
        ))
    } else {
        if let Err(error) = scratch.close() {
            mismatches.push(format!("cannot remove the scratch directory: {error}"));
        }
        None
    };
    ScenarioResult {
        name: scenario.name.clone(),
        expected,
        observed,
        mismatches,
        duration: started.elapsed(),
        diagnostics,
        kept,
        journals,
        wizard,
    }
}

struct Done {
    observed: String,
    mismatches: Vec<String>,
    invocations: Vec<(String, Invocation)>,
    journals: Journals,
    wizard: Option<WizardOutcome>,
}

async fn run_in(scenario: &Scenario, settings: &Settings, dir: &Path) -> Result<Done> {
    let home = dir.join("home");
    let logs = dir.join("logs");
    let project_dir = dir.join("project");
    std::fs::create_dir_all(&home)?;
    std::fs::create_dir_all(&logs)?;
    // A scenario of steps alone has no project (the parser refuses
    // project checks and wizard steps without a [wizard] or [project]).
    let setup = scenario.project_setup();
    let (integrated, project_before) = match &setup {
        Some(setup) => {
            let app = settings.fixtures.join("apps").join(&setup.app);
            if !app.is_dir() {
                bail!("the sample app {} does not exist", app.display());
            }
            // The app's checklist: required for `project = "integrated"`, and used
            // whenever it exists to tell "integrated" from "changed" in the report.
            let checklist = IntegratedProject::path(&settings.fixtures, &setup.app);
            let integrated = match (scenario.expect.project, checklist.is_file()) {
                (Some(ProjectExpectation::Integrated), _) | (_, true) => {
                    Some(IntegratedProject::load(&settings.fixtures, &setup.app)?)
                }
                _ => None,
            };
            project::copy_dir(&app, &project_dir)?;
            project::write_files(&project_dir, &setup.project_files)
                .context("cannot set up the project_files")?;
            project::write_files(&home, &setup.home_files)
                .context("cannot set up the home_files")?;
            (integrated, project::manifest(&project_dir)?)
        }
        None => (None, project::Manifest::new()),
    };
    if let Some(agent_dir) = &scenario.gateway.agent_dir {
        if !settings.fixtures.join(agent_dir).is_dir() {
            bail!(
                "the agent directory {} does not exist",
                settings.fixtures.join(agent_dir).display()
            );
        }
    }
    if let Some(seed) = scenario.seed_path(&settings.fixtures) {
        if !seed.is_file() {
            bail!("the seed file {} does not exist", seed.display());
        }
    }

    let admin_token = format!("e2e-admin-{}", settings.run_id);
    let base_env = process::base_environment(&home, &logs);
    let mut invocations = Vec::new();

    // The gateway's port is chosen before the server starts, so the server
    // can be told where to mint the wizard's gateway tokens (the gateway in
    // turn needs the server's introspection URL, known only once it runs).
    let gateway_port = process::free_port()?;
    let gateway_url = format!("http://127.0.0.1:{gateway_port}");
    let database = dir.join("server.sqlite");
    let mut server_args = vec![
        "--bind".to_owned(),
        "127.0.0.1:0".to_owned(),
        "--database-url".to_owned(),
        format!("sqlite://{}?mode=rwc", database.display()),
        "--region".to_owned(),
        scenario.server.region.clone(),
        "--profile".to_owned(),
        scenario.profile_argument(&settings.fixtures),
        "--admin-token".to_owned(),
        admin_token.clone(),
        "--wizard-gateway-url".to_owned(),
        gateway_url.clone(),
    ];
    if let Some(seed) = scenario.seed_path(&settings.fixtures) {
        server_args.push("--seed".to_owned());
        server_args.push(seed.display().to_string());
    }
    let server_invocation = Invocation {
        program: settings.binaries.server.path.clone(),
        args: server_args,
        env: base_env.clone(),
        current_dir: dir.to_path_buf(),
    };
    let server = process::start_service(
        "provisioning-server",
        server_invocation,
        &dir.join("server.stdout"),
        &dir.join("server.stderr"),
    )
    .await?;
    invocations.push(("provisioning-server".to_owned(), bound_here(&server)));

    // The other region's server, when the scenario has one; its process
    // group is killed when the handle drops, on every path out.
    let other_server = match &scenario.other_server {
        Some(setup) => {
            let mut args = vec![
                "--bind".to_owned(),
                "127.0.0.1:0".to_owned(),
                "--database-url".to_owned(),
                format!(
                    "sqlite://{}?mode=rwc",
                    dir.join("other-server.sqlite").display()
                ),
                "--region".to_owned(),
                setup.region.clone(),
                "--profile".to_owned(),
                scenario.profile_argument_of(setup, &settings.fixtures),
                "--admin-token".to_owned(),
                admin_token.clone(),
                // No gateway of its own region runs beside it.
                "--wizard-gateway-url".to_owned(),
                String::new(),
            ];
            if let Some(seed) = scenario.other_seed_path(&settings.fixtures) {
                args.push("--seed".to_owned());
                args.push(seed.display().to_string());
            }
            let invocation = Invocation {
                program: settings.binaries.server.path.clone(),
                args,
                env: base_env.clone(),
                current_dir: dir.to_path_buf(),
            };
            let other = process::start_service(
                "provisioning-server (other region)",
                invocation,
                &dir.join("other-server.stdout"),
                &dir.join("other-server.stderr"),
            )
            .await?;
            invocations.push((
                "provisioning-server (other region)".to_owned(),
                bound_here(&other),
            ));
            Some(other)
        }
        None => None,
    };

    let mut gateway_args = vec![
        "--bind".to_owned(),
        format!("127.0.0.1:{gateway_port}"),
        "--region".to_owned(),
        scenario.gateway.region.clone(),
        "--introspection-url".to_owned(),
        scenario.introspection_url(&server.url),
        "--admin-token".to_owned(),
        admin_token.clone(),
        "--fault-seed".to_owned(),
        scenario.gateway.fault_seed.to_string(),
    ];
    for fault in &scenario.gateway.faults {
        gateway_args.push("--fault".to_owned());
        gateway_args.push(fault.clone());
    }
    if let Some(agent_dir) = &scenario.gateway.agent_dir {
        gateway_args.push("--agent-dir".to_owned());
        gateway_args.push(settings.fixtures.join(agent_dir).display().to_string());
    }
    let gateway_invocation = Invocation {
        program: settings.binaries.gateway.path.clone(),
        args: gateway_args,
        env: base_env.clone(),
        current_dir: dir.to_path_buf(),
    };
    let gateway = match process::start_service(
        "llm-gateway-mock",
        gateway_invocation,
        &dir.join("gateway.stdout"),
        &dir.join("gateway.stderr"),
    )
    .await
    {
        Ok(gateway) => gateway,
        Err(error) => {
            server.process.kill().await;
            return Err(error);
        }
    };
    invocations.push(("llm-gateway-mock".to_owned(), bound_here(&gateway)));
    // From here on the server may be restarted by a step.
    let server = ServerControl::new(server, &admin_token, dir);

    let values = Placeholders {
        email: unique_email(&scenario.name, &settings.run_id),
        server: server.url.clone(),
        other_server: other_server
            .as_ref()
            .map(|other| other.url.clone())
            .unwrap_or_default(),
        gateway: gateway.url.clone(),
        project: project_dir.display().to_string(),
    };
    let mut wizard_env = base_env.clone();
    // The host's managed Claude Code settings must not leak into a
    // scenario; a scenario can still point this elsewhere in [wizard] env.
    wizard_env.insert(
        MANAGED_SETTINGS_ENV.to_owned(),
        dir.join("managed-settings.json").display().to_string(),
    );
    // Wizard steps start from this environment, without [wizard] env.
    let steps_wizard_env = wizard_env.clone();
    wizard_env.extend(scenario.wizard_env(&values)?);
    let ending = match &scenario.wizard {
        Some(wizard) => {
            let wizard_invocation = Invocation {
                program: settings.binaries.wizard.path.clone(),
                args: scenario.wizard_args(&values)?,
                env: wizard_env,
                current_dir: dir.to_path_buf(),
            };
            invocations.push(("wizard".to_owned(), wizard_invocation.clone()));
            Some(
                process::run_to_completion(
                    "wizard",
                    &wizard_invocation,
                    &dir.join("wizard.stdout"),
                    &dir.join("wizard.stderr"),
                    Duration::from_secs(wizard.timeout_seconds),
                )
                .await,
            )
        }
        None => None,
    };

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        // Steps check redirects themselves (a deep link's 302 Location).
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot build an HTTP client")?;
    // The [[steps]], after the wizard, against the same services.
    let steps = dispatch::run_steps(
        &scenario.steps,
        &StepContext {
            client: &client,
            server_url: &server.url,
            gateway_url: &gateway.url,
            admin_token: &admin_token,
            values: &values,
            random: &protocol::random::OsRandom,
            server: Some(&server),
            wizard: setup.as_ref().map(|_| WizardContext {
                program: &settings.binaries.wizard.path,
                env: &steps_wizard_env,
                scratch: dir,
                project_dir: &project_dir,
                project_initial: &project_before,
                integrated: integrated.as_ref(),
            }),
        },
    )
    .await;
    for run in &steps.wizard_runs {
        invocations.push((run.title.clone(), run.invocation.clone()));
    }
    if !scenario.steps.is_empty() {
        let _ = std::fs::write(dir.join(STEPS_LOG), steps.transcript.join("\n") + "\n");
    }

    // Collect while both services still run, then stop them.
    let server_state: Result<StateSummary, String> =
        fetch_admin(&client, &server.url, paths::ADMIN_STATE, &admin_token).await;
    let server_journal: Result<Journal, String> = server.journal(&client).await;
    let gateway_journal: Result<Journal, String> =
        fetch_admin(&client, &gateway.url, paths::ADMIN_JOURNAL, &admin_token).await;
    let server_restarts = server.restarts().await;
    let restart_outputs = server.outputs().await;
    for (number, invocation) in server.restart_invocations().await.into_iter().enumerate() {
        invocations.push((
            format!("provisioning-server (restart {})", number + 1),
            invocation,
        ));
    }
    server.kill().await;
    gateway.process.kill().await;
    if let Some(other) = other_server {
        other.process.kill().await;
    }
    // The last wizard run decides the exit code: the [wizard]'s, unless
    // wizard steps ran after it.
    let ending = steps
        .wizard_runs
        .iter()
        .rev()
        .find_map(|run| run.ending)
        .or(ending.transpose()?);

    write_json(&dir.join("server-state.json"), &server_state);
    write_json(&dir.join("server-journal.json"), &server_journal);
    write_json(&dir.join("gateway-journal.json"), &gateway_journal);

    // Every run's output, in order.
    let mut output = format!(
        "{}{}",
        read_lossy(&dir.join("wizard.stdout")),
        read_lossy(&dir.join("wizard.stderr"))
    );
    for run in &steps.wizard_runs {
        output.push_str(&read_lossy(&run.stdout));
        output.push_str(&read_lossy(&run.stderr));
    }
    let project_after = match setup {
        Some(_) => project::manifest(&project_dir)?,
        None => project::Manifest::new(),
    };
    let wizard = ending.map(|ending| WizardOutcome {
        ending,
        project: project_state(integrated.as_ref(), &project_before, &project_after),
    });
    let mut observed_summary = match wizard {
        Some(wizard) => describe_observation(wizard, &gateway_journal),
        None => describe_gateway(&gateway_journal),
    };
    if steps.total > 0 {
        observed_summary = format!(
            "steps {}/{} ok, {observed_summary}",
            steps.passed, steps.total
        );
    }
    let observation = Observation {
        // Without a wizard nothing checks the ending: the parser refuses
        // wizard expectations then.
        ending: ending.unwrap_or(Ending::Exited(0)),
        output,
        project_before,
        project_after,
        server_state,
        server_journal: server_journal.clone(),
        gateway_journal: gateway_journal.clone(),
    };
    let mut mismatches = steps.mismatches.clone();
    mismatches.extend(expect::check(
        &scenario.expect,
        integrated.as_ref(),
        &observation,
    ));
    for path in &scenario.expect.absent {
        // `join` keeps an absolute path as it is.
        let resolved = dir.join(path);
        if resolved.exists() {
            mismatches.push(format!(
                "{} should not exist after the run, but it does",
                resolved.display()
            ));
        }
    }

    // Journals are always required: they are part of the leak scan.
    let mut sources = Vec::new();
    for (label, journal) in [
        ("server journal (GET /_admin/journal)", &server_journal),
        ("gateway journal (GET /_admin/journal)", &gateway_journal),
    ] {
        match journal {
            Ok(journal) => sources.push(secrets::Source {
                label: label.to_owned(),
                text: serde_json::to_string(journal).unwrap_or_default(),
            }),
            Err(error) => mismatches.push(format!("{label} unreadable: {error}")),
        }
    }
    for run in &steps.wizard_runs {
        for path in [&run.stdout, &run.stderr] {
            sources.push(secrets::Source {
                label: file_name(path),
                text: read_lossy(path),
            });
        }
    }
    for path in &restart_outputs {
        sources.push(secrets::Source {
            label: file_name(path),
            text: read_lossy(path),
        });
    }
    for file in [
        "wizard.stdout",
        "wizard.stderr",
        "logs/posthog-wizard.log",
        STEPS_LOG,
        "server.stdout",
        "server.stderr",
        "gateway.stdout",
        "gateway.stderr",
    ] {
        sources.push(secrets::Source {
            label: file.to_owned(),
            text: read_lossy(&dir.join(file)),
        });
    }
    for (path, bytes) in &observation.project_after {
        sources.push(secrets::Source {
            label: format!("project/{path}"),
            text: String::from_utf8_lossy(bytes).into_owned(),
        });
    }
    mismatches.extend(secrets::scan(&sources));

    Ok(Done {
        observed: observed_summary,
        mismatches,
        invocations,
        journals: Journals {
            server: server_journal.ok(),
            gateway: gateway_journal.ok(),
            server_restarts,
        },
        wizard,
    })
}

/// A service's invocation with `--bind` set to the address it really got,
/// so the printed rerun commands agree with each other.
fn bound_here(service: &Service) -> Invocation {
    let mut invocation = service.invocation.clone();
    let address = service
        .url
        .strip_prefix("http://")
        .unwrap_or(&service.url)
        .to_owned();
    if let Some(position) = invocation.args.iter().position(|arg| arg == "--bind") {
        if let Some(value) = invocation.args.get_mut(position + 1) {
            *value = address;
        }
    }
    invocation
}

async fn fetch_admin<T: DeserializeOwned>(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    token: &str,
) -> Result<T, String> {
    let url = format!("{base}{path}");
    let response = client
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|error| format!("GET {url}: {error}"))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        return Err(format!(
            "GET {url}: {status}: {}",
            protocol::credential::redact_secrets(&body)
        ));
    }
    response
        .json::<T>()
        .await
        .map_err(|error| format!("GET {url}: unexpected body: {error}"))
}

fn write_json<T: serde::Serialize>(path: &Path, value: &Result<T, String>) {
    let text = match value {
        Ok(value) => serde_json::to_string_pretty(value).unwrap_or_default(),
        Err(error) => serde_json::json!({ "error": error }).to_string(),
    };
    let _ = std::fs::write(path, text);
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// A short summary of the expectation for the table.
pub fn describe_expectation(scenario: &Scenario) -> String {
    let expect = &scenario.expect;
    let mut parts = Vec::new();
    if let Some(code) = expect.exit_code {
        parts.push(format!("exit {code}"));
    }
    match expect.project {
        Some(ProjectExpectation::Untouched) => parts.push("untouched".to_owned()),
        Some(ProjectExpectation::Integrated) => parts.push("integrated".to_owned()),
        None => {}
    }
    if let Some(gateway) = &expect.gateway {
        if let Some(verdicts) = &gateway.verdicts {
            parts.push(format!("gw [{}]", verdicts.join(",")));
        }
        if let Some(only) = &gateway.verdicts_all {
            parts.push(format!("gw all {only}"));
        }
        if !gateway.verdicts_include.is_empty() {
            parts.push(format!("gw ⊇ [{}]", gateway.verdicts_include.join(",")));
        }
    }
    if !scenario.steps.is_empty() {
        parts.insert(0, format!("{} steps", scenario.steps.len()));
    }
    if parts.is_empty() {
        "(no leaks)".to_owned()
    } else {
        parts.join(", ")
    }
}

fn describe_observation(
    wizard: WizardOutcome,
    gateway_journal: &Result<Journal, String>,
) -> String {
    let ending = match wizard.ending {
        Ending::Exited(code) => format!("exit {code}"),
        Ending::Signalled(signal) => format!("signal {signal}"),
        Ending::TimedOut => "timed out".to_owned(),
    };
    format!(
        "{ending}, {}, {}",
        wizard.project,
        describe_gateway(gateway_journal)
    )
}

/// What the run did to the project.
fn project_state(
    integrated: Option<&IntegratedProject>,
    before: &project::Manifest,
    after: &project::Manifest,
) -> ProjectState {
    let integrated_probe = crate::scenario::Expect {
        project: Some(ProjectExpectation::Integrated),
        ..Default::default()
    };
    if Difference::between(before, after).is_empty() {
        ProjectState::Untouched
    } else if integrated.is_some()
        && expect::check_project(&integrated_probe, integrated, before, after).is_empty()
    {
        ProjectState::Integrated
    } else {
        ProjectState::Changed
    }
}

/// The gateway's verdicts, for the table.
fn describe_gateway(gateway_journal: &Result<Journal, String>) -> String {
    match gateway_journal {
        Ok(journal) => format!("gw [{}]", expect::verdicts(journal).join(",")),
        Err(_) => "gw ?".to_owned(),
    }
}

/// A path's last component, for labels.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}

/// The `wizard-step<N>.{stdout,stderr}` files of wizard steps, in step order.
fn wizard_step_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<(usize, String)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok())
                .filter_map(|entry| entry.file_name().into_string().ok())
                .filter_map(|name| {
                    let rest = name.strip_prefix("wizard-step")?;
                    let (number, stream) = rest.split_once('.')?;
                    let order = number.parse::<usize>().ok()? * 2 + usize::from(stream == "stderr");
                    Some((order, name))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files.into_iter().map(|(_, name)| name).collect()
}

fn diagnostics(dir: &Path) -> String {
    let step_runs: Vec<(String, String)> = wizard_step_files(dir)
        .into_iter()
        .map(|file| (format!("wizard run {file}"), file))
        .collect();
    let fixed = [
        ("wizard stdout", "wizard.stdout"),
        ("wizard stderr", "wizard.stderr"),
    ]
    .map(|(title, file)| (title.to_owned(), file.to_owned()));
    let restarts: Vec<(String, String)> = (1..)
        .map(|number| format!("server-restart{number}.stderr"))
        .take_while(|file| dir.join(file).exists())
        .map(|file| (format!("restarted provisioning-server stderr {file}"), file))
        .collect();
    let rest = [
        ("wizard verbose log", "logs/posthog-wizard.log"),
        ("steps transcript (masked)", STEPS_LOG),
        ("provisioning-server stderr", "server.stderr"),
    ]
    .map(|(title, file)| (title.to_owned(), file.to_owned()))
    .into_iter()
    .chain(restarts)
    .chain([(
        "llm-gateway-mock stderr".to_owned(),
        "gateway.stderr".to_owned(),
    )]);
    fixed
        .into_iter()
        .chain(step_runs)
        .chain(rest)
        .filter(|(_, file)| dir.join(file).exists())
        .map(|(title, file)| process::tail_section(&title, &dir.join(file)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn rerun_instructions(
    scenario: &Scenario,
    settings: &Settings,
    dir: &Path,
    invocations: &[(String, Invocation)],
) -> String {
    let mut lines = vec![
        format!("kept {} for {}", dir.display(), scenario.name),
        "# To start from a clean slate first:".to_owned(),
    ];
    let setup = scenario.project_setup();
    match &setup {
        Some(setup) => lines.push(format!(
            "rm -rf {dir}/server.sqlite* {dir}/project && cp -R {app} {dir}/project",
            dir = process::shell_quote(&dir.to_string_lossy()),
            app = process::shell_quote(
                &settings
                    .fixtures
                    .join("apps")
                    .join(&setup.app)
                    .to_string_lossy()
            )
        )),
        None => lines.push(format!(
            "rm -rf {dir}/server.sqlite*",
            dir = process::shell_quote(&dir.to_string_lossy())
        )),
    }
    if let Some(setup) = setup
        .as_ref()
        .filter(|setup| !setup.project_files.is_empty())
    {
        lines.push(format!(
            "# then write the scenario's project_files again: {}",
            setup
                .project_files
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !scenario.steps.is_empty() {
        lines.push(format!(
            "# the [[steps]] requests, masked, are in {}",
            dir.join(STEPS_LOG).display()
        ));
    }
    for (name, invocation) in invocations {
        lines.push(format!("# {name}:"));
        lines.push(invocation.shell_line());
    }
    if invocations.is_empty() {
        lines.push("# (set-up failed before any program started)".to_owned());
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_unique_and_short() {
        let name = "scope-fix-client-current-wizard-legacy-server";
        let first = unique_email(name, "12345-67890123");
        let second = unique_email(name, "12345-67890123");
        assert_ne!(first, second);
        let local = first.split('@').next().unwrap();
        assert!(local.len() <= 64, "{local}");
        assert!(first.starts_with("e2e-scope-fix-client-current-"));
    }
}
