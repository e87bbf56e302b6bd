//! What the agent harness on the other end offers and reports, read from a
//! request: the tools it offers, the working directory its system prompt
//! names (Claude Code: `Primary working directory: /abs/path`), the facts
//! of the wizard's prompt (`- PostHog Host: …`), and which files the
//! conversation already holds a fresh read of. The scripted plays render
//! its tool calls from this, the way a model adapts to the tools it is
//! given: absolute paths when the harness names its directory, a `Read`
//! before an `Edit` when the harness offers `Read` (Claude Code refuses an
//! edit of a file it has not read).

use std::collections::{BTreeMap, BTreeSet};

use protocol::gateway::{
    ContentBlock, Message, MessageContent, MessagesRequest, TOOL_EDIT, TOOL_READ, TOOL_WRITE,
};
use serde_json::Value;

/// How Claude Code's system prompt names its directory.
const WORKING_DIRECTORY: &str = "Primary working directory:";

/// The harness's side of one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Harness {
    /// An absolute directory without `..` segments, if the harness named one.
    pub working_directory: Option<String>,
    offered: BTreeSet<String>,
}

impl Harness {
    pub fn of(request: &MessagesRequest) -> Harness {
        let system = request
            .system
            .as_ref()
            .map(MessageContent::text)
            .into_iter()
            .chain(
                request
                    .messages
                    .iter()
                    .filter(|message| message.role == "system")
                    .map(|message| message.content.text()),
            )
            .collect::<Vec<_>>()
            .join("\n");
        Harness {
            working_directory: working_directory(&system),
            offered: request.tools.iter().map(|tool| tool.name.clone()).collect(),
        }
    }

    pub fn offers(&self, tool: &str) -> bool {
        self.offered.contains(tool)
    }

    /// The `file_path` to send for a path relative to the project: under
    /// the working directory when the harness named one, else unchanged.
    /// An absolute path (only a hostile script holds one) is kept.
    pub fn path(&self, relative: &str) -> String {
        match &self.working_directory {
            Some(directory) if !relative.starts_with('/') => {
                format!("{}/{relative}", directory.trim_end_matches('/'))
            }
            _ => relative.to_owned(),
        }
    }
}

/// The directory named by a `Primary working directory: /abs` line.
pub fn working_directory(system: &str) -> Option<String> {
    system.lines().find_map(|line| {
        let (_, rest) = line.split_once(WORKING_DIRECTORY)?;
        let directory = rest.trim();
        let plain = directory.starts_with('/')
            && !directory.split('/').any(|part| part == "..")
            && !directory.chars().any(char::is_control);
        plain.then(|| directory.to_owned())
    })
}

/// The key and value of a prompt line such as `- Framework: Next.js
/// 15.3.3` (bullet, spaces and the first colon taken off), the shape every
/// fact of the wizard's prompts has.
pub fn prompt_line(line: &str) -> Option<(&str, &str)> {
    let line = line.trim().trim_start_matches(['-', '*']).trim_start();
    let (key, value) = line.split_once(':')?;
    Some((key.trim(), value.trim()))
}

/// The value of a `- Key: value` line of the conversation's first user
/// message (the wizard's prompt), key compared without case.
pub fn prompt_fact(messages: &[Message], key: &str) -> Option<String> {
    let first_user = messages.iter().find(|message| message.role == "user")?;
    first_user.content.text().lines().find_map(|line| {
        let (name, value) = prompt_line(line)?;
        (name.eq_ignore_ascii_case(key) && !value.is_empty()).then(|| value.to_owned())
    })
}

/// The files the conversation holds a fresh view of: a successful `Read`,
/// `Write` or `Edit` of the path is its latest call on it (a refused edit or
/// write means the harness's view went stale). Paths as the tool calls sent
/// them.
pub fn fresh_files(messages: &[Message]) -> BTreeSet<String> {
    let outcomes = tool_outcomes(messages);
    let mut fresh = BTreeSet::new();
    for (id, name, input) in tool_calls(messages) {
        let Some(path) = input.get("file_path").and_then(Value::as_str) else {
            continue;
        };
        let succeeded = outcomes.get(id) == Some(&true);
        match (name, succeeded) {
            (TOOL_READ | TOOL_WRITE | TOOL_EDIT, true) => {
                fresh.insert(path.to_owned());
            }
            (TOOL_WRITE | TOOL_EDIT, false) => {
                fresh.remove(path);
            }
            _ => {}
        }
    }
    fresh
}

/// Whether the conversation holds a successful call of `tool`.
pub fn called_successfully(messages: &[Message], tool: &str) -> bool {
    let outcomes = tool_outcomes(messages);
    tool_calls(messages).any(|(id, name, _)| name == tool && outcomes.get(id) == Some(&true))
}

/// Every `tool_use` of the assistant turns: (id, name, input).
pub fn tool_calls(messages: &[Message]) -> impl Iterator<Item = (&str, &str, &Value)> {
    messages
        .iter()
        .filter(|message| message.role == "assistant")
        .flat_map(|message| blocks(&message.content))
        .filter_map(|block| match block {
            ContentBlock::ToolUse { id, name, input } => Some((id.as_str(), name.as_str(), input)),
            _ => None,
        })
}

/// Each answered tool call's id and whether it succeeded.
fn tool_outcomes(messages: &[Message]) -> BTreeMap<&str, bool> {
    messages
        .iter()
        .filter(|message| message.role == "user")
        .flat_map(|message| blocks(&message.content))
        .filter_map(|block| match block {
            ContentBlock::ToolResult {
                tool_use_id,
                is_error,
                ..
            } => Some((tool_use_id.as_str(), *is_error != Some(true))),
            _ => None,
        })
        .collect()
}

fn blocks(content: &MessageContent) -> &[ContentBlock] {
    match content {
        MessageContent::Blocks(blocks) => blocks,
        MessageContent::Text(_) => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn working_directory_table() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "# Environment\n - Primary working directory: /tmp/rec/project\n - Is a git repository: false",
                Some("/tmp/rec/project"),
            ),
            ("Primary working directory:   /a/b/  ", Some("/a/b/")),
            ("Primary working directory: relative/dir", None),
            ("Primary working directory: /a/../etc", None),
            ("working directory: /a", None),
            ("", None),
        ];
        for (system, expected) in cases {
            assert_eq!(
                working_directory(system).as_deref(),
                *expected,
                "{system:?}"
            );
        }
        let harness = Harness {
            working_directory: Some("/w/p/".to_owned()),
            ..Harness::default()
        };
        assert_eq!(harness.path("app/page.tsx"), "/w/p/app/page.tsx");
        assert_eq!(harness.path("/etc/passwd"), "/etc/passwd");
        assert_eq!(Harness::default().path("app/page.tsx"), "app/page.tsx");
    }

    fn assistant(calls: &[(&str, &str, &str)]) -> Message {
        Message {
            role: "assistant".to_owned(),
            content: MessageContent::Blocks(
                calls
                    .iter()
                    .map(|(id, name, path)| ContentBlock::ToolUse {
                        id: id.to_string(),
                        name: name.to_string(),
                        input: json!({"file_path": path}),
                    })
                    .collect(),
            ),
        }
    }

    fn results(outcomes: &[(&str, bool)]) -> Message {
        Message {
            role: "user".to_owned(),
            content: MessageContent::Blocks(
                outcomes
                    .iter()
                    .map(|(id, ok)| ContentBlock::ToolResult {
                        tool_use_id: id.to_string(),
                        content: Some(json!([{"type": "text", "text": "x"}])),
                        is_error: (!ok).then_some(true),
                    })
                    .collect(),
            ),
        }
    }

    #[test]
    fn a_file_is_fresh_after_its_last_successful_call() {
        let messages = vec![
            assistant(&[
                ("1", "Read", "/p/a"),
                ("2", "Read", "/p/b"),
                ("3", "Read", "/p/c"),
            ]),
            results(&[("1", true), ("2", false), ("3", true)]),
            assistant(&[("4", "Edit", "/p/c"), ("5", "Write", "/p/d")]),
            results(&[("4", false), ("5", true)]),
            // An unanswered call is not a success.
            assistant(&[("6", "Read", "/p/e")]),
        ];
        let fresh: Vec<String> = fresh_files(&messages).into_iter().collect();
        assert_eq!(fresh, vec!["/p/a", "/p/d"]);
        assert!(called_successfully(&messages, "Write"));
        assert!(!called_successfully(&messages, "Edit"));
    }

    #[test]
    fn prompt_facts_come_from_the_first_user_message() {
        let prompt = Message {
            role: "user".to_owned(),
            content: MessageContent::Text(
                "Project context:\n- PostHog public token: phc_abc\n- PostHog Host: http://localhost:8010\n- Router:".to_owned(),
            ),
        };
        let messages = vec![prompt];
        assert_eq!(
            prompt_fact(&messages, "posthog public token").as_deref(),
            Some("phc_abc")
        );
        assert_eq!(
            prompt_fact(&messages, "PostHog Host").as_deref(),
            Some("http://localhost:8010")
        );
        assert_eq!(prompt_fact(&messages, "Router"), None);
        assert_eq!(prompt_fact(&[], "Router"), None);
    }
}
