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
            output_tokens: u32::try_from(output_chars / 4).unwrap_or(u32::MAX),
        },
    }
}

/// The conversation's size in tokens, as [`response`] and `count_tokens`
/// report it.
pub fn input_tokens(request: &MessagesRequest) -> u32 {
    let request_chars = serialized_len(&request.system)
        + serialized_len(&request.messages)
        + serialized_len(&request.tools);
    u32::try_from(request_chars / 4).unwrap_or(u32::MAX)
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
