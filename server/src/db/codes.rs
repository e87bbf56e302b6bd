//! Authorization codes (`authorization_codes`, stored hashed): storing one,
//! reading it with its user's teams, and the exchange that consumes it and
//! stores its tokens in one write.

use sqlx::FromRow;

use super::accounts::{user_columns, JoinedUser, User};
use super::handle::Db;
use super::holder_index::Reach;
use super::named::{named, Named};
use super::teams::{head_and_teams, team_columns, teams_of, JoinedTeam, Team};
use super::tokens::{NewTokens, REVOKE_FAMILY};

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

/// Stores `code`, sent to `redirect_uri`, issued at `now` (a signup's code
/// is stored with its account instead: `accounts.rs`).
pub(super) fn insert_code(
    code: &Code,
    redirect_uri: Option<&str>,
    now: i64,
) -> sqlx::Result<Named> {
    Ok(named!(
        "INSERT INTO authorization_codes (code_hash, client_id, user_id, team_id, scopes,
            code_challenge, redirect_uri, region, created_at, expires_at)
         VALUES (:code_hash, :client_id, :user_id, :team_id, :scopes,
            :code_challenge, :redirect_uri, :region, :now, :expires_at)",
        code_hash = code.code_hash.clone(),
        client_id = code.client_id.clone(),
        user_id = code.user_id,
        team_id = code.team_id,
        scopes = code.scopes.clone(),
        code_challenge = code.code_challenge.clone(),
        redirect_uri = redirect_uri.map(str::to_owned),
        region = code.region.clone(),
        now = now,
        expires_at = code.expires_at,
    ))
}

/// The exchange that passed its checks: the tokens are stored only while
/// the code is unconsumed, then it is consumed: three rows or none.
const ISSUE: &str = "
    INSERT INTO access_tokens (token_hash, client_id, user_id, team_id, scopes, code_hash,
            created_at, expires_at)
        SELECT :access_hash, :client_id, :user_id, :team_id, :scopes, :token_code_hash,
            :issued_at, :expires_at
        FROM authorization_codes WHERE code_hash = :code_hash AND consumed_at IS NULL;
    INSERT INTO refresh_tokens (token_hash, access_token_hash, client_id, user_id, team_id,
            scopes, code_hash, created_at)
        SELECT :refresh_hash, :access_hash, :client_id, :user_id, :team_id, :scopes,
            :token_code_hash, :issued_at
        FROM authorization_codes WHERE code_hash = :code_hash AND consumed_at IS NULL;
    UPDATE authorization_codes SET consumed_at = :now
        WHERE code_hash = :code_hash AND consumed_at IS NULL";

impl Db {
    pub async fn insert_code(
        &self,
        code: &Code,
        redirect_uri: Option<&str>,
        now: i64,
    ) -> sqlx::Result<()> {
        self.execute_named_sparing_holders(insert_code(code, redirect_uri, now)?)
            .await
            .map(drop)
    }

    /// The code (read on a reader: a code is committed before its answer
    /// leaves), its user and the user's teams ([`Db::teams_of_user`]), in
    /// one query.
    pub async fn code_user_and_teams(
        &self,
        code_hash: &str,
    ) -> sqlx::Result<Option<(Code, User, Vec<Team>)>> {
        #[derive(FromRow)]
        struct Row {
            #[sqlx(flatten)]
            code: Code,
            #[sqlx(flatten)]
            user: JoinedUser,
            #[sqlx(flatten)]
            team: JoinedTeam,
        }
        let rows: Vec<Row> = sqlx::query_as(concat!(
            "SELECT c.code_hash, c.client_id, c.user_id, c.team_id, c.scopes, c.code_challenge,
                    c.redirect_uri, c.region, c.expires_at, c.consumed_at, ",
            user_columns!(),
            ", ",
            team_columns!(),
            " FROM authorization_codes c JOIN users u ON u.id = c.user_id",
            teams_of!("c.user_id"),
            " WHERE c.code_hash = ? ORDER BY m.joined_at, t.id"
        ))
        .bind(code_hash)
        .fetch_all(&mut *self.reader.get().await?)
        .await?;
        let rows = rows.into_iter().map(|row| {
            let user = row.user.with_id(row.code.user_id);
            ((row.code, user), row.team)
        });
        Ok(head_and_teams(rows).map(|((code, user), teams)| (code, user, teams)))
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
        let issue = match tokens {
            Some(tokens) => Some(named!(
                ISSUE,
                access_hash = tokens.access_hash,
                refresh_hash = tokens.refresh_hash,
                client_id = tokens.client_id,
                user_id = tokens.user_id,
                team_id = tokens.team_id,
                scopes = tokens.scopes,
                token_code_hash = tokens.code_hash,
                issued_at = tokens.now,
                expires_at = tokens.expires_at,
                code_hash = code_hash.to_owned(),
                now = now,
            )),
            None => None,
        };
        let code_hash = code_hash.to_owned();
        // New tokens are no kept holder's; a replay revokes a family.
        let reach = |exchange: &Exchange| match exchange {
            Exchange::Replayed { .. } => Reach::Holders,
            _ => Reach::NoHolder,
        };
        self.write_reaching(reach, move |connection| {
            let code_hash = code_hash.clone();
            let issue = issue.clone();
            Box::pin(async move {
                let consumed = match issue {
                    Some(issue) => {
                        let changed = issue.query().execute(&mut *connection).await?;
                        (changed.rows_affected() > 0).then_some(Exchange::Issued)
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
                let revoked = sqlx::query(REVOKE_FAMILY)
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
}
