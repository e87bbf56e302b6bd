//! The admin endpoints' view of the whole database: the counts and scopes
//! of `GET /_admin/state`, and the reset that forgets every account.

use protocol::admin::StateSummary;

use super::handle::Db;

impl Db {
    pub async fn state_summary(&self) -> sqlx::Result<StateSummary> {
        let count = |table: &'static str| async move {
            sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&mut *self.reader.get().await?)
                .await
        };
        let scopes = |table: &'static str| async move {
            sqlx::query_scalar::<_, String>(&format!(
                "SELECT scopes FROM {table} ORDER BY created_at, rowid"
            ))
            .fetch_all(&mut *self.reader.get().await?)
            .await
        };
        Ok(StateSummary {
            users: count("users").await?,
            organizations: count("organizations").await?,
            teams: count("teams").await?,
            authorization_codes: count("authorization_codes").await?,
            access_tokens: count("access_tokens").await?,
            refresh_tokens: count("refresh_tokens").await?,
            personal_api_keys: count("personal_api_keys").await?,
            personal_api_key_scopes: scopes("personal_api_keys").await?,
            access_token_scopes: scopes("access_tokens").await?,
        })
    }

    /// Deletes every account and credential; keeps the applications.
    pub async fn reset(&self) -> sqlx::Result<()> {
        self.write(|connection| {
            Box::pin(async move {
                sqlx::query(
                    "DELETE FROM personal_api_keys; DELETE FROM refresh_tokens;
                     DELETE FROM access_tokens; DELETE FROM authorization_codes;
                     DELETE FROM pending_consents;
                     DELETE FROM teams; DELETE FROM memberships; DELETE FROM users;
                     DELETE FROM organizations",
                )
                .execute(connection)
                .await?;
                Ok(())
            })
        })
        .await
    }
}
