//! The request journal behind `GET /_admin/journal`: one entry per messages
//! request, credentials masked.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use protocol::admin::{Journal, JournalEntry, JOURNAL_CAPACITY};
use protocol::credential::{mask, redact_secret_shaped};

use crate::request_id::RequestId;

/// The newest [`JOURNAL_CAPACITY`] entries, shared; the oldest is dropped
/// in O(1) once it is full.
#[derive(Debug, Clone, Default)]
pub struct RequestJournal {
    entries: Arc<Mutex<VecDeque<JournalEntry>>>,
}

/// What the messages handler knows about a request when it answers.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub request_id: &'a RequestId,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    /// The full presented credential; only its mask is stored.
    pub credential: Option<&'a str>,
    pub verdict: &'a str,
    pub reason: Option<String>,
}

impl RequestJournal {
    pub fn record(&self, record: Record<'_>) {
        let entry = JournalEntry {
            at: unix_seconds(),
            // Taken by `protocol::request_id::accept` or made here: the
            // redaction below would leave it as it is.
            request_id: record.request_id.as_str().to_owned(),
            method: record.method.to_owned(),
            path: redact_secret_shaped(record.path),
            status: record.status,
            credential: record.credential.map(mask),
            verdict: Some(record.verdict.to_owned()),
            reason: record.reason.map(|reason| redact_secret_shaped(&reason)),
        };
        let mut entries = self.lock();
        if entries.len() >= JOURNAL_CAPACITY {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    pub fn snapshot(&self) -> Journal {
        Journal {
            entries: self.lock().iter().cloned().collect(),
        }
    }

    pub fn reset(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<JournalEntry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn unix_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_hold_only_masked_credentials() {
        let journal = RequestJournal::default();
        journal.record(Record {
            request_id: &RequestId::accepted("req-1").unwrap(),
            method: "POST",
            path: "/wizard/v1/messages",
            status: 401,
            credential: Some("phx_test_fake_0123456789abcdef"),
            verdict: "invalid_token",
            reason: Some("echo of phx_test_fake_0123456789abcdef".to_owned()),
        });
        let text = serde_json::to_string(&journal.snapshot()).unwrap();
        assert!(
            protocol::credential::find_full_secrets(&text).is_empty(),
            "{text}"
        );
        assert!(text.contains("phx_***"));
        journal.reset();
        assert!(journal.snapshot().entries.is_empty());
    }

    #[test]
    fn the_journal_keeps_the_newest_entries_only() {
        let journal = RequestJournal::default();
        for index in 0..JOURNAL_CAPACITY + 5 {
            journal.record(Record {
                request_id: &RequestId::accepted(&format!("req-{index}")).unwrap(),
                method: "POST",
                path: "/wizard/v1/messages",
                status: 200,
                credential: None,
                verdict: "granted",
                reason: None,
            });
        }
        let entries = journal.snapshot().entries;
        assert_eq!(entries.len(), JOURNAL_CAPACITY);
        assert_eq!(entries[0].request_id, "req-5");
        assert_eq!(
            entries[JOURNAL_CAPACITY - 1].request_id,
            format!("req-{}", JOURNAL_CAPACITY + 4)
        );
    }
}
