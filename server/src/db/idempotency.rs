//! Account-request idempotency (`account_requests`): the answer kept for a
//! partner's request id, replayed to a retry with the same body.

use sqlx::FromRow;

use super::handle::Db;
use super::named::named;

/// An answer to keep for replay.
#[derive(Debug, Clone, Copy)]
pub struct KeptAnswer<'a> {
    pub client_id: &'a str,
    pub request_id: &'a str,
    /// The body's hash, compared with a retry's.
    pub canonical_body: &'a str,
    /// The answer, sealed.
    pub answer: &'a str,
    pub region: Option<&'a str>,
    pub now: i64,
    /// How long a kept answer is replayed, in seconds; an older one may be
    /// replaced.
    pub window: i64,
}

/// A stored account-request answer, for idempotency.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct StoredAccountRequest {
    pub canonical_body: String,
    pub answer: String,
    pub created_at: i64,
}

impl Db {
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

    /// Keeps an answered account request, unless a live answer (younger
    /// than the window) is already kept for its id: a kept answer is never
    /// overwritten, only one that has expired is replaced. `false` when a
    /// live answer was there first.
    pub async fn store_account_request(&self, kept: &KeptAnswer<'_>) -> sqlx::Result<bool> {
        let statement = named!(
            "INSERT INTO account_requests (client_id, request_id, body_hash, answer, region,
                created_at)
             VALUES (:client_id, :request_id, :canonical_body, :answer, :region, :now)
             ON CONFLICT (client_id, request_id) DO UPDATE SET
                body_hash = excluded.body_hash, answer = excluded.answer,
                region = excluded.region, created_at = excluded.created_at
             WHERE account_requests.created_at <= :expired_by",
            client_id = kept.client_id.to_owned(),
            request_id = kept.request_id.to_owned(),
            canonical_body = kept.canonical_body.to_owned(),
            answer = kept.answer.to_owned(),
            region = kept.region.map(str::to_owned),
            now = kept.now,
            expired_by = kept.now - kept.window,
        );
        Ok(self.execute_named_sparing_holders(statement).await? > 0)
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
