//! The wizard's one integration-test binary: the real `wizard` binary
//! against in-process stand-ins for the server and the gateway, so each of
//! its reactions (usage errors, 401s, outages, refused edits) is pinned
//! without the other programs. The e2e scenarios run it against the real
//! ones.

mod cli;
mod contracts;
mod flows;
mod streaming;
mod stub;
