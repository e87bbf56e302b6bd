//! The holder index: the holders of credentials looked up lately, kept in
//! memory so that a request's credential costs no read of the database.
//!
//! It is never stale. The writer task is the database's only writer, and
//! after each commit, before it answers any write of the batch, it tells
//! the index what the batch may have changed ([`Reach`]): unless every
//! write of the batch is known to leave each kept holder as it is, the
//! index forgets everything. So a credential revoked, rotated, or whose
//! partner, user or teams changed is read afresh by the very next request,
//! as if there were no index. What a write may change is declared where
//! the write is made ([`crate::db::Db::write_reaching`]); a write that
//! declares nothing reaches every holder.
//!
//! A holder read from the database while a write commits may already be
//! out of date when the read ends; it is kept only if no batch reached the
//! holders since the read began (the index's epoch, taken before the read).
//! Expiry is judged on every request against the clock, never here. Only
//! credentials that exist are kept (no misses): a new credential needs no
//! word from its write. The exchange keeps the access token it has just
//! stored, made from what it read after taking the epoch
//! ([`HolderIndex::epoch`]), on the same terms, so a signup's next request
//! reads nothing. At most [`CAPACITY`] holders are kept; when full, the
//! index starts over.
//!
//! The index knows nothing of what a holder is (`holders.rs` keeps its
//! `Holder`s here), so the writer, which tells it of commits, and the
//! rows a holder is read from do not depend on each other.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// A kept holder, of the type `holders.rs` keeps.
type Kept = Arc<dyn Any + Send + Sync>;

/// Holders kept at most (about 1 KB each). Measured: with 16k, the
/// signups of the benchmark, each of whose tokens is looked up once,
/// filled the index and raised the server's peak memory from 34 to 64 MB;
/// a few thousand credentials in use at once is more than this simulator
/// serves.
pub const CAPACITY: usize = 4 * 1024;

/// What a committed write may have changed of the kept holders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Nothing a kept holder was read from: rows of a new account, codes,
    /// sessions, counters, or a new credential (not kept before it is
    /// first looked up).
    NoHolder,
    /// Possibly any holder: every kept holder is forgotten.
    Holders,
}

/// The two credential tables a holder is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    AccessTokens,
    PersonalApiKeys,
}

/// The kept holders, by credential hash, and the epoch (the number of
/// batches that reached the holders).
#[derive(Debug, Default)]
pub struct HolderIndex {
    kept: Mutex<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    epoch: u64,
    access_tokens: HashMap<String, Kept>,
    personal_api_keys: HashMap<String, Kept>,
}

impl Tables {
    fn table(&mut self, table: Table) -> &mut HashMap<String, Kept> {
        match table {
            Table::AccessTokens => &mut self.access_tokens,
            Table::PersonalApiKeys => &mut self.personal_api_keys,
        }
    }

    fn len(&self) -> usize {
        self.access_tokens.len() + self.personal_api_keys.len()
    }
}

impl HolderIndex {
    /// The kept holder of the credential with `hash`, or the epoch to hand
    /// back to [`HolderIndex::keep`] after reading it from the database.
    pub fn get<H: Any + Send + Sync>(&self, table: Table, hash: &str) -> Result<Arc<H>, u64> {
        let mut kept = self.lock();
        let epoch = kept.epoch;
        match kept.table(table).get(hash) {
            Some(holder) => Arc::clone(holder).downcast().map_err(|_| epoch),
            None => Err(epoch),
        }
    }

    /// Keeps `holder`, read from the database after [`HolderIndex::get`]
    /// gave `epoch`, unless a batch reached the holders meanwhile.
    pub fn keep<H: Any + Send + Sync>(
        &self,
        table: Table,
        hash: &str,
        holder: &Arc<H>,
        epoch: u64,
    ) {
        let mut kept = self.lock();
        if kept.epoch != epoch {
            return;
        }
        if kept.len() >= CAPACITY {
            kept.access_tokens.clear();
            kept.personal_api_keys.clear();
        }
        let holder: Kept = Arc::clone(holder) as Kept;
        kept.table(table).insert(hash.to_owned(), holder);
    }

    /// The epoch now: what [`HolderIndex::keep`] takes for a holder known
    /// otherwise than by [`HolderIndex::get`] (one about to be minted, its
    /// parts read after this call).
    pub fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// Called by the writer after a commit, before any of its writes is
    /// answered, with what the batch reached.
    pub fn committed(&self, reach: Reach) {
        if reach == Reach::NoHolder {
            return;
        }
        let mut kept = self.lock();
        kept.epoch += 1;
        kept.access_tokens.clear();
        kept.personal_api_keys.clear();
    }

    /// How many holders are kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(scopes: &str) -> Arc<String> {
        Arc::new(scopes.to_owned())
    }

    fn get(index: &HolderIndex, table: Table, hash: &str) -> Result<Arc<String>, u64> {
        index.get(table, hash)
    }

    /// If this fails, a holder read before a commit that reached the
    /// holders is kept after it: a revoked credential would be let in.
    #[test]
    fn a_read_overtaken_by_a_commit_is_not_kept() {
        let index = HolderIndex::default();
        let epoch = get(&index, Table::AccessTokens, "h").expect_err("empty");
        index.committed(Reach::Holders);
        index.keep(Table::AccessTokens, "h", &holder("a"), epoch);
        assert!(get(&index, Table::AccessTokens, "h").is_err());
        // A read begun after the commit is kept.
        let epoch = get(&index, Table::AccessTokens, "h").expect_err("empty");
        index.keep(Table::AccessTokens, "h", &holder("a"), epoch);
        assert_eq!(*get(&index, Table::AccessTokens, "h").expect("kept"), "a");
    }

    /// If this fails, a write that may change a holder leaves it kept, or
    /// one that cannot empties the index for nothing.
    #[test]
    fn only_a_write_reaching_holders_forgets_them() {
        let index = HolderIndex::default();
        let epoch = get(&index, Table::PersonalApiKeys, "k").expect_err("empty");
        index.keep(Table::PersonalApiKeys, "k", &holder("a"), epoch);
        index.committed(Reach::NoHolder);
        assert!(get(&index, Table::PersonalApiKeys, "k").is_ok());
        index.committed(Reach::Holders);
        assert!(get(&index, Table::PersonalApiKeys, "k").is_err());
        assert!(index.is_empty());
    }

    /// If this fails, an access token and a personal key with the same
    /// hash text would answer for each other.
    #[test]
    fn the_tables_are_apart() {
        let index = HolderIndex::default();
        index.keep(Table::AccessTokens, "h", &holder("a"), 0);
        assert!(get(&index, Table::PersonalApiKeys, "h").is_err());
    }

    /// If this fails, the index grows without bound.
    #[test]
    fn it_starts_over_when_full() {
        let index = HolderIndex::default();
        for n in 0..CAPACITY {
            index.keep(Table::AccessTokens, &n.to_string(), &holder("a"), 0);
        }
        assert_eq!(index.len(), CAPACITY);
        index.keep(Table::PersonalApiKeys, "one more", &holder("a"), 0);
        assert_eq!(index.len(), 1);
    }
}
