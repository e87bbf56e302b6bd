//! The scripted agent behind the Responses API: the same scripts
//! (`fixtures/agent/`) as the Messages API, rendered into the function tools
//! of the published wizard's "pi" harness.
//!
//! A script's turns become a plan of steps, one function call each: every
//! `Edit` is preceded by a `read` of the same file (the harness's prompt
//! demands a read immediately before writing an existing file), a script
//! `Write` (always a new file) is a `write`, and after the script's turns
//! the project's token and host go into the framework's env file through
//! the wizard's own `set_env_values`. Paths are absolute, under the working
//! directory the harness reports. The agent keeps no state: the step to play
//! is one past the highest step whose call already has its result in
//! `input`, so the harness's transcript is the state.

use protocol::responses::{
    FunctionCall, InputItem, ResponsesRequest, TOOL_DETECT_PACKAGE_MANAGER, TOOL_EDIT, TOOL_READ,
    TOOL_SET_ENV_VALUES, TOOL_WRITE,
};
use serde_json::{json, Value};

use crate::agent::{prompt_line, Script, ScriptTool, Scripts};

/// The prompt's line naming the harness's working directory.
const WORKING_DIRECTORY_PREFIX: &str = "Current working directory:";
/// What the harness asks for after the run, and how the answer starts.
pub const REMARK_MARKER: &str = "[WIZARD-REMARK]";
/// The one remark the scripted agent makes.
pub const REMARK_TEXT: &str =
    "[WIZARD-REMARK] Nothing was missing: the scripted agent follows a fixed plan for this framework.";
/// Every call id this agent issues starts so; the step number follows.
const CALL_ID_PREFIX: &str = "call_ph_";

/// One function call of the plan, in the harness's terms.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    DetectPackageManager,
    Read {
        path: String,
    },
    Edit {
        path: String,
        old_text: String,
        new_text: String,
    },
    Write {
        path: String,
        content: String,
    },
    SetEnvValues {
        file_path: String,
        values: Vec<(String, String)>,
    },
}

impl Call {
    pub fn name(&self) -> &'static str {
        match self {
            Call::DetectPackageManager => TOOL_DETECT_PACKAGE_MANAGER,
            Call::Read { .. } => TOOL_READ,
            Call::Edit { .. } => TOOL_EDIT,
            Call::Write { .. } => TOOL_WRITE,
            Call::SetEnvValues { .. } => TOOL_SET_ENV_VALUES,
        }
    }

    /// The arguments as the pi tools' schemas name them.
    pub fn arguments(&self) -> Value {
        match self {
            Call::DetectPackageManager => json!({}),
            Call::Read { path } => json!({ "path": path }),
            Call::Edit {
                path,
                old_text,
                new_text,
            } => json!({ "path": path, "edits": [{ "oldText": old_text, "newText": new_text }] }),
            Call::Write { path, content } => json!({ "path": path, "content": content }),
            Call::SetEnvValues { file_path, values } => {
                let values: serde_json::Map<String, Value> = values
                    .iter()
                    .map(|(key, value)| (key.clone(), Value::String(value.clone())))
                    .collect();
                json!({ "filePath": file_path, "values": values })
            }
        }
    }
}

/// One answer of the plan: a sentence and one function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub text: String,
    pub call: Call,
}

/// What the agent answers to one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Text, then a function call the harness runs (`call_id` names it).
    Call {
        step: usize,
        text: String,
        call_id: String,
        call: Call,
    },
    /// Text only: the run (or the remark) is over.
    Done { text: String },
}

/// What the harness told the agent about the project, read from its
/// prompt and headers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Project {
    /// The working directory the developer prompt names.
    pub working_directory: Option<String>,
    /// The `phc_` token and host the user prompt names.
    pub token: Option<String>,
    pub host: Option<String>,
}

/// Every text message of the conversation, with its role, in order.
fn messages(request: &ResponsesRequest) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = request
        .instructions
        .iter()
        .map(|text| ("developer".to_owned(), text.clone()))
        .collect();
    for item in request.input.items() {
        if let InputItem::Message(message) = item {
            found.push((message.role, message.content.text()));
        }
    }
    found
}

/// The script for the framework the harness names: the prompt's
/// `Framework: <name> <version>` line first (matched to a script's id or
/// name), else the `integration` of the `X-PostHog-Properties` header.
pub fn framework<'a>(
    scripts: &'a Scripts,
    request: &ResponsesRequest,
    integration: Option<&str>,
) -> Option<&'a Script> {
    let named = messages(request)
        .iter()
        .filter(|(role, _)| role == "user")
        .find_map(|(_, text)| framework_named(text));
    if let Some(script) = named.and_then(|name| script_named(scripts, &name)) {
        return Some(script);
    }
    script_named(scripts, integration?)
}

/// The value of the first `Framework:` line of `text`.
fn framework_named(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (key, value) = prompt_line(line)?;
        (key.eq_ignore_ascii_case("framework") && !value.is_empty()).then(|| value.to_owned())
    })
}

/// The script whose id or name `named` starts with, letters and digits
/// compared without case (`Next.js 15.3.3`, `nextjs` and `next-js` all name
/// `next-js`).
fn script_named<'a>(scripts: &'a Scripts, named: &str) -> Option<&'a Script> {
    let named = folded(named);
    scripts
        .frameworks()
        .into_iter()
        .filter_map(|id| scripts.get(id))
        .find(|script| {
            [folded(&script.framework), folded(&script.name)]
                .iter()
                .any(|known| !known.is_empty() && named.starts_with(known.as_str()))
        })
}

fn folded(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The working directory, token and host the prompts name.
pub fn project(request: &ResponsesRequest) -> Project {
    let mut project = Project::default();
    for (_, text) in messages(request) {
        for line in text.lines() {
            let line = line.trim();
            if let Some(path) = line.strip_prefix(WORKING_DIRECTORY_PREFIX) {
                project.working_directory = Some(path.trim().to_owned());
            }
            match prompt_line(line) {
                Some(("PostHog public token", token)) => {
                    project.token.get_or_insert_with(|| token.to_owned());
                }
                Some(("PostHog Host", host)) => {
                    project.host.get_or_insert_with(|| host.to_owned());
                }
                _ => {}
            }
        }
    }
    project
}

/// The plan for `script` in `project`.
pub fn plan(script: &Script, project: &Project) -> Vec<Step> {
    let path = |relative: &str| match &project.working_directory {
        Some(root) => format!("{}/{relative}", root.trim_end_matches('/')),
        None => relative.to_owned(),
    };
    let mut steps = vec![Step {
        text: "I'll find out which package manager this project uses.".to_owned(),
        call: Call::DetectPackageManager,
    }];
    for turn in &script.turns {
        let mut text = Some(turn.text.clone());
        for tool in &turn.tools {
            match tool {
                ScriptTool::Edit(input) => {
                    steps.push(Step {
                        text: text
                            .take()
                            .unwrap_or_else(|| format!("Reading `{}` first.", input.file_path)),
                        call: Call::Read {
                            path: path(&input.file_path),
                        },
                    });
                    steps.push(Step {
                        text: format!("Editing `{}`.", input.file_path),
                        call: Call::Edit {
                            path: path(&input.file_path),
                            old_text: input.old_string.clone(),
                            new_text: input.new_string.clone(),
                        },
                    });
                }
                ScriptTool::Write(input) => steps.push(Step {
                    text: text
                        .take()
                        .unwrap_or_else(|| format!("Creating `{}`.", input.file_path)),
                    call: Call::Write {
                        path: path(&input.file_path),
                        content: input.content.clone(),
                    },
                }),
            }
        }
    }
    if let (Some(env), Some(token), Some(host)) = (&script.env, &project.token, &project.host) {
        steps.push(Step {
            text: format!(
                "Now I'll put the project's token and host into `{}`.",
                env.file
            ),
            call: Call::SetEnvValues {
                file_path: env.file.clone(),
                values: vec![
                    (env.key.clone(), token.clone()),
                    (env.host.clone(), host.clone()),
                ],
            },
        });
    }
    steps
}

/// The call id of a step's call.
pub fn call_id(step: usize) -> String {
    format!("{CALL_ID_PREFIX}{step}")
}

/// The step a call id of this agent names.
fn step_of(call_id: &str) -> Option<usize> {
    call_id.strip_prefix(CALL_ID_PREFIX)?.parse().ok()
}

/// The step to play: one past the highest step of this agent whose call
/// has its result in `input`. A call without a result (the harness lost
/// it) is played again.
pub fn next_step(request: &ResponsesRequest) -> usize {
    let items = request.input.items();
    let answered: Vec<&str> = items
        .iter()
        .filter_map(|item| match item {
            InputItem::FunctionCallOutput(output) => Some(output.call_id.as_str()),
            _ => None,
        })
        .collect();
    items
        .iter()
        .filter_map(|item| match item {
            InputItem::FunctionCall(FunctionCall { call_id, .. })
                if answered.contains(&call_id.as_str()) =>
            {
                step_of(call_id)
            }
            _ => None,
        })
        .max()
        .map_or(0, |step| step + 1)
}

/// Whether the conversation's last item is the harness's request for a
/// one-line remark.
fn asks_for_remark(request: &ResponsesRequest) -> bool {
    match request.input.items().last() {
        Some(InputItem::Message(message)) => {
            message.role == "user" && message.content.text().contains(REMARK_MARKER)
        }
        _ => false,
    }
}

/// What the agent answers to `request` (`integration` is the
/// `X-PostHog-Properties` header's, if any).
pub fn reply(scripts: &Scripts, request: &ResponsesRequest, integration: Option<&str>) -> Reply {
    if asks_for_remark(request) {
        return Reply::Done {
            text: REMARK_TEXT.to_owned(),
        };
    }
    let Some(script) = framework(scripts, request, integration) else {
        return Reply::Done {
            text: format!(
                "I could not tell which framework this project uses, so I have no plan for it. \
                 Frameworks I know: {}.",
                scripts.frameworks().join(", ")
            ),
        };
    };
    let steps = plan(script, &project(request));
    let step = next_step(request);
    match steps.into_iter().nth(step) {
        Some(Step { text, call }) => Reply::Call {
            step,
            text,
            call_id: call_id(step),
            call,
        },
        None => Reply::Done {
            text: script.final_text.clone(),
        },
    }
}

/// The `integration` of an `X-PostHog-Properties` header value.
pub fn integration_of(properties: &str) -> Option<String> {
    let value: Value = serde_json::from_str(properties).ok()?;
    value["integration"].as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::responses::{
        FunctionCallOutput, FunctionCallOutputType, FunctionCallType, InputMessage, MessageContent,
        ResponsesInput,
    };

    fn request(items: Vec<InputItem>) -> ResponsesRequest {
        ResponsesRequest {
            model: "openai/gpt-test".to_owned(),
            input: ResponsesInput::Items(items),
            stream: true,
            instructions: None,
            max_output_tokens: None,
            previous_response_id: None,
            prompt_cache_key: None,
            store: Some(false),
            tools: Vec::new(),
            reasoning: None,
            include: Vec::new(),
        }
    }

    fn message(role: &str, text: &str) -> InputItem {
        InputItem::Message(InputMessage {
            kind: None,
            role: role.to_owned(),
            content: MessageContent::Text(text.to_owned()),
            id: None,
            status: None,
        })
    }

    fn call(call_id: &str) -> InputItem {
        InputItem::FunctionCall(FunctionCall {
            kind: FunctionCallType::FunctionCall,
            id: None,
            call_id: call_id.to_owned(),
            name: "read".to_owned(),
            arguments: "{}".to_owned(),
            status: None,
        })
    }

    fn output(call_id: &str) -> InputItem {
        InputItem::FunctionCallOutput(FunctionCallOutput {
            kind: FunctionCallOutputType::FunctionCallOutput,
            call_id: call_id.to_owned(),
            output: MessageContent::Text("ok".to_owned()),
        })
    }

    #[test]
    fn framework_table() {
        let scripts = Scripts::embedded().unwrap();
        // (user prompt, integration header, expected script)
        let cases: &[(&str, Option<&str>, Option<&str>)] = &[
            ("- Framework: Next.js 15.3.3", None, Some("next-js")),
            (
                "Project context:\n- Framework: Django 5.1\n",
                None,
                Some("django"),
            ),
            ("- Framework: React (Vite) 18", None, Some("react-vite")),
            ("framework: flask", None, Some("flask")),
            ("- Framework: Express 4", Some("nextjs"), Some("express")),
            ("no framework line", Some("nextjs"), Some("next-js")),
            ("- Framework: Cobol 85", Some("django"), Some("django")),
            ("- Framework: Cobol 85", None, None),
            ("no framework line", None, None),
        ];
        for (prompt, integration, expected) in cases {
            let found = framework(
                &scripts,
                &request(vec![message("user", prompt)]),
                *integration,
            );
            assert_eq!(
                found.map(|script| script.framework.as_str()),
                *expected,
                "{prompt:?} with {integration:?}: the wrong plan would be played"
            );
        }
    }

    #[test]
    fn the_project_is_read_from_the_prompts() {
        let found = project(&request(vec![
            message("developer", "Rules.\nCurrent working directory: /tmp/app\n"),
            message(
                "user",
                "- PostHog public token: phc_abc\n- PostHog Host: http://localhost:8010",
            ),
        ]));
        assert_eq!(
            found,
            Project {
                working_directory: Some("/tmp/app".to_owned()),
                token: Some("phc_abc".to_owned()),
                host: Some("http://localhost:8010".to_owned()),
            }
        );
    }

    #[test]
    fn every_edit_is_read_first_and_paths_are_under_the_working_directory() {
        let scripts = Scripts::embedded().unwrap();
        let project = Project {
            working_directory: Some("/tmp/app/".to_owned()),
            token: Some("phc_abc".to_owned()),
            host: Some("http://h".to_owned()),
        };
        for id in scripts.frameworks() {
            let steps = plan(scripts.get(id).unwrap(), &project);
            assert_eq!(steps[0].call, Call::DetectPackageManager, "{id}");
            for (index, step) in steps.iter().enumerate() {
                match &step.call {
                    Call::Edit { path, .. } => assert_eq!(
                        steps[index - 1].call,
                        Call::Read { path: path.clone() },
                        "{id}: the harness refuses an edit of a file not read just before"
                    ),
                    Call::Read { path } | Call::Write { path, .. } => {
                        assert!(
                            path.starts_with("/tmp/app/") && !path.contains("//"),
                            "{path}"
                        )
                    }
                    _ => {}
                }
            }
            let env = scripts.get(id).unwrap().env.as_ref().unwrap();
            assert_eq!(
                steps.last().unwrap().call,
                Call::SetEnvValues {
                    file_path: env.file.clone(),
                    values: vec![
                        (env.key.clone(), "phc_abc".to_owned()),
                        (env.host.clone(), "http://h".to_owned())
                    ],
                },
                "{id}: the env file would miss the token"
            );
        }
    }

    #[test]
    fn turn_selection_reads_the_answered_calls() {
        let prompt = message("user", "- Framework: Next.js 15.3.3");
        // (items after the prompt, expected next step)
        let cases: Vec<(Vec<InputItem>, usize)> = vec![
            (vec![], 0),
            (vec![call("call_ph_0"), output("call_ph_0")], 1),
            (
                vec![
                    call("call_ph_0"),
                    output("call_ph_0"),
                    call("call_ph_1"),
                    output("call_ph_1"),
                ],
                2,
            ),
            // A call whose result never came is played again.
            (
                vec![call("call_ph_0"), output("call_ph_0"), call("call_ph_1")],
                1,
            ),
            // Calls of someone else do not count.
            (vec![call("call_other_7"), output("call_other_7")], 0),
        ];
        for (items, expected) in cases {
            let mut all = vec![prompt.clone()];
            all.extend(items.clone());
            assert_eq!(next_step(&request(all)), expected, "{items:?}");
        }
    }

    #[test]
    fn the_plan_ends_with_the_final_text_then_the_remark() {
        let scripts = Scripts::embedded().unwrap();
        let script = scripts.get("next-js").unwrap();
        let mut items = vec![message("user", "- Framework: Next.js 15.3.3")];
        let steps = plan(script, &Project::default()).len();
        for step in 0..steps {
            match reply(&scripts, &request(items.clone()), None) {
                Reply::Call {
                    step: played,
                    call_id: id,
                    ..
                } => {
                    assert_eq!(played, step);
                    items.push(call(&id));
                    items.push(output(&id));
                }
                other => panic!("step {step}: expected a call, got {other:?}"),
            }
        }
        assert_eq!(
            reply(&scripts, &request(items.clone()), None),
            Reply::Done {
                text: script.final_text.clone()
            }
        );
        items.push(message("assistant", &script.final_text));
        items.push(message(
            "user",
            "Reply with a single line that starts with [WIZARD-REMARK] and no other lines.",
        ));
        assert_eq!(
            reply(&scripts, &request(items), None),
            Reply::Done {
                text: REMARK_TEXT.to_owned()
            }
        );
    }

    #[test]
    fn integration_is_read_from_the_properties_header() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                r#"{"ai_product":"wizard","integration":"nextjs","HARNESS":"pi"}"#,
                Some("nextjs"),
            ),
            (r#"{"ai_product":"wizard"}"#, None),
            ("not json", None),
        ];
        for (header, expected) in cases {
            assert_eq!(integration_of(header).as_deref(), *expected, "{header}");
        }
    }
}
