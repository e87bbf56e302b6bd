//! Persistence: SQLite through sqlx, with the migrations in `migrations/`.
//!
//! Writes go through one connection (the `writer` pool has exactly one), so
//! a transaction never has to upgrade a read lock under contention and
//! SQLite never answers `SQLITE_BUSY` to a writer; reads use a separate
//! pool and, in WAL mode, never wait for the writer. `sqlite::memory:`
//! gives each connection its own database, so a throwaway in-memory server
//! uses the single writer connection for reads too.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{FromRow, SqlitePool};

use protocol::admin::StateSummary;

pub mod lifecycle;
pub mod login;
pub mod seeds;

/// The two pools. Cloning is cheap.
#[derive(Debug, Clone)]
pub struct Db {
    writer: SqlitePool,
    reader: SqlitePool,
}

/// An OAuth application: a partner or a resource server.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Application {
    pub client_id: String,
    pub label: String,
    pub kind: String,
    pub auth_method: String,
    pub secrets: String,
    pub active: bool,
    pub can_create_accounts: bool,
    pub can_provision_resources: bool,
    pub can_issue_deep_links: bool,
    pub skip_existing_user_consent: bool,
    pub scope_ceiling: String,
    pub rate_limits: String,
}

impl Application {
    pub fn ceiling(&self) -> Vec<String> {
        protocol::scope::split(&self.scope_ceiling)
    }

    /// Stored secrets: signing secrets (hmac) or secret hashes (basic).
    pub fn secret_list(&self) -> Vec<String> {
        serde_json::from_str(&self.secrets).unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct User {
    pub id: i64,
    pub uuid: String,
    pub email: String,
    pub first_name: String,
}

/// A team with its organization, as listed in `available_teams`.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Team {
    pub id: i64,
    pub name: String,
    pub api_token: String,
    pub is_demo: bool,
    pub organization_id: String,
    pub organization_name: String,
    /// When the user joined the team's organization (for "oldest membership").
    pub joined_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Code {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: i64,
    pub team_id: i64,
    pub scopes: String,
    pub code_challenge: Option<String>,
    /// The redirect URI of the interactive login that issued the code
    /// (read by the exchange; queries that do not select it leave it out).
    #[sqlx(default)]
    pub redirect_uri: Option<String>,
    pub region: String,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
}

/// A live or dead bearer credential (access token or personal key).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Grant {
    pub client_id: Option<String>,
    pub user_id: i64,
    pub team_id: i64,
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Whether the issuing partner is active, read in the same query as
    /// the credential (`None`: no partner, or none registered).
    #[sqlx(default)]
    pub partner_active: Option<bool>,
}

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

/// What a new signup creates.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: String,
    pub first_name: String,
    pub user_uuid: String,
    pub organization_id: String,
    pub organization_name: String,
    pub team_name: String,
    pub team_api_token: String,
    pub region: String,
    pub now: i64,
}

/// What [`Db::create_account`] found.
#[derive(Debug, Clone)]
pub enum Created {
    New {
        user: User,
        team_id: i64,
    },
    /// Someone holds the email already (perhaps a concurrent request).
    Existing(User),
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

/// The outcome of consuming a code.
#[derive(Debug, Clone)]
pub enum Consumed {
    /// This request consumed it.
    Now(Code),
    /// It was consumed before: a replay.
    Before(Code),
    Unknown,
}

impl Db {
    /// Opens (creating if missing) and migrates the database at `url`.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|error| {
                anyhow::anyhow!("--database-url {url:?} is not a SQLite URL: {error}")
            })?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Every connection: temporary tables in memory and more prepared
            // statements kept. (A 16 MB page cache and a 256 MiB memory map
            // were measured too: no gain, and peak memory under load rose.)
            .pragma("temp_store", "memory")
            .statement_cache_capacity(256);
        let options = if in_memory {
            options
        } else {
            options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
        };
        // sqlx pings a connection when it returns to the pool (which also
        // flushes a dropped transaction's rollback) and, by default, again
        // when it leaves it: a second round trip to the connection's worker
        // thread per acquire, inside the single writer's critical section.
        // An in-process SQLite connection cannot drop between the two, so
        // the ping on acquire is off (the ping on release stays).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(|error| anyhow::anyhow!("cannot open database {url:?}: {error}"))?;
        sqlx::migrate!("./migrations")
            .run(&writer)
            .await
            .map_err(|error| anyhow::anyhow!("cannot migrate database {url:?}: {error}"))?;
        let reader = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(4)
                .test_before_acquire(false)
                .connect_with(options)
                .await?
        };
        Ok(Db { writer, reader })
    }

    pub async fn upsert_application(&self, application: &Application) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO oauth_applications (client_id, label, kind, auth_method, secrets, active,
                can_create_accounts, can_provision_resources, can_issue_deep_links,
                skip_existing_user_consent, scope_ceiling, rate_limits)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (client_id) DO UPDATE SET label = excluded.label, kind = excluded.kind,
                auth_method = excluded.auth_method, secrets = excluded.secrets,
                active = excluded.active, can_create_accounts = excluded.can_create_accounts,
                can_provision_resources = excluded.can_provision_resources,
                can_issue_deep_links = excluded.can_issue_deep_links,
                skip_existing_user_consent = excluded.skip_existing_user_consent,
                scope_ceiling = excluded.scope_ceiling, rate_limits = excluded.rate_limits",
        )
        .bind(&application.client_id)
        .bind(&application.label)
        .bind(&application.kind)
        .bind(&application.auth_method)
        .bind(&application.secrets)
        .bind(application.active)
        .bind(application.can_create_accounts)
        .bind(application.can_provision_resources)
        .bind(application.can_issue_deep_links)
        .bind(application.skip_existing_user_consent)
        .bind(&application.scope_ceiling)
        .bind(&application.rate_limits)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn application(&self, client_id: &str) -> sqlx::Result<Option<Application>> {
        sqlx::query_as("SELECT * FROM oauth_applications WHERE client_id = ?")
            .bind(client_id)
            .fetch_optional(&self.reader)
            .await
    }

    pub async fn applications(&self) -> sqlx::Result<Vec<Application>> {
        sqlx::query_as("SELECT * FROM oauth_applications ORDER BY rowid")
            .fetch_all(&self.reader)
            .await
    }

    pub async fn user_by_email(&self, email: &str) -> sqlx::Result<Option<User>> {
        sqlx::query_as("SELECT id, uuid, email, first_name FROM users WHERE email = ?")
            .bind(email)
            .fetch_optional(&self.reader)
            .await
    }

    pub async fn user(&self, id: i64) -> sqlx::Result<Option<User>> {
        sqlx::query_as("SELECT id, uuid, email, first_name FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
    }

    /// Creates user, organization, membership and team in one transaction,
    /// unless the email is taken (checked inside the transaction, so two
    /// concurrent signups for one email make one account).
    pub async fn create_account(&self, account: &NewAccount) -> sqlx::Result<Created> {
        self.create_account_with_code(account, |_, _| None).await
    }

    /// [`Db::create_account`], storing in the same transaction the code
    /// `code` makes for the new user and team (it is not called for an
    /// existing user): one commit per signup instead of two.
    pub async fn create_account_with_code(
        &self,
        account: &NewAccount,
        code: impl FnOnce(i64, i64) -> Option<Code>,
    ) -> sqlx::Result<Created> {
        let mut transaction = self.writer.begin().await?;
        let existing: Option<User> =
            sqlx::query_as("SELECT id, uuid, email, first_name FROM users WHERE email = ?")
                .bind(&account.email)
                .fetch_optional(&mut *transaction)
                .await?;
        if let Some(user) = existing {
            return Ok(Created::Existing(user));
        }
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?)")
            .bind(&account.organization_id)
            .bind(&account.organization_name)
            .bind(account.now)
            .execute(&mut *transaction)
            .await?;
        let user: User = sqlx::query_as(
            "INSERT INTO users (uuid, email, first_name, created_at) VALUES (?, ?, ?, ?)
             RETURNING id, uuid, email, first_name",
        )
        .bind(&account.user_uuid)
        .bind(&account.email)
        .bind(&account.first_name)
        .bind(account.now)
        .fetch_one(&mut *transaction)
        .await?;
        sqlx::query(
            "INSERT INTO memberships (user_id, organization_id, joined_at) VALUES (?, ?, ?)",
        )
        .bind(user.id)
        .bind(&account.organization_id)
        .bind(account.now)
        .execute(&mut *transaction)
        .await?;
        let team_id: i64 = sqlx::query_scalar(
            "INSERT INTO teams (organization_id, name, api_token, is_demo, region, created_at)
             VALUES (?, ?, ?, 0, ?, ?) RETURNING id",
        )
        .bind(&account.organization_id)
        .bind(&account.team_name)
        .bind(&account.team_api_token)
        .bind(&account.region)
        .bind(account.now)
        .fetch_one(&mut *transaction)
        .await?;
        if let Some(code) = code(user.id, team_id) {
            insert_code_row(&mut transaction, &code, None, account.now).await?;
        }
        transaction.commit().await?;
        Ok(Created::New { user, team_id })
    }

    /// Every live team of every organization the user belongs to, oldest
    /// membership first.
    pub async fn teams_of_user(&self, user_id: i64) -> sqlx::Result<Vec<Team>> {
        sqlx::query_as(
            "SELECT t.id, t.name, t.api_token, t.is_demo, o.id AS organization_id,
                    o.name AS organization_name, m.joined_at
             FROM memberships m
             JOIN organizations o ON o.id = m.organization_id
             JOIN teams t ON t.organization_id = o.id
             WHERE m.user_id = ? AND t.removed_at IS NULL
             ORDER BY m.joined_at, t.id",
        )
        .bind(user_id)
        .fetch_all(&self.reader)
        .await
    }

    /// The user and [`Db::teams_of_user`] in one query (one round trip).
    pub async fn user_and_teams(&self, user_id: i64) -> sqlx::Result<Option<(User, Vec<Team>)>> {
        #[derive(FromRow)]
        struct Row {
            id: i64,
            uuid: String,
            email: String,
            first_name: String,
            team_id: Option<i64>,
            team_name: Option<String>,
            api_token: Option<String>,
            is_demo: Option<bool>,
            organization_id: Option<String>,
            organization_name: Option<String>,
            joined_at: Option<i64>,
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT u.id, u.uuid, u.email, u.first_name, t.id AS team_id, t.name AS team_name,
                    t.api_token, t.is_demo, o.id AS organization_id,
                    o.name AS organization_name, m.joined_at
             FROM users u
             LEFT JOIN memberships m ON m.user_id = u.id
             LEFT JOIN organizations o ON o.id = m.organization_id
             LEFT JOIN teams t ON t.organization_id = o.id AND t.removed_at IS NULL
             WHERE u.id = ?
             ORDER BY m.joined_at, t.id",
        )
        .bind(user_id)
        .fetch_all(&self.reader)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let user = User {
            id: first.id,
            uuid: first.uuid.clone(),
            email: first.email.clone(),
            first_name: first.first_name.clone(),
        };
        let teams = rows
            .into_iter()
            .filter_map(|row| {
                Some(Team {
                    id: row.team_id?,
                    name: row.team_name?,
                    api_token: row.api_token?,
                    is_demo: row.is_demo?,
                    organization_id: row.organization_id?,
                    organization_name: row.organization_name?,
                    joined_at: row.joined_at?,
                })
            })
            .collect();
        Ok(Some((user, teams)))
    }

    pub async fn team(&self, team_id: i64) -> sqlx::Result<Option<Team>> {
        sqlx::query_as(
            "SELECT t.id, t.name, t.api_token, t.is_demo, o.id AS organization_id,
                    o.name AS organization_name, o.created_at AS joined_at
             FROM teams t JOIN organizations o ON o.id = t.organization_id
             WHERE t.id = ? AND t.removed_at IS NULL",
        )
        .bind(team_id)
        .fetch_optional(&self.reader)
        .await
    }

    pub async fn rename_team(&self, team_id: i64, name: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE teams SET name = ? WHERE id = ?")
            .bind(name)
            .bind(team_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn insert_code(
        &self,
        code: &Code,
        redirect_uri: Option<&str>,
        now: i64,
    ) -> sqlx::Result<()> {
        let mut connection = self.writer.acquire().await?;
        insert_code_row(&mut connection, code, redirect_uri, now).await
    }

    pub async fn code(&self, code_hash: &str) -> sqlx::Result<Option<Code>> {
        sqlx::query_as(
            "SELECT code_hash, client_id, user_id, team_id, scopes, code_challenge, region,
                    expires_at, consumed_at
             FROM authorization_codes WHERE code_hash = ?",
        )
        .bind(code_hash)
        .fetch_optional(&self.writer)
        .await
    }

    /// The code (read on the reader pool: a code is committed before its
    /// answer leaves) and its partner's stored `rate_limits` (`None`: no
    /// such partner), in one query.
    pub async fn code_with_limits(
        &self,
        code_hash: &str,
    ) -> sqlx::Result<Option<(Code, Option<String>)>> {
        #[derive(FromRow)]
        struct Row {
            #[sqlx(flatten)]
            code: Code,
            rate_limits: Option<String>,
        }
        let row: Option<Row> = sqlx::query_as(
            "SELECT c.code_hash, c.client_id, c.user_id, c.team_id, c.scopes, c.code_challenge,
                    c.redirect_uri, c.region, c.expires_at, c.consumed_at, a.rate_limits
             FROM authorization_codes c LEFT JOIN oauth_applications a ON a.client_id = c.client_id
             WHERE c.code_hash = ?",
        )
        .bind(code_hash)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|row| (row.code, row.rate_limits)))
    }

    /// Consumes the code and, if `check` accepts it, stores the tokens
    /// `check` builds, in one transaction on the writer: of two concurrent
    /// exchanges exactly one sees [`Exchange::Issued`] or
    /// [`Exchange::Refused`]. A refused code stays consumed.
    pub async fn exchange_code<E>(
        &self,
        code_hash: &str,
        now: i64,
        check: impl FnOnce(&Code) -> Result<NewTokens, E>,
    ) -> sqlx::Result<Exchange<E>> {
        let mut transaction = self.writer.begin().await?;
        let consumed: Option<Code> = sqlx::query_as(
            "UPDATE authorization_codes SET consumed_at = ?
             WHERE code_hash = ? AND consumed_at IS NULL
             RETURNING code_hash, client_id, user_id, team_id, scopes, code_challenge, region,
                       expires_at, consumed_at",
        )
        .bind(now)
        .bind(code_hash)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(code) = consumed else {
            transaction.rollback().await?;
            return Ok(match self.code(code_hash).await? {
                Some(code) => Exchange::Before(code),
                None => Exchange::Unknown,
            });
        };
        let tokens = match check(&code) {
            Ok(tokens) => tokens,
            Err(error) => {
                transaction.commit().await?;
                return Ok(Exchange::Refused(error));
            }
        };
        insert_token_rows(&mut transaction, &tokens).await?;
        transaction.commit().await?;
        Ok(Exchange::Issued(code, tokens))
    }

    /// Marks the code consumed, atomically: of two concurrent exchanges
    /// exactly one sees [`Consumed::Now`].
    pub async fn consume_code(&self, code_hash: &str, now: i64) -> sqlx::Result<Consumed> {
        let consumed: Option<Code> = sqlx::query_as(
            "UPDATE authorization_codes SET consumed_at = ?
             WHERE code_hash = ? AND consumed_at IS NULL
             RETURNING code_hash, client_id, user_id, team_id, scopes, code_challenge, region,
                       expires_at, consumed_at",
        )
        .bind(now)
        .bind(code_hash)
        .fetch_optional(&self.writer)
        .await?;
        if let Some(code) = consumed {
            return Ok(Consumed::Now(code));
        }
        Ok(match self.code(code_hash).await? {
            Some(code) => Consumed::Before(code),
            None => Consumed::Unknown,
        })
    }

    /// Revokes every token issued from a code (RFC 6749 section 4.1.2: a
    /// reused code means it leaked).
    pub async fn revoke_tokens_from_code(&self, code_hash: &str, now: i64) -> sqlx::Result<u64> {
        let mut transaction = self.writer.begin().await?;
        let access = sqlx::query(
            "UPDATE access_tokens SET revoked_at = ? WHERE code_hash = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(code_hash)
        .execute(&mut *transaction)
        .await?
        .rows_affected();
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE code_hash = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(code_hash)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(access)
    }

    /// Stores a new access and refresh token, revoking `rotated` (the
    /// refresh token being exchanged) in the same transaction.
    pub async fn insert_tokens(
        &self,
        tokens: &NewTokens,
        rotated: Option<&RefreshRotation>,
    ) -> sqlx::Result<bool> {
        let mut transaction = self.writer.begin().await?;
        if let Some(rotated) = rotated {
            let revoked = sqlx::query(
                "UPDATE refresh_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
            )
            .bind(tokens.now)
            .bind(&rotated.refresh_hash)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
            if revoked == 0 {
                // Lost a race with another rotation of the same token.
                return Ok(false);
            }
            sqlx::query("UPDATE access_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL")
                .bind(tokens.now)
                .bind(&rotated.access_hash)
                .execute(&mut *transaction)
                .await?;
        }
        insert_token_rows(&mut transaction, tokens).await?;
        transaction.commit().await?;
        Ok(true)
    }

    pub async fn access_token(&self, token_hash: &str) -> sqlx::Result<Option<Grant>> {
        sqlx::query_as(
            "SELECT t.client_id, t.user_id, t.team_id, t.scopes, t.created_at, t.expires_at,
                    t.revoked_at, a.active AS partner_active
             FROM access_tokens t LEFT JOIN oauth_applications a ON a.client_id = t.client_id
             WHERE t.token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(&self.reader)
        .await
    }

    pub async fn refresh_token(&self, token_hash: &str) -> sqlx::Result<Option<RefreshGrant>> {
        sqlx::query_as(
            "SELECT access_token_hash, client_id, user_id, team_id, scopes, code_hash, revoked_at
             FROM refresh_tokens WHERE token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(&self.reader)
        .await
    }

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
        sqlx::query(
            "INSERT INTO personal_api_keys (key_hash, masked, user_id, team_id, client_id, scopes,
                created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(key_hash)
        .bind(masked)
        .bind(user_id)
        .bind(team_id)
        .bind(client_id)
        .bind(scopes)
        .bind(now)
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn personal_key(&self, key_hash: &str) -> sqlx::Result<Option<Grant>> {
        sqlx::query_as(
            "SELECT k.client_id, k.user_id, k.team_id, k.scopes, k.created_at, k.expires_at,
                    k.revoked_at, a.active AS partner_active
             FROM personal_api_keys k LEFT JOIN oauth_applications a ON a.client_id = k.client_id
             WHERE k.key_hash = ?",
        )
        .bind(key_hash)
        .fetch_optional(&self.reader)
        .await
    }

    pub async fn state_summary(&self) -> sqlx::Result<StateSummary> {
        let count = |table: &'static str| {
            let pool = self.writer.clone();
            async move {
                sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {table}"))
                    .fetch_one(&pool)
                    .await
            }
        };
        let scopes = |table: &'static str| {
            let pool = self.writer.clone();
            async move {
                sqlx::query_scalar::<_, String>(&format!(
                    "SELECT scopes FROM {table} ORDER BY created_at, rowid"
                ))
                .fetch_all(&pool)
                .await
            }
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
        let mut transaction = self.writer.begin().await?;
        for table in [
            "personal_api_keys",
            "refresh_tokens",
            "access_tokens",
            "authorization_codes",
            "teams",
            "memberships",
            "users",
            "organizations",
        ] {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await
    }
}

/// The refresh token being exchanged, and the access token it came with.
#[derive(Debug, Clone)]
pub struct RefreshRotation {
    pub refresh_hash: String,
    pub access_hash: String,
}

impl Db {
    /// A new non-demo team in an existing organization.
    pub async fn create_team(
        &self,
        organization_id: &str,
        name: &str,
        api_token: &str,
        region: &str,
        now: i64,
    ) -> sqlx::Result<i64> {
        sqlx::query_scalar(
            "INSERT INTO teams (organization_id, name, api_token, is_demo, region, created_at)
             VALUES (?, ?, ?, 0, ?, ?) RETURNING id",
        )
        .bind(organization_id)
        .bind(name)
        .bind(api_token)
        .bind(region)
        .bind(now)
        .fetch_one(&self.writer)
        .await
    }
}

impl Db {
    /// Sets (or replaces) a user's password hash.
    pub async fn set_password_hash(&self, user_id: i64, password_hash: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(user_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// The user with `email` and the stored password hash, if any.
    pub async fn user_with_password(
        &self,
        email: &str,
    ) -> sqlx::Result<Option<(User, Option<String>)>> {
        let row: Option<(i64, String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT id, uuid, email, first_name, password_hash FROM users WHERE email = ?",
        )
        .bind(email)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|(id, uuid, email, first_name, password_hash)| {
            (
                User {
                    id,
                    uuid,
                    email,
                    first_name,
                },
                password_hash,
            )
        }))
    }
}

/// What [`Db::exchange_code`] did.
#[derive(Debug)]
pub enum Exchange<E> {
    /// This request consumed the code and the tokens are stored.
    Issued(Code, NewTokens),
    /// This request consumed the code, but the check refused it.
    Refused(E),
    /// It was consumed before: a replay.
    Before(Code),
    Unknown,
}

async fn insert_token_rows(
    transaction: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    tokens: &NewTokens,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO access_tokens (token_hash, client_id, user_id, team_id, scopes, code_hash,
            created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&tokens.access_hash)
    .bind(&tokens.client_id)
    .bind(tokens.user_id)
    .bind(tokens.team_id)
    .bind(&tokens.scopes)
    .bind(&tokens.code_hash)
    .bind(tokens.now)
    .bind(tokens.expires_at)
    .execute(&mut **transaction)
    .await?;
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, access_token_hash, client_id, user_id, team_id,
            scopes, code_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&tokens.refresh_hash)
    .bind(&tokens.access_hash)
    .bind(&tokens.client_id)
    .bind(tokens.user_id)
    .bind(tokens.team_id)
    .bind(&tokens.scopes)
    .bind(&tokens.code_hash)
    .bind(tokens.now)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

async fn insert_code_row(
    connection: &mut sqlx::SqliteConnection,
    code: &Code,
    redirect_uri: Option<&str>,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO authorization_codes (code_hash, client_id, user_id, team_id, scopes,
            code_challenge, redirect_uri, region, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&code.code_hash)
    .bind(&code.client_id)
    .bind(code.user_id)
    .bind(code.team_id)
    .bind(&code.scopes)
    .bind(&code.code_challenge)
    .bind(redirect_uri)
    .bind(&code.region)
    .bind(now)
    .bind(code.expires_at)
    .execute(connection)
    .await?;
    Ok(())
}
