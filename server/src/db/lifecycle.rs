//! The life of a provisioned resource after its creation: credential
//! rotation, removal, and the deep links that sign a person into it
//! (protocol section 4). Every change that touches more than one row runs in
//! one write (one transaction), so a reader never sees half a rotation.

use sqlx::FromRow;

use super::handle::Db;
use super::named::named;

/// The personal API key a rotation mints, stored hashed.
#[derive(Debug, Clone)]
pub struct RotatedKey {
    pub key_hash: String,
    pub masked: String,
    pub client_id: Option<String>,
    pub scopes: String,
    /// The authorization code of the token that minted it.
    pub code_hash: Option<String>,
}

/// What a rotation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The team has a new `phc_` and the new key is stored; `revoked_keys`
    /// personal API keys stopped working.
    Rotated { revoked_keys: u64 },
    /// The team was removed (or never existed) meanwhile.
    TeamGone,
}

/// A deep link as stored (the token only as its hash).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct DeepLink {
    pub token_hash: String,
    pub client_id: Option<String>,
    pub user_id: i64,
    pub team_id: i64,
    pub purpose: String,
    pub path: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// What following a deep link found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkUse {
    /// This request used it: redirect to `path`.
    Now(DeepLink),
    /// It was used before.
    Used,
    /// Its 600 s are over (and it was never used).
    Expired,
    /// No such link, or its team was removed.
    Unknown,
}

impl Db {
    /// Gives the team a new `phc_`, revokes (when `revoke_earlier`) the
    /// personal API keys that provisioning minted for `user_id` on this team
    /// (every live key of that user and team with a partner `client_id`;
    /// keys a seed or a person made, without one, are left alone), and
    /// stores `key`, all in one transaction.
    pub async fn rotate_credentials(
        &self,
        team_id: i64,
        user_id: i64,
        api_token: &str,
        key: Option<&RotatedKey>,
        revoke_earlier: bool,
        now: i64,
    ) -> sqlx::Result<Rotation> {
        let api_token = api_token.to_owned();
        let insert_key = match key {
            Some(key) => Some(named!(
                "INSERT INTO personal_api_keys (key_hash, masked, user_id, team_id, client_id,
                    scopes, code_hash, created_at, expires_at)
                 VALUES (:key_hash, :masked, :user_id, :team_id, :client_id,
                    :scopes, :code_hash, :now, NULL)",
                key_hash = key.key_hash.clone(),
                masked = key.masked.clone(),
                user_id = user_id,
                team_id = team_id,
                client_id = key.client_id.clone(),
                scopes = key.scopes.clone(),
                code_hash = key.code_hash.clone(),
                now = now,
            )),
            None => None,
        };
        self.write(move |connection| {
            let api_token = api_token.clone();
            let insert_key = insert_key.clone();
            Box::pin(async move {
                let updated = sqlx::query(
                    "UPDATE teams SET api_token = ? WHERE id = ? AND removed_at IS NULL",
                )
                .bind(api_token)
                .bind(team_id)
                .execute(&mut *connection)
                .await?
                .rows_affected();
                if updated == 0 {
                    return Ok(Rotation::TeamGone);
                }
                let revoked_keys = match revoke_earlier {
                    false => 0,
                    true => sqlx::query(
                        "UPDATE personal_api_keys SET revoked_at = ?
                         WHERE team_id = ? AND user_id = ? AND client_id IS NOT NULL
                           AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .bind(team_id)
                    .bind(user_id)
                    .execute(&mut *connection)
                    .await?
                    .rows_affected(),
                };
                if let Some(insert_key) = insert_key {
                    insert_key.query().execute(connection).await?;
                }
                Ok(Rotation::Rotated { revoked_keys })
            })
        })
        .await
    }

    /// Revokes every live access and refresh token `client_id` holds for
    /// `user_id` (a partner's tokens once the last of their teams is
    /// removed); the number of tokens revoked.
    pub async fn revoke_partner_tokens(
        &self,
        user_id: i64,
        client_id: &str,
        now: i64,
    ) -> sqlx::Result<u64> {
        let client_id = client_id.to_owned();
        self.write(move |connection| {
            let client_id = client_id.clone();
            Box::pin(async move {
                let mut revoked = 0;
                for table in ["access_tokens", "refresh_tokens"] {
                    revoked += sqlx::query(&format!(
                        "UPDATE {table} SET revoked_at = ?
                            WHERE user_id = ? AND client_id = ? AND revoked_at IS NULL"
                    ))
                    .bind(now)
                    .bind(user_id)
                    .bind(&client_id)
                    .execute(&mut *connection)
                    .await?
                    .rows_affected();
                }
                Ok(revoked)
            })
        })
        .await
    }

    /// Marks the team removed and revokes every personal API key on it
    /// (whoever holds it) and its unused deep links. `false` when it was
    /// already removed or does not exist.
    pub async fn remove_team(&self, team_id: i64, now: i64) -> sqlx::Result<bool> {
        self.write(move |connection| {
            Box::pin(async move {
                let removed = sqlx::query(
                    "UPDATE teams SET removed_at = ? WHERE id = ? AND removed_at IS NULL",
                )
                .bind(now)
                .bind(team_id)
                .execute(&mut *connection)
                .await?
                .rows_affected();
                if removed == 0 {
                    return Ok(false);
                }
                sqlx::query(
                    "UPDATE personal_api_keys SET revoked_at = ?
                        WHERE team_id = ? AND revoked_at IS NULL;
                     DELETE FROM deep_links WHERE team_id = ? AND used_at IS NULL",
                )
                .bind(now)
                .bind(team_id)
                .bind(team_id)
                .execute(connection)
                .await?;
                Ok(true)
            })
        })
        .await
    }

    pub async fn insert_deep_link(&self, link: &DeepLink) -> sqlx::Result<()> {
        let statement = named!(
            "INSERT INTO deep_links (token_hash, client_id, user_id, team_id, purpose, path,
                created_at, expires_at)
             VALUES (:token_hash, :client_id, :user_id, :team_id, :purpose, :path,
                :created_at, :expires_at)",
            token_hash = link.token_hash.clone(),
            client_id = link.client_id.clone(),
            user_id = link.user_id,
            team_id = link.team_id,
            purpose = link.purpose.clone(),
            path = link.path.clone(),
            created_at = link.created_at,
            expires_at = link.expires_at,
        );
        self.execute_named(statement).await.map(drop)
    }

    /// Uses the link, atomically: of two concurrent follows exactly one
    /// sees [`LinkUse::Now`]. A link whose team was removed is unknown.
    pub async fn use_deep_link(&self, token_hash: &str, now: i64) -> sqlx::Result<LinkUse> {
        let token_hash = token_hash.to_owned();
        self.write(move |connection| {
            let token_hash = token_hash.clone();
            Box::pin(async move {
                let used: Option<DeepLink> = sqlx::query_as(
                    "UPDATE deep_links SET used_at = ?
                     WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?
                       AND team_id IN (SELECT id FROM teams WHERE removed_at IS NULL)
                     RETURNING *",
                )
                .bind(now)
                .bind(&token_hash)
                .bind(now)
                .fetch_optional(&mut *connection)
                .await?;
                if let Some(link) = used {
                    return Ok(LinkUse::Now(link));
                }
                let found: Option<DeepLink> =
                    sqlx::query_as("SELECT * FROM deep_links WHERE token_hash = ?")
                        .bind(&token_hash)
                        .fetch_optional(connection)
                        .await?;
                Ok(match found {
                    Some(link) if link.used_at.is_some() => LinkUse::Used,
                    Some(link) if link.expires_at <= now => LinkUse::Expired,
                    _ => LinkUse::Unknown,
                })
            })
        })
        .await
    }
}
