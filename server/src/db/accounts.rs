//! Accounts (`users`, `organizations`, `memberships`): reading users, their
//! passwords, and the signup that creates a user with an organization, a
//! membership, a team and a code in one write.

use sqlx::FromRow;

use super::codes::Code;
use super::handle::{arguments, Db};
use super::holder_index::Reach;
use super::named::named;

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

/// The user columns of a row that joins `users u` to another table's
/// `user_id`, as [`JoinedUser`] reads them.
macro_rules! user_columns {
    () => {
        "u.uuid, u.email, u.first_name, u.created_at AS user_created_at,
         u.password_hash IS NOT NULL AS has_password"
    };
}
pub(super) use user_columns;

/// A user as a row with [`user_columns!`] carries it; its id is the other
/// table's `user_id`.
#[derive(Debug, FromRow)]
pub(super) struct JoinedUser {
    uuid: String,
    email: String,
    first_name: String,
    user_created_at: i64,
    has_password: bool,
}

impl JoinedUser {
    /// The user, whose id is `id`.
    pub(super) fn with_id(self, id: i64) -> User {
        User {
            id,
            uuid: self.uuid,
            email: self.email,
            first_name: self.first_name,
            created_at: self.user_created_at,
            has_password: self.has_password,
        }
    }
}

#[cfg(test)]
impl User {
    /// A user for rule tests: id 1, `a@b.co`, no password.
    pub fn for_test() -> User {
        User {
            id: 1,
            uuid: "u".into(),
            email: "a@b.co".into(),
            first_name: String::new(),
            created_at: 0,
            has_password: false,
        }
    }
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

/// What [`Db::create_account_with_code`] found.
#[derive(Debug, Clone)]
pub enum Created {
    New {
        user: User,
        team_id: i64,
    },
    /// Someone holds the email already (perhaps a concurrent request).
    Existing(User),
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

/// The signup: the user is inserted unless the email is taken; every later
/// statement acts only "for the user with our new uuid", so for a taken
/// email nothing else is written. The last statement reads back whoever
/// holds the email, with the new team when it is ours.
const CREATE_ACCOUNT_WITH_CODE: &str = "
    INSERT INTO users (uuid, email, first_name, created_at)
        VALUES (:uuid, :email, :first_name, :now) ON CONFLICT (email) DO NOTHING;
    INSERT INTO organizations (id, name, created_at)
        SELECT :organization_id, :organization_name, :now FROM users WHERE uuid = :uuid;
    INSERT INTO memberships (user_id, organization_id, joined_at)
        SELECT id, :organization_id, :now FROM users WHERE uuid = :uuid;
    INSERT INTO teams (organization_id, name, api_token, is_demo, region, created_at)
        SELECT :organization_id, :team_name, :team_api_token, 0, :region, :now
        FROM users WHERE uuid = :uuid;
    INSERT INTO authorization_codes (code_hash, client_id, user_id, team_id, scopes,
            code_challenge, redirect_uri, region, created_at, expires_at)
        SELECT :code_hash, :client_id, u.id, t.id, :scopes, :code_challenge, NULL,
            :code_region, :now, :expires_at
        FROM users u, teams t WHERE u.uuid = :uuid AND t.api_token = :team_api_token;
    SELECT u.id, u.uuid, u.email, u.first_name, u.created_at,
            u.password_hash IS NOT NULL AS has_password, t.id AS team_id
        FROM users u LEFT JOIN teams t ON t.api_token = :team_api_token
        WHERE u.email = :email";

impl Db {
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
        let statement = named!(
            CREATE_ACCOUNT_WITH_CODE,
            uuid = account.user_uuid.clone(),
            email = account.email.clone(),
            first_name = account.first_name.clone(),
            now = account.now,
            organization_id = account.organization_id.clone(),
            organization_name = account.organization_name.clone(),
            team_name = account.team_name.clone(),
            team_api_token = account.team_api_token.clone(),
            region = account.region.clone(),
            code_hash = code.code_hash.clone(),
            client_id = code.client_id.clone(),
            scopes = code.scopes.clone(),
            code_challenge = code.code_challenge.clone(),
            code_region = code.region.clone(),
            expires_at = code.expires_at,
        );
        let user_uuid = account.user_uuid.clone();
        // Only the new user's rows (a taken email adds nothing): no
        // credential's holder changes.
        self.write_reaching(
            |_| Reach::NoHolder,
            move |connection| {
                let statement = statement.clone();
                let user_uuid = user_uuid.clone();
                Box::pin(async move {
                    let row: Row = statement.query_as().fetch_one(connection).await?;
                    Ok(match row.team_id {
                        Some(team_id) if row.user.uuid == user_uuid => Created::New {
                            user: row.user,
                            team_id,
                        },
                        _ => Created::Existing(row.user),
                    })
                })
            },
        )
        .await
    }

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
