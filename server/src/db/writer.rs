//! The single writer: one SQLite connection, owned by one task, which runs
//! the writes of every request in shared transactions (group commit).
//!
//! A write is a closure over the connection ([`Writer::write`]). The task
//! takes every write waiting in its queue (at most [`MAX_BATCH`]), runs them
//! one after another in one transaction, commits once, and only then
//! answers them: no caller hears of a write that is not committed. Alone in
//! its batch, a write costs what it did on a pool of one connection; under
//! load, one commit (one WAL append of the pages the batch touched) serves
//! dozens of requests, and no pool hand-off or ping sits between two writes.
//!
//! A write that fails (or panics: it gets an error, the writer goes on)
//! takes its batch down: the transaction is rolled back, the failed write
//! gets its error, and the others run again in a new transaction. So a write may run more than once (only the run that is
//! committed counts) and must be a function of the database alone: no
//! randomness, clock or side effect inside it. This costs nothing while
//! writes succeed, where a savepoint per write would cost a round trip to
//! the connection's thread each time.
//!
//! Writes run one after another on the connection, so a write sees the
//! writes before it, committed or not: two concurrent signups for one email
//! still make one account, and of two exchanges of one code one wins.
//!
//! The next transaction is begun (`BEGIN IMMEDIATE`) as soon as a batch is
//! answered, while the writer waits for work: a lone write then costs its
//! own round trip and the commit's. So the connection holds the write lock
//! even when idle; no other process may write to the database file while
//! the server runs (none should: the server is its only writer).
//!
//! WAL checkpoints (copying committed pages into the database file, with
//! an fsync) run off the writer: after commits the task wakes the
//! checkpointer (`Checkpointer`), which checkpoints on a reader connection
//! at most every [`CHECKPOINT_EVERY`], so no request waits behind an fsync.

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use sqlx::SqliteConnection;

use super::holder_index::{HolderIndex, Reach};
use super::reader::Readers;
use tokio::sync::{mpsc, oneshot};

/// A boxed future borrowing the connection for `'c`.
pub type BoxFuture<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// Writes per transaction at most: bounds how long the oldest write of a
/// batch waits for its commit.
pub const MAX_BATCH: usize = 64;
/// Writes waiting at most; a request beyond it waits to be queued.
const QUEUE: usize = 1024;
/// How often the WAL is checkpointed at most while writes come in.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// A write: a closure over the writer's connection, run in the next
/// batch's transaction (perhaps more than once; the module's documentation).
pub trait Work<T>:
    for<'c> Fn(&'c mut SqliteConnection) -> BoxFuture<'c, sqlx::Result<T>> + Send + Sync + 'static
{
}

impl<T, F> Work<T> for F where
    F: for<'c> Fn(&'c mut SqliteConnection) -> BoxFuture<'c, sqlx::Result<T>>
        + Send
        + Sync
        + 'static
{
}

/// The handle requests queue writes through. Cloning is cheap; the task
/// ends, and closes the connection, when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct Writer {
    queue: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    /// Starts the writer task on `connection` (on the current runtime) and
    /// the checkpointer on `checkpoints`; `holders` hears of each commit
    /// before its writes are answered.
    pub fn start(
        connection: SqliteConnection,
        checkpoints: Readers,
        holders: Arc<HolderIndex>,
    ) -> Writer {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let (committed, commits) = mpsc::channel(1);
        tokio::spawn(serve(connection, jobs, committed, holders));
        tokio::spawn(
            Checkpointer {
                readers: checkpoints,
            }
            .run(commits),
        );
        Writer { queue }
    }

    /// Runs `work` in the next batch and answers once the batch committed.
    /// `work` may run more than once (see the module's documentation); an
    /// `Err` from it is its answer, and nothing it wrote is kept. It may
    /// change any credential's holder ([`Reach::Holders`]).
    pub async fn write<T, F>(&self, work: F) -> sqlx::Result<T>
    where
        T: Send + 'static,
        F: Work<T>,
    {
        self.write_reaching(|_| Reach::Holders, work).await
    }

    /// [`Writer::write`], for a write that changes of the holders at most
    /// what `reach` says of its result.
    pub async fn write_reaching<T, F>(&self, reach: fn(&T) -> Reach, work: F) -> sqlx::Result<T>
    where
        T: Send + 'static,
        F: Work<T>,
    {
        let (answer, answered) = oneshot::channel();
        let job = Write {
            work,
            reach,
            result: None,
            answer,
        };
        self.queue
            .send(Box::new(job))
            .await
            .map_err(|_| sqlx::Error::WorkerCrashed)?;
        answered.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }
}

/// A queued write, its result type erased.
trait Job: Send {
    /// Runs the write, keeping its result; `true` if it failed.
    fn run<'c>(&'c mut self, connection: &'c mut SqliteConnection) -> BoxFuture<'c, bool>;
    /// What the write, as it ran, may have changed of the holders.
    fn reach(&self) -> Reach;
    /// Answers with the kept result if the batch committed, or else with
    /// the batch's error.
    fn answer(self: Box<Self>, committed: Result<(), &sqlx::Error>);
}

struct Write<F, T> {
    work: F,
    reach: fn(&T) -> Reach,
    result: Option<sqlx::Result<T>>,
    answer: oneshot::Sender<sqlx::Result<T>>,
}

impl<F, T> Job for Write<F, T>
where
    T: Send + 'static,
    F: Work<T>,
{
    fn run<'c>(&'c mut self, connection: &'c mut SqliteConnection) -> BoxFuture<'c, bool> {
        Box::pin(async move {
            // A panicking write fails alone, as a panicking request task
            // would; it must not take the writer, and every later write,
            // down with it.
            let work = &self.work;
            let result = CatchUnwind(Box::pin(async move { work(connection).await }))
                .await
                .unwrap_or_else(Err);
            let failed = result.is_err();
            self.result = Some(result);
            failed
        })
    }

    fn reach(&self) -> Reach {
        match &self.result {
            Some(Ok(value)) => (self.reach)(value),
            // A write that failed is rolled back; one that never ran may
            // yet: both are judged as if they reached everything.
            _ => Reach::Holders,
        }
    }

    fn answer(self: Box<Self>, committed: Result<(), &sqlx::Error>) {
        let result = match (committed, self.result) {
            (Ok(()), Some(result)) => result,
            (Err(error), _) => Err(uncommitted(error)),
            (Ok(()), None) => Err(sqlx::Error::Protocol("the write never ran".into())),
        };
        // The caller may have gone (its request was dropped): nothing to do.
        let _ = self.answer.send(result);
    }
}

/// Polls a boxed write, turning a panic into the write's error.
struct CatchUnwind<'c, T>(BoxFuture<'c, sqlx::Result<T>>);

impl<T> Future for CatchUnwind<'_, T> {
    type Output = Result<sqlx::Result<T>, sqlx::Error>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        match panic::catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(context))) {
            Ok(Poll::Ready(result)) => Poll::Ready(Ok(result)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panicked(payload))),
        }
    }
}

fn panicked(payload: Box<dyn std::any::Any + Send>) -> sqlx::Error {
    let message = payload
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned());
    tracing::error!(%message, "a write panicked");
    sqlx::Error::Protocol(format!("the write panicked: {message}"))
}

/// The error each write of a batch gets when the batch's transaction could
/// not start or commit (`sqlx::Error` is not `Clone`).
fn uncommitted(error: &sqlx::Error) -> sqlx::Error {
    sqlx::Error::Protocol(format!("the write was not committed: {error}"))
}

async fn serve(
    connection: SqliteConnection,
    mut jobs: mpsc::Receiver<Box<dyn Job>>,
    committed: mpsc::Sender<()>,
    holders: Arc<HolderIndex>,
) {
    let mut writer = Connection {
        connection,
        begun: false,
    };
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        // The next transaction is begun while nothing waits, so its round
        // trip is not on the next write's way (a failure is retried, and
        // reported, by that write's batch).
        let _ = writer.begin().await;
        if jobs.recv_many(&mut batch, MAX_BATCH).await == 0 {
            break;
        }
        run_batch(&mut writer, std::mem::take(&mut batch), &holders).await;
        // A checkpoint is due, unless one is already asked for.
        let _ = committed.try_send(());
    }
    let _ = sqlx::Connection::close(writer.connection).await;
}

/// The write connection and whether a transaction is begun on it.
struct Connection {
    connection: SqliteConnection,
    begun: bool,
}

impl Connection {
    async fn begin(&mut self) -> sqlx::Result<()> {
        if !self.begun {
            execute(&mut self.connection, "BEGIN IMMEDIATE").await?;
            self.begun = true;
        }
        Ok(())
    }

    /// Ends the transaction with `COMMIT` or `ROLLBACK`.
    async fn end(&mut self, sql: &'static str) -> sqlx::Result<()> {
        self.begun = false;
        execute(&mut self.connection, sql).await
    }

    async fn rollback(&mut self) {
        if let Err(error) = self.end("ROLLBACK").await {
            tracing::error!(%error, "the writer cannot roll back");
        }
    }
}

async fn execute(connection: &mut SqliteConnection, sql: &'static str) -> sqlx::Result<()> {
    sqlx::query(sql).execute(connection).await.map(drop)
}

/// Runs `batch` in transactions until every write is answered: one
/// transaction if they all succeed, and one more after each failure (the
/// failed write answered with its error, the others run again). After a
/// commit, and before any answer, `holders` hears what it reached.
async fn run_batch(writer: &mut Connection, mut batch: Vec<Box<dyn Job>>, holders: &HolderIndex) {
    while !batch.is_empty() {
        if let Err(error) = writer.begin().await {
            tracing::error!(%error, "the writer cannot begin a transaction");
            for job in batch {
                job.answer(Err(&error));
            }
            return;
        }
        let mut failed = None;
        for (index, job) in batch.iter_mut().enumerate() {
            if job.run(&mut writer.connection).await {
                failed = Some(index);
                break;
            }
        }
        if let Some(index) = failed {
            writer.rollback().await;
            batch.remove(index).answer(Ok(()));
            continue;
        }
        let committed = writer.end("COMMIT").await;
        if let Err(error) = &committed {
            tracing::error!(%error, writes = batch.len(), "a batch of writes was not committed");
            writer.rollback().await;
        }
        // A failed commit is told as reaching everything: whether any of
        // it landed is not worth being sure of.
        let reach =
            match committed.is_ok() && batch.iter().all(|job| job.reach() == Reach::NoHolder) {
                true => Reach::NoHolder,
                false => Reach::Holders,
            };
        holders.committed(reach);
        for job in batch.drain(..) {
            job.answer(committed.as_ref().map(|_| ()));
        }
    }
}

/// Checkpoints the WAL on a reader connection after commits, at most every
/// [`CHECKPOINT_EVERY`]; ends with the writer.
struct Checkpointer {
    readers: Readers,
}

impl Checkpointer {
    async fn run(self, mut commits: mpsc::Receiver<()>) {
        while commits.recv().await.is_some() {
            // PASSIVE: copies what no reader still needs, never waits for
            // the writer or a reader.
            if let Err(error) = self.checkpoint().await {
                tracing::warn!(%error, "WAL checkpoint failed; the next commit retries");
            }
            tokio::time::sleep(CHECKPOINT_EVERY).await;
        }
    }

    async fn checkpoint(&self) -> sqlx::Result<()> {
        let mut read = self.readers.get().await?;
        sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut *read)
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
    use sqlx::ConnectOptions;
    use tokio::sync::Semaphore;

    use super::*;

    async fn writer() -> (Writer, Readers, tempfile::TempDir) {
        let directory = tempfile::tempdir().expect("tempdir");
        let options = SqliteConnectOptions::new()
            .filename(directory.path().join("writer.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let mut connection = options.connect().await.expect("opens");
        sqlx::query("CREATE TABLE rows (name TEXT PRIMARY KEY)")
            .execute(&mut connection)
            .await
            .expect("table");
        let readers = Readers::new(options, 2);
        (
            Writer::start(connection, readers.clone(), Arc::default()),
            readers,
            directory,
        )
    }

    /// A write that inserts `name`, counting its runs.
    fn insert(
        name: &'static str,
        runs: Arc<AtomicUsize>,
    ) -> impl for<'c> Fn(&'c mut SqliteConnection) -> BoxFuture<'c, sqlx::Result<()>> {
        move |connection| {
            runs.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                sqlx::query("INSERT INTO rows (name) VALUES (?)")
                    .bind(name)
                    .execute(connection)
                    .await
                    .map(drop)
            })
        }
    }

    async fn names(readers: &Readers) -> Vec<String> {
        sqlx::query_scalar("SELECT name FROM rows ORDER BY name")
            .fetch_all(&mut *readers.get().await.expect("a reader"))
            .await
            .expect("reads")
    }

    /// Holds the writer in a write of its own until the returned permit
    /// count is raised, so that what is queued meanwhile forms one batch.
    async fn hold(writer: &Writer) -> (Arc<Semaphore>, tokio::task::JoinHandle<()>) {
        let gate = Arc::new(Semaphore::new(0));
        let (started, running) = oneshot::channel();
        let started = Arc::new(std::sync::Mutex::new(Some(started)));
        let held = {
            let (writer, gate) = (writer.clone(), gate.clone());
            tokio::spawn(async move {
                writer
                    .write(move |_| {
                        let (gate, started) = (gate.clone(), started.clone());
                        Box::pin(async move {
                            if let Some(started) = started.lock().expect("lock").take() {
                                let _ = started.send(());
                            }
                            gate.acquire().await.expect("gate").forget();
                            Ok(())
                        })
                    })
                    .await
                    .expect("the holding write commits");
            })
        };
        running.await.expect("the holding write runs");
        (gate, held)
    }

    /// Queues `work` and waits until it is in the writer's queue.
    async fn queue<T: Send + 'static>(
        writer: &Writer,
        work: impl for<'c> Fn(&'c mut SqliteConnection) -> BoxFuture<'c, sqlx::Result<T>>
            + Send
            + Sync
            + 'static,
    ) -> tokio::task::JoinHandle<sqlx::Result<T>> {
        let queued = writer.queue.capacity();
        let writer_ = writer.clone();
        let handle = tokio::spawn(async move { writer_.write(work).await });
        while writer.queue.capacity() == queued {
            tokio::task::yield_now().await;
        }
        handle
    }

    #[tokio::test]
    async fn a_failing_write_is_undone_alone_and_the_others_run_again() {
        let (writer, pool, _directory) = writer().await;
        let (gate, held) = hold(&writer).await;
        let (a_runs, b_runs, c_runs) = (Arc::default(), Arc::default(), Arc::default());
        let a = queue(&writer, insert("a", Arc::clone(&a_runs))).await;
        // Inserts, then fails: its insert must not survive.
        let failing = queue(&writer, |connection| {
            Box::pin(async move {
                sqlx::query("INSERT INTO rows (name) VALUES ('half')")
                    .execute(&mut *connection)
                    .await?;
                sqlx::query("INSERT INTO rows (name) VALUES ('a')")
                    .execute(connection)
                    .await
                    .map(drop)
            })
        })
        .await;
        let b = queue(&writer, insert("b", Arc::clone(&b_runs))).await;
        let c = queue(&writer, insert("c", Arc::clone(&c_runs))).await;
        gate.add_permits(1);
        held.await.expect("held");
        a.await.expect("a").expect("a commits");
        let error = failing
            .await
            .expect("failing")
            .expect_err("the failing write fails");
        assert!(error.to_string().contains("UNIQUE"), "{error}");
        b.await.expect("b").expect("b commits");
        c.await.expect("c").expect("c commits");
        assert_eq!(names(&pool).await, ["a", "b", "c"]);
        // `a` ran before the failure and again after it; `b` and `c` only after.
        assert_eq!(a_runs.load(Ordering::SeqCst), 2);
        assert_eq!(b_runs.load(Ordering::SeqCst), 1);
        assert_eq!(c_runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_write_sees_the_uncommitted_writes_before_it_in_its_batch() {
        let (writer, pool, _directory) = writer().await;
        let (gate, held) = hold(&writer).await;
        let first = queue(&writer, insert("first", Arc::default())).await;
        let count = queue(&writer, |connection| {
            Box::pin(async move {
                sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM rows")
                    .fetch_one(connection)
                    .await
            })
        })
        .await;
        gate.add_permits(1);
        held.await.expect("held");
        first.await.expect("first").expect("first commits");
        assert_eq!(count.await.expect("count").expect("count commits"), 1);
        assert_eq!(names(&pool).await, ["first"]);
    }

    #[tokio::test]
    async fn a_panicking_write_fails_alone_and_the_writer_goes_on() {
        let (writer, readers, _directory) = writer().await;
        let (gate, held) = hold(&writer).await;
        let before = queue(&writer, insert("before", Arc::default())).await;
        let panicking = queue::<()>(&writer, |connection| {
            Box::pin(async move {
                sqlx::query("INSERT INTO rows (name) VALUES ('half')")
                    .execute(connection)
                    .await?;
                panic!("a bug in a write");
            })
        })
        .await;
        let after = queue(&writer, insert("after", Arc::default())).await;
        gate.add_permits(1);
        held.await.expect("held");
        let error = panicking.await.expect("the caller's task survives");
        let error = error.expect_err("the panicking write fails");
        assert!(error.to_string().contains("a bug in a write"), "{error}");
        before.await.expect("before").expect("before commits");
        after.await.expect("after").expect("after commits");
        assert_eq!(names(&readers).await, ["after", "before"]);
    }

    #[tokio::test]
    async fn a_lone_failing_write_leaves_nothing_and_the_writer_goes_on() {
        let (writer, pool, _directory) = writer().await;
        let failed = writer
            .write(|connection| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO rows (name) VALUES ('x')")
                        .execute(&mut *connection)
                        .await?;
                    sqlx::query("INSERT INTO missing (name) VALUES ('x')")
                        .execute(connection)
                        .await
                        .map(drop)
                })
            })
            .await;
        assert!(failed.is_err());
        assert!(names(&pool).await.is_empty());
        writer
            .write(insert("after", Arc::default()))
            .await
            .expect("the next write commits");
        assert_eq!(names(&pool).await, ["after"]);
    }
}
