//! The LLM gateway's OpenAI Responses API, as the published wizard's "pi"
//! harness (wizard 2.74.1 and later) speaks it (protocol section 7).
//!
//! Requests are read tolerantly, as the real gateway reads them (its
//! request model allows extra fields and passes input items through as
//! dictionaries): unknown top-level fields are ignored and an input item of
//! an unknown shape is kept as [`InputItem::Other`]. Answers are written in
//! the shapes the harness's parser reads: a [`ResponseObject`], or the
//! server-sent [`ResponsesEvent`]s, each with its `sequence_number`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// The API's path at the gateway's root; the real gateway also serves it
/// under a product prefix (`/wizard/v1/responses`) and without `v1`.
pub const RESPONSES_PATH: &str = "/v1/responses";

/// The header holding the harness's PostHog properties, a JSON object such
/// as `{"ai_product":"wizard","integration":"nextjs","HARNESS":"pi",…}`.
pub const POSTHOG_PROPERTIES_HEADER: &str = "x-posthog-properties";

/// The function tools of the pi harness that the scripted agent calls.
pub const TOOL_READ: &str = "read";
pub const TOOL_EDIT: &str = "edit";
pub const TOOL_WRITE: &str = "write";
pub const TOOL_SET_ENV_VALUES: &str = "set_env_values";
pub const TOOL_DETECT_PACKAGE_MANAGER: &str = "detect_package_manager";

/// `POST /v1/responses`. Only `model` and `input` are required, as in the
/// real gateway's request model; every field the harness sends is named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResponsesRequest {
    pub model: String,
    pub input: ResponsesInput,
    #[serde(default)]
    pub stream: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ResponsesTool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
}

/// `input`: a plain prompt or a list of items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ResponsesInput {
    Text(String),
    Items(Vec<InputItem>),
}

impl ResponsesInput {
    /// The items; a plain prompt is one user message.
    pub fn items(&self) -> Vec<InputItem> {
        match self {
            ResponsesInput::Items(items) => items.clone(),
            ResponsesInput::Text(text) => vec![InputItem::Message(InputMessage {
                kind: None,
                role: "user".to_owned(),
                content: MessageContent::Text(text.clone()),
                id: None,
                status: None,
            })],
        }
    }
}

/// One input item. The harness sends messages without a `type`, its own
/// earlier answers as `message` and `function_call` items, tool results as
/// `function_call_output`, and reasoning items when the model made some.
/// The order of the variants is the order they are tried in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum InputItem {
    FunctionCall(FunctionCall),
    FunctionCallOutput(FunctionCallOutput),
    Reasoning(ReasoningItem),
    Message(InputMessage),
    /// Any other item, kept as sent (the real gateway passes items through).
    Other(Value),
}

/// A message of the conversation: `developer`, `system`, `user` or
/// `assistant`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InputMessage {
    /// `message`, or absent.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<MessageType>,
    pub role: String,
    pub content: MessageContent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// A message's content: a string or a list of parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

impl MessageContent {
    /// Every text of the content, parts joined by newlines.
    pub fn text(&self) -> String {
        match self {
            MessageContent::Text(text) => text.clone(),
            MessageContent::Parts(parts) => parts
                .iter()
                .filter_map(|part| match part {
                    ContentPart::InputText { text } | ContentPart::OutputText { text, .. } => {
                        Some(text.as_str())
                    }
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// One part of a message's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    InputText {
        text: String,
    },
    OutputText {
        text: String,
        #[serde(default)]
        annotations: Vec<Value>,
    },
    Refusal {
        refusal: String,
    },
    InputImage {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image_url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A part of another type (its fields are not kept).
    #[serde(other)]
    Other,
}

/// The literal `type` of a message item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    Message,
}

/// The literal `type` of a function call item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FunctionCallType {
    FunctionCall,
}

/// The literal `type` of a tool result item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FunctionCallOutputType {
    FunctionCallOutput,
}

/// The literal `type` of a reasoning item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningType {
    Reasoning,
}

/// A function call the model made earlier, sent back as history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FunctionCall {
    #[serde(rename = "type")]
    pub kind: FunctionCallType,
    /// The item id (`fc_…`); the harness may leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What the tool result names.
    pub call_id: String,
    pub name: String,
    /// The arguments as a JSON text.
    pub arguments: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// A tool's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FunctionCallOutput {
    #[serde(rename = "type")]
    pub kind: FunctionCallOutputType,
    pub call_id: String,
    /// Text, or a list of parts (images beside text).
    pub output: MessageContent,
}

/// A reasoning item the model produced, sent back as history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReasoningItem {
    #[serde(rename = "type")]
    pub kind: ReasoningType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub summary: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_content: Option<String>,
}

/// A tool the caller offers: `function` tools carry a name and a JSON
/// Schema of their parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResponsesTool {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// `reasoning`: `{"effort":"medium","summary":"auto"}` from the harness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReasoningConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// The answer of a request without `stream`, and the `response` of the
/// `response.created`, `response.in_progress` and `response.completed`
/// events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResponseObject {
    pub id: String,
    /// Always `response`.
    pub object: String,
    /// Unix seconds.
    pub created_at: i64,
    pub status: ResponseStatus,
    pub model: String,
    pub output: Vec<OutputItem>,
    /// `null` until the response is completed.
    pub usage: Option<ResponsesUsage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseStatus {
    InProgress,
    Completed,
    Incomplete,
    Failed,
}

/// One item of a response's `output`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputItem {
    Message(OutputMessage),
    FunctionCall(OutputFunctionCall),
}

/// An assistant message of the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OutputMessage {
    pub id: String,
    pub status: ItemStatus,
    /// Always `assistant`.
    pub role: String,
    pub content: Vec<OutputContent>,
}

/// A function call of the answer; the harness runs the tool and sends the
/// result back as a `function_call_output` naming `call_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OutputFunctionCall {
    pub id: String,
    pub call_id: String,
    pub name: String,
    /// The arguments as a JSON text (empty while they stream).
    pub arguments: String,
    pub status: ItemStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    InProgress,
    Completed,
}

/// One part of an output message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputContent {
    OutputText {
        text: String,
        annotations: Vec<Value>,
    },
}

/// Token counts of a completed response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResponsesUsage {
    pub input_tokens: u64,
    pub input_tokens_details: InputTokensDetails,
    pub output_tokens: u64,
    pub output_tokens_details: OutputTokensDetails,
    pub total_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InputTokensDetails {
    pub cached_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OutputTokensDetails {
    pub reasoning_tokens: u64,
}

/// One server-sent event of a streamed response: `event: <type>` and
/// `data: <this, as JSON>`. `sequence_number` counts from 0 in each stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResponsesEvent {
    #[serde(flatten)]
    pub kind: ResponsesEventKind,
    pub sequence_number: u64,
}

impl ResponsesEvent {
    /// The event's `type`, as its `event:` line names it.
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }
}

/// The events the gateway streams, in the order a response sends them:
/// created, in progress, then per output item added, its parts or argument
/// deltas, done; then completed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type")]
pub enum ResponsesEventKind {
    #[serde(rename = "response.created")]
    Created { response: ResponseObject },
    #[serde(rename = "response.in_progress")]
    InProgress { response: ResponseObject },
    #[serde(rename = "response.output_item.added")]
    OutputItemAdded { output_index: u32, item: OutputItem },
    #[serde(rename = "response.content_part.added")]
    ContentPartAdded {
        item_id: String,
        output_index: u32,
        content_index: u32,
        part: OutputContent,
    },
    #[serde(rename = "response.output_text.delta")]
    OutputTextDelta {
        item_id: String,
        output_index: u32,
        content_index: u32,
        delta: String,
    },
    #[serde(rename = "response.output_text.done")]
    OutputTextDone {
        item_id: String,
        output_index: u32,
        content_index: u32,
        text: String,
    },
    #[serde(rename = "response.content_part.done")]
    ContentPartDone {
        item_id: String,
        output_index: u32,
        content_index: u32,
        part: OutputContent,
    },
    #[serde(rename = "response.function_call_arguments.delta")]
    FunctionCallArgumentsDelta {
        item_id: String,
        output_index: u32,
        delta: String,
    },
    #[serde(rename = "response.function_call_arguments.done")]
    FunctionCallArgumentsDone {
        item_id: String,
        output_index: u32,
        arguments: String,
    },
    #[serde(rename = "response.output_item.done")]
    OutputItemDone { output_index: u32, item: OutputItem },
    #[serde(rename = "response.completed")]
    Completed { response: ResponseObject },
}

impl ResponsesEventKind {
    pub fn name(&self) -> &'static str {
        match self {
            ResponsesEventKind::Created { .. } => "response.created",
            ResponsesEventKind::InProgress { .. } => "response.in_progress",
            ResponsesEventKind::OutputItemAdded { .. } => "response.output_item.added",
            ResponsesEventKind::ContentPartAdded { .. } => "response.content_part.added",
            ResponsesEventKind::OutputTextDelta { .. } => "response.output_text.delta",
            ResponsesEventKind::OutputTextDone { .. } => "response.output_text.done",
            ResponsesEventKind::ContentPartDone { .. } => "response.content_part.done",
            ResponsesEventKind::FunctionCallArgumentsDelta { .. } => {
                "response.function_call_arguments.delta"
            }
            ResponsesEventKind::FunctionCallArgumentsDone { .. } => {
                "response.function_call_arguments.done"
            }
            ResponsesEventKind::OutputItemDone { .. } => "response.output_item.done",
            ResponsesEventKind::Completed { .. } => "response.completed",
        }
    }
}
