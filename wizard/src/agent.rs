//! The agent step: a conversation with the LLM gateway in which the wizard
//! plays Claude Code's side. It offers Claude Code's file tools and the
//! published wizard's own (`tools.rs`), names its working directory and
//! the framework as Claude Code and the published wizard's prompt do, and
//! answers every tool call over the staged project; the staged edits are
//! written together after `end_turn`.

use protocol::gateway::{
    ContentBlock, Message, MessageContent, MessagesRequest, MessagesResponse,
    WORKING_DIRECTORY_LINE,
};
use reqwest::StatusCode;

use crate::client::{host_of, Answer};
use crate::diagnose::{self, Evidence};
use crate::error::WizardError;
use crate::framework::Framework;
use crate::progress::Step;
use crate::retry;
use crate::session::Session;
use crate::sse;
use crate::staging::Staging;
use crate::tools::{self, Toolbox};

/// A conversation longer than this is a runaway. An agent that inspects
/// the project reads before it edits: a turn of reads (and listings) per
/// turn of edits, an env turn and the final answer. Today's longest recipe
/// (React with Vite) takes 10 turns; 50 leaves room for recipes that look
/// around more.
pub const MAX_TURNS: usize = 50;

/// What the agent needs to know about the project.
pub struct Briefing<'a> {
    pub framework: Framework,
    pub project_id: i64,
    /// The public `phc_` key: the agent sets it in the env file.
    pub project_api_key: &'a str,
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

/// Runs the conversation to `end_turn`, answering every tool call over the
/// staging. Returns the staging (not yet written) and what refuses the run
/// (edits the agent ended with unmet, outright refusals). An agent that asks again for a call that failed is stopped
/// there (its refusal names the call).
pub async fn converse(
    call: &GatewayCall<'_>,
    briefing: &Briefing<'_>,
    staging: Staging,
) -> Result<(Staging, Vec<String>), WizardError> {
    let session = call.session;
    let (config, log) = (&session.config, &session.log);
    let url = format!("{}/v1/messages", config.gateway_url().trim_end_matches('/'));
    log.line(format!("gateway URL: {url}"));
    log.line(format!("gateway credential: {}", call.credential));
    let mut toolbox = Toolbox::new(staging, briefing.framework);
    let system = system_prompt(&toolbox.working_directory());
    let mut messages = vec![Message {
        role: "user".into(),
        content: MessageContent::Text(first_message(briefing)),
    }];
    for turn in 0..MAX_TURNS {
        let request = MessagesRequest {
            model: "claude-sonnet-4-5".into(),
            max_tokens: 8192,
            system: Some(MessageContent::Text(system.clone())),
            messages: messages.clone(),
            tools: tools::offered(),
            stream: config.stream.then_some(true),
            output_config: None,
        };
        let step = session.progress.step(format!("Agent turn {}…", turn + 1));
        let response = match send_with_retries(call, &step, turn, &url, &request).await? {
            Reply::Message(response) => response,
            Reply::Refused(answer) => return Err(refusal(call, &url, answer)),
        };
        let mut results = Vec::new();
        let (mut reads, mut edits) = (0, 0);
        for block in &response.content {
            match block {
                ContentBlock::Text { text } => log.line(format!("agent says: {text}")),
                ContentBlock::ToolUse { id, name, input } => {
                    let answer = toolbox.answer(name, input);
                    log.line(format!(
                        "agent tool {name} {}: {}",
                        tool_subject(input),
                        answer.summary
                    ));
                    match answer.edits {
                        true => edits += 1,
                        false => reads += 1,
                    }
                    results.push(ContentBlock::ToolResult {
                        tool_use_id: id.clone(),
                        content: Some(answer.content),
                        is_error: answer.is_error.then_some(true),
                    });
                    if toolbox.repeated_a_failure() {
                        break;
                    }
                }
                _ => {}
            }
        }
        step.done(&turn_summary(turn + 1, reads, edits));
        if toolbox.repeated_a_failure() {
            log.line("the agent asked again for a call that had failed; stopping it");
            return Ok(toolbox.finish());
        }
        messages.push(Message {
            role: "assistant".into(),
            content: MessageContent::Blocks(response.content.clone()),
        });
        if response.stop_reason.as_deref() == Some("end_turn") || results.is_empty() {
            return Ok(toolbox.finish());
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

/// "Agent turn 2: 1 read, 2 edits", or "finished" when it called nothing.
fn turn_summary(turn: usize, reads: usize, edits: usize) -> String {
    let count = |n: usize, what: &str| match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    };
    match (reads, edits) {
        (0, 0) => format!("Agent turn {turn}: finished"),
        (reads, 0) => format!("Agent turn {turn}: {}", count(reads, "read")),
        (0, edits) => format!("Agent turn {turn}: {}", count(edits, "edit")),
        (reads, edits) => format!(
            "Agent turn {turn}: {}, {}",
            count(reads, "read"),
            count(edits, "edit")
        ),
    }
}

/// The path or pattern a tool call names, for the log.
fn tool_subject(input: &serde_json::Value) -> &str {
    ["file_path", "filePath", "pattern"]
        .iter()
        .find_map(|key| input.get(key).and_then(|value| value.as_str()))
        .unwrap_or("?")
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

/// The system prompt: what the agent is for, and the working directory
/// in Claude Code's words, so paths come back absolute under it.
fn system_prompt(working_directory: &str) -> String {
    format!(
        "You are the PostHog setup wizard's agent. Integrate the PostHog SDK into the user's project with the tools you are given: read a file before you edit or overwrite it, use absolute paths under the working directory, and set the project's public key and host with set_env_values.\n\n# Environment\n - {WORKING_DIRECTORY_LINE} {working_directory}\n"
    )
}

/// The first user message: the `framework: <id>` line older gateways
/// read, then the project context in the published wizard's words
/// (`- Framework: Next.js`, the public token and the host).
fn first_message(briefing: &Briefing<'_>) -> String {
    let framework = &briefing.framework;
    format!(
        "Integrate PostHog into this project.\nframework: {}\nproject_id: {}\nhost: {}\n\nProject context:\n- PostHog Project ID: {}\n- Framework: {}\n- PostHog public token: {}\n- PostHog Host: {}\n\nThe project API key is available as the environment variable {} and the host as {}.",
        framework.id,
        briefing.project_id,
        briefing.host,
        briefing.project_id,
        framework.name,
        briefing.project_api_key,
        briefing.host,
        framework.key_variable,
        framework.host_variable,
    )
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
