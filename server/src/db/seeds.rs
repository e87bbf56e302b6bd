//! The SQL of seeded accounts (organizations, users, teams, personal API
//! keys, health issues), of hourly rate limits, and of account-request
//! idempotency. Every seed statement is an upsert, so applying a seed again
//! to the same database changes nothing and duplicates nothing.

use sqlx::FromRow;

use super::Db;

/// A stored health issue (`protocol::posthog::HealthIssue` on the wire).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct HealthIssueRow {
    pub id: String,
    pub team_id: i64,
    pub kind: String,
    pub severity: String,
    pub status: String,
    pub dismissed: bool,
    pub created_at: i64,
}

/// Which health issues to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthIssueFilter {
    pub status: Option<String>,
    pub dismissed: Option<bool>,
    pub limit: i64,
}

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

/// A stored account-request answer, for idempotency.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct StoredAccountRequest {
    pub canonical_body: String,
    pub answer: String,
    pub created_at: i64,
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
                    sqlx::query(
                        "UPDATE teams SET organization_id = ?, name = ?, is_demo = ?,
                            api_token = COALESCE(?, api_token), removed_at = NULL WHERE id = ?",
                    )
                    .bind(&team.organization_id)
                    .bind(&team.name)
                    .bind(team.is_demo)
                    .bind(&team.api_token)
                    .bind(id)
                    .execute(connection)
                    .await?;
                    return Ok(id);
                }
                sqlx::query_scalar(
                    "INSERT INTO teams (id, organization_id, name, api_token, is_demo, region,
                        created_at) VALUES (?, ?, ?, ?, ?, 'us', ?) RETURNING id",
                )
                .bind(team.id)
                .bind(&team.organization_id)
                .bind(&team.name)
                .bind(team.api_token.as_ref().unwrap_or(&team.generated_api_token))
                .bind(team.is_demo)
                .bind(team.now)
                .fetch_one(connection)
                .await
            })
        })
        .await
    }

    /// Stores (or updates) a seeded personal API key by its hash.
    pub async fn upsert_seeded_key(&self, key: &SeededKey) -> sqlx::Result<()> {
        self.execute(
            "INSERT INTO personal_api_keys (key_hash, masked, user_id, team_id, client_id, scopes,
                created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?)
             ON CONFLICT (key_hash) DO UPDATE SET user_id = excluded.user_id,
                team_id = excluded.team_id, scopes = excluded.scopes,
                expires_at = excluded.expires_at, revoked_at = excluded.revoked_at",
            arguments![
                key.key_hash.clone(),
                key.masked.clone(),
                key.user_id,
                key.team_id,
                key.scopes.clone(),
                key.now,
                key.expires_at,
                key.revoked_at,
            ],
        )
        .await
        .map(drop)
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

    pub async fn upsert_health_issue(&self, issue: &HealthIssueRow) -> sqlx::Result<()> {
        self.execute(
            "INSERT INTO health_issues (id, team_id, kind, severity, status, dismissed, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET team_id = excluded.team_id, kind = excluded.kind,
                severity = excluded.severity, status = excluded.status,
                dismissed = excluded.dismissed, created_at = excluded.created_at",
            arguments![
                issue.id.clone(),
                issue.team_id,
                issue.kind.clone(),
                issue.severity.clone(),
                issue.status.clone(),
                issue.dismissed,
                issue.created_at,
            ],
        )
        .await
        .map(drop)
    }

    /// A team's health issues matching `filter`, newest first, at most
    /// `filter.limit`, and how many match in all.
    pub async fn health_issues(
        &self,
        team_id: i64,
        filter: &HealthIssueFilter,
    ) -> sqlx::Result<(Vec<HealthIssueRow>, i64)> {
        const MATCHES: &str = "FROM health_issues WHERE team_id = ?1
            AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR dismissed = ?3)";
        let rows = sqlx::query_as(&format!(
            "SELECT id, team_id, kind, severity, status, dismissed, created_at {MATCHES}
             ORDER BY created_at DESC, id LIMIT ?4"
        ))
        .bind(team_id)
        .bind(&filter.status)
        .bind(filter.dismissed)
        .bind(filter.limit)
        .fetch_all(&mut *self.reader.get().await?)
        .await?;
        let count = sqlx::query_scalar(&format!("SELECT COUNT(*) {MATCHES}"))
            .bind(team_id)
            .bind(&filter.status)
            .bind(filter.dismissed)
            .fetch_one(&mut *self.reader.get().await?)
            .await?;
        Ok((rows, count))
    }

    /// Counts one use of `kind` by `client_id` in the window starting at
    /// `window_start`, unless `limit` uses were counted already. Atomic:
    /// concurrent requests never exceed the limit. Returns whether the use
    /// is allowed.
    pub async fn take_rate_limit(
        &self,
        client_id: &str,
        kind: &str,
        window_start: i64,
        limit: i64,
    ) -> sqlx::Result<bool> {
        if limit <= 0 {
            return Ok(false);
        }
        let (client_id, kind) = (client_id.to_owned(), kind.to_owned());
        let counted: Option<i64> = self
            .write(move |connection| {
                let client_id = client_id.clone();
                let kind = kind.clone();
                Box::pin(async move {
                    sqlx::query_scalar(
                        "INSERT INTO rate_limit_windows (client_id, kind, window_start, count)
                         VALUES (?, ?, ?, 1)
                         ON CONFLICT (client_id, kind, window_start)
                         DO UPDATE SET count = count + 1 WHERE count < ?
                         RETURNING count",
                    )
                    .bind(client_id)
                    .bind(kind)
                    .bind(window_start)
                    .bind(limit)
                    .fetch_optional(connection)
                    .await
                })
            })
            .await?;
        Ok(counted.is_some())
    }

    /// Takes one token from `client_id`'s bucket for `kind` (capacity
    /// `burst`, refilled at `per_hour` a hour, full when first used), in one
    /// write. Answers whether it was taken and the tokens left after.
    pub async fn take_token(
        &self,
        client_id: &str,
        kind: &str,
        now: i64,
        burst: i64,
        per_hour: i64,
    ) -> sqlx::Result<(bool, f64)> {
        let (client_id, kind) = (client_id.to_owned(), kind.to_owned());
        self.write(move |connection| {
            let client_id = client_id.clone();
            let kind = kind.clone();
            Box::pin(async move {
                let stored: Option<(f64, i64)> = sqlx::query_as(
                    "SELECT tokens, updated_at FROM rate_limit_buckets
                     WHERE client_id = ? AND kind = ?",
                )
                .bind(&client_id)
                .bind(&kind)
                .fetch_optional(&mut *connection)
                .await?;
                let capacity = burst as f64;
                let available = match stored {
                    None => capacity,
                    Some((tokens, updated_at)) => {
                        let elapsed = (now - updated_at).max(0) as f64;
                        (tokens + elapsed * per_hour as f64 / 3600.0).min(capacity)
                    }
                };
                let taken = available >= 1.0;
                let left = if taken { available - 1.0 } else { available };
                sqlx::query(
                    "INSERT INTO rate_limit_buckets (client_id, kind, tokens, updated_at)
                     VALUES (?, ?, ?, ?)
                     ON CONFLICT (client_id, kind)
                     DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at",
                )
                .bind(&client_id)
                .bind(&kind)
                .bind(left)
                .bind(now)
                .execute(connection)
                .await?;
                Ok((taken, left))
            })
        })
        .await
    }

    /// The stored state of `client_id`'s bucket for `kind` (tokens left and
    /// when they were counted), read without charging it.
    pub async fn token_bucket(
        &self,
        client_id: &str,
        kind: &str,
    ) -> sqlx::Result<Option<(f64, i64)>> {
        sqlx::query_as(
            "SELECT tokens, updated_at FROM rate_limit_buckets
             WHERE client_id = ? AND kind = ?",
        )
        .bind(client_id)
        .bind(kind)
        .fetch_optional(&mut *self.reader.get().await?)
        .await
    }

    /// The answer kept for `client_id`'s request `request_id`, if any.
    pub async fn stored_account_request(
        &self,
        client_id: &str,
        request_id: &str,
    ) -> sqlx::Result<Option<StoredAccountRequest>> {
        sqlx::query_as(
            "SELECT body_hash AS canonical_body, answer, created_at FROM account_requests
             WHERE client_id = ? AND request_id = ?",
        )
        .bind(client_id)
        .bind(request_id)
        .fetch_optional(&mut *self.reader.get().await?)
        .await
    }

    /// Keeps an answered account request (replacing one older than the
    /// idempotency window, which the caller has checked).
    pub async fn store_account_request(
        &self,
        client_id: &str,
        request_id: &str,
        canonical_body: &str,
        answer: &str,
        region: Option<&str>,
        now: i64,
    ) -> sqlx::Result<()> {
        self.execute(
            "INSERT OR REPLACE INTO account_requests (client_id, request_id, body_hash,
                answer, region, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments![
                client_id.to_owned(),
                request_id.to_owned(),
                canonical_body.to_owned(),
                answer.to_owned(),
                region.map(str::to_owned),
                now,
            ],
        )
        .await
        .map(drop)
    }

    /// The region recorded for `client_id`'s request `request_id`.
    pub async fn account_request_region(
        &self,
        client_id: &str,
        request_id: &str,
    ) -> sqlx::Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT region FROM account_requests WHERE client_id = ? AND request_id = ?",
        )
        .bind(client_id)
        .bind(request_id)
        .fetch_optional(&mut *self.reader.get().await?)
        .await?
        .flatten())
    }
}
