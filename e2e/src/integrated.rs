//! What an integrated project must hold, per sample app, so
//! `project = "integrated"` means the same thing for every framework.
//!
//! Each app has a checklist `fixtures/apps/<app>.integrated.toml` beside its
//! directory, not inside it: the directory is copied into the project, and
//! the checklist is not part of the project. The keys are those of a
//! scenario's `[expect]` (`files_created`, `files_changed`,
//! `file_contains`), and an unknown key is an error naming the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::project::check_relative;

/// One app's checklist.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegratedProject {
    /// Paths that did not exist before the run (the env file, new modules).
    #[serde(default)]
    pub files_created: Vec<String>,
    /// Paths that existed and now differ (the manifest, the entry point).
    #[serde(default)]
    pub files_changed: Vec<String>,
    /// Path → substrings it must contain after the run.
    #[serde(default)]
    pub file_contains: BTreeMap<String, Vec<String>>,
}

impl IntegratedProject {
    /// Where the checklist of `app` lives.
    pub fn path(fixtures: &Path, app: &str) -> PathBuf {
        fixtures.join("apps").join(format!("{app}.integrated.toml"))
    }

    /// Reads the checklist of `app`; a missing or bad file names itself.
    pub fn load(fixtures: &Path, app: &str) -> Result<IntegratedProject> {
        let path = IntegratedProject::path(fixtures, app);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "project = \"integrated\" needs the checklist {} for the app {app:?}",
                path.display()
            )
        })?;
        IntegratedProject::parse(&text, &path)
    }

    /// Parses checklist text; `origin` names the file in errors. An empty
    /// checklist is refused: it would let any run pass as integrated.
    pub fn parse(text: &str, origin: &Path) -> Result<IntegratedProject> {
        let checklist: IntegratedProject = toml::from_str(text)
            .with_context(|| format!("invalid checklist {}", origin.display()))?;
        if checklist.files_created.is_empty()
            && checklist.files_changed.is_empty()
            && checklist.file_contains.is_empty()
        {
            bail!(
                "the checklist {} checks nothing: give files_created, files_changed or file_contains",
                origin.display()
            );
        }
        let paths = checklist
            .files_created
            .iter()
            .chain(&checklist.files_changed)
            .chain(checklist.file_contains.keys());
        for path in paths {
            check_relative(path).with_context(|| format!("{}: path {path:?}", origin.display()))?;
        }
        Ok(checklist)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<(), &str>) {
        let parsed = IntegratedProject::parse(text, Path::new("apps/x.integrated.toml"));
        match (parsed, expected) {
            (Ok(_), Ok(())) => {}
            (Err(error), Err(needle)) => {
                let message = format!("{error:#}");
                assert!(message.contains(needle), "{text:?}: {message}");
                assert!(message.contains("apps/x.integrated.toml"), "{message}");
            }
            (parsed, expected) => panic!("{text:?}: expected {expected:?}, got {parsed:?}"),
        }
    }

    #[test]
    fn checklist_table() {
        let cases: &[(&str, Result<(), &str>)] = &[
            (
                "files_created = [\".env\"]\nfile_contains = { \".env\" = [\"POSTHOG_API_KEY=phc_\"] }\n",
                Ok(()),
            ),
            ("files_changed = [\"package.json\"]\n", Ok(())),
            ("files_creatd = [\".env\"]\n", Err("files_creatd")),
            ("", Err("checks nothing")),
            ("files_created = [\"../outside\"]\n", Err("..")),
            ("file_contains = { \"/etc/passwd\" = [\"x\"] }\n", Err("relative")),
        ];
        for (text, expected) in cases {
            check(text, *expected);
        }
    }
}
