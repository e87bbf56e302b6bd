//! A step as the pi harness's function calls (the Responses API): one call
//! per answer, the first of the step (the next request brings its result,
//! and the recipe, rebuilt from the transcript, goes on from there): `find`
//! for a listing, `read {path}`, `edit {path, edits: [{oldText, newText}]}`,
//! `write {path, content}`, and the wizard's `set_env_values` and
//! `detect_package_manager`. Paths are absolute under the working
//! directory the developer prompt names.

use protocol::responses::{
    TOOL_DETECT_PACKAGE_MANAGER, TOOL_EDIT, TOOL_READ, TOOL_SET_ENV_VALUES, TOOL_WRITE,
};
use serde_json::{json, Value};

use super::conversation::{Conversation, TOOL_FIND};
use super::recipe::{Act, Need, Step};
use super::render_claude::{act_text, env_values, need_text};

/// Every call id this agent issues starts so; the call's number follows.
const CALL_ID_PREFIX: &str = "call_ph_";

/// One function call, in the harness's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub arguments: Value,
}

impl Call {
    pub fn new(name: &str, arguments: Value) -> Call {
        Call {
            name: name.to_owned(),
            arguments,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn arguments(&self) -> Value {
        self.arguments.clone()
    }
}

/// What the agent answers to one Responses request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Text, then a function call the harness runs (`call_id` names it;
    /// `step` counts the calls of the conversation).
    Call {
        step: usize,
        text: String,
        call_id: String,
        call: Call,
    },
    /// Text only: the run (or the remark) is over.
    Done { text: String },
}

/// The answer for `step`.
pub fn render(step: Step, conversation: &Conversation) -> Reply {
    let path = |relative: &str| match &conversation.working_directory {
        Some(root) => format!("{}/{relative}", root.trim_end_matches('/')),
        None => relative.to_owned(),
    };
    let number = conversation.history.len();
    let (text, call) = match step {
        Step::Done(text) => return Reply::Done { text },
        Step::Need(needs) => {
            let Some(first) = needs.first() else {
                return Reply::Done {
                    text: "There was nothing left to look at.".to_owned(),
                };
            };
            let call = match first {
                Need::Read(file) => Call::new(TOOL_READ, json!({ "path": path(file) })),
                Need::List(pattern) => Call::new(TOOL_FIND, json!({ "pattern": pattern })),
            };
            (need_text(&needs[..1]), call)
        }
        Step::Act(acts) => {
            let Some(first) = acts.first() else {
                return Reply::Done {
                    text: "There was nothing left to do.".to_owned(),
                };
            };
            let call = match first {
                Act::Edit {
                    path: file,
                    old,
                    new,
                } => Call::new(
                    TOOL_EDIT,
                    json!({ "path": path(file), "edits": [{ "oldText": old, "newText": new }] }),
                ),
                Act::Write {
                    path: file,
                    content,
                } => Call::new(
                    TOOL_WRITE,
                    json!({ "path": path(file), "content": content }),
                ),
                Act::SetEnv { file, values } => Call::new(
                    TOOL_SET_ENV_VALUES,
                    json!({ "filePath": file, "values": env_values(values) }),
                ),
                Act::DetectPackageManager => Call::new(TOOL_DETECT_PACKAGE_MANAGER, json!({})),
            };
            (act_text(&acts[..1]), call)
        }
    };
    Reply::Call {
        step: number,
        text,
        call_id: format!("{CALL_ID_PREFIX}{number}"),
        call,
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
