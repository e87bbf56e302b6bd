//! The server's clock, injected so that expiry and signature tolerance are
//! tested without sleeping, and advanceable through `POST /_admin/clock`.

use std::sync::atomic::{AtomicI64, Ordering};

/// Unix seconds: the system time (or a fixed time, in tests) plus an offset.
#[derive(Debug, Default)]
pub struct Clock {
    fixed: Option<i64>,
    offset: AtomicI64,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock that stands still at `unix_seconds` until advanced.
    pub fn fixed(unix_seconds: i64) -> Clock {
        Clock {
            fixed: Some(unix_seconds),
            offset: AtomicI64::new(0),
        }
    }

    pub fn now(&self) -> i64 {
        let base = match self.fixed {
            Some(fixed) => fixed,
            None => chrono::Utc::now().timestamp(),
        };
        base + self.offset.load(Ordering::Relaxed)
    }

    /// Moves the clock forward (or back, with a negative value).
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::Relaxed);
    }

    pub fn offset(&self) -> i64 {
        self.offset.load(Ordering::Relaxed)
    }
}

/// RFC 3339 form of unix seconds, for wire fields such as `expires_at`.
pub fn rfc3339(unix_seconds: i64) -> String {
    chrono::DateTime::from_timestamp(unix_seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_moves_only_when_advanced() {
        let clock = Clock::fixed(1_000);
        assert_eq!(clock.now(), 1_000);
        clock.advance(301);
        assert_eq!(clock.now(), 1_301);
        assert_eq!(clock.offset(), 301);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
