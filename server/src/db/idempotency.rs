//! Account-request idempotency (`account_requests`): the answer kept for a
//! partner's request id, replayed to a retry with the same body.

use sqlx::FromRow;

use super::handle::Db;
use super::named::named;

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
        let statement = named!(
            "INSERT OR REPLACE INTO account_requests (client_id, request_id, body_hash, answer,
                region, created_at)
             VALUES (:client_id, :request_id, :canonical_body, :answer, :region, :now)",
            client_id = client_id.to_owned(),
            request_id = request_id.to_owned(),
            canonical_body = canonical_body.to_owned(),
            answer = answer.to_owned(),
            region = region.map(str::to_owned),
            now = now,
        );
        self.execute_named(statement).await.map(drop)
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
