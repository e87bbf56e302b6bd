//! React with Vite, as PostHog's React docs integrate it: `posthog-js` in
//! the manifest; the entry module (`src/main.tsx`, `main.jsx` …)
//! initialises it from Vite's `import.meta.env.VITE_PUBLIC_…` variables and
//! wraps the app in `PostHogProvider`; the app component captures an event
//! in its first handler.

use protocol::frameworks::FrameworkInfo;

use super::plan::{npm_dependency, Blocked, FileEdits, Planner, Task, TaskFn, POSTHOG_JS_VERSION};
use super::text;

pub const TASKS: &[TaskFn] = &[sdk, initialise, capture];

const EXTENSIONS: &[&str] = &["tsx", "jsx", "ts", "js"];

fn candidates(stems: &[&str]) -> Vec<String> {
    stems
        .iter()
        .flat_map(|stem| EXTENSIONS.iter().map(move |ext| format!("{stem}.{ext}")))
        .collect()
}

fn sdk(planner: &mut Planner<'_>, _: &FrameworkInfo) -> Result<Task, Blocked> {
    npm_dependency(planner, "posthog-js", POSTHOG_JS_VERSION)
}

fn initialise(planner: &mut Planner<'_>, framework: &FrameworkInfo) -> Result<Task, Blocked> {
    planner.listing()?;
    let Some(entry) = planner.first_existing(&candidates(&["src/main", "src/index"]))? else {
        return Ok(Task::Skip(
            "initialise PostHog: no `src/main` entry module was found".to_owned(),
        ));
    };
    let Some(text) = planner.read(&entry)? else {
        return Ok(Task::Skip(format!("`{entry}` could not be read")));
    };
    if text.contains("posthog.init(") && text.contains("<PostHogProvider") {
        return Ok(Task::Satisfied(format!(
            "`{entry}` initialises PostHog from `{}` and `{}` and wraps the app in `PostHogProvider`",
            framework.key_variable, framework.host_variable
        )));
    }
    let mut edits = FileEdits::new(&entry, text);
    if !text.contains("from 'posthog-js'") {
        edits.apply(text::add_js_lines_at_top(
            text,
            text::POSTHOG_PROVIDER_IMPORTS,
        ));
    }
    if !edits.text.contains("posthog.init(") {
        let current = edits.text.clone();
        let init = format!(
            "posthog.init(import.meta.env.{}, {{\n  api_host: import.meta.env.{},\n  defaults: '2025-05-24',\n}});\n\n",
            framework.key_variable, framework.host_variable
        );
        let anchor = text::find_line(&current, |line| {
            line.contains("createRoot(") && text::indent(line).is_empty()
        });
        edits.apply(anchor.and_then(|line| text::insert_before(&current, line, &init)));
    }
    if !edits.text.contains("<PostHogProvider") {
        let current = edits.text.clone();
        edits.apply(text::wrap_in_posthog_provider(&current, "<App />"));
    }
    Ok(edits.into_task("initialise PostHog"))
}

fn capture(planner: &mut Planner<'_>, _: &FrameworkInfo) -> Result<Task, Blocked> {
    planner.listing()?;
    let Some(app) = planner.first_existing(&candidates(&["src/App", "src/app"]))? else {
        return Ok(Task::Skip(
            "capture an event: no `src/App` component was found".to_owned(),
        ));
    };
    let Some(text) = planner.read(&app)? else {
        return Ok(Task::Skip(format!("`{app}` could not be read")));
    };
    if text.contains("posthog.capture(") {
        return Ok(Task::Satisfied(format!("`{app}` captures an event")));
    }
    let mut edits = FileEdits::new(&app, text);
    if !text.contains("from 'posthog-js'") {
        edits.apply(text::add_js_lines_at_top(
            text,
            "import posthog from 'posthog-js';\n",
        ));
    }
    let current = edits.text.clone();
    match edits.apply(text::js_capture(&current)) {
        true => Ok(Task::Acts(edits.acts)),
        false => Ok(Task::Skip(format!(
            "capture an event in `{app}`: no handler found"
        ))),
    }
}
