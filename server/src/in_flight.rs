//! One request at a time per key: the serialisation point of work that
//! reads, decides and writes over several statements (an account request's
//! replay check, account creation and stored answer).
//!
//! The server is its database's only writer, in one process, so holding a
//! key here while the work runs makes it atomic with respect to every
//! other request under the same key, without holding the writer (and so
//! every other request) for the duration. Requests under other keys run
//! as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::OwnedMutexGuard;

/// The keys in flight. An entry lives as long as someone holds or awaits
/// its lock; dead entries are swept once the map has doubled since the
/// last sweep, so the map stays proportional to the keys in flight.
#[derive(Debug, Default)]
pub struct InFlight {
    keys: Mutex<Keys>,
}

#[derive(Debug, Default)]
struct Keys {
    locks: HashMap<String, Weak<tokio::sync::Mutex<()>>>,
    sweep_at: usize,
}

/// Held while the work under one key runs; dropping it lets the next
/// request with that key in.
#[derive(Debug)]
pub struct Turn {
    _guard: OwnedMutexGuard<()>,
}

/// The smallest map size that triggers a sweep.
const FIRST_SWEEP: usize = 64;

impl InFlight {
    /// Waits until no other request holds `key`, then holds it.
    pub async fn turn(&self, key: String) -> Turn {
        let lock = self.lock_of(key);
        Turn {
            _guard: lock.lock_owned().await,
        }
    }

    /// The lock of `key`, made if no one holds or awaits it.
    fn lock_of(&self, key: String) -> Arc<tokio::sync::Mutex<()>> {
        let mut keys = self
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(lock) = keys.locks.get(&key).and_then(Weak::upgrade) {
            return lock;
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        keys.locks.insert(key, Arc::downgrade(&lock));
        if keys.locks.len() >= keys.sweep_at.max(FIRST_SWEEP) {
            keys.locks.retain(|_, lock| lock.strong_count() > 0);
            keys.sweep_at = keys.locks.len() * 2;
        }
        lock
    }

    /// How many keys the map holds, dead or alive (for tests).
    pub fn len(&self) -> usize {
        self.keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .locks
            .len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_key_admits_one_request_at_a_time() {
        let in_flight = Arc::new(InFlight::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let (in_flight, inside, most) = (in_flight.clone(), inside.clone(), most.clone());
            tasks.spawn(async move {
                let _turn = in_flight.turn("client\0request".into()).await;
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::task::yield_now().await;
                inside.fetch_sub(1, Ordering::SeqCst);
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.expect("the task ran");
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn other_keys_do_not_wait() {
        let in_flight = InFlight::default();
        let _held = in_flight.turn("a".into()).await;
        // A different key is admitted at once while `a` is held.
        tokio::time::timeout(Duration::from_secs(5), in_flight.turn("b".into()))
            .await
            .expect("key b is not blocked by key a");
    }

    #[tokio::test]
    async fn finished_keys_are_swept() {
        let in_flight = InFlight::default();
        for index in 0..1_000 {
            drop(in_flight.turn(format!("key{index}")).await);
        }
        assert!(
            in_flight.len() <= FIRST_SWEEP,
            "{} keys kept for no request in flight",
            in_flight.len()
        );
        let _held = in_flight.turn("held".into()).await;
        for index in 0..1_000 {
            drop(in_flight.turn(format!("again{index}")).await);
        }
        assert!(in_flight.len() <= FIRST_SWEEP);
        let lock = in_flight.lock_of("held".into());
        assert!(lock.try_lock().is_err(), "a held key survives the sweeps");
    }
}
