//! Personal API keys (`personal_api_keys`, stored hashed) that provisioning
//! mints with a resource. A key is read with its holder in `holders.rs`;
//! rotation and removal revoke keys in `lifecycle.rs`, seeds store theirs in
//! `seeds.rs`.

use super::handle::Db;
use super::named::named;

impl Db {
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_personal_key(
        &self,
        key_hash: &str,
        masked: &str,
        user_id: i64,
        team_id: i64,
        client_id: Option<&str>,
        scopes: &str,
        now: i64,
        expires_at: Option<i64>,
    ) -> sqlx::Result<()> {
        let statement = named!(
            "INSERT INTO personal_api_keys (key_hash, masked, user_id, team_id, client_id, scopes,
                created_at, expires_at)
             VALUES (:key_hash, :masked, :user_id, :team_id, :client_id, :scopes,
                :now, :expires_at)",
            key_hash = key_hash.to_owned(),
            masked = masked.to_owned(),
            user_id = user_id,
            team_id = team_id,
            client_id = client_id.map(str::to_owned),
            scopes = scopes.to_owned(),
            now = now,
            expires_at = expires_at,
        );
        self.execute_named(statement).await.map(drop)
    }
}
