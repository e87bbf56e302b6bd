//! What one run of a published wizard came to, as plain data: how its
//! process ended, how far it got, and what the reader should know. The
//! cells, the cases, the tables and the reports all read it.

use std::time::Duration;

use super::expected::CellKey;
use super::outcome::Outcome;

/// How the wizard's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Exited(i32),
    Signalled(i32),
    /// Killed at the time limit.
    TimedOut,
    /// Killed by the driver once the gateway had answered a model call.
    StoppedAfterGateway,
}

/// One cell as run.
#[derive(Debug, Clone)]
pub struct CellResult {
    pub key: CellKey,
    /// None when the cell could not be run at all (see `problems`).
    pub outcome: Option<Outcome>,
    pub expected: Option<Outcome>,
    pub ending: Option<Ending>,
    pub duration: Duration,
    /// Each signup-path request in order: `side METHOD path → status`.
    pub requests: Vec<String>,
    /// What fails the cell besides a different outcome.
    pub problems: Vec<String>,
    /// What a reader should know but does not fail the cell (credentials
    /// the published wizard wrote in full into its own outputs).
    pub notes: Vec<String>,
    /// The code of the error the wizard reported in its structured
    /// `phw-error: {json}` stderr line (2.73.0 and later), for the reader;
    /// the outcome never depends on it.
    pub wizard_error: Option<String>,
    /// What the server minted, from `/_admin/state`: shows the scopeless
    /// token of the `scopes removed` variant where the era keeps it.
    pub credential_scopes: Option<CredentialScopes>,
}

/// The scopes of the credentials the server minted during a run (each
/// credential's scopes space separated; empty when it has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScopes {
    pub access_tokens: Vec<String>,
    pub personal_api_keys: Vec<String>,
}

impl std::fmt::Display for Ending {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Exited(code) => write!(formatter, "exit {code}"),
            Ending::Signalled(signal) => write!(formatter, "signal {signal}"),
            Ending::TimedOut => formatter.write_str("timed out"),
            Ending::StoppedAfterGateway => formatter.write_str("stopped after the gateway"),
        }
    }
}

impl CellResult {
    pub fn passed(&self) -> bool {
        self.problems.is_empty() && self.outcome.is_some() && self.outcome == self.expected
    }
}
