//! `GET /api/environments/{id}/health_issues/` (protocol section 5): a
//! project's health issues, filtered by `status` and `dismissed`, at most
//! `limit` (capped). Needs `health_issue:read`; answers and refuses like the
//! rest of the PostHog API subset (`{"detail","code"?}`).

use axum::extract::{RawQuery, State};
use axum::Json;

use protocol::credential::CredentialKind;
use protocol::posthog::{HealthIssue, HealthIssues};

use crate::auth::Authenticated;
use crate::db::seeds::HealthIssueFilter;
use crate::error::{ApiError, PostHogRefusal};
use crate::extract::{NeededScope, PathId, PostHogCaller};
use crate::http::Verdict;
use crate::state::AppState;

/// The scope the endpoint needs.
pub const SCOPE: &str = "health_issue:read";
/// The endpoint's scope, as its extractor reads it.
pub struct HealthIssueRead;

impl NeededScope for HealthIssueRead {
    const SCOPE: &'static str = SCOPE;
}

/// `limit` when absent.
pub const DEFAULT_LIMIT: i64 = 100;
/// The most one answer lists, whatever `limit` asks.
pub const MAX_LIMIT: i64 = 250;

/// A project's health issues (needs `health_issue:read`).
#[utoipa::path(
    get,
    path = "/api/environments/{id}/health_issues",
    tag = "posthog",
    params(
        ("id" = String, Path, description = "The project (team) id"),
        ("status" = Option<String>, Query, description = "active or resolved"),
        ("dismissed" = Option<bool>, Query, description = "true or false"),
        ("limit" = Option<i64>, Query, description = "At most this many results (default 100, capped at 250); `count` is the total"),
    ),
    responses(
        (status = 200, body = protocol::posthog::HealthIssues),
        (status = 400, description = "A filter that is not active/resolved, true/false or a positive integer", body = protocol::error::PostHogError),
        (status = 401, description = "Missing, unknown, revoked or expired credential; the detail says which", body = protocol::error::PostHogError),
        (status = 403, description = "permission_denied, naming the missing scope", body = protocol::error::PostHogError),
        (status = 404, description = "A project the credential cannot reach", body = protocol::error::PostHogError),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    PathId(id): PathId,
    RawQuery(query): RawQuery,
    caller: PostHogCaller<HealthIssueRead>,
) -> (Verdict, Result<Json<HealthIssues>, PostHogRefusal>) {
    let listed = issues(&state, &caller.live, &id, query.as_deref().unwrap_or("")).await;
    (caller.verdict(), listed.map(Json))
}

/// The issues of project `id` the caller reaches, filtered by `query`.
async fn issues(
    state: &AppState,
    live: &Authenticated,
    id: &str,
    query: &str,
) -> Result<HealthIssues, PostHogRefusal> {
    let filter = parse_filter(query)?;
    let not_found = || ApiError::NotFound("Not found.".into());
    let team_id: i64 = id.parse().map_err(|_| not_found())?;
    if !live.teams.iter().any(|team| team.id == team_id) {
        return Err(not_found().into());
    }
    // A personal API key reaches only its own project.
    if live.kind == CredentialKind::PersonalApiKey && live.grant.team_id != team_id {
        return Err(not_found().into());
    }
    let (rows, count) = state.db.health_issues(team_id, &filter).await?;
    Ok(HealthIssues {
        results: rows
            .into_iter()
            .map(|row| HealthIssue {
                id: row.id,
                kind: row.kind,
                severity: row.severity,
                status: row.status,
                dismissed: row.dismissed,
                created_at: crate::clock::rfc3339(row.created_at),
            })
            .collect(),
        count,
    })
}

/// The query string's filters. Unknown parameters are ignored (PostHog
/// ignores them too); a known one with a bad value is `400`.
pub fn parse_filter(query: &str) -> Result<HealthIssueFilter, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|_| ApiError::InvalidRequest("The query string is malformed".into()))?;
    let mut filter = HealthIssueFilter {
        status: None,
        dismissed: None,
        limit: DEFAULT_LIMIT,
    };
    for (name, value) in pairs {
        match name.as_str() {
            "status" => match value.as_str() {
                "active" | "resolved" => filter.status = Some(value),
                _ => {
                    return Err(ApiError::InvalidRequest(
                        "status must be active or resolved".into(),
                    ))
                }
            },
            "dismissed" => {
                filter.dismissed = Some(match value.to_ascii_lowercase().as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => {
                        return Err(ApiError::InvalidRequest(
                            "dismissed must be true or false".into(),
                        ))
                    }
                })
            }
            "limit" => {
                let limit: i64 =
                    value
                        .parse()
                        .ok()
                        .filter(|limit| *limit > 0)
                        .ok_or_else(|| {
                            ApiError::InvalidRequest("limit must be a positive integer".into())
                        })?;
                filter.limit = limit.min(MAX_LIMIT);
            }
            _ => {}
        }
    }
    Ok(filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_table() {
        fn check(query: &str, expected: Result<(Option<&str>, Option<bool>, i64), &str>) {
            let got = parse_filter(query)
                .map(|filter| (filter.status, filter.dismissed, filter.limit))
                .map_err(|error| error.to_string());
            let expected = expected
                .map(|(status, dismissed, limit)| (status.map(str::to_owned), dismissed, limit))
                .map_err(str::to_owned);
            assert_eq!(got, expected, "{query:?}");
        }
        check("", Ok((None, None, DEFAULT_LIMIT)));
        check(
            "status=active&dismissed=false&limit=250",
            Ok((Some("active"), Some(false), 250)),
        );
        check(
            "status=resolved&dismissed=true",
            Ok((Some("resolved"), Some(true), 100)),
        );
        check("limit=100000", Ok((None, None, MAX_LIMIT)));
        check("limit=1&other=x", Ok((None, None, 1)));
        check("status=open", Err("status must be active or resolved"));
        check("dismissed=maybe", Err("dismissed must be true or false"));
        check("limit=0", Err("limit must be a positive integer"));
        check("limit=ten", Err("limit must be a positive integer"));
    }
}
