//! Today's pending consents (migration 0009): an existing user's account
//! request kept until the person approves it, stored under the hash of its
//! state. Approving consumes it and stores the code in one write, so a
//! state approves at most one code.

use sqlx::FromRow;

use super::codes::{insert_code, Code};
use super::handle::{arguments, Db};
use super::named::named;

/// A pending consent as stored (the state only as its hash).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct PendingConsent {
    pub state_hash: String,
    /// The partner that asked.
    pub client_id: String,
    /// The existing user's email: only that user may approve.
    pub email: String,
    /// Space separated, as the account request settled them.
    pub scopes: String,
    /// The account request's S256 challenge: the code is exchanged with
    /// that request's verifier.
    pub code_challenge: String,
    pub region: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What approving a pending consent did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// The pending consent is gone and the code is stored.
    Approved,
    /// It expired or was used meanwhile: nothing stored.
    Gone,
}

impl Db {
    /// Stores `pending`, replacing any earlier one of the same partner and
    /// email (a retried request leaves one live consent URL).
    pub async fn replace_pending_consent(&self, pending: &PendingConsent) -> sqlx::Result<()> {
        let statement = named!(
            "DELETE FROM pending_consents WHERE client_id = :client_id AND email = :email;
             INSERT INTO pending_consents (state_hash, client_id, email, scopes,
                code_challenge, region, created_at, expires_at)
             VALUES (:state_hash, :client_id, :email, :scopes,
                :code_challenge, :region, :created_at, :expires_at)",
            state_hash = pending.state_hash.clone(),
            client_id = pending.client_id.clone(),
            email = pending.email.clone(),
            scopes = pending.scopes.clone(),
            code_challenge = pending.code_challenge.clone(),
            region = pending.region.clone(),
            created_at = pending.created_at,
            expires_at = pending.expires_at,
        );
        self.execute_named_sparing_holders(statement)
            .await
            .map(drop)
    }

    /// The live pending consent with this state hash (`None` once it
    /// expired by `now`, was approved, or never existed).
    pub async fn pending_consent(
        &self,
        state_hash: &str,
        now: i64,
    ) -> sqlx::Result<Option<PendingConsent>> {
        sqlx::query_as(
            "SELECT state_hash, client_id, email, scopes, code_challenge, region, created_at,
                    expires_at
             FROM pending_consents WHERE state_hash = ? AND expires_at > ?",
        )
        .bind(state_hash)
        .bind(now)
        .fetch_optional(&mut *self.reader.get().await?)
        .await
    }

    /// Forgets a pending consent (its partner was deactivated).
    pub async fn delete_pending_consent(&self, state_hash: &str) -> sqlx::Result<()> {
        self.execute(
            "DELETE FROM pending_consents WHERE state_hash = ?",
            arguments![state_hash.to_owned()],
        )
        .await
        .map(drop)
    }

    /// Consumes the live pending consent `state_hash` and stores `code`, in
    /// one write: of two approvals of one state exactly one stores a code.
    pub async fn approve_pending_consent(
        &self,
        state_hash: &str,
        code: &Code,
        now: i64,
    ) -> sqlx::Result<Approval> {
        let state_hash = state_hash.to_owned();
        let insert = insert_code(code, code.redirect_uri.as_deref(), now)?;
        self.write(move |connection| {
            let (state_hash, insert) = (state_hash.clone(), insert.clone());
            Box::pin(async move {
                let consumed = sqlx::query(
                    "DELETE FROM pending_consents WHERE state_hash = ? AND expires_at > ?",
                )
                .bind(&state_hash)
                .bind(now)
                .execute(&mut *connection)
                .await?;
                if consumed.rows_affected() == 0 {
                    return Ok(Approval::Gone);
                }
                insert.query().execute(&mut *connection).await?;
                Ok(Approval::Approved)
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(state_hash: &str, email: &str) -> PendingConsent {
        PendingConsent {
            state_hash: state_hash.into(),
            client_id: "posthog-wizard".into(),
            email: email.into(),
            scopes: "user:read".into(),
            code_challenge: "challenge".into(),
            region: "us".into(),
            created_at: 1_000,
            expires_at: 1_600,
        }
    }

    fn code() -> Code {
        Code {
            code_hash: "code".into(),
            client_id: "posthog-wizard".into(),
            user_id: 1,
            team_id: 1,
            scopes: "user:read".into(),
            code_challenge: Some("challenge".into()),
            redirect_uri: None,
            region: "us".into(),
            expires_at: 1_300,
            consumed_at: None,
        }
    }

    /// A retried account request leaves one live consent link per partner
    /// and email; a link lives 600 s; an expired or replaced one approves
    /// nothing (else a leaked old link would still mint a code).
    #[tokio::test]
    async fn a_retry_replaces_the_link_and_links_expire() {
        let db = Db::connect("sqlite::memory:").await.expect("opens");
        db.replace_pending_consent(&pending("first", "a@example.com"))
            .await
            .expect("stores");
        db.replace_pending_consent(&pending("other", "b@example.com"))
            .await
            .expect("stores");
        db.replace_pending_consent(&pending("second", "a@example.com"))
            .await
            .expect("stores");
        assert_eq!(
            db.pending_consent("first", 1_001).await.expect("reads"),
            None
        );
        assert!(db
            .pending_consent("other", 1_001)
            .await
            .expect("reads")
            .is_some());
        assert_eq!(
            db.pending_consent("second", 1_599).await.expect("reads"),
            Some(pending("second", "a@example.com"))
        );
        assert_eq!(
            db.pending_consent("second", 1_600).await.expect("reads"),
            None
        );
        for (state, now) in [("first", 1_001), ("second", 1_600)] {
            assert_eq!(
                db.approve_pending_consent(state, &code(), now)
                    .await
                    .expect("writes"),
                Approval::Gone,
                "{state}"
            );
        }
    }
}
