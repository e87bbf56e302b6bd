//! The interactive login's storage (protocol section 6): registered
//! redirect URIs, browser sessions (only the hash of their id), remembered
//! consent, and what an authorization code is bound to.

use sqlx::FromRow;

use super::handle::{arguments, Db};
use super::named::named;

/// A live browser session of a signed-in person. A browser that has not
/// signed in has no row (its sign-in form is guarded by the anonymous form
/// cookie), and a row left without a user by an earlier version is not
/// read.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct LoginSession {
    pub user_id: i64,
    pub csrf_token: String,
    pub expires_at: i64,
}

/// A new session, stored under the hash of its id.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id_hash: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub now: i64,
    pub expires_at: i64,
}

/// What a user allowed an application.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Consent {
    pub scopes: String,
    pub team_id: i64,
}

/// What a code was issued to and where it was sent: the interactive token
/// endpoint checks both (RFC 6749 section 4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct CodeBinding {
    pub client_id: String,
    pub redirect_uri: Option<String>,
    pub team_id: i64,
}

impl Db {
    /// The redirect URIs `client_id` registered (loopback ones without a port).
    pub async fn registered_redirect_uris(&self, client_id: &str) -> sqlx::Result<Vec<String>> {
        sqlx::query_scalar("SELECT uri FROM oauth_redirect_uris WHERE client_id = ? ORDER BY uri")
            .bind(client_id)
            .fetch_all(&mut *self.reader.get().await?)
            .await
    }

    /// Registers a redirect URI for `client_id` (a seed's; kept if present).
    pub async fn register_redirect_uri(&self, client_id: &str, uri: &str) -> sqlx::Result<()> {
        self.execute(
            "INSERT OR IGNORE INTO oauth_redirect_uris (client_id, uri) VALUES (?, ?)",
            arguments![client_id.to_owned(), uri.to_owned()],
        )
        .await
        .map(drop)
    }

    pub async fn insert_session(&self, session: &NewSession) -> sqlx::Result<()> {
        let statement = named!(
            "INSERT INTO login_sessions (id_hash, user_id, csrf_token, created_at, expires_at)
             VALUES (:id_hash, :user_id, :csrf_token, :now, :expires_at)",
            id_hash = session.id_hash.clone(),
            user_id = session.user_id,
            csrf_token = session.csrf_token.clone(),
            now = session.now,
            expires_at = session.expires_at,
        );
        self.execute_named_sparing_holders(statement)
            .await
            .map(drop)
    }

    /// The signed-in session with this id hash, unless it expired by `now`.
    pub async fn session(&self, id_hash: &str, now: i64) -> sqlx::Result<Option<LoginSession>> {
        // A session created by the previous request is committed: the
        // reader sees it.
        sqlx::query_as(
            "SELECT user_id, csrf_token, expires_at FROM login_sessions
             WHERE id_hash = ? AND expires_at > ? AND user_id IS NOT NULL",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&mut *self.reader.get().await?)
        .await
    }

    /// How many session rows are stored, live or not (anonymous visitors
    /// must add none).
    pub async fn login_session_count(&self) -> sqlx::Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM login_sessions")
            .fetch_one(&mut *self.reader.get().await?)
            .await
    }

    /// Ends a session (signing in again replaces it, so a session id
    /// planted before sign-in is worthless after it).
    pub async fn delete_session(&self, id_hash: &str) -> sqlx::Result<()> {
        self.execute(
            "DELETE FROM login_sessions WHERE id_hash = ?",
            arguments![id_hash.to_owned()],
        )
        .await
        .map(drop)
    }

    pub async fn consent(&self, user_id: i64, client_id: &str) -> sqlx::Result<Option<Consent>> {
        sqlx::query_as(
            "SELECT scopes, team_id FROM oauth_consents WHERE user_id = ? AND client_id = ?",
        )
        .bind(user_id)
        .bind(client_id)
        .fetch_optional(&mut *self.reader.get().await?)
        .await
    }

    /// Remembers (or replaces) what the user allowed the application.
    pub async fn remember_consent(
        &self,
        user_id: i64,
        client_id: &str,
        scopes: &str,
        team_id: i64,
        now: i64,
    ) -> sqlx::Result<()> {
        let statement = named!(
            "INSERT INTO oauth_consents (user_id, client_id, scopes, team_id, granted_at)
             VALUES (:user_id, :client_id, :scopes, :team_id, :now)
             ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes,
                team_id = excluded.team_id, granted_at = excluded.granted_at",
            user_id = user_id,
            client_id = client_id.to_owned(),
            scopes = scopes.to_owned(),
            team_id = team_id,
            now = now,
        );
        self.execute_named_sparing_holders(statement)
            .await
            .map(drop)
    }

    /// The client, redirect URI and team a code was issued with.
    pub async fn code_binding(&self, code_hash: &str) -> sqlx::Result<Option<CodeBinding>> {
        sqlx::query_as(
            "SELECT client_id, redirect_uri, team_id FROM authorization_codes WHERE code_hash = ?",
        )
        .bind(code_hash)
        .fetch_optional(&mut *self.reader.get().await?)
        .await
    }

    /// The team a refresh token is for.
    pub async fn refresh_token_team(&self, token_hash: &str) -> sqlx::Result<Option<i64>> {
        sqlx::query_scalar("SELECT team_id FROM refresh_tokens WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(&mut *self.reader.get().await?)
            .await
    }
}
