//! The server's clock, injected so that expiry and signature tolerance are
//! tested without sleeping, and advanceable through `POST /_admin/clock`.

use std::sync::atomic::{AtomicI64, Ordering};

/// The earliest time the clock may show: the Unix epoch.
pub const EARLIEST: i64 = 0;

/// The latest time the clock may show: 9999-12-31T23:59:59Z, the last
/// second an RFC 3339 date (and every `expires_at`) can carry.
pub const LATEST: i64 = 253_402_300_799;

/// An advance that would leave [`EARLIEST`]..=[`LATEST`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfRange;

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
        self.base() + self.offset.load(Ordering::Relaxed)
    }

    fn base(&self) -> i64 {
        match self.fixed {
            Some(fixed) => fixed,
            None => chrono::Utc::now().timestamp(),
        }
    }

    /// Moves the clock forward (or back, with a negative value), unless
    /// that would take it outside [`EARLIEST`]..=[`LATEST`]: an offset
    /// that wraps, or a time no date can show, is refused and the clock
    /// stays where it was.
    pub fn advance(&self, seconds: i64) -> Result<(), OutOfRange> {
        let base = self.base();
        self.offset
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |offset| {
                let offset = offset.checked_add(seconds)?;
                let now = base.checked_add(offset)?;
                (EARLIEST..=LATEST).contains(&now).then_some(offset)
            })
            .map(drop)
            .map_err(|_| OutOfRange)
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
        clock.advance(301).unwrap();
        assert_eq!(clock.now(), 1_301);
        assert_eq!(clock.offset(), 301);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn an_advance_out_of_range_is_refused_and_changes_nothing() {
        let clock = Clock::fixed(1_000);
        for seconds in [i64::MAX, i64::MIN, -1_001, LATEST, LATEST - 999] {
            assert_eq!(clock.advance(seconds), Err(OutOfRange), "{seconds}");
            assert_eq!(clock.now(), 1_000, "{seconds}");
        }
        clock.advance(LATEST - 1_000).unwrap();
        assert_eq!(clock.now(), LATEST);
        assert_eq!(clock.advance(1), Err(OutOfRange));
        clock.advance(-LATEST).unwrap();
        assert_eq!(clock.now(), EARLIEST);
        // The system clock too: no offset may wrap whatever the time.
        let system = Clock::system();
        assert_eq!(system.advance(i64::MAX), Err(OutOfRange));
        assert_eq!(system.offset(), 0);
    }
}
