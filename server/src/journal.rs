//! The server's journal: one entry per request answered, the newest
//! [`JOURNAL_CAPACITY`] kept, read by `GET /_admin/journal` and the live
//! view.
//!
//! Every request writes an entry, so an entry is kept in a form that costs
//! few allocations to write: the request id shares the bytes of the
//! `x-request-id` header it is echoed in, the method is `http::Method`, and
//! the verdict and reason are the program's own static strings. The wire
//! form, [`JournalEntry`], is built only when the journal is read.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::http::{HeaderValue, Method};
use protocol::admin::{JournalEntry, JOURNAL_CAPACITY};

/// One answered request, as the journal keeps it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Unix seconds on the server's (possibly advanced) clock.
    pub at: i64,
    /// Only what `protocol::request_id::accept` took, or a UUID: ASCII.
    pub request_id: HeaderValue,
    pub method: Method,
    /// As the caller sent it, secrets redacted.
    pub path: String,
    pub status: u16,
    /// Masked (`pha_***`).
    pub credential: Option<String>,
    pub verdict: Option<&'static str>,
    pub reason: Option<&'static str>,
}

impl Recorded {
    /// The entry as `GET /_admin/journal` answers it.
    pub fn entry(&self) -> JournalEntry {
        JournalEntry {
            at: self.at,
            request_id: String::from_utf8_lossy(self.request_id.as_bytes()).into_owned(),
            method: self.method.as_str().to_owned(),
            path: self.path.clone(),
            status: self.status,
            credential: self.credential.clone(),
            verdict: self.verdict.map(str::to_owned),
            reason: self.reason.map(str::to_owned),
        }
    }
}

/// A ring of [`Recorded`]: the oldest entry is dropped in O(1) once it is
/// full.
#[derive(Debug, Default)]
pub struct Journal {
    entries: Mutex<VecDeque<Recorded>>,
}

impl Journal {
    pub fn record(&self, entry: Recorded) {
        let mut entries = self.lock();
        if entries.len() >= JOURNAL_CAPACITY {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// Every kept entry, oldest first.
    pub fn entries(&self) -> Vec<JournalEntry> {
        self.lock().iter().map(Recorded::entry).collect()
    }

    /// The newest `count` entries, oldest first.
    pub fn newest(&self, count: usize) -> Vec<JournalEntry> {
        let entries = self.lock();
        let skipped = entries.len().saturating_sub(count);
        entries.iter().skip(skipped).map(Recorded::entry).collect()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Recorded>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(at: i64) -> Recorded {
        Recorded {
            at,
            request_id: HeaderValue::from_static("trace-1"),
            method: Method::PATCH,
            path: "/api/users/@me".into(),
            status: 401,
            credential: Some("pha_***".into()),
            verdict: Some("revoked"),
            reason: Some("authentication_failed"),
        }
    }

    #[test]
    fn an_entry_reads_as_it_was_written() {
        assert_eq!(
            recorded(7).entry(),
            JournalEntry {
                at: 7,
                request_id: "trace-1".into(),
                method: "PATCH".into(),
                path: "/api/users/@me".into(),
                status: 401,
                credential: Some("pha_***".into()),
                verdict: Some("revoked".into()),
                reason: Some("authentication_failed".into()),
            }
        );
    }

    #[test]
    fn the_oldest_entry_goes_first_once_full() {
        let journal = Journal::default();
        for at in 0..JOURNAL_CAPACITY as i64 + 2 {
            journal.record(recorded(at));
        }
        let entries = journal.entries();
        assert_eq!(entries.len(), JOURNAL_CAPACITY);
        assert_eq!(entries.first().map(|entry| entry.at), Some(2));
        let newest = journal.newest(3);
        let at: Vec<i64> = newest.iter().map(|entry| entry.at).collect();
        let last = JOURNAL_CAPACITY as i64 + 1;
        assert_eq!(at, [last - 2, last - 1, last]);
        journal.clear();
        assert!(journal.entries().is_empty());
    }
}
