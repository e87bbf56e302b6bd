//! The wizard's one error type and its exit codes (protocol section 9).

use std::fmt;

/// Exit codes, as documented in `wizard --help` and the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Done = 0,
    Internal = 1,
    Usage = 2,
    Auth = 3,
    Provisioning = 4,
    Network = 5,
    HealthIssues = 6,
    EditsRefused = 7,
}

/// Everything that can stop a run. Messages are complete sentences a person
/// can act on; none contains a full credential.
#[derive(Debug, thiserror::Error)]
pub enum WizardError {
    #[error("{0}")]
    Usage(String),
    /// A 401 or 403 from the API or the gateway, with the explanation
    /// already worked out (see `diagnose.rs`).
    #[error("{0}")]
    Auth(String),
    /// The server refused to provision (`invalid_scope`, `email_exists`, …).
    #[error("{message}")]
    Provisioning { message: String, code: String },
    /// A host did not answer, or answered that it is unavailable.
    #[error("{0}")]
    Network(String),
    #[error("{0}")]
    EditsRefused(String),
    #[error("{0}")]
    Internal(String),
}

impl WizardError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            WizardError::Usage(_) => ExitCode::Usage,
            WizardError::Auth(_) => ExitCode::Auth,
            WizardError::Provisioning { .. } => ExitCode::Provisioning,
            WizardError::Network(_) => ExitCode::Network,
            WizardError::EditsRefused(_) => ExitCode::EditsRefused,
            WizardError::Internal(_) => ExitCode::Internal,
        }
    }

    /// The `code` of the JSON error output (`wizard provision --json`).
    pub fn code(&self) -> &str {
        match self {
            WizardError::Provisioning { code, .. } if code == "email_exists" => "email_exists",
            _ => "provisioning_failed",
        }
    }

    /// The error as a person reads it on stderr: the message without a
    /// trailing newline (a 401's explanation ends with one).
    pub fn for_a_person(&self) -> String {
        self.to_string().trim_end().to_owned()
    }

    /// The error as `provision --json` prints it on stderr, for a script.
    pub fn as_json(&self) -> String {
        let output = protocol::wizard::WizardErrorOutput {
            error: self.to_string(),
            code: self.code().to_owned(),
        };
        serde_json::to_string(&output).unwrap_or_default()
    }
}

impl fmt::Display for ExitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", *self as i32)
    }
}

/// The exit-code table, for `--help` and the README.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  done (for `doctor`: no active issue)
  1  unexpected internal error
  2  usage error (bad or missing flags)
  3  authentication or authorization failed (401/403 from the API or the gateway)
  4  provisioning refused (account request, token or resource error, invalid_scope, email_exists)
  5  network failure or timeout (names the host that did not answer)
  6  `doctor` found active health issues
  7  the agent's edits were refused (outside the project, conflicting content)";

#[cfg(test)]
mod tests {
    use super::*;

    /// If this fails, `wizard provision --json` reports another code than
    /// the one a script branches on, or an exit code prints as something
    /// other than its number.
    #[test]
    fn json_codes_and_exit_numbers() {
        let provisioning = |code: &str| WizardError::Provisioning {
            message: "m".into(),
            code: code.into(),
        };
        assert_eq!(provisioning("email_exists").code(), "email_exists");
        assert_eq!(provisioning("invalid_scope").code(), "provisioning_failed");
        assert_eq!(WizardError::Auth("a".into()).code(), "provisioning_failed");
        for (error, number) in [
            (WizardError::Usage("u".into()), "2"),
            (WizardError::Auth("a".into()), "3"),
            (provisioning("x"), "4"),
            (WizardError::Network("n".into()), "5"),
            (WizardError::Internal("i".into()), "1"),
        ] {
            assert_eq!(error.exit_code().to_string(), number, "{error:?}");
        }
    }

    /// If this fails, a script reading `provision --json`'s stderr cannot
    /// tell an existing email from another refusal, or a person's stderr
    /// ends with a blank line after a 401's explanation.
    #[test]
    fn the_two_renderings_of_an_error() {
        let error = WizardError::Provisioning {
            message: "a@example.com already has a PostHog account.".into(),
            code: "email_exists".into(),
        };
        let json: serde_json::Value = serde_json::from_str(&error.as_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "error": "a@example.com already has a PostHog account.",
                "code": "email_exists"
            })
        );
        let explained = WizardError::Auth("Authentication failed (401)\nVerbose log: x\n".into());
        assert_eq!(
            explained.for_a_person(),
            "Authentication failed (401)\nVerbose log: x"
        );
    }
}
