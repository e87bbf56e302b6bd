//! Persistence: SQLite through sqlx, with the migrations in `migrations/`.
//!
//! Writes go through one connection, owned by the [`Writer`] task, which
//! runs the writes of concurrent requests in shared transactions (group
//! commit): a transaction never has to upgrade a read lock under
//! contention, SQLite never answers `SQLITE_BUSY` to a writer, and one
//! commit serves many requests. Reads use connections of their own
//! ([`Readers`]) and, in WAL mode, never wait for the writer; since a write
//! is answered only once it is committed, a read that follows an answered
//! write sees it. `sqlite::memory:` (a throwaway server) is served from a
//! temporary file, deleted with the last handle, so reads and writes can
//! use separate connections there too.
//!
//! This file is the layer's front: it declares the files and re-exports
//! what the rest of the server names as `crate::db::…`. [`Db`] itself
//! (opening, migrating, [`Db::write`]) is in `handle.rs`, the plumbing in
//! `writer.rs` and `reader.rs`, named parameters in `named.rs`; every other
//! file holds one family of tables, its row types and its `impl Db` block.
//! The files below `db/` import one another directly, never through this
//! file, so no two of them depend on each other in a circle.

mod accounts;
mod admin;
mod application;
mod applications;
mod codes;
pub mod consent;
mod handle;
pub mod health_issues;
pub mod holder_index;
mod holders;
pub mod idempotency;
mod keys;
pub mod lifecycle;
pub mod login;
pub(crate) mod named;
mod rate_limits;
pub mod reader;
pub mod seeds;
mod teams;
mod tokens;
pub mod writer;

pub use accounts::{Created, NewAccount, User};
pub use application::{Application, AuthMethod, CorruptApplication, RateLimits};
pub use codes::{Code, Exchange};
pub use handle::Db;
pub use holder_index::Reach;
pub use holders::{Grant, Holder, KeptAnswers};
pub use keys::NewPersonalKey;
pub use rate_limits::bucket_tokens;
pub use reader::Readers;
pub use teams::Team;
pub use tokens::{NewTokens, RefreshGrant, RefreshRotation};
pub use writer::{BoxFuture, Writer};
