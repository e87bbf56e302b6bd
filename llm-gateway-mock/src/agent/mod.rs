//! The agent behind both wires: one harness-neutral agent, stateless (the
//! transcript is its memory).
//!
//! - `conversation.rs`: a request of either wire read the same way
//!   (harness, working directory, framework, kind of call, the actions
//!   taken and their outcomes).
//! - `knowledge.rs`: what that history shows of the project.
//! - `recipe/`: a recipe per framework decides the next step by rule.
//! - `render_claude.rs`, `render_pi.rs`: the step as Claude Code's tool
//!   calls or as the pi harness's function calls.
//! - `scripted.rs`: fixed plays for a client that cannot read files and
//!   for the hostile plays tests load with `--agent-dir`.

pub mod conversation;
pub mod knowledge;
pub mod recipe;
pub mod render_claude;
pub mod render_pi;
pub mod scripted;

use protocol::frameworks::FRAMEWORKS;
use protocol::gateway::{
    ContentBlock, MessagesRequest, MessagesResponse, Usage, TOOL_SET_ENV_VALUES,
};
use protocol::responses::ResponsesRequest;

use crate::call_kind::{self, CallKind};
use conversation::{Conversation, Harness};
use knowledge::Knowledge;
use recipe::{Abilities, Step};

pub use scripted::{Script, ScriptTool, Scripts, Turn, EMBEDDED_SCRIPTS, PREPARATION_ID_PREFIX};

/// The one remark the agent makes when the wizard asks for it.
pub const REMARK_TEXT: &str =
    "[WIZARD-REMARK] Nothing was missing: this simulated agent follows a rule-based recipe per framework.";

pub use crate::harness::prompt_line;
pub use render_claude::Reply;

/// The answer to a Messages API call: the title side query and the
/// remark by rule; the conversation by the framework's recipe, or by a
/// script for a client that cannot read files and whenever scripts were
/// loaded from a directory (`--agent-dir`).
pub fn reply_messages(
    scripts: &Scripts,
    request: &MessagesRequest,
    integration: Option<&str>,
) -> Reply {
    let conversation = Conversation::from_messages(request, integration);
    match conversation.kind {
        CallKind::Title => Reply {
            id: "msg_title".to_owned(),
            content: call_kind::title_answer(
                request,
                conversation.framework.map(|framework| framework.name),
            ),
            stop_reason: "end_turn",
        },
        CallKind::Remark => Reply {
            id: "msg_remark".to_owned(),
            content: vec![ContentBlock::Text {
                text: REMARK_TEXT.to_owned(),
            }],
            stop_reason: "end_turn",
        },
        CallKind::Main if scripts.from_dir || conversation.harness == Harness::WriteEditOnly => {
            let named = conversation
                .framework
                .map(|framework| framework.id.to_owned())
                .or(conversation.framework_named);
            scripted::reply_with(scripts, request, named.as_deref())
        }
        CallKind::Main => {
            let turn = request
                .messages
                .iter()
                .filter(|message| message.role == "assistant")
                .count()
                + 1;
            render_claude::render(step(&conversation), &conversation, turn)
        }
    }
}

/// The answer to a Responses API call: the remark by rule, the
/// conversation by the framework's recipe.
pub fn reply_responses(request: &ResponsesRequest, integration: Option<&str>) -> render_pi::Reply {
    reply_responses_of(&Conversation::from_responses(request, integration))
}

/// [`reply_responses`] for a conversation already read (the route reads it
/// once, to journal the kind of call).
pub fn reply_responses_of(conversation: &Conversation) -> render_pi::Reply {
    match conversation.kind {
        CallKind::Remark => render_pi::Reply::Done {
            text: REMARK_TEXT.to_owned(),
        },
        CallKind::Title | CallKind::Main => render_pi::render(step(conversation), conversation),
    }
}

/// The recipe's next step for the conversation.
pub fn step(conversation: &Conversation) -> Step {
    let Some(framework) = conversation.framework else {
        let known: Vec<&str> = FRAMEWORKS.iter().map(|framework| framework.name).collect();
        return Step::Done(format!(
            "I could not tell which framework this project uses (no `Framework:` line and no \
             integration header), so I have no recipe for it. Frameworks I know: {}.",
            known.join(", ")
        ));
    };
    let knowledge = Knowledge::of(conversation);
    let abilities = abilities(conversation);
    recipe::next(framework, &knowledge, &abilities)
}

/// What the harness offers the recipe besides reading and editing.
pub fn abilities(conversation: &Conversation) -> Abilities {
    let (list, set_env, detect) = match conversation.harness {
        Harness::Pi => (
            conversation::TOOL_FIND,
            protocol::responses::TOOL_SET_ENV_VALUES,
            protocol::responses::TOOL_DETECT_PACKAGE_MANAGER,
        ),
        Harness::ClaudeCode | Harness::WriteEditOnly => (
            conversation::TOOL_GLOB,
            TOOL_SET_ENV_VALUES,
            conversation::TOOL_DETECT_PACKAGE_MANAGER,
        ),
    };
    Abilities {
        list: conversation.offers(list),
        set_env: conversation.offers(set_env),
        detect_package_manager: conversation.offers(detect),
        token: conversation.token.clone(),
        host: conversation.host.clone(),
    }
}

/// Wraps a reply in the Messages API envelope. Token counts are characters
/// of the conversation (system, messages, tools, serialised) and of the
/// answer divided by four: deterministic, independent of the request's
/// formatting and of `stream`, and roughly the right size.
pub fn response(reply: Reply, request: &MessagesRequest) -> MessagesResponse {
    let output_chars = serialized_len(&reply.content);
    envelope(reply, request, output_chars)
}

/// [`response`] as the body of an answer that is not streamed: the same
/// bytes as `serde_json::to_vec(&response(reply, request))`, with the
/// content serialized once (its length is the output count) rather than
/// once to count it and once to send it.
pub fn response_body(reply: Reply, request: &MessagesRequest) -> Vec<u8> {
    // The usage object closes the answer and its output count closes the
    // usage: serialized with a count of 0, the count is written last.
    const COUNTED_LAST: &[u8] = br#""output_tokens":0}}"#;
    let mut answer = envelope(reply, request, 0);
    // Most answers are a few hundred bytes to a few KiB: one buffer of
    // that size, not serde_json's 128 bytes doubled three times or more.
    let mut body = Vec::with_capacity(ANSWER_CAPACITY);
    if serde_json::to_writer(&mut body, &answer).is_err() {
        return Vec::new();
    }
    let content = std::mem::take(&mut answer.content);
    if !body.ends_with(COUNTED_LAST) {
        answer.content = content;
        answer.usage.output_tokens = tokens(serialized_len(&answer.content));
        return serde_json::to_vec(&answer).unwrap_or_default();
    }
    // The answer without its content holds `"content":[]`, two characters
    // of the content's own.
    let output_chars = (body.len() + 2).saturating_sub(serialized_len(&answer));
    body.truncate(body.len() - "0}}".len());
    body.extend_from_slice(format!("{}}}}}", tokens(output_chars)).as_bytes());
    body
}

/// The buffer an answer that is not streamed is written into.
const ANSWER_CAPACITY: usize = 2048;

/// Characters as tokens: a quarter, rounded down.
fn tokens(chars: usize) -> u32 {
    u32::try_from(chars / 4).unwrap_or(u32::MAX)
}

/// The Messages API envelope of `reply`, its output `output_chars` long.
fn envelope(reply: Reply, request: &MessagesRequest, output_chars: usize) -> MessagesResponse {
    MessagesResponse {
        id: reply.id,
        kind: "message".to_owned(),
        role: "assistant".to_owned(),
        // The model is echoed as every caller text is: redacted.
        model: protocol::credential::redact_secrets(&request.model),
        content: reply.content,
        stop_reason: Some(reply.stop_reason.to_owned()),
        stop_sequence: None,
        usage: Usage {
            input_tokens: input_tokens(request),
            output_tokens: tokens(output_chars),
        },
    }
}

/// The conversation's size in tokens, as [`response`] and `count_tokens`
/// report it.
pub fn input_tokens(request: &MessagesRequest) -> u32 {
    let request_chars = serialized_len(&request.system)
        + serialized_len(&request.messages)
        + serialized_len(&request.tools);
    tokens(request_chars)
}

/// The length of `value` as JSON, counted as it is written (nothing is
/// kept: on every answer, of the whole conversation).
fn serialized_len<T: serde::Serialize>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// If this fails, `response_body` no longer writes what `response`
    /// serializes to (a field after `usage`, or a count written wrong).
    #[test]
    fn the_body_is_the_serialized_response() {
        let request = MessagesRequest {
            model: "claude-bench".into(),
            max_tokens: 64,
            ..MessagesRequest::default()
        };
        let text = |text: &str| ContentBlock::Text { text: text.into() };
        let edit = ContentBlock::ToolUse {
            id: "toolu_1_1".into(),
            name: "Edit".into(),
            input: serde_json::json!({
                "file_path": "package.json",
                "old_string": "\"next\": \"15.3.3\",\n",
                "new_string": "\"next\": \"15.3.3\",\n\"posthog-js\": \"^1.200.0\",\n\t☃",
            }),
        };
        let contents = [
            vec![],
            vec![text("")],
            vec![text("abc")],
            vec![text(&"long, with \"quotes\" and\nnewlines. ".repeat(400))],
            vec![text("I'll add the SDK."), edit],
        ];
        for content in contents {
            for stop_reason in ["end_turn", "tool_use"] {
                let reply = Reply {
                    id: "msg_next-js_1".into(),
                    content: content.clone(),
                    stop_reason,
                };
                let expected = serde_json::to_vec(&response(reply.clone(), &request)).unwrap();
                let body = response_body(reply, &request);
                assert_eq!(
                    String::from_utf8_lossy(&body),
                    String::from_utf8_lossy(&expected)
                );
            }
        }
    }
}
