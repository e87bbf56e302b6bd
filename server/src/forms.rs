//! The shapes of the forms and query strings the server's pages read from
//! a browser. They cross the wire (a browser sends them), but no other
//! program of the workspace sends them: the e2e browser fills in the
//! pages' own forms (`login_html.rs` names their fields). Every field is
//! optional, so a form missing one is answered by its page, not by a
//! parse error.

use serde::Deserialize;

/// What the interactive login's forms (`POST /oauth/authorize`) add to the
/// authorize parameters they carry as hidden fields.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizeForm {
    #[serde(default)]
    pub step: Option<String>,
    #[serde(default)]
    pub csrf_token: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub team_id: Option<String>,
    #[serde(default)]
    pub decision: Option<String>,
}

/// Today's consent page: its query (`state`) and its form (`state`,
/// `csrf_token`, `team_id`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub csrf_token: Option<String>,
    #[serde(default)]
    pub team_id: Option<String>,
}

/// The app's sign-in page (`/login`): its query (`next`) and its form.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub csrf_token: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

/// The query of today's consent entry, `GET /api/agentic/authorize`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EntryQuery {
    #[serde(default)]
    pub state: Option<String>,
}

/// The query of the account-mismatch page.
#[derive(Debug, Default, Deserialize)]
pub struct MismatchQuery {
    #[serde(default)]
    pub expected_email: String,
    #[serde(default)]
    pub current_email: String,
    #[serde(default)]
    pub partner_name: String,
}

/// The query of the app's home page, where a refused link lands.
#[derive(Debug, Default, Deserialize)]
pub struct HomeQuery {
    pub error: Option<String>,
}
