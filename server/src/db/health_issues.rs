//! Health issues (`health_issues`): stored by seeds, listed by
//! `GET /api/environments/{id}/health_issues/` with its filters.

use sqlx::FromRow;

use super::handle::Db;
use super::named::named;

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

impl Db {
    pub async fn upsert_health_issue(&self, issue: &HealthIssueRow) -> sqlx::Result<()> {
        let statement = named!(
            "INSERT INTO health_issues (id, team_id, kind, severity, status, dismissed, created_at)
             VALUES (:id, :team_id, :kind, :severity, :status, :dismissed, :created_at)
             ON CONFLICT (id) DO UPDATE SET team_id = excluded.team_id, kind = excluded.kind,
                severity = excluded.severity, status = excluded.status,
                dismissed = excluded.dismissed, created_at = excluded.created_at",
            id = issue.id.clone(),
            team_id = issue.team_id,
            kind = issue.kind.clone(),
            severity = issue.severity.clone(),
            status = issue.status.clone(),
            dismissed = issue.dismissed,
            created_at = issue.created_at,
        );
        self.execute_named_sparing_holders(statement)
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
}
