//! The small part of the PostHog API the wizard reads (protocol section 5),
//! with the field names and JSON types of the real serializers (`UserSerializer`
//! with `TeamBasicSerializer`, `OrganizationSerializer` and
//! `OrganizationBasicSerializer`; the project serializer behind
//! `/api/projects/{id}/`). The published wizard validates these answers with
//! its own schemas, so a field it requires is required here too; the rest
//! default when absent, so our own wizard reads older answers as the published
//! one does (its schemas accept a missing or null optional field).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /api/users/@me/` (needs `user:read`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Me {
    #[serde(default)]
    pub id: i64,
    pub uuid: String,
    /// The identity PostHog's own analytics knows the user by; the
    /// published wizard refuses an answer without it.
    pub distinct_id: String,
    pub email: String,
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    /// ISO 8601, as the real serializer renders a `DateTimeField`.
    #[serde(default)]
    pub date_joined: String,
    #[serde(default)]
    pub pending_email: Option<String>,
    #[serde(default)]
    pub is_email_verified: bool,
    #[serde(default)]
    pub is_staff: bool,
    #[serde(default)]
    pub has_password: bool,
    #[serde(default)]
    pub is_2fa_enabled: bool,
    #[serde(default)]
    pub has_social_auth: bool,
    #[serde(default)]
    pub has_sso_enforcement: bool,
    #[serde(default)]
    pub theme_mode: Option<String>,
    #[serde(default)]
    pub toolbar_mode: Option<String>,
    #[serde(default)]
    pub role_at_organization: Option<String>,
    #[serde(default)]
    pub hide_mcp_hints: bool,
    /// The current team (`TeamBasicSerializer`).
    pub team: TeamRef,
    /// The current organization (`OrganizationSerializer`).
    pub organization: OrganizationRef,
    /// Every organization the user belongs to (`OrganizationBasicSerializer`).
    pub organizations: Vec<OrganizationRef>,
}

/// An organization as `/api/users/@me/` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrganizationRef {
    /// A UUID.
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub slug: String,
    /// 1 member, 8 admin, 15 owner (PostHog's `OrganizationMembership.Level`).
    #[serde(default)]
    pub membership_level: Option<i64>,
    #[serde(default)]
    pub customer_id: Option<String>,
    #[serde(default)]
    pub is_ai_data_processing_approved: Option<bool>,
}

/// A team as `/api/users/@me/` shows it (`TeamBasicSerializer`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TeamRef {
    pub id: i64,
    #[serde(default)]
    pub uuid: String,
    /// The organization's UUID; the published wizard requires it.
    pub organization: String,
    /// The project the team belongs to (one project per team here).
    #[serde(default)]
    pub project_id: i64,
    pub name: String,
    /// The team's public project key (`phc_`).
    pub api_token: String,
    #[serde(default = "utc")]
    pub timezone: String,
    #[serde(default)]
    pub is_demo: bool,
    #[serde(default)]
    pub ingested_event: bool,
    #[serde(default)]
    pub completed_snippet_onboarding: bool,
}

/// `GET /api/projects/{id}/` (needs `project:read`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Project {
    pub id: i64,
    /// A UUID; the published wizard requires it.
    pub uuid: String,
    /// The organization's UUID.
    pub organization: String,
    pub name: String,
    pub api_token: String,
    #[serde(default = "utc")]
    pub timezone: String,
    #[serde(default)]
    pub is_demo: bool,
    #[serde(default)]
    pub ingested_event: bool,
    #[serde(default)]
    pub completed_snippet_onboarding: bool,
    /// Product opt-ins the published wizard reads (`null`: never set).
    #[serde(default)]
    pub session_recording_opt_in: bool,
    #[serde(default)]
    pub autocapture_exceptions_opt_in: Option<bool>,
    #[serde(default)]
    pub surveys_opt_in: Option<bool>,
}

fn utc() -> String {
    "UTC".to_owned()
}

/// `GET /api/environments/{id}/health_issues/` (needs `health_issue:read`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HealthIssues {
    pub results: Vec<HealthIssue>,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HealthIssue {
    pub id: String,
    pub kind: String,
    /// `critical`, `warning` or `info`.
    pub severity: String,
    pub status: String,
    pub dismissed: bool,
    pub created_at: String,
}

/// `POST /api/wizard/gateway_token/`: a wizard run asks for its own gateway
/// token. Every field is optional on the wire; the server reads `program`
/// only when it is a string.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GatewayTokenRequest {
    /// The wizard program the run's spend is attributed to (for example
    /// `posthog-integration`); an unknown one cannot mint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub program: Option<serde_json::Value>,
    /// Set by clients that read a refusal's reason: the refusals older
    /// clients absorb by falling back to the derived gateway (not
    /// configured, not rolled out, unknown program) then answer 403 with a
    /// `code` instead of 404.
    #[serde(default)]
    pub reads_refusal_reason: bool,
}

/// `201` of `POST /api/wizard/gateway_token/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GatewayTokenAnswer {
    /// A `phe_` gateway token: the run's bearer at the gateway.
    pub token: String,
    /// RFC 3339.
    pub expires_at: String,
    /// The token's spend ceiling in US dollars, as a fixed-point string.
    pub cap_usd: Option<String>,
    /// The gateway's base URL (no `/v1`): the client sends
    /// `{gateway_url}/v1/...` and `{gateway_url}/readyz`.
    pub gateway_url: String,
    pub team_id: i64,
}
