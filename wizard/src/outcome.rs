//! How a run ended without an error, and the exit code that says so.

use crate::error::ExitCode;

/// How a run ended (without an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The SDK integration is in the project; `files` were written.
    Integrated { project_id: i64, files: Vec<String> },
    /// The project was already integrated with this key and host.
    AlreadyIntegrated { project_id: i64 },
    /// `provision` printed its credentials.
    Provisioned,
    /// `scopes` printed its report.
    Explained,
    /// `doctor` found this many active health issues (exit 6 when any).
    HealthChecked { active: usize },
}

impl Outcome {
    /// 0, or 6 when `doctor` found active issues, so a script can tell.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Outcome::HealthChecked { active } if *active > 0 => ExitCode::HealthIssues,
            _ => ExitCode::Done,
        }
    }
}
