//! Reliability over real loopback HTTP: many callers at once, and a server
//! killed mid-load and restarted on the same database file.
//!
//! Unlike the rest of this binary, these tests use sockets: a server bound
//! to `127.0.0.1:0` in process (`http`), or the real `provisioning-server`
//! binary (`durability`). Sizes are small in `cargo test` and large under
//! `RELIABILITY_FULL=1` (`just reliability`); every loop is bounded in count
//! and every wait has a deadline. See `RELIABILITY.md` for the figures.

mod concurrency;
mod durability;
mod leaks;
mod live;
mod transport;

/// Whether the full sizes were asked for (`RELIABILITY_FULL=1`).
fn full() -> bool {
    std::env::var("RELIABILITY_FULL").as_deref() == Ok("1")
}

/// `small` in the normal run, `large` under `RELIABILITY_FULL=1`.
fn size(small: usize, large: usize) -> usize {
    if full() {
        large
    } else {
        small
    }
}
