//! `POST /wizard/v1/messages`: authenticate through introspection, then
//! let the agent answer, as JSON or as server-sent events.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use protocol::credential::mask;
use protocol::gateway::{CountTokensAnswer, Message, MessageContent, MessagesRequest, Tool};
use serde_json::{Map, Value};

use crate::admission::{admit_product, conclude_call, Exchange, MAX_BODY_BYTES};
use crate::auth::presented_credential;
use crate::call_kind::{self, CallKind};
use crate::error::GatewayError;
use crate::request_id::RequestId;
use crate::state::AppState;
use crate::{agent, faults, stream};
use protocol::admin::Fault;

pub async fn messages(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    request: Request,
) -> Response {
    // The request's own parts, not the extractors' copies of its headers,
    // method and URI.
    let (parts, body) = request.into_parts();
    let credential = presented_credential(&parts.headers);
    let mut kind = None;
    let outcome = answer(
        &state,
        &request_id,
        credential.as_deref(),
        Call {
            headers: &parts.headers,
            prefix: product_prefix(parts.uri.path()),
        },
        body,
        &mut kind,
    )
    .await;
    let exchange = Exchange::new(
        &request_id,
        &parts.method,
        &parts.uri,
        credential.as_deref(),
    );
    conclude_call(&state, exchange, outcome, kind.map(CallKind::name))
}

/// `POST /v1/messages/count_tokens` (at the root or under a product): the
/// same admission and parsing as a messages call (`max_tokens` may be
/// left out), answered with the agent's deterministic token count.
pub async fn count_tokens(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let (method, uri, headers) = (&parts.method, &parts.uri, &parts.headers);
    let credential = presented_credential(headers);
    let prefix = product_prefix(uri.path());
    let outcome = async {
        let product = admit_product(&state, &request_id, credential.as_deref(), prefix).await?;
        check_content_type(headers)?;
        let bytes = read_body(body).await?;
        let request = parse_count_tokens(&bytes).map_err(invalid_request)?;
        let product = product?;
        tracing::debug!(
            request_id = request_id.as_str(),
            product = product.name,
            "counted tokens"
        );
        let answer = CountTokensAnswer {
            input_tokens: agent::input_tokens(&request),
        };
        Ok((Json(answer).into_response(), None))
    }
    .await;
    let exchange = Exchange::new(&request_id, method, uri, credential.as_deref());
    conclude_call(&state, exchange, outcome, Some("count_tokens"))
}

/// What a messages call brings besides its body.
struct Call<'a> {
    headers: &'a HeaderMap,
    /// The product segment of the path; `None` at the gateway's root.
    prefix: Option<&'a str>,
}

/// The routes' own path under a product.
const ROUTES: &[&str] = &["v1/messages"];

/// The product segment of a messages route's path (`None` at the root).
pub fn product_prefix(path: &str) -> Option<&str> {
    crate::admission::product_prefix(path, ROUTES)
}

async fn read_body(body: Body) -> Result<axum::body::Bytes, GatewayError> {
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| GatewayError::PayloadTooLarge {
            limit_bytes: MAX_BODY_BYTES,
        })?;
    crate::live::note_body(&bytes);
    Ok(bytes)
}

fn invalid_request(message: String) -> GatewayError {
    GatewayError::InvalidRequest(protocol::credential::redact_secrets(&message))
}

/// The harness's `x-posthog-property-integration` header (`nextjs` …).
fn integration(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-posthog-property-integration")
        .and_then(|value| value.to_str().ok())
}

async fn answer(
    state: &AppState,
    request_id: &str,
    credential: Option<&str>,
    call: Call<'_>,
    body: Body,
    kind: &mut Option<CallKind>,
) -> Result<(Response, Option<String>), GatewayError> {
    let product = admit_product(state, request_id, credential, call.prefix).await?;
    let credential = credential.unwrap_or_default();

    check_content_type(call.headers)?;
    let bytes = read_body(body).await?;
    let request = parse_request(&bytes).map_err(invalid_request)?;
    product?;
    let call_kind = call_kind::classify(&request);
    *kind = Some(call_kind);

    // Faults strike only requests that passed authentication, so every
    // auth verdict stays deterministic.
    let drawn = state.faults.draw("messages");
    if let Some(delay) = drawn.delay {
        tokio::time::sleep(delay).await;
    }
    if drawn.hold {
        state.faults.hold().await;
    }
    let fault = drawn.describe();
    let integration = integration(call.headers);
    let reply = agent::reply_messages(&state.scripts, &request, integration);
    tracing::info!(
        request_id,
        credential = mask(credential),
        call = call_kind.name(),
        message_id = reply.id,
        stop_reason = reply.stop_reason,
        "agent answered"
    );
    let streamed = request.stream == Some(true);
    let intact = matches!(
        drawn.failure,
        Some(Fault::Latency { .. } | Fault::Hold) | None
    );
    if intact && !streamed {
        // The common answer, serialized once.
        let body = agent::response_body(reply, &request);
        let content_type = HeaderValue::from_static("application/json");
        return Ok((
            ([(header::CONTENT_TYPE, content_type)], body).into_response(),
            fault,
        ));
    }
    let response = agent::response(reply, &request);
    match drawn.failure {
        Some(Fault::Status {
            status,
            retry_after_seconds,
        }) => return Ok((faults::status_response(status, retry_after_seconds), fault)),
        Some(Fault::Drop) => {
            return Ok((
                faults::broken_body("application/json", Vec::new(), 0),
                fault,
            ));
        }
        Some(Fault::Truncate | Fault::CutStream) => {
            let (content_type, body, keep) = if streamed {
                let events = stream::events(&response);
                let kept = stream::encode(&events[..events.len() / 2]).len();
                (
                    "text/event-stream",
                    stream::encode(&events).into_bytes(),
                    kept,
                )
            } else {
                let body = serde_json::to_vec(&response).unwrap_or_default();
                let half = body.len() / 2;
                ("application/json", body, half)
            };
            return Ok((faults::broken_body(content_type, body, keep), fault));
        }
        Some(Fault::Latency { .. } | Fault::Hold) | None => {}
    }
    if streamed {
        let body = stream::encode(&stream::events(&response));
        let answer = (
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/event-stream"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            body,
        )
            .into_response();
        return Ok((answer, fault));
    }
    Ok((Json(response).into_response(), fault))
}

fn check_content_type(headers: &HeaderMap) -> Result<(), GatewayError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence == "application/json" {
        true => Ok(()),
        false => Err(GatewayError::BadRequest(
            "Content-Type must be application/json".to_owned(),
        )),
    }
}

/// Parses a Messages API request leniently (unknown fields are ignored),
/// naming the field when one is missing or mistyped.
pub fn parse_request(bytes: &[u8]) -> Result<MessagesRequest, String> {
    parse_fields(bytes, MaxTokens::Required)
}

/// Parses a `count_tokens` request: a messages request whose `max_tokens`
/// may be left out.
pub fn parse_count_tokens(bytes: &[u8]) -> Result<MessagesRequest, String> {
    parse_fields(bytes, MaxTokens::Optional)
}

enum MaxTokens {
    Required,
    Optional,
}

/// Most bodies are well formed: they are read typed, and only one that
/// does not read so (or breaks a rule the types do not hold) is read again
/// as a JSON value, field by field, for the real API's error texts. Both
/// give the same request for a body both take
/// ([`tests::both_readings_agree_on_well_formed_bodies`]).
fn parse_fields(bytes: &[u8], max_tokens_rule: MaxTokens) -> Result<MessagesRequest, String> {
    match serde_json::from_slice::<MessagesRequest>(bytes) {
        Ok(request) if holds_untyped_rules(&request) => Ok(request),
        _ => parse_fields_by_value(bytes, max_tokens_rule),
    }
}

/// The rules [`parse_fields_by_value`] checks that `MessagesRequest`'s
/// types do not: the roles, and an object (or nothing) as output config.
fn holds_untyped_rules(request: &MessagesRequest) -> bool {
    let roles = ["user", "assistant", "system"];
    request
        .messages
        .iter()
        .all(|message| roles.contains(&message.role.as_str()))
        && request.output_config.as_ref().is_none_or(Value::is_object)
}

fn parse_fields_by_value(
    bytes: &[u8],
    max_tokens_rule: MaxTokens,
) -> Result<MessagesRequest, String> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|error| format!("Request body is not valid JSON: {error}"))?;
    let Value::Object(object) = value else {
        return Err("Request body must be a JSON object".to_owned());
    };
    let model = match object.get("model") {
        Some(Value::String(model)) => model.clone(),
        Some(_) => return Err("Field 'model' must be a string".to_owned()),
        None => return Err("Field 'model' is required".to_owned()),
    };
    let max_tokens = match object.get("max_tokens") {
        Some(value) => value
            .as_u64()
            .and_then(|number| u32::try_from(number).ok())
            .ok_or("Field 'max_tokens' must be a non-negative integer")?,
        None => match max_tokens_rule {
            MaxTokens::Required => return Err("Field 'max_tokens' is required".to_owned()),
            MaxTokens::Optional => 0,
        },
    };
    let messages = match object.get("messages") {
        Some(Value::Array(messages)) => messages
            .iter()
            .enumerate()
            .map(|(index, message)| parse_message(index, message))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err("Field 'messages' must be an array".to_owned()),
        None => return Err("Field 'messages' is required".to_owned()),
    };
    let system = match object.get("system") {
        None | Some(Value::Null) => None,
        Some(value) => Some(parse_content(value).map_err(|_| {
            "Field 'system' must be a string or a list of content blocks".to_owned()
        })?),
    };
    let tools = match object.get("tools") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(tools)) => tools
            .iter()
            .enumerate()
            .map(|(index, tool)| {
                serde_json::from_value::<Tool>(tool.clone())
                    .map_err(|error| format!("Field 'tools[{index}]' is invalid: {error}"))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err("Field 'tools' must be an array".to_owned()),
    };
    let stream = match object.get("stream") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(stream)) => Some(*stream),
        Some(_) => return Err("Field 'stream' must be a boolean".to_owned()),
    };
    let output_config = match object.get("output_config") {
        None | Some(Value::Null) => None,
        Some(value @ Value::Object(_)) => Some(value.clone()),
        Some(_) => return Err("Field 'output_config' must be an object".to_owned()),
    };
    Ok(MessagesRequest {
        model,
        max_tokens,
        system,
        messages,
        tools,
        stream,
        output_config,
    })
}

fn parse_message(index: usize, value: &Value) -> Result<Message, String> {
    let empty = Map::new();
    let object = value.as_object().unwrap_or(&empty);
    if !value.is_object() {
        return Err(format!("Field 'messages[{index}]' must be an object"));
    }
    let role = match object.get("role") {
        Some(Value::String(role)) if ["user", "assistant", "system"].contains(&role.as_str()) => {
            role.clone()
        }
        Some(_) => {
            return Err(format!(
                "Field 'messages[{index}].role' must be \"user\", \"assistant\" or \"system\""
            ))
        }
        None => return Err(format!("Field 'messages[{index}].role' is required")),
    };
    let content = match object.get("content") {
        Some(content) => parse_content(content).map_err(|error| {
            format!(
                "Field 'messages[{index}].content' must be a string or a list of content blocks: {error}"
            )
        })?,
        None => return Err(format!("Field 'messages[{index}].content' is required")),
    };
    Ok(Message { role, content })
}

fn parse_content(value: &Value) -> Result<MessageContent, String> {
    match value {
        Value::String(text) => Ok(MessageContent::Text(text.clone())),
        Value::Array(blocks) => blocks
            .iter()
            .enumerate()
            .map(|(index, block)| {
                serde_json::from_value(block.clone())
                    .map_err(|error| format!("block {index}: {error}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(MessageContent::Blocks),
        _ => Err("neither a string nor an array".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_bodies_name_the_field() {
        let cases: &[(&str, &str)] = &[
            ("", "not valid JSON"),
            ("{", "not valid JSON"),
            ("[]", "must be a JSON object"),
            ("{}", "'model' is required"),
            (r#"{"model":1}"#, "'model' must be a string"),
            (r#"{"model":"m"}"#, "'max_tokens' is required"),
            (r#"{"model":"m","max_tokens":-1}"#, "'max_tokens' must be"),
            (r#"{"model":"m","max_tokens":"10"}"#, "'max_tokens' must be"),
            (r#"{"model":"m","max_tokens":10}"#, "'messages' is required"),
            (
                r#"{"model":"m","max_tokens":10,"messages":{}}"#,
                "'messages' must be an array",
            ),
            (
                r#"{"model":"m","max_tokens":10,"messages":[1]}"#,
                "'messages[0]' must be an object",
            ),
            (
                r#"{"model":"m","max_tokens":10,"messages":[{"content":"x"}]}"#,
                "'messages[0].role' is required",
            ),
            (
                r#"{"model":"m","max_tokens":10,"messages":[{"role":"tool","content":"x"}]}"#,
                "'messages[0].role' must be",
            ),
            (
                r#"{"model":"m","max_tokens":10,"messages":[],"output_config":"json"}"#,
                "'output_config' must be an object",
            ),
            (
                r#"{"model":"m","max_tokens":10,"messages":[{"role":"user"}]}"#,
                "'messages[0].content' is required",
            ),
            (
                r#"{"model":"m","max_tokens":10,"messages":[{"role":"user","content":5}]}"#,
                "'messages[0].content' must be",
            ),
            (
                r#"{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"text"}]}]}"#,
                "'messages[0].content' must be",
            ),
            (
                r#"{"model":"m","max_tokens":10,"messages":[],"stream":"yes"}"#,
                "'stream' must be a boolean",
            ),
            (
                r#"{"model":"m","max_tokens":10,"messages":[],"tools":[{"name":"Write"}]}"#,
                "'tools[0]' is invalid",
            ),
            (
                r#"{"model":"m","max_tokens":10,"messages":[],"system":7}"#,
                "'system' must be",
            ),
        ];
        for (body, expected) in cases {
            let error = parse_request(body.as_bytes()).expect_err(body);
            assert!(error.contains(expected), "body {body}: {error}");
        }
    }

    #[test]
    fn unknown_fields_and_blocks_are_accepted() {
        let body = r#"{"model":"claude-x","max_tokens":10,"metadata":{"user_id":"u"},"temperature":0,
            "system":[{"type":"text","text":"be nice","cache_control":{"type":"ephemeral"}}],
            "messages":[{"role":"user","content":[{"type":"text","text":"framework: next-js"},{"type":"image","source":{}}]},
                        {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1_1","name":"Write","input":{}}]},
                        {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1_1","content":"denied","is_error":true}]}],
            "tools":[{"name":"Write","input_schema":{"type":"object"},"extra":1}],"stream":null}"#;
        let request = parse_request(body.as_bytes()).unwrap();
        assert_eq!(request.model, "claude-x");
        assert_eq!(request.messages.len(), 3);
        assert_eq!(request.tools.len(), 1);
        assert_eq!(request.stream, None);
    }

    /// If this fails, the typed reading takes a body differently from the
    /// field-by-field one (or takes one it refuses).
    #[test]
    fn both_readings_agree_on_well_formed_bodies() {
        let bodies = [
            r#"{"model":"m","max_tokens":10,"messages":[]}"#,
            r#"{"model":"m","max_tokens":0,"messages":[{"role":"system","content":"s"}],"system":null,"tools":[],"stream":true}"#,
            r#"{"model":"claude-x","max_tokens":10,"metadata":{"user_id":"u"},"temperature":0,
                "system":[{"type":"text","text":"be nice","cache_control":{"type":"ephemeral"}}],
                "messages":[{"role":"user","content":[{"type":"text","text":"framework: next-js"},{"type":"image","source":{}}]},
                            {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1_1","name":"Write","input":{"a":[1,2.5,null]}}]},
                            {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1_1","content":"denied","is_error":true}]}],
                "tools":[{"name":"Write","description":"d","input_schema":{"type":"object"},"extra":1}],
                "stream":null,"output_config":{"format":{"type":"json_schema","schema":{}}}}"#,
            r#"{"model":"m","max_tokens":10,"messages":[],"output_config":null}"#,
        ];
        for body in bodies {
            let typed = serde_json::from_slice::<MessagesRequest>(body.as_bytes()).expect(body);
            assert!(holds_untyped_rules(&typed), "{body}");
            for rule in [MaxTokens::Required, MaxTokens::Optional] {
                let by_value = parse_fields_by_value(body.as_bytes(), rule).expect(body);
                assert_eq!(typed, by_value, "{body}");
            }
        }
        // What the types alone would take, and the rules refuse.
        for body in [
            r#"{"model":"m","max_tokens":10,"messages":[{"role":"tool","content":"x"}]}"#,
            r#"{"model":"m","max_tokens":10,"messages":[],"output_config":"json"}"#,
        ] {
            let typed = serde_json::from_slice::<MessagesRequest>(body.as_bytes()).expect(body);
            assert!(!holds_untyped_rules(&typed), "{body}");
            assert!(parse_request(body.as_bytes()).is_err(), "{body}");
        }
        // `max_tokens` may be left out of a count.
        let count = parse_count_tokens(br#"{"model":"m","messages":[]}"#).unwrap();
        assert_eq!(count.max_tokens, 0);
    }
}
