//! The data of `restart_server`: when to crash the provisioning server,
//! how long to keep it down, and the readiness signals that place both.
//!
//! The step crashes the server (SIGKILL of its process group) and starts
//! it again on the same port, with the same database file, profile, seed
//! and admin token (`server_control.rs` runs it):
//!
//! ```toml
//! [[steps]]
//! kind = "restart_server"
//! label = "crash the server mid-conversation"
//! after = { path = "/oauth/introspect", count = 1 }  # optional: first wait until the
//!                                     # server's journal holds `count` entries on `path`
//!                                     # (at most `timeout_seconds`, default 10)
//! after_gateway_holds = 1             # optional: first wait until the gateway holds this
//!                                     # many requests (its `hold` fault; `GET /_admin/held`)
//! release_gateway = true              # after the kill, release the held requests
//! down_ms = 400                       # how long it stays down; default 0, at most 5000
//! up_when = { gateway_verdict = "introspection_unavailable", count = 1 }
//!                                     # or: stay down until the gateway's journal holds
//!                                     # `count` entries with that verdict (a readiness
//!                                     # signal instead of a time; not with down_ms)
//! ```
//!
//! The journal of the killed process is read just before the kill; the
//! scenario's checks and transcript see every process's entries, in order.

use anyhow::{bail, Result};
use serde::Deserialize;

/// The longest `down_ms` of a `restart_server` step.
pub const MAX_DOWN_MS: u64 = 5_000;

/// The longest `after.timeout_seconds` of a `restart_server` step.
pub const MAX_AFTER_SECONDS: u64 = 60;

/// `kind = "restart_server"`: SIGKILL the provisioning server, keep it
/// down `down_ms`, start it again on the same address and database.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartServerStep {
    #[serde(default)]
    pub label: Option<String>,
    /// Milliseconds between the kill and the new start (at most
    /// [`MAX_DOWN_MS`]).
    #[serde(default)]
    pub down_ms: u64,
    /// Wait for this much traffic on the server before the kill, so the
    /// crash lands at a known point of a background wizard's run.
    #[serde(default)]
    pub after: Option<JournalWait>,
    /// Wait until the gateway holds this many requests (its `hold` fault)
    /// before the kill: the wizard is then mid-conversation, waiting.
    #[serde(default)]
    pub after_gateway_holds: Option<u32>,
    /// Release the gateway's held requests right after the kill.
    #[serde(default)]
    pub release_gateway: bool,
    /// Stay down until the gateway has answered this verdict this often
    /// (the wizard has met the outage), rather than for `down_ms`.
    #[serde(default)]
    pub up_when: Option<VerdictWait>,
}

/// Waits until the gateway's journal holds `count` entries with `verdict`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictWait {
    pub gateway_verdict: String,
    #[serde(default = "default_count")]
    pub count: usize,
    #[serde(default = "default_after_seconds")]
    pub timeout_seconds: u64,
}

/// Waits until the server's journal holds `count` entries on `path`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalWait {
    /// A request path as journaled (no query), e.g. `/oauth/introspect`.
    pub path: String,
    #[serde(default = "default_count")]
    pub count: usize,
    #[serde(default = "default_after_seconds")]
    pub timeout_seconds: u64,
}

impl RestartServerStep {
    pub fn label(&self) -> String {
        self.label.clone().unwrap_or_else(|| {
            let mut label = "restart the server".to_owned();
            if let Some(after) = &self.after {
                label.push_str(&format!(" after {} × {}", after.count, after.path));
            }
            if let Some(held) = self.after_gateway_holds {
                label.push_str(&format!(" once the gateway holds {held}"));
            }
            match &self.up_when {
                Some(up) => label.push_str(&format!(
                    ", down until {} × {}",
                    up.count, up.gateway_verdict
                )),
                None => label.push_str(&format!(", down {} ms", self.down_ms)),
            }
            label
        })
    }

    pub fn validate(&self) -> Result<()> {
        if self.down_ms > MAX_DOWN_MS {
            bail!(
                "down_ms = {} is more than the {MAX_DOWN_MS} ms a restart may take",
                self.down_ms
            );
        }
        if let Some(after) = &self.after {
            if !after.path.starts_with('/') || after.path.contains('?') {
                bail!(
                    "after.path {:?} must be a request path starting with `/`, without a query",
                    after.path
                );
            }
            if after.count == 0 {
                bail!("after.count must be at least 1");
            }
            if after.timeout_seconds == 0 || after.timeout_seconds > MAX_AFTER_SECONDS {
                bail!("after.timeout_seconds must be between 1 and {MAX_AFTER_SECONDS}");
            }
        }
        if self.after_gateway_holds == Some(0) {
            bail!("after_gateway_holds must be at least 1");
        }
        if let Some(up) = &self.up_when {
            if self.down_ms != 0 {
                bail!("up_when and down_ms exclude each other: the server comes back on a signal or after a time");
            }
            if up.gateway_verdict.trim().is_empty() || up.count == 0 {
                bail!("up_when needs a gateway_verdict and a count of at least 1");
            }
            if up.timeout_seconds == 0 || up.timeout_seconds > MAX_AFTER_SECONDS {
                bail!("up_when.timeout_seconds must be between 1 and {MAX_AFTER_SECONDS}");
            }
        }
        Ok(())
    }
}

fn default_count() -> usize {
    1
}

fn default_after_seconds() -> u64 {
    10
}
