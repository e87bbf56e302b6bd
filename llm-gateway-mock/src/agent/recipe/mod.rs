//! A recipe per framework: given what the conversation shows of the
//! project ([`Knowledge`]), the next [`Step`]: files to read or list, edits
//! and writes to make, or the summary that ends the run.
//!
//! A recipe is a list of tasks in order (the SDK in the manifest, the
//! initialisation, an event capture, the env values). Each task looks at
//! the project as known now and says it is satisfied, what it still needs
//! to read, what to do, or why it is skipped; the first task that is not
//! satisfied decides the step. Tasks check effects, not past actions, so
//! the plan follows from the transcript alone, and a refused action (the
//! file read again, the same action refused twice given up and reported)
//! changes the plan instead of derailing it. Edits anchor on lines the
//! agent has read.

mod django;
mod express;
mod flask;
mod next_js;
pub mod plan;
mod react_vite;
pub mod text;

use protocol::frameworks::{FrameworkInfo, Manifest};

use super::knowledge::Knowledge;
pub use plan::{
    npm_dependency, python_dependencies, Abilities, Act, Blocked, FileEdits, Need, Planner, Step,
    Task, TaskFn, DOTENV_PYTHON_REQUIREMENT, EVERY_FILE, POSTHOG_JS_VERSION, POSTHOG_NODE_VERSION,
    POSTHOG_PYTHON_REQUIREMENT,
};

/// The recipe of `framework`: its next step for the project `knowledge`
/// shows.
pub fn next(framework: &FrameworkInfo, knowledge: &Knowledge, abilities: &Abilities) -> Step {
    let tasks: &[TaskFn] = match framework.id {
        "next-js" => next_js::TASKS,
        "react-vite" => react_vite::TASKS,
        "express" => express::TASKS,
        "django" => django::TASKS,
        "flask" => flask::TASKS,
        _ => &[],
    };
    let mut done = Vec::new();
    let mut skipped = Vec::new();
    let all = std::iter::once(detect_package_manager as TaskFn)
        .chain(tasks.iter().copied())
        .chain(std::iter::once(env_values as TaskFn));
    for task in all {
        let mut planner = Planner::new(knowledge, abilities);
        match task(&mut planner, framework) {
            Err(Blocked) => return Step::Need(planner.into_needs()),
            Ok(Task::Satisfied(line)) => done.push(line),
            Ok(Task::Skip(reason)) => skipped.push(reason),
            Ok(Task::Acts(acts)) => {
                let given_up = acts
                    .iter()
                    .find(|act| knowledge.refused_times(&act.action()) >= 2);
                // A change the harness already made, asked for again, had
                // no effect the task can see: asking a third time would
                // loop for ever.
                let repeated = acts
                    .iter()
                    .find(|act| knowledge.succeeded.contains(&act.action()));
                match (given_up, repeated) {
                    (Some(act), _) => skipped.push(gave_up(act, knowledge)),
                    (None, Some(act)) => skipped.push(format!(
                        "{} was made but did not take effect; please check it by hand",
                        describe(act)
                    )),
                    (None, None) => return Step::Act(acts),
                }
            }
        }
    }
    Step::Done(summary(framework, &done, &skipped, knowledge))
}

/// An act in a few words, for the summary.
fn describe(act: &Act) -> String {
    match act {
        Act::Edit { path, .. } => format!("an edit of `{path}`"),
        Act::Write { path, .. } => format!("`{path}`"),
        Act::SetEnv { file, .. } => format!("the values in `{file}`"),
        Act::DetectPackageManager => "the package manager check".to_owned(),
    }
}

fn gave_up(act: &Act, knowledge: &Knowledge) -> String {
    let path = match act {
        Act::Edit { path, .. } | Act::Write { path, .. } => path.as_str(),
        Act::SetEnv { file, .. } => file.as_str(),
        Act::DetectPackageManager => "the package manager",
    };
    let reason = knowledge
        .last_refusal(path)
        .unwrap_or("refused")
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    format!(
        "`{path}` could not be changed (refused twice: {reason}); please make this change by hand"
    )
}

fn summary(
    framework: &FrameworkInfo,
    done: &[String],
    skipped: &[String],
    knowledge: &Knowledge,
) -> String {
    let mut text = format!("PostHog is set up in this {} project:\n", framework.name);
    for line in done.iter().filter(|line| !line.is_empty()) {
        text.push_str(&format!("\n- {line}"));
    }
    if !skipped.is_empty() {
        text.push_str("\n\nNot done:\n");
        for line in skipped {
            text.push_str(&format!("\n- {line}"));
        }
    }
    let install = match framework.manifest {
        Manifest::PackageJson => "your package manager's install (npm install, pnpm install …)",
        Manifest::Python => "`pip install -r requirements.txt` (or your tool's install)",
    };
    text.push_str(&format!(
        "\n\nThe SDK was added to the manifest rather than installed: run {install} before starting the app."
    ));
    if knowledge.changed.is_empty() {
        text.push_str("\nNo file needed a change.");
    }
    text
}

/// First of every recipe: ask the wizard which package manager the
/// project uses, when it offers the tool.
fn detect_package_manager(planner: &mut Planner<'_>, _: &FrameworkInfo) -> Result<Task, Blocked> {
    if !planner.abilities.detect_package_manager {
        return Ok(Task::Satisfied(String::new()));
    }
    Ok(match &planner.knowledge.package_manager {
        Some(_) => Task::Satisfied(String::new()),
        None => Task::Acts(vec![Act::DetectPackageManager]),
    })
}

/// Last of every recipe: the public token and host into the framework's
/// env file, through the wizard's own tool.
fn env_values(planner: &mut Planner<'_>, framework: &FrameworkInfo) -> Result<Task, Blocked> {
    let names = format!(
        "`{}` and `{}` in `{}`",
        framework.key_variable, framework.host_variable, framework.env_file
    );
    if planner.knowledge.env_set {
        return Ok(Task::Satisfied(format!("set {names}")));
    }
    let abilities = planner.abilities;
    let (Some(token), Some(host)) = (&abilities.token, &abilities.host) else {
        return Ok(Task::Satisfied(format!(
            "the app reads {names} (the wizard writes them)"
        )));
    };
    if !abilities.set_env {
        return Ok(Task::Skip(format!(
            "set {names}: the harness offers no env tool"
        )));
    }
    Ok(Task::Acts(vec![Act::SetEnv {
        file: framework.env_file.to_owned(),
        values: vec![
            (framework.key_variable.to_owned(), token.clone()),
            (framework.host_variable.to_owned(), host.clone()),
        ],
    }]))
}

#[cfg(test)]
mod tests;
