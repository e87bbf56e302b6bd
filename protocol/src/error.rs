//! The error envelopes of protocol section 2, one per endpoint family.
//!
//! Each family of endpoints answers errors in its own shape, because the real
//! system grew that way and clients parse each shape. Servers pick the
//! envelope by family; nobody builds an error body by hand.

use serde::{Deserialize, Serialize};
use utoipa::{PartialSchema, ToSchema};

/// `{"code","message"}`, nested in several envelopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Health, services, deep links, API-Version and signature failures:
/// `{"error":{"code","message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlainError {
    pub error: ErrorBody,
}

/// Account requests: `{"id"?,"type":"error","error":{"code","message"}}`.
/// (The success answers share the `type` tag; see
/// [`crate::provisioning::AccountRequestAnswer`].) The real server names
/// the request (`id`) only where it threads the request's id through: the
/// Stripe namespace's checks before it takes a request up (an unsigned
/// request, a body without email, a missing Stripe account, a rate limit)
/// answer without one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountRequestError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub error: ErrorBody,
}

/// Resources, read-back, rotate and remove:
/// `{"status":"error","id"?,"error":{"code","message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResourceError {
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub error: ErrorBody,
}

/// Both token endpoints and introspection: RFC 6749 section 5.2,
/// `{"error","error_description"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OAuthError {
    pub error: String,
    pub error_description: String,
}

/// The PostHog API subset and the gateway: `{"detail","code"?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DetailError {
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// Error codes used across envelopes, written once.
pub mod codes {
    pub const INVALID_API_VERSION: &str = "invalid_api_version";
    pub const INVALID_REQUEST: &str = "invalid_request";
    pub const INVALID_SCOPE: &str = "invalid_scope";
    pub const INVALID_GRANT: &str = "invalid_grant";
    pub const INVALID_CLIENT: &str = "invalid_client";
    pub const UNSUPPORTED_GRANT_TYPE: &str = "unsupported_grant_type";
    pub const UNAUTHORIZED: &str = "unauthorized";
    pub const FORBIDDEN: &str = "forbidden";
    pub const NOT_FOUND: &str = "not_found";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    pub const TEAM_RESOLUTION_FAILED: &str = "team_resolution_failed";
    pub const IDEMPOTENCY_CONFLICT: &str = "idempotency_conflict";
    pub const EXPIRED: &str = "expired";
    pub const UNKNOWN_SERVICE: &str = "unknown_service";
    pub const MISSING_SERVICE_ID: &str = "missing_service_id";
    pub const INVALID_LABEL_PREFIX: &str = "invalid_label_prefix";
    pub const REQUIRES_PAYMENT_CREDENTIALS: &str = "requires_payment_credentials";
    pub const INVALID_RESOURCE_ID: &str = "invalid_resource_id";
    pub const INVALID_SIGNATURE: &str = "invalid_signature";
    pub const PERMISSION_DENIED: &str = "permission_denied";
    pub const PRODUCT_ACCESS_DENIED: &str = "product_access_denied";
    pub const DEEP_LINKS_NOT_ENABLED: &str = "deep_links_not_enabled";
    pub const INVALID_PATH: &str = "invalid_path";
    pub const HMAC_SIGNATURE_REQUIRED: &str = "hmac_signature_required";
}

/// What an account request may answer on failure: its own envelope, or the
/// plain one for API-Version and signature failures.
///
/// Documented as `anyOf`, not `oneOf`: an account-request envelope also
/// satisfies the plain one (both carry `error`), so under `oneOf` every real
/// answer would violate the schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AccountRequestFailure {
    AccountRequest(AccountRequestError),
    Plain(PlainError),
}

/// What a resource endpoint may answer on failure. `anyOf`, not `oneOf`, for
/// the reason given on [`AccountRequestFailure`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ResourceFailure {
    Resource(ResourceError),
    Plain(PlainError),
}

/// What a token endpoint may answer on failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum OAuthFailure {
    OAuth(OAuthError),
    Plain(PlainError),
}

/// `anyOf` the envelope `E` and [`PlainError`], with `description`.
fn envelope_or_plain<E: ToSchema>(
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{AnyOfBuilder, Ref};
    AnyOfBuilder::new()
        .item(Ref::from_schema_name(E::name()))
        .item(Ref::from_schema_name(PlainError::name()))
        .description(Some(description))
        .into()
}

/// The component schemas `E` and [`PlainError`] refer to, as a derive would
/// register them.
fn envelope_or_plain_schemas<E: ToSchema>(
    schemas: &mut Vec<(
        String,
        utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
    )>,
) {
    schemas.push((E::name().into_owned(), E::schema()));
    E::schemas(schemas);
    schemas.push((PlainError::name().into_owned(), PlainError::schema()));
    PlainError::schemas(schemas);
}

impl PartialSchema for AccountRequestFailure {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        envelope_or_plain::<AccountRequestError>(
            "What an account request may answer on failure: its own envelope, or the\nplain one for API-Version and signature failures.",
        )
    }
}

impl ToSchema for AccountRequestFailure {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        envelope_or_plain_schemas::<AccountRequestError>(schemas);
    }
}

impl PartialSchema for ResourceFailure {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        envelope_or_plain::<ResourceError>("What a resource endpoint may answer on failure.")
    }
}

impl ToSchema for ResourceFailure {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        envelope_or_plain_schemas::<ResourceError>(schemas);
    }
}

/// PostHog's own API errors (drf-exceptions-hog):
/// `{"type","code","detail","attr"}`, e.g. `authentication_error` /
/// `authentication_failed`, `invalid_request` / `not_found`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PostHogError {
    #[serde(rename = "type")]
    pub kind: String,
    pub code: String,
    pub detail: String,
    pub attr: Option<String>,
}

/// A bare `{"error": "..."}`, as the wizard's gateway-token endpoint answers
/// a failed mint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorText {
    pub error: String,
}
