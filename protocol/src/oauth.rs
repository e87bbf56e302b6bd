//! Tokens, discovery and introspection (protocol sections 4, 5 and 6).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Access tokens live this long (seconds).
pub const ACCESS_TOKEN_SECONDS: i64 = 3600;
/// Authorization codes live this long (seconds).
pub const CODE_SECONDS: i64 = 300;

pub const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";

/// The form of `POST /api/agentic/oauth/token` and `POST /oauth/token`.
/// Every field is optional at this layer so that a missing one is reported
/// by name as `invalid_request`, not as a parse failure.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct TokenRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_verifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// A successful token answer. The agentic endpoint adds `account` to an
/// authorization-code exchange; the interactive `/oauth/token` adds
/// `scoped_teams` and `posthog_region`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenAnswer {
    pub token_type: String,
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    /// Space separated. Beyond the real server: it tells the client what it
    /// really got (RFC 6749 section 5.1 allows it).
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<TokenAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scoped_teams: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posthog_region: Option<String>,
}

/// `account` of a token answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenAccount {
    /// The organization's UUID.
    pub id: String,
    pub payment_credentials: String,
    pub available_teams: Vec<AvailableTeam>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AvailableTeam {
    pub id: i64,
    pub name: String,
    pub organization_id: String,
    pub organization_name: String,
}

/// RFC 8414 metadata at `/.well-known/oauth-authorization-server`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuthorizationServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub introspection_endpoint: String,
    pub scopes_supported: Vec<String>,
    pub response_types_supported: Vec<String>,
    pub code_challenge_methods_supported: Vec<String>,
    pub grant_types_supported: Vec<String>,
}

/// The form of `POST /oauth/introspect` (RFC 7662).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct IntrospectionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type_hint: Option<String>,
}

/// The answer of `POST /oauth/introspect`. A credential that is not live
/// (unknown, revoked, expired, malformed) is exactly `{"active":false}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IntrospectionAnswer {
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `access_token` or `personal_api_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// The user's UUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scoped_teams: Option<Vec<i64>>,
    /// `us` or `eu`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl IntrospectionAnswer {
    /// `{"active":false}`, and nothing else.
    pub fn inactive() -> IntrospectionAnswer {
        IntrospectionAnswer {
            active: false,
            scope: None,
            client_id: None,
            token_type: None,
            exp: None,
            iat: None,
            sub: None,
            scoped_teams: None,
            region: None,
        }
    }
}

pub const TOKEN_TYPE_ACCESS_TOKEN: &str = "access_token";
pub const TOKEN_TYPE_PERSONAL_API_KEY: &str = "personal_api_key";

/// The resource server the embedded fixtures register for introspection,
/// and the gateway's default credentials for it (a development secret,
/// public on purpose: it guards a simulator on loopback).
pub const DEV_INTROSPECTION_CLIENT_ID: &str = "llm-gateway";
pub const DEV_INTROSPECTION_CLIENT_SECRET: &str = "llm-gateway-dev-secret";

/// The client ids of the wizard applications (protocol section 3): the
/// gateway's product check lets only their `pha_` tokens in.
pub const WIZARD_CLIENT_IDS: [&str; 4] = [
    "posthog-wizard",
    "DC5uRLVbGI02YQ82grxgnK6Qn12SXWpCqdPb60oZ",
    "c4Rdw8DIxgtQfA80IiSnGKlNX8QN00cFWF00QQhM",
    "bx2C5sZRN03TkdjraCcetvQFPGH6N2Y9vRLkcKEy",
];

/// The query of `GET /oauth/authorize` (protocol section 6), also carried
/// as hidden fields by the sign-in and consent forms. Everything is
/// optional here so that each missing part is refused with its own message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuthorizeParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

impl AuthorizeParams {
    /// The parameters as name/value pairs, in a stable order (absent ones
    /// left out): the hidden fields that carry a request through a form.
    pub fn hidden_fields(&self) -> Vec<(&'static str, &str)> {
        [
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("response_type", &self.response_type),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
            ("scope", &self.scope),
            ("state", &self.state),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|value| (name, value)))
        .collect()
    }
}
