//! Flask, as PostHog's Python docs integrate it: `posthog` in the
//! manifest; where the app is created (a module's `app = Flask(__name__)`
//! or an app factory's `create_app`), `.env` is loaded and `posthog`
//! configured from `POSTHOG_API_KEY` and `POSTHOG_HOST`, with queued
//! events flushed at exit; the first `POST` route captures an event.

use protocol::frameworks::FrameworkInfo;

use super::plan::{python_dependencies, Blocked, FileEdits, Planner, Task, TaskFn};
use super::text;
use crate::agent::knowledge::FileState;

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
    // Without a listing, the modules the ones read import, as a person
    // follows `from tasks import create_app` to `tasks/__init__.py`.
    let read: Vec<(&String, &String)> = planner
        .knowledge
        .files
        .iter()
        .filter_map(|(path, state)| match state {
            FileState::Text(text) if path.ends_with(".py") => Some((path, text)),
            _ => None,
        })
        .collect();
    for (path, text) in read {
        candidates.extend(imported_modules(path, text));
    }
    let mut unique = Vec::new();
    for candidate in candidates {
        if !unique.contains(&candidate) && planner.exists(&candidate) != Some(false) {
            unique.push(candidate);
        }
    }
    unique.truncate(MAX_MODULES);
    Ok(unique)
}

/// Packages that are never the project's own.
const THIRD_PARTY: &[&str] = &[
    "flask",
    "werkzeug",
    "jinja2",
    "os",
    "sys",
    "posthog",
    "dotenv",
    "atexit",
    "json",
    "typing",
    "datetime",
    "pathlib",
    "logging",
    "sqlalchemy",
    "flask_sqlalchemy",
];

/// The files the imports of the module at `path` may name: relative
/// imports first, then absolute ones outside [`THIRD_PARTY`].
fn imported_modules(path: &str, text: &str) -> Vec<String> {
    let package = path.rsplit_once('/').map_or("", |(dir, _)| dir);
    let mut relative = Vec::new();
    let mut absolute = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let module = match line.strip_prefix("from ") {
            Some(rest) => rest.split(" import ").next().unwrap_or_default().trim(),
            None => continue,
        };
        if let Some(local) = module.strip_prefix('.') {
            let base = match package.is_empty() {
                true => String::new(),
                false => format!("{package}/"),
            };
            if local.is_empty() {
                let names = line.split(" import ").nth(1).unwrap_or_default();
                for name in names
                    .split(',')
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                {
                    relative.push(format!("{base}{name}.py"));
                }
            } else {
                let file = local.replace('.', "/");
                relative.push(format!("{base}{file}.py"));
                relative.push(format!("{base}{file}/__init__.py"));
            }
        } else if !THIRD_PARTY.contains(&module.split('.').next().unwrap_or_default()) {
            let file = module.replace('.', "/");
            absolute.push(format!("{file}/__init__.py"));
            absolute.push(format!("{file}.py"));
        }
    }
    relative.extend(absolute);
    relative
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_lead_to_the_project_modules() {
        assert_eq!(
            imported_modules(
                "wsgi.py",
                "from tasks import create_app\nfrom flask import Flask\n"
            ),
            vec!["tasks/__init__.py", "tasks.py"]
        );
        assert_eq!(
            imported_modules(
                "tasks/__init__.py",
                "    from .routes import bp\nfrom . import models, views\n"
            ),
            vec![
                "tasks/routes.py",
                "tasks/routes/__init__.py",
                "tasks/models.py",
                "tasks/views.py"
            ]
        );
    }
}
