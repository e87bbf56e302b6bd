//! The small part of the PostHog API the wizard reads (protocol section 5).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /api/users/@me/` (needs `user:read`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub uuid: String,
    pub email: String,
    pub first_name: String,
    pub organization: OrganizationRef,
    pub team: TeamRef,
    pub organizations: Vec<OrganizationRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrganizationRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TeamRef {
    pub id: i64,
    pub name: String,
    pub api_token: String,
}

/// `GET /api/projects/{id}/` (needs `project:read`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Project {
    pub id: i64,
    pub name: String,
    pub api_token: String,
    /// The organization's UUID.
    pub organization: String,
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
