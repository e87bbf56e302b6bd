//! A step as Claude Code's tool calls: absolute paths under the working
//! directory the harness reported, `Glob` for a listing, `Read` for a file
//! (the recipe edits only files the conversation has read or written, so
//! every `Edit` follows a `Read`), `Edit` and `Write`, and the wizard's MCP
//! tools for env values and the package manager. Only tools the harness
//! offers are rendered; the recipe is told what it may use.

use protocol::gateway::{ContentBlock, TOOL_EDIT, TOOL_READ, TOOL_SET_ENV_VALUES, TOOL_WRITE};
use serde_json::{json, Map, Value};

use super::conversation::{Conversation, TOOL_DETECT_PACKAGE_MANAGER, TOOL_GLOB};
use super::recipe::{Act, Need, Step};

/// What the agent says next on the Messages API, before the envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Deterministic message id.
    pub id: String,
    pub content: Vec<ContentBlock>,
    /// `tool_use` or `end_turn`.
    pub stop_reason: &'static str,
}

/// The answer for `step`; ids are numbered by the assistant turns so far.
pub fn render(step: Step, conversation: &Conversation, turn: usize) -> Reply {
    let path = |relative: &str| match &conversation.working_directory {
        Some(root) => format!("{}/{relative}", root.trim_end_matches('/')),
        None => relative.to_owned(),
    };
    let (text, calls): (String, Vec<(&str, Value)>) =
        match step {
            Step::Done(summary) => {
                return Reply {
                    id: format!("msg_agent_{turn}_done"),
                    content: vec![ContentBlock::Text { text: summary }],
                    stop_reason: "end_turn",
                }
            }
            Step::Need(needs) => {
                let calls = needs
                    .iter()
                    .map(|need| match need {
                        Need::Read(file) => (TOOL_READ, json!({ "file_path": path(file) })),
                        Need::List(pattern) => (TOOL_GLOB, json!({ "pattern": pattern })),
                    })
                    .collect();
                (need_text(&needs), calls)
            }
            Step::Act(acts) => {
                let calls = acts
                .iter()
                .map(|act| match act {
                    Act::Edit { path: file, old, new } => (
                        TOOL_EDIT,
                        json!({ "file_path": path(file), "old_string": old, "new_string": new }),
                    ),
                    Act::Write { path: file, content } => {
                        (TOOL_WRITE, json!({ "file_path": path(file), "content": content }))
                    }
                    Act::SetEnv { file, values } => (
                        TOOL_SET_ENV_VALUES,
                        json!({ "filePath": file, "values": env_values(values) }),
                    ),
                    Act::DetectPackageManager => (TOOL_DETECT_PACKAGE_MANAGER, json!({})),
                })
                .collect();
                (act_text(&acts), calls)
            }
        };
    let mut content = vec![ContentBlock::Text { text }];
    for (index, (name, input)) in calls.into_iter().enumerate() {
        content.push(ContentBlock::ToolUse {
            id: format!("toolu_{turn}_{}", index + 1),
            name: name.to_owned(),
            input,
        });
    }
    Reply {
        id: format!("msg_agent_{turn}"),
        content,
        stop_reason: "tool_use",
    }
}

pub fn env_values(values: &[(String, String)]) -> Value {
    Value::Object(
        values
            .iter()
            .map(|(key, value)| (key.clone(), Value::String(value.clone())))
            .collect::<Map<String, Value>>(),
    )
}

/// One sentence saying what the agent looks at next.
pub fn need_text(needs: &[Need]) -> String {
    let files: Vec<String> = needs
        .iter()
        .filter_map(|need| match need {
            Need::Read(path) => Some(format!("`{path}`")),
            Need::List(_) => None,
        })
        .collect();
    match (
        files.is_empty(),
        needs.iter().any(|need| matches!(need, Need::List(_))),
    ) {
        (_, true) => "First I'll look at the project's files.".to_owned(),
        (false, false) => format!("I'll read {} before deciding.", files.join(", ")),
        (true, false) => "I'll look around the project.".to_owned(),
    }
}

/// One sentence saying what the agent changes.
pub fn act_text(acts: &[Act]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for act in acts {
        let part = match act {
            Act::Edit { path, .. } => format!("edit `{path}`"),
            Act::Write { path, .. } => format!("create `{path}`"),
            Act::SetEnv { file, .. } => format!("put the project's token and host into `{file}`"),
            Act::DetectPackageManager => {
                "find out which package manager the project uses".to_owned()
            }
        };
        if !parts.contains(&part) {
            parts.push(part);
        }
    }
    format!("Now I'll {}.", parts.join(", then "))
}
