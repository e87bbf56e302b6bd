//! Reads and writes of a user's teams that several flows share: the teams
//! a person sees, and the "Default project" made when they have none.

use protocol::credential::{Credential, CredentialKind};

use crate::db::Team;
use crate::error::ApiError;
use crate::state::AppState;

/// The name of a team made for a person who has none.
pub const DEFAULT_PROJECT: &str = "Default project";

/// The user's non-demo teams, oldest membership first.
pub async fn real_teams(state: &AppState, user_id: i64) -> Result<Vec<Team>, ApiError> {
    Ok(state
        .db
        .teams_of_user(user_id)
        .await?
        .into_iter()
        .filter(|team| !team.is_demo)
        .collect())
}

/// A new "Default project" in `organization_id`, with a fresh `phc_`: its
/// id.
pub async fn create_default_team(
    state: &AppState,
    organization_id: &str,
    now: i64,
) -> Result<i64, ApiError> {
    let api_token = Credential::generate(CredentialKind::ProjectApiKey, state.random.as_ref());
    Ok(state
        .db
        .create_team(
            organization_id,
            DEFAULT_PROJECT,
            api_token.expose(),
            state.region.as_str(),
            now,
        )
        .await?)
}
