//! Hourly rate limits per partner and per kind of request (protocol
//! section 3). Windows are aligned to the hour on the server's injected
//! clock, so tests reach the next window by advancing the clock.

use std::collections::BTreeMap;

use protocol::provisioning::EndpointBudget;

use crate::db::{Application, RateLimits};
use crate::error::ApiError;
use crate::policy::RateLimitModel;
use crate::state::AppState;

/// The length of a window, in seconds.
pub const WINDOW_SECONDS: i64 = 3600;

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Counted against the calling partner.
    AccountRequests,
    /// Counted against the partner the code (or refresh token) was issued to.
    TokenExchanges,
    /// Counted against the partner the access token was issued to.
    ResourceCreates,
    /// Counted against the partner the refresh token was issued to (today's
    /// era; before it, refreshes were [`Kind::TokenExchanges`]).
    TokenRefreshes,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::AccountRequests => "account_requests",
            Kind::TokenExchanges => "token_exchanges",
            Kind::ResourceCreates => "resource_creates",
            Kind::TokenRefreshes => "token_refreshes",
        }
    }
}

impl RateLimits {
    /// An application's limits (parsed when the applications were loaded).
    pub fn of(application: &Application) -> RateLimits {
        application.rate_limits
    }

    pub fn limit(&self, kind: Kind) -> Option<i64> {
        match kind {
            Kind::AccountRequests => self.account_requests,
            Kind::TokenExchanges => self.token_exchanges,
            Kind::ResourceCreates => self.resource_creates,
            Kind::TokenRefreshes => self.token_refreshes,
        }
    }
}

/// The start of the window holding `now`, and the seconds until it ends
/// (the `Retry-After` of a refusal; at least 1).
pub fn window(now: i64) -> (i64, i64) {
    let start = now - now.rem_euclid(WINDOW_SECONDS);
    (start, start + WINDOW_SECONDS - now)
}

impl Kind {
    /// The burst and hourly rate today's real server declares for the
    /// endpoint (its token buckets); a partner's override of N an hour keeps
    /// the declared burst-to-rate proportion: `max(1, ceil(burst × N /
    /// per_hour))`.
    pub fn declared_budget(self) -> (i64, i64) {
        match self {
            Kind::AccountRequests => (5, 10),
            Kind::ResourceCreates => (10, 30),
            // The token endpoint's two buckets: new authorizations, and
            // refreshes apart from them (partner tokens live an hour, so
            // counting rotations as exchanges capped a partner's live users).
            Kind::TokenExchanges => (10, 20),
            Kind::TokenRefreshes => (30, 120),
        }
    }

    /// The bucket of an override of `per_hour` an hour.
    pub fn bucket(self, per_hour: i64) -> (i64, i64) {
        let (burst, declared) = self.declared_budget();
        let scaled = (burst * per_hour + declared - 1) / declared;
        (scaled.max(1), per_hour)
    }
}

/// What a rate-limited answer tells the partner (today's `RateLimit-*`
/// headers): the bucket's capacity, what is left, and the seconds until it
/// is full again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headroom {
    pub limit: i64,
    pub remaining: i64,
    pub reset: i64,
}

/// Counts one request of `kind` against `application`, or refuses it with
/// `429 rate_limited`, as the era meters: an hourly window, or today's
/// token bucket (which also reports its headroom). An absent limit, or a
/// limit of 0, is no limit (the real server reads a zero override as
/// "limiting off"); unlimited kinds never touch the database.
pub async fn take(state: &AppState, application: &Application, kind: Kind) -> Result<(), ApiError> {
    let (client_id, limits) = (&application.client_id, application.rate_limits);
    let Some(limit) = limits.limit(kind).filter(|limit| *limit > 0) else {
        return Ok(());
    };
    let now = state.clock.now();
    match state.policy.rate_limits.model {
        RateLimitModel::HourlyWindows => {
            let (start, retry_after) = window(now);
            if state
                .db
                .take_rate_limit(client_id, kind.as_str(), start, limit)
                .await?
            {
                return Ok(());
            }
            tracing::warn!(client_id = %client_id, kind = kind.as_str(), limit, "rate limited");
            Err(ApiError::RateLimited {
                message: format!(
                    "Rate limit reached: at most {limit} {} per hour for this partner; retry in {retry_after} s",
                    kind.as_str().replace('_', " ")
                ),
                retry_after,
            })
        }
        RateLimitModel::TokenBuckets => {
            let (burst, per_hour) = kind.bucket(limit);
            let (taken, left) = state
                .db
                .take_token(client_id, kind.as_str(), now, burst, per_hour)
                .await?;
            let seconds_per_token = 3600.0 / per_hour as f64;
            crate::http::note_headroom(Headroom {
                limit: burst,
                remaining: left.floor() as i64,
                reset: ((burst as f64 - left) * seconds_per_token).ceil() as i64,
            });
            if taken {
                return Ok(());
            }
            tracing::warn!(client_id = %client_id, kind = kind.as_str(), burst, per_hour, "rate limited");
            Err(ApiError::RateLimited {
                message: state.policy.messages.rate_limited.clone(),
                retry_after: ((1.0 - left) * seconds_per_token).ceil().max(1.0) as i64,
            })
        }
    }
}

/// The budget of every endpoint a partner's limits name (`POST
/// /api/agentic/provisioning/limits`), by the real server's budget names,
/// in name order: the three this server meters per partner, deep links
/// (blocked where the era bars the partner from them) and the limits reads
/// themselves. An endpoint without a limit of its own is `unlimited`, as
/// this server meters it (protocol section 3); a metered one reports its
/// bucket and what is left of it now, read without charging it.
pub async fn describe(
    state: &AppState,
    application: &Application,
) -> Result<BTreeMap<String, EndpointBudget>, ApiError> {
    let limits = RateLimits::of(application);
    let mut endpoints = BTreeMap::new();
    for kind in [
        Kind::AccountRequests,
        Kind::TokenExchanges,
        Kind::ResourceCreates,
        Kind::TokenRefreshes,
    ] {
        let budget = match limits.limit(kind).filter(|limit| *limit > 0) {
            None => EndpointBudget::Unlimited { unlimited: true },
            Some(limit) => match state.policy.rate_limits.model {
                RateLimitModel::HourlyWindows => EndpointBudget::Bucket {
                    per_hour: limit,
                    burst: limit,
                    remaining: None,
                    reset: None,
                },
                RateLimitModel::TokenBuckets => {
                    let (burst, per_hour) = kind.bucket(limit);
                    let stored = state
                        .db
                        .token_bucket(&application.client_id, kind.as_str())
                        .await?;
                    let headroom = headroom(stored, state.clock.now(), burst, per_hour);
                    EndpointBudget::Bucket {
                        per_hour,
                        burst,
                        remaining: Some(headroom.remaining),
                        reset: Some(headroom.reset),
                    }
                }
            },
        };
        endpoints.insert(kind.as_str().to_owned(), budget);
    }
    let deep_links = match state.policy.deep_links_barred(application.auth_method) {
        Some(_) => EndpointBudget::Blocked { blocked: true },
        None => EndpointBudget::Unlimited { unlimited: true },
    };
    endpoints.insert("deep_links".into(), deep_links);
    endpoints.insert(
        "limits_reads".into(),
        EndpointBudget::Unlimited { unlimited: true },
    );
    Ok(endpoints)
}

/// A bucket of `burst` refilling at `per_hour`, as stored (`tokens` left
/// at `updated_at`; none yet: full), seen at `now` without charging it.
pub fn headroom(stored: Option<(f64, i64)>, now: i64, burst: i64, per_hour: i64) -> Headroom {
    let available = crate::db::bucket_tokens(stored, now, burst, per_hour);
    Headroom {
        limit: burst,
        remaining: available.floor() as i64,
        reset: ((burst as f64 - available) * 3600.0 / per_hour as f64).ceil() as i64,
    }
}

/// What a refresh is counted as: a code exchange where limits are hourly
/// windows; today, a bucket of its own.
pub fn refresh_kind(state: &AppState) -> Kind {
    match state.policy.rate_limits.model {
        RateLimitModel::HourlyWindows => Kind::TokenExchanges,
        RateLimitModel::TokenBuckets => Kind::TokenRefreshes,
    }
}

/// [`take`] for the application `client_id`; an unknown one is not limited.
pub async fn take_for(state: &AppState, client_id: &str, kind: Kind) -> Result<(), ApiError> {
    match state.db.shared_application(client_id) {
        Some(application) => take(state, &application, kind).await,
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_to_the_hour() {
        fn check(now: i64, expected: (i64, i64)) {
            assert_eq!(window(now), expected, "now = {now}");
        }
        check(0, (0, 3600));
        check(1, (0, 3599));
        check(3599, (0, 1));
        check(3600, (3600, 3600));
        check(1_775_000_000, (1_774_998_000, 1_600));
    }

    #[test]
    fn an_override_keeps_the_declared_burst_to_rate_proportion() {
        fn check(kind: Kind, per_hour: i64, burst: i64) {
            assert_eq!(
                kind.bucket(per_hour),
                (burst, per_hour),
                "{kind:?} at {per_hour}"
            );
        }
        check(Kind::AccountRequests, 3, 2);
        check(Kind::AccountRequests, 10, 5);
        check(Kind::AccountRequests, 1, 1);
        check(Kind::ResourceCreates, 1, 1);
        check(Kind::ResourceCreates, 30, 10);
        check(Kind::TokenExchanges, 20, 10);
        check(Kind::TokenExchanges, 1, 1);
        check(Kind::TokenRefreshes, 120, 30);
        check(Kind::TokenRefreshes, 2, 1);
    }

    #[test]
    fn headroom_refills_to_the_burst_without_charging() {
        fn check(stored: Option<(f64, i64)>, now: i64, expected: (i64, i64)) {
            // A bucket of 2 refilling at 7 an hour (one token every 514.3 s).
            let headroom = headroom(stored, now, 2, 7);
            assert_eq!(
                (headroom.remaining, headroom.reset),
                expected,
                "{stored:?} at {now}"
            );
            assert_eq!(headroom.limit, 2);
        }
        check(None, 1_000, (2, 0));
        check(Some((1.0, 1_000)), 1_000, (1, 515));
        check(Some((0.0, 1_000)), 1_000, (0, 1029));
        check(Some((0.0, 1_000)), 1_515, (1, 514));
        check(Some((0.0, 1_000)), 100_000, (2, 0));
        // A clock that went back counts no refill.
        check(Some((1.0, 1_000)), 900, (1, 515));
    }

    #[test]
    fn limits_parse_from_the_stored_json() {
        fn check(json: &str, expected: [Option<i64>; 3]) {
            let limits: RateLimits = serde_json::from_str(json).unwrap_or_default();
            let got = [
                limits.limit(Kind::AccountRequests),
                limits.limit(Kind::TokenExchanges),
                limits.limit(Kind::ResourceCreates),
            ];
            assert_eq!(got, expected, "{json}");
        }
        check("{}", [None, None, None]);
        check(r#"{"account_requests":10}"#, [Some(10), None, None]);
        check(
            r#"{"account_requests":10,"token_exchanges":20,"resource_creates":5}"#,
            [Some(10), Some(20), Some(5)],
        );
        check("not json", [None, None, None]);
    }
}
