//! The protocol crate's one integration-test binary.

mod schema;
mod wire;
