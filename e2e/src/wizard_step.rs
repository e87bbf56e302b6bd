//! Runs the wizard steps (`wizard`, `wizard_output`, `wizard_wait`): runs
//! of the real wizard among the `[[steps]]`, in order, sharing the
//! scenario's one project directory, HOME and log directory. Their tables
//! are in [`crate::steps`].

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::expect;
use crate::placeholders::{Saved, Substitution, FREE_PORT};
use crate::process::{self, Background, Ending, Invocation};
use crate::project::{self, Difference, Manifest};
use crate::scenario::{self, ProjectExpectation};
use crate::step_context::{StepContext, WizardContext};
use crate::steps::{
    StepProject, WizardExpect, WizardInputStep, WizardOutputStep, WizardStep, WizardWaitStep,
};

/// One wizard run of the steps, for the observation and `--keep`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WizardRunRecord {
    pub title: String,
    pub invocation: Invocation,
    /// `None` while (or if never) collected.
    pub ending: Option<Ending>,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

/// The wizard runs of one scenario's steps.
#[derive(Debug, Default)]
pub struct WizardState {
    background: Option<Pending>,
    pub runs: Vec<WizardRunRecord>,
}

/// The background run and what its `wizard_wait` will check.
#[derive(Debug)]
struct Pending {
    process: Background,
    before: Manifest,
    deadline: Instant,
    record: usize,
}

impl WizardState {
    /// Whether a background run still waits for its `wizard_wait`.
    pub fn has_background(&self) -> bool {
        self.background.is_some()
    }

    /// Runs `kind = "wizard"`: to completion, or started in the background.
    pub async fn run(
        &mut self,
        step: &WizardStep,
        context: &StepContext<'_>,
        saved: &mut Saved,
        transcript: &mut Vec<String>,
        index: usize,
        title: &str,
    ) -> Result<Vec<String>> {
        let wizard = context.wizard_context()?;
        let values = context.values;
        if self.background.is_some() {
            bail!("a background wizard is still running: a `wizard_wait` step comes first");
        }
        let uses_port = step
            .args
            .iter()
            .chain(step.env.values())
            .any(|text| text.contains(FREE_PORT));
        let port = match uses_port {
            true => {
                let port = process::free_port()?;
                saved.insert("free_port", port.to_string());
                Some(port)
            }
            false => None,
        };
        let fill = Substitution::new(values, saved);
        let fill = match port {
            Some(port) => fill.with_free_port(port),
            None => fill,
        };
        let args = step
            .args
            .iter()
            .map(|arg| fill.text(arg))
            .collect::<Result<Vec<_>>>()?;
        let mut env = wizard.env.clone();
        for (key, value) in &step.env {
            env.insert(key.clone(), fill.text(value)?);
        }
        let invocation = Invocation {
            program: wizard.program.to_path_buf(),
            args: scenario::wire_wizard_args(args, values),
            env,
            current_dir: wizard.scratch.to_path_buf(),
        };
        let stdout = wizard.scratch.join(format!("wizard-step{index}.stdout"));
        let stderr = wizard.scratch.join(format!("wizard-step{index}.stderr"));
        let before = project::manifest(wizard.project_dir)?;
        transcript.push(saved.mask(&format!("{title}: wizard {}", invocation.args.join(" "))));
        let process = match step.stdin_open {
            true => process::start_interactive("wizard", &invocation, &stdout, &stderr).await?,
            false => {
                process::start_background(
                    "wizard",
                    &invocation,
                    step.stdin.as_deref(),
                    &stdout,
                    &stderr,
                )
                .await?
            }
        };
        self.runs.push(WizardRunRecord {
            title: title.to_owned(),
            invocation,
            ending: None,
            stdout,
            stderr,
        });
        let pending = Pending {
            process,
            before,
            deadline: Instant::now() + Duration::from_secs(step.timeout_seconds),
            record: self.runs.len() - 1,
        };
        if step.background {
            self.background = Some(pending);
            return Ok(Vec::new());
        }
        let fill = Substitution::new(values, saved);
        self.finish(pending, &step.expect, wizard, &fill, transcript, title)
            .await
    }

    /// Runs `kind = "wizard_output"`.
    pub async fn read_output(
        &mut self,
        step: &WizardOutputStep,
        saved: &mut Saved,
        transcript: &mut Vec<String>,
        title: &str,
    ) -> Result<Vec<String>> {
        let Some(pending) = self.background.as_mut() else {
            bail!("no background wizard is running (a `wizard` step with `background = true` comes first)");
        };
        let pattern = regex::Regex::new(&step.pattern)?;
        let groups = pending
            .process
            .wait_for_line(&pattern, Duration::from_secs(step.timeout_seconds))
            .await?;
        transcript.push(saved.mask(&format!(
            "{title}: matched {:?}",
            groups.first().cloned().flatten().unwrap_or_default()
        )));
        let mut failures = Vec::new();
        for (name, group) in &step.save {
            match groups.get(*group).cloned().flatten() {
                Some(value) => saved.insert(name, value),
                None => failures.push(format!(
                    "save {name}: capture group {group} did not take part in the match"
                )),
            }
        }
        Ok(failures)
    }

    /// Runs `kind = "wizard_input"`: the text goes to the background
    /// wizard's open stdin; the transcript shows it masked.
    pub async fn type_text(
        &mut self,
        step: &WizardInputStep,
        context: &StepContext<'_>,
        saved: &Saved,
        transcript: &mut Vec<String>,
        title: &str,
    ) -> Result<Vec<String>> {
        let Some(pending) = self.background.as_mut() else {
            bail!("no background wizard is running (a `wizard` step with `background = true` comes first)");
        };
        let text = Substitution::new(context.values, saved).text(&step.text)?;
        pending.process.type_text(&text).await?;
        transcript.push(saved.mask(&format!("{title}: typed {:?}", text.trim_end())));
        Ok(Vec::new())
    }

    /// Runs `kind = "wizard_wait"`.
    pub async fn wait(
        &mut self,
        step: &WizardWaitStep,
        context: &StepContext<'_>,
        saved: &Saved,
        transcript: &mut Vec<String>,
        title: &str,
    ) -> Result<Vec<String>> {
        let wizard = context.wizard_context()?;
        let Some(pending) = self.background.take() else {
            bail!("no background wizard is running (a `wizard` step with `background = true` comes first)");
        };
        let fill = Substitution::new(context.values, saved);
        self.finish(pending, &step.expect, wizard, &fill, transcript, title)
            .await
    }

    /// Kills a background run nobody waited for, and says so.
    pub async fn abandon(&mut self) -> Option<String> {
        let pending = self.background.take()?;
        pending.process.kill().await;
        let title = &self.runs[pending.record].title;
        Some(format!(
            "{title}: the background wizard was still running after the last step (add a `wizard_wait` step); it was killed"
        ))
    }

    /// Waits for a run's end and checks it: exit, output, project.
    async fn finish(
        &mut self,
        pending: Pending,
        expect: &WizardExpect,
        context: &WizardContext<'_>,
        fill: &Substitution<'_>,
        transcript: &mut Vec<String>,
        title: &str,
    ) -> Result<Vec<String>> {
        let remaining = pending.deadline.saturating_duration_since(Instant::now());
        let ending = pending.process.wait(remaining).await?;
        let record = &mut self.runs[pending.record];
        record.ending = Some(ending);
        let output = format!(
            "{}{}",
            read_lossy(&record.stdout),
            read_lossy(&record.stderr)
        );
        transcript.push(format!("{title}: the wizard ended: {ending:?}"));
        let after = project::manifest(context.project_dir)?;
        let contains = expect
            .output_contains
            .iter()
            .map(|text| fill.text(text))
            .collect::<Result<Vec<_>>>()?;
        let lacks = expect
            .output_lacks
            .iter()
            .map(|text| fill.text(text))
            .collect::<Result<Vec<_>>>()?;
        let mut failures = expect::check_ending(expect.exit_code, ending);
        failures.extend(expect::check_output(&contains, &lacks, &output));
        failures.extend(check_project(
            expect.project,
            context,
            &pending.before,
            &after,
        ));
        Ok(failures)
    }
}

/// The project after a run against `project`.
pub fn check_project(
    project: Option<StepProject>,
    context: &WizardContext<'_>,
    before_run: &Manifest,
    after: &Manifest,
) -> Vec<String> {
    let whole = |expectation| {
        let probe = scenario::Expect {
            project: Some(expectation),
            ..Default::default()
        };
        expect::check_project(&probe, context.integrated, context.project_initial, after)
    };
    match project {
        None => Vec::new(),
        Some(StepProject::Untouched) => whole(ProjectExpectation::Untouched),
        Some(StepProject::Integrated) => whole(ProjectExpectation::Integrated),
        Some(StepProject::Unchanged) => {
            let difference = Difference::between(before_run, after);
            match difference.is_empty() {
                true => Vec::new(),
                false => vec![format!(
                    "project should be unchanged by this run, but {}",
                    expect::describe_difference(&difference)
                )],
            }
        }
    }
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}
