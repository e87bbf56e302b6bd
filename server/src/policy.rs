//! The server's behaviour profile: one era of the real PostHog server, as
//! data (`fixtures/profiles/*.toml`, the four eras embedded: `profile.rs`),
//! read by the rules of the files below, one per concern. Handlers never ask which era they run in; they ask a rule
//! ("what scopes does this code carry", "may this code mint tokens", "what
//! does the personal key carry", "does a PKCE mismatch burn the code",
//! "where does a followed deep link land"), and the rule reads a field.
//!
//! The scope model follows `posthog/scopes.py`: an application's ceiling is
//! an exhaustive list, unless it holds the `@default` sentinel, which stands
//! for every unprivileged scope of the era's catalogue (its public objects,
//! each with `read` and `write`, minus the privileged and the hidden ones)
//! plus whatever else is listed. A few identity scopes are always allowed,
//! whatever the ceiling. An `<object>:write` in the ceiling admits the
//! request of `<object>:read` too.

mod deep_links;
mod profile;
mod scopes;
mod stripe;
mod tokens;

pub use deep_links::{Landing, DEEP_LINK_PURPOSES, INVALID_PATH_MESSAGE};
pub use profile::*;
