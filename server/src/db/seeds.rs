//! The SQL of seeded accounts (organizations, users, memberships, teams,
//! personal API keys; seeded health issues are stored by
//! `health_issues.rs`). Every seed statement is an upsert, so applying a
//! seed again to the same database changes nothing and duplicates nothing.

use super::handle::{arguments, Db};
use super::named::named;

/// Where the seeds and the health-issue route have always found them.
pub use super::health_issues::{HealthIssueFilter, HealthIssueRow};

/// A seeded personal API key, stored by its hash.
#[derive(Debug, Clone)]
pub struct SeededKey {
    pub key_hash: String,
    pub masked: String,
    pub user_id: i64,
    pub team_id: i64,
    pub scopes: String,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub now: i64,
}

/// A seeded team. Without `id`, the team is found again by organization
/// and name.
#[derive(Debug, Clone)]
pub struct SeededTeam {
    pub id: Option<i64>,
    pub organization_id: String,
    pub name: String,
    pub is_demo: bool,
    /// Kept when the team exists already and none is given.
    pub api_token: Option<String>,
    /// Used for a new team when `api_token` is `None`.
    pub generated_api_token: String,
    pub now: i64,
}

impl Db {
    /// The organization with `id` (renamed to `name`), or else the one named
    /// `name`, or else a new one with `new_id`. Returns its id.
    pub async fn upsert_seeded_organization(
        &self,
        id: Option<&str>,
        name: &str,
        new_id: &str,
        now: i64,
    ) -> sqlx::Result<String> {
        let (id, name, new_id) = (id.map(str::to_owned), name.to_owned(), new_id.to_owned());
        self.write(move |connection| {
            let id = id.clone();
            let name = name.clone();
            let new_id = new_id.clone();
            Box::pin(async move {
                if let Some(id) = id {
                    sqlx::query(
                        "INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?)
                         ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                    )
                    .bind(&id)
                    .bind(&name)
                    .bind(now)
                    .execute(connection)
                    .await?;
                    return Ok(id);
                }
                let existing: Option<String> = sqlx::query_scalar(
                    "SELECT id FROM organizations WHERE name = ? ORDER BY created_at LIMIT 1",
                )
                .bind(&name)
                .fetch_optional(&mut *connection)
                .await?;
                if let Some(existing) = existing {
                    return Ok(existing);
                }
                sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?)")
                    .bind(&new_id)
                    .bind(&name)
                    .bind(now)
                    .execute(connection)
                    .await?;
                Ok(new_id)
            })
        })
        .await
    }

    /// The user with `email` (first name updated), or a new one. Returns its
    /// id and stored password hash.
    pub async fn upsert_seeded_user(
        &self,
        email: &str,
        first_name: &str,
        new_uuid: &str,
        now: i64,
    ) -> sqlx::Result<(i64, Option<String>)> {
        let values = [email, first_name, new_uuid].map(str::to_owned);
        self.write(move |connection| {
            let values = values.clone();
            Box::pin(async move {
                let [email, first_name, new_uuid] = values;
                sqlx::query_as(
                    "INSERT INTO users (uuid, email, first_name, created_at) VALUES (?, ?, ?, ?)
                     ON CONFLICT (email) DO UPDATE SET first_name = excluded.first_name
                     RETURNING id, password_hash",
                )
                .bind(new_uuid)
                .bind(email)
                .bind(first_name)
                .bind(now)
                .fetch_one(connection)
                .await
            })
        })
        .await
    }

    pub async fn upsert_membership(
        &self,
        user_id: i64,
        organization_id: &str,
        joined_at: i64,
    ) -> sqlx::Result<()> {
        self.execute(
            "INSERT INTO memberships (user_id, organization_id, joined_at) VALUES (?, ?, ?)
             ON CONFLICT (user_id, organization_id) DO UPDATE SET joined_at = excluded.joined_at",
            arguments![user_id, organization_id.to_owned(), joined_at],
        )
        .await
        .map(drop)
    }

    /// Creates or updates a seeded team; returns its id.
    pub async fn upsert_seeded_team(&self, team: &SeededTeam) -> sqlx::Result<i64> {
        let team = team.clone();
        self.write(move |connection| {
            let team = team.clone();
            Box::pin(async move {
                let existing: Option<i64> = match team.id {
                    Some(id) => {
                        sqlx::query_scalar("SELECT id FROM teams WHERE id = ?")
                            .bind(id)
                            .fetch_optional(&mut *connection)
                            .await?
                    }
                    None => {
                        sqlx::query_scalar(
                            "SELECT id FROM teams WHERE organization_id = ? AND name = ?
                             ORDER BY id LIMIT 1",
                        )
                        .bind(&team.organization_id)
                        .bind(&team.name)
                        .fetch_optional(&mut *connection)
                        .await?
                    }
                };
                if let Some(id) = existing {
                    let update = named!(
                        "UPDATE teams SET organization_id = :organization_id, name = :name,
                            is_demo = :is_demo, api_token = COALESCE(:api_token, api_token),
                            removed_at = NULL
                         WHERE id = :id",
                        organization_id = team.organization_id.clone(),
                        name = team.name.clone(),
                        is_demo = team.is_demo,
                        api_token = team.api_token.clone(),
                        id = id,
                    );
                    update.query().execute(connection).await?;
                    return Ok(id);
                }
                let insert = named!(
                    "INSERT INTO teams (id, organization_id, name, api_token, is_demo, region,
                        created_at)
                     VALUES (:id, :organization_id, :name, :api_token, :is_demo, 'us', :now)
                     RETURNING id",
                    id = team.id,
                    organization_id = team.organization_id.clone(),
                    name = team.name.clone(),
                    api_token = team
                        .api_token
                        .clone()
                        .unwrap_or(team.generated_api_token.clone()),
                    is_demo = team.is_demo,
                    now = team.now,
                );
                insert.query_scalar().fetch_one(connection).await
            })
        })
        .await
    }

    /// Stores (or updates) a seeded personal API key by its hash.
    pub async fn upsert_seeded_key(&self, key: &SeededKey) -> sqlx::Result<()> {
        let statement = named!(
            "INSERT INTO personal_api_keys (key_hash, masked, user_id, team_id, client_id, scopes,
                created_at, expires_at, revoked_at)
             VALUES (:key_hash, :masked, :user_id, :team_id, NULL, :scopes,
                :now, :expires_at, :revoked_at)
             ON CONFLICT (key_hash) DO UPDATE SET user_id = excluded.user_id,
                team_id = excluded.team_id, scopes = excluded.scopes,
                expires_at = excluded.expires_at, revoked_at = excluded.revoked_at",
            key_hash = key.key_hash.clone(),
            masked = key.masked.clone(),
            user_id = key.user_id,
            team_id = key.team_id,
            scopes = key.scopes.clone(),
            now = key.now,
            expires_at = key.expires_at,
            revoked_at = key.revoked_at,
        );
        self.execute_named(statement).await.map(drop)
    }

    /// The ids of the live teams named `name`, in any organization.
    pub async fn team_id_by_name(&self, name: &str) -> sqlx::Result<Vec<i64>> {
        sqlx::query_scalar("SELECT id FROM teams WHERE name = ? AND removed_at IS NULL ORDER BY id")
            .bind(name)
            .fetch_all(&mut *self.reader.get().await?)
            .await
    }

    pub async fn user_id_by_email(&self, email: &str) -> sqlx::Result<Option<i64>> {
        sqlx::query_scalar("SELECT id FROM users WHERE email = ?")
            .bind(email)
            .fetch_optional(&mut *self.reader.get().await?)
            .await
    }
}
