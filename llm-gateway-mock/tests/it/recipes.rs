//! Every app in `fixtures/apps/` integrated through the real router over
//! loopback, by a harness simulated here on each wire: Claude Code (the
//! Messages API: `Read` answered with line numbers, `Glob` with absolute
//! paths, an `Edit` or a `Write` of an existing file refused unless it was
//! read) and the pi harness (the Responses API: `read`, `find`, `edit`,
//! `write`; and once more with `find` failing as it does offline, so the
//! recipe reads candidate files instead). The project is a copy in memory; after the run it must hold
//! what the app's `<app>.integrated.toml` lists. `RECIPES_DUMP=<app>`
//! prints the files a run changed and its summary.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use protocol::frameworks;
use serde_json::{json, Value};

use crate::support::{Gateway, PAT, WIZARD_TOKEN};

const TOKEN: &str = "phc_recipe_test_public_token";
const HOST: &str = "http://localhost:8010";

fn apps_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/apps")
}

/// Every app with a checklist.
fn apps() -> Vec<String> {
    let mut apps: Vec<String> = std::fs::read_dir(apps_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    apps.sort();
    apps
}

/// The app's files, relative path → text.
fn load(dir: &Path, prefix: &str, files: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = format!("{prefix}{}", path.file_name().unwrap().to_string_lossy());
        if path.is_dir() {
            load(&path, &format!("{name}/"), files);
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            files.insert(name, text);
        }
    }
}

/// A project in memory, as a harness sees it.
struct Project {
    root: String,
    files: BTreeMap<String, String>,
    read: BTreeSet<String>,
    /// `find` fails as the published pi harness's does offline (it
    /// downloads `fd` on first use).
    find_fails: bool,
}

impl Project {
    fn new(app: &str) -> Project {
        let mut files = BTreeMap::new();
        load(&apps_dir().join(app), "", &mut files);
        Project {
            root: format!("/sim/{app}"),
            files,
            read: BTreeSet::new(),
            find_fails: false,
        }
    }

    /// A tool's path relative to the root; `None` outside the project.
    fn relative(&self, path: &str) -> Option<String> {
        let rest = path.strip_prefix(&format!("{}/", self.root))?;
        (!rest.split('/').any(|part| part == "..")).then(|| rest.to_owned())
    }

    fn replace(&mut self, path: &str, old: &str, new: &str) -> Result<(), String> {
        let text = self.files.get_mut(path).ok_or("File does not exist.")?;
        match text.matches(old).count() {
            1 => {
                *text = text.replacen(old, new, 1);
                Ok(())
            }
            0 => Err(format!(
                "String to replace not found in file.\nString: {old}"
            )),
            _ => Err("Found multiple matches of the string to replace.".to_owned()),
        }
    }

    fn set_env(&mut self, input: &Value) -> String {
        let file = input["filePath"].as_str().unwrap().to_owned();
        let text = self.files.entry(file.clone()).or_default();
        for (key, value) in input["values"].as_object().unwrap() {
            text.push_str(&format!("{key}={}\n", value.as_str().unwrap()));
        }
        format!("Wrote keys to {file}.")
    }

    /// Claude Code's answer to one tool call: (text, is_error).
    fn claude(&mut self, name: &str, input: &Value) -> (String, bool) {
        let path = input["file_path"]
            .as_str()
            .and_then(|path| self.relative(path));
        match (name, path) {
            ("Read", Some(path)) => match self.files.get(&path) {
                Some(text) => {
                    self.read.insert(path);
                    let numbered: Vec<String> = text
                        .split('\n')
                        .enumerate()
                        .map(|(index, line)| format!("{}\t{line}", index + 1))
                        .collect();
                    (numbered.join("\n"), false)
                }
                None => ("File does not exist.".to_owned(), true),
            },
            ("Glob", _) => {
                assert_eq!(input["pattern"], "**/*");
                let all: Vec<String> = self
                    .files
                    .keys()
                    .map(|path| format!("{}/{path}", self.root))
                    .collect();
                (all.join("\n"), false)
            }
            ("Edit", Some(path)) if !self.read.contains(&path) => (
                "File has not been read yet. Read it first before writing to it.".to_owned(),
                true,
            ),
            ("Edit", Some(path)) => {
                let old = input["old_string"].as_str().unwrap();
                let new = input["new_string"].as_str().unwrap();
                match self.replace(&path, old, new) {
                    Ok(()) => ("The file has been updated successfully.".to_owned(), false),
                    Err(error) => (error, true),
                }
            }
            ("Write", Some(path))
                if self.files.contains_key(&path) && !self.read.contains(&path) =>
            {
                (
                    "File has not been read yet. Read it first before writing to it.".to_owned(),
                    true,
                )
            }
            ("Write", Some(path)) => {
                self.files
                    .insert(path.clone(), input["content"].as_str().unwrap().to_owned());
                self.read.insert(path);
                ("File created successfully.".to_owned(), false)
            }
            ("mcp__wizard-tools__set_env_values", _) => (self.set_env(input), false),
            ("mcp__wizard-tools__detect_package_manager", _) => {
                ("{\"detected\": []}".to_owned(), false)
            }
            (other, path) => panic!("Claude Code would refuse {other} {path:?}: {input}"),
        }
    }

    /// The pi harness's answer to one function call.
    fn pi(&mut self, name: &str, input: &Value) -> String {
        let path = input["path"].as_str().and_then(|path| self.relative(path));
        match (name, path) {
            ("read", Some(path)) => match self.files.get(&path) {
                Some(text) => text.clone(),
                None => format!(
                    "ENOENT: no such file or directory, access '{}/{path}'",
                    self.root
                ),
            },
            ("find", _) if self.find_fails => {
                "fd is not available and could not be downloaded".to_owned()
            }
            ("find", _) => self.files.keys().cloned().collect::<Vec<_>>().join("\n"),
            ("edit", Some(path)) => {
                let edit = &input["edits"][0];
                let result = self.replace(
                    &path,
                    edit["oldText"].as_str().unwrap(),
                    edit["newText"].as_str().unwrap(),
                );
                match result {
                    Ok(()) => format!("Successfully replaced 1 block(s) in {path}."),
                    Err(_) => format!("Could not find the exact text in {path}. The old text must match exactly including all whitespace and newlines."),
                }
            }
            ("write", Some(path)) => {
                self.files
                    .insert(path.clone(), input["content"].as_str().unwrap().to_owned());
                format!("Successfully wrote to {path}")
            }
            ("set_env_values", _) => self.set_env(input),
            ("detect_package_manager", _) => "{\"detected\": []}".to_owned(),
            (other, path) => panic!("the pi harness would refuse {other} {path:?}: {input}"),
        }
    }
}

fn prompt(app: &str) -> String {
    let framework = frameworks::resolve(app).unwrap_or_else(|| panic!("{app}: no framework"));
    format!(
        "Project context:\n- Framework: {}\n- PostHog public token: {TOKEN}\n- PostHog Host: {HOST}\n",
        framework.name
    )
}

fn claude_tools() -> Value {
    let names = [
        "Read",
        "Glob",
        "Edit",
        "Write",
        "Bash",
        "mcp__wizard-tools__set_env_values",
        "mcp__wizard-tools__detect_package_manager",
    ];
    Value::Array(
        names
            .iter()
            .map(|name| json!({"name": name, "input_schema": {"type": "object"}}))
            .collect(),
    )
}

async fn run_claude_code(gateway: &Gateway, app: &str) -> (Project, String) {
    let mut project = Project::new(app);
    let mut messages =
        vec![json!({"role": "user", "content": [{"type": "text", "text": prompt(app)}]})];
    for _ in 0..40 {
        let body = json!({
            "model": "claude-sonnet-4-6", "max_tokens": 32000,
            "system": [{"type": "text", "text": format!("You are Claude Code.\n - Primary working directory: {}\n", project.root)}],
            "messages": messages, "tools": claude_tools(),
        });
        let answer = gateway
            .post_bearer_for_json("/wizard/v1/messages?beta=true", WIZARD_TOKEN, &body)
            .await;
        let content = answer["content"].as_array().unwrap().clone();
        messages.push(json!({"role": "assistant", "content": content}));
        if answer["stop_reason"] == "end_turn" {
            return (project, content[0]["text"].as_str().unwrap().to_owned());
        }
        let results: Vec<Value> = content
            .iter()
            .filter(|block| block["type"] == "tool_use")
            .map(|block| {
                let (text, is_error) = project.claude(block["name"].as_str().unwrap(), &block["input"]);
                json!({"type": "tool_result", "tool_use_id": block["id"], "content": text, "is_error": is_error})
            })
            .collect();
        messages.push(json!({"role": "user", "content": results}));
    }
    panic!("{app}: Claude Code's run never ended");
}

async fn run_pi(gateway: &Gateway, app: &str, find_fails: bool) -> (Project, String) {
    let mut project = Project::new(app);
    project.find_fails = find_fails;
    let mut input = vec![
        json!({"role": "developer", "content": format!("You are pi.\nCurrent working directory: {}", project.root)}),
        json!({"role": "user", "content": [{"type": "input_text", "text": prompt(app)}]}),
    ];
    let tools: Vec<Value> = [
        "read",
        "edit",
        "write",
        "bash",
        "ls",
        "find",
        "grep",
        "set_env_values",
        "detect_package_manager",
    ]
    .iter()
    .map(|name| json!({"type": "function", "name": name, "parameters": {"type": "object"}}))
    .collect();
    for _ in 0..80 {
        let body = json!({"model": "openai/gpt-test", "stream": false, "store": false, "input": input, "tools": tools});
        let answer = gateway
            .post_bearer_for_json("/v1/responses", PAT, &body)
            .await;
        let output = answer["output"].as_array().unwrap().clone();
        let call = output
            .iter()
            .find(|item| item["type"] == "function_call")
            .cloned();
        for item in &output {
            input.push(item.clone());
        }
        let Some(call) = call else {
            let text = output[0]["content"][0]["text"].as_str().unwrap().to_owned();
            return (project, text);
        };
        let arguments: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
        let result = project.pi(call["name"].as_str().unwrap(), &arguments);
        input.push(
            json!({"type": "function_call_output", "call_id": call["call_id"], "output": result}),
        );
    }
    let tail: Vec<String> = input
        .iter()
        .rev()
        .take(6)
        .map(|item| item.to_string())
        .collect();
    panic!(
        "{app}: the pi harness's run never ended; last items:\n{}",
        tail.join("\n")
    );
}

/// The app's checklist against the project after the run.
fn check(app: &str, wire: &str, project: &Project, summary: &str) {
    let path = apps_dir().join(format!("{app}.integrated.toml"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{app}: no checklist {}", path.display()));
    let checklist: toml::Table = toml::from_str(&text).unwrap();
    let original = Project::new(app).files;
    let context = format!("{app} over {wire}\nsummary:\n{summary}");
    for created in checklist["files_created"].as_array().into_iter().flatten() {
        let created = created.as_str().unwrap();
        assert!(
            !original.contains_key(created),
            "{context}: {created} existed before"
        );
        assert!(
            project.files.contains_key(created),
            "{context}: {created} was not created"
        );
    }
    for changed in checklist
        .get("files_changed")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
    {
        let changed = changed.as_str().unwrap();
        assert_ne!(
            original.get(changed),
            project.files.get(changed),
            "{context}: {changed} unchanged"
        );
    }
    let contains = checklist
        .get("file_contains")
        .and_then(|v| v.as_table())
        .cloned()
        .unwrap_or_default();
    for (file, needles) in contains {
        let text = project
            .files
            .get(&file)
            .unwrap_or_else(|| panic!("{context}: no {file}"));
        for needle in needles.as_array().unwrap() {
            let needle = needle.as_str().unwrap();
            assert!(
                text.contains(needle),
                "{context}: {file} lacks {needle:?}:\n{text}"
            );
        }
    }
    if std::env::var("RECIPES_DUMP").is_ok_and(|dump| app.contains(&dump)) {
        for (file, text) in &project.files {
            if original.get(file) != Some(text) {
                eprintln!("=== {app} {wire}: {file}\n{text}");
            }
        }
        eprintln!("=== summary\n{summary}");
    }
    assert!(
        !summary.contains("Not done:"),
        "{context}: the recipe skipped a task"
    );
    if let Some(manifest) = project.files.get("package.json") {
        serde_json::from_str::<Value>(manifest)
            .unwrap_or_else(|error| panic!("{context}: package.json is no longer JSON: {error}"));
    }
}

/// If this fails, a recipe does not integrate one of the sample apps
/// through one of the harnesses: the published wizard (or ours) would
/// leave the app without the SDK, its initialisation or its env values.
#[tokio::test]
async fn every_app_is_integrated_over_both_wires() {
    let gateway = Gateway::start().await;
    let apps = apps();
    assert!(apps.len() >= 15, "three apps per framework: {apps:?}");
    for app in &apps {
        let (project, summary) = run_claude_code(&gateway, app).await;
        check(app, "Claude Code's Messages API", &project, &summary);
        let (project, summary) = run_pi(&gateway, app, false).await;
        check(app, "the pi harness's Responses API", &project, &summary);
        let (project, summary) = run_pi(&gateway, app, true).await;
        check(app, "the pi harness without `find`", &project, &summary);
    }
    let journal = gateway.journal_text().await;
    assert!(
        journal.contains("\"reason\":\"main\""),
        "the journal names each call"
    );
}
