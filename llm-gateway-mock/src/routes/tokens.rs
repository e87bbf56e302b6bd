//! `POST /v1/tokens` (Bearer the mint key): the provisioning server asks
//! for one wizard run's gateway token (`phe_`). Answers `201` with the
//! token, `401` for a wrong key, `400` for a request out of bounds, each
//! error as `{"error"}`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use protocol::error::ErrorText;
use protocol::gateway::MintRequest;

use crate::auth::presented_credential;
use crate::gateway_tokens::MintError;
use crate::journal::Record;
use crate::request_id::RequestId;
use crate::state::AppState;

pub async fn mint(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let presented = presented_credential(&headers);
    crate::live::note_body(&body);
    let outcome = match serde_json::from_slice::<MintRequest>(&body) {
        Err(error) => Err(MintError::Invalid(format!(
            "invalid mint request: {}",
            protocol::credential::redact_secrets(&error.to_string())
        ))),
        Ok(request) => state.gateway_tokens.mint(
            presented.as_deref(),
            &request,
            (state.now)(),
            state.random.as_ref(),
        ),
    };
    // A wrong key is refused before the body counts, whatever the body.
    let outcome = match (&outcome, presented.as_deref()) {
        (Err(MintError::Invalid(_)), _)
            if !state.gateway_tokens.is_mint_key(presented.as_deref()) =>
        {
            Err(MintError::Unauthorized)
        }
        _ => outcome,
    };
    let (response, verdict, reason) = match outcome {
        Ok(answer) => {
            tracing::info!(request_id = request_id.as_str(), "minted a gateway token");
            (
                (StatusCode::CREATED, Json(answer)).into_response(),
                "minted",
                None,
            )
        }
        Err(error) => {
            let status = match error {
                MintError::Unauthorized => StatusCode::UNAUTHORIZED,
                MintError::Invalid(_) => StatusCode::BAD_REQUEST,
            };
            let body = ErrorText {
                error: error.to_string(),
            };
            let verdict = match error {
                MintError::Unauthorized => "invalid_mint_key",
                MintError::Invalid(_) => "bad_request",
            };
            (
                (status, Json(body)).into_response(),
                verdict,
                Some(error.to_string()),
            )
        }
    };
    state.journal.record(Record {
        request_id: &request_id,
        method: method.as_str(),
        path: uri.path(),
        status: response.status().as_u16(),
        credential: presented.as_deref(),
        verdict,
        reason,
    });
    response
}
