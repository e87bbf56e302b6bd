//! What every handler shares.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use protocol::admin::JournalEntry;
use protocol::random::RandomSource;

use crate::clock::Clock;
use crate::db::Db;
use crate::policy::ScopePolicy;

/// The server's state. Cloning is cheap.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub clock: Arc<Clock>,
    pub random: Arc<dyn RandomSource>,
    pub policy: Arc<ScopePolicy>,
    /// The URL clients reach this server at, without a trailing slash.
    pub public_url: Arc<str>,
    /// `us` or `eu`.
    pub region: Arc<str>,
    pub admin_token: Option<Arc<str>>,
    /// A ring: the oldest entry is dropped in O(1) once it is full.
    pub journal: Arc<Mutex<VecDeque<JournalEntry>>>,
}

pub use protocol::admin::JOURNAL_CAPACITY;

impl AppState {
    pub fn record(&self, entry: JournalEntry) {
        let mut journal = self
            .journal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if journal.len() >= JOURNAL_CAPACITY {
            journal.pop_front();
        }
        journal.push_back(entry);
    }
}
