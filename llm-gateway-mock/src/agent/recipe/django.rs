//! Django, as PostHog's Django docs integrate it: `posthog` in the
//! manifest; the settings module (the one `manage.py` names, or the
//! `base.py` of a settings package) loads `.env` with python-dotenv; a
//! local app's `AppConfig.ready()` sets `posthog.api_key` and
//! `posthog.host` from the environment; that app's first `POST` view
//! captures an event.

use protocol::frameworks::FrameworkInfo;

use super::plan::{python_dependencies, Blocked, FileEdits, Planner, Task, TaskFn};
use super::text;

pub const TASKS: &[TaskFn] = &[sdk, load_env, ready, capture];

fn sdk(planner: &mut Planner<'_>, _: &FrameworkInfo) -> Result<Task, Blocked> {
    python_dependencies(planner)
}

/// The settings file: the module `manage.py` names (`acme.settings`,
/// `config.settings.dev`), the package's `base.py` when it is a settings
/// package, else the first listed `settings.py`.
fn settings_file(planner: &mut Planner<'_>) -> Result<Option<String>, Blocked> {
    planner.listing()?;
    let manage = planner.read("manage.py")?.unwrap_or_default();
    let module = manage.lines().find_map(|line| {
        let rest = line.split("DJANGO_SETTINGS_MODULE").nth(1)?;
        rest.split(['"', '\''])
            .map(str::trim)
            .find(|part| part.contains('.') && !part.contains(' '))
    });
    if let Some(module) = module {
        let path = module.replace('.', "/");
        let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
        let mut candidates = Vec::new();
        if parent.ends_with("settings") {
            candidates.push(format!("{parent}/base.py"));
        }
        candidates.push(format!("{path}.py"));
        candidates.push(format!("{path}/base.py"));
        candidates.push(format!("{path}/__init__.py"));
        if let Some(found) = planner.first_existing(&candidates)? {
            return Ok(Some(found));
        }
    }
    let listed = planner
        .files()
        .into_iter()
        .find(|path| path.ends_with("settings.py") && !path.contains("site-packages"))
        .map(str::to_owned);
    Ok(listed)
}

fn load_env(planner: &mut Planner<'_>, framework: &FrameworkInfo) -> Result<Task, Blocked> {
    let Some(settings) = settings_file(planner)? else {
        return Ok(Task::Skip(
            "load `.env` in the settings: no settings module was found".to_owned(),
        ));
    };
    let Some(text) = planner.read(&settings)? else {
        return Ok(Task::Skip(format!("`{settings}` could not be read")));
    };
    if text.contains("load_dotenv(") {
        return Ok(Task::Satisfied(format!(
            "`{settings}` loads `{}`",
            framework.env_file
        )));
    }
    let mut edits = FileEdits::new(&settings, text);
    let base_dir = text::find_line(text, |line| {
        line.starts_with("BASE_DIR = ") && line.contains("Path(")
    });
    match base_dir {
        Some(line) => {
            edits.apply(text::add_python_lines_at_top(
                text,
                "from dotenv import load_dotenv\n",
            ));
            let current = edits.text.clone();
            edits.apply(text::insert_after(
                &current,
                line,
                &format!(
                    "\n# {} and {} live in {}; variables already set in the\n# environment win.\nload_dotenv(BASE_DIR / \"{}\")\n",
                    framework.key_variable, framework.host_variable, framework.env_file, framework.env_file
                ),
            ));
        }
        None => {
            edits.apply(text::add_python_lines_at_top(
                text,
                "from dotenv import load_dotenv\n\nload_dotenv()\n",
            ));
        }
    }
    Ok(edits.into_task("load `.env`"))
}

/// The local apps' `apps.py` files: those `INSTALLED_APPS` names outside
/// `django.`, then any other listed one.
fn app_configs(planner: &mut Planner<'_>) -> Result<Vec<String>, Blocked> {
    let mut candidates = Vec::new();
    if let Some(settings) = settings_file(planner)? {
        let text = planner.read(&settings)?.unwrap_or_default();
        let mut in_apps = false;
        for line in text.lines() {
            if line.starts_with("INSTALLED_APPS") {
                in_apps = true;
            }
            if !in_apps {
                continue;
            }
            for entry in line.split(['"', '\'']).skip(1).step_by(2) {
                if entry.starts_with("django.") || entry.is_empty() {
                    continue;
                }
                let app = entry.split(".apps.").next().unwrap_or(entry);
                candidates.push(format!("{}/apps.py", app.replace('.', "/")));
            }
            if line.trim_end().ends_with(']') {
                break;
            }
        }
    }
    for path in planner.files() {
        if path.ends_with("/apps.py") && !path.contains("site-packages") {
            candidates.push(path.to_owned());
        }
    }
    let mut unique = Vec::new();
    for candidate in candidates {
        if !unique.contains(&candidate) && planner.exists(&candidate) != Some(false) {
            unique.push(candidate);
        }
    }
    Ok(unique)
}

/// The first local app config class: its file and its `class` line.
fn app_config(planner: &mut Planner<'_>) -> Result<Option<(String, String)>, Blocked> {
    for path in app_configs(planner)? {
        if let Some(text) = planner.read(&path)? {
            if let Some(line) = text::find_line(text, |line| {
                line.starts_with("class ") && line.contains("AppConfig):")
            }) {
                return Ok(Some((path, line.to_owned())));
            }
        }
    }
    Ok(None)
}

fn ready(planner: &mut Planner<'_>, framework: &FrameworkInfo) -> Result<Task, Blocked> {
    let Some((path, class)) = app_config(planner)? else {
        return Ok(Task::Skip(
            "configure PostHog: no local app has an `AppConfig`".to_owned(),
        ));
    };
    let text = planner.read(&path)?.unwrap_or_default();
    let key = format!("os.environ[\"{}\"]", framework.key_variable);
    if text.contains(&key) {
        return Ok(Task::Satisfied(format!(
            "`ready()` in `{path}` sets `posthog.api_key` and `posthog.host` from `{}` and `{}`",
            framework.key_variable, framework.host_variable
        )));
    }
    let mut edits = FileEdits::new(&path, text);
    let imports = text::missing_python_imports(text, &["import os", "import posthog"]);
    if !imports.is_empty() {
        edits.apply(text::add_python_lines_at_top(text, &imports));
    }
    let current = edits.text.clone();
    let assignments = format!(
        "posthog.api_key = {key}\nposthog.host = os.environ[\"{}\"]\n",
        framework.host_variable
    );
    let existing_ready = text::find_line(&current, |line| {
        line.trim_start().starts_with("def ready(self")
    });
    let edit = match existing_ready {
        Some(line) => {
            let body: String = assignments
                .lines()
                .map(|l| format!("{{indent}}{l}\n"))
                .collect();
            text::insert_in_block(&current, line, &body)
        }
        None => {
            let block: Vec<&str> = current
                .lines()
                .skip_while(|line| *line != class)
                .skip(1)
                .take_while(|line| {
                    line.trim().is_empty() || line.starts_with(' ') || line.starts_with('\t')
                })
                .filter(|line| !line.trim().is_empty())
                .collect();
            let last = block.last().copied().unwrap_or(class.as_str());
            let method: String = assignments
                .lines()
                .map(|l| format!("        {l}\n"))
                .collect();
            text::insert_after(&current, last, &format!("\n    def ready(self):\n{method}"))
        }
    };
    match edits.apply(edit) {
        true => Ok(Task::Acts(edits.acts)),
        false => Ok(Task::Skip(format!(
            "add `ready()` to `{path}`: no anchor found"
        ))),
    }
}

fn capture(planner: &mut Planner<'_>, _: &FrameworkInfo) -> Result<Task, Blocked> {
    let Some((config, _)) = app_config(planner)? else {
        return Ok(Task::Skip(
            "capture an event: no local app was found".to_owned(),
        ));
    };
    let views = config.replace("apps.py", "views.py");
    let Some(text) = planner.read(&views)? else {
        return Ok(Task::Skip(format!(
            "capture an event: `{views}` does not exist"
        )));
    };
    if text.contains("posthog.capture(") {
        return Ok(Task::Satisfied(format!("`{views}` captures an event")));
    }
    let Some(handler) = text::post_handler(text) else {
        return Ok(Task::Skip(format!(
            "capture an event in `{views}`: no view handles a POST"
        )));
    };
    let mut edits = FileEdits::new(&views, text);
    if !text.lines().any(|line| line.trim() == "import posthog") {
        edits.apply(text::add_python_lines_at_top(text, "import posthog\n"));
    }
    let current = edits.text.clone();
    match edits.apply(text::python_capture(&current, handler, false)) {
        true => Ok(Task::Acts(edits.acts)),
        false => Ok(Task::Skip(format!(
            "capture an event in `{views}`: the view is not unique"
        ))),
    }
}
