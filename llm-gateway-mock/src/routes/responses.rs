//! `POST /v1/responses` (and under `/wizard`): the OpenAI Responses API the
//! published wizard's newer harness speaks, authenticated like every model
//! route (a `phe_` gateway token, or a `pha_`/`phx_` through introspection).
//!
//! Only the door is modelled so far: a request that is let in gets one
//! completed assistant message saying that no agent answers this API here,
//! as JSON or as the API's server-sent events; it proposes no tool call, so
//! a client ends its run without editing anything.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};

use crate::admission::{admit, conclude, Exchange, MAX_BODY_BYTES};
use crate::auth::presented_credential;
use crate::error::GatewayError;
use crate::request_id::RequestId;
use crate::state::AppState;

/// What the one answer says.
pub const NO_AGENT_TEXT: &str =
    "This simulated gateway has no agent for the Responses API yet; nothing was changed.";

pub async fn responses(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let credential = presented_credential(&headers);
    let outcome = answer(&state, &request_id, credential.as_deref(), body)
        .await
        .map(|response| (response, None));
    let exchange = Exchange {
        request_id: &request_id,
        method: method.as_str(),
        path: uri.path(),
        credential: credential.as_deref(),
    };
    conclude(&state, exchange, outcome)
}

async fn answer(
    state: &AppState,
    request_id: &str,
    credential: Option<&str>,
    body: Body,
) -> Result<Response, GatewayError> {
    admit(state, credential, request_id).await?;
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| GatewayError::PayloadTooLarge {
            limit_bytes: MAX_BODY_BYTES,
        })?;
    let request: Value = serde_json::from_slice(&bytes)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| GatewayError::BadRequest("the body must be a JSON object".to_owned()))?;
    // The model is echoed as every caller text is: redacted.
    let model =
        protocol::credential::redact_secrets(request["model"].as_str().unwrap_or("unknown"));
    let id = format!("resp_{}", hex_id(state));
    let message_id = format!("msg_{}", hex_id(state));
    let completed = response_object(
        &id,
        &model,
        "completed",
        vec![message(&message_id, "completed")],
    );
    if request["stream"] != Value::Bool(true) {
        return Ok((StatusCode::OK, Json(completed)).into_response());
    }
    let events = [
        json!({"type": "response.created",
               "response": response_object(&id, &model, "in_progress", Vec::new())}),
        json!({"type": "response.output_item.added", "output_index": 0,
               "item": {"type": "message", "id": message_id, "status": "in_progress",
                        "role": "assistant", "content": []}}),
        json!({"type": "response.content_part.added", "item_id": message_id,
               "output_index": 0, "content_index": 0,
               "part": {"type": "output_text", "text": "", "annotations": []}}),
        json!({"type": "response.output_text.delta", "item_id": message_id,
               "output_index": 0, "content_index": 0, "delta": NO_AGENT_TEXT}),
        json!({"type": "response.output_text.done", "item_id": message_id,
               "output_index": 0, "content_index": 0, "text": NO_AGENT_TEXT}),
        json!({"type": "response.content_part.done", "item_id": message_id,
               "output_index": 0, "content_index": 0,
               "part": {"type": "output_text", "text": NO_AGENT_TEXT, "annotations": []}}),
        json!({"type": "response.output_item.done", "output_index": 0,
               "item": message(&message_id, "completed")}),
        json!({"type": "response.completed", "response": completed}),
    ];
    let mut text = String::new();
    for (sequence_number, mut event) in events.into_iter().enumerate() {
        event["sequence_number"] = json!(sequence_number);
        let kind = event["type"].as_str().unwrap_or_default().to_owned();
        text.push_str(&format!("event: {kind}\ndata: {event}\n\n"));
    }
    let mut response = (StatusCode::OK, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    Ok(response)
}

fn response_object(id: &str, model: &str, status: &str, output: Vec<Value>) -> Value {
    json!({
        "id": id,
        "object": "response",
        "status": status,
        "model": model,
        "output": output,
        "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
    })
}

fn message(id: &str, status: &str) -> Value {
    json!({
        "type": "message",
        "id": id,
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": NO_AGENT_TEXT, "annotations": []}],
    })
}

fn hex_id(state: &AppState) -> String {
    state
        .random
        .bytes(12)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
