//! One file per command, each a function over a [`Session`] that writes
//! what a person reads to the session's output and returns how the run
//! ended: `signup.rs` (`--signup`), `ci.rs` (`--ci`), `provision.rs`,
//! `scopes.rs` and `doctor.rs`. They call the steps below them and never
//! each other; `lib.rs` picks one.
//!
//! [`Session`]: crate::session::Session

pub mod ci;
pub mod doctor;
pub mod provision;
pub mod scopes;
pub mod signup;
