//! OAuth tokens (`access_tokens`, `refresh_tokens`, stored hashed): a new
//! pair, and the refresh that rotates one pair into the next in one write.
//! A code's first pair is stored by the exchange (`codes.rs`); a token is
//! read with its holder in `holders.rs`.

use sqlx::FromRow;

use super::handle::Db;
use super::named::{named, Named};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct RefreshGrant {
    pub access_token_hash: String,
    pub client_id: String,
    pub user_id: i64,
    pub team_id: i64,
    pub scopes: String,
    pub code_hash: Option<String>,
    pub revoked_at: Option<i64>,
}

/// A new pair of tokens, stored hashed.
#[derive(Debug, Clone)]
pub struct NewTokens {
    pub access_hash: String,
    pub refresh_hash: String,
    pub client_id: String,
    pub user_id: i64,
    pub team_id: i64,
    pub scopes: String,
    pub code_hash: Option<String>,
    pub now: i64,
    pub expires_at: i64,
}

/// The refresh token being exchanged, and the access token it came with.
#[derive(Debug, Clone)]
pub struct RefreshRotation {
    pub refresh_hash: String,
    pub access_hash: String,
}

/// Both rows of a new pair, in one round trip.
fn insert_token_rows(tokens: &NewTokens) -> sqlx::Result<Named> {
    Ok(named!(
        "INSERT INTO access_tokens (token_hash, client_id, user_id, team_id, scopes, code_hash,
            created_at, expires_at)
         VALUES (:access_hash, :client_id, :user_id, :team_id, :scopes, :code_hash,
            :now, :expires_at);
         INSERT INTO refresh_tokens (token_hash, access_token_hash, client_id, user_id, team_id,
            scopes, code_hash, created_at)
         VALUES (:refresh_hash, :access_hash, :client_id, :user_id, :team_id,
            :scopes, :code_hash, :now)",
        access_hash = tokens.access_hash.clone(),
        refresh_hash = tokens.refresh_hash.clone(),
        client_id = tokens.client_id.clone(),
        user_id = tokens.user_id,
        team_id = tokens.team_id,
        scopes = tokens.scopes.clone(),
        code_hash = tokens.code_hash.clone(),
        now = tokens.now,
        expires_at = tokens.expires_at,
    ))
}

/// Revokes every live credential of one family, the authorization code
/// `?2`, at `?1`: its access and refresh tokens, every rotation of them,
/// and the personal API keys they minted.
pub(super) const REVOKE_FAMILY: &str = "UPDATE access_tokens SET revoked_at = ?1
        WHERE code_hash = ?2 AND revoked_at IS NULL;
     UPDATE refresh_tokens SET revoked_at = ?1
        WHERE code_hash = ?2 AND revoked_at IS NULL;
     UPDATE personal_api_keys SET revoked_at = ?1
        WHERE code_hash = ?2 AND revoked_at IS NULL";

impl Db {
    /// Revokes the family of the code `code_hash` (`REVOKE_FAMILY`):
    /// how many credentials were live.
    pub async fn revoke_family(&self, code_hash: &str, now: i64) -> sqlx::Result<u64> {
        let code_hash = code_hash.to_owned();
        self.write(move |connection| {
            let code_hash = code_hash.clone();
            Box::pin(async move {
                Ok(sqlx::query(REVOKE_FAMILY)
                    .bind(now)
                    .bind(code_hash)
                    .execute(connection)
                    .await?
                    .rows_affected())
            })
        })
        .await
    }

    /// Stores a new access and refresh token, revoking `rotated` (the
    /// refresh token being exchanged) in the same write. `false`: the
    /// refresh token was rotated by someone else meanwhile, so it was
    /// presented twice; its whole family is revoked in the same write
    /// (RFC 9700 section 4.14.2).
    pub async fn insert_tokens(
        &self,
        tokens: &NewTokens,
        rotated: Option<&RefreshRotation>,
    ) -> sqlx::Result<bool> {
        let insert = insert_token_rows(tokens)?;
        let now = tokens.now;
        let rotated = rotated.cloned();
        let family = tokens.code_hash.clone();
        self.write(move |connection| {
            let rotated = rotated.clone();
            let insert = insert.clone();
            let insert_family = family.clone();
            Box::pin(async move {
                if let Some(rotated) = rotated {
                    let revoked = sqlx::query(
                        "UPDATE refresh_tokens SET revoked_at = ?
                         WHERE token_hash = ? AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .bind(&rotated.refresh_hash)
                    .execute(&mut *connection)
                    .await?
                    .rows_affected();
                    if revoked == 0 {
                        // Lost a race with another rotation of the same
                        // token: it was presented twice.
                        if let Some(code_hash) = &insert_family {
                            sqlx::query(REVOKE_FAMILY)
                                .bind(now)
                                .bind(code_hash)
                                .execute(&mut *connection)
                                .await?;
                        }
                        return Ok(false);
                    }
                    sqlx::query(
                        "UPDATE access_tokens SET revoked_at = ?
                         WHERE token_hash = ? AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .bind(&rotated.access_hash)
                    .execute(&mut *connection)
                    .await?;
                }
                insert.query().execute(connection).await?;
                Ok(true)
            })
        })
        .await
    }

    pub async fn refresh_token(&self, token_hash: &str) -> sqlx::Result<Option<RefreshGrant>> {
        sqlx::query_as(
            "SELECT access_token_hash, client_id, user_id, team_id, scopes, code_hash, revoked_at
             FROM refresh_tokens WHERE token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(&mut *self.reader.get().await?)
        .await
    }
}
