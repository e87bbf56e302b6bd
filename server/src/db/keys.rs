//! Personal API keys (`personal_api_keys`, stored hashed) that provisioning
//! mints with a resource. A key is read with its holder in `holders.rs`;
//! rotation and removal revoke keys in `lifecycle.rs`, seeds store theirs in
//! `seeds.rs`.

use super::handle::Db;
use super::named::named;

/// A personal API key to store.
#[derive(Debug, Clone)]
pub struct NewPersonalKey {
    pub key_hash: String,
    pub masked: String,
    pub user_id: i64,
    pub team_id: i64,
    /// The partner that minted it.
    pub client_id: Option<String>,
    pub scopes: String,
    /// The authorization code of the token that minted it: the key dies
    /// with that code's family.
    pub code_hash: Option<String>,
    pub now: i64,
    pub expires_at: Option<i64>,
}

impl Db {
    pub async fn insert_personal_key(&self, key: &NewPersonalKey) -> sqlx::Result<()> {
        let statement = named!(
            "INSERT INTO personal_api_keys (key_hash, masked, user_id, team_id, client_id, scopes,
                code_hash, created_at, expires_at)
             VALUES (:key_hash, :masked, :user_id, :team_id, :client_id, :scopes,
                :code_hash, :now, :expires_at)",
            key_hash = key.key_hash.clone(),
            masked = key.masked.clone(),
            user_id = key.user_id,
            team_id = key.team_id,
            client_id = key.client_id.clone(),
            scopes = key.scopes.clone(),
            code_hash = key.code_hash.clone(),
            now = key.now,
            expires_at = key.expires_at,
        );
        // A new credential: no kept holder is its.
        self.execute_named_sparing_holders(statement)
            .await
            .map(drop)
    }
}
