//! Persistence: SQLite through sqlx, with the migrations in `migrations/`.
//!
//! Writes go through one connection, owned by the [`Writer`] task, which
//! runs the writes of concurrent requests in shared transactions (group
//! commit): a transaction never has to upgrade a read lock under
//! contention, SQLite never answers `SQLITE_BUSY` to a writer, and one
//! commit serves many requests. Reads use a pool of their own and, in WAL
//! mode, never wait for the writer; since a write is answered only once it
//! is committed, a read that follows an answered write sees it.
//! `sqlite::memory:` (a throwaway server) is served from a temporary file,
//! deleted with the last handle, so reads and writes can use separate
//! connections there too.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, FromRow, SqliteConnection};

use protocol::admin::StateSummary;

/// The values of a [`Db::execute`] statement, in the order of its `?`s.
macro_rules! arguments {
    ($($value:expr),* $(,)?) => {{
        let mut arguments = sqlx::sqlite::SqliteArguments::default();
        $(sqlx::Arguments::add(&mut arguments, $value).map_err(sqlx::Error::Encode)?;)*
        arguments
    }};
}

pub mod consent;
pub mod lifecycle;
pub mod login;
pub mod reader;
pub mod seeds;
pub mod writer;

pub use reader::Readers;
pub use writer::{BoxFuture, Writer};

/// Read connections at most (two per core of the machines this runs on).
const READERS: usize = 4;

/// The writer and the read connections. Cloning is cheap.
#[derive(Debug, Clone)]
pub struct Db {
    writer: Writer,
    reader: Readers,
    /// The registered applications ([`Db::applications`]).
    applications: Arc<std::sync::RwLock<Arc<Vec<Application>>>>,
    /// The directory of a throwaway (`sqlite::memory:`) database.
    _scratch: Option<Arc<tempfile::TempDir>>,
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
    /// The application's personal-key gate (read by eras whose keys are
    /// gated per application).
    pub issues_personal_api_key: bool,
    pub skip_existing_user_consent: bool,
    pub scope_ceiling: String,
    pub rate_limits: String,
}

impl Application {
    /// A public partner for unit tests: every provisioning right, no
    /// limits, this scope ceiling.
    #[cfg(test)]
    pub fn for_test(client_id: &str, scope_ceiling: &str) -> Application {
        Application {
            client_id: client_id.into(),
            label: client_id.into(),
            kind: "partner".into(),
            auth_method: "pkce".into(),
            secrets: "[]".into(),
            active: true,
            can_create_accounts: true,
            can_provision_resources: true,
            can_issue_deep_links: false,
            issues_personal_api_key: false,
            skip_existing_user_consent: false,
            scope_ceiling: scope_ceiling.into(),
            rate_limits: "{}".into(),
        }
    }

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
    /// When the account was created (the API's `date_joined`).
    pub created_at: i64,
    /// Whether the user can sign in with a password (the API's `has_password`).
    pub has_password: bool,
}

/// The columns of `users` that [`User`] decodes.
macro_rules! user_columns {
    ($table:literal) => {
        concat!(
            $table,
            ".id, ",
            $table,
            ".uuid, ",
            $table,
            ".email, ",
            $table,
            ".first_name, ",
            $table,
            ".created_at, ",
            $table,
            ".password_hash IS NOT NULL AS has_password"
        )
    };
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
    /// The service it is provisioned for (`analytics` unless moved).
    pub service_id: String,
}

#[cfg(test)]
impl Team {
    /// A team for the unit tests of rules that choose among teams.
    pub fn for_test(id: i64, organization: &str, is_demo: bool) -> Team {
        Team {
            id,
            name: format!("team {id}"),
            api_token: format!("phc_{id}"),
            is_demo,
            organization_id: organization.into(),
            organization_name: organization.into(),
            joined_at: 0,
            service_id: "analytics".into(),
        }
    }
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

/// A bearer credential as found, with its holder: the user and the user's
/// live teams, oldest membership first (one query: the credential is looked
/// up on nearly every request, and so are the teams).
#[derive(Debug, Clone)]
pub struct Holder {
    pub grant: Grant,
    pub user: User,
    pub teams: Vec<Team>,
}

/// The columns of a team that [`teams_of!`] joins, decoded by
/// [`JoinedTeam`].
macro_rules! team_columns {
    () => {
        "t.id AS member_team_id, t.name AS team_name, t.api_token, t.is_demo,
         o.id AS organization_id, o.name AS organization_name, m.joined_at, t.service_id"
    };
}

/// Joins the live teams of the user in column `$user`, oldest membership
/// first with `ORDER BY m.joined_at, t.id` (one row per team; the team
/// columns are NULL for a user without any).
macro_rules! teams_of {
    ($user:literal) => {
        concat!(
            " LEFT JOIN memberships m ON m.user_id = ",
            $user,
            " LEFT JOIN organizations o ON o.id = m.organization_id
              LEFT JOIN teams t ON t.organization_id = o.id AND t.removed_at IS NULL"
        )
    };
}

/// The query of [`Db::holder`] for the credential table `$table`, keyed by
/// its hash column `$key`.
macro_rules! holder_sql {
    ($table:literal, $key:literal) => {
        concat!(
            "SELECT c.client_id, c.user_id, c.team_id, c.scopes, c.created_at, c.expires_at,
                    c.revoked_at, a.active AS partner_active, u.uuid, u.email, u.first_name,
                    u.created_at AS user_created_at, u.password_hash IS NOT NULL AS has_password, ",
            team_columns!(),
            " FROM ",
            $table,
            " c LEFT JOIN oauth_applications a ON a.client_id = c.client_id
              JOIN users u ON u.id = c.user_id",
            teams_of!("c.user_id"),
            " WHERE c.",
            $key,
            " = ? ORDER BY m.joined_at, t.id"
        )
    };
}

/// A team as a row with [`team_columns!`] carries it.
#[derive(Debug, FromRow)]
struct JoinedTeam {
    member_team_id: Option<i64>,
    team_name: Option<String>,
    api_token: Option<String>,
    is_demo: Option<bool>,
    organization_id: Option<String>,
    organization_name: Option<String>,
    joined_at: Option<i64>,
    service_id: Option<String>,
}

/// Rows that all carry the same head (a credential, a code) and one team
/// each, as the `teams_of!` join gives them: the first head and the teams in
/// order. `None` without rows.
fn head_and_teams<H>(mut rows: impl Iterator<Item = (H, JoinedTeam)>) -> Option<(H, Vec<Team>)> {
    let (head, first) = rows.next()?;
    let teams = std::iter::once(first)
        .chain(rows.map(|(_, team)| team))
        .filter_map(JoinedTeam::team)
        .collect();
    Some((head, teams))
}

impl JoinedTeam {
    /// `None` for the all-NULL row of a user without teams.
    fn team(self) -> Option<Team> {
        Some(Team {
            id: self.member_team_id?,
            name: self.team_name?,
            api_token: self.api_token?,
            is_demo: self.is_demo?,
            organization_id: self.organization_id?,
            organization_name: self.organization_name?,
            joined_at: self.joined_at?,
            service_id: self.service_id?,
        })
    }
}

impl Db {
    /// Opens (creating if missing) and migrates the database at `url`.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let (options, scratch) = if in_memory {
            let directory = tempfile::Builder::new()
                .prefix("provisioning-server-")
                .tempdir()
                .map_err(|error| {
                    anyhow::anyhow!("cannot make a temporary directory for {url:?}: {error}")
                })?;
            let options = SqliteConnectOptions::new()
                .filename(directory.path().join("provisioning.db"))
                // Throwaway: nothing to keep across a crash.
                .synchronous(SqliteSynchronous::Off);
            (options, Some(Arc::new(directory)))
        } else {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|error| {
                    anyhow::anyhow!("--database-url {url:?} is not a SQLite URL: {error}")
                })?
                .synchronous(SqliteSynchronous::Normal);
            (options, None)
        };
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Every connection: temporary tables in memory and more prepared
            // statements kept. (A 16 MB page cache and a 256 MiB memory map
            // were measured too: no gain, and peak memory under load rose.)
            .pragma("temp_store", "memory")
            // Checkpoints are the checkpointer's (`writer.rs`). The writer
            // begins its next transaction right after a commit, before the
            // checkpointer has copied it, so the WAL never starts over by
            // itself: past 40 MB the writer checkpoints on commit (copying
            // the little the checkpointer has not, with an fsync), and the
            // WAL starts over. Measured at 8 clients: every 4,000 pages
            // (16 MB) these fsyncs doubled the p99 (14 ms against 7 ms);
            // never, the WAL grows and every read slows down.
            .pragma("wal_autocheckpoint", "10000")
            .statement_cache_capacity(256);
        let mut connection = options
            .connect()
            .await
            .map_err(|error| anyhow::anyhow!("cannot open database {url:?}: {error}"))?;
        sqlx::migrate!("./migrations")
            .run(&mut connection)
            .await
            .map_err(|error| anyhow::anyhow!("cannot migrate database {url:?}: {error}"))?;
        let reader = Readers::new(options, READERS);
        let writer = Writer::start(connection, reader.clone());
        let db = Db {
            writer,
            reader,
            applications: Arc::default(),
            _scratch: scratch,
        };
        db.reload_applications()
            .await
            .map_err(|error| anyhow::anyhow!("cannot read database {url:?}: {error}"))?;
        Ok(db)
    }

    /// One statement on the writer ([`Db::write`]); the rows it changed.
    pub async fn execute(
        &self,
        sql: &'static str,
        arguments: SqliteArguments<'static>,
    ) -> sqlx::Result<u64> {
        self.write(move |connection| {
            let arguments = arguments.clone();
            Box::pin(async move {
                let done = sqlx::query_with(sql, arguments).execute(connection).await?;
                Ok(done.rows_affected())
            })
        })
        .await
    }

    /// Runs `work` on the writer connection, in the transaction of the
    /// next batch ([`Writer::write`]); answers once it is committed. `work`
    /// may run more than once: it must depend on the database alone.
    pub async fn write<T, F>(&self, work: F) -> sqlx::Result<T>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut SqliteConnection) -> BoxFuture<'c, sqlx::Result<T>>
            + Send
            + Sync
            + 'static,
    {
        self.writer.write(work).await
    }

    pub async fn upsert_application(&self, application: &Application) -> sqlx::Result<()> {
        let a = application;
        self.execute(
            "INSERT INTO oauth_applications (client_id, label, kind, auth_method, secrets, active,
                can_create_accounts, can_provision_resources, can_issue_deep_links,
                skip_existing_user_consent, scope_ceiling, rate_limits, issues_personal_api_key)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (client_id) DO UPDATE SET label = excluded.label, kind = excluded.kind,
                auth_method = excluded.auth_method, secrets = excluded.secrets,
                active = excluded.active, can_create_accounts = excluded.can_create_accounts,
                can_provision_resources = excluded.can_provision_resources,
                can_issue_deep_links = excluded.can_issue_deep_links,
                skip_existing_user_consent = excluded.skip_existing_user_consent,
                scope_ceiling = excluded.scope_ceiling, rate_limits = excluded.rate_limits,
                issues_personal_api_key = excluded.issues_personal_api_key",
            arguments![
                a.client_id.clone(),
                a.label.clone(),
                a.kind.clone(),
                a.auth_method.clone(),
                a.secrets.clone(),
                a.active,
                a.can_create_accounts,
                a.can_provision_resources,
                a.can_issue_deep_links,
                a.skip_existing_user_consent,
                a.scope_ceiling.clone(),
                a.rate_limits.clone(),
                a.issues_personal_api_key,
            ],
        )
        .await?;
        self.reload_applications().await
    }

    /// The application `client_id` (from memory: see [`Db::applications`]).
    pub async fn application(&self, client_id: &str) -> sqlx::Result<Option<Application>> {
        Ok(self
            .registered()
            .iter()
            .find(|application| application.client_id == client_id)
            .cloned())
    }

    /// Every application, in registration order. Most requests need their
    /// partner, and applications change only through
    /// [`Db::upsert_application`] (seeds), so they are read from the
    /// database at start and again after each change, and served from
    /// memory: a deactivation is seen by the next request, as before. (The
    /// server is the only writer of its database file.)
    pub async fn applications(&self) -> sqlx::Result<Vec<Application>> {
        Ok(self.registered().as_ref().clone())
    }

    fn registered(&self) -> Arc<Vec<Application>> {
        let registered = self
            .applications
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(&registered)
    }

    async fn reload_applications(&self) -> sqlx::Result<()> {
        let applications: Vec<Application> =
            sqlx::query_as("SELECT * FROM oauth_applications ORDER BY rowid")
                .fetch_all(&mut *self.reader.get().await?)
                .await?;
        *self
            .applications
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(applications);
        Ok(())
    }

    pub async fn user_by_email(&self, email: &str) -> sqlx::Result<Option<User>> {
        sqlx::query_as(concat!(
            "SELECT ",
            user_columns!("users"),
            " FROM users WHERE email = ?"
        ))
        .bind(email)
        .fetch_optional(&mut *self.reader.get().await?)
        .await
    }

    pub async fn user(&self, id: i64) -> sqlx::Result<Option<User>> {
        sqlx::query_as(concat!(
            "SELECT ",
            user_columns!("users"),
            " FROM users WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&mut *self.reader.get().await?)
        .await
    }

    /// Creates user, organization, membership and team, and stores `code`
    /// for them (its `user_id` and `team_id` are filled in), in one write
    /// and one statement round trip; unless the email is taken, checked in
    /// the same write, so two concurrent signups for one email make one
    /// account. An existing user gets nothing new (and no code).
    pub async fn create_account_with_code(
        &self,
        account: &NewAccount,
        code: &Code,
    ) -> sqlx::Result<Created> {
        #[derive(FromRow)]
        struct Row {
            #[sqlx(flatten)]
            user: User,
            team_id: Option<i64>,
        }
        let (account, code) = (account.clone(), code.clone());
        self.write(move |connection| {
            let account = account.clone();
            let code = code.clone();
            Box::pin(async move {
                // The user is inserted unless the email is taken; every
                // later statement acts only "for the user with our new
                // uuid", so for a taken email nothing else is written. Each
                // statement takes the next of the bound values for its `?`s.
                let row: Row = sqlx::query_as(
                    "INSERT INTO users (uuid, email, first_name, created_at)
                        VALUES (?, ?, ?, ?) ON CONFLICT (email) DO NOTHING;
                     INSERT INTO organizations (id, name, created_at)
                        SELECT ?, ?, ? FROM users WHERE uuid = ?;
                     INSERT INTO memberships (user_id, organization_id, joined_at)
                        SELECT id, ?, ? FROM users WHERE uuid = ?;
                     INSERT INTO teams (organization_id, name, api_token, is_demo, region,
                        created_at) SELECT ?, ?, ?, 0, ?, ? FROM users WHERE uuid = ?;
                     INSERT INTO authorization_codes (code_hash, client_id, user_id, team_id,
                        scopes, code_challenge, redirect_uri, region, created_at, expires_at)
                        SELECT ?, ?, u.id, t.id, ?, ?, NULL, ?, ?, ?
                        FROM users u, teams t WHERE u.uuid = ? AND t.api_token = ?;
                     SELECT u.id, u.uuid, u.email, u.first_name, u.created_at,
                        u.password_hash IS NOT NULL AS has_password, t.id AS team_id
                        FROM users u LEFT JOIN teams t ON t.api_token = ?
                        WHERE u.email = ?",
                )
                // users
                .bind(&account.user_uuid)
                .bind(&account.email)
                .bind(&account.first_name)
                .bind(account.now)
                // organizations
                .bind(&account.organization_id)
                .bind(&account.organization_name)
                .bind(account.now)
                .bind(&account.user_uuid)
                // memberships
                .bind(&account.organization_id)
                .bind(account.now)
                .bind(&account.user_uuid)
                // teams
                .bind(&account.organization_id)
                .bind(&account.team_name)
                .bind(&account.team_api_token)
                .bind(&account.region)
                .bind(account.now)
                .bind(&account.user_uuid)
                // authorization_codes
                .bind(&code.code_hash)
                .bind(&code.client_id)
                .bind(&code.scopes)
                .bind(&code.code_challenge)
                .bind(&code.region)
                .bind(account.now)
                .bind(code.expires_at)
                .bind(&account.user_uuid)
                .bind(&account.team_api_token)
                // the answer
                .bind(&account.team_api_token)
                .bind(&account.email)
                .fetch_one(connection)
                .await?;
                Ok(match row.team_id {
                    Some(team_id) if row.user.uuid == account.user_uuid => Created::New {
                        user: row.user,
                        team_id,
                    },
                    _ => Created::Existing(row.user),
                })
            })
        })
        .await
    }

    /// Every live team of every organization the user belongs to, oldest
    /// membership first.
    pub async fn teams_of_user(&self, user_id: i64) -> sqlx::Result<Vec<Team>> {
        let rows: Vec<JoinedTeam> = sqlx::query_as(concat!(
            "SELECT ",
            team_columns!(),
            " FROM users c",
            teams_of!("c.id"),
            " WHERE c.id = ? ORDER BY m.joined_at, t.id"
        ))
        .bind(user_id)
        .fetch_all(&mut *self.reader.get().await?)
        .await?;
        Ok(rows.into_iter().filter_map(JoinedTeam::team).collect())
    }

    /// The access token (`pha_`) with this hash, its user and the user's
    /// teams ([`Holder`]), in one query.
    pub async fn access_token_holder(&self, token_hash: &str) -> sqlx::Result<Option<Holder>> {
        self.holder(holder_sql!("access_tokens", "token_hash"), token_hash)
            .await
    }

    /// The personal API key (`phx_`) with this hash, as
    /// [`Db::access_token_holder`].
    pub async fn personal_key_holder(&self, key_hash: &str) -> sqlx::Result<Option<Holder>> {
        self.holder(holder_sql!("personal_api_keys", "key_hash"), key_hash)
            .await
    }

    async fn holder(&self, sql: &'static str, hash: &str) -> sqlx::Result<Option<Holder>> {
        #[derive(FromRow)]
        struct Row {
            #[sqlx(flatten)]
            grant: Grant,
            uuid: String,
            email: String,
            first_name: String,
            user_created_at: i64,
            has_password: bool,
            #[sqlx(flatten)]
            team: JoinedTeam,
        }
        let rows: Vec<Row> = sqlx::query_as(sql)
            .bind(hash)
            .fetch_all(&mut *self.reader.get().await?)
            .await?;
        let rows = rows.into_iter().map(|row| {
            let user = User {
                id: row.grant.user_id,
                uuid: row.uuid,
                email: row.email,
                first_name: row.first_name,
                created_at: row.user_created_at,
                has_password: row.has_password,
            };
            ((row.grant, user), row.team)
        });
        Ok(head_and_teams(rows).map(|((grant, user), teams)| Holder { grant, user, teams }))
    }

    pub async fn team(&self, team_id: i64) -> sqlx::Result<Option<Team>> {
        sqlx::query_as(
            "SELECT t.id, t.name, t.api_token, t.is_demo, o.id AS organization_id,
                    o.name AS organization_name, o.created_at AS joined_at, t.service_id
             FROM teams t JOIN organizations o ON o.id = t.organization_id
             WHERE t.id = ? AND t.removed_at IS NULL",
        )
        .bind(team_id)
        .fetch_optional(&mut *self.reader.get().await?)
        .await
    }

    /// Moves a live team to `service_id`; `false` if it is gone.
    pub async fn set_team_service(&self, team_id: i64, service_id: &str) -> sqlx::Result<bool> {
        let service_id = service_id.to_owned();
        self.write(move |connection| {
            let service_id = service_id.clone();
            Box::pin(async move {
                let moved = sqlx::query(
                    "UPDATE teams SET service_id = ? WHERE id = ? AND removed_at IS NULL",
                )
                .bind(service_id)
                .bind(team_id)
                .execute(connection)
                .await?
                .rows_affected();
                Ok(moved == 1)
            })
        })
        .await
    }

    pub async fn rename_team(&self, team_id: i64, name: &str) -> sqlx::Result<()> {
        self.execute(
            "UPDATE teams SET name = ? WHERE id = ?",
            arguments![name.to_owned(), team_id],
        )
        .await
        .map(drop)
    }

    pub async fn insert_code(
        &self,
        code: &Code,
        redirect_uri: Option<&str>,
        now: i64,
    ) -> sqlx::Result<()> {
        self.execute(
            INSERT_CODE,
            arguments![
                code.code_hash.clone(),
                code.client_id.clone(),
                code.user_id,
                code.team_id,
                code.scopes.clone(),
                code.code_challenge.clone(),
                redirect_uri.map(str::to_owned),
                code.region.clone(),
                now,
                code.expires_at,
            ],
        )
        .await
        .map(drop)
    }

    /// The code (read on a reader: a code is committed before its answer
    /// leaves) and its user's teams ([`Db::teams_of_user`]), in one query.
    pub async fn code_and_teams(&self, code_hash: &str) -> sqlx::Result<Option<(Code, Vec<Team>)>> {
        #[derive(FromRow)]
        struct Row {
            #[sqlx(flatten)]
            code: Code,
            #[sqlx(flatten)]
            team: JoinedTeam,
        }
        let rows: Vec<Row> = sqlx::query_as(concat!(
            "SELECT c.code_hash, c.client_id, c.user_id, c.team_id, c.scopes, c.code_challenge,
                    c.redirect_uri, c.region, c.expires_at, c.consumed_at, ",
            team_columns!(),
            " FROM authorization_codes c",
            teams_of!("c.user_id"),
            " WHERE c.code_hash = ? ORDER BY m.joined_at, t.id"
        ))
        .bind(code_hash)
        .fetch_all(&mut *self.reader.get().await?)
        .await?;
        Ok(head_and_teams(
            rows.into_iter().map(|row| (row.code, row.team)),
        ))
    }

    /// Consumes the code and, if the caller's checks passed (`tokens` is
    /// `Some`), stores the tokens, in one write: of two concurrent exchanges
    /// exactly one sees [`Exchange::Issued`] or [`Exchange::Refused`]. A
    /// refused code stays consumed. A code consumed before is a replay
    /// (RFC 6749 section 4.1.2: it leaked), and every token issued from it
    /// is revoked in the same write.
    pub async fn exchange_code(
        &self,
        code_hash: &str,
        now: i64,
        tokens: Option<NewTokens>,
    ) -> sqlx::Result<Exchange> {
        let code_hash = code_hash.to_owned();
        self.write(move |connection| {
            let code_hash = code_hash.clone();
            let tokens = tokens.clone();
            Box::pin(async move {
                let consumed = match tokens {
                    // The tokens are stored only while the code is
                    // unconsumed, then it is consumed: three rows or none.
                    Some(tokens) => {
                        let changed = sqlx::query(
                            "INSERT INTO access_tokens (token_hash, client_id, user_id, team_id,
                                scopes, code_hash, created_at, expires_at)
                                SELECT ?, ?, ?, ?, ?, ?, ?, ? FROM authorization_codes
                                WHERE code_hash = ? AND consumed_at IS NULL;
                             INSERT INTO refresh_tokens (token_hash, access_token_hash,
                                client_id, user_id, team_id, scopes, code_hash, created_at)
                                SELECT ?, ?, ?, ?, ?, ?, ?, ? FROM authorization_codes
                                WHERE code_hash = ? AND consumed_at IS NULL;
                             UPDATE authorization_codes SET consumed_at = ?
                                WHERE code_hash = ? AND consumed_at IS NULL",
                        )
                        .bind(&tokens.access_hash)
                        .bind(&tokens.client_id)
                        .bind(tokens.user_id)
                        .bind(tokens.team_id)
                        .bind(&tokens.scopes)
                        .bind(&tokens.code_hash)
                        .bind(tokens.now)
                        .bind(tokens.expires_at)
                        .bind(&code_hash)
                        .bind(&tokens.refresh_hash)
                        .bind(&tokens.access_hash)
                        .bind(&tokens.client_id)
                        .bind(tokens.user_id)
                        .bind(tokens.team_id)
                        .bind(&tokens.scopes)
                        .bind(&tokens.code_hash)
                        .bind(tokens.now)
                        .bind(&code_hash)
                        .bind(now)
                        .bind(&code_hash)
                        .execute(&mut *connection)
                        .await?
                        .rows_affected();
                        (changed > 0).then_some(Exchange::Issued)
                    }
                    None => {
                        let changed = sqlx::query(
                            "UPDATE authorization_codes SET consumed_at = ?
                             WHERE code_hash = ? AND consumed_at IS NULL",
                        )
                        .bind(now)
                        .bind(&code_hash)
                        .execute(&mut *connection)
                        .await?
                        .rows_affected();
                        (changed > 0).then_some(Exchange::Refused)
                    }
                };
                if let Some(consumed) = consumed {
                    return Ok(consumed);
                }
                let known: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM authorization_codes WHERE code_hash = ?)",
                )
                .bind(&code_hash)
                .fetch_one(&mut *connection)
                .await?;
                if !known {
                    return Ok(Exchange::Unknown);
                }
                let revoked = sqlx::query(
                    "UPDATE access_tokens SET revoked_at = ?
                        WHERE code_hash = ? AND revoked_at IS NULL;
                     UPDATE refresh_tokens SET revoked_at = ?
                        WHERE code_hash = ? AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(&code_hash)
                .bind(now)
                .bind(&code_hash)
                .execute(connection)
                .await?
                .rows_affected();
                Ok(Exchange::Replayed { revoked })
            })
        })
        .await
    }

    /// Stores a new access and refresh token, revoking `rotated` (the
    /// refresh token being exchanged) in the same write. `false`: the
    /// refresh token was rotated by someone else meanwhile.
    pub async fn insert_tokens(
        &self,
        tokens: &NewTokens,
        rotated: Option<&RefreshRotation>,
    ) -> sqlx::Result<bool> {
        let tokens = tokens.clone();
        let rotated = rotated.cloned();
        self.write(move |connection| {
            let rotated = rotated.clone();
            let tokens = tokens.clone();
            Box::pin(async move {
                if let Some(rotated) = rotated {
                    let revoked = sqlx::query(
                        "UPDATE refresh_tokens SET revoked_at = ?
                         WHERE token_hash = ? AND revoked_at IS NULL",
                    )
                    .bind(tokens.now)
                    .bind(&rotated.refresh_hash)
                    .execute(&mut *connection)
                    .await?
                    .rows_affected();
                    if revoked == 0 {
                        // Lost a race with another rotation of the same token.
                        return Ok(false);
                    }
                    sqlx::query(
                        "UPDATE access_tokens SET revoked_at = ?
                         WHERE token_hash = ? AND revoked_at IS NULL",
                    )
                    .bind(tokens.now)
                    .bind(&rotated.access_hash)
                    .execute(&mut *connection)
                    .await?;
                }
                insert_token_rows(connection, &tokens).await?;
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
        self.execute(
            "INSERT INTO personal_api_keys (key_hash, masked, user_id, team_id, client_id, scopes,
                created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            arguments![
                key_hash.to_owned(),
                masked.to_owned(),
                user_id,
                team_id,
                client_id.map(str::to_owned),
                scopes.to_owned(),
                now,
                expires_at,
            ],
        )
        .await
        .map(drop)
    }

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

/// The refresh token being exchanged, and the access token it came with.
#[derive(Debug, Clone)]
pub struct RefreshRotation {
    pub refresh_hash: String,
    pub access_hash: String,
}

impl Db {
    /// A new non-demo team in an existing organization.
    /// The team dedicated to a partner's `project_id`, created (in
    /// `organization_id`, named `name`) the first time it is asked for, in
    /// one write so two requests never make two.
    #[allow(clippy::too_many_arguments)]
    pub async fn project_team(
        &self,
        client_id: &str,
        project_id: &str,
        organization_id: &str,
        name: &str,
        api_token: &str,
        region: &str,
        now: i64,
    ) -> sqlx::Result<i64> {
        let values = [
            client_id,
            project_id,
            organization_id,
            name,
            api_token,
            region,
        ]
        .map(str::to_owned);
        self.write(move |connection| {
            let values = values.clone();
            Box::pin(async move {
                let [client_id, project_id, organization_id, name, api_token, region] = values;
                let existing: Option<i64> = sqlx::query_scalar(
                    "SELECT team_id FROM project_teams WHERE client_id = ? AND project_id = ?",
                )
                .bind(&client_id)
                .bind(&project_id)
                .fetch_optional(&mut *connection)
                .await?;
                if let Some(team_id) = existing {
                    return Ok(team_id);
                }
                let team_id: i64 = sqlx::query_scalar(
                    "INSERT INTO teams (organization_id, name, api_token, is_demo, region,
                        created_at) VALUES (?, ?, ?, 0, ?, ?) RETURNING id",
                )
                .bind(organization_id)
                .bind(name)
                .bind(api_token)
                .bind(region)
                .bind(now)
                .fetch_one(&mut *connection)
                .await?;
                sqlx::query(
                    "INSERT INTO project_teams (client_id, project_id, team_id) VALUES (?, ?, ?)",
                )
                .bind(client_id)
                .bind(project_id)
                .bind(team_id)
                .execute(&mut *connection)
                .await?;
                Ok(team_id)
            })
        })
        .await
    }

    pub async fn create_team(
        &self,
        organization_id: &str,
        name: &str,
        api_token: &str,
        region: &str,
        now: i64,
    ) -> sqlx::Result<i64> {
        let values = [organization_id, name, api_token, region].map(str::to_owned);
        self.write(move |connection| {
            let values = values.clone();
            Box::pin(async move {
                let [organization_id, name, api_token, region] = values;
                sqlx::query_scalar(
                    "INSERT INTO teams (organization_id, name, api_token, is_demo, region,
                        created_at) VALUES (?, ?, ?, 0, ?, ?) RETURNING id",
                )
                .bind(organization_id)
                .bind(name)
                .bind(api_token)
                .bind(region)
                .bind(now)
                .fetch_one(connection)
                .await
            })
        })
        .await
    }
}

impl Db {
    /// Sets (or replaces) a user's password hash.
    pub async fn set_password_hash(&self, user_id: i64, password_hash: &str) -> sqlx::Result<()> {
        self.execute(
            "UPDATE users SET password_hash = ? WHERE id = ?",
            arguments![password_hash.to_owned(), user_id],
        )
        .await
        .map(drop)
    }

    /// The user with `email` and the stored password hash, if any.
    pub async fn user_with_password(
        &self,
        email: &str,
    ) -> sqlx::Result<Option<(User, Option<String>)>> {
        let row: Option<(i64, String, String, String, i64, Option<String>)> = sqlx::query_as(
            "SELECT id, uuid, email, first_name, created_at, password_hash FROM users WHERE email = ?",
        )
        .bind(email)
        .fetch_optional(&mut *self.reader.get().await?)
        .await?;
        Ok(
            row.map(|(id, uuid, email, first_name, created_at, password_hash)| {
                (
                    User {
                        id,
                        uuid,
                        email,
                        first_name,
                        created_at,
                        has_password: password_hash.is_some(),
                    },
                    password_hash,
                )
            }),
        )
    }
}

/// What [`Db::exchange_code`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// This request consumed the code and the tokens are stored.
    Issued,
    /// This request consumed the code; the caller's checks refused it.
    Refused,
    /// It was consumed before; `revoked` tokens issued from it were revoked.
    Replayed {
        revoked: u64,
    },
    Unknown,
}

/// Both rows in one round trip (each statement takes the next of the
/// bound values for its `?`s).
async fn insert_token_rows(
    connection: &mut SqliteConnection,
    tokens: &NewTokens,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO access_tokens (token_hash, client_id, user_id, team_id, scopes, code_hash,
            created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?);
         INSERT INTO refresh_tokens (token_hash, access_token_hash, client_id, user_id, team_id,
            scopes, code_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&tokens.access_hash)
    .bind(&tokens.client_id)
    .bind(tokens.user_id)
    .bind(tokens.team_id)
    .bind(&tokens.scopes)
    .bind(&tokens.code_hash)
    .bind(tokens.now)
    .bind(tokens.expires_at)
    .bind(&tokens.refresh_hash)
    .bind(&tokens.access_hash)
    .bind(&tokens.client_id)
    .bind(tokens.user_id)
    .bind(tokens.team_id)
    .bind(&tokens.scopes)
    .bind(&tokens.code_hash)
    .bind(tokens.now)
    .execute(connection)
    .await?;
    Ok(())
}

const INSERT_CODE: &str = "INSERT INTO authorization_codes (code_hash, client_id, user_id, team_id,
    scopes, code_challenge, redirect_uri, region, created_at, expires_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

#[cfg(test)]
mod tests {
    use super::*;

    fn partner(active: bool) -> Application {
        Application {
            active,
            ..Application::for_test("partner_test", "user:read")
        }
    }

    #[tokio::test]
    async fn an_application_change_is_served_at_once() {
        let db = Db::connect("sqlite::memory:").await.expect("opens");
        assert_eq!(db.application("partner_test").await.expect("reads"), None);
        db.upsert_application(&partner(true)).await.expect("stores");
        assert_eq!(
            db.application("partner_test").await.expect("reads"),
            Some(partner(true))
        );
        db.upsert_application(&partner(false))
            .await
            .expect("stores");
        let stored = db.application("partner_test").await.expect("reads");
        assert_eq!(stored.map(|partner| partner.active), Some(false));
        let listed = db.applications().await.expect("lists");
        assert_eq!(
            listed
                .iter()
                .filter(|a| a.client_id == "partner_test")
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn applications_are_read_at_start() {
        let directory = tempfile::tempdir().expect("tempdir");
        let url = format!(
            "sqlite://{}?mode=rwc",
            directory.path().join("db.sqlite").display()
        );
        let db = Db::connect(&url).await.expect("opens");
        db.upsert_application(&partner(false))
            .await
            .expect("stores");
        drop(db);
        let reopened = Db::connect(&url).await.expect("opens again");
        assert_eq!(
            reopened.application("partner_test").await.expect("reads"),
            Some(partner(false))
        );
    }
}
