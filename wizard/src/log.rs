//! The verbose log (protocol section 9): `/tmp/posthog-wizard.log`, or
//! `$POSTHOG_WIZARD_LOG_DIR/posthog-wizard.log`. A banner per run, then
//! timestamped lines. Every line passes through
//! [`protocol::credential::redact_secrets`] before it is written, so even a
//! careless caller cannot put a full `pha_`, `phr_` or `phx_` in it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::output::Output;

pub const FILE_NAME: &str = "posthog-wizard.log";

pub struct VerboseLog {
    path: PathBuf,
    file: Mutex<Option<File>>,
    /// Where `--debug` echoes every line (stderr).
    echo: Option<Output>,
}

impl VerboseLog {
    /// Opens (appending) the log in `directory`. A log that cannot be opened
    /// is not fatal: the run goes on and says so once on `output`'s stderr.
    pub fn open(directory: &Path, output: &Output) -> VerboseLog {
        let path = directory.join(FILE_NAME);
        let file = std::fs::create_dir_all(directory)
            .and_then(|()| OpenOptions::new().create(true).append(true).open(&path));
        let file = match file {
            Ok(file) => Some(file),
            Err(error) => {
                output.warn(format!(
                    "warning: cannot write the verbose log {}: {error}",
                    path.display()
                ));
                None
            }
        };
        VerboseLog {
            path,
            file: Mutex::new(file),
            echo: None,
        }
    }

    /// The same log, every line of which is also written (already
    /// redacted) on `output`'s stderr: `--debug`.
    pub fn echoing_to(self, output: Output) -> VerboseLog {
        VerboseLog {
            echo: Some(output),
            ..self
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn banner(&self, arguments: &str) {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.write_raw(&format!(
            "\n==== PostHog wizard {} run at {now} ====\n==== arguments: {arguments}\n",
            env!("CARGO_PKG_VERSION")
        ));
    }

    pub fn line(&self, message: impl AsRef<str>) {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.write_raw(&format!("[{now}] {}\n", message.as_ref()));
    }

    fn write_raw(&self, text: &str) {
        let text = protocol::credential::redact_secrets(text);
        if let Some(output) = &self.echo {
            output.echo(&text);
        }
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(file) = file.as_mut() {
            let _ = file.write_all(text.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_never_holds_a_full_secret() {
        let directory = tempfile::tempdir().unwrap();
        let log = VerboseLog::open(directory.path(), &Output::standard());
        log.banner("--signup --email a@example.com");
        log.line("token pha_ThisIsAFakeTokenThatMustNotLeak1234 issued");
        let text = std::fs::read_to_string(directory.path().join(FILE_NAME)).unwrap();
        assert!(text.contains("pha_***"), "{text}");
        assert!(
            protocol::credential::find_full_secrets(&text).is_empty(),
            "{text}"
        );
        assert!(text.contains("==== PostHog wizard"));
    }
}
