//! Staged edits: the agent's `Write` and `Edit` calls are applied to an
//! in-memory view of the project and written together only after the
//! conversation ends, so a run that fails midway leaves the project
//! untouched (protocol section 7).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// Why one edit was refused; the agent hears it as an `is_error` result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0:?} is outside the project (paths must be relative and stay inside it)")]
    OutsideProject(String),
    #[error("{0:?} does not exist, so it cannot be edited")]
    Missing(String),
    #[error("old_string was not found in {0:?}")]
    NoMatch(String),
    #[error("old_string occurs {1} times in {0:?}; it must be unique")]
    Ambiguous(String, usize),
    #[error("cannot read {0:?}: {1}")]
    Unreadable(String, String),
}

/// The project as the agent has changed it so far.
#[derive(Debug)]
pub struct Staging {
    root: PathBuf,
    /// Relative path → new content.
    files: BTreeMap<PathBuf, String>,
}

impl Staging {
    pub fn new(root: &Path) -> Staging {
        Staging {
            root: root.to_path_buf(),
            files: BTreeMap::new(),
        }
    }

    pub fn write(&mut self, path: &str, content: &str) -> Result<(), Refusal> {
        let relative = self.inside(path)?;
        self.files.insert(relative, content.to_owned());
        Ok(())
    }

    pub fn edit(&mut self, path: &str, old: &str, new: &str) -> Result<(), Refusal> {
        let relative = self.inside(path)?;
        let current = self.current(&relative, path)?;
        let occurrences = if old.is_empty() {
            0
        } else {
            current.matches(old).count()
        };
        match occurrences {
            0 => Err(Refusal::NoMatch(path.to_owned())),
            1 => {
                let updated = current.replacen(old, new, 1);
                self.files.insert(relative, updated);
                Ok(())
            }
            many => Err(Refusal::Ambiguous(path.to_owned(), many)),
        }
    }

    /// The staged paths, relative, in order.
    pub fn paths(&self) -> Vec<String> {
        self.files
            .keys()
            .map(|path| path.display().to_string())
            .collect()
    }

    /// Writes every staged file (each through a temporary file and a
    /// rename, so no file is ever half-written).
    pub fn commit(self) -> std::io::Result<Vec<String>> {
        let mut written = Vec::new();
        for (relative, content) in &self.files {
            let target = self.root.join(relative);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let temporary = target.with_extension("wizard-tmp");
            std::fs::write(&temporary, content)?;
            std::fs::rename(&temporary, &target)?;
            written.push(relative.display().to_string());
        }
        Ok(written)
    }

    fn current(&self, relative: &Path, shown: &str) -> Result<String, Refusal> {
        if let Some(content) = self.files.get(relative) {
            return Ok(content.clone());
        }
        match std::fs::read_to_string(self.root.join(relative)) {
            Ok(content) => Ok(content),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Err(Refusal::Missing(shown.to_owned()))
            }
            Err(error) => Err(Refusal::Unreadable(shown.to_owned(), error.to_string())),
        }
    }

    /// A relative path with no `..`, no root, and no symlink leading out.
    fn inside(&self, path: &str) -> Result<PathBuf, Refusal> {
        let outside = || Refusal::OutsideProject(path.to_owned());
        let candidate = Path::new(path);
        if path.is_empty() || path.contains('\0') {
            return Err(outside());
        }
        let mut relative = PathBuf::new();
        for component in candidate.components() {
            match component {
                Component::Normal(part) => relative.push(part),
                Component::CurDir => {}
                Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                    return Err(outside())
                }
            }
        }
        if relative.as_os_str().is_empty() {
            return Err(outside());
        }
        // A symlinked directory inside the project must not lead out of it.
        let root = self.root.canonicalize().map_err(|_| outside())?;
        let mut probe = self.root.join(&relative);
        while !probe.exists() {
            match probe.parent() {
                Some(parent) => probe = parent.to_path_buf(),
                None => break,
            }
        }
        let resolved = probe.canonicalize().map_err(|_| outside())?;
        if !resolved.starts_with(&root) {
            return Err(outside());
        }
        Ok(relative)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> tempfile::TempDir {
        let directory = tempfile::tempdir().unwrap();
        std::fs::write(directory.path().join("package.json"), "{\n  \"a\": 1\n}\n").unwrap();
        directory
    }

    #[test]
    fn edits_are_staged_and_written_together() {
        let directory = project();
        let mut staging = Staging::new(directory.path());
        staging.write("src/new.ts", "x").unwrap();
        staging
            .edit("package.json", "\"a\": 1", "\"a\": 2")
            .unwrap();
        staging
            .edit("package.json", "\"a\": 2", "\"a\": 3")
            .unwrap();
        // Nothing on disk yet.
        assert!(!directory.path().join("src/new.ts").exists());
        assert!(
            std::fs::read_to_string(directory.path().join("package.json"))
                .unwrap()
                .contains("\"a\": 1")
        );
        let written = staging.commit().unwrap();
        assert_eq!(written, ["package.json", "src/new.ts"]);
        assert!(
            std::fs::read_to_string(directory.path().join("package.json"))
                .unwrap()
                .contains("\"a\": 3")
        );
    }

    #[test]
    fn refusals_table() {
        let directory = project();
        std::fs::write(directory.path().join("twice.txt"), "ab ab").unwrap();
        std::fs::create_dir(directory.path().join("a-directory")).unwrap();
        let mut staging = Staging::new(directory.path());
        let cases: Vec<(Result<(), Refusal>, &str)> = vec![
            (staging.write("../escape.txt", "x"), "outside"),
            (staging.write("/etc/passwd", "x"), "outside"),
            (staging.write("", "x"), "outside"),
            (staging.write("a\0b.txt", "x"), "outside"),
            (staging.edit("a\0b.txt", "a", "b"), "outside"),
            // Present but not a readable file: not "does not exist".
            (staging.edit("a-directory", "a", "b"), "cannot read"),
            (staging.write("a/../../b", "x"), "outside"),
            (staging.edit("missing.txt", "a", "b"), "does not exist"),
            (staging.edit("package.json", "nope", "b"), "not found"),
            (staging.edit("package.json", "", "b"), "not found"),
            (staging.edit("twice.txt", "ab", "c"), "2 times"),
        ];
        for (result, needle) in cases {
            let message = result.unwrap_err().to_string();
            assert!(message.contains(needle), "{needle}: {message}");
        }
        assert!(staging.paths().is_empty());
    }

    #[test]
    fn a_symlink_out_of_the_project_is_refused() {
        let directory = project();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), directory.path().join("link")).unwrap();
        let mut staging = Staging::new(directory.path());
        assert!(matches!(
            staging.write("link/x.txt", "x"),
            Err(Refusal::OutsideProject(_))
        ));
    }
}
