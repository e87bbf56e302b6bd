//! The read connections, handed out one request at a time.
//!
//! sqlx's pool pings every connection it takes back: a round trip to the
//! connection's worker thread, two context switches, for each read. A read
//! here runs in autocommit mode and leaves no transaction behind, so there
//! is nothing for the ping to flush; this checkout does without it. It
//! opens connections as they are first needed, up to its size, and keeps
//! them.

use std::sync::{Arc, Mutex, PoisonError};

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, SqliteConnection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Up to `size` read connections. Cloning is cheap.
#[derive(Debug, Clone)]
pub struct Readers {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    options: SqliteConnectOptions,
    idle: Mutex<Vec<SqliteConnection>>,
    /// One permit per connection not in use (opened or not).
    free: Arc<Semaphore>,
}

impl Readers {
    pub fn new(options: SqliteConnectOptions, size: usize) -> Readers {
        Readers {
            shared: Arc::new(Shared {
                options,
                idle: Mutex::new(Vec::with_capacity(size)),
                free: Arc::new(Semaphore::new(size)),
            }),
        }
    }

    /// A connection for one read (or a few); it comes back when dropped.
    pub async fn get(&self) -> sqlx::Result<Read> {
        let permit = Arc::clone(&self.shared.free)
            .acquire_owned()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.idle().pop();
        let connection = match idle {
            Some(connection) => connection,
            None => self.shared.options.connect().await?,
        };
        Ok(Read {
            connection: Some(connection),
            shared: Arc::clone(&self.shared),
            _permit: permit,
        })
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<SqliteConnection>> {
        self.shared
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A read connection in use; derefs to the connection.
#[derive(Debug)]
pub struct Read {
    connection: Option<SqliteConnection>,
    shared: Arc<Shared>,
    // Dropped after `drop` has put the connection back.
    _permit: OwnedSemaphorePermit,
}

impl std::ops::Deref for Read {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        self.connection.as_ref().expect("present until dropped")
    }
}

impl std::ops::DerefMut for Read {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.connection.as_mut().expect("present until dropped")
    }
}

impl Drop for Read {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            self.shared
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(connection);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_are_opened_once_and_reused() {
        let directory = tempfile::tempdir().expect("tempdir");
        let options = SqliteConnectOptions::new()
            .filename(directory.path().join("readers.db"))
            .create_if_missing(true);
        let readers = Readers::new(options, 2);
        let (mut first, mut second) = (
            readers.get().await.expect("first"),
            readers.get().await.expect("second"),
        );
        for read in [&mut first, &mut second] {
            let one: i64 = sqlx::query_scalar("SELECT 1")
                .fetch_one(&mut **read)
                .await
                .expect("reads");
            assert_eq!(one, 1);
        }
        // Both are in use: a third waits for one of them.
        let third = readers.get();
        tokio::pin!(third);
        assert!(futures_poll_once(third.as_mut()).await.is_none());
        drop(first);
        let third = third.await.expect("third");
        drop((second, third));
        assert_eq!(readers.idle().len(), 2);
    }

    /// Polls `future` once: `None` if it is pending.
    async fn futures_poll_once<F: std::future::Future + Unpin>(future: F) -> Option<F::Output> {
        let mut future = future;
        std::future::poll_fn(|context| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut future).poll(context) {
                std::task::Poll::Ready(output) => Some(output),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
