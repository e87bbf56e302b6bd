//! What a person reads about one scenario's run: the one-line summaries
//! of what was expected and observed, the tails of the programs' output
//! when it failed, and, with `--keep`, how to rerun each program by hand.

use std::path::Path;

use protocol::admin::Journal;

use super::result::WizardOutcome;
use crate::expect;
use crate::process::{self, Ending, Invocation};
use crate::scenario::{ProjectExpectation, Scenario};

/// The masked transcript of the `[[steps]]`, in the scratch directory.
pub const STEPS_LOG: &str = "steps.log";

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

/// The observed ending, project and verdicts, for the table.
pub fn describe_observation(
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

/// The gateway's verdicts, for the table.
pub fn describe_gateway(gateway_journal: &Result<Journal, String>) -> String {
    match gateway_journal {
        Ok(journal) => format!("gw [{}]", expect::verdicts(journal).join(",")),
        Err(_) => "gw ?".to_owned(),
    }
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

/// The tails of every program's output in `dir`, in the order a person
/// reads them, for a failed scenario.
pub fn diagnostics(dir: &Path) -> String {
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

/// With `--keep`: the kept directory, how to start from a clean slate and
/// each program's command line.
pub fn rerun_instructions(
    scenario: &Scenario,
    fixtures: &Path,
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
            app = process::shell_quote(&fixtures.join("apps").join(&setup.app).to_string_lossy())
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
