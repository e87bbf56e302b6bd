//! The LLM gateway's Anthropic Messages API subset (protocol section 7).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The faithful body of every gateway 401.
pub const AUTHENTICATION_REQUIRED: &str = "Authentication required";
/// The body of a 503 when introspection cannot be reached.
pub const AUTHENTICATION_UNAVAILABLE: &str = "Authentication service unavailable";
/// The realm named in `WWW-Authenticate`.
pub const REALM: &str = "llm-gateway";

/// The tool names of Claude Code that the scripted agent uses.
pub const TOOL_WRITE: &str = "Write";
pub const TOOL_EDIT: &str = "Edit";
pub const TOOL_READ: &str = "Read";
/// The published wizard's own MCP tool that writes env values (Claude
/// Code names an MCP tool `mcp__<server>__<tool>`).
pub const TOOL_SET_ENV_VALUES: &str = "mcp__wizard-tools__set_env_values";

/// `POST /v1/messages` (at the gateway's root or under a product such as
/// `/wizard`). Fields the simulator does not use (`metadata`, `thinking`,
/// `temperature`, `tool_choice` …) are accepted and dropped.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct MessagesRequest {
    pub model: String,
    pub max_tokens: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<MessageContent>,
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Structured output, as Claude Code's side queries ask for it:
    /// `{"format": {"type": "json_schema", "schema": {…}}}`, often with
    /// `effort`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_config: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    /// `user` or `assistant`; `system` is accepted too (Claude Code may
    /// send a system prompt as a message).
    pub role: String,
    pub content: MessageContent,
}

/// A message's content: a plain string or a list of blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Blocks(Vec<ContentBlock>),
}

impl MessageContent {
    /// All the text of the content, blocks joined by newlines.
    pub fn text(&self) -> String {
        match self {
            MessageContent::Text(text) => text.clone(),
            MessageContent::Blocks(blocks) => blocks
                .iter()
                .filter_map(|block| match block {
                    ContentBlock::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// One block of content. Block types this simulator does not use are
/// accepted and kept as `Other`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: serde_json::Value,
    },
    ToolResult {
        tool_use_id: String,
        /// A string or a list of text blocks.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<serde_json::Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
    },
    #[serde(other)]
    Other,
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Tool {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub input_schema: serde_json::Value,
}

/// The input of Claude Code's `Write` tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WriteInput {
    pub file_path: String,
    pub content: String,
}

/// The input of Claude Code's `Read` tool (`offset`, `limit` and `pages`
/// are optional and never sent by the scripted agent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReadInput {
    pub file_path: String,
}

/// The input of Claude Code's `Edit` tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EditInput {
    pub file_path: String,
    pub old_string: String,
    pub new_string: String,
}

/// Claude Code's `Glob` tool and the wizard's package-manager MCP tool,
/// which our wizard offers beside `Read`, `Write`, `Edit` and
/// `set_env_values` (protocol section 7, "The wizard's tools").
pub const TOOL_GLOB: &str = "Glob";
pub const TOOL_DETECT_PACKAGE_MANAGER: &str = "mcp__wizard-tools__detect_package_manager";
/// How Claude Code's system prompt names the directory its paths live
/// under (`Primary working directory: /abs/path`).
pub const WORKING_DIRECTORY_LINE: &str = "Primary working directory:";

/// The optional part of Claude Code's `Read` input, read beside
/// [`ReadInput`]: `offset` is the first line to show (counting from 1; `0`
/// is read as 1), `limit` how many lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct ReadRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// The optional part of Claude Code's `Edit` input, read beside
/// [`EditInput`]: replace every occurrence instead of a unique one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct EditOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_all: Option<bool>,
}

/// The input of Claude Code's `Glob` tool: a glob pattern, searched under
/// `path` (a directory; the working directory when absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GlobInput {
    pub pattern: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// The input of the wizard's `set_env_values` MCP tool: an env file
/// relative to the working directory, and the keys to set in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SetEnvValuesInput {
    #[serde(rename = "filePath")]
    pub file_path: String,
    pub values: std::collections::BTreeMap<String, EnvValue>,
}

/// One value of [`SetEnvValuesInput`]: a literal, or a reference to a
/// secret the published wizard keeps in its vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum EnvValue {
    Literal(String),
    SecretRef {
        #[serde(rename = "secretRef")]
        secret_ref: String,
    },
}

/// The answer of the wizard's `detect_package_manager` MCP tool (sent as
/// the tool result's text, pretty-printed JSON, as the published wizard
/// sends it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PackageManagers {
    pub detected: Vec<PackageManager>,
    pub primary: Option<PackageManager>,
    pub recommendation: String,
}

/// One package manager the project's lockfiles or manifests name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PackageManager {
    /// `npm`, `pnpm`, `yarn`, `bun`, `pip`, `poetry`, `uv` …
    pub name: String,
    pub label: String,
    /// The command that adds a package, such as `npm add`.
    #[serde(rename = "installCommand")]
    pub install_command: String,
    #[serde(
        rename = "runCommand",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub run_command: Option<String>,
}

/// A non-streaming answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessagesResponse {
    pub id: String,
    /// Always `message`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Always `assistant`.
    pub role: String,
    pub model: String,
    pub content: Vec<ContentBlock>,
    /// `tool_use` while the agent wants tool results, `end_turn` at the end;
    /// `null` in a stream's `message_start`, as Anthropic sends it.
    pub stop_reason: Option<String>,
    pub stop_sequence: Option<String>,
    pub usage: Usage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
}

/// A server-sent event of a streaming answer, in Anthropic's event format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    MessageStart {
        message: MessagesResponse,
    },
    ContentBlockStart {
        index: u32,
        content_block: ContentBlock,
    },
    ContentBlockDelta {
        index: u32,
        delta: serde_json::Value,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: serde_json::Value,
        usage: Usage,
    },
    MessageStop,
    Ping,
    Error {
        error: serde_json::Value,
    },
}

/// `200` of `POST /v1/messages/count_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CountTokensAnswer {
    pub input_tokens: u32,
}

/// `GET /readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReadyAnswer {
    pub ready: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Anthropic's error body, as the gateway passes upstream failures on
/// (`overloaded_error` for 529, `rate_limit_error` for 429, `api_error` for
/// 5xx).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AnthropicError {
    /// Always `error`.
    #[serde(rename = "type")]
    pub kind: String,
    pub error: AnthropicErrorBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AnthropicErrorBody {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
}

/// The path the provisioning server mints gateway tokens at, under the
/// gateway's base URL.
pub const MINT_PATH: &str = "/v1/tokens";

/// The development mint key: what `just serve`, the e2e harness and the
/// defaults of both programs share. Fake, and only ever sent on loopback.
pub const DEV_MINT_KEY: &str = "phs_dev_wizard_gateway_mint_key_fake";

/// `POST {gateway}/v1/tokens` (Bearer `phs_`): the provisioning server asks
/// the gateway for one wizard run's `phe_`, pinned to a product, an
/// organization and a user, with a spend ceiling and a lifetime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MintRequest {
    /// A positive fixed-point dollar amount with at most six decimals.
    pub cap_usd: String,
    pub ttl_seconds: i64,
    /// `wizard:<program>`.
    pub product: String,
    /// The organization the spend is attributed to.
    pub obo: String,
    /// The acting user's `distinct_id`.
    pub user: String,
}

/// `201` of `POST {gateway}/v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MintAnswer {
    /// The new `phe_`.
    pub token: String,
    /// RFC 3339.
    pub expires_at: String,
    pub cap_usd: String,
}
