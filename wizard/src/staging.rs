//! Staged edits: the agent's `Write`, `Edit` and `set_env_values` calls are
//! applied to an in-memory view of the project and written together only
//! after the conversation ends, so a run that fails midway leaves the
//! project untouched (protocol section 7). `Read` and `Glob` see the same
//! view, so the agent reads back what it staged.
//!
//! Every path is confined to the project: a relative path, or an absolute
//! one under the project's directory, with no `..` and no symlink leading
//! out. The refusals speak as Claude Code's tools do, since the agent at
//! the gateway is written against them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use crate::gitignore::{self, GITIGNORE};

/// Why one call was refused; the agent hears it as an `is_error` result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("Path is outside the project: the wizard reads and writes only under {1}.")]
    OutsideProject(String, String),
    #[error("File does not exist. Note: your current working directory is {0}.")]
    Missing(String),
    #[error("String to replace not found in file.\nString: {0}")]
    NoMatch(String),
    #[error("Found {1} matches of the string to replace, but replace_all is false. To replace all occurrences, set replace_all to true. To replace only one occurrence, please provide more context to uniquely identify the instance.\nString: {0}")]
    Ambiguous(String, usize),
    #[error("No changes to make: old_string and new_string are exactly the same.")]
    Unchanged,
    #[error("Cannot create new file - file already exists.")]
    AlreadyExists,
    #[error("cannot read the file: {0}")]
    Unreadable(String),
}

/// The project as the agent has changed it so far.
#[derive(Debug)]
pub struct Staging {
    root: PathBuf,
    /// Relative path → new content.
    files: BTreeMap<PathBuf, String>,
    /// The files `set_env_values` wrote, which `.gitignore` must cover.
    env_files: BTreeSet<PathBuf>,
}

impl Staging {
    pub fn new(root: &Path) -> Staging {
        Staging {
            root: root.to_path_buf(),
            files: BTreeMap::new(),
            env_files: BTreeSet::new(),
        }
    }

    /// The project's directory, as the agent is told it.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file `path` names, relative to the project: a relative path or
    /// an absolute one under the project, no `..`, no root, no symlink
    /// leading out, and not the project directory itself.
    pub fn file(&self, path: &str) -> Result<PathBuf, Refusal> {
        let relative = self.inside(path)?;
        match relative.as_os_str().is_empty() {
            true => Err(self.outside(path)),
            false => Ok(relative),
        }
    }

    /// A directory `path` names, relative to the project (empty for the
    /// project itself), confined as [`Staging::file`] is.
    pub fn directory(&self, path: &str) -> Result<PathBuf, Refusal> {
        self.inside(path)
    }

    /// The staged view of a file: what the agent staged, else what is on
    /// disk, else `None`. A directory or an unreadable file is refused.
    pub fn view(&self, relative: &Path) -> Result<Option<String>, Refusal> {
        if let Some(content) = self.files.get(relative) {
            return Ok(Some(content.clone()));
        }
        match std::fs::read_to_string(self.root.join(relative)) {
            Ok(content) => Ok(Some(content)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(Refusal::Unreadable(error.to_string())),
        }
    }

    /// Whether a directory exists in the staged view (on disk, or holding
    /// a staged file).
    pub fn is_directory(&self, relative: &Path) -> bool {
        self.root.join(relative).is_dir()
            || self
                .files
                .keys()
                .any(|file| file.starts_with(relative) && file != relative)
    }

    /// The staged files under `relative`, relative to the project.
    pub fn staged_under(&self, relative: &Path) -> Vec<PathBuf> {
        self.files
            .keys()
            .filter(|file| file.starts_with(relative))
            .cloned()
            .collect()
    }

    pub fn write(&mut self, path: &str, content: &str) -> Result<PathBuf, Refusal> {
        let relative = self.file(path)?;
        self.files.insert(relative.clone(), content.to_owned());
        Ok(relative)
    }

    /// Claude Code's `Edit`: `old` must occur exactly once (or at least
    /// once with `replace_all`); an empty `old` creates a missing file or
    /// fills an empty one.
    pub fn edit(
        &mut self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<PathBuf, Refusal> {
        let relative = self.file(path)?;
        if old == new {
            return Err(Refusal::Unchanged);
        }
        let current = self.view(&relative)?;
        let updated = match (current, old.is_empty()) {
            (None, true) => new.to_owned(),
            (None, false) => return Err(Refusal::Missing(self.root.display().to_string())),
            (Some(current), true) if current.trim().is_empty() => new.to_owned(),
            (Some(_), true) => return Err(Refusal::AlreadyExists),
            (Some(current), false) => match current.matches(old).count() {
                0 => return Err(Refusal::NoMatch(old.to_owned())),
                1 => current.replacen(old, new, 1),
                _ if replace_all => current.replace(old, new),
                many => return Err(Refusal::Ambiguous(old.to_owned(), many)),
            },
        };
        self.files.insert(relative.clone(), updated);
        Ok(relative)
    }

    /// The wizard's `set_env_values`: each key's line is replaced where it
    /// stands (an `export ` prefix and spaces kept), other keys are
    /// appended, every other line is kept.
    pub fn set_env_values(
        &mut self,
        path: &str,
        values: &[(String, String)],
    ) -> Result<PathBuf, Refusal> {
        let relative = self.file(path)?;
        let current = self.view(&relative)?.unwrap_or_default();
        let merged = merge_env_values(&current, values);
        self.files.insert(relative.clone(), merged);
        self.env_files.insert(relative.clone());
        Ok(relative)
    }

    /// Stages the root `.gitignore` so that it ignores `env_file` and every
    /// file `set_env_values` wrote, each by its file name, as the published
    /// wizard does after `set_env_values` (a missing `.gitignore` is
    /// created). Returns the names it added, none when all were ignored.
    pub fn ignore_env_files(&mut self, env_file: &str) -> Result<Vec<String>, Refusal> {
        let names: BTreeSet<String> = self
            .env_files
            .iter()
            .map(PathBuf::as_path)
            .chain([Path::new(env_file)])
            .filter_map(|path| path.file_name())
            .map(|name| name.to_string_lossy().into_owned())
            .collect();
        let mut added = Vec::new();
        for name in names {
            let current = self.view(Path::new(GITIGNORE))?;
            if !gitignore::ignores(current.as_deref().unwrap_or_default(), &name) {
                self.write(GITIGNORE, &gitignore::with_entry(current.as_deref(), &name))?;
                added.push(name);
            }
        }
        Ok(added)
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

    fn outside(&self, path: &str) -> Refusal {
        Refusal::OutsideProject(path.to_owned(), self.root.display().to_string())
    }

    /// A path relative to the project with no `..`, no root, and no
    /// symlink leading out; an absolute path must lie under the project's
    /// directory (as given, or with its symlinks resolved).
    fn inside(&self, path: &str) -> Result<PathBuf, Refusal> {
        let outside = || self.outside(path);
        if path.is_empty() || path.contains('\0') {
            return Err(outside());
        }
        let candidate = Path::new(path);
        let canonical_root = self.root.canonicalize().map_err(|_| outside())?;
        let under_root = match candidate.is_absolute() {
            true => candidate
                .strip_prefix(&self.root)
                .or_else(|_| candidate.strip_prefix(&canonical_root))
                .map_err(|_| outside())?,
            false => candidate,
        };
        let mut relative = PathBuf::new();
        for component in under_root.components() {
            match component {
                Component::Normal(part) => relative.push(part),
                Component::CurDir => {}
                Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                    return Err(outside())
                }
            }
        }
        // A symlink inside the project (a directory, or the file itself)
        // must not lead out of it; a dangling one cannot be resolved and
        // is refused too.
        let mut probe = self.root.join(&relative);
        while probe.symlink_metadata().is_err() {
            match probe.parent() {
                Some(parent) => probe = parent.to_path_buf(),
                None => break,
            }
        }
        let resolved = probe.canonicalize().map_err(|_| outside())?;
        if !resolved.starts_with(&canonical_root) {
            return Err(outside());
        }
        Ok(relative)
    }
}

/// `content` with `values` set, as the published wizard merges env files.
pub fn merge_env_values(content: &str, values: &[(String, String)]) -> String {
    let mut lines: Vec<String> = content.lines().map(str::to_owned).collect();
    let mut appended = Vec::new();
    for (key, value) in values {
        let existing = lines
            .iter()
            .position(|line| env_line_key(line) == Some(key.as_str()));
        match existing {
            Some(index) => {
                let line = &lines[index];
                let equals = line.find('=').unwrap_or(line.len());
                lines[index] = format!("{}={value}", &line[..equals]);
            }
            None => appended.push(format!("{key}={value}")),
        }
    }
    let mut merged = lines.join("\n");
    if !merged.is_empty() && (content.ends_with('\n') || !appended.is_empty()) {
        merged.push('\n');
    }
    for line in appended {
        merged.push_str(&line);
        merged.push('\n');
    }
    merged
}

/// The key a `KEY=value` line (optionally `export KEY = value`) sets.
pub fn env_line_key(line: &str) -> Option<&str> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    let key = key.strip_prefix("export ").map(str::trim).unwrap_or(key);
    (!key.is_empty() && !key.contains(char::is_whitespace)).then_some(key)
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
            .edit("package.json", "\"a\": 1", "\"a\": 2", false)
            .unwrap();
        let absolute = directory.path().join("package.json");
        staging
            .edit(absolute.to_str().unwrap(), "\"a\": 2", "\"a\": 3", false)
            .unwrap();
        // Nothing on disk yet, but the staged view shows the edits.
        assert!(!directory.path().join("src/new.ts").exists());
        assert!(std::fs::read_to_string(&absolute)
            .unwrap()
            .contains("\"a\": 1"));
        assert!(staging
            .view(Path::new("package.json"))
            .unwrap()
            .unwrap()
            .contains("\"a\": 3"));
        assert!(staging.is_directory(Path::new("src")));
        let written = staging.commit().unwrap();
        assert_eq!(written, ["package.json", "src/new.ts"]);
        assert!(std::fs::read_to_string(&absolute)
            .unwrap()
            .contains("\"a\": 3"));
    }

    /// If this fails, a run leaves its env file (and the key in it) for
    /// `git add` to pick up, or writes `.gitignore` before the end.
    #[test]
    fn env_files_are_added_to_the_gitignore_once() {
        let values = [("KEY".to_owned(), "phc_x".to_owned())];
        /// The .gitignore before, the env file the agent set, the staged
        /// .gitignore expected, the names added.
        type Case<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            &'a [&'a str],
        );
        let cases: &[Case] = &[
            (None, None, Some(".env.local\n"), &[".env.local"]),
            (
                Some("node_modules"),
                Some("config/.env"),
                Some("node_modules\n.env\n.env.local\n"),
                &[".env", ".env.local"],
            ),
            (Some(".env*\n"), Some(".env"), None, &[]),
            (Some(".env.local\n"), None, None, &[]),
        ];
        for (before, agent_file, expected, added) in cases {
            let directory = project();
            std::fs::create_dir(directory.path().join("config")).unwrap();
            if let Some(before) = before {
                std::fs::write(directory.path().join(".gitignore"), before).unwrap();
            }
            let mut staging = Staging::new(directory.path());
            if let Some(agent_file) = agent_file {
                staging.set_env_values(agent_file, &values).unwrap();
            }
            staging.write(".env.local", "KEY=phc_x\n").unwrap();
            assert_eq!(
                staging.ignore_env_files(".env.local").unwrap(),
                *added,
                "{before:?}"
            );
            let staged = staging.files.get(Path::new(".gitignore")).cloned();
            assert_eq!(staged.as_deref(), *expected, "{before:?}");
            // Staged, not written: the project changes only at the commit.
            let on_disk = std::fs::read_to_string(directory.path().join(".gitignore")).ok();
            assert_eq!(on_disk.as_deref(), *before, "{before:?}");
            staging.commit().unwrap();
            let after = std::fs::read_to_string(directory.path().join(".gitignore")).ok();
            assert_eq!(after.as_deref(), expected.or(*before), "{before:?}");
        }
    }

    #[test]
    fn refusals_table() {
        let directory = project();
        let root = directory.path().display().to_string();
        std::fs::write(directory.path().join("twice.txt"), "ab ab").unwrap();
        std::fs::create_dir(directory.path().join("a-directory")).unwrap();
        let mut staging = Staging::new(directory.path());
        let inside_then_out = format!("{root}/../elsewhere.txt");
        let cases: Vec<(Result<PathBuf, Refusal>, &str)> = vec![
            (staging.write("../escape.txt", "x"), "outside"),
            (staging.write("/etc/passwd", "x"), "outside"),
            (staging.write(&inside_then_out, "x"), "outside"),
            (staging.write(&root, "x"), "outside"),
            (staging.write("", "x"), "outside"),
            (staging.write("a\0b.txt", "x"), "outside"),
            (staging.edit("a\0b.txt", "a", "b", false), "outside"),
            // Present but not a readable file: not "does not exist".
            (staging.edit("a-directory", "a", "b", false), "cannot read"),
            (staging.write("a/../../b", "x"), "outside"),
            (
                staging.edit("missing.txt", "a", "b", false),
                "File does not exist. Note: your current working directory is",
            ),
            (
                staging.edit("package.json", "nope", "b", false),
                "String to replace not found in file.\nString: nope",
            ),
            (
                staging.edit("package.json", "", "b", false),
                "Cannot create new file - file already exists.",
            ),
            (
                staging.edit("package.json", "a", "a", false),
                "No changes to make",
            ),
            (
                staging.edit("twice.txt", "ab", "c", false),
                "Found 2 matches of the string to replace, but replace_all is false.",
            ),
        ];
        for (result, needle) in cases {
            let message = result.unwrap_err().to_string();
            assert!(message.contains(needle), "{needle}: {message}");
        }
        assert!(staging.paths().is_empty());
        staging.edit("twice.txt", "ab", "c", true).unwrap();
        staging.edit("new.txt", "", "fresh", false).unwrap();
        assert_eq!(
            staging.view(Path::new("twice.txt")).unwrap().as_deref(),
            Some("c c")
        );
        assert_eq!(
            staging.view(Path::new("new.txt")).unwrap().as_deref(),
            Some("fresh")
        );
    }

    #[test]
    fn a_symlink_out_of_the_project_is_refused() {
        let directory = project();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::write(elsewhere.path().join("secret.txt"), "s").unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), directory.path().join("link")).unwrap();
        std::os::unix::fs::symlink(
            elsewhere.path().join("secret.txt"),
            directory.path().join("file-link"),
        )
        .unwrap();
        std::os::unix::fs::symlink("/nonexistent/target", directory.path().join("dangling"))
            .unwrap();
        let mut staging = Staging::new(directory.path());
        for path in ["link/x.txt", "link/secret.txt", "file-link", "dangling"] {
            assert!(
                matches!(staging.write(path, "x"), Err(Refusal::OutsideProject(..))),
                "{path}"
            );
            assert!(
                matches!(staging.file(path), Err(Refusal::OutsideProject(..))),
                "{path}"
            );
        }
        // A symlink that stays inside is followed.
        std::os::unix::fs::symlink(
            directory.path().join("package.json"),
            directory.path().join("inner-link"),
        )
        .unwrap();
        assert_eq!(staging.file("inner-link"), Ok(PathBuf::from("inner-link")));
    }

    #[test]
    fn env_values_merge_like_the_published_wizard() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            ("", &[("A", "1")], "A=1\n"),
            ("X=0\n", &[("A", "1"), ("B", "2")], "X=0\nA=1\nB=2\n"),
            ("X=0", &[("A", "1")], "X=0\nA=1\n"),
            ("A=old\nX=0\n", &[("A", "new")], "A=new\nX=0\n"),
            ("export A = old\n", &[("A", "new")], "export A =new\n"),
            (
                "# A=comment\nAB=1\n",
                &[("A", "2")],
                "# A=comment\nAB=1\nA=2\n",
            ),
        ];
        for (content, values, expected) in cases {
            let values: Vec<(String, String)> = values
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect();
            assert_eq!(merge_env_values(content, &values), *expected, "{content:?}");
        }
    }
}
