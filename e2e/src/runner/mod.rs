//! One scenario: set up a scratch directory, start the server and the
//! gateway, run the wizard, collect what happened, check it.
//!
//! [`run_scenario`] goes through named phases, each a function of this
//! file or of a child: `prepare` (the project and the fixtures it needs),
//! [`services::start`], `run_wizard` (the `[wizard]` table), `run_steps`
//! (the `[[steps]]`), [`services::Services::stop`] (state and journals,
//! read before the processes die), `observe` (what the run did), `judge`
//! (the expectations) and `scan_for_leaks`. Its result is data
//! ([`result`]); the lines a person reads about it are in [`describe`].
//!
//! Layout of the scratch directory:
//! `server.sqlite`, `home/` (the wizard's empty HOME), `logs/`
//! (`POSTHOG_WIZARD_LOG_DIR`), `project/` (a copy of `fixtures/apps/<app>`),
//! `{server,gateway,wizard}.{stdout,stderr}`, `server-restart<N>.{stdout,stderr}`
//! for each `restart_server` step, and after the run
//! `server-state.json`, `server-journal.json`, `gateway-journal.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::binaries::Binaries;
use crate::chromium::{self, Chromium};
use crate::chromium_step::Screenshot;
use crate::dispatch::{self, StepsOutcome};
use crate::expect::{self, Observation};
use crate::integrated::IntegratedProject;
use crate::placeholders::Placeholders;
use crate::process::{self, Ending, Invocation};
use crate::project::{self, Difference, Manifest};
use crate::scenario::{Expect, ProjectExpectation, ProjectSetup, Scenario};
use crate::secrets;
use crate::step_context::{StepContext, WizardContext};
use crate::steps::needs_chromium;

pub mod describe;
pub mod result;
pub mod services;

pub use describe::{describe_expectation, STEPS_LOG};
pub use result::{new_run_id, unique_email, Journals, ProjectState, ScenarioResult, WizardOutcome};
use services::{Collected, Launch};

/// The wizard's (hidden) setting for the managed Claude Code settings file,
/// `/etc/claude-code/managed-settings.json` by default.
pub const MANAGED_SETTINGS_ENV: &str = "POSTHOG_WIZARD_MANAGED_SETTINGS";

/// How the server's stderr line with the admin live view's link starts.
pub const ADMIN_LINK_PREFIX: &str = "admin live view: ";

/// What every scenario of one run shares.
#[derive(Debug, Clone)]
pub struct Settings {
    pub fixtures: PathBuf,
    pub binaries: Binaries,
    /// Keep the scratch directory and print how to rerun each program.
    pub keep: bool,
    /// Unique per harness run; goes into e-mail addresses.
    pub run_id: String,
    /// The folder of the reports: each scenario's screenshots go into
    /// `<report_dir>/<scenario>/` (`None`: no screenshots).
    pub report_dir: Option<PathBuf>,
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
                not_run: None,
                screenshots: Vec::new(),
            }
        }
    };
    let dir = scratch.path().to_path_buf();
    let screenshots_dir = screenshots_dir(scenario, settings);
    let browser = match needs_chromium(&scenario.steps) {
        true => match start_chromium(&dir).await {
            Ok(browser) => Some(browser),
            Err(error) => {
                return without_chromium(
                    &scenario.name,
                    expected,
                    started,
                    error,
                    chromium::required(),
                )
            }
        },
        false => None,
    };
    let outcome = run_in(
        scenario,
        settings,
        &dir,
        browser.as_ref(),
        screenshots_dir.as_deref(),
    )
    .await;
    if let Some(browser) = browser {
        browser.close().await;
    }
    let (observed, mut mismatches, invocations, journals, wizard, screenshots) = match outcome {
        Ok(done) => (
            done.observed,
            done.mismatches,
            done.invocations,
            done.journals,
            done.wizard,
            done.screenshots,
        ),
        Err(error) => (
            "set-up failed".to_owned(),
            vec![format!("{error:#}")],
            Vec::new(),
            Journals::default(),
            None,
            Vec::new(),
        ),
    };
    let diagnostics = if mismatches.is_empty() {
        String::new()
    } else {
        describe::diagnostics(&dir)
    };
    let kept = if settings.keep {
        let kept_dir = scratch.keep();
        Some(describe::rerun_instructions(
            scenario,
            &settings.fixtures,
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
        not_run: None,
        screenshots,
    }
}

/// Where a scenario's screenshots go: its own folder beside the reports,
/// emptied of an earlier run's.
fn screenshots_dir(scenario: &Scenario, settings: &Settings) -> Option<PathBuf> {
    let dir = settings.report_dir.as_ref()?.join(&scenario.name);
    if needs_chromium(&scenario.steps) {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Some(dir)
}

/// The one-time admin link the server printed on stderr before its
/// `listening on` line (so it is in the file once the server is up).
fn admin_link(stderr: &Path) -> Option<String> {
    read_lossy(stderr)
        .lines()
        .find_map(|line| line.strip_prefix(ADMIN_LINK_PREFIX))
        .map(|link| link.trim().to_owned())
}

/// Finds and starts Chromium for one scenario.
async fn start_chromium(dir: &Path) -> Result<Chromium> {
    let programs = chromium::locate()?;
    Chromium::start(&programs, dir).await
}

/// A scenario whose Chromium cannot start: a failure where it is
/// `required` (CI), else left out, saying how to install it.
fn without_chromium(
    name: &str,
    expected: String,
    started: Instant,
    error: anyhow::Error,
    required: bool,
) -> ScenarioResult {
    let why = format!(
        "Chromium cannot start ({error:#}); install it with: {}",
        chromium::INSTALL_COMMAND
    );
    let (mismatches, not_run) = match required {
        true => (vec![why], None),
        false => (Vec::new(), Some(why)),
    };
    ScenarioResult {
        name: name.to_owned(),
        expected,
        observed: "not run: no Chromium".to_owned(),
        mismatches,
        duration: started.elapsed(),
        diagnostics: String::new(),
        kept: None,
        journals: Journals::default(),
        wizard: None,
        not_run,
        screenshots: Vec::new(),
    }
}

/// What [`run_in`] hands back to [`run_scenario`].
struct Done {
    observed: String,
    mismatches: Vec<String>,
    invocations: Vec<(String, Invocation)>,
    journals: Journals,
    wizard: Option<WizardOutcome>,
    screenshots: Vec<Screenshot>,
}

/// The scratch directory's parts and the project as set up.
struct Prepared {
    home: PathBuf,
    logs: PathBuf,
    project_dir: PathBuf,
    /// `None` for a scenario of steps alone.
    setup: Option<ProjectSetup>,
    /// The app's checklist, when it has one (or the scenario needs one).
    integrated: Option<IntegratedProject>,
    /// The project as set up, before any wizard run.
    before: Manifest,
}

/// What the run did, read after the services stopped.
struct Observed {
    observation: Observation,
    wizard: Option<WizardOutcome>,
    /// The one-line summary for the table.
    summary: String,
}

/// The phases of one scenario, in order.
async fn run_in(
    scenario: &Scenario,
    settings: &Settings,
    dir: &Path,
    browser: Option<&Chromium>,
    screenshots: Option<&Path>,
) -> Result<Done> {
    let prepared = prepare(scenario, settings, dir)?;
    let admin_token = format!("e2e-admin-{}", settings.run_id);
    let base_env = process::base_environment(&prepared.home, &prepared.logs);
    let services = services::start(
        scenario,
        &Launch {
            binaries: &settings.binaries,
            fixtures: &settings.fixtures,
            dir,
            env: &base_env,
            admin_token: &admin_token,
        },
    )
    .await?;
    let mut invocations = services.invocations.clone();
    let values = Placeholders {
        email: unique_email(&scenario.name, &settings.run_id),
        server: services.server.url.clone(),
        other_server: services
            .other_server
            .as_ref()
            .map(|other| other.url.clone())
            .unwrap_or_default(),
        gateway: services.gateway.url.clone(),
        project: prepared.project_dir.display().to_string(),
    };
    let mut wizard_env = base_env.clone();
    // The host's managed Claude Code settings must not leak into a
    // scenario; a scenario can still point this elsewhere in [wizard] env.
    wizard_env.insert(
        MANAGED_SETTINGS_ENV.to_owned(),
        dir.join("managed-settings.json").display().to_string(),
    );
    let ending = run_wizard(
        scenario,
        settings,
        dir,
        &wizard_env,
        &values,
        &mut invocations,
    )
    .await?;
    let live_link = admin_link(&dir.join("server.stderr"));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        // Steps check redirects themselves (a deep link's 302 Location).
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot build an HTTP client")?;
    let context = StepContext {
        client: &client,
        server_url: &services.server.url,
        gateway_url: &services.gateway.url,
        admin_token: &admin_token,
        values: &values,
        random: &protocol::random::OsRandom,
        server: Some(&services.server),
        chromium: browser,
        screenshots,
        admin_link: live_link.as_deref(),
        // Wizard steps start from the environment without [wizard] env.
        wizard: prepared.setup.as_ref().map(|_| WizardContext {
            program: &settings.binaries.wizard.path,
            env: &wizard_env,
            scratch: dir,
            project_dir: &prepared.project_dir,
            project_initial: &prepared.before,
            integrated: prepared.integrated.as_ref(),
        }),
    };
    let steps = run_steps(scenario, dir, &context).await;
    for run in &steps.wizard_runs {
        invocations.push((run.title.clone(), run.invocation.clone()));
    }
    let collected = services.stop(&client, &admin_token).await;
    invocations.extend(collected.restart_invocations.iter().cloned());
    // The last wizard run decides the exit code: the [wizard]'s, unless
    // wizard steps ran after it.
    let ending = steps
        .wizard_runs
        .iter()
        .rev()
        .find_map(|run| run.ending)
        .or(ending.transpose()?);
    let observed = observe(dir, &prepared, &steps, &collected, ending)?;
    let mut mismatches = steps.mismatches.clone();
    mismatches.extend(judge(scenario, &prepared, &observed.observation, dir));
    mismatches.extend(scan_for_leaks(
        dir,
        &steps,
        &collected,
        &observed.observation,
    ));
    Ok(Done {
        observed: observed.summary,
        mismatches,
        invocations,
        journals: Journals {
            server: collected.server_journal.ok(),
            gateway: collected.gateway_journal.ok(),
            server_restarts: collected.server_restarts,
        },
        wizard: observed.wizard,
        screenshots: steps.screenshots,
    })
}

/// The scratch directory and the project: the app copied with the
/// scenario's files, its checklist, and every fixture the run names.
fn prepare(scenario: &Scenario, settings: &Settings, dir: &Path) -> Result<Prepared> {
    let home = dir.join("home");
    let logs = dir.join("logs");
    let project_dir = dir.join("project");
    std::fs::create_dir_all(&home)?;
    std::fs::create_dir_all(&logs)?;
    // A scenario of steps alone has no project (the parser refuses
    // project checks and wizard steps without a [wizard] or [project]).
    let setup = scenario.project_setup();
    let (integrated, before) = match &setup {
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
        None => (None, Manifest::new()),
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
    Ok(Prepared {
        home,
        logs,
        project_dir,
        setup,
        integrated,
        before,
    })
}

/// The `[wizard]` run, to completion, when the scenario has one. A wizard
/// that cannot start is an error kept for later: the steps still run and
/// the services are read before it is reported.
async fn run_wizard(
    scenario: &Scenario,
    settings: &Settings,
    dir: &Path,
    env: &BTreeMap<String, String>,
    values: &Placeholders,
    invocations: &mut Vec<(String, Invocation)>,
) -> Result<Option<Result<Ending>>> {
    let Some(wizard) = &scenario.wizard else {
        return Ok(None);
    };
    let mut env = env.clone();
    env.extend(scenario.wizard_env(values)?);
    let invocation = Invocation {
        program: settings.binaries.wizard.path.clone(),
        args: scenario.wizard_args(values)?,
        env,
        current_dir: dir.to_path_buf(),
    };
    invocations.push(("wizard".to_owned(), invocation.clone()));
    Ok(Some(
        process::run_to_completion(
            "wizard",
            &invocation,
            &dir.join("wizard.stdout"),
            &dir.join("wizard.stderr"),
            Duration::from_secs(wizard.timeout_seconds),
        )
        .await,
    ))
}

/// The `[[steps]]`, after the wizard, against the same services; their
/// masked transcript goes to [`STEPS_LOG`].
async fn run_steps(scenario: &Scenario, dir: &Path, context: &StepContext<'_>) -> StepsOutcome {
    let steps = dispatch::run_steps(&scenario.steps, context).await;
    if !scenario.steps.is_empty() {
        let _ = std::fs::write(dir.join(STEPS_LOG), steps.transcript.join("\n") + "\n");
    }
    steps
}

/// What the run did: the services' files written to the scratch
/// directory, every run's output, the project after it, and the summary
/// line.
fn observe(
    dir: &Path,
    prepared: &Prepared,
    steps: &StepsOutcome,
    collected: &Collected,
    ending: Option<Ending>,
) -> Result<Observed> {
    write_json(&dir.join("server-state.json"), &collected.server_state);
    write_json(&dir.join("server-journal.json"), &collected.server_journal);
    write_json(
        &dir.join("gateway-journal.json"),
        &collected.gateway_journal,
    );
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
    let project_after = match prepared.setup {
        Some(_) => project::manifest(&prepared.project_dir)?,
        None => Manifest::new(),
    };
    let wizard = ending.map(|ending| WizardOutcome {
        ending,
        project: project_state(
            prepared.integrated.as_ref(),
            &prepared.before,
            &project_after,
        ),
    });
    let mut summary = match wizard {
        Some(wizard) => describe::describe_observation(wizard, &collected.gateway_journal),
        None => describe::describe_gateway(&collected.gateway_journal),
    };
    if steps.total > 0 {
        summary = format!("steps {}/{} ok, {summary}", steps.passed, steps.total);
    }
    let observation = Observation {
        // Without a wizard nothing checks the ending: the parser refuses
        // wizard expectations then.
        ending: ending.unwrap_or(Ending::Exited(0)),
        output,
        project_before: prepared.before.clone(),
        project_after,
        server_state: collected.server_state.clone(),
        server_journal: collected.server_journal.clone(),
        gateway_journal: collected.gateway_journal.clone(),
    };
    Ok(Observed {
        observation,
        wizard,
        summary,
    })
}

/// The scenario's `[expect]` against what was observed, and the paths
/// that must not exist.
fn judge(
    scenario: &Scenario,
    prepared: &Prepared,
    observation: &Observation,
    dir: &Path,
) -> Vec<String> {
    let mut mismatches = expect::check(&scenario.expect, prepared.integrated.as_ref(), observation);
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
    mismatches
}

/// Every text the run left, scanned for full credentials. Journals are
/// always required: an unreadable one is a mismatch of its own.
fn scan_for_leaks(
    dir: &Path,
    steps: &StepsOutcome,
    collected: &Collected,
    observation: &Observation,
) -> Vec<String> {
    let mut mismatches = Vec::new();
    let mut sources = Vec::new();
    for (label, journal) in [
        (
            "server journal (GET /_admin/journal)",
            &collected.server_journal,
        ),
        (
            "gateway journal (GET /_admin/journal)",
            &collected.gateway_journal,
        ),
    ] {
        match journal {
            Ok(journal) => sources.push(secrets::Source {
                label: label.to_owned(),
                text: serde_json::to_string(journal).unwrap_or_default(),
            }),
            Err(error) => mismatches.push(format!("{label} unreadable: {error}")),
        }
    }
    let step_outputs = steps
        .wizard_runs
        .iter()
        .flat_map(|run| [&run.stdout, &run.stderr]);
    for path in step_outputs.chain(&collected.restart_outputs) {
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
    mismatches
}

/// What the run did to the project.
fn project_state(
    integrated: Option<&IntegratedProject>,
    before: &Manifest,
    after: &Manifest,
) -> ProjectState {
    let integrated_probe = Expect {
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

/// A path's last component, for labels.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// If this fails, CI could go green without ever starting Chromium,
    /// or a laptop without it could not run the suite at all.
    #[test]
    fn without_chromium_ci_fails_and_a_laptop_leaves_the_scenario_out() {
        let error = || anyhow::anyhow!("`chromedriver` is not on PATH");
        let in_ci = without_chromium("c", String::new(), Instant::now(), error(), true);
        assert!(!in_ci.passed() && !in_ci.skipped());
        assert!(in_ci.mismatches[0].contains(chromium::INSTALL_COMMAND));
        let local = without_chromium("c", String::new(), Instant::now(), error(), false);
        assert!(local.passed() && local.skipped());
        assert!(local.not_run.unwrap().contains("chromedriver"));
    }
}
