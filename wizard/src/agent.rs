//! The agent step: a conversation with the LLM gateway whose `Write` and
//! `Edit` tool calls are staged, then written together after `end_turn`.

use protocol::gateway::{
    ContentBlock, EditInput, Message, MessageContent, MessagesRequest, MessagesResponse, Tool,
    WriteInput, TOOL_EDIT, TOOL_WRITE,
};
use reqwest::StatusCode;
use serde_json::json;

use crate::client::{host_of, Answer};
use crate::diagnose::{self, Evidence};
use crate::error::WizardError;
use crate::framework::Framework;
use crate::progress::Step;
use crate::retry;
use crate::session::Session;
use crate::sse;
use crate::staging::Staging;

/// A conversation longer than this is a runaway script.
pub const MAX_TURNS: usize = 25;

/// What the agent needs to know about the project.
pub struct Briefing<'a> {
    pub framework: Framework,
    pub project_id: i64,
    pub host: &'a str,
}

/// What the gateway run needs besides the project. The gateway's URL, the
/// retries (`--retry-base-ms`) and whether to ask for server-sent events
/// (`--stream`) come from the session's config; each turn is a step of its
/// progress.
pub struct GatewayCall<'a> {
    pub session: &'a Session,
    pub credential: &'a protocol::credential::Credential,
    /// Builds the 401 explanation from what the gateway said.
    pub evidence: Evidence,
}

/// What one gateway call gave: the agent's message, or an answer that is
/// not one (401, 503, a status still failing after the retries …).
enum Reply {
    Message(MessagesResponse),
    Refused(Answer),
}

/// Runs the conversation to `end_turn`, staging every edit. Returns the
/// staging (not yet written) and the edits the wizard refused.
pub async fn converse(
    call: &GatewayCall<'_>,
    briefing: &Briefing<'_>,
    mut staging: Staging,
) -> Result<(Staging, Vec<String>), WizardError> {
    let session = call.session;
    let (config, log) = (&session.config, &session.log);
    let url = format!("{}/v1/messages", config.gateway_url().trim_end_matches('/'));
    log.line(format!("gateway URL: {url}"));
    log.line(format!("gateway credential: {}", call.credential));
    let mut messages = vec![Message {
        role: "user".into(),
        content: MessageContent::Text(first_message(briefing)),
    }];
    let mut refused = Vec::new();
    for turn in 0..MAX_TURNS {
        let request = MessagesRequest {
            model: "claude-sonnet-4-5".into(),
            max_tokens: 8192,
            system: Some(MessageContent::Text(SYSTEM_PROMPT.into())),
            messages: messages.clone(),
            tools: tools(),
            stream: config.stream.then_some(true),
            output_config: None,
        };
        let step = session.progress.step(format!("Agent turn {}…", turn + 1));
        let response = match send_with_retries(call, &step, turn, &url, &request).await? {
            Reply::Message(response) => response,
            Reply::Refused(answer) => return Err(refusal(call, &url, answer)),
        };
        let mut results = Vec::new();
        for block in &response.content {
            match block {
                ContentBlock::Text { text } => log.line(format!("agent says: {text}")),
                ContentBlock::ToolUse { id, name, input } => {
                    let outcome = apply_tool(&mut staging, name, input);
                    let (text, is_error) = match &outcome {
                        Ok(()) => ("staged".to_owned(), None),
                        Err(reason) => (reason.clone(), Some(true)),
                    };
                    log.line(format!(
                        "agent tool {name} {}: {text}",
                        input
                            .get("file_path")
                            .and_then(|path| path.as_str())
                            .unwrap_or("?"),
                    ));
                    if let Err(reason) = outcome {
                        refused.push(reason);
                    }
                    results.push(ContentBlock::ToolResult {
                        tool_use_id: id.clone(),
                        content: Some(json!(text)),
                        is_error,
                    });
                }
                _ => {}
            }
        }
        step.done(&match results.len() {
            0 => format!("Agent turn {}: finished", turn + 1),
            1 => format!("Agent turn {}: 1 edit", turn + 1),
            edits => format!("Agent turn {}: {edits} edits", turn + 1),
        });
        messages.push(Message {
            role: "assistant".into(),
            content: MessageContent::Blocks(response.content.clone()),
        });
        if response.stop_reason.as_deref() == Some("end_turn") || results.is_empty() {
            return Ok((staging, refused));
        }
        messages.push(Message {
            role: "user".into(),
            content: MessageContent::Blocks(results),
        });
    }
    Err(WizardError::Internal(format!(
        "the agent did not finish within {MAX_TURNS} turns"
    )))
}

/// The error for an answer that is not a message.
fn refusal(call: &GatewayCall<'_>, url: &str, answer: Answer) -> WizardError {
    match answer.status {
        StatusCode::UNAUTHORIZED => {
            let mut evidence = call.evidence.clone();
            evidence.www_authenticate = answer.www_authenticate.clone();
            call.session.log.line(format!(
                "gateway 401; WWW-Authenticate: {}; settings conflicts: {}",
                answer.www_authenticate.as_deref().unwrap_or("(none)"),
                evidence.conflicts.len()
            ));
            WizardError::Auth(diagnose::explain_401(&evidence))
        }
        StatusCode::FORBIDDEN => WizardError::Auth(format!(
            "The gateway refused this credential (403): {}\nVerbose log: {}",
            answer.message(),
            call.session.log.path().display()
        )),
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT => {
            WizardError::Network(format!(
                "The LLM gateway at {} is unavailable ({}): {}. This is not a problem with your key; try again later.",
                host_of(url),
                answer.status,
                answer.message()
            ))
        }
        status if retry::is_retryable(status.as_u16()) => {
            let what = match status.as_u16() {
                429 => "rate-limiting the wizard",
                529 => "overloaded",
                _ => "failing",
            };
            WizardError::Network(format!(
                "The LLM gateway at {} is {what} ({}) and still was after {} attempts: {}. This is not a problem with your key; try again in a few minutes.",
                host_of(url),
                retry::status_text(status.as_u16()),
                call.session.config.retry.max_attempts,
                answer.message()
            ))
        }
        other => WizardError::Internal(format!(
            "The LLM gateway answered {other}: {}",
            answer.message()
        )),
    }
}

fn apply_tool(staging: &mut Staging, name: &str, input: &serde_json::Value) -> Result<(), String> {
    match name {
        TOOL_WRITE => {
            let input: WriteInput = serde_json::from_value(input.clone())
                .map_err(|error| format!("invalid Write input: {error}"))?;
            staging
                .write(&input.file_path, &input.content)
                .map_err(|refusal| refusal.to_string())
        }
        TOOL_EDIT => {
            let input: EditInput = serde_json::from_value(input.clone())
                .map_err(|error| format!("invalid Edit input: {error}"))?;
            staging
                .edit(&input.file_path, &input.old_string, &input.new_string)
                .map_err(|refusal| refusal.to_string())
        }
        other => Err(format!("the wizard does not offer the tool {other:?}")),
    }
}

const SYSTEM_PROMPT: &str = "You are the PostHog setup wizard's agent. Integrate the PostHog SDK into the user's project using the Write and Edit tools with paths relative to the project root. The project API key and host are already in the project's env file.";

fn first_message(briefing: &Briefing<'_>) -> String {
    format!(
        "Integrate PostHog into this project.\nframework: {}\nproject_id: {}\nhost: {}\nThe project API key is available as the environment variable {} and the host as {}.",
        briefing.framework.id,
        briefing.project_id,
        briefing.host,
        briefing.framework.key_variable,
        briefing.framework.host_variable,
    )
}

fn tools() -> Vec<Tool> {
    vec![
        Tool {
            name: TOOL_WRITE.into(),
            description: Some("Write a file, relative to the project root".into()),
            input_schema: json!({
                "type": "object",
                "properties": {"file_path": {"type": "string"}, "content": {"type": "string"}},
                "required": ["file_path", "content"]
            }),
        },
        Tool {
            name: TOOL_EDIT.into(),
            description: Some("Replace one unique occurrence of old_string in a file".into()),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "file_path": {"type": "string"},
                    "old_string": {"type": "string"},
                    "new_string": {"type": "string"}
                },
                "required": ["file_path", "old_string", "new_string"]
            }),
        },
    ]
}

/// One gateway call, retried where the real client retries: a retryable
/// status (429, 529, 5xx …), a broken connection, or a broken stream (cut
/// before `message_stop`, malformed, or an `error` event), with capped
/// backoff that honours `Retry-After`. The last answer or error is
/// returned as is.
async fn send_with_retries(
    call: &GatewayCall<'_>,
    step: &Step,
    turn: usize,
    url: &str,
    request: &MessagesRequest,
) -> Result<Reply, WizardError> {
    let what = format!("agent turn {}", turn + 1);
    let (policy, log) = (call.session.config.retry, &call.session.log);
    let mut attempt = 1;
    loop {
        let outcome = send_once(call, &what, url, request).await;
        let (retry_after, reason) = match &outcome {
            Ok(Reply::Refused(answer)) if retry::is_retryable(answer.status.as_u16()) => (
                retry::parse_retry_after(answer.retry_after.as_deref()),
                retry::status_text(answer.status.as_u16()),
            ),
            Err(WizardError::Network(message)) => (None, message.clone()),
            _ => return outcome,
        };
        let Some(wait) = policy.delay(attempt, retry_after) else {
            return match outcome {
                Err(WizardError::Network(message)) => Err(WizardError::Network(format!(
                    "{message} (after {attempt} attempts)"
                ))),
                other => other,
            };
        };
        log.line(format!(
            "{what}: {reason}; retrying in {} ms (attempt {} of {})",
            wait.as_millis(),
            attempt + 1,
            policy.max_attempts
        ));
        step.note(&format!(
            "The LLM gateway answered {reason}; retrying in {:.1} s…",
            wait.as_secs_f64()
        ));
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// One attempt: a JSON answer, or a stream read chunk by chunk.
async fn send_once(
    call: &GatewayCall<'_>,
    what: &str,
    url: &str,
    request: &MessagesRequest,
) -> Result<Reply, WizardError> {
    let session = call.session;
    let builder = session
        .client()
        .post(url)
        .bearer_auth(call.credential.expose())
        .header("anthropic-version", "2023-06-01")
        .json(request);
    let response = session.http.start(&session.log, what, url, builder).await?;
    let streamed = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/event-stream"));
    if response.status() != StatusCode::OK || !streamed {
        let answer = Answer::read(response, &session.log, what, url).await?;
        return match answer.status {
            StatusCode::OK => Ok(Reply::Message(answer.json("the LLM gateway")?)),
            _ => Ok(Reply::Refused(answer)),
        };
    }
    read_stream(call, what, url, response)
        .await
        .map(Reply::Message)
}

/// Reads server-sent events as they arrive; a stream that breaks is a
/// [`WizardError::Network`] naming the gateway, so it is retried.
async fn read_stream(
    call: &GatewayCall<'_>,
    what: &str,
    url: &str,
    mut response: reqwest::Response,
) -> Result<MessagesResponse, WizardError> {
    let broken = |why: String| {
        let message = format!(
            "the LLM gateway at {} broke off its streamed answer ({what}): {why}",
            host_of(url)
        );
        call.session.log.line(format!("{what} failed: {message}"));
        WizardError::Network(message)
    };
    let mut decoder = sse::Decoder::default();
    let mut received = 0usize;
    loop {
        match response.chunk().await {
            Ok(Some(bytes)) => {
                received += bytes.len();
                decoder
                    .feed(&bytes)
                    .map_err(|error| broken(error.to_string()))?;
            }
            Ok(None) => break,
            Err(error) => return Err(broken(error.to_string())),
        }
    }
    let message = decoder
        .finish()
        .map_err(|error| broken(error.to_string()))?;
    call.session
        .log
        .line(format!("{what}: 200 OK, streamed ({received} bytes)"));
    Ok(message)
}
