//! One request read the same way whichever wire brought it: which harness
//! asks (Claude Code, the pi harness, or a client offering only `Write` and
//! `Edit`), where it works, which framework it names, what kind of call it
//! is, and the actions taken so far with their outcomes. The agent keeps no
//! state between requests: this history is its memory.

use protocol::frameworks::{self, FrameworkInfo};
use protocol::gateway::{ContentBlock, MessageContent, MessagesRequest, TOOL_READ};
use protocol::responses::{InputItem, ResponsesRequest, TOOL_READ as PI_READ};
use serde_json::Value;

use crate::call_kind::{self, CallKind};

/// Claude Code's listing tool.
pub const TOOL_GLOB: &str = "Glob";
/// The wizard's MCP tool naming the package manager, as Claude Code
/// names it.
pub const TOOL_DETECT_PACKAGE_MANAGER: &str = "mcp__wizard-tools__detect_package_manager";
/// The pi harness's listing tool.
pub const TOOL_FIND: &str = "find";

/// How the developer prompt of the pi harness names its directory.
const PI_WORKING_DIRECTORY: &str = "Current working directory:";
/// The tag of the closing remark the wizard asks for.
const REMARK_TAG: &str = call_kind::REMARK_TAG;

/// Which harness is on the other end, by the tools it offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Harness {
    /// A Messages API client offering `Read` (Claude Code, or our wizard
    /// speaking Claude Code's tool shapes).
    ClaudeCode,
    /// The Responses API's pi harness (`read`, `edit`, `write`, `find` …).
    Pi,
    /// A Messages API client offering only `Write` and `Edit` with paths
    /// relative to the project (our wizard before it could read).
    WriteEditOnly,
}

/// One tool call, named by what it does, with paths relative to the
/// working directory where the harness reported one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Read {
        path: String,
    },
    /// A listing: a glob pattern (`Glob`, `find`) or a directory (`ls`).
    List {
        pattern: String,
    },
    Edit {
        path: String,
        old: String,
        new: String,
    },
    Write {
        path: String,
        content: String,
    },
    SetEnv {
        file: String,
    },
    DetectPackageManager,
    /// A call this agent does not interpret (a skill menu, a task list).
    Other {
        name: String,
    },
}

/// What came back for an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The harness ran it; its output.
    Done(String),
    /// The harness refused it or it failed; the reason it gave.
    Refused(String),
    /// No result yet (the harness lost it, or it is the last turn's).
    Pending,
}

/// An action and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub action: Action,
    pub outcome: Outcome,
}

/// One request, harness-neutral.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub harness: Harness,
    pub kind: CallKind,
    /// An absolute directory without `..`, if the harness named one.
    pub working_directory: Option<String>,
    pub framework: Option<&'static FrameworkInfo>,
    /// The framework as the prompt spelled it (its first word, lower
    /// case), known or not: a refusal names it.
    pub framework_named: Option<String>,
    /// The `phc_` token and the host the wizard's prompt names.
    pub token: Option<String>,
    pub host: Option<String>,
    /// The tool names the harness offers, as it spells them.
    pub offered: Vec<String>,
    pub history: Vec<Attempt>,
}

impl Conversation {
    /// A Messages API request; `integration` is the
    /// `x-posthog-property-integration` header.
    pub fn from_messages(request: &MessagesRequest, integration: Option<&str>) -> Conversation {
        let offered: Vec<String> = request.tools.iter().map(|tool| tool.name.clone()).collect();
        let harness = match offered.iter().any(|name| name == TOOL_READ) {
            true => Harness::ClaudeCode,
            false => Harness::WriteEditOnly,
        };
        let system = request
            .system
            .iter()
            .map(MessageContent::text)
            .chain(
                request
                    .messages
                    .iter()
                    .filter(|message| message.role == "system")
                    .map(|message| message.content.text()),
            )
            .collect::<Vec<_>>()
            .join("\n");
        let user_texts: Vec<String> = request
            .messages
            .iter()
            .filter(|message| message.role == "user")
            .map(|message| message.content.text())
            .collect();
        let working_directory = crate::harness::working_directory(&system);
        let mut history = Vec::new();
        let mut results: Vec<(&str, Outcome)> = Vec::new();
        for message in request.messages.iter().filter(|m| m.role == "user") {
            for block in blocks(&message.content) {
                if let ContentBlock::ToolResult {
                    tool_use_id,
                    content,
                    is_error,
                } = block
                {
                    let text = result_text(content.as_ref());
                    let outcome = match is_error {
                        Some(true) => Outcome::Refused(text),
                        _ => Outcome::Done(text),
                    };
                    results.push((tool_use_id, outcome));
                }
            }
        }
        for message in request.messages.iter().filter(|m| m.role == "assistant") {
            for block in blocks(&message.content) {
                if let ContentBlock::ToolUse { id, name, input } = block {
                    let outcome = results
                        .iter()
                        .rev()
                        .find(|(result_id, _)| result_id == id)
                        .map_or(Outcome::Pending, |(_, outcome)| outcome.clone());
                    let action = claude_action(name, input, working_directory.as_deref());
                    history.push(Attempt { action, outcome });
                }
            }
        }
        Conversation {
            harness,
            kind: call_kind::classify(request),
            framework: framework_named(&user_texts, integration),
            framework_named: framework_spelling(&user_texts, integration),
            token: fact(&user_texts, "PostHog public token"),
            host: fact(&user_texts, "PostHog Host"),
            working_directory,
            offered,
            history,
        }
    }

    /// A Responses API request; `integration` is the `integration` of the
    /// `X-PostHog-Properties` header.
    pub fn from_responses(request: &ResponsesRequest, integration: Option<&str>) -> Conversation {
        let items = request.input.items();
        let mut texts: Vec<(String, String)> = request
            .instructions
            .iter()
            .map(|text| ("developer".to_owned(), text.clone()))
            .collect();
        let mut outputs: Vec<(String, String)> = Vec::new();
        for item in &items {
            match item {
                InputItem::Message(message) => {
                    texts.push((message.role.clone(), message.content.text()))
                }
                InputItem::FunctionCallOutput(output) => {
                    outputs.push((output.call_id.clone(), output.output.text()))
                }
                _ => {}
            }
        }
        let working_directory = texts.iter().find_map(|(_, text)| {
            text.lines().find_map(|line| {
                let rest = line.trim().strip_prefix(PI_WORKING_DIRECTORY)?;
                plain_directory(rest.trim())
            })
        });
        let mut history = Vec::new();
        for item in &items {
            let InputItem::FunctionCall(call) = item else {
                continue;
            };
            let input: Value = serde_json::from_str(&call.arguments).unwrap_or(Value::Null);
            let outcome = outputs
                .iter()
                .rev()
                .find(|(call_id, _)| *call_id == call.call_id)
                .map_or(Outcome::Pending, |(_, text)| pi_outcome(&call.name, text));
            let action = pi_action(&call.name, &input, working_directory.as_deref());
            history.push(Attempt { action, outcome });
        }
        let user_texts: Vec<String> = texts
            .iter()
            .filter(|(role, _)| role == "user")
            .map(|(_, text)| text.clone())
            .collect();
        let asks_for_remark = matches!(items.last(), Some(InputItem::Message(message))
            if message.role == "user" && message.content.text().contains(REMARK_TAG));
        Conversation {
            harness: Harness::Pi,
            kind: match asks_for_remark {
                true => CallKind::Remark,
                false => CallKind::Main,
            },
            framework: framework_named(&user_texts, integration),
            framework_named: framework_spelling(&user_texts, integration),
            token: fact(&user_texts, "PostHog public token"),
            host: fact(&user_texts, "PostHog Host"),
            working_directory,
            offered: request
                .tools
                .iter()
                .filter_map(|tool| tool.name.clone())
                .collect(),
            history,
        }
    }

    pub fn offers(&self, tool: &str) -> bool {
        self.offered.iter().any(|offered| offered == tool)
    }

    /// Whether the harness can read files at all.
    pub fn can_read(&self) -> bool {
        self.offers(TOOL_READ) || self.offers(PI_READ)
    }
}

/// The framework the first user message names (a `Framework:` line), else
/// the one the harness's header names.
fn framework_named(
    user_texts: &[String],
    integration: Option<&str>,
) -> Option<&'static FrameworkInfo> {
    let named = user_texts.iter().find_map(|text| {
        text.lines().find_map(|line| {
            let (key, value) = crate::harness::prompt_line(line)?;
            key.eq_ignore_ascii_case("framework")
                .then(|| frameworks::resolve(value))
                .flatten()
        })
    });
    named.or_else(|| frameworks::resolve(integration?.trim()))
}

/// The first word of the framework the prompt (or header) names.
fn framework_spelling(user_texts: &[String], integration: Option<&str>) -> Option<String> {
    let named = fact(user_texts, "framework").or_else(|| integration.map(str::to_owned))?;
    let word = named
        .split_whitespace()
        .next()?
        .trim_matches(|c: char| c == '`' || c == '"' || c == '\'');
    (!word.is_empty()).then(|| word.to_ascii_lowercase())
}

/// The first `- <key>: value` line of the user messages.
fn fact(user_texts: &[String], key: &str) -> Option<String> {
    user_texts.iter().find_map(|text| {
        text.lines().find_map(|line| {
            let (name, value) = crate::harness::prompt_line(line)?;
            (name.eq_ignore_ascii_case(key) && !value.is_empty()).then(|| value.to_owned())
        })
    })
}

fn plain_directory(directory: &str) -> Option<String> {
    let plain = directory.starts_with('/')
        && !directory.split('/').any(|part| part == "..")
        && !directory.chars().any(char::is_control);
    plain.then(|| directory.to_owned())
}

/// `path` relative to `root` when it lies under it; otherwise as sent.
pub fn relative(path: &str, root: Option<&str>) -> String {
    let path = path.trim();
    let Some(root) = root else {
        return path.trim_start_matches("./").to_owned();
    };
    let root = root.trim_end_matches('/');
    match path.strip_prefix(root) {
        Some(rest) if rest.starts_with('/') => rest.trim_start_matches('/').to_owned(),
        Some("") => String::new(),
        _ => path.trim_start_matches("./").to_owned(),
    }
}

fn string(input: &Value, key: &str) -> String {
    input
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn claude_action(name: &str, input: &Value, root: Option<&str>) -> Action {
    let path = || relative(&string(input, "file_path"), root);
    match name {
        "Read" => Action::Read { path: path() },
        "Glob" => Action::List {
            pattern: string(input, "pattern"),
        },
        "Edit" => Action::Edit {
            path: path(),
            old: string(input, "old_string"),
            new: string(input, "new_string"),
        },
        "Write" => Action::Write {
            path: path(),
            content: string(input, "content"),
        },
        protocol::gateway::TOOL_SET_ENV_VALUES => Action::SetEnv {
            file: string(input, "filePath"),
        },
        TOOL_DETECT_PACKAGE_MANAGER => Action::DetectPackageManager,
        other => Action::Other {
            name: other.to_owned(),
        },
    }
}

fn pi_action(name: &str, input: &Value, root: Option<&str>) -> Action {
    let path = || relative(&string(input, "path"), root);
    match name {
        "read" => Action::Read { path: path() },
        "find" => Action::List {
            pattern: string(input, "pattern"),
        },
        "ls" => Action::List {
            pattern: format!("{}/*", path()).trim_start_matches('/').to_owned(),
        },
        "edit" => {
            let first = input
                .get("edits")
                .and_then(Value::as_array)
                .and_then(|edits| edits.first())
                .cloned()
                .unwrap_or(Value::Null);
            Action::Edit {
                path: path(),
                old: string(&first, "oldText"),
                new: string(&first, "newText"),
            }
        }
        "write" => Action::Write {
            path: path(),
            content: string(input, "content"),
        },
        "set_env_values" => Action::SetEnv {
            file: string(input, "filePath"),
        },
        "detect_package_manager" => Action::DetectPackageManager,
        other => Action::Other {
            name: other.to_owned(),
        },
    }
}

/// How the pi harness's failed calls begin: it sends the error's message
/// as the output (`pi-coding-agent`'s edit and read tools, Node's file
/// errors, its own refusals).
const PI_FAILURES: &[&str] = &[
    "error",
    "enoent",
    "enotdir",
    "eacces",
    "could not find",
    "file not found",
    "found ",
    "no changes made",
    "edits[",
    "oldtext must not be empty",
    "operation aborted",
    "tool execution was blocked",
    "offset ",
];

/// How a failed `read` begins (a file's own text may begin with "Error").
const PI_READ_FAILURES: &[&str] = &[
    "enoent",
    "enotdir",
    "eisdir",
    "eacces",
    "operation aborted",
    "offset ",
];

/// The pi harness reports a failed call as text: the error's message.
fn pi_outcome(name: &str, text: &str) -> Outcome {
    let head = text.trim_start().to_ascii_lowercase();
    let failures = match name {
        "read" => PI_READ_FAILURES,
        _ => PI_FAILURES,
    };
    let failed = failures.iter().any(|prefix| head.starts_with(prefix));
    match failed {
        true => Outcome::Refused(text.to_owned()),
        false => Outcome::Done(text.to_owned()),
    }
}

/// A tool result's text: a string, or the text of its blocks.
fn result_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|block| block.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
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

    #[test]
    fn paths_are_made_relative_to_the_working_directory() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("/w/p/app/page.tsx", Some("/w/p"), "app/page.tsx"),
            ("/w/p/app/page.tsx", Some("/w/p/"), "app/page.tsx"),
            ("/w/pq/x", Some("/w/p"), "/w/pq/x"),
            ("./app/page.tsx", None, "app/page.tsx"),
            ("/etc/passwd", Some("/w/p"), "/etc/passwd"),
        ];
        for (path, root, expected) in cases {
            assert_eq!(relative(path, *root), *expected, "{path} under {root:?}");
        }
    }

    #[test]
    fn pi_failures_are_told_from_outputs() {
        assert!(matches!(
            pi_outcome("edit", "Error: ENOENT: no such file"),
            Outcome::Refused(_)
        ));
        assert!(matches!(
            pi_outcome("edit", "Could not find the exact text in x"),
            Outcome::Refused(_)
        ));
        assert!(matches!(
            pi_outcome(
                "edit",
                "Found 2 occurrences of the text in /p/a.ts. The text must be unique."
            ),
            Outcome::Refused(_)
        ));
        assert!(matches!(
            pi_outcome("read", "ENOENT: no such file or directory, access '/p/x'"),
            Outcome::Refused(_)
        ));
        assert!(matches!(
            pi_outcome("read", "Error: a log line\n"),
            Outcome::Done(_)
        ));
        assert!(matches!(
            pi_outcome("edit", "Successfully replaced 1 block(s) in /p/a.ts."),
            Outcome::Done(_)
        ));
    }
}
