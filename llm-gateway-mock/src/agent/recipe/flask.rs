//! Flask, as PostHog's Python docs integrate it: `posthog` in the
//! manifest; where the app is created (a module's `app = Flask(__name__)`
//! or an app factory's `create_app`), `.env` is loaded and `posthog`
//! configured from `POSTHOG_API_KEY` and `POSTHOG_HOST`, with queued
//! events flushed at exit; the first `POST` route captures an event.

use protocol::frameworks::FrameworkInfo;

use super::plan::{python_dependencies, Blocked, FileEdits, Planner, Task, TaskFn};
use super::text;

pub const TASKS: &[TaskFn] = &[sdk, initialise, capture];

/// At most this many modules are read to find the app and its routes.
const MAX_MODULES: usize = 12;

fn sdk(planner: &mut Planner<'_>, _: &FrameworkInfo) -> Result<Task, Blocked> {
    python_dependencies(planner)
}

/// The project's modules worth reading, most likely app modules first.
fn modules(planner: &mut Planner<'_>) -> Result<Vec<String>, Blocked> {
    planner.listing()?;
    let mut candidates: Vec<String> = [
        "app.py",
        "wsgi.py",
        "main.py",
        "application.py",
        "server.py",
    ]
    .iter()
    .map(|name| name.to_string())
    .collect();
    let mut listed: Vec<String> = planner
        .files()
        .into_iter()
        .filter(|path| path.ends_with(".py"))
        .filter(|path| {
            !["venv", "site-packages", "test", "migrations", "conftest"]
                .iter()
                .any(|part| path.contains(part))
        })
        .map(str::to_owned)
        .collect();
    // Package roots (`acme/__init__.py`) before other modules.
    listed.sort_by_key(|path| {
        (
            !path.ends_with("__init__.py"),
            path.matches('/').count(),
            path.clone(),
        )
    });
    candidates.extend(listed);
    let mut unique = Vec::new();
    for candidate in candidates {
        if !unique.contains(&candidate) && planner.exists(&candidate) != Some(false) {
            unique.push(candidate);
        }
    }
    unique.truncate(MAX_MODULES);
    Ok(unique)
}

/// The module creating the app, and the line that creates it.
fn app_module(planner: &mut Planner<'_>) -> Result<Option<(String, String)>, Blocked> {
    for path in modules(planner)? {
        if let Some(text) = planner.read(&path)? {
            if let Some(line) = text::find_line(text, |line| line.contains("Flask(__name__")) {
                return Ok(Some((path, line.to_owned())));
            }
        }
    }
    Ok(None)
}

fn initialise(planner: &mut Planner<'_>, framework: &FrameworkInfo) -> Result<Task, Blocked> {
    let Some((path, created)) = app_module(planner)? else {
        return Ok(Task::Skip(
            "configure PostHog: no module creates a Flask app".to_owned(),
        ));
    };
    let text = planner.read(&path)?.unwrap_or_default();
    let key = format!("os.environ[\"{}\"]", framework.key_variable);
    if text.contains(&key) {
        return Ok(Task::Satisfied(format!(
            "`{path}` loads `{}` and configures PostHog from `{}` and `{}`, flushing events at exit",
            framework.env_file, framework.key_variable, framework.host_variable
        )));
    }
    let mut edits = FileEdits::new(&path, text);
    let imports = text::missing_python_imports(
        text,
        &[
            "import atexit",
            "import os",
            "import posthog",
            "from dotenv import load_dotenv",
        ],
    );
    edits.apply(text::add_python_lines_at_top(text, &imports));
    let lines = [
        "load_dotenv()".to_owned(),
        format!("posthog.api_key = {key}"),
        format!("posthog.host = os.environ[\"{}\"]", framework.host_variable),
        "# Send queued events before the process exits.".to_owned(),
        "atexit.register(posthog.shutdown)".to_owned(),
    ];
    let current = edits.text.clone();
    let factory = text::find_line(&current, |line| {
        line.trim_start().starts_with("def create_app(")
    });
    let edit = match (text::indent(&created).is_empty(), factory) {
        (false, Some(factory)) => {
            let body: String = lines
                .iter()
                .map(|line| format!("{{indent}}{line}\n"))
                .collect();
            text::insert_in_block(&current, factory, &body)
        }
        _ => {
            let pad = text::indent(&created);
            let body: String = lines.iter().map(|line| format!("{pad}{line}\n")).collect();
            text::insert_after(&current, &created, &format!("\n{body}"))
        }
    };
    match edits.apply(edit) {
        true => Ok(Task::Acts(edits.acts)),
        false => Ok(Task::Skip(format!(
            "configure PostHog in `{path}`: no anchor found"
        ))),
    }
}

fn capture(planner: &mut Planner<'_>, _: &FrameworkInfo) -> Result<Task, Blocked> {
    let mut found = None;
    for path in modules(planner)? {
        if let Some(text) = planner.read(&path)? {
            if text.contains("posthog.capture(") {
                return Ok(Task::Satisfied(format!(
                    "`{path}` captures an event in a `POST` route"
                )));
            }
            let routed = text.lines().any(|line| {
                let line = line.trim_start();
                line.starts_with('@') && (line.contains(".post(") || line.contains("POST"))
            });
            if let (true, Some(handler)) = (routed, text::post_handler(text)) {
                found = Some((path, text, handler));
                break;
            }
        }
    }
    let Some((path, text, handler)) = found else {
        return Ok(Task::Skip(
            "capture an event: no `POST` route was found".to_owned(),
        ));
    };
    let has_request = text
        .lines()
        .any(|line| line.starts_with("from flask import") && line.contains("request"));
    let mut edits = FileEdits::new(&path, text);
    if !text.lines().any(|line| line.trim() == "import posthog") {
        edits.apply(text::add_python_lines_at_top(text, "import posthog\n"));
    }
    let current = edits.text.clone();
    match edits.apply(text::python_capture(&current, handler, has_request)) {
        true => Ok(Task::Acts(edits.acts)),
        false => Ok(Task::Skip(format!(
            "capture an event in `{path}`: the route is not unique"
        ))),
    }
}
