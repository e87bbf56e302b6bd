//! Express, as PostHog's Node.js docs integrate it: `posthog-node` in the
//! manifest; one client created beside the Express app from
//! `POSTHOG_API_KEY` and `POSTHOG_HOST`; a capture in the first `POST`
//! route; queued events flushed (`shutdown`) when the process is stopped;
//! and `npm start` loading `.env` with Node's `--env-file` when it runs
//! `node` directly.

use protocol::frameworks::FrameworkInfo;

use super::plan::{
    npm_dependency, Act, Blocked, FileEdits, Planner, Task, TaskFn, POSTHOG_NODE_VERSION,
};
use super::text;

pub const TASKS: &[TaskFn] = &[sdk, client, capture, shutdown, load_env];

/// At most this many modules are read to find the app.
const MAX_MODULES: usize = 12;

fn sdk(planner: &mut Planner<'_>, _: &FrameworkInfo) -> Result<Task, Blocked> {
    npm_dependency(planner, "posthog-node", POSTHOG_NODE_VERSION)
}

/// The module that creates the Express app (`express()`), found among the
/// manifest's `main`, its start script's file, and the listed modules.
fn app_module(planner: &mut Planner<'_>) -> Result<Option<(String, &'static str)>, Blocked> {
    planner.listing()?;
    let manifest = planner.read("package.json")?.unwrap_or_default();
    let mut candidates: Vec<String> = Vec::new();
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("\"main\"") || trimmed.starts_with("\"start\"") {
            let value = trimmed.split(':').nth(1).unwrap_or_default();
            for word in value.split_whitespace() {
                let word = word.trim_matches(|c| c == '"' || c == ',');
                if [".js", ".ts", ".mjs", ".cjs"]
                    .iter()
                    .any(|ext| word.ends_with(ext))
                {
                    candidates.push(word.trim_start_matches("./").to_owned());
                }
            }
        }
    }
    for path in planner.files() {
        let module = [".js", ".ts", ".mjs", ".cjs"]
            .iter()
            .any(|ext| path.ends_with(ext));
        let skipped = ["node_modules/", "dist/", "build/", "test"]
            .iter()
            .any(|part| path.contains(part));
        if module && !skipped && !path.ends_with(".d.ts") {
            candidates.push(path.to_owned());
        }
    }
    for stem in [
        "src/index",
        "src/app",
        "src/server",
        "index",
        "app",
        "server",
    ] {
        for ext in ["js", "ts", "mjs"] {
            candidates.push(format!("{stem}.{ext}"));
        }
    }
    let mut seen = Vec::new();
    candidates.retain(|candidate| {
        let fresh = !seen.contains(candidate);
        seen.push(candidate.clone());
        fresh
    });
    let candidates: Vec<String> = candidates
        .into_iter()
        .filter(|path| planner.exists(path) != Some(false))
        .take(MAX_MODULES)
        .collect();
    for path in candidates {
        if let Some(text) = planner.read(&path)? {
            if text.contains("express()") {
                let style = style(&path, text);
                return Ok(Some((path, style)));
            }
        }
    }
    Ok(None)
}

/// `ts`, `esm` or `cjs`: how the module imports.
fn style(path: &str, text: &str) -> &'static str {
    if path.ends_with(".ts") {
        return "ts";
    }
    match text.lines().any(|line| line.starts_with("import ")) || path.ends_with(".mjs") {
        true => "esm",
        false => "cjs",
    }
}

fn client(planner: &mut Planner<'_>, framework: &FrameworkInfo) -> Result<Task, Blocked> {
    let Some((path, style)) = app_module(planner)? else {
        return Ok(Task::Skip(
            "create a PostHog client: no module creates an Express app".to_owned(),
        ));
    };
    let text = planner.read(&path)?.unwrap_or_default();
    if text.contains("new PostHog(") {
        return Ok(Task::Satisfied(format!(
            "`{path}` creates a PostHog client from `{}` and `{}`",
            framework.key_variable, framework.host_variable
        )));
    }
    let mut edits = FileEdits::new(&path, text);
    if !text.contains("posthog-node") {
        let import = match style {
            "cjs" => "const { PostHog } = require('posthog-node');\n",
            _ => "import { PostHog } from 'posthog-node';\n",
        };
        edits.apply(text::add_js_lines_at_top(text, import));
    }
    let bang = if style == "ts" { "!" } else { "" };
    let current = edits.text.clone();
    let anchor = text::find_line(&current, |line| {
        line.contains("express()") && text::indent(line).is_empty()
    });
    let created = anchor.and_then(|line| {
        text::insert_after(
            &current,
            line,
            &format!(
                "\nconst posthog = new PostHog(process.env.{}{bang}, {{\n  host: process.env.{},\n}});\n",
                framework.key_variable, framework.host_variable
            ),
        )
    });
    match edits.apply(created) {
        true => Ok(Task::Acts(edits.acts)),
        false => Ok(Task::Skip(format!(
            "create a PostHog client in `{path}`: no anchor found"
        ))),
    }
}

fn capture(planner: &mut Planner<'_>, _: &FrameworkInfo) -> Result<Task, Blocked> {
    let Some((path, _)) = app_module(planner)? else {
        return Ok(Task::Skip(
            "capture an event: no Express app was found".to_owned(),
        ));
    };
    let text = planner.read(&path)?.unwrap_or_default();
    if text.contains("posthog.capture(") {
        return Ok(Task::Satisfied(format!(
            "`{path}` captures an event in a `POST` route"
        )));
    }
    let route = text::find_line(text, |line| {
        let trimmed = line.trim_start();
        (trimmed.starts_with("app.post(") || trimmed.starts_with("router.post("))
            && line.trim_end().ends_with('{')
    });
    let Some(route) = route else {
        return Ok(Task::Skip(format!(
            "capture an event in `{path}`: no `POST` route found"
        )));
    };
    let segment: String = route
        .split(['\'', '"', '`'])
        .nth(1)
        .unwrap_or_default()
        .rsplit('/')
        .find(|part| !part.is_empty() && !part.starts_with(':'))
        .unwrap_or("request")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let request = match route.contains("(req,") || route.contains("(req:") {
        true => "req.ip ?? 'anonymous'",
        false => "'anonymous'",
    };
    let addition = format!(
        "{{indent}}posthog.capture({{ distinctId: {request}, event: '{segment}_posted' }});\n"
    );
    let mut edits = FileEdits::new(&path, text);
    match edits.apply(text::insert_in_block(text, route, &addition)) {
        true => Ok(Task::Acts(edits.acts)),
        false => Ok(Task::Skip(format!(
            "capture an event in `{path}`: the route is not unique"
        ))),
    }
}

fn shutdown(planner: &mut Planner<'_>, _: &FrameworkInfo) -> Result<Task, Blocked> {
    let Some((path, _)) = app_module(planner)? else {
        return Ok(Task::Satisfied(String::new()));
    };
    let text = planner.read(&path)?.unwrap_or_default();
    if text.contains("posthog.shutdown()") {
        return Ok(Task::Satisfied(format!(
            "`{path}` flushes queued events (`posthog.shutdown()`) on SIGINT and SIGTERM"
        )));
    }
    let block = "// Send queued events before the process exits.\nfor (const signal of ['SIGINT', 'SIGTERM']) {\n  process.on(signal, async () => {\n    await posthog.shutdown();\n    process.exit(0);\n  });\n}\n\n";
    let listen = text::find_line(text, |line| {
        text::indent(line).is_empty() && line.contains(".listen(")
    });
    let edit = match listen {
        Some(line) => text::insert_before(text, line, block),
        None => text::append_lines(text, &["", block.trim_end()]),
    };
    let mut edits = FileEdits::new(&path, text);
    match edits.apply(edit) {
        true => Ok(Task::Acts(edits.acts)),
        false => Ok(Task::Skip(format!(
            "flush events on shutdown in `{path}`: no anchor found"
        ))),
    }
}

/// `npm start` loads `.env` when it runs `node` directly and nothing else
/// loads it (no `dotenv`, no `--env-file`).
fn load_env(planner: &mut Planner<'_>, framework: &FrameworkInfo) -> Result<Task, Blocked> {
    let Some(manifest) = planner.read("package.json")? else {
        return Ok(Task::Satisfied(String::new()));
    };
    if manifest.contains("--env-file") || manifest.contains("\"dotenv\"") {
        return Ok(Task::Satisfied(format!(
            "`{}` is loaded when the app starts",
            framework.env_file
        )));
    }
    let start = text::find_line(manifest, |line| {
        line.trim_start().starts_with("\"start\": \"node ")
    });
    let Some(start) = start else {
        return Ok(Task::Skip(format!(
            "load `{}` when the app starts: the start script does not run `node` directly",
            framework.env_file
        )));
    };
    let replaced = start.replacen(
        "\"node ",
        &format!("\"node --env-file={} ", framework.env_file),
        1,
    );
    Ok(Task::Acts(vec![Act::Edit {
        path: "package.json".to_owned(),
        old: format!("{start}\n"),
        new: format!("{replaced}\n"),
    }]))
}
