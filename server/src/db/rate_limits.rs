//! Rate-limit counters: hourly windows (`rate_limit_windows`) and token
//! buckets (`rate_limit_buckets`), each use counted in one write so
//! concurrent requests never exceed a limit. Which limit applies is
//! `rate_limit.rs`'s rule. No credential's holder is read from them.

use super::handle::Db;
use super::holder_index::Reach;

impl Db {
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
            .write_reaching(
                |_| Reach::NoHolder,
                move |connection| {
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
                },
            )
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
        self.write_reaching(
            |_| Reach::NoHolder,
            move |connection| {
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
                    let available = bucket_tokens(stored, now, burst, per_hour);
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
            },
        )
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
}

/// The tokens in a bucket of `burst` refilling at `per_hour` a hour, stored
/// as `tokens` left at `updated_at` (none stored yet: full), seen at `now`.
pub fn bucket_tokens(stored: Option<(f64, i64)>, now: i64, burst: i64, per_hour: i64) -> f64 {
    let capacity = burst as f64;
    match stored {
        None => capacity,
        Some((tokens, updated_at)) => {
            let elapsed = (now - updated_at).max(0) as f64;
            (tokens + elapsed * per_hour as f64 / 3600.0).min(capacity)
        }
    }
}
