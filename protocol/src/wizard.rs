//! What the wizard prints for programs (protocol section 9): the JSON of
//! `wizard provision --json` and of its errors.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `wizard provision --json` on success. One of the two places that hand a
/// credential to a person (protocol section 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProvisionOutput {
    pub email: String,
    /// `us` or `eu`.
    pub region: String,
    pub project_id: i64,
    pub organization_id: String,
    pub project_api_key: String,
    pub host: String,
    /// Absent when the server minted none (today's server mints none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_api_key: Option<String>,
    pub scope: String,
}

/// A wizard error for programs, on stderr: `{"error","code"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WizardErrorOutput {
    pub error: String,
    /// `email_exists` or `provisioning_failed`.
    pub code: String,
}
