//! `POST /v1/responses` (and `/responses`, each also under a product such
//! as `/wizard`): the OpenAI Responses API of the published wizard's "pi"
//! harness, admitted like the Messages routes (a `phe_` gateway token, or
//! a `pha_`/`phx_` through introspection, judged for the product the path
//! names: the root is `llm_gateway`, `/wizard` the wizard's product).
//!
//! A request that is let in is answered by the agent (`agent/`, rendered
//! by `agent/render_pi.rs`): one function call per answer, or its final
//! text, as JSON or as the API's server-sent events (`responses_stream.rs`).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use protocol::credential::{redact_secret_shaped, redact_secrets};
use protocol::responses::{ResponsesRequest, POSTHOG_PROPERTIES_HEADER};

use crate::admission::{admit_product, conclude_call, product_prefix, Exchange, MAX_BODY_BYTES};
use crate::agent::conversation::Conversation;
use crate::agent::{self, render_pi::integration_of};
use crate::auth::presented_credential;
use crate::call_kind::CallKind;
use crate::error::GatewayError;
use crate::request_id::RequestId;
use crate::responses_stream::{self, Envelope};
use crate::state::AppState;

pub async fn responses(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    request: Request,
) -> Response {
    // The request's own parts, as the Messages routes read them.
    let (parts, body) = request.into_parts();
    let credential = presented_credential(&parts.headers);
    let prefix = product_prefix(parts.uri.path(), ROUTES);
    let mut kind = None;
    let call = Call {
        credential: credential.as_deref(),
        prefix,
        headers: &parts.headers,
    };
    let outcome = answer(&state, &request_id, call, body, &mut kind)
        .await
        .map(|response| (response, None));
    let exchange = Exchange::new(
        &request_id,
        &parts.method,
        &parts.uri,
        credential.as_deref(),
    );
    conclude_call(&state, exchange, outcome, kind.map(CallKind::name))
}

/// The routes' own paths under a product.
const ROUTES: &[&str] = &["v1/responses", "responses"];

/// Parses a Responses API body; the error names what is wrong, with any
/// credential-shaped text masked (serde quotes the values it refuses).
pub fn parse_request(bytes: &[u8]) -> Result<ResponsesRequest, String> {
    serde_json::from_slice::<ResponsesRequest>(bytes).map_err(|error| {
        let message = format!("the body is not a Responses API request: {error}");
        redact_secret_shaped(&redact_secrets(&message))
    })
}

/// What a responses call brings besides its body.
struct Call<'a> {
    credential: Option<&'a str>,
    /// The product segment of the path; `None` at the gateway's root.
    prefix: Option<&'a str>,
    headers: &'a HeaderMap,
}

async fn answer(
    state: &AppState,
    request_id: &str,
    call: Call<'_>,
    body: Body,
    kind: &mut Option<CallKind>,
) -> Result<Response, GatewayError> {
    let Call {
        credential,
        prefix,
        headers,
    } = call;
    let product = admit_product(state, request_id, credential, prefix).await?;
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| GatewayError::PayloadTooLarge {
            limit_bytes: MAX_BODY_BYTES,
        })?;
    crate::live::note_body(&bytes);
    let request = parse_request(&bytes).map_err(GatewayError::BadRequest)?;
    product?;
    let integration = headers
        .get(POSTHOG_PROPERTIES_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(integration_of);
    let conversation = Conversation::from_responses(&request, integration.as_deref());
    *kind = Some(conversation.kind);
    let reply = agent::reply_responses_of(&conversation);
    let envelope = Envelope {
        response_id: format!("resp_{}", hex_id(state)),
        // The model is echoed as every caller text is: redacted.
        model: redact_secrets(&request.model),
        created_at: (state.now)(),
        request_chars: bytes.len(),
    };
    if !request.stream {
        let completed = responses_stream::completed(&envelope, &reply);
        return Ok((StatusCode::OK, Json(completed)).into_response());
    }
    let text = responses_stream::event_stream(&responses_stream::events(&envelope, &reply));
    let mut response = (StatusCode::OK, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    Ok(response)
}

fn hex_id(state: &AppState) -> String {
    state
        .random
        .bytes(12)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
