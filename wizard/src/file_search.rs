//! The walk behind the agent's `Glob`: every file under a directory of the
//! project whose path matches a glob pattern, in path order. Directories
//! no integration needs to see (dependencies, version control, build
//! output, Python virtual environments) are skipped, and a symlink is
//! never followed out of the project.

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

/// Directory names never descended into.
pub const SKIPPED_DIRECTORIES: &[&str] = &[
    "node_modules",
    ".git",
    "target",
    ".venv",
    "venv",
    "__pycache__",
    ".next",
];

/// A compiled pattern. As with ripgrep's `--glob` (which Claude Code's
/// `Glob` runs), a pattern without a `/` matches a file's name at any
/// depth; one with a `/` matches the path under the searched directory.
/// `*` never crosses a `/`; `**` does.
pub struct Pattern {
    matcher: GlobMatcher,
    by_name: bool,
}

impl Pattern {
    pub fn new(pattern: &str) -> Result<Pattern, String> {
        let glob = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|error| error.to_string())?;
        Ok(Pattern {
            matcher: glob.compile_matcher(),
            by_name: !pattern.contains('/'),
        })
    }

    /// Whether `relative` (a path under the searched directory) matches.
    pub fn matches(&self, relative: &Path) -> bool {
        match self.by_name {
            true => relative
                .file_name()
                .is_some_and(|name| self.matcher.is_match(name)),
            false => self.matcher.is_match(relative),
        }
    }
}

/// The files on disk under `root/base` matching `pattern`, relative to
/// `root`, sorted. `canonical_root` is the project with its symlinks
/// resolved: a symlinked file is listed only when it resolves inside.
pub fn search(root: &Path, base: &Path, pattern: &Pattern) -> Vec<PathBuf> {
    let canonical_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut found = Vec::new();
    let mut pending = vec![base.to_path_buf()];
    while let Some(directory) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&directory)) else {
            continue;
        };
        for entry in entries.flatten() {
            let relative = directory.join(entry.file_name());
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if !skipped(&root.join(&relative)) {
                    pending.push(relative);
                }
                continue;
            }
            let listed = match kind.is_symlink() {
                true => root
                    .join(&relative)
                    .canonicalize()
                    .is_ok_and(|target| target.starts_with(&canonical_root) && target.is_file()),
                false => kind.is_file(),
            };
            let under_base = relative.strip_prefix(base).unwrap_or(&relative);
            if listed && pattern.matches(under_base) {
                found.push(relative);
            }
        }
    }
    found.sort();
    found
}

/// A directory named in [`SKIPPED_DIRECTORIES`] or holding a virtual
/// environment's `pyvenv.cfg`.
fn skipped(directory: &Path) -> bool {
    let named = directory
        .file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| SKIPPED_DIRECTORIES.contains(&name));
    named || directory.join("pyvenv.cfg").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, path: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "x").unwrap();
    }

    #[test]
    fn patterns_match_like_ripgrep_globs_in_path_order() {
        let directory = tempfile::tempdir().unwrap();
        let root = directory.path();
        for path in [
            "package.json",
            "app/page.tsx",
            "app/layout.tsx",
            "src/app/page.tsx",
            "src/b.ts",
            "src/a.ts",
            ".env.local",
            "node_modules/next/package.json",
            ".git/config",
            "target/debug/x.ts",
            "env/pyvenv.cfg",
            "env/lib/site.py",
            "notes/views.py",
        ] {
            touch(root, path);
        }
        let check = |base: &str, pattern: &str, expected: &[&str]| {
            let found = search(root, Path::new(base), &Pattern::new(pattern).unwrap());
            let found: Vec<String> = found.iter().map(|p| p.display().to_string()).collect();
            assert_eq!(found, expected, "{base:?} {pattern:?}");
        };
        check("", "package.json", &["package.json"]);
        check("", "**/page.tsx", &["app/page.tsx", "src/app/page.tsx"]);
        check("", "app/*.tsx", &["app/layout.tsx", "app/page.tsx"]);
        check("", "*.ts", &["src/a.ts", "src/b.ts"]);
        check("src", "*.ts", &["src/a.ts", "src/b.ts"]);
        check("src", "app/*", &["src/app/page.tsx"]);
        check("", ".env*", &[".env.local"]);
        check("", "**/*.py", &["notes/views.py"]);
        check("", "*.rb", &[]);
    }

    #[test]
    fn symlinks_are_listed_only_inside_and_never_followed_out() {
        let directory = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        touch(elsewhere.path(), "secret.ts");
        touch(directory.path(), "inner.ts");
        std::os::unix::fs::symlink(elsewhere.path(), directory.path().join("out")).unwrap();
        std::os::unix::fs::symlink(
            elsewhere.path().join("secret.ts"),
            directory.path().join("out.ts"),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            directory.path().join("inner.ts"),
            directory.path().join("alias.ts"),
        )
        .unwrap();
        let found = search(
            directory.path(),
            Path::new(""),
            &Pattern::new("**/*.ts").unwrap(),
        );
        assert_eq!(
            found,
            [PathBuf::from("alias.ts"), PathBuf::from("inner.ts")]
        );
    }
}
