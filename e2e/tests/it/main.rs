//! The harness's one integration-test binary. It never starts a process:
//! the real scenarios run with `cargo run -p e2e`.

mod architecture;
mod binaries;
mod properties;
mod scenarios;
