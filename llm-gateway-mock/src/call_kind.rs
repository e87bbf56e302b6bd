//! What a Messages API call is for. Claude Code asks more than the agent's
//! conversation: a session-title side query first (no tools, a system
//! prompt asking for a title, JSON-schema output), and, after the agent's
//! final answer, the wizard's Stop hook adds a user turn asking for one
//! `[WIZARD-REMARK]` line. Both are answered here, by rule; everything else
//! is the main conversation, which the agent plays.

use protocol::gateway::{ContentBlock, MessageContent, MessagesRequest};
use serde_json::{Map, Value};

/// What Claude Code's title side query asks for, in its system prompt.
const TITLE_REQUEST: &str = "sentence-case title";
/// How the Stop hook's turn begins, and the line it asks for.
const STOP_HOOK: &str = "Stop hook feedback:";
pub const REMARK_TAG: &str = "[WIZARD-REMARK]";

/// The kinds of call, as the journal names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// The session-title side query: answered with JSON matching its schema.
    Title,
    /// The Stop hook's turn: answered with one `[WIZARD-REMARK]` line.
    Remark,
    /// The agent's conversation.
    Main,
}

impl CallKind {
    pub fn name(self) -> &'static str {
        match self {
            CallKind::Title => "title",
            CallKind::Remark => "remark",
            CallKind::Main => "main",
        }
    }
}

/// Classifies a request. A title query offers no tools and either asks for
/// a title in its system prompt or wants JSON with a `title` property; a
/// remark is a conversation whose last turn is the Stop hook's request.
pub fn classify(request: &MessagesRequest) -> CallKind {
    if request.tools.is_empty() && (system_asks_for_a_title(request) || wants_a_title(request)) {
        return CallKind::Title;
    }
    let last_user_text = request
        .messages
        .last()
        .filter(|message| message.role == "user")
        .map(|message| message.content.text())
        .unwrap_or_default();
    if last_user_text.trim_start().starts_with(STOP_HOOK) && last_user_text.contains(REMARK_TAG) {
        return CallKind::Remark;
    }
    CallKind::Main
}

/// The title side query's answer: one text block holding a JSON object
/// that matches the requested schema (`title` set; any other required
/// string property empty). `subject` is what the session is about.
pub fn title_answer(request: &MessagesRequest, subject: Option<&str>) -> Vec<ContentBlock> {
    let title = match subject {
        Some(subject) => format!("Set up PostHog in a {subject} app"),
        None => "Set up PostHog".to_owned(),
    };
    let mut answer = Map::new();
    let required = schema(request)
        .and_then(|schema| schema.get("required"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for name in required.iter().filter_map(Value::as_str) {
        answer.insert(name.to_owned(), Value::String(String::new()));
    }
    answer.insert("title".to_owned(), Value::String(title));
    vec![ContentBlock::Text {
        text: Value::Object(answer).to_string(),
    }]
}

fn system_asks_for_a_title(request: &MessagesRequest) -> bool {
    let system = request
        .system
        .as_ref()
        .map(MessageContent::text)
        .unwrap_or_default();
    let system_messages = request
        .messages
        .iter()
        .filter(|message| message.role == "system")
        .map(|message| message.content.text());
    std::iter::once(system)
        .chain(system_messages)
        .any(|text| text.contains(TITLE_REQUEST))
}

fn wants_a_title(request: &MessagesRequest) -> bool {
    schema(request)
        .and_then(|schema| schema.get("properties"))
        .and_then(|properties| properties.get("title"))
        .is_some()
}

/// `output_config.format.schema` of a JSON-schema output request.
fn schema(request: &MessagesRequest) -> Option<&Value> {
    let format = request.output_config.as_ref()?.get("format")?;
    match format.get("type").and_then(Value::as_str) {
        Some("json_schema") => format.get("schema"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::gateway::{Message, Tool};
    use serde_json::json;

    fn message(role: &str, text: &str) -> Message {
        Message {
            role: role.to_owned(),
            content: MessageContent::Text(text.to_owned()),
        }
    }

    fn check(request: MessagesRequest, expected: CallKind) {
        assert_eq!(classify(&request), expected, "{request:?}");
    }

    #[test]
    fn calls_are_classified_by_what_they_ask() {
        let title_schema = json!({"format": {"type": "json_schema", "schema": {
            "type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}}});
        let write = Tool {
            name: "Write".to_owned(),
            description: None,
            input_schema: json!({"type": "object"}),
        };
        let remark = "Stop hook feedback:\nReply with a single line that starts with [WIZARD-REMARK] and no other lines.";
        check(
            MessagesRequest {
                output_config: Some(title_schema.clone()),
                messages: vec![message("user", "<session>x</session>")],
                ..Default::default()
            },
            CallKind::Title,
        );
        check(
            MessagesRequest {
                system: Some(MessageContent::Text(
                    "Generate a concise, sentence-case title (3-7 words)".to_owned(),
                )),
                messages: vec![message("user", "x")],
                ..Default::default()
            },
            CallKind::Title,
        );
        check(
            MessagesRequest {
                messages: vec![
                    message("system", "Generate a concise, sentence-case title"),
                    message("user", "x"),
                ],
                ..Default::default()
            },
            CallKind::Title,
        );
        // A conversation with tools is never a title query.
        check(
            MessagesRequest {
                output_config: Some(title_schema),
                tools: vec![write.clone()],
                messages: vec![message("user", "x")],
                ..Default::default()
            },
            CallKind::Main,
        );
        check(
            MessagesRequest {
                tools: vec![write.clone()],
                messages: vec![
                    message("user", "integrate"),
                    message("assistant", "done"),
                    message("user", remark),
                ],
                ..Default::default()
            },
            CallKind::Remark,
        );
        // The hook's words quoted earlier in a conversation do not count.
        check(
            MessagesRequest {
                tools: vec![write],
                messages: vec![message("user", remark), message("assistant", "ok")],
                ..Default::default()
            },
            CallKind::Main,
        );
        check(MessagesRequest::default(), CallKind::Main);
    }

    #[test]
    fn side_answers_are_what_claude_code_asked_for() {
        let request = MessagesRequest {
            output_config: Some(json!({"format": {"type": "json_schema", "schema": {
                "type": "object", "properties": {"title": {"type": "string"}},
                "required": ["title", "topic"], "additionalProperties": false}}})),
            ..Default::default()
        };
        let [ContentBlock::Text { text }] = &title_answer(&request, Some("Next.js"))[..] else {
            panic!("one text block");
        };
        let answer: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            answer,
            json!({"title": "Set up PostHog in a Next.js app", "topic": ""})
        );
    }
}
