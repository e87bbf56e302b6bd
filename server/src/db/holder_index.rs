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
//! word from its write. At most [`CAPACITY`] holders are kept; when full,
//! the index starts over.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::holders::Holder;

/// Holders kept at most (a few MB).
pub const CAPACITY: usize = 16 * 1024;

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
    kept: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    epoch: u64,
    access_tokens: HashMap<String, Arc<Holder>>,
    personal_api_keys: HashMap<String, Arc<Holder>>,
}

impl Kept {
    fn table(&mut self, table: Table) -> &mut HashMap<String, Arc<Holder>> {
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
    pub fn get(&self, table: Table, hash: &str) -> Result<Arc<Holder>, u64> {
        let mut kept = self.lock();
        match kept.table(table).get(hash) {
            Some(holder) => Ok(Arc::clone(holder)),
            None => Err(kept.epoch),
        }
    }

    /// Keeps `holder`, read from the database after [`HolderIndex::get`]
    /// gave `epoch`, unless a batch reached the holders meanwhile.
    pub fn keep(&self, table: Table, hash: &str, holder: &Arc<Holder>, epoch: u64) {
        let mut kept = self.lock();
        if kept.epoch != epoch {
            return;
        }
        if kept.len() >= CAPACITY {
            kept.access_tokens.clear();
            kept.personal_api_keys.clear();
        }
        kept.table(table)
            .insert(hash.to_owned(), Arc::clone(holder));
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Grant, User};

    fn holder(scopes: &str) -> Arc<Holder> {
        Arc::new(Holder {
            grant: Grant {
                client_id: None,
                user_id: 1,
                team_id: 1,
                scopes: scopes.into(),
                created_at: 0,
                expires_at: None,
                revoked_at: None,
                code_hash: None,
                partner_active: None,
            },
            user: User::for_test(),
            teams: Vec::new(),
            answers: Default::default(),
        })
    }

    /// If this fails, a holder read before a commit that reached the
    /// holders is kept after it: a revoked credential would be let in.
    #[test]
    fn a_read_overtaken_by_a_commit_is_not_kept() {
        let index = HolderIndex::default();
        let epoch = index.get(Table::AccessTokens, "h").expect_err("empty");
        index.committed(Reach::Holders);
        index.keep(Table::AccessTokens, "h", &holder("a"), epoch);
        assert!(index.get(Table::AccessTokens, "h").is_err());
        // A read begun after the commit is kept.
        let epoch = index.get(Table::AccessTokens, "h").expect_err("empty");
        index.keep(Table::AccessTokens, "h", &holder("a"), epoch);
        assert_eq!(
            index
                .get(Table::AccessTokens, "h")
                .expect("kept")
                .grant
                .scopes,
            "a"
        );
    }

    /// If this fails, a write that may change a holder leaves it kept, or
    /// one that cannot empties the index for nothing.
    #[test]
    fn only_a_write_reaching_holders_forgets_them() {
        let index = HolderIndex::default();
        let epoch = index.get(Table::PersonalApiKeys, "k").expect_err("empty");
        index.keep(Table::PersonalApiKeys, "k", &holder("a"), epoch);
        index.committed(Reach::NoHolder);
        assert!(index.get(Table::PersonalApiKeys, "k").is_ok());
        index.committed(Reach::Holders);
        assert!(index.get(Table::PersonalApiKeys, "k").is_err());
        assert!(index.is_empty());
    }

    /// If this fails, an access token and a personal key with the same
    /// hash text would answer for each other.
    #[test]
    fn the_tables_are_apart() {
        let index = HolderIndex::default();
        index.keep(Table::AccessTokens, "h", &holder("a"), 0);
        assert!(index.get(Table::PersonalApiKeys, "h").is_err());
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
