//! What one scenario's run amounts to, as data: the result the reports
//! print and the matrix classifies, and the identifiers that keep runs
//! apart. It knows nothing of how a run is made.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use protocol::admin::Journal;

use crate::chromium_step::Screenshot;
use crate::process::Ending;

/// The outcome of one scenario, ready for the report.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    pub name: String,
    pub expected: String,
    pub observed: String,
    pub mismatches: Vec<String>,
    pub duration: Duration,
    /// Tails of every program's output, shown when the scenario failed.
    pub diagnostics: String,
    /// With `--keep`: the directory and the commands to rerun by hand.
    pub kept: Option<String>,
    /// The admin journals read after the run, for the report's sequence
    /// diagrams and the matrix's classification.
    pub journals: Journals,
    /// How the scenario's own wizard run ended and what it left in the
    /// project (`None` without one, or when the run never got that far).
    pub wizard: Option<WizardOutcome>,
    /// Why the scenario was left out (locally, a browser it needs is not
    /// installed); `None` when it ran.
    pub not_run: Option<String>,
    /// The `chromium` steps' screenshots, in order.
    pub screenshots: Vec<Screenshot>,
}

/// How a scenario's wizard run ended and what it did to the project, as
/// data (the matrix classifies from this, never from the summary text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WizardOutcome {
    pub ending: Ending,
    pub project: ProjectState,
}

/// The project after the run, against the copy made before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectState {
    /// Byte for byte as it was.
    Untouched,
    /// The app's integration checklist holds.
    Integrated,
    /// Anything else.
    Changed,
}

impl std::fmt::Display for ProjectState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProjectState::Untouched => "untouched",
            ProjectState::Integrated => "integrated",
            ProjectState::Changed => "changed",
        })
    }
}

/// The two admin journals of a run (credentials already masked); `None`
/// when unreadable or when the run stopped before the services started.
#[derive(Debug, Clone, Default)]
pub struct Journals {
    /// Every server process's entries, in order, when `restart_server`
    /// steps killed some.
    pub server: Option<Journal>,
    pub gateway: Option<Journal>,
    /// How many times `restart_server` steps killed the server.
    pub server_restarts: usize,
}

impl ScenarioResult {
    /// No mismatch. A scenario left out has none: it is counted apart,
    /// never as a failure.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }

    /// Left out, not run (see [`ScenarioResult::not_run`]).
    pub fn skipped(&self) -> bool {
        self.not_run.is_some()
    }
}

/// A run id: the harness's pid and the time, short and unique enough.
pub fn new_run_id() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis());
    format!("{}-{}", std::process::id(), millis % 100_000_000)
}

/// An e-mail address unique per scenario and run. The scenario name is cut
/// so the local part stays well under the 64 characters of RFC 5321.
pub fn unique_email(scenario_name: &str, run_id: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name: String = scenario_name.chars().take(24).collect();
    let sequence = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("e2e-{name}-{run_id}-{sequence}@example.com")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_unique_and_short() {
        let name = "scope-fix-client-current-wizard-legacy-server";
        let first = unique_email(name, "12345-67890123");
        let second = unique_email(name, "12345-67890123");
        assert_ne!(first, second);
        let local = first.split('@').next().unwrap();
        assert!(local.len() <= 64, "{local}");
        assert!(first.starts_with("e2e-scope-fix-client-current-"));
    }
}
