//! The gateway's error answers, each written once: `{"detail"}` bodies
//! (plus `"code"` for the product check) and the `WWW-Authenticate` header
//! that names the cause of a 401.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::error::{codes, DetailError};
use protocol::gateway::{
    AnthropicError, AnthropicErrorBody, AUTHENTICATION_REQUIRED, AUTHENTICATION_UNAVAILABLE, REALM,
};
use protocol::scope::LLM_GATEWAY_READ;

use crate::auth::Verdict;

/// Why a messages request was not answered by the agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    #[error("refused: {}", .0.name())]
    Refused(Verdict),
    /// The body is not a usable Messages API request; the message names the
    /// field and never holds a credential.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A Messages API body the real Anthropic API would refuse: answered in
    /// Anthropic's envelope, `invalid_request_error`.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A path prefix that names no product of the real gateway.
    #[error("invalid product")]
    InvalidProduct(String),
    #[error("payload too large")]
    PayloadTooLarge { limit_bytes: usize },
}

impl GatewayError {
    /// The journal's verdict name.
    pub fn verdict_name(&self) -> &'static str {
        match self {
            GatewayError::Refused(verdict) => verdict.name(),
            GatewayError::BadRequest(_)
            | GatewayError::InvalidRequest(_)
            | GatewayError::PayloadTooLarge { .. } => "bad_request",
            GatewayError::InvalidProduct(_) => "invalid_product",
        }
    }

    /// The journal's reason.
    pub fn reason(&self) -> String {
        match self {
            GatewayError::Refused(verdict) => verdict.reason(),
            GatewayError::BadRequest(message) | GatewayError::InvalidRequest(message) => {
                message.clone()
            }
            GatewayError::InvalidProduct(product) => format!("no product {product:?}"),
            GatewayError::PayloadTooLarge { .. } => "payload_too_large".to_owned(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::Refused(Verdict::ProductAccessDenied { .. }) => StatusCode::FORBIDDEN,
            GatewayError::Refused(Verdict::IntrospectionUnavailable { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            // `Granted` is never an error; answering 401 keeps a misuse
            // closed rather than open.
            GatewayError::Refused(_) => StatusCode::UNAUTHORIZED,
            GatewayError::BadRequest(_)
            | GatewayError::InvalidRequest(_)
            | GatewayError::InvalidProduct(_) => StatusCode::BAD_REQUEST,
            GatewayError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    /// `WWW-Authenticate` for a 401 (RFC 6750 section 3); beyond the real
    /// gateway, which answers the bare 401.
    pub fn www_authenticate(&self) -> Option<String> {
        let GatewayError::Refused(verdict) = self else {
            return None;
        };
        match verdict {
            Verdict::MissingCredential => Some(format!("Bearer realm=\"{REALM}\"")),
            Verdict::UnknownPrefix
            | Verdict::InvalidToken
            | Verdict::InvalidGatewayToken
            | Verdict::WrongRegion { .. } => Some(
                format!("Bearer realm=\"{REALM}\", error=\"invalid_token\""),
            ),
            Verdict::InsufficientScope => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{LLM_GATEWAY_READ}\""
            )),
            Verdict::Granted => Some(format!("Bearer realm=\"{REALM}\"")),
            Verdict::ProductAccessDenied { .. } | Verdict::IntrospectionUnavailable { .. } => None,
        }
    }

    pub fn body(&self) -> DetailError {
        let (detail, code) = match self {
            GatewayError::Refused(Verdict::ProductAccessDenied {
                product,
                needs_oauth,
                ..
            }) => (
                match needs_oauth {
                    true => format!("Product '{product}' requires OAuth authentication"),
                    false => format!("OAuth application not authorized for product '{product}'"),
                },
                Some(codes::PRODUCT_ACCESS_DENIED.to_owned()),
            ),
            GatewayError::Refused(Verdict::IntrospectionUnavailable { .. }) => {
                (AUTHENTICATION_UNAVAILABLE.to_owned(), None)
            }
            GatewayError::Refused(_) => (AUTHENTICATION_REQUIRED.to_owned(), None),
            GatewayError::BadRequest(message) | GatewayError::InvalidRequest(message) => {
                (message.clone(), None)
            }
            GatewayError::InvalidProduct(product) => (
                format!(
                    "Invalid product '{product}'. Allowed products: {}",
                    crate::product::PRODUCTS.join(", ")
                ),
                None,
            ),
            GatewayError::PayloadTooLarge { limit_bytes } => (
                format!(
                    "Request body is larger than {} MiB",
                    limit_bytes / (1024 * 1024)
                ),
                None,
            ),
        };
        DetailError { detail, code }
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        if let GatewayError::InvalidRequest(message) = &self {
            let body = AnthropicError {
                kind: "error".to_owned(),
                error: AnthropicErrorBody {
                    kind: "invalid_request_error".to_owned(),
                    message: message.clone(),
                },
            };
            return (self.status(), Json(body)).into_response();
        }
        let mut response = (self.status(), Json(self.body())).into_response();
        if let Some(challenge) = self.www_authenticate() {
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

/// FastAPI's answer to a path no route matches, which the real gateway
/// (no handler of its own) sends as it is: `404 {"detail":"Not Found"}`.
pub fn not_found() -> Response {
    detail(StatusCode::NOT_FOUND, "Not Found")
}

/// A `{"detail"}` answer for routes outside the messages flow (admin, 404).
pub fn detail(status: StatusCode, detail: &str) -> Response {
    (
        status,
        Json(DetailError {
            detail: detail.to_owned(),
            code: None,
        }),
    )
        .into_response()
}
