//! Credential holders: a bearer credential (an access token or a personal
//! API key, by its hash) read with its user and the user's live teams in
//! one query, since nearly every request looks up its credential and then
//! its teams; and kept in the holder index (`holder_index.rs`) until a
//! write may have changed it.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use sqlx::FromRow;

use super::accounts::{user_columns, JoinedUser, User};
use super::handle::Db;
use super::holder_index::Table;
use super::teams::{head_and_teams, team_columns, teams_of, JoinedTeam, Team};

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
    /// The authorization code the credential descends from (its family),
    /// if it came from one.
    #[sqlx(default)]
    pub code_hash: Option<String>,
    /// Whether the issuing partner is active, read in the same query as
    /// the credential (`None`: no partner, or none registered).
    #[sqlx(default)]
    pub partner_active: Option<bool>,
}

/// A bearer credential as found, with its holder: the user and the user's
/// live teams, oldest membership first.
#[derive(Debug, Clone)]
pub struct Holder {
    pub grant: Grant,
    pub user: User,
    pub teams: Vec<Team>,
    /// Answers made from this holder alone, kept with it.
    pub answers: KeptAnswers,
}

impl Holder {
    pub fn new(grant: Grant, user: User, teams: Vec<Team>) -> Holder {
        Holder {
            grant,
            user,
            teams,
            answers: KeptAnswers::default(),
        }
    }
}

/// Serialized answers that depend on nothing but a [`Holder`] (and the
/// server's fixed settings), made by the first request that needs each and
/// reused while the holder is kept: the holder index forgets them with it,
/// so they are never older than the holder itself.
#[derive(Debug, Clone, Default)]
pub struct KeptAnswers {
    /// The body of `GET /api/users/@me/`.
    pub me: OnceLock<Bytes>,
    /// The body of a live introspection answer.
    pub introspection: OnceLock<Bytes>,
}

/// The query of [`Db::access_token_holder`] for the credential table
/// `$table`, keyed by its hash column `$key`.
macro_rules! holder_sql {
    ($table:literal, $key:literal) => {
        concat!(
            "SELECT c.client_id, c.user_id, c.team_id, c.scopes, c.created_at, c.expires_at,
                    c.revoked_at, c.code_hash, a.active AS partner_active, ",
            user_columns!(),
            ", ",
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

impl Db {
    /// The access token (`pha_`) with this hash, its user and the user's
    /// teams ([`Holder`]): from the holder index, or else in one query.
    pub async fn access_token_holder(&self, token_hash: &str) -> sqlx::Result<Option<Arc<Holder>>> {
        self.holder(Table::AccessTokens, token_hash).await
    }

    /// The personal API key (`phx_`) with this hash, as
    /// [`Db::access_token_holder`].
    pub async fn personal_key_holder(&self, key_hash: &str) -> sqlx::Result<Option<Arc<Holder>>> {
        self.holder(Table::PersonalApiKeys, key_hash).await
    }

    /// The holder index's epoch now, to be taken before reading what a
    /// new access token's holder is made of ([`Db::keep_new_access_token`]).
    pub fn holder_epoch(&self) -> u64 {
        self.holders.epoch()
    }

    /// Keeps the holder of an access token just stored, made from what was
    /// read after `epoch` was taken, unless a write reached the holders
    /// since: the request that presents it next (the signup's resources
    /// call) then reads nothing.
    pub fn keep_new_access_token(&self, token_hash: &str, holder: Holder, epoch: u64) {
        self.holders
            .keep(Table::AccessTokens, token_hash, &Arc::new(holder), epoch);
    }

    /// The access token's holder read from the database, never from the
    /// index (for tests that compare the two).
    #[doc(hidden)]
    pub async fn stored_access_token_holder(
        &self,
        token_hash: &str,
    ) -> sqlx::Result<Option<Holder>> {
        self.read_holder(holder_sql!("access_tokens", "token_hash"), token_hash)
            .await
    }

    async fn holder(&self, table: Table, hash: &str) -> sqlx::Result<Option<Arc<Holder>>> {
        let epoch = match self.holders.get(table, hash) {
            Ok(kept) => return Ok(Some(kept)),
            Err(epoch) => epoch,
        };
        let sql = match table {
            Table::AccessTokens => holder_sql!("access_tokens", "token_hash"),
            Table::PersonalApiKeys => holder_sql!("personal_api_keys", "key_hash"),
        };
        let Some(holder) = self.read_holder(sql, hash).await? else {
            return Ok(None);
        };
        let holder = Arc::new(holder);
        self.holders.keep(table, hash, &holder, epoch);
        Ok(Some(holder))
    }

    async fn read_holder(&self, sql: &'static str, hash: &str) -> sqlx::Result<Option<Holder>> {
        #[derive(FromRow)]
        struct Row {
            #[sqlx(flatten)]
            grant: Grant,
            #[sqlx(flatten)]
            user: JoinedUser,
            #[sqlx(flatten)]
            team: JoinedTeam,
        }
        let rows: Vec<Row> = sqlx::query_as(sql)
            .bind(hash)
            .fetch_all(&mut *self.reader.get().await?)
            .await?;
        let rows = rows.into_iter().map(|row| {
            let user = row.user.with_id(row.grant.user_id);
            ((row.grant, user), row.team)
        });
        Ok(head_and_teams(rows).map(|((grant, user), teams)| Holder::new(grant, user, teams)))
    }
}
