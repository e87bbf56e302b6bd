//! The wizard's one integration-test binary: the real `wizard` binary
//! against in-process stand-ins for the server and the gateway, so each of
//! its reactions (usage errors, 401s, outages, refused edits) is pinned
//! without the other programs; and the flows themselves run in process
//! against the real server and gateway (`in_process.rs`), their output read
//! from the session's buffers. The e2e scenarios run the binary against the
//! real programs.

mod cli;
mod contracts;
mod flows;
mod harness;
mod in_process;
mod streaming;
mod stub;
