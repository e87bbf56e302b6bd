//! The server's one error type, and its wire mapping, written once.
//!
//! A rule returns an [`ApiError`]; the endpoint's family decides the
//! envelope ([`Envelope`]), since each family answers in its own shape
//! (protocol section 2). Each family is a response type of its own
//! ([`PlainRefusal`], [`OAuthRefusal`], [`PostHogRefusal`],
//! [`ResourceRefusal`], [`AccountRequestRefusal`]): a handler returns
//! `Result<_, Family>` and `?` turns an [`ApiError`] into the family's
//! answer, and the extractors of `extract.rs` refuse in the family their
//! handler names. No handler builds an error body by hand.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::error::{codes, *};

/// Everything a request can be refused for.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Supported API-Versions: 0.1d")]
    InvalidApiVersion,
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidScope(String),
    #[error("{0}")]
    InvalidGrant(String),
    #[error("{0}")]
    InvalidClient(String),
    #[error("{0}")]
    UnsupportedGrantType(String),
    #[error("{0}")]
    InvalidSignature(String),
    #[error("{0}")]
    Unauthorized(String),
    /// No credential at all (PostHog's `not_authenticated`; elsewhere the
    /// same `401 unauthorized` as any other).
    #[error("{0}")]
    NotAuthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    /// A credential without the scope an endpoint needs (PostHog API subset).
    #[error("API key missing required scope '{0}'")]
    MissingScope(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Expired(String),
    #[error("{0}")]
    TeamResolutionFailed(String),
    #[error("{0}")]
    UnknownService(String),
    /// An update_service without a `service_id`.
    #[error("{0}")]
    MissingServiceId(String),
    /// A malformed `label_prefix` (the Stripe namespace).
    #[error("{0}")]
    InvalidLabelPrefix(String),
    /// A paid plan without payment credentials.
    #[error("{0}")]
    RequiresPaymentCredentials(String),
    #[error("{0}")]
    InvalidResourceId(String),
    /// A request that must authenticate and did not (today's token
    /// endpoint: `401 invalid_request`).
    #[error("{0}")]
    AuthenticationRequired(String),
    /// A partner without the deep-link capability (today's named refusal).
    #[error("{0}")]
    DeepLinksNotEnabled(String),
    /// A deep link's path that is not a relative in-app path (today's named
    /// refusal).
    #[error("{0}")]
    InvalidPath(String),
    /// An hmac partner's bearer token used without its signature.
    #[error("{0}")]
    HmacSignatureRequired(String),
    /// A method the path does not serve (answered `405` with `Allow`).
    #[error("Method \"{method}\" not allowed.")]
    MethodNotAllowed { method: String, allow: &'static str },
    #[error("Request body is larger than 64 KiB")]
    PayloadTooLarge,
    /// Over a partner's hourly limit; answered with `Retry-After`.
    #[error("{message}")]
    RateLimited { message: String, retry_after: i64 },
    /// An account-request `id` sent again with another body (beyond).
    #[error("{0}")]
    IdempotencyConflict(String),
    /// A failure of the server itself, not of the request. Its detail is
    /// logged, never sent.
    #[error("Internal error")]
    Internal(String),
}

/// The error shapes of protocol section 2.
#[derive(Debug, Clone)]
pub enum Envelope {
    /// `{"id"?,"type":"error","error":{…}}`.
    AccountRequest { id: Option<String> },
    /// `{"status":"error","id"?,"error":{…}}`.
    Resource { id: Option<String> },
    /// RFC 6749 `{"error","error_description"}`.
    OAuth,
    /// `{"error":{"code","message"}}`.
    Plain,
    /// PostHog's own API: `{"type","code","detail","attr"}`.
    PostHog,
}

/// Attached to every error response so the journal can record the reason
/// without parsing bodies.
#[derive(Debug, Clone)]
pub struct ErrorReason(pub &'static str);

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidApiVersion
            | ApiError::InvalidRequest(_)
            | ApiError::InvalidScope(_)
            | ApiError::InvalidGrant(_)
            | ApiError::UnsupportedGrantType(_)
            | ApiError::Expired(_)
            | ApiError::TeamResolutionFailed(_)
            | ApiError::UnknownService(_)
            | ApiError::MissingServiceId(_)
            | ApiError::InvalidLabelPrefix(_)
            | ApiError::RequiresPaymentCredentials(_)
            | ApiError::InvalidResourceId(_)
            | ApiError::InvalidPath(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidClient(_)
            | ApiError::AuthenticationRequired(_)
            | ApiError::HmacSignatureRequired(_)
            | ApiError::InvalidSignature(_)
            | ApiError::Unauthorized(_)
            | ApiError::NotAuthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_)
            | ApiError::MissingScope(_)
            | ApiError::DeepLinksNotEnabled(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::IdempotencyConflict(_) => StatusCode::CONFLICT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidApiVersion => codes::INVALID_API_VERSION,
            ApiError::InvalidRequest(_) => codes::INVALID_REQUEST,
            ApiError::InvalidScope(_) => codes::INVALID_SCOPE,
            ApiError::InvalidGrant(_) => codes::INVALID_GRANT,
            ApiError::InvalidClient(_) => codes::INVALID_CLIENT,
            ApiError::UnsupportedGrantType(_) => codes::UNSUPPORTED_GRANT_TYPE,
            ApiError::InvalidSignature(_) => codes::INVALID_SIGNATURE,
            ApiError::Unauthorized(_) | ApiError::NotAuthenticated(_) => codes::UNAUTHORIZED,
            ApiError::Forbidden(_) => codes::FORBIDDEN,
            ApiError::MissingScope(_) => codes::PERMISSION_DENIED,
            ApiError::NotFound(_) => codes::NOT_FOUND,
            ApiError::Expired(_) => codes::EXPIRED,
            ApiError::TeamResolutionFailed(_) => codes::TEAM_RESOLUTION_FAILED,
            ApiError::UnknownService(_) => codes::UNKNOWN_SERVICE,
            ApiError::MissingServiceId(_) => codes::MISSING_SERVICE_ID,
            ApiError::InvalidLabelPrefix(_) => codes::INVALID_LABEL_PREFIX,
            ApiError::RequiresPaymentCredentials(_) => codes::REQUIRES_PAYMENT_CREDENTIALS,
            ApiError::InvalidResourceId(_) => codes::INVALID_RESOURCE_ID,
            ApiError::AuthenticationRequired(_) => codes::INVALID_REQUEST,
            ApiError::DeepLinksNotEnabled(_) => codes::DEEP_LINKS_NOT_ENABLED,
            ApiError::InvalidPath(_) => codes::INVALID_PATH,
            ApiError::HmacSignatureRequired(_) => codes::HMAC_SIGNATURE_REQUIRED,
            ApiError::MethodNotAllowed { .. } => codes::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => codes::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. } => codes::RATE_LIMITED,
            ApiError::IdempotencyConflict(_) => codes::IDEMPOTENCY_CONFLICT,
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// The `type` and `code` PostHog's API (drf-exceptions-hog) gives this
    /// refusal.
    fn posthog_kind_and_code(&self) -> (&'static str, &'static str) {
        const AUTHENTICATION: &str = "authentication_error";
        match self {
            ApiError::NotAuthenticated(_) => (AUTHENTICATION, "not_authenticated"),
            ApiError::Unauthorized(_)
            | ApiError::InvalidClient(_)
            | ApiError::InvalidSignature(_) => (AUTHENTICATION, "authentication_failed"),
            ApiError::Forbidden(_) | ApiError::MissingScope(_) => {
                (AUTHENTICATION, "permission_denied")
            }
            ApiError::NotFound(_) => ("invalid_request", "not_found"),
            ApiError::MethodNotAllowed { .. } => ("invalid_request", "method_not_allowed"),
            ApiError::RateLimited { .. } => ("throttled_error", "throttled"),
            ApiError::Internal(_) => ("server_error", "error"),
            _ => ("validation_error", "invalid_input"),
        }
    }

    /// The answer in `envelope`'s shape. API-Version and signature failures
    /// always use the plain envelope, whatever the endpoint (section 2).
    pub fn into_envelope(self, envelope: Envelope) -> Response {
        let status = self.status();
        let code = self.code();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let retry_after = match &self {
            ApiError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
        let allow = match &self {
            ApiError::MethodNotAllowed { allow, .. } => Some(*allow),
            _ => None,
        };
        let message = protocol::credential::redact_secrets(&self.to_string());
        let envelope = match self {
            ApiError::InvalidApiVersion | ApiError::InvalidSignature(_) => Envelope::Plain,
            _ => envelope,
        };
        let body = match envelope {
            Envelope::AccountRequest { id } => Json(AccountRequestError {
                id,
                kind: "error".into(),
                error: ErrorBody::new(code, message),
            })
            .into_response(),
            Envelope::Resource { id } => Json(ResourceError {
                status: "error".into(),
                id,
                error: ErrorBody::new(code, message),
            })
            .into_response(),
            Envelope::OAuth => Json(OAuthError {
                error: code.into(),
                error_description: message,
            })
            .into_response(),
            Envelope::Plain => Json(PlainError {
                error: ErrorBody::new(code, message),
            })
            .into_response(),
            Envelope::PostHog => {
                let (kind, code) = self.posthog_kind_and_code();
                Json(PostHogError {
                    kind: kind.to_owned(),
                    code: code.to_owned(),
                    detail: message,
                    attr: None,
                })
                .into_response()
            }
        };
        let mut response = (status, body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6749 section 5.2: a client that failed HTTP Basic
            // authentication is told to use Basic.
            let scheme = match code {
                codes::INVALID_CLIENT => "Basic realm=\"provisioning\"",
                _ => "Bearer",
            };
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(scheme));
        }
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        if let Some(methods) = allow {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(methods));
        }
        response.extensions_mut().insert(ErrorReason(code));
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> ApiError {
        ApiError::Internal(error.to_string())
    }
}

/// The families whose envelope needs nothing but the error.
macro_rules! family {
    ($(#[$doc:meta])* $name:ident => $envelope:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name(pub ApiError);

        impl IntoResponse for $name {
            fn into_response(self) -> Response {
                self.0.into_envelope($envelope)
            }
        }

        impl From<ApiError> for $name {
            fn from(error: ApiError) -> $name {
                $name(error)
            }
        }

        impl From<sqlx::Error> for $name {
            fn from(error: sqlx::Error) -> $name {
                $name(error.into())
            }
        }
    };
}

family!(
    /// A refusal in the plain envelope `{"error":{"code","message"}}`:
    /// health, services, deep links, discovery and the admin routes.
    PlainRefusal => Envelope::Plain
);

family!(
    /// A refusal as RFC 6749 words it, `{"error","error_description"}`:
    /// the token endpoints and introspection.
    OAuthRefusal => Envelope::OAuth
);

family!(
    /// A refusal of PostHog's own API, `{"type","code","detail","attr"}`.
    PostHogRefusal => Envelope::PostHog
);

/// A refusal of a resource route, `{"status":"error","id"?,"error":{…}}`:
/// `id` echoes the resource the path named (redacted: a person may have
/// pasted a credential there), or none when the path names none.
#[derive(Debug)]
pub struct ResourceRefusal {
    pub id: Option<String>,
    pub error: ApiError,
}

impl ResourceRefusal {
    /// The refusal of a request for the resource `id`, as the path sent it.
    pub fn naming(id: &str) -> impl Fn(ApiError) -> ResourceRefusal + '_ {
        move |error| ResourceRefusal {
            id: Some(protocol::credential::redact_secrets(id)),
            error,
        }
    }
}

impl IntoResponse for ResourceRefusal {
    fn into_response(self) -> Response {
        self.error.into_envelope(Envelope::Resource { id: self.id })
    }
}

impl From<ApiError> for ResourceRefusal {
    fn from(error: ApiError) -> ResourceRefusal {
        ResourceRefusal { id: None, error }
    }
}

impl From<sqlx::Error> for ResourceRefusal {
    fn from(error: sqlx::Error) -> ResourceRefusal {
        ResourceRefusal::from(ApiError::from(error))
    }
}

/// A refusal of an account request, `{"id"?,"type":"error","error":{…}}`:
/// `id` names the request when the caller's is known (or one drawn for it),
/// redacted as the resources' is: a caller may have sent a credential as
/// its id (issue 14, class 3).
#[derive(Debug)]
pub struct AccountRequestRefusal {
    pub id: Option<String>,
    pub error: ApiError,
}

impl IntoResponse for AccountRequestRefusal {
    fn into_response(self) -> Response {
        let id = self.id.map(|id| protocol::credential::redact_secrets(&id));
        self.error.into_envelope(Envelope::AccountRequest { id })
    }
}

impl From<ApiError> for AccountRequestRefusal {
    fn from(error: ApiError) -> AccountRequestRefusal {
        AccountRequestRefusal { id: None, error }
    }
}
