//! The simulator's own admin routes (protocol section 10). Not part of the
//! real system; they exist so scenarios can read state and move the clock.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One request as the server or gateway saw it. Credentials appear only
/// masked (`phx_***`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JournalEntry {
    /// Unix seconds on the program's (possibly advanced) clock.
    pub at: i64,
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// The credential kind's prefix and mask, such as `pha_***`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// What the program decided, such as `granted`, `insufficient_scope`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// A short machine-readable reason for an error answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `GET /_admin/journal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Journal {
    pub entries: Vec<JournalEntry>,
}

/// `GET /_admin/clock` and the answer of `POST /_admin/clock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClockAnswer {
    /// Unix seconds.
    pub now: i64,
    /// Seconds the clock has been advanced past the system time.
    pub offset_seconds: i64,
}

/// `POST /_admin/clock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClockAdvance {
    pub advance_seconds: i64,
}

/// `GET /_admin/state`: counts a scenario can assert on.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct StateSummary {
    pub users: i64,
    pub organizations: i64,
    pub teams: i64,
    pub authorization_codes: i64,
    pub access_tokens: i64,
    pub refresh_tokens: i64,
    pub personal_api_keys: i64,
    /// Scopes of every personal API key, space separated, oldest first.
    pub personal_api_key_scopes: Vec<String>,
    /// Scopes of every access token, space separated, oldest first.
    pub access_token_scopes: Vec<String>,
}
