//! `Db`: opening and migrating the database, and the two ways in to it
//! that every table family's file uses: [`Db::write`] (a closure queued to
//! the writer, answered once committed) and the read connections.

use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::ConnectOptions;

use super::application::Application;
use super::holder_index::{HolderIndex, Reach};
use super::named::Named;
use super::reader::Readers;
use super::writer::{Work, Writer};

/// The values of a [`Db::execute`] statement, in the order of its `?`s.
macro_rules! arguments {
    ($($value:expr),* $(,)?) => {{
        let mut arguments = sqlx::sqlite::SqliteArguments::default();
        $(sqlx::Arguments::add(&mut arguments, $value).map_err(sqlx::Error::Encode)?;)*
        arguments
    }};
}
pub(crate) use arguments;

/// Read connections at most (two per core of the machines this runs on).
const READERS: usize = 4;

/// The writer and the read connections. Cloning is cheap.
#[derive(Debug, Clone)]
pub struct Db {
    writer: Writer,
    pub(super) reader: Readers,
    /// The holders of credentials looked up lately (`holder_index.rs`),
    /// told of every commit by the writer.
    pub(super) holders: Arc<HolderIndex>,
    /// The registered applications, parsed when loaded and served from
    /// memory (`applications.rs`).
    pub(super) applications: Arc<RwLock<Arc<Vec<Arc<Application>>>>>,
    /// The directory of a throwaway (`sqlite::memory:`) database.
    _scratch: Option<Arc<tempfile::TempDir>>,
}

impl Db {
    /// Opens (creating if missing) and migrates the database at `url`.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let (options, scratch) = if in_memory {
            let directory = tempfile::Builder::new()
                .prefix("provisioning-server-")
                .tempdir()
                .map_err(|error| {
                    anyhow::anyhow!("cannot make a temporary directory for {url:?}: {error}")
                })?;
            let options = SqliteConnectOptions::new()
                .filename(directory.path().join("provisioning.db"))
                // Throwaway: nothing to keep across a crash.
                .synchronous(SqliteSynchronous::Off);
            (options, Some(Arc::new(directory)))
        } else {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|error| {
                    anyhow::anyhow!("--database-url {url:?} is not a SQLite URL: {error}")
                })?
                .synchronous(SqliteSynchronous::Normal);
            (options, None)
        };
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Every connection: temporary tables in memory and more prepared
            // statements kept. (A 16 MB page cache and a 256 MiB memory map
            // were measured too: no gain, and peak memory under load rose.)
            .pragma("temp_store", "memory")
            // Checkpoints are the checkpointer's (`writer.rs`). The writer
            // begins its next transaction right after a commit, before the
            // checkpointer has copied it, so the WAL never starts over by
            // itself: past 40 MB the writer checkpoints on commit (copying
            // the little the checkpointer has not, with an fsync), and the
            // WAL starts over. Measured at 8 clients: every 4,000 pages
            // (16 MB) these fsyncs doubled the p99 (14 ms against 7 ms);
            // never, the WAL grows and every read slows down.
            .pragma("wal_autocheckpoint", "10000")
            .statement_cache_capacity(256);
        let mut connection = options
            .connect()
            .await
            .map_err(|error| anyhow::anyhow!("cannot open database {url:?}: {error}"))?;
        sqlx::migrate!("./migrations")
            .run(&mut connection)
            .await
            .map_err(|error| anyhow::anyhow!("cannot migrate database {url:?}: {error}"))?;
        let reader = Readers::new(options, READERS);
        let holders = Arc::new(HolderIndex::default());
        let writer = Writer::start(connection, reader.clone(), Arc::clone(&holders));
        let db = Db {
            writer,
            reader,
            holders,
            applications: Arc::default(),
            _scratch: scratch,
        };
        db.reload_applications()
            .await
            .map_err(|error| anyhow::anyhow!("cannot read database {url:?}: {error}"))?;
        Ok(db)
    }

    /// One statement on the writer ([`Db::write`]); the rows it changed.
    pub async fn execute(
        &self,
        sql: &'static str,
        arguments: SqliteArguments<'static>,
    ) -> sqlx::Result<u64> {
        self.write(move |connection| {
            let arguments = arguments.clone();
            Box::pin(async move {
                let done = sqlx::query_with(sql, arguments).execute(connection).await?;
                Ok(done.rows_affected())
            })
        })
        .await
    }

    /// One statement with named parameters on the writer ([`Db::write`]);
    /// the rows it changed.
    pub async fn execute_named(&self, statement: Named) -> sqlx::Result<u64> {
        self.execute_named_reaching(|_| Reach::Holders, statement)
            .await
    }

    /// Runs `work` on the writer connection, in the transaction of the
    /// next batch ([`Writer::write`]); answers once it is committed. `work`
    /// may run more than once: it must depend on the database alone. The
    /// holder index forgets every holder when it commits: for a write that
    /// cannot change one, [`Db::write_reaching`].
    pub async fn write<T, F>(&self, work: F) -> sqlx::Result<T>
    where
        T: Send + 'static,
        F: Work<T>,
    {
        self.writer.write(work).await
    }

    /// [`Db::write`] for a write that changes of the credential holders at
    /// most what `reach` says of its result (`holder_index.rs`): a holder
    /// is read from the credential's row, its partner, its user, and the
    /// user's memberships, organizations and teams.
    pub async fn write_reaching<T, F>(&self, reach: fn(&T) -> Reach, work: F) -> sqlx::Result<T>
    where
        T: Send + 'static,
        F: Work<T>,
    {
        self.writer.write_reaching(reach, work).await
    }

    /// One statement with named parameters on the writer that changes no
    /// holder ([`Db::write_reaching`]); the rows it changed.
    pub async fn execute_named_sparing_holders(&self, statement: Named) -> sqlx::Result<u64> {
        self.execute_named_reaching(|_| Reach::NoHolder, statement)
            .await
    }

    async fn execute_named_reaching(
        &self,
        reach: fn(&u64) -> Reach,
        statement: Named,
    ) -> sqlx::Result<u64> {
        self.write_reaching(reach, move |connection| {
            let statement = statement.clone();
            Box::pin(async move {
                let done = statement.query().execute(connection).await?;
                Ok(done.rows_affected())
            })
        })
        .await
    }

    /// How many credential holders the index keeps (for tests).
    pub fn kept_holders(&self) -> usize {
        self.holders.len()
    }
}
