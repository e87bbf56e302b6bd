//! Retries of the gateway call, where the real client retries (the
//! Anthropic SDK retries 408, 409, 429, 5xx, 529 and broken connections):
//! capped exponential backoff that honours `Retry-After`.

use std::time::Duration;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The wait before the first retry; it doubles each time.
    pub base: Duration,
    /// No wait is longer than this, whatever `Retry-After` says.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(8),
        }
    }
}

/// Whether a gateway status is worth another attempt.
pub fn is_retryable(status: u16) -> bool {
    matches!(status, 408 | 409 | 429 | 500..=599)
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based): the
    /// server's `Retry-After` when it gave one, else `base * 2^(attempt-1)`,
    /// never more than `cap`. `None` when no attempt is left.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let exponential = self
            .base
            .checked_mul(1u32 << (attempt - 1).min(16))
            .unwrap_or(self.cap);
        Some(retry_after.unwrap_or(exponential).min(self.cap))
    }
}

/// A status as a person reads it; 529 is Anthropic's own "Overloaded",
/// which HTTP libraries do not name.
pub fn status_text(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None if status == 529 => "529 Overloaded".to_owned(),
        None => status.to_string(),
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by the gateway).
pub fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    value?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_table() {
        let policy = RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(100),
            cap: Duration::from_millis(1000),
        };
        let ms = Duration::from_millis;
        let cases = [
            (1, None, Some(ms(100))),
            (2, None, Some(ms(200))),
            (3, None, Some(ms(400))),
            (4, None, None),
            (1, Some(ms(300)), Some(ms(300))),
            (1, Some(Duration::from_secs(60)), Some(ms(1000))),
        ];
        for (attempt, retry_after, expected) in cases {
            assert_eq!(
                policy.delay(attempt, retry_after),
                expected,
                "attempt {attempt}"
            );
        }
        let long = RetryPolicy {
            max_attempts: 40,
            ..policy
        };
        assert_eq!(
            long.delay(30, None),
            Some(ms(1000)),
            "the cap holds for large attempts"
        );
    }

    #[test]
    fn retryable_table() {
        for status in [408, 409, 429, 500, 502, 503, 504, 529] {
            assert!(is_retryable(status), "{status}");
        }
        for status in [400, 401, 403, 404, 413, 422] {
            assert!(!is_retryable(status), "{status}");
        }
        assert_eq!(parse_retry_after(Some(" 2 ")), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(parse_retry_after(None), None);
    }
}
