//! The protocol crate's one integration-test binary.

mod guard;
mod properties;
mod schema;
mod wire;
